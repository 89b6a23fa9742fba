// The verification backup: a @pulumi/command remote.Command that runs
// `sudo -n orbit backup create --json` on the appliance, as the vendor's "Test
// Rsync backup" step does by hand. BackupVerification then checks its report
// against the destination.
//
// remote.Command has no read: the backup is a point-in-time proof, made when what
// or where the appliance backs up changes (`triggers`). The other resources' reads
// are what show drift. A plain `pulumi up` runs no backup.
import * as command from "@pulumi/command";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { APPLIANCE_LOGIN, CONNECTION_DEFAULTS } from "../providers/transport/connection";
import type { ApplianceConnectionInput as ConnectionInput } from "../providers/appliance/connection";
import type { Inputs } from "../providers/scaffolding/resource";
import { KILL_AFTER_SEC, verificationCommand, verificationStdin } from "../providers/appliance/backup-command";
import type { DriverName } from "../providers/appliance/driver";

/** @default 900 s: a sample vendor backup took about 18 s; video can take much longer. */
export const DEFAULT_BACKUP_TIMEOUT_SEC = 900;

export interface VerificationBackupArgs {
    /** How to reach the appliance; the same connection as its other resources. */
    appliance: Inputs<ConnectionInput>;
    /** The appliance's host key line, already checked against the pin (ApplianceHostKey.keyLine). */
    hostKeyLine: pulumi.Input<string>;
    /** The driver the appliance speaks (ApplianceHostKey.driver): it decides the command line. @default "contract" */
    driver?: pulumi.Input<DriverName>;
    /** Values whose change runs a new backup: the destination and the backup kinds. Never secrets. */
    triggers: pulumi.Input<unknown>[];
    /** Seconds the backup may take. @default 900 */
    timeoutSec?: number;
}

/** The contract driver's command line (kept for callers of 0.x); the component picks the driver's own. */
export function backupCommandLine(timeoutSec: number, target: string): string {
    return verificationCommand("contract", timeoutSec, target, false);
}

/** "user@host:port" of the appliance, with its default port and user, for messages. */
export function applianceTarget(c: Inputs<ConnectionInput>): pulumi.Output<string> {
    return pulumi.all([c.user, c.host, c.port]).apply(([user, host, port]) => `${user ?? APPLIANCE_LOGIN.user}@${host}:${port ?? APPLIANCE_LOGIN.port}`);
}

function readKeyFile(file: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new Error(`cannot read the appliance's private key file ${file} for the verification backup: ${(err as NodeJS.ErrnoException).code ?? err}; check connection.privateKeyPath names a readable file on the machine that runs Pulumi`);
    }
}

/**
 * pulumi-command's connection for our appliance connection. The private key is
 * always a secret (encrypted in state), whether it came as a secret value or from
 * privateKeyPath: pulumi-command takes no key file.
 */
export function commandConnection(c: Inputs<ConnectionInput>, hostKeyLine: pulumi.Input<string>): command.types.input.remote.ConnectionArgs {
    // Field by field: one output of the whole connection would carry the key's secret
    // mark onto the host and port too.
    const orDefault = <T>(value: pulumi.Input<T | undefined> | undefined, fallback: T) => pulumi.output(value).apply((v) => v ?? fallback);
    const privateKey = c.privateKey !== undefined ? pulumi.secret(pulumi.output(c.privateKey).apply((k) => k ?? ""))
        : c.privateKeyPath !== undefined ? pulumi.secret(pulumi.output(c.privateKeyPath).apply((file) => file === undefined ? "" : readKeyFile(file)))
        : undefined;
    return {
        host: c.host,
        port: orDefault(c.port, APPLIANCE_LOGIN.port),
        user: orDefault<string>(c.user, APPLIANCE_LOGIN.user),
        hostKey: hostKeyLine,
        privateKey,
        agentSocketPath: c.agentSocket === undefined ? undefined : orDefault(c.agentSocket, ""),
        dialErrorLimit: orDefault(c.dialAttempts, CONNECTION_DEFAULTS.dialAttempts),
        perDialTimeout: orDefault(c.dialTimeoutSec, CONNECTION_DEFAULTS.dialTimeoutSec),
    };
}

/**
 * The backup's stdin. It resolves to undefined where nothing is sent (the contract
 * driver without a sudo password), and the SDK leaves an undefined input out, so
 * such a stack's Command keeps the inputs it had: no spurious backup on upgrade.
 */
function verificationInput(args: VerificationBackupArgs): pulumi.Output<string> {
    const stdin = pulumi.all([args.driver ?? "contract", args.appliance.sudoPassword]).apply(([driver, password]) => verificationStdin(driver, password ?? undefined));
    return (args.appliance.sudoPassword === undefined ? stdin : pulumi.secret(stdin)) as pulumi.Output<string>;
}

/** Declares the command that runs one verification backup when its triggers change. */
export function verificationBackup(name: string, args: VerificationBackupArgs, opts?: pulumi.CustomResourceOptions): command.remote.Command {
    const timeoutSec = args.timeoutSec ?? DEFAULT_BACKUP_TIMEOUT_SEC;
    const bound = `${timeoutSec + KILL_AFTER_SEC + 30}s`;
    return new command.remote.Command(name, {
        connection: commandConnection(args.appliance, args.hostKeyLine),
        create: pulumi.all([args.driver ?? "contract", applianceTarget(args.appliance), args.appliance.sudoPassword !== undefined])
            .apply(([driver, target, withPassword]) => verificationCommand(driver, timeoutSec, target, withPassword)),
        // The sudo password, when there is one, goes first on stdin: a secret in state.
        stdin: verificationInput(args),
        triggers: args.triggers,
        // stdout is the report (contract: JSON; vendor: the log lines) and stderr orbit's own message; neither holds a
        // secret, but nothing of the command is echoed into the engine's log either:
        // BackupVerification logs a one-line summary.
        logging: "none",
        // Sending the last stdout back as environment needs AcceptEnv on the appliance's
        // sshd and warns without it (pulumi-command#48); the backup needs none of it.
        addPreviousOutputInEnv: false,
    }, { ...opts, customTimeouts: { create: bound, update: bound, ...opts?.customTimeouts } });
}
