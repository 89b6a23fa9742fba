// The benchmark baseline: for each of the first `count` lab appliances, the reads a
// refresh of its ApplianceBackup performs, written as a user of @pulumi/command
// would: one remote.Command per read, each dialing its own SSH connection.
//
// remote.Command has no read, so `pulumi refresh` and `preview --refresh` of this
// stack read nothing from the hosts. The way to run the reads again is `pulumi up`
// with a new `runId` (`pulumi up --config runId=…`): it is in every command's
// triggers, so each command is replaced, and its create runs the read again.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { refreshReads } from "../../lib/baseline-reads";
import { traceCommand } from "../../lib/command-trace";
import { type SshLogin, applianceConnection, loadFleetLab, serverConnection } from "../../lib/fleet";
import { labKeySecret } from "../../lib/lab-key";

const cfg = new pulumi.Config();
const count = cfg.requireNumber("count");
const lab = loadFleetLab(cfg.require("labFile"), count);
const runId = cfg.require("runId");
const server = serverConnection(lab);

function connection(login: SshLogin): command.types.input.remote.ConnectionArgs {
    // hostKey is always pinned: without it pulumi-command accepts any host key.
    return { host: login.host, port: login.port, user: login.user, hostKey: login.hostKey, privateKey: labKeySecret(login.privateKeyPath) };
}

let commands = 0;
for (const a of lab.appliances.slice(0, count)) {
    refreshReads(applianceConnection(a), server, lab.rsyncServer.backupUser).forEach((read, i) => {
        const name = `${a.name}-read-${i}`;
        const cmd = new command.remote.Command(name, {
            connection: connection(read.login),
            create: read.command,
            triggers: [runId],
            // The reads print nothing secret, but nothing of them needs to be in the engine's log either.
            logging: "none",
            // Sending the last stdout back as environment needs AcceptEnv on the server's sshd and warns without it.
            addPreviousOutputInEnv: false,
        });
        traceCommand(name, cmd);
        commands++;
    });
}
export const remoteCommands = commands;
