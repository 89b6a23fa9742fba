// BackupVerification: runs `sudo orbit backup create` on the appliance (vendor
// step 4, "Test Rsync backup"), then checks from outside the appliance that every
// file it reported really landed at the destination. It reruns only when its
// triggers change (the destination or what the policy backs up), never on a
// plain `pulumi up`.
//
// The issue asked for a @pulumi/command remote.Command here. Its plugin,
// pulumi-resource-command, cannot be built or downloaded on this network (see
// docs/toolchain.md), so this resource does the same over our pooled, pinned
// SSH transport.
import { execFile } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { checkInputs, connectionIdentity, decideDiff } from "./check";
import { ApplianceConnection, type Connection, ServerConnection, describeTarget } from "./connection";
import { BackupProviderError } from "./errors";
import { OrbitClient, type OrbitBackupSummary } from "./orbit";
import { info, progress } from "./progress";
import { BackupResource, type Inputs } from "./resource";
import { BackupDirectory, CifsDomain, CifsPassword, Hostname, Port, UnixUser } from "./rules";
import { shellQuote } from "./shell";
import { sshPool } from "./ssh";

export const FarSide = z.discriminatedUnion("type", [
    z.strictObject({
        type: z.literal("rsync"),
        /** The backup server, reached as an admin who may sudo, or as the backup user. */
        server: ServerConnection,
        /** Read the files through `sudo -n`. @default true */
        useSudo: z.boolean().default(true),
        /** The backup directory the files are relative to. */
        path: BackupDirectory,
    }),
    z.strictObject({
        type: z.literal("cifs"),
        host: Hostname,
        port: Port.default(445),
        /** `/<share>[/<dir>]`, as the partition's path. */
        path: BackupDirectory,
        user: UnixUser,
        /** Secret. */
        password: CifsPassword,
        domain: CifsDomain.optional(),
    }),
    z.strictObject({
        type: z.literal("nfs"),
        host: Hostname,
        port: Port.default(2049),
        /** The export path. */
        path: BackupDirectory,
    }),
], { error: "must be {type: \"rsync\" | \"cifs\" | \"nfs\", …}" });
export type FarSide = z.output<typeof FarSide>;

export const BackupVerificationArgs = z.strictObject({
    /** How to reach the appliance. */
    connection: ApplianceConnection,
    /** Values whose change runs a new verification backup (the destination, the backup kinds). Never secrets. */
    triggers: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    /** Where to look for the files. */
    destination: FarSide,
    /** Seconds the backup may take. @default 900 */
    backupTimeoutSec: z.number().int().min(10).max(86_400).default(900),
});
export type BackupVerificationArgs = z.input<typeof BackupVerificationArgs>;
type BackupVerificationInputs = z.output<typeof BackupVerificationArgs>;

export interface BackupVerificationState extends BackupVerificationInputs {
    backupId: string;
    files: string[];
    bytes: number;
    durationMs: number;
    startedAt: string;
    /** Where orbit said it sent the backup. */
    sentTo: string;
}

const LOCAL_TIMEOUT_MS = 30_000;

function runLocal(file: string, args: string[]): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
        execFile(file, args, { timeout: LOCAL_TIMEOUT_MS, killSignal: "SIGKILL", maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
            const code = err ? (typeof (err as any).code === "number" ? (err as any).code : 1) : 0;
            resolve({ code, out: `${stdout}\n${stderr}` });
        });
    });
}

/** The files the far side does not have. */
async function missingFiles(side: FarSide, files: string[]): Promise<string[]> {
    if (side.type === "rsync") {
        const script = 'cd "$1" || exit 3; shift; for f; do [ -s "$f" ] || echo "$f"; done';
        const result = await sshPool.run(side.server as Connection, {
            argv: ["sh", "-c", script, "ssb-verify", side.path, ...files], sudo: side.useSudo,
            operation: `check the backup files in ${side.path}`,
        });
        if (result.code !== 0) {
            throw new BackupProviderError(`cannot read ${side.path}`, {
                kind: "command", host: describeTarget(side.server as Connection), operation: "verify the backup files", exitCode: result.code, stderr: result.stderr,
                hint: "check the backup directory exists and the verification user may read it (useSudo)",
            });
        }
        return result.stdout.split("\n").filter(Boolean);
    }
    const missing: string[] = [];
    if (side.type === "cifs") {
        const [share, ...dir] = side.path.split("/").filter(Boolean);
        // The password goes in a 0600 file in a private directory, never on argv.
        const tmp = mkdtempSync(path.join(tmpdir(), "ssb-smb-"));
        try {
            const auth = path.join(tmp, "auth");
            writeFileSync(auth, `username = ${side.user}\npassword = ${side.password}\n${side.domain ? `domain = ${side.domain}\n` : ""}`, { mode: 0o600 });
            for (const file of files) {
                const remote = [...dir, file].join("/");
                const r = await runLocal("smbclient", [`//${side.host}/${share}`, "-p", String(side.port), "-A", auth, "-t", "10", "-c", `ls ${shellQuote(remote).replace(/'/g, '"')}`]);
                if (r.code !== 0 || /NT_STATUS_/.test(r.out) || !r.out.includes(path.basename(file))) missing.push(file);
            }
        } finally {
            rmSync(tmp, { recursive: true, force: true });
        }
        return missing;
    }
    for (const file of files) {
        const url = `nfs://${side.host}${side.path}/${path.dirname(file)}?version=4&nfsport=${side.port}`;
        const r = await runLocal("nfs-ls", [url]);
        if (r.code !== 0 || !r.out.split("\n").some((line) => line.trim().endsWith(` ${path.basename(file)}`))) missing.push(file);
    }
    return missing;
}

function describeSide(side: FarSide): string {
    return side.type === "rsync" ? `${describeTarget(side.server as Connection)}:${side.path}` : `${side.type}://${side.host}:${side.port}${side.path}`;
}

async function verify(inputs: BackupVerificationInputs): Promise<BackupVerificationState> {
    const orbit = new OrbitClient(inputs.connection as Connection);
    progress(`BackupVerification on ${orbit.target}: running sudo orbit backup create (up to ${inputs.backupTimeoutSec} s)`);
    const summary: OrbitBackupSummary = await orbit.backupCreate(inputs.backupTimeoutSec);
    info(`BackupVerification on ${orbit.target}: backup ${summary.id} sent ${summary.files.length} files, ${summary.bytes} bytes, to ${summary.destination} in ${(summary.durationMs / 1000).toFixed(1)} s`);
    progress(`BackupVerification on ${orbit.target}: looking for ${summary.files.length} files at ${describeSide(inputs.destination)}`);
    const missing = await missingFiles(inputs.destination, summary.files);
    if (missing.length > 0) {
        throw new BackupProviderError(`backup ${summary.id} reported ${summary.files.length} files sent to ${summary.destination}, but ${missing.length} are not at ${describeSide(inputs.destination)}: ${missing.join(", ")}`, {
            kind: "appliance", host: orbit.target, operation: "verify the backup landed",
            hint: "check the destination path and rights on the backup server, and the appliance's backup log (/var/log/orbinibkp.log); then run `pulumi up` again",
        });
    }
    return { ...inputs, backupId: summary.id, files: summary.files, bytes: summary.bytes, durationMs: summary.durationMs, startedAt: summary.startedAt, sentTo: summary.destination };
}

const OUTPUTS = ["backupId", "files", "bytes", "durationMs", "startedAt", "sentTo"];

export const backupVerificationProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news) {
        return checkInputs(BackupVerificationArgs, news);
    },
    async diff(_id, olds, news) {
        const decision = decideDiff(olds, news, {
            identity: ["connection"], identityProjection: { connection: connectionIdentity }, ignore: OUTPUTS,
        });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs) {
        const state = await verify(inputs as BackupVerificationInputs);
        return { id: `${state.connection.host}:${state.connection.port}/verification`, outs: state };
    },
    async read(id, props) {
        // A verification is an event, not a thing on a host: refresh keeps what it proved.
        return { id, props };
    },
    async update(_id, olds, news) {
        const before = olds as BackupVerificationState;
        const after = news as BackupVerificationInputs;
        const rerun = JSON.stringify(before.triggers) !== JSON.stringify(after.triggers) || JSON.stringify({ ...before.destination }) !== JSON.stringify(after.destination);
        if (!rerun) {
            // Only how we reach the hosts changed: keep the last verification, run nothing.
            return { outs: { ...after, ...Object.fromEntries(OUTPUTS.map((k) => [k, (before as any)[k]])) } };
        }
        return { outs: await verify(after) };
    },
    async delete() {
        // The backups stay at the destination: deleting a verification deletes no backup.
    },
};

/**
 * Runs a backup now and proves it landed. Reruns when `triggers` or the destination change.
 *
 * @example
 * new BackupVerification("verify", {
 *     connection: applianceConnection,
 *     triggers: { destination: "rsync://senhauser@backup:22/files/backup/senhasegura", video: true },
 *     destination: { type: "rsync", server: backupAdminConnection, path: "/files/backup/senhasegura" },
 * }, { dependsOn: [policy] });
 */
export class BackupVerification extends BackupResource {
    declare readonly backupId: pulumi.Output<string>;
    declare readonly files: pulumi.Output<string[]>;
    declare readonly bytes: pulumi.Output<number>;
    declare readonly durationMs: pulumi.Output<number>;
    declare readonly startedAt: pulumi.Output<string>;
    declare readonly sentTo: pulumi.Output<string>;

    constructor(name: string, args: Inputs<BackupVerificationArgs>, opts?: pulumi.CustomResourceOptions) {
        super("BackupVerification", { moduleFile: __filename, exportName: "backupVerificationProvider" }, name,
            { ...args, backupId: undefined, files: undefined, bytes: undefined, durationMs: undefined, startedAt: undefined, sentTo: undefined },
            opts, ["destination"]);
    }
}
