// The SSH transport: one pooled connection per (host, port, user, key) for the
// whole provider process, exec channels multiplexed over it, pinned host keys,
// bounded dials and commands, sudo without a TTY, secrets over stdin only.
import { createHash } from "crypto";
import { readFileSync } from "fs";
import type { Client, ClientChannel, ConnectConfig } from "ssh2";
import type * as Ssh2 from "ssh2";
import { type Connection, type HostKeyPin, describeTarget, hostKeyAlgorithmsFor, parseHostKeyPin, verifyHostKey } from "./connection";
import { BackupProviderError, type FailureKind, RETRYABLE, redact } from "./errors";
import { progress } from "./progress";
import { shellJoin, sudoLine, sudoRefusal } from "./shell";

export interface RemoteCommand {
    /** The command and its arguments; each is quoted for the remote shell. */
    argv: readonly string[];
    /** What this command is for, in words, for messages ("read the backup configuration"). */
    operation: string;
    /**
     * Run as root through sudo: with connection.sudoPassword, that password goes first on
     * stdin (shell.ts, sudoLine); without it, `sudo -n`, which fails instead of prompting.
     */
    sudo?: boolean;
    /** Sent on stdin, then stdin is closed. The only way secrets travel. */
    stdin?: string | Buffer;
    /** Overrides connection.commandTimeoutSec. */
    timeoutSec?: number;
    /** Values to scrub from anything echoed back into messages. */
    secrets?: readonly (string | undefined)[];
    /**
     * Receives stdout as it arrives, instead of the result holding it (its `stdout` is
     * then ""): for content too large to buffer, such as a backup file being hashed.
     * A throw stops the command, and `run` rejects with what was thrown. The timeout
     * then bounds the wait for the next chunk, not the whole command.
     */
    onStdout?: (chunk: Buffer) => void;
}

export interface CommandResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** sshd's default MaxSessions is 10; stay under it so channel opens never fail. */
const MAX_CHANNELS_PER_CONNECTION = 8;
/**
 * Closes a pooled connection nobody used for this long, so a process that imports
 * the pool directly (a test, a script) can exit. Long enough that an engine run
 * keeps one connection per host even while a backup runs elsewhere.
 */
const IDLE_CLOSE_MS = 120_000;

/** An SSH connection whose host key matched the pin. */
interface Session {
    client: Client;
    /** The host key the server presented. */
    hostKey: Buffer;
}

interface PoolEntry {
    key: string;
    target: string;
    session: Promise<Session>;
    active: number;
    waiting: Array<() => void>;
    idleTimer?: NodeJS.Timeout;
}

export interface PoolStats {
    /** Successful SSH handshakes (new connections) per "user@host:port". */
    handshakes: Record<string, number>;
    /** Commands run per "user@host:port". */
    commands: Record<string, number>;
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A private key's part of a pool key: connections with other keys are other entries. */
function keyId(key: string | Buffer): string {
    return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

function keyMaterial(conn: Connection): { privateKey?: Buffer | string; agent?: string; id: string } {
    if (conn.privateKey !== undefined) return { privateKey: conn.privateKey, id: keyId(conn.privateKey) };
    if (conn.privateKeyPath !== undefined) {
        let key: Buffer;
        try {
            key = readFileSync(conn.privateKeyPath);
        } catch (err) {
            throw new BackupProviderError(`cannot read the private key file ${conn.privateKeyPath}`, {
                kind: "authentication", host: describeTarget(conn), operation: "load the SSH private key",
                hint: "check connection.privateKeyPath names a readable file on the machine that runs Pulumi", cause: err,
            });
        }
        return { privateKey: key, id: keyId(key) };
    }
    return { agent: conn.agentSocket, id: `agent:${conn.agentSocket}` };
}

/** Maps ssh2's `err.level` and socket codes onto our kinds. */
function classifyDialError(err: any): FailureKind {
    const level: string | undefined = err?.level;
    if (level === "client-authentication" || level === "agent") return "authentication";
    if (level === "client-timeout") return "timeout";
    if (level === "client-dns") return "dns";
    const code: string | undefined = err?.code;
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "dns";
    if (code === "ETIMEDOUT") return "timeout";
    if (level === "client-socket" || code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE" || code === "EHOSTUNREACH" || code === "ENETUNREACH") return "socket";
    return "protocol";
}

const DIAL_HINTS: Record<FailureKind, (c: Connection) => string> = {
    "host-key": () => "",
    authentication: (c) => `make sure the public half of the configured key is in ~${c.user}/.ssh/authorized_keys on ${c.host}, and that the key file is the right one`,
    timeout: (c) => `check that ${c.host}:${c.port} is up and reachable from here, or raise connection.dialTimeoutSec`,
    dns: (c) => `check the host name ${c.host} resolves from the machine running Pulumi`,
    socket: (c) => `check that sshd listens on ${c.host}:${c.port} and that no firewall drops the connection`,
    protocol: (c) => `check that ${c.host}:${c.port} is an SSH server and that it offers a key exchange ssh2 supports`,
    sudo: () => "", command: () => "", appliance: () => "", "concurrent-edit": () => "", invalid: () => "",
};

/** What each way sudo refuses means, and what to do about it. */
const SUDO_REFUSALS: Record<"password" | "wrong-password" | "forbidden", { reason: string; hint: (c: Connection, program: string) => string }> = {
    password: {
        reason: "sudo asks for a password, and none is configured",
        hint: (c, program) => `set the login's sudo password as a secret, connection.sudoPassword (in the dev stack: pulumi config set --secret sudoPassword), or allow ${c.user} to run ${program} without a password on ${c.host} (a NOPASSWD rule in /etc/sudoers.d)`,
    },
    "wrong-password": {
        reason: "sudo refused the configured password",
        hint: (c) => `check connection.sudoPassword is ${c.user}'s password on ${c.host} (pulumi config set --secret sudoPassword); sudo may also lock the account after repeated failures`,
    },
    forbidden: {
        reason: "sudo refused the command",
        hint: (c, program) => `allow ${c.user} to run ${program} with sudo on ${c.host}`,
    },
};

class SshPool {
    private readonly entries = new Map<string, PoolEntry>();
    private readonly stats: PoolStats = { handshakes: {}, commands: {} };

    /** Runs one command and returns its exit code and output; throws only on transport failures. */
    async run(conn: Connection, command: RemoteCommand): Promise<CommandResult> {
        const entry = this.entryFor(conn);
        await this.acquire(entry);
        try {
            const { client } = await entry.session;
            this.stats.commands[entry.target] = (this.stats.commands[entry.target] ?? 0) + 1;
            return await this.exec(client, conn, command);
        } finally {
            this.release(entry);
        }
    }

    /**
     * The public host key the server presented, after it matched the pin: what a tool
     * that takes only a whole key line (pulumi-command) can be given when the user
     * pinned a fingerprint. Reuses the pooled connection; runs no command.
     */
    async presentedHostKey(conn: Connection): Promise<Buffer> {
        const entry = this.entryFor(conn);
        await this.acquire(entry);
        try {
            return (await entry.session).hostKey;
        } finally {
            this.release(entry);
        }
    }

    snapshot(): PoolStats {
        return { handshakes: { ...this.stats.handshakes }, commands: { ...this.stats.commands } };
    }

    /** Closes every pooled connection. */
    async closeAll(): Promise<void> {
        const entries = [...this.entries.values()];
        this.entries.clear();
        await Promise.all(entries.map(async (e) => {
            if (e.idleTimer) clearTimeout(e.idleTimer);
            try { (await e.session).client.end(); } catch { /* a failed dial has nothing to close */ }
        }));
    }

    private entryFor(conn: Connection): PoolEntry {
        const material = keyMaterial(conn);
        const key = `${conn.user}@${conn.host}:${conn.port}#${material.id}#${conn.hostKey}`;
        let entry = this.entries.get(key);
        if (!entry) {
            const forget = () => { if (this.entries.get(key) === created) this.entries.delete(key); };
            const created: PoolEntry = { key, target: describeTarget(conn), session: this.dial(conn, material, forget), active: 0, waiting: [] };
            // A failed dial must not poison the pool: the next call dials again.
            created.session.catch(forget);
            this.entries.set(key, created);
            entry = created;
        }
        if (entry.idleTimer) { clearTimeout(entry.idleTimer); entry.idleTimer = undefined; }
        return entry;
    }

    private async acquire(entry: PoolEntry): Promise<void> {
        if (entry.active < MAX_CHANNELS_PER_CONNECTION) { entry.active++; return; }
        await new Promise<void>((resolve) => entry.waiting.push(resolve));
        entry.active++;
    }

    private release(entry: PoolEntry): void {
        entry.active--;
        const next = entry.waiting.shift();
        if (next) { next(); return; }
        if (entry.active === 0 && this.entries.get(entry.key) === entry) {
            entry.idleTimer = setTimeout(() => {
                if (entry.active === 0 && this.entries.get(entry.key) === entry) {
                    this.entries.delete(entry.key);
                    entry.session.then(({ client }) => client.end(), () => undefined);
                }
            }, IDLE_CLOSE_MS);
            entry.idleTimer.unref();
        }
    }

    /** Dials until a session is up; `forget` drops it from the pool once it closes. */
    private async dial(conn: Connection, material: ReturnType<typeof keyMaterial>, forget: () => void): Promise<Session> {
        const pin = parseHostKeyPin(conn.hostKey);
        if (typeof pin === "string") {
            throw new BackupProviderError(`connection.hostKey is not usable: ${pin}`, {
                kind: "invalid", host: describeTarget(conn), operation: "connect over SSH",
                hint: "set connection.hostKey to the output of `ssh-keyscan -p PORT HOST` (the key part) or its SHA256 fingerprint",
            });
        }
        const target = describeTarget(conn);
        let lastError: BackupProviderError | undefined;
        for (let attempt = 1; attempt <= conn.dialAttempts; attempt++) {
            try {
                const session = await this.dialOnce(conn, material, pin);
                this.stats.handshakes[target] = (this.stats.handshakes[target] ?? 0) + 1;
                session.client.on("close", forget);
                session.client.on("error", forget);
                return session;
            } catch (err) {
                if (!(err instanceof BackupProviderError)) throw err;
                lastError = err;
                if (!RETRYABLE.has(lastError.kind) || attempt === conn.dialAttempts) break;
                const waitMs = Math.min(4000, 500 * 2 ** (attempt - 1));
                progress(`dial ${attempt}/${conn.dialAttempts} to ${conn.host}:${conn.port} failed (${lastError.kind}): retrying in ${(waitMs / 1000).toFixed(1)} s`);
                await sleep(waitMs);
            }
        }
        if (lastError && RETRYABLE.has(lastError.kind) && conn.dialAttempts > 1) {
            throw new BackupProviderError(`after ${conn.dialAttempts} failed attempts: ${lastError.reason}`, {
                kind: lastError.kind, host: target, operation: "connect over SSH", hint: lastError.hint, cause: lastError,
            });
        }
        throw lastError;
    }

    private dialOnce(conn: Connection, material: ReturnType<typeof keyMaterial>, pin: HostKeyPin): Promise<Session> {
        return new Promise((resolve, reject) => {
            // ssh2 is loaded by the first connection, not with this module: a program that only
            // declares resources loads this module and never connects (fast-start.ts).
            const client = new (require("ssh2") as typeof Ssh2).Client();
            let mismatch: ReturnType<typeof verifyHostKey> | undefined;
            let presented: Buffer | undefined;
            let settled = false;
            const fail = (err: unknown) => {
                if (settled) return;
                settled = true;
                client.removeAllListeners("ready");
                client.end();
                if (mismatch && !mismatch.ok) {
                    reject(new BackupProviderError(
                        `the server's host key does not match the pinned one: it presented a ${mismatch.seenType} key with fingerprint ${mismatch.seenFingerprint}, but connection.hostKey pins ${mismatch.pinnedFingerprint}. Someone may be intercepting the connection, or the host key was changed`,
                        { kind: "host-key", host: describeTarget(conn), operation: "connect over SSH",
                          hint: `verify ${mismatch.seenFingerprint} out of band (on the host: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub); only if it is genuine, update connection.hostKey` }));
                    return;
                }
                const kind = classifyDialError(err);
                const message = err instanceof Error ? err.message : String(err);
                reject(new BackupProviderError(message, { kind, host: describeTarget(conn), operation: "connect over SSH", hint: DIAL_HINTS[kind](conn), cause: err }));
            };
            client.once("ready", () => {
                if (settled) return;
                if (presented === undefined) {
                    // ssh2 is ready only after hostVerifier accepted a key; anything else is a broken handshake.
                    fail(new Error("the handshake finished without the server presenting a host key"));
                    return;
                }
                const hostKey = presented;
                settled = true;
                client.removeListener("error", fail);
                client.on("error", () => { /* handled by the pool's close listener */ });
                // Many small request/answer exchanges over one connection: Nagle's algorithm
                // would add ~40 ms to each (measured by the fleet benchmark).
                client.setNoDelay(true);
                resolve({ client, hostKey });
            });
            client.once("error", fail);
            client.once("close", () => fail(Object.assign(new Error("the connection closed during the handshake"), { level: "client-socket" })));
            const config: ConnectConfig = {
                host: conn.host,
                port: conn.port,
                username: conn.user,
                readyTimeout: conn.dialTimeoutSec * 1000,
                keepaliveInterval: 10_000,
                keepaliveCountMax: 3,
                hostVerifier: (key: Buffer) => {
                    mismatch = verifyHostKey(pin, key);
                    if (mismatch.ok) presented = Buffer.from(key);
                    return mismatch.ok;
                },
            };
            const algorithms = hostKeyAlgorithmsFor(pin);
            if (algorithms) config.algorithms = { serverHostKey: algorithms as any };
            if (material.privateKey !== undefined) config.privateKey = material.privateKey;
            if (material.agent !== undefined) config.agent = material.agent;
            try {
                client.connect(config);
            } catch (err) {
                // ssh2 throws synchronously on an unparseable private key; its message never includes the key.
                fail(Object.assign(new Error(`the private key cannot be used: ${(err as Error).message}`), { level: "client-authentication" }));
            }
        });
    }

    private exec(client: Client, conn: Connection, command: RemoteCommand): Promise<CommandResult> {
        const withPassword = command.sudo === true && conn.sudoPassword !== undefined;
        const line = command.sudo ? sudoLine(command.argv, withPassword) : shellJoin(command.argv);
        const stdin = withPassword
            ? Buffer.concat([Buffer.from(`${conn.sudoPassword}\n`), Buffer.from(command.stdin ?? "")])
            : command.stdin;
        const timeoutSec = command.timeoutSec ?? conn.commandTimeoutSec;
        const target = describeTarget(conn);
        const secrets = [...(command.secrets ?? []), typeof command.stdin === "string" ? command.stdin.trim() : undefined, conn.sudoPassword];
        const scrub = (text: string) => redact(text, secrets);
        return new Promise((resolve, reject) => {
            client.exec(line, (err: Error | undefined, stream: ClientChannel) => {
                if (err) {
                    reject(new BackupProviderError(`could not open a channel: ${err.message}`, {
                        kind: "socket", host: target, operation: command.operation, secrets,
                        hint: "the SSH connection was lost or the server limits sessions (MaxSessions); run `pulumi up` again",
                    }));
                    return;
                }
                const stdout: Buffer[] = [];
                const stderr: Buffer[] = [];
                let done = false;
                const timer = setTimeout(() => {
                    if (done) return;
                    done = true;
                    try { stream.signal("KILL"); } catch { /* older servers ignore signals */ }
                    stream.close();
                    reject(new BackupProviderError(`no answer within ${timeoutSec} s`, {
                        kind: "timeout", host: target, operation: command.operation, secrets,
                        stderr: scrub(Buffer.concat(stderr).toString("utf8")),
                        hint: `check that ${conn.host} is responsive (a dead NFS or CIFS server can stall a command there), or raise connection.commandTimeoutSec`,
                    }));
                }, timeoutSec * 1000);
                timer.unref();
                stream.on("data", (chunk: Buffer) => {
                    if (done) return;
                    if (!command.onStdout) { stdout.push(chunk); return; }
                    // A transfer that keeps flowing may take longer than the timeout; one that stalls may not.
                    timer.refresh();
                    try {
                        command.onStdout(chunk);
                    } catch (sinkError) {
                        done = true;
                        clearTimeout(timer);
                        try { stream.signal("KILL"); } catch { /* older servers ignore signals */ }
                        stream.close();
                        reject(sinkError);
                    }
                });
                stream.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
                stream.on("close", (code: number | null, signal?: string) => {
                    if (done) return;
                    done = true;
                    clearTimeout(timer);
                    const out = scrub(Buffer.concat(stdout).toString("utf8"));
                    const errText = scrub(Buffer.concat(stderr).toString("utf8"));
                    if (code === null || code === undefined) {
                        reject(new BackupProviderError(`the connection dropped before the command finished${signal ? ` (signal ${signal})` : ""}`, {
                            kind: "socket", host: target, operation: command.operation, stderr: errText, secrets,
                            hint: "the change may be partly applied on the host; run `pulumi up` again and it converges",
                        }));
                        return;
                    }
                    const refusal = command.sudo && code !== 0 ? sudoRefusal(errText) : undefined;
                    if (refusal !== undefined) {
                        reject(new BackupProviderError(SUDO_REFUSALS[refusal].reason, {
                            kind: "sudo", host: target, operation: command.operation, exitCode: code, stderr: errText, secrets,
                            hint: SUDO_REFUSALS[refusal].hint(conn, command.argv[0]),
                        }));
                        return;
                    }
                    resolve({ code, stdout: out, stderr: errText });
                });
                if (stdin !== undefined) stream.end(stdin);
                else stream.end();
            });
        });
    }
}

/** The process-wide pool: the dynamic-provider process loads this module once, so all resources share it. */
export const sshPool = new SshPool();
