// The dev stack: one senhasegura appliance and its backups, declared once.
//
// With `labFile` set (the dev stack sets it), hosts, ports, host keys and key paths
// come from the local lab's description (lab/start writes it). Without it, every
// value comes from config: see docs/configuration.md for each key and for pointing
// a stack at a real appliance.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ApplianceBackup, type ApplianceBackupArgs } from "senhasegura-backup";

const cfg = new pulumi.Config();

interface HostConfig { host: string; port?: number; user?: string; hostKey: string; privateKeyPath?: string }

const labFile = cfg.get("labFile");
const lab = labFile ? JSON.parse(fs.readFileSync(labFile, "utf8")) : undefined;
if (labFile && !lab?.appliances?.length) throw new Error(`labFile ${labFile} describes no appliance: run 'bash lab/start'`);
const labAppliance = lab?.appliances[cfg.getNumber("labAppliance") ?? 0];

/** A private key: the secret config value when set, else a key file path (which keeps the key out of state). */
function connectionFor(host: HostConfig, secretKeyName: string) {
    const privateKey = cfg.getSecret(secretKeyName);
    return {
        host: host.host, port: host.port, user: host.user, hostKey: host.hostKey,
        ...(privateKey ? { privateKey } : { privateKeyPath: host.privateKeyPath }),
    };
}

const appliance: HostConfig = cfg.getObject<HostConfig>("appliance") ?? {
    host: labAppliance.host, port: labAppliance.port, user: labAppliance.user, hostKey: labAppliance.hostKey, privateKeyPath: labAppliance.privateKeyPath,
};

const destinationType = cfg.get("destination") ?? "rsync";
let destination: ApplianceBackupArgs["destination"];
if (destinationType === "rsync") {
    const server: HostConfig & { backupUser: string; path: string } = cfg.getObject("backupServer") ?? {
        host: lab.rsyncServer.host, port: lab.rsyncServer.port, user: lab.rsyncServer.adminUser, hostKey: lab.rsyncServer.hostKey,
        privateKeyPath: lab.rsyncServer.adminPrivateKeyPath, backupUser: lab.rsyncServer.backupUser, path: lab.rsyncServer.backupPath,
    };
    destination = { type: "rsync", server: { ...connectionFor(server, "backupServerPrivateKey"), user: server.user! }, backupUser: server.backupUser, path: server.path };
} else if (destinationType === "cifs") {
    const share = cfg.getObject<{ host: string; port?: number; path: string; user?: string; domain?: string; credentialId?: string }>("cifs") ?? {
        host: lab.cifs.host, port: lab.cifs.port, path: lab.cifs.remotePath, user: lab.cifs.user,
    };
    const password = cfg.getSecret("cifsPassword") ?? (lab && share.user ? pulumi.secret(fs.readFileSync(lab.cifs.passwordPath, "utf8").trim()) : undefined);
    destination = { type: "cifs", partitionId: cfg.get("partitionId") ?? "cifs-backup", ...share, password };
} else if (destinationType === "nfs") {
    const exportCfg = cfg.getObject<{ host: string; port?: number; path: string }>("nfs") ?? { host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath };
    destination = { type: "nfs", partitionId: cfg.get("partitionId") ?? "nfs-backup", ...exportCfg };
} else {
    throw new Error(`config senhasegura-backup:destination must be rsync, cifs or nfs, but "${destinationType}" was provided`);
}

const masterPassword = cfg.getSecret("masterPassword");
const backup = new ApplianceBackup(cfg.get("name") ?? labAppliance?.name ?? "appliance", {
    appliance: connectionFor(appliance, "appliancePrivateKey"),
    destination,
    policy: {
        system: cfg.getBoolean("systemBackup") ?? true,
        video: cfg.getBoolean("videoBackup") ?? true,
        secrets: masterPassword !== undefined,
        masterPassword,
        hour: cfg.getNumber("hour") ?? 5,
        notifications: { email: cfg.getBoolean("notifyEmail") ?? true, siem: cfg.getBoolean("notifySiem") ?? true },
    },
    verify: cfg.getBoolean("verify") ?? true,
});

export const summary = pulumi.interpolate`appliance ${appliance.host}:${appliance.port ?? 59022} backs up to ${backup.destination} daily at ${backup.policy.hour}:00 (system ${backup.policy.system}, secrets ${backup.policy.secrets}, video ${backup.policy.video})`;
export const destinationUrl = backup.destination;
export const lastVerification = backup.lastVerification;
