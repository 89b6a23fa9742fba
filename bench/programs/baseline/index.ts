// The benchmark baseline: for each of the first `count` lab appliances, the reads a
// refresh of its ApplianceBackup performs, as one remote.Command-like resource per
// operation (a new SSH connection each). See bench/baseline-provider.ts for why it
// is an emulation.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { NaiveCommand, refreshReads } from "../../baseline-provider";

const cfg = new pulumi.Config();
const lab = JSON.parse(fs.readFileSync(cfg.require("labFile"), "utf8"));
const count = cfg.requireNumber("count");
if (!Array.isArray(lab.appliances) || lab.appliances.length < count) {
    throw new Error(`the lab runs ${lab.appliances?.length ?? 0} appliance(s), the benchmark needs ${count}: run 'bash lab/start --appliances ${count}'`);
}
const rsync = lab.rsyncServer;
const server = { host: rsync.host, port: rsync.port, user: rsync.adminUser, hostKey: rsync.hostKey, privateKeyPath: rsync.adminPrivateKeyPath };

let commands = 0;
for (const a of lab.appliances.slice(0, count)) {
    const appliance = { host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKeyPath: a.privateKeyPath };
    refreshReads(appliance, server, rsync.backupUser).forEach((read, i) => {
        new NaiveCommand(`${a.name}-read-${i}`, read);
        commands++;
    });
}
export const remoteCommands = commands;
