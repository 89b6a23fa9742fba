// The benchmark's baseline: the same reads our providers do on refresh, done "the
// naive way", one @pulumi/command remote.Command per operation.
//
// remote.Command cannot run on this network: its plugin, pulumi-resource-command,
// is only published as a release binary or as github.com/pulumi/pulumi-command Go
// modules, and the Go module proxy refuses every one of those (docs/toolchain.md).
// So this file EMULATES remote.Command's connection pattern as a dynamic resource:
// every operation dials a NEW SSH connection (host key pinned, same key as our
// providers), runs exactly one command, and closes it. Nothing is pooled or cached.
// Dials are retried on network errors only, as pulumi-command does, with the same
// 15 s per-dial timeout, and TCP_NODELAY is on, as on every Go TCP connection. Unlike the real remote.Command, `read` re-runs the command
// (the real one has no Read, so it could not detect drift at all); that is what
// makes `pulumi preview --refresh` of this stack perform the same reads as ours.
import { randomBytes } from "crypto";
import { readFileSync } from "fs";
import * as pulumi from "@pulumi/pulumi";
import { Client, type ConnectConfig } from "ssh2";
import { hostKeyAlgorithmsFor, parseHostKeyPin, verifyHostKey } from "../providers/connection";
import { implementationRef, serializableProvider } from "../providers/dynamic";
import { shellJoin } from "../providers/shell";

export interface NaiveConnection {
    host: string;
    port: number;
    user: string;
    /** A key file on this machine (the lab's keys), as our providers use in the benchmark. */
    privateKeyPath: string;
    /** The pinned host key line. */
    hostKey: string;
}

export interface NaiveResult { code: number; stdout: string; stderr: string; dialMs: number; totalMs: number }

const DIAL_ATTEMPTS = 10;
const DIAL_TIMEOUT_MS = 15_000;
const COMMAND_TIMEOUT_MS = 120_000;
const RETRYABLE = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH"]);

/** Dials and authenticates one connection (pinned host key), without retries. */
export function dialOnce(conn: NaiveConnection): Promise<Client> {
    const pin = parseHostKeyPin(conn.hostKey);
    if (typeof pin === "string") return Promise.reject(new Error(`hostKey of ${conn.host}:${conn.port}: ${pin}`));
    return new Promise((resolve, reject) => {
        const client = new Client();
        let settled = false;
        const fail = (err: unknown) => {
            if (settled) return;
            settled = true;
            client.end();
            reject(err);
        };
        client.once("ready", () => {
            if (settled) return;
            settled = true;
            client.on("error", () => undefined);
            // pulumi-command dials with Go's net package, which turns Nagle off (TCP_NODELAY)
            // on every TCP connection by default; so does this emulation.
            client.setNoDelay(true);
            resolve(client);
        });
        client.once("error", fail);
        client.once("close", () => fail(Object.assign(new Error("closed during the handshake"), { code: "ECONNRESET" })));
        const config: ConnectConfig = {
            host: conn.host, port: conn.port, username: conn.user,
            privateKey: readFileSync(conn.privateKeyPath),
            readyTimeout: DIAL_TIMEOUT_MS,
            hostVerifier: (key: Buffer) => verifyHostKey(pin, key).ok,
        };
        const algorithms = hostKeyAlgorithmsFor(pin);
        if (algorithms) config.algorithms = { serverHostKey: algorithms as any };
        client.connect(config);
    });
}

/** Dials a new connection, runs one command, closes the connection: remote.Command's pattern. */
export async function runOnce(conn: NaiveConnection, command: string): Promise<NaiveResult> {
    const started = Date.now();
    let client: Client | undefined;
    for (let attempt = 1; ; attempt++) {
        try {
            client = await dialOnce(conn);
            break;
        } catch (err) {
            const code = (err as NodeJS.ErrnoException).code ?? "";
            if (!RETRYABLE.has(code) || attempt >= DIAL_ATTEMPTS) throw err;
            await new Promise((r) => setTimeout(r, Math.min(4000, 250 * 2 ** (attempt - 1))));
        }
    }
    const dialMs = Date.now() - started;
    const c = client!;
    try {
        const r = await execOn(c, command);
        return { ...r, dialMs, totalMs: Date.now() - started };
    } finally {
        c.end();
    }
}

/** Runs one command on an open connection. */
export function execOn(client: Client, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        client.exec(command, (err, stream) => {
            if (err) { reject(err); return; }
            const out: Buffer[] = [];
            const errOut: Buffer[] = [];
            const timer = setTimeout(() => { stream.close(); reject(new Error(`no answer within ${COMMAND_TIMEOUT_MS / 1000} s: ${command.slice(0, 80)}`)); }, COMMAND_TIMEOUT_MS);
            stream.on("data", (d: Buffer) => out.push(d));
            stream.stderr.on("data", (d: Buffer) => errOut.push(d));
            stream.on("close", (code: number | null) => {
                clearTimeout(timer);
                resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errOut).toString("utf8") });
            });
            stream.end();
        });
    });
}

/**
 * Reads a user's authorized_keys as AuthorizedKey's read does: the directory's and
 * file's mode and owner, a checksum and the content. Written for the benchmark; the
 * same kind and amount of work as the provider's read script.
 */
const AUTHORIZED_KEYS_READ = `set -eu
home=$(getent passwd "$1" | cut -d: -f6)
f="$home/.ssh/authorized_keys"
stat -c 'dir %a %U' "$(dirname "$f")"
if [ -f "$f" ]; then stat -c 'file %a %U' "$f"; sha256sum < "$f"; base64 -w0 < "$f"; echo; fi
`;

export interface ReadOperation {
    /** Which provider read this stands for, e.g. "RsyncTarget: orbit backup config show". */
    op: string;
    connection: NaiveConnection;
    command: string;
}

/**
 * What each resource of one ApplianceBackup (rsync destination) must read on
 * refresh, one remote.Command per operation, as a program built from remote.Command
 * would: nothing is shared between resources.
 *   ApplianceRootKey -> orbit root-key show, and the host name (orbit version)
 *   AuthorizedKey    -> read authorized_keys on the backup server (sudo)
 *   RsyncTarget      -> orbit backup config show
 *   BackupPolicy     -> orbit backup config show
 *   BackupVerification reads nothing.
 * Our providers read the same facts with 2 orbit runs per appliance and one
 * authorized_keys read per server (docs/resources.md, "Refresh reads"). Neither
 * runs `orbit rsync test` on refresh: RsyncTarget does only with testOnRefresh.
 */
export function refreshReads(appliance: NaiveConnection, server: NaiveConnection, backupUser: string): ReadOperation[] {
    const orbit = (...args: string[]) => shellJoin(["sudo", "-n", "orbit", ...args, "--json"]);
    return [
        { op: "ApplianceRootKey: orbit root-key show", connection: appliance, command: orbit("root-key", "show") },
        { op: "ApplianceRootKey: orbit version", connection: appliance, command: orbit("version") },
        { op: "AuthorizedKey: read authorized_keys", connection: server, command: shellJoin(["sudo", "-n", "sh", "-c", AUTHORIZED_KEYS_READ, "ssb-read", backupUser]) },
        { op: "RsyncTarget: orbit backup config show", connection: appliance, command: orbit("backup", "config", "show") },
        { op: "BackupPolicy: orbit backup config show", connection: appliance, command: orbit("backup", "config", "show") },
    ];
}

interface NaiveCommandInputs { connection: NaiveConnection; command: string; op: string }

/** The dynamic provider: one resource per remote command, like remote.Command. */
export const naiveCommandProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news) {
        return { inputs: news, failures: [] };
    },
    async diff(_id, olds, news) {
        const changed = ["connection", "command", "op"].filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        // remote.Command replaces on any change of its create command or connection.
        return { changes: changed.length > 0, replaces: changed };
    },
    async create(inputs) {
        const i = inputs as NaiveCommandInputs;
        const r = await runOnce(i.connection, i.command);
        if (r.code !== 0) throw new Error(`${i.op} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
        return { id: randomBytes(8).toString("hex"), outs: { ...i, stdout: r.stdout, stderr: r.stderr } };
    },
    async read(id, props) {
        const i = props as NaiveCommandInputs;
        const r = await runOnce(i.connection, i.command);
        if (r.code !== 0) throw new Error(`${i.op} exited ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
        const inputs = { connection: i.connection, command: i.command, op: i.op };
        return { id, props: { ...inputs, stdout: r.stdout, stderr: r.stderr }, inputs };
    },
    async delete() {
        // remote.Command without a delete command runs nothing on destroy.
    },
};

export class NaiveCommand extends pulumi.dynamic.Resource {
    declare readonly stdout: pulumi.Output<string>;

    constructor(name: string, args: { connection: NaiveConnection; command: string; op: string }, opts?: pulumi.CustomResourceOptions) {
        super(serializableProvider(implementationRef(__filename, "naiveCommandProvider")), name,
            { ...args, stdout: undefined, stderr: undefined }, opts, "senhasegura-bench", "NaiveCommand");
    }
}
