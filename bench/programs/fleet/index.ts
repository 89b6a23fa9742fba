// The benchmark fleet: the first `count` lab appliances, each with the full
// ApplianceBackup component (root key, authorized key on the shared backup server,
// rsync target, backup policy, and the verification backup when `verify` is true).
// It imports the package, built and linked by scripts/setup, as a team's program does.
import * as pulumi from "@pulumi/pulumi";
import { ApplianceBackup } from "senhasegura-backup";
import { applianceConnection, loadFleetLab, serverConnection } from "../../lib/fleet";

const cfg = new pulumi.Config();
const count = cfg.requireNumber("count");
const lab = loadFleetLab(cfg.require("labFile"), count);
const rsync = lab.rsyncServer;
const server = serverConnection(lab);
const masterPassword = cfg.requireSecret("masterPassword");
const verify = cfg.getBoolean("verify") ?? false;

const fleet = lab.appliances.slice(0, count).map((a) => new ApplianceBackup(a.name, {
    appliance: applianceConnection(a),
    destination: { type: "rsync", server, backupUser: rsync.backupUser, path: rsync.backupPath },
    policy: { system: true, video: true, secrets: true, masterPassword, hour: 5, notifications: { email: true, siem: true } },
    verify,
}));

export const appliances = fleet.length;
export const verifications = pulumi.all(fleet.map((b: ApplianceBackup) => b.lastVerification));
