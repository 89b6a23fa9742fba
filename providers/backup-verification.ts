// BackupVerification: proves that the backup a verification run reported really
// landed at the destination, by looking for every file from outside the appliance.
//
// The backup itself runs in a @pulumi/command remote.Command (`sudo -n orbit
// backup create --json`, see components/verification-backup.ts); its stdout, the
// report, is this resource's input. A new report (a new backup) or a new
// destination checks again; a plain `pulumi up` or a refresh checks nothing.
import { execFile } from "child_process";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { checkInputs, decideDiff, fieldsOf } from "./check";
import { describeTarget } from "./connection";
import { BackupProviderError } from "./errors";
import { FarSide, describeSide } from "./far-side";
import { OrbitBackupReport, type OrbitBackupSummary } from "./orbit";
import { info, progress } from "./progress";
import { BackupResource, type Inputs } from "./resource";
import { shown } from "./rules";
import { shellQuote } from "./shell";
import { sshPool } from "./ssh";

// The package exports FarSide from here; it lives with the code that reads the far side.
export { FarSide } from "./far-side";

function parseReport(text: string): OrbitBackupSummary | string {
    let body: unknown;
    try {
        body = JSON.parse(text);
    } catch {
        return `is not JSON: it must be what \`orbit backup create --json\` printed; got ${shown(text.slice(0, 80))}`;
    }
    const parsed = OrbitBackupReport.safeParse(body);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return `is not orbit's backup summary: ${issue.path.join(".") || "(root)"} ${issue.message}`;
    }
    if (parsed.data.files.some((f) => !SAFE_RELATIVE_FILE.test(f) || f.split("/").includes(".."))) {
        return "names a file outside the backup directory: every file must be a relative path without '..'";
    }
    return parsed.data;
}

/** A backup file as orbit reports it: relative to the destination, plain characters only. */
const SAFE_RELATIVE_FILE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export const BackupVerificationArgs = z.strictObject({
    /** What `orbit backup create --json` printed: the remote.Command's stdout. */
    report: z.string().max(4 * 1024 * 1024).superRefine((text, ctx) => {
        const parsed = parseReport(text);
        if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
    }),
    /** The appliance that ran the backup, for messages (`mt4adm@10.0.0.5:59022`). */
    appliance: z.string().regex(/^[\x20-\x7e]{1,300}$/, "must be printable ASCII, at most 300 characters").optional(),
    /** Where to look for the files. */
    destination: FarSide,
});
export type BackupVerificationArgs = z.input<typeof BackupVerificationArgs>;
type BackupVerificationInputs = z.output<typeof BackupVerificationArgs>;

/** What a verification proved, from orbit's report: the resource's outputs. */
const Proof = z.object({
    backupId: z.string(),
    files: z.array(z.string()),
    bytes: z.number(),
    durationMs: z.number(),
    startedAt: z.string(),
    /** Where orbit said it sent the backup. */
    sentTo: z.string(),
});
export type BackupVerificationState = BackupVerificationInputs & z.output<typeof Proof>;

const LOCAL_TIMEOUT_MS = 30_000;

function runLocal(file: string, args: string[]): Promise<{ code: number; out: string }> {
    return new Promise((resolve) => {
        execFile(file, args, { timeout: LOCAL_TIMEOUT_MS, killSignal: "SIGKILL", maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
            const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
            resolve({ code, out: `${stdout}\n${stderr}` });
        });
    });
}

/** The files the far side does not have. */
async function missingFiles(side: FarSide, files: string[]): Promise<string[]> {
    if (side.type === "rsync") {
        const script = 'cd "$1" || exit 3; shift; for f; do [ -s "$f" ] || echo "$f"; done';
        const result = await sshPool.run(side.server, {
            argv: ["sh", "-c", script, "ssb-verify", side.path, ...files], sudo: side.useSudo,
            operation: `check the backup files in ${side.path}`,
        });
        if (result.code !== 0) {
            throw new BackupProviderError(`cannot read ${side.path}`, {
                kind: "command", host: describeTarget(side.server), operation: "verify the backup files", exitCode: result.code, stderr: result.stderr,
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

async function verify(inputs: BackupVerificationInputs): Promise<BackupVerificationState> {
    const summary = parseReport(inputs.report);
    const appliance = inputs.appliance ?? "the appliance";
    if (typeof summary === "string") {
        // check() refused this already; only a report that changed after check lands here.
        throw new BackupProviderError(`the backup report ${summary}`, {
            kind: "invalid", host: appliance, operation: "read the verification backup's report", hint: "report this as a bug",
        });
    }
    info(`BackupVerification: backup ${summary.id} on ${appliance} sent ${summary.files.length} files, ${summary.bytes} bytes, to ${summary.destination} in ${(summary.durationMs / 1000).toFixed(1)} s`);
    progress(`BackupVerification: looking for ${summary.files.length} files of backup ${summary.id} at ${describeSide(inputs.destination)}`);
    const missing = await missingFiles(inputs.destination, summary.files);
    if (missing.length > 0) {
        throw new BackupProviderError(`backup ${summary.id} reported ${summary.files.length} files sent to ${summary.destination}, but ${missing.length} are not at ${describeSide(inputs.destination)}: ${missing.join(", ")}`, {
            kind: "appliance", host: appliance, operation: "verify the backup landed",
            hint: "check the destination path and rights on the backup server, and the appliance's backup log (/var/log/orbinibkp.log); to run a new verification backup after the fix, `pulumi up --replace` the backup command (its URN ends in -verification-backup)",
        });
    }
    return { ...inputs, backupId: summary.id, files: summary.files, bytes: summary.bytes, durationMs: summary.durationMs, startedAt: summary.startedAt, sentTo: summary.destination };
}

export const backupVerificationProvider = {
    async check(_olds: unknown, news: unknown) {
        return checkInputs(BackupVerificationArgs, news);
    },
    async diff(_id: string, olds: unknown, news: unknown) {
        const decision = decideDiff(olds, news, { identity: [], ignore: Object.keys(Proof.shape) });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs: BackupVerificationInputs) {
        const state = await verify(inputs);
        return { id: `${state.appliance ?? "appliance"}/verification`, outs: state };
    },
    async read(id: string, props?: BackupVerificationState) {
        // A verification is an event, not a thing on a host: refresh keeps what it proved.
        return { id, props };
    },
    async update(_id: string, olds: unknown, news: unknown) {
        // Both bags are parsed, not trusted: what was proved is carried over from the old
        // state, which an earlier version may have written without a part of it (then the
        // files are looked for again).
        const after = BackupVerificationArgs.parse(fieldsOf(news));
        const proved = Proof.safeParse(olds);
        const before = fieldsOf(olds);
        if (proved.success && before.report === after.report && isDeepStrictEqual(before.destination, after.destination)) {
            // Only the appliance's description changed: keep what was proved, look at nothing.
            return { outs: { ...after, ...proved.data } };
        }
        return { outs: await verify(after) };
    },
    async delete() {
        // The backups stay at the destination: deleting a verification deletes no backup.
    },
} satisfies pulumi.dynamic.ResourceProvider<BackupVerificationInputs, BackupVerificationState>;

/**
 * Proves that a verification backup's files landed at the destination. `report` is
 * what `orbit backup create --json` printed; it checks again when the report or the
 * destination changes.
 *
 * @example
 * const run = new command.remote.Command("backup", { connection, create: "sudo -n orbit backup create --json" });
 * new BackupVerification("verify", {
 *     report: run.stdout,
 *     destination: { type: "rsync", server: backupAdminConnection, path: "/files/backup/senhasegura" },
 * });
 */
export class BackupVerification extends BackupResource {
    declare readonly backupId: pulumi.Output<string>;
    declare readonly files: pulumi.Output<string[]>;
    declare readonly bytes: pulumi.Output<number>;
    declare readonly durationMs: pulumi.Output<number>;
    declare readonly startedAt: pulumi.Output<string>;
    declare readonly sentTo: pulumi.Output<string>;

    constructor(name: string, args: Inputs<BackupVerificationArgs>, opts?: pulumi.CustomResourceOptions) {
        super("BackupVerification", "backupVerification", name,
            { ...args, backupId: undefined, files: undefined, bytes: undefined, durationMs: undefined, startedAt: undefined, sentTo: undefined },
            opts, ["destination"]);
    }
}
