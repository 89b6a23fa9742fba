// One new SSH connection per command, in this process (ssh2): the engine-free
// counterpart of the baseline's connection pattern, for the reads without the
// engine and the unit costs. It is NOT remote.Command (that is Go's x/crypto/ssh in
// the pulumi-resource-command plugin); it is the same pattern in Node: dial (host
// key pinned), authenticate, run one command, close. Dials are retried on network
// errors only and TCP_NODELAY is on, as pulumi-command's Go dialer does.
import { readFileSync } from "fs";
import { Client, type ConnectConfig } from "ssh2";
import { hostKeyAlgorithmsFor, parseHostKeyPin, verifyHostKey } from "../../providers/transport/connection";
import type { SshLogin } from "./fleet";

export interface OneShotResult { code: number; stdout: string; stderr: string; dialMs: number; totalMs: number }

const DIAL_ATTEMPTS = 10; // pulumi-command's default dialErrorLimit
const DIAL_TIMEOUT_MS = 15_000; // and perDialTimeout
const COMMAND_TIMEOUT_MS = 120_000;
const RETRYABLE = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH"]);

/** Dials and authenticates one connection (pinned host key), without retries. */
export function dialOnce(login: SshLogin): Promise<Client> {
    const pin = parseHostKeyPin(login.hostKey);
    if (typeof pin === "string") return Promise.reject(new Error(`hostKey of ${login.host}:${login.port} in lab.json: ${pin}`));
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
            // Go's net package turns Nagle off (TCP_NODELAY) on every TCP connection.
            client.setNoDelay(true);
            resolve(client);
        });
        client.once("error", fail);
        client.once("close", () => fail(Object.assign(new Error(`${login.user}@${login.host}:${login.port} closed the connection during the handshake`), { code: "ECONNRESET" })));
        const config: ConnectConfig = {
            host: login.host, port: login.port, username: login.user,
            privateKey: readFileSync(login.privateKeyPath),
            readyTimeout: DIAL_TIMEOUT_MS,
            hostVerifier: (key: Buffer) => verifyHostKey(pin, key).ok,
        };
        const algorithms = hostKeyAlgorithmsFor(pin);
        if (algorithms) config.algorithms = { serverHostKey: algorithms as any };
        client.connect(config);
    });
}

/** Dials a new connection, runs one command, closes the connection. */
export async function runOnce(login: SshLogin, command: string): Promise<OneShotResult> {
    const started = Date.now();
    let client: Client | undefined;
    for (let attempt = 1; ; attempt++) {
        try {
            client = await dialOnce(login);
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
