// The package `senhasegura-backup`: what a team's own Pulumi program imports.
//
//   import { ApplianceBackup } from "senhasegura-backup";
//
// ApplianceBackup declares one appliance's backups; the resources below are its
// parts, for programs that wire them another way. docs/resources.md describes each.
export {
    ApplianceBackup, type ApplianceBackupArgs, type PartitionDestination, type RsyncDestination, type VerificationSummary,
} from "../components/appliance-backup";
export {
    DEFAULT_BACKUP_TIMEOUT_SEC, type VerificationBackupArgs, backupCommandLine, verificationBackup,
} from "../components/verification-backup";
export { ApplianceHostKey, type ApplianceHostKeyArgs, type ApplianceHostKeyState } from "../providers/resources/appliance-host-key";
export { ApplianceRootKey, type ApplianceRootKeyArgs, type ApplianceRootKeyState } from "../providers/resources/appliance-root-key";
export { AuthorizedKey, type AuthorizedKeyArgs, type AuthorizedKeyState } from "../providers/resources/authorized-key";
export { BackupPolicy, type BackupPolicyArgs, type BackupPolicyState } from "../providers/resources/backup-policy";
export { BackupVerification, type BackupVerificationArgs, type BackupVerificationState } from "../providers/resources/backup-verification";
export { APPLIANCE_LOGIN, HostKey, ServerConnection } from "../providers/transport/connection";
export { ApplianceConnection, type ApplianceConnectionInput, type ApplianceConnectionInput as ConnectionInput, AppliancePaths, VENDOR_PATHS } from "../providers/appliance/connection";
export { RemotePartition, type RemotePartitionArgs, type RemotePartitionState } from "../providers/resources/remote-partition";
export type { Inputs } from "../providers/scaffolding/resource";
export { RsyncTarget, type RsyncTargetArgs, type RsyncTargetState } from "../providers/resources/rsync-target";
/**
 * The value rules every resource checks at preview (host names, ports, paths, users,
 * passwords, hours…), as zod schemas: a program can check its own config with the
 * same rules, so a bad value is refused before anything is declared.
 */
export * as rules from "../providers/formats/rules";
