// One appliance's backups, as the ApplianceBackup component lays them out (the
// same child names: <name>-root-key, <name>-appliance-key, <name>-rsync,
// <name>-policy), plus a CIFS and an NFS partition that are not the destination.
// tests/e2e/drift.test.ts changes the hosts under it; tests/e2e/policy.test.ts
// previews it with the policy pack, so a few config knobs can make it break a
// rule on purpose. Secrets (private keys, the CIFS password, the master
// password) arrive only as secret config values.
import * as pulumi from "@pulumi/pulumi";
import { ApplianceRootKey, AuthorizedKey, BackupPolicy, RemotePartition, RsyncTarget } from "senhasegura-backup";

const cfg = new pulumi.Config();
const name = cfg.get("name") ?? "appliance-0";

const appliance = {
    host: cfg.require("applianceHost"),
    port: cfg.requireNumber("appliancePort"),
    user: cfg.require("applianceUser"),
    hostKey: cfg.require("applianceHostKey"),
    privateKey: cfg.requireSecret("appliancePrivateKey"),
};
// Policy knob: leave the backup server's host key out (not pinned).
const serverHostKey = cfg.getBoolean("omitServerHostKey") ? {} : { hostKey: cfg.require("serverHostKey") };
const server = {
    host: cfg.require("serverHost"),
    port: cfg.requireNumber("serverPort"),
    user: cfg.require("serverAdminUser"),
    ...serverHostKey,
    privateKey: cfg.requireSecret("serverAdminPrivateKey"),
} as { host: string; port: number; user: string; hostKey: string; privateKey: pulumi.Output<string> };
const backupUser = cfg.require("backupUser");
const backupPath = cfg.require("backupPath");

// Policy knob: how the appliance key is restricted on the backup server.
const restriction = cfg.get("keyRestriction") ?? "backup-dir";
const keyLimits = restriction === "backup-dir" ? { restrictTo: backupPath }
    : restriction === "restrict-only" ? { options: { restrict: true } }
    : restriction === "none" ? { unrestricted: true as const }
    : (() => { throw new Error(`keyRestriction must be backup-dir, restrict-only or none, but "${restriction}" was provided`); })();

const rootKey = new ApplianceRootKey(`${name}-root-key`, { connection: appliance });
const key = new AuthorizedKey(`${name}-appliance-key`, {
    connection: server, targetUser: backupUser, publicKey: rootKey.publicKey, ...keyLimits,
});
const rsync = new RsyncTarget(`${name}-rsync`, {
    connection: appliance, user: backupUser, host: cfg.require("rsyncHost"), port: cfg.requireNumber("rsyncPort"), path: backupPath,
}, { dependsOn: [key] });

// Policy knob: hand the CIFS password to the resource as a plain value.
const cifsPassword = cfg.getBoolean("plainCifsPassword") ? pulumi.unsecret(cfg.requireSecret("cifsPassword")) : cfg.requireSecret("cifsPassword");
const cifs = new RemotePartition(`${name}-cifs`, {
    connection: appliance, partitionId: cfg.require("cifsPartitionId"), protocol: "cifs",
    host: cfg.require("cifsHost"), port: cfg.requireNumber("cifsPort"), path: cfg.require("cifsPath"),
    user: cfg.require("cifsUser"), password: cifsPassword,
});
const nfs = new RemotePartition(`${name}-nfs`, {
    connection: appliance, partitionId: cfg.require("nfsPartitionId"), protocol: "nfs",
    host: cfg.require("nfsHost"), port: cfg.requireNumber("nfsPort"), path: cfg.require("nfsPath"),
});

const masterPassword = cfg.getSecret("masterPassword");
new BackupPolicy(`${name}-policy`, {
    connection: appliance,
    system: true,
    video: cfg.getBoolean("video") ?? true,
    secrets: masterPassword !== undefined,
    masterPassword,
    hour: cfg.getNumber("hour") ?? 5,
    destination: { type: "rsync" },
}, { dependsOn: [rsync, cifs, nfs] });
