// The provider entry, `senhasegura-backup/provider`: every resource's `__provider`
// in state is `require("senhasegura-backup/provider").<name>`. These names are a
// contract with every existing stack: never rename or remove one.
export { applianceHostKeyProvider as applianceHostKey } from "./appliance-host-key";
export { applianceRootKeyProvider as applianceRootKey } from "./appliance-root-key";
export { authorizedKeyProvider as authorizedKey } from "./authorized-key";
export { backupPolicyProvider as backupPolicy } from "./backup-policy";
export { backupVerificationProvider as backupVerification } from "./backup-verification";
export { remotePartitionProvider as remotePartition } from "./remote-partition";
export { rsyncTargetProvider as rsyncTarget } from "./rsync-target";
