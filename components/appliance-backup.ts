// ApplianceBackup: one senhasegura appliance's backups, declared once. It turns
// the vendor's manual steps (read the root key, authorize it on the backup server,
// set the destination, enable the backups) into resources that read and converge.
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { ApplianceHostKey } from "../providers/resources/appliance-host-key";
import { ApplianceRootKey } from "../providers/resources/appliance-root-key";
import { AuthorizedKey } from "../providers/resources/authorized-key";
import { type BackupPolicyArgs, BackupPolicy } from "../providers/resources/backup-policy";
import { type BackupVerificationArgs, BackupVerification, type BackupVerificationState } from "../providers/resources/backup-verification";
import type { ApplianceConnectionInput as ConnectionInput } from "../providers/appliance/connection";
import { RemotePartition } from "../providers/resources/remote-partition";
import { RsyncTarget } from "../providers/resources/rsync-target";
import type { Inputs } from "../providers/scaffolding/resource";
import {
    InvalidArgumentsError, applianceBackupIssues, authorizedKeyArguments, backupPolicyArguments, describeIssues, remotePartitionArguments, rsyncTargetArguments,
} from "./child-arguments";
import { applianceTarget, verificationBackup } from "./verification-backup";

type Connection = Inputs<ConnectionInput>;

export interface RsyncDestination {
    type: "rsync";
    /** How to reach the backup server to authorize the appliance key: as backupUser, or as an admin with sudo. */
    server: Connection & { user: pulumi.Input<string> };
    /** The user that owns the backup directory; rsync logs in as this user. */
    backupUser: pulumi.Input<string>;
    /** The backup directory, e.g. /files/backup/senhasegura. */
    path: pulumi.Input<string>;
    /** The host and port the appliance uses to reach the server. @default server.host and server.port */
    host?: pulumi.Input<string>;
    port?: pulumi.Input<number>;
    /** Run the appliance's rsync connection test on every refresh too (see RsyncTarget). @default false */
    testOnRefresh?: pulumi.Input<boolean>;
    /**
     * Vendor appliance: root's ssh configuration there sends the server's connections to
     * `port` (Orbit Web has no port field; see RsyncTarget.portInApplianceSshConfig). @default false
     */
    portInApplianceSshConfig?: pulumi.Input<boolean>;
    /** Vendor appliance: pin server.hostKey in root's known_hosts there (see RsyncTarget.pinServerHostKey). @default true */
    pinServerHostKey?: pulumi.Input<boolean>;
}

export interface PartitionDestination {
    type: "cifs" | "nfs";
    /** The partition's id on the appliance. */
    partitionId: pulumi.Input<string>;
    host: pulumi.Input<string>;
    port?: pulumi.Input<number>;
    path: pulumi.Input<string>;
    /** CIFS: a user with write rights, with its password (secret), or a credential registered on the appliance. */
    user?: pulumi.Input<string>;
    password?: pulumi.Input<string>;
    domain?: pulumi.Input<string>;
    credentialId?: pulumi.Input<string>;
}

export interface ApplianceBackupArgs {
    /** How to reach the appliance: port 59022 and user mt4adm unless given. */
    appliance: Connection;
    /** Where backups go. */
    destination: RsyncDestination | PartitionDestination;
    /** Which backups, when, and who is told of a lost remote directory. The destination is set by the component. */
    policy?: Omit<Inputs<BackupPolicyArgs>, "connection" | "destination" | "adopt">;
    /**
     * Run a backup (a @pulumi/command remote.Command) after the destination or the kinds
     * change, and check that its files landed at the destination. @default true
     */
    verify?: boolean;
    /**
     * The master key from the master key ceremony, complete (a secret). On a vendor
     * appliance the verification opens each AES Crypt file of the backup with it and
     * checks both HMACs; without it, only their structure. Never sent to the appliance.
     */
    masterKey?: pulumi.Input<string>;
    /** Seconds the verification backup may take; coreutils `timeout` on the appliance enforces it. @default 900 */
    backupTimeoutSec?: number;
    /**
     * The appliance was set up by hand, and this component takes it over (docs/adopt.md):
     * each child's create records what the appliance and the backup server hold and
     * writes nothing; where that differs from these arguments, the next preview shows
     * the update. Turning it on or off later changes nothing on any host. @default false
     */
    adopted?: boolean;
    /**
     * Leave the appliance and the backup server as they are when a child is deleted
     * (a destroy, or the component removed from the program): the engine forgets the
     * resources and runs no delete, so backups that predate Pulumi are never turned off.
     * @default adopted
     */
    retainOnDelete?: boolean;
}

/** What the last verification backup proved. */
export type VerificationSummary = Pick<BackupVerificationState, "backupId" | "files" | "bytes" | "durationMs" | "startedAt">;

/**
 * Everything one appliance needs for its backups.
 *
 * @example
 * new ApplianceBackup("appliance-0", {
 *     appliance: { host: "10.0.0.5", hostKey: "SHA256:…", privateKey: cfg.requireSecret("applianceKey") },
 *     destination: { type: "rsync", server: { host: "backup.example.com", user: "bkpadmin", hostKey: "SHA256:…", privateKey: cfg.requireSecret("backupAdminKey") },
 *                    backupUser: "senhauser", path: "/files/backup/senhasegura" },
 *     policy: { video: true, secrets: true, masterPassword: cfg.requireSecret("masterPassword") },
 * });
 */
export class ApplianceBackup extends pulumi.ComponentResource {
    /** A readable description of the destination, e.g. rsync://senhauser@host:22/files/backup/senhasegura. */
    declare readonly destination: pulumi.Output<string>;
    declare readonly policy: BackupPolicy;
    declare readonly rootKey?: ApplianceRootKey;
    declare readonly authorizedKey?: AuthorizedKey;
    declare readonly rsyncTarget?: RsyncTarget;
    declare readonly partition?: RemotePartition;
    /** The appliance's host key line, checked against the pin; the verification backup's connection uses it. */
    declare readonly hostKey?: ApplianceHostKey;
    /** The command that runs the verification backup. */
    declare readonly verificationBackup?: command.remote.Command;
    /** The check that the verification backup's files landed. */
    declare readonly verification?: BackupVerification;
    /** The last verification backup, or undefined when verify is false. */
    declare readonly lastVerification: pulumi.Output<VerificationSummary | undefined>;

    constructor(name: string, args: ApplianceBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("senhasegura:backup:ApplianceBackup", name, {}, opts);
        const retain = args.retainOnDelete ?? args.adopted === true;
        const parent: pulumi.CustomResourceOptions = retain ? { parent: this, retainOnDelete: true } : { parent: this };
        // Only adopted children carry the input, so the state of every other stack stays as it was.
        const adopt = args.adopted === true ? { adopt: true as const } : {};
        // adopt only decides how a create starts. An update keeps the stored value (none once
        // refreshed), so neither a diff nor the drift report ever shows it changing.
        const writer: pulumi.CustomResourceOptions = { ...parent, ignoreChanges: ["adopt"] };
        if (args.adopted === true) {
            pulumi.log.info(`${name}: adopted (docs/adopt.md): a create records what the appliance and the backup server hold and writes nothing; where they differ from the program, the create warns and the next preview shows the update`, this);
        }
        if (retain) {
            pulumi.log.info(`${name}: its resources are retained on delete: a destroy, or removing ${name} from the program, leaves the appliance's backups and the backup server's key line as they are (retainOnDelete${args.retainOnDelete === undefined ? ", the default for an adopted appliance" : ""}; set it to false to delete them)`, this);
        }
        // Every child's connection host waits for the argument check, so a bad argument
        // fails before any child is registered: nothing is created and nothing runs on
        // any host, even under `up --skip-preview`. Known values are checked at preview.
        const admitted = pulumi.unsecret(pulumi.output(args).apply((resolved) => {
            const issues = applianceBackupIssues(resolved);
            if (issues.length > 0) throw new InvalidArgumentsError(describeIssues(name, issues), this);
            return true;
        }));
        const afterCheck = <T>(value: pulumi.Input<T>): pulumi.Output<T> => pulumi.all([admitted, value]).apply(([, v]) => v as T);
        // Optional chaining: a JavaScript caller may leave out what the types require; the
        // check above names it, where a TypeError here would not.
        const appliance = { ...args.appliance, host: afterCheck(args.appliance?.host) };
        const d = args.destination?.type === "rsync"
            ? { ...args.destination, server: { ...args.destination.server, host: afterCheck(args.destination.server?.host) } }
            : { ...args.destination, host: afterCheck(args.destination?.host) };
        let destinationDependency: pulumi.Resource;
        let destination: Inputs<BackupPolicyArgs>["destination"];
        let description: pulumi.Output<string>;
        let farSide: Inputs<BackupVerificationArgs>["destination"] | undefined;
        /** The child whose refresh must be the appliance's first read: it announces the rsync proof. */
        let firstRead: pulumi.Resource | undefined;

        if (d.type === "rsync") {
            // Child names are a contract: renaming one replaces the resource (add an alias if you must).
            const targetArgs = rsyncTargetArguments(appliance, d);
            const { host, port } = targetArgs;
            // The root key's refresh is the appliance's first read: the target's write test rides in it.
            const rootKey = new ApplianceRootKey(`${name}-root-key`, {
                connection: appliance, rsyncProof: { user: targetArgs.user, host, path: targetArgs.path },
            }, parent);
            firstRead = rootKey;
            const authorizedKey = new AuthorizedKey(`${name}-appliance-key`, {
                ...authorizedKeyArguments(d), publicKey: rootKey.publicKey, ...adopt,
            }, writer);
            const target = new RsyncTarget(`${name}-rsync`, { ...targetArgs, ...adopt }, { ...writer, dependsOn: [authorizedKey] });
            Object.assign(this, { rootKey, authorizedKey, rsyncTarget: target });
            destinationDependency = target;
            destination = { type: "rsync" };
            description = pulumi.interpolate`rsync://${d.backupUser}@${host}:${port}${d.path}`;
            farSide = { type: "rsync", server: d.server, path: d.path, useSudo: pulumi.all([d.server.user, d.backupUser]).apply(([u, b]) => u !== b) };
        } else {
            const partition = new RemotePartition(`${name}-partition`, { ...remotePartitionArguments(appliance, d), ...adopt }, writer);
            Object.assign(this, { partition });
            destinationDependency = partition;
            destination = { type: "partition", partitionId: d.partitionId };
            description = pulumi.interpolate`${d.type}://${d.host}:${partition.port}${d.path}`;
            if (d.type === "nfs") {
                farSide = { type: "nfs", host: d.host, port: partition.port, path: d.path };
            } else if (d.user !== undefined && d.password !== undefined) {
                farSide = { type: "cifs", host: d.host, port: partition.port, path: d.path, user: d.user, password: d.password, domain: d.domain };
            } else if (args.verify !== false) {
                pulumi.log.warn(`${name}: the CIFS partition authenticates with a credential registered on the appliance, so its files cannot be looked for from outside; the verification backup runs, and only orbit's own report says it landed`, this);
            }
        }

        const policy = new BackupPolicy(`${name}-policy`, {
            ...backupPolicyArguments(appliance, args.policy, destination), ...adopt,
        }, { ...writer, dependsOn: [destinationDependency] });
        let hostKey: ApplianceHostKey | undefined;
        let backupRun: command.remote.Command | undefined;
        let verification: BackupVerification | undefined;
        if (args.verify !== false) {
            // After the root key: a host key read first would start the appliance's batch without the proof.
            hostKey = new ApplianceHostKey(`${name}-host-key`, { connection: appliance }, { ...parent, dependsOn: firstRead ? [firstRead] : [] });
            backupRun = verificationBackup(`${name}-verification-backup`, {
                appliance,
                hostKeyLine: hostKey.keyLine,
                driver: hostKey.driver,
                // A new backup proves something only when where or what it backs up changed.
                triggers: [description, policy.system, policy.secrets, policy.video],
                timeoutSec: args.backupTimeoutSec,
            }, { ...parent, dependsOn: [policy] });
            if (farSide !== undefined) {
                verification = new BackupVerification(`${name}-verification`, {
                    report: backupRun.stdout,
                    appliance: applianceTarget(appliance),
                    destination: farSide,
                    masterKey: args.masterKey,
                    // Hashes the appliance's own copies of its dumps (vendor), to compare with the destination's.
                    applianceConnection: appliance,
                }, parent);
            }
        }
        const lastVerification = verification
            ? pulumi.all([verification.backupId, verification.files, verification.bytes, verification.durationMs, verification.startedAt])
                .apply(([backupId, files, bytes, durationMs, startedAt]) => ({ backupId, files, bytes, durationMs, startedAt }))
            : pulumi.output(undefined);
        Object.assign(this, { policy, hostKey, verificationBackup: backupRun, verification, destination: description, lastVerification });
        this.registerOutputs({ destination: description, policy: policy.id, lastVerification });
    }
}
