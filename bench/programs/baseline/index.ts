// The benchmark baseline: for each of the first `count` lab appliances, the reads a
// refresh of its ApplianceBackup performs, as one remote.Command-like resource per
// operation (a new SSH connection each). See bench/baseline-provider.ts for why it
// is an emulation.
import * as pulumi from "@pulumi/pulumi";
import { NaiveCommand, refreshReads } from "../../baseline-provider";
import { applianceConnection, loadFleetLab, serverConnection } from "../../lib/fleet";

const cfg = new pulumi.Config();
const count = cfg.requireNumber("count");
const lab = loadFleetLab(cfg.require("labFile"), count);
const server = serverConnection(lab);

let commands = 0;
for (const a of lab.appliances.slice(0, count)) {
    refreshReads(applianceConnection(a), server, lab.rsyncServer.backupUser).forEach((read, i) => {
        new NaiveCommand(`${a.name}-read-${i}`, read);
        commands++;
    });
}
export const remoteCommands = commands;
