// The benchmark fleet: lab appliances first … first+count-1, each with the full
// ApplianceBackup component (root key, authorized key on the shared backup server,
// rsync target, backup policy, and the verification backup when `verify` is true).
// It imports the package, built and linked by scripts/setup, as a team's program does.
//
// `first` (default 0) lets the peers benchmark split one fleet into stacks. With
// `partitions: true` (the peers benchmark), appliance 0, when in this slice, also gets
// the CIFS and NFS RemotePartitions of bench/peers/spec.ts (mounted, not the destination).
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ApplianceBackup, RemotePartition } from "senhasegura-backup";
import { applianceConnection, loadFleetLab, serverConnection } from "../../lib/fleet";

const cfg = new pulumi.Config();
const first = cfg.getNumber("first") ?? 0;
const count = cfg.requireNumber("count");
const lab = loadFleetLab(cfg.require("labFile"), first + count);
const rsync = lab.rsyncServer;
const server = serverConnection(lab);
const masterPassword = cfg.requireSecret("masterPassword");
const verify = cfg.getBoolean("verify") ?? false;
const partitions = cfg.getBoolean("partitions") ?? false;

const fleet = lab.appliances.slice(first, first + count).map((a) => new ApplianceBackup(a.name, {
    appliance: applianceConnection(a),
    destination: { type: "rsync", server, backupUser: rsync.backupUser, path: rsync.backupPath },
    policy: { system: true, video: true, secrets: true, masterPassword, hour: 5, notifications: { email: true, siem: true } },
    verify,
}));

if (partitions && first === 0 && count > 0) {
    // The same ids and servers as bench/peers/spec.ts (CIFS_PARTITION_ID, NFS_PARTITION_ID); the
    // program does not import it, so that it loads no more than a team's program would.
    const full = JSON.parse(fs.readFileSync(cfg.require("labFile"), "utf8"));
    const a = lab.appliances[0];
    const cifsPassword = pulumi.secret(fs.readFileSync(full.cifs.passwordPath, "utf8").split("\n")[0]);
    new RemotePartition(`${a.name}-cifs`, {
        connection: applianceConnection(a), partitionId: "peer-cifs", protocol: "cifs",
        host: full.cifs.host, port: full.cifs.port, path: full.cifs.remotePath, user: full.cifs.user, password: cifsPassword,
    });
    new RemotePartition(`${a.name}-nfs`, {
        connection: applianceConnection(a), partitionId: "peer-nfs", protocol: "nfs",
        host: full.nfs.host, port: full.nfs.port, path: full.nfs.remotePath,
    });
}

export const appliances = fleet.length;
export const verifications = pulumi.all(fleet.map((b: ApplianceBackup) => b.lastVerification));
