// A team's own Pulumi program, as the README shows it: it installs
// senhasegura-backup and declares one appliance's backups. The consumer test copies
// this folder out of the repository, so it sees only the installed package.
import * as pulumi from "@pulumi/pulumi";
import { ApplianceBackup, type ApplianceBackupArgs } from "senhasegura-backup";

const cfg = new pulumi.Config();
const appliance = cfg.requireObject<{ host: string; port: number; hostKey: string }>("appliance");
const server = cfg.requireObject<{ host: string; port: number; user: string; hostKey: string; backupUser: string; path: string }>("backupServer");

const args: ApplianceBackupArgs = {
    appliance: { ...appliance, privateKey: cfg.requireSecret("applianceKey") },
    destination: {
        type: "rsync",
        server: { host: server.host, port: server.port, user: server.user, hostKey: server.hostKey, privateKey: cfg.requireSecret("backupServerKey") },
        backupUser: server.backupUser,
        path: server.path,
    },
    policy: { video: true, secrets: true, hour: 3, masterPassword: cfg.requireSecret("masterPassword") },
};
const backup = new ApplianceBackup("consumer-appliance", args);

export const destination = backup.destination;
export const lastVerification = backup.lastVerification;
