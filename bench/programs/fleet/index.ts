// The benchmark fleet: the first `count` lab appliances, each with the full
// ApplianceBackup component (root key, authorized key on the shared backup server,
// rsync target, backup policy, and the verification backup when `verify` is true).
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ApplianceBackup } from "../../../components/appliance-backup";

const cfg = new pulumi.Config();
const lab = JSON.parse(fs.readFileSync(cfg.require("labFile"), "utf8"));
const count = cfg.requireNumber("count");
if (!Array.isArray(lab.appliances) || lab.appliances.length < count) {
    throw new Error(`the lab runs ${lab.appliances?.length ?? 0} appliance(s), the benchmark needs ${count}: run 'bash lab/start --appliances ${count}'`);
}
const rsync = lab.rsyncServer;
const server = { host: rsync.host, port: rsync.port, user: rsync.adminUser, hostKey: rsync.hostKey, privateKeyPath: rsync.adminPrivateKeyPath };
const masterPassword = cfg.requireSecret("masterPassword");
const verify = cfg.getBoolean("verify") ?? false;

const fleet = lab.appliances.slice(0, count).map((a: any) => new ApplianceBackup(a.name, {
    appliance: { host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKeyPath: a.privateKeyPath },
    destination: { type: "rsync", server, backupUser: rsync.backupUser, path: rsync.backupPath },
    policy: { system: true, video: true, secrets: true, masterPassword, hour: 5, notifications: { email: true, siem: true } },
    verify,
}));

export const appliances = fleet.length;
export const verifications = pulumi.all(fleet.map((b: ApplianceBackup) => b.lastVerification));
