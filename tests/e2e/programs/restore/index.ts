// One appliance's backups through the ApplianceBackup component, every kind on and
// a master password set, to the lab's rsync server, CIFS share or NFS export
// (config `destination`). tests/e2e/restore.test.ts runs scripts/restore-drill against it:
// the drill finds what to check in this stack's state alone, as it would for any
// program. Keys and passwords arrive only as secret config values; the config keys
// are those of tests/support/lab.ts resourceProgramConfig().
import * as pulumi from "@pulumi/pulumi";
import { ApplianceBackup, type ApplianceBackupArgs } from "senhasegura-backup";

const cfg = new pulumi.Config();

const appliance = {
    host: cfg.require("applianceHost"),
    port: cfg.requireNumber("appliancePort"),
    user: cfg.require("applianceUser"),
    hostKey: cfg.require("applianceHostKey"),
    privateKey: cfg.requireSecret("appliancePrivateKey"),
};

const kind = cfg.get("destination") ?? "rsync";
let destination: ApplianceBackupArgs["destination"];
if (kind === "rsync") {
    destination = {
        type: "rsync",
        server: {
            host: cfg.require("serverHost"), port: cfg.requireNumber("serverPort"), user: cfg.require("serverAdminUser"),
            hostKey: cfg.require("serverHostKey"), privateKey: cfg.requireSecret("serverAdminPrivateKey"),
        },
        backupUser: cfg.require("backupUser"),
        path: cfg.require("backupPath"),
        host: cfg.require("rsyncHost"),
        port: cfg.requireNumber("rsyncPort"),
    };
} else if (kind === "cifs") {
    destination = {
        type: "cifs", partitionId: cfg.require("cifsPartitionId"), host: cfg.require("cifsHost"), port: cfg.requireNumber("cifsPort"),
        path: cfg.require("cifsPath"), user: cfg.require("cifsUser"), password: cfg.requireSecret("cifsPassword"),
    };
} else if (kind === "nfs") {
    destination = {
        type: "nfs", partitionId: cfg.require("nfsPartitionId"), host: cfg.require("nfsHost"), port: cfg.requireNumber("nfsPort"), path: cfg.require("nfsPath"),
    };
} else {
    throw new Error(`destination must be rsync, cifs or nfs, but "${kind}" was provided`);
}

const backup = new ApplianceBackup(cfg.get("name") ?? "restore-appliance", {
    appliance,
    destination,
    policy: { system: true, video: true, secrets: true, masterPassword: cfg.requireSecret("masterPassword"), hour: cfg.requireNumber("hour") },
});

export const destinationUrl = backup.destination;
export const lastVerification = backup.lastVerification;
