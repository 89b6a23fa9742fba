// A client for the appliance's `orbit` command (docs/appliance-contract.md).
// Every answer is parsed with zod, so a contract break fails loudly with the
// field that broke rather than surfacing as a wrong diff later.
import { z } from "zod";
import { ReportedManifest } from "../formats/backup-format";
import { type Connection, describeTarget } from "../transport/connection";
import { BackupProviderError, type FailureDetails } from "../transport/errors";
import { SharedReads } from "../transport/shared-reads";
import { sshPool } from "../transport/ssh";

const Failure = z.object({
    ok: z.literal(false),
    error: z.object({ code: z.string(), message: z.string(), field: z.string().nullish() }),
});

export const OrbitPartition = z.object({
    id: z.string(),
    protocol: z.enum(["cifs", "nfs"]),
    host: z.string(),
    port: z.number().int(),
    path: z.string(),
    user: z.string().nullable(),
    domain: z.string().nullable(),
    credentialId: z.string().nullable(),
    passwordSet: z.boolean(),
    mounted: z.boolean(),
    mountedAt: z.string().nullable().optional(),
});
export type OrbitPartition = z.infer<typeof OrbitPartition>;

export const OrbitRsync = z.object({ user: z.string(), host: z.string(), port: z.number().int(), path: z.string() });
export type OrbitRsync = z.infer<typeof OrbitRsync>;

export const OrbitBackupSummary = z.object({
    id: z.string(),
    destination: z.string(),
    kinds: z.array(z.string()),
    files: z.array(z.string()),
    bytes: z.number(),
    durationMs: z.number(),
    startedAt: z.string(),
    /** Contract 2: the manifest orbit wrote with the backup, and every file's size and SHA-256. */
    manifest: ReportedManifest.optional(),
});
export type OrbitBackupSummary = z.infer<typeof OrbitBackupSummary>;

/** What `orbit backup create --json` prints on success. */
export const OrbitBackupReport = OrbitBackupSummary.extend({ ok: z.literal(true) });

/** A notification the appliance sent (e-mail and SIEM), e.g. when it lost the remote directory. */
export const OrbitEvent = z.object({ time: z.string(), kind: z.string(), destination: z.string().nullish(), error: z.string().nullish() }).passthrough();
export type OrbitEvent = z.infer<typeof OrbitEvent>;

export const OrbitConfig = z.object({
    ok: z.literal(true),
    contract: z.union([z.literal(1), z.literal(2)]),
    hostname: z.string(),
    backup: z.object({
        system: z.boolean(),
        secrets: z.boolean(),
        video: z.boolean(),
        masterPasswordSet: z.boolean(),
        hour: z.number().int(),
        destination: z.object({ mode: z.enum(["none", "partition", "rsync"]), partitionId: z.string().nullable() }),
        notifications: z.object({ email: z.boolean(), siem: z.boolean(), emailTo: z.string().nullable() }),
    }),
    partitions: z.array(OrbitPartition),
    credentials: z.array(z.object({ id: z.string() }).passthrough()),
    rsync: OrbitRsync.nullable(),
    /** The last successful backup: `orbit backup create`'s summary (contract 2: its manifest without the file list). */
    lastBackup: z.object({ id: z.string(), startedAt: z.string(), destination: z.string() }).passthrough().nullable().optional(),
    /** Contract 2: the last failed backup, cleared by a successful one. */
    lastFailure: z.object({ time: z.string(), code: z.string(), message: z.string() }).passthrough().nullable().optional(),
    /** Contract 2: the notifications sent in the last 7 days (at most 20, oldest first). */
    events: z.array(OrbitEvent).optional(),
    /** Contract 2: the root's public key, as `root-key show` prints it; null before it exists. */
    rootKey: z.object({ publicKey: z.string(), fingerprint: z.string() }).nullish(),
});
export type OrbitConfig = z.infer<typeof OrbitConfig>;

const Changed = z.object({ ok: z.literal(true), changed: z.boolean().optional() }).passthrough();
const RsyncTest = z.object({ ok: z.literal(true), reachable: z.boolean(), error: z.string().nullish() }).passthrough();
const RootKey = z.object({ ok: z.literal(true), publicKey: z.string(), fingerprint: z.string() }).passthrough();

/** What to tell the user for each contract error code. */
const HINTS: Record<string, string> = {
    usage: "the appliance does not speak orbit contract 1 or 2: check its version (orbit version --json)",
    invalid: "fix the value the appliance named; the same rule is checked at preview, so report this as a bug if preview passed",
    not_found: "the object is gone from the appliance; run `pulumi refresh`, then `pulumi up` to recreate it",
    locked: "another orbit call holds the configuration lock; wait for it to finish and run `pulumi up` again",
    unreachable: "check that the backup server is up, reachable from the appliance, and accepts the configured credentials",
    backup_failed: "read the appliance's backup log (/var/log/orbinibkp.log) for the cause",
    conflict: "the change clashes with the current configuration (for example, the active destination cannot be removed); change the BackupPolicy first",
    internal: "read the appliance's orbit audit log; run `pulumi up` again once fixed",
};

export interface OrbitCall {
    args: readonly string[];
    operation: string;
    stdin?: string;
    secrets?: readonly (string | undefined)[];
    timeoutSec?: number;
}

/** Refresh reads of each appliance's configuration, shared by its resources (see shared-reads.ts). */
const sharedConfigs = new SharedReads<OrbitConfig>();

export class OrbitClient {
    constructor(private readonly conn: Connection) {}

    /** The appliance as the shared reads know it: the same login on the same host. */
    private get configKey(): string { return `${this.conn.user}@${this.conn.host}:${this.conn.port}`; }

    get target(): string { return describeTarget(this.conn); }

    /** Runs `sudo -n orbit <args> --json` and parses the answer with `schema`. */
    async call<S extends z.ZodType>(schema: S, call: OrbitCall): Promise<z.infer<S>> {
        const result = await sshPool.run(this.conn, {
            argv: ["orbit", ...call.args, "--json"],
            sudo: true,
            operation: call.operation,
            stdin: call.stdin,
            secrets: call.secrets,
            timeoutSec: call.timeoutSec,
        });
        // stdout and stderr come back redacted; the secrets also guard anything else a message quotes.
        const context: Omit<FailureDetails, "hint"> = {
            kind: "appliance", host: this.target, operation: call.operation, exitCode: result.code, stderr: result.stderr,
            secrets: [...(call.secrets ?? []), call.stdin?.trim()],
        };
        let body: unknown;
        try {
            body = JSON.parse(result.stdout);
        } catch {
            throw new BackupProviderError(`orbit did not answer with JSON: ${result.stdout.slice(0, 200) || "(no output)"}`, {
                ...context, hint: result.code === 127 ? "orbit is not installed on this host: is it a senhasegura appliance?" : HINTS.usage,
            });
        }
        const failure = Failure.safeParse(body);
        if (failure.success) {
            const err = failure.data.error;
            throw new BackupProviderError(`orbit refused: ${err.message}${err.field ? ` (field ${err.field})` : ""}`, {
                ...context, code: err.code, hint: HINTS[err.code] ?? HINTS.internal,
            });
        }
        if (result.code !== 0) {
            throw new BackupProviderError("orbit failed, and its JSON answer gives no reason", { ...context, code: "internal", hint: HINTS.internal });
        }
        const parsed = schema.safeParse(body);
        if (!parsed.success) {
            const issue = parsed.error.issues[0];
            throw new BackupProviderError(`orbit's answer breaks the contract at ${issue.path.join(".") || "(root)"}: ${issue.message}`, {
                ...context, exitCode: undefined, hint: HINTS.usage,
            });
        }
        return parsed.data;
    }

    /** A fresh read of the configuration: what every change is planned from. */
    showConfig(): Promise<OrbitConfig> {
        return this.call(OrbitConfig, { args: ["backup", "config", "show"], operation: "read the backup configuration" });
    }

    /** The configuration for a refresh read, shared with the appliance's other resources. */
    showConfigShared(): Promise<OrbitConfig> {
        return sharedConfigs.get(this.configKey, () => this.showConfig());
    }

    async change(args: readonly string[], operation: string, stdin?: string, secrets?: readonly (string | undefined)[]) {
        try {
            return await this.call(Changed, { args, operation, stdin: stdin === undefined ? undefined : `${stdin}\n`, secrets: [...(secrets ?? []), stdin] });
        } finally {
            // Even a failed change may have changed something.
            sharedConfigs.forget(this.configKey);
        }
    }

    rsyncTest() {
        return this.call(RsyncTest, { args: ["rsync", "test"], operation: "test the rsync target", timeoutSec: 60 });
    }

    rootKey() {
        return this.call(RootKey, { args: ["root-key", "show"], operation: "read the appliance root public key" });
    }
}
