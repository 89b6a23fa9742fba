// The provider entry, `senhasegura-backup/provider`: every resource's `__provider`
// in state is `require("senhasegura-backup/provider").<name>`. These names are a
// contract with every existing stack: never rename or remove one.
export { applianceHostKeyProvider as applianceHostKey } from "./resources/appliance-host-key";
export { applianceRootKeyProvider as applianceRootKey } from "./resources/appliance-root-key";
export { authorizedKeyProvider as authorizedKey } from "./resources/authorized-key";
export { backupPolicyProvider as backupPolicy } from "./resources/backup-policy";
export { backupVerificationProvider as backupVerification } from "./resources/backup-verification";
export { remotePartitionProvider as remotePartition } from "./resources/remote-partition";
export { rsyncTargetProvider as rsyncTarget } from "./resources/rsync-target";
