// ApplianceBackup: one senhasegura appliance's backups, declared once. It turns
// the vendor's manual steps (read the root key, authorize it on the backup server,
// set the destination, enable the backups) into resources that read and converge.
import * as pulumi from "@pulumi/pulumi";
import { ApplianceRootKey } from "../providers/appliance-root-key";
import { AuthorizedKey } from "../providers/authorized-key";
import { type BackupPolicyArgs, BackupPolicy } from "../providers/backup-policy";
import type { ConnectionInput } from "../providers/connection";
import { RemotePartition } from "../providers/remote-partition";
import { RsyncTarget } from "../providers/rsync-target";
import type { Inputs } from "../providers/resource";

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
    policy?: Omit<Inputs<BackupPolicyArgs>, "connection" | "destination">;
}

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

    constructor(name: string, args: ApplianceBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        super("senhasegura:backup:ApplianceBackup", name, {}, opts);
        const parent = { parent: this };
        const d = args.destination;
        let destinationDependency: pulumi.Resource;
        let destination: Inputs<BackupPolicyArgs>["destination"];
        let description: pulumi.Output<string>;

        if (d.type === "rsync") {
            // Child names are a contract: renaming one replaces the resource (add an alias if you must).
            const rootKey = new ApplianceRootKey(`${name}-root-key`, { connection: args.appliance }, parent);
            const authorizedKey = new AuthorizedKey(`${name}-appliance-key`, {
                connection: d.server,
                targetUser: d.backupUser,
                publicKey: rootKey.publicKey,
                restrictTo: d.path,
            }, parent);
            const host = d.host ?? d.server.host;
            const port = d.port ?? d.server.port ?? 22;
            const target = new RsyncTarget(`${name}-rsync`, {
                connection: args.appliance, user: d.backupUser, host, port, path: d.path,
            }, { ...parent, dependsOn: [authorizedKey] });
            Object.assign(this, { rootKey, authorizedKey, rsyncTarget: target });
            destinationDependency = target;
            destination = { type: "rsync" };
            description = pulumi.interpolate`rsync://${d.backupUser}@${host}:${port}${d.path}`;
        } else {
            const partition = new RemotePartition(`${name}-partition`, {
                connection: args.appliance, partitionId: d.partitionId, protocol: d.type, host: d.host, port: d.port, path: d.path,
                user: d.user, password: d.password, domain: d.domain, credentialId: d.credentialId,
            }, parent);
            Object.assign(this, { partition });
            destinationDependency = partition;
            destination = { type: "partition", partitionId: d.partitionId };
            description = pulumi.interpolate`${d.type}://${d.host}:${partition.port}${d.path}`;
        }

        const policy = new BackupPolicy(`${name}-policy`, {
            ...(args.policy ?? {}),
            connection: args.appliance,
            destination,
        }, { ...parent, dependsOn: [destinationDependency] });
        Object.assign(this, { policy, destination: description });
        this.registerOutputs({ destination: description, policy: policy.id });
    }
}
