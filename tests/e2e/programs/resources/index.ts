// Every resource of senhasegura-backup on one lab appliance and the lab's backup
// server, driven by stack config so tests/e2e/resources.test.ts can change inputs
// between runs. Secrets (private keys, the CIFS password, the master password)
// arrive only as secret config values.
import * as pulumi from "@pulumi/pulumi";
import { ApplianceRootKey, AuthorizedKey, BackupPolicy, RemotePartition, RsyncTarget } from "senhasegura-backup";

const cfg = new pulumi.Config();

// The appliance: its key as a secret value, or (applianceKeyMode=path) as a file path.
const applianceKeyMode = cfg.get("applianceKeyMode") ?? "secret";
if (applianceKeyMode !== "secret" && applianceKeyMode !== "path") {
    throw new Error(`applianceKeyMode must be "secret" or "path", but "${applianceKeyMode}" was provided`);
}
const appliance = {
    host: cfg.require("applianceHost"),
    port: cfg.requireNumber("appliancePort"),
    user: cfg.require("applianceUser"),
    hostKey: cfg.require("applianceHostKey"),
    ...(applianceKeyMode === "secret"
        ? { privateKey: cfg.requireSecret("appliancePrivateKey") }
        : { privateKeyPath: cfg.require("appliancePrivateKeyPath") }),
};

// The backup server, reached as an admin who edits the backup user's file with sudo.
const serverDialTimeoutSec = cfg.getNumber("serverDialTimeoutSec");
const server = {
    host: cfg.require("serverHost"),
    port: cfg.requireNumber("serverPort"),
    user: cfg.require("serverAdminUser"),
    hostKey: cfg.require("serverHostKey"),
    privateKey: cfg.requireSecret("serverAdminPrivateKey"),
    ...(serverDialTimeoutSec !== undefined ? { dialTimeoutSec: serverDialTimeoutSec } : {}),
};
const backupUser = cfg.require("backupUser");
const backupPath = cfg.require("backupPath");

const rootKey = new ApplianceRootKey("root-key", { connection: appliance });

const key = new AuthorizedKey("appliance-key", {
    connection: server,
    targetUser: backupUser,
    publicKey: rootKey.publicKey,
    restrictTo: backupPath,
});

const rsync = new RsyncTarget("rsync", {
    connection: appliance,
    user: backupUser,
    host: cfg.require("rsyncHost"),
    port: cfg.requireNumber("rsyncPort"),
    path: backupPath,
}, { dependsOn: [key] });

const cifs = new RemotePartition("cifs", {
    connection: appliance,
    partitionId: cfg.require("cifsPartitionId"),
    protocol: "cifs",
    host: cfg.require("cifsHost"),
    port: cfg.requireNumber("cifsPort"),
    path: cfg.require("cifsPath"),
    user: cfg.require("cifsUser"),
    password: cfg.requireSecret("cifsPassword"),
});

const nfs = new RemotePartition("nfs", {
    connection: appliance,
    partitionId: cfg.require("nfsPartitionId"),
    protocol: "nfs",
    host: cfg.require("nfsHost"),
    port: cfg.requireNumber("nfsPort"),
    path: cfg.require("nfsPath"),
});

const policy = new BackupPolicy("policy", {
    connection: appliance,
    system: true,
    video: cfg.getBoolean("video") ?? true,
    secrets: true,
    masterPassword: cfg.requireSecret("masterPassword"),
    hour: cfg.requireNumber("hour"),
    destination: { type: "rsync" },
}, { dependsOn: [rsync, cifs, nfs] });

export const rootPublicKey = rootKey.publicKey;
export const rootFingerprint = rootKey.fingerprint;
export const applianceHostname = rootKey.hostname;
export const keyFingerprint = key.fingerprint;
export const keyOptions = key.effectiveOptions;
export const keyTargetUser = key.targetUser;
export const rsyncUrl = pulumi.interpolate`${rsync.user}@${rsync.host}:${rsync.port}${rsync.path}`;
export const rsyncReachable = rsync.reachable;
export const cifsMounted = cifs.mounted;
export const cifsMountedAt = cifs.mountedAt;
export const cifsPort = cifs.port;
export const nfsMounted = nfs.mounted;
export const nfsPort = nfs.port;
export const policySummary = pulumi.all([policy.system, policy.secrets, policy.video, policy.hour, policy.destination])
    .apply(([system, secrets, video, hour, destination]) => ({ system, secrets, video, hour, destination }));
