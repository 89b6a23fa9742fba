// The decisions of the restore drill (scripts/restore-drill), pure: its arguments,
// which files of a backup to look at, what a size, a digest, a listing or an opened
// archive says about them, the verdict per appliance, the exit code and the report.
// cli/restore-drill/run.ts does the I/O; tests/unit/cli/restore-drill/plan.test.ts checks
// all of this without a host.
import * as path from "path";
import { z } from "zod";
import { type FlagSpecs, parseFlags } from "../shared/args";
import { BACKUP_LAYOUT, Manifest, type ManifestFile, belongsTo, manifestPath } from "../../providers/formats/backup-format";

/** 0 restorable, 2 not restorable, 1 error: the drift command's convention (docs/gitops.md). */
export const EXIT = { restorable: 0, error: 1, notRestorable: 2 } as const;

export const USAGE = `usage: senhasegura-backup restore-drill [--stack NAME] [--cwd DIR] [--appliance NAME] [--json]

Proves, for each appliance of the stack, that the newest backup at its destination
can be restored: every file of its manifest is there with its size and SHA-256,
no file of the backup is missing from the manifest, the secrets archive decrypts
with the stack's master password, and every database dump and session archive
decrypts, gunzips and lists the tar members the manifest counts. On a vendor
appliance (no manifest), the newest run's dumps of mt4 and senhasegura each
open with the stack's master key (AES Crypt, both HMACs), gunzip and end with
mysqldump's completion line; each secrets item opens; the newest day of session
files lists. Nothing is written to disk; nothing is changed on any host.

  --stack NAME       the stack (default: dev)
  --cwd DIR          the Pulumi project directory (default: the nearest directory up from
                     here that holds a Pulumi.yaml)
  --appliance NAME   only this ApplianceBackup (its name in the program)
  --json             print the report as JSON instead of text

Exit codes: 0 restorable, 2 not restorable (each file and why), 1 error (a host
unreachable, no backup found, a bad argument).
The stack's passphrase comes from PULUMI_CONFIG_PASSPHRASE (or _FILE), never from arguments;
the master password and the master key come from the stack's state.`;

export interface DrillArgs { stack: string; cwd: string; appliance?: string; json: boolean }

/** The flags of `senhasegura-backup restore-drill`. */
export const DRILL_FLAGS = {
    stack: { type: "string", short: "s" },
    cwd: { type: "string", short: "C" },
    appliance: { type: "string" },
    json: { type: "boolean" },
} as const satisfies FlagSpecs;

/** Parses the command line; throws a UsageError naming the bad argument. `project` is --cwd's default. */
export function parseArgs(argv: readonly string[], project: string): DrillArgs | "help" {
    const parsed = parseFlags(argv, DRILL_FLAGS);
    if (parsed === "help") return "help";
    const v = parsed.values;
    return {
        stack: v.stack ?? "dev",
        cwd: v.cwd !== undefined ? path.resolve(v.cwd) : project,
        ...(v.appliance !== undefined ? { appliance: v.appliance } : {}),
        json: v.json ?? false,
    };
}

// ------------------------------------------------------------------ what to read

/** A file that is not as the manifest says, and why, in words. */
export interface Problem { file: string; reason: string }

/**
 * Reads a manifest's text. Anything but a valid manifest of backup `id` is a problem
 * of the manifest file itself: the backup cannot be checked, so it is not restorable.
 */
export function parseManifest(text: string, id: string, file: string): Manifest | Problem {
    let body: unknown;
    try {
        body = JSON.parse(text);
    } catch {
        return { file, reason: "is not JSON, so the backup's files and their digests are unknown" };
    }
    const parsed = Manifest.safeParse(body);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return { file, reason: `is not a backup manifest: ${issue.path.join(".") || "(top)"} ${issue.message}` };
    }
    if (parsed.data.id !== id) return { file, reason: `names backup ${parsed.data.id}, but its file name says ${id}` };
    const seen = new Set<string>();
    for (const f of parsed.data.files) {
        if (seen.has(f.path)) return { file, reason: `lists ${f.path} twice` };
        seen.add(f.path);
        if (!belongsTo(f.path, id)) return { file, reason: `lists ${f.path}, whose path does not carry the backup's id ${id}` };
    }
    return parsed.data;
}

/**
 * The directories to list to find files that belong to the backup but are not in its
 * manifest: each directory that holds one of its files and, where that directory is
 * named after the backup, the one above it (a `<id>-extra` beside `<id>/` belongs too).
 */
export function directoriesToList(manifest: Manifest, manifests: string = BACKUP_LAYOUT.manifests): string[] {
    const dirs = new Set<string>([manifests]);
    for (const f of manifest.files) {
        const dir = path.posix.dirname(f.path);
        dirs.add(dir);
        if (belongsTo(path.posix.basename(dir), manifest.id)) dirs.add(path.posix.dirname(dir));
    }
    return [...dirs].filter((d) => d !== ".").sort();
}

// ------------------------------------------------------------------ what the destination holds

export interface Digest { size: number; sha256: string }

/**
 * The manifest against the digest orbit reported for it when `pulumi up` ran the
 * verification backup, so a manifest rewritten since (with files to match) is caught for
 * that backup. `matches` is null when the newest backup is not the one the state knows
 * (a scheduled backup ran since) or the report had no manifest: nothing to compare with.
 */
export function checkManifestDigest(file: string, id: string, found: Digest, reported: { backupId: string; manifest?: Digest } | undefined): { matches: boolean | null; problem?: Problem } {
    if (reported?.manifest === undefined || reported.backupId !== id) return { matches: null };
    if (found.sha256 === reported.manifest.sha256 && found.size === reported.manifest.size) return { matches: true };
    return {
        matches: false,
        problem: {
            file,
            reason: `is not the manifest orbit reported when pulumi up verified backup ${id}: it is ${exactBytes(found.size)} with SHA-256 ${found.sha256}, `
                + `the report said ${exactBytes(reported.manifest.size)} with ${reported.manifest.sha256}: the manifest was rewritten`,
        },
    };
}

/** Each manifest file against what the destination holds: missing, truncated, grown or changed. */
export function checkDigests(manifest: Manifest, found: ReadonlyMap<string, Digest | undefined>): Problem[] {
    const problems: Problem[] = [];
    for (const f of manifest.files) {
        const d = found.get(f.path);
        if (d === undefined) {
            problems.push({ file: f.path, reason: `is missing: the manifest lists it (${exactBytes(f.size)}), the destination has no such file` });
        } else if (d.size < f.size) {
            problems.push({ file: f.path, reason: `is truncated: ${exactBytes(d.size)}, the manifest says ${exactBytes(f.size)}` });
        } else if (d.size > f.size) {
            problems.push({ file: f.path, reason: `is ${exactBytes(d.size)}, longer than the ${exactBytes(f.size)} the manifest says` });
        } else if (d.sha256 !== f.sha256) {
            problems.push({ file: f.path, reason: `is changed: its SHA-256 is ${d.sha256}, the manifest says ${f.sha256} (same size, other bytes)` });
        }
    }
    return problems;
}

/** Files the destination holds that belong to the backup and that its manifest does not list. */
export function extraFiles(manifest: Manifest, listed: readonly string[], manifests: string = BACKUP_LAYOUT.manifests): Problem[] {
    const known = new Set([...manifest.files.map((f) => f.path), manifestPath(manifest.id, manifests)]);
    return [...new Set(listed)].filter((f) => belongsTo(f, manifest.id) && !known.has(f)).sort().map((file) => ({
        file,
        reason: `belongs to backup ${manifest.id} (its path carries the id) but is not in the manifest: it was added after the backup, or by someone else`,
    }));
}

// ------------------------------------------------------------------ what the files hold

/** What opening a file found: the members of a tar archive or the entries of the secrets document, or why it would not open. */
export type Opened = { entries: number } | { failure: string };

/** The secrets document: `{"secrets": […]}`. */
const SecretsDocument = z.object({ secrets: z.array(z.unknown()) });

/** The number of entries of the decrypted secrets document, or why it is not one. The plaintext is not kept. */
export function countSecrets(plaintext: Buffer): Opened {
    let body: unknown;
    try {
        body = JSON.parse(plaintext.toString("utf8"));
    } catch {
        return { failure: "decrypts, but what it holds is not JSON" };
    }
    const parsed = SecretsDocument.safeParse(body);
    return parsed.success ? { entries: parsed.data.secrets.length } : { failure: "decrypts, but what it holds is not a secrets document {\"secrets\": […]}" };
}

/** How a file opened against what its manifest entry counts. */
export function checkOpened(file: ManifestFile, opened: Opened): Problem | undefined {
    if ("failure" in opened) return { file: file.path, reason: opened.failure };
    if (opened.entries === file.entries) return undefined;
    const what = file.role === "secrets" ? "secrets" : "tar members";
    return { file: file.path, reason: `holds ${opened.entries} ${what}, the manifest counts ${file.entries}` };
}

/**
 * Why an envelope does not open when its digest matched the manifest: the bytes are the
 * ones the appliance wrote, so the key is not the one it used.
 */
export function wrongKeyReason(digestMatched: boolean): string {
    return digestMatched
        ? "does not decrypt with the stack's master password (AES-256-GCM authentication failed), although its size and SHA-256 match the manifest: "
            + "the appliance made this backup with another master password"
        : "does not decrypt with the stack's master password (AES-256-GCM authentication failed): the password is wrong, or the file was changed";
}

/** What a successfully opened file showed, for the report. */
export function openedDetail(file: ManifestFile, entries: number): string {
    const decrypts = file.encrypted ? "decrypts with the master password, " : "not encrypted, ";
    if (file.role === "secrets") return `${decrypts}${entries} secret${entries === 1 ? "" : "s"} as the manifest counts`;
    return `${decrypts}gunzips, ${entries} tar member${entries === 1 ? "" : "s"} as the manifest counts`;
}

// ------------------------------------------------------------------ verdicts and the report

export type Verdict = "restorable" | "not-restorable" | "error";

export interface FileResult {
    path: string;
    kind: ManifestFile["kind"];
    role: ManifestFile["role"];
    size: number;
    encrypted: boolean;
    /** What the manifest counts (contract); a vendor backup has no manifest. */
    entries?: number;
    ok: boolean;
    /** What was proved, or the first reason the file is not restorable. */
    detail: string;
}

export interface ApplianceResult {
    /** The ApplianceBackup's name in the program. */
    name: string;
    /** How its backups are kept: a contract appliance's manifest, or a vendor appliance's layout (no manifest). */
    flavor?: "contract" | "vendor";
    /** user@host:port of the appliance. */
    appliance?: string;
    /** Where the backup was read, e.g. bkpadmin@backup.example.com:22:/files/backup/senhasegura. */
    destination?: string;
    backupId?: string;
    createdAt?: string;
    hostname?: string;
    verdict: Verdict;
    /** Why the drill could not be run (verdict error). */
    error?: string;
    /**
     * The manifest's digest against the one orbit reported at the last `pulumi up`: true
     * when they match, false when not (a problem), null when the newest backup came later.
     */
    manifestMatchesReport?: boolean | null;
    /** Files that are not as the manifest says, and files the manifest does not list. */
    problems: Problem[];
    files: FileResult[];
    durationMs: number;
}

/** An ApplianceResult with its fields in the order the JSON report shows them. */
export function applianceResult(r: Omit<ApplianceResult, "problems" | "files"> & Partial<Pick<ApplianceResult, "problems" | "files">>): ApplianceResult {
    return {
        name: r.name, flavor: r.flavor ?? "contract", appliance: r.appliance, destination: r.destination, backupId: r.backupId, createdAt: r.createdAt, hostname: r.hostname,
        verdict: r.verdict, error: r.error, manifestMatchesReport: r.manifestMatchesReport, problems: r.problems ?? [], files: r.files ?? [], durationMs: r.durationMs,
    };
}

export interface DrillReport {
    stack: string;
    exitCode: number;
    restorable: boolean;
    appliances: ApplianceResult[];
}

/** The verdict for one appliance once its files were checked. */
export function verdictOf(problems: readonly Problem[]): Verdict {
    return problems.length === 0 ? "restorable" : "not-restorable";
}

/**
 * The files of a backup as the report lists them: each manifest file with what was
 * proved about it, or its first problem. Files that were not opened because their digest
 * was already wrong show only that.
 */
export function fileResults(manifest: Manifest, problems: readonly Problem[], proved: ReadonlyMap<string, string>): FileResult[] {
    return manifest.files.map((f) => {
        const problem = problems.find((p) => p.file === f.path);
        return {
            path: f.path, kind: f.kind, role: f.role, size: f.size, encrypted: f.encrypted, entries: f.entries,
            ok: problem === undefined && proved.has(f.path),
            detail: problem?.reason ?? proved.get(f.path) ?? "not opened",
        };
    });
}

/**
 * The exit code of the whole drill. A backup proven not restorable (2) says more than an
 * appliance the drill could not reach (1), and both are in the report; 0 only when every
 * appliance's newest backup was proven restorable.
 */
export function exitCodeOf(results: readonly ApplianceResult[]): number {
    if (results.length === 0) return EXIT.error;
    if (results.some((r) => r.verdict === "not-restorable")) return EXIT.notRestorable;
    if (results.some((r) => r.verdict === "error")) return EXIT.error;
    return EXIT.restorable;
}

export function buildReport(stack: string, results: ApplianceResult[]): DrillReport {
    const exitCode = exitCodeOf(results);
    return { stack, exitCode, restorable: exitCode === EXIT.restorable, appliances: results };
}

/** The advice for what the drill found, in the order of the problems. */
export function whatToDo(result: ApplianceResult): string[] {
    if (result.verdict === "error") return [];
    const out: string[] = [];
    if (result.problems.some((p) => /another master key/.test(p.reason))) {
        out.push("The stack's masterKey is not the key this backup was made under: after a new master key ceremony, backups made before it "
            + "open only with the key of then. Give that key to the drill's stack (or a stack kept for it), or run a backup now and drill that; "
            + "keep every old master key as long as backups made under it are kept.");
    }
    if (result.problems.some((p) => /another master password/.test(p.reason))) {
        out.push("The stack's masterPassword is not the one this backup was made with. If it changed since, run a backup now "
            + "(`sudo orbit backup create` on the appliance, or change the backup kinds and `pulumi up`) and run the drill again; "
            + "keep the old master password as long as backups made with it are kept.");
    }
    if (result.problems.some((p) => /in Orbit Web/.test(p.reason))) {
        out.push("A kind the program declares on has nothing at the destination: turn it on in Orbit Web (Settings ➔ Backup), "
            + "where no documented command can set it, run a backup (`sudo orbit backup create`), and run the drill again.");
    }
    if (result.problems.some((p) => !/master password|another master key|in Orbit Web/.test(p.reason))) {
        out.push("Files at the destination differ from what the appliance wrote: run a backup now, and find out who or what "
            + "changed the destination (its access log, another writer, a failing disk); older backups may still be intact.");
    }
    return out;
}

/** A size for people: bytes up to 10 KiB, then KiB, MiB, GiB. */
export function bytes(n: number): string {
    if (n < 10 * 1024) return exactBytes(n);
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let v = n / 1024;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A size to the byte, for sizes compared with the manifest's. */
export function exactBytes(n: number): string {
    return `${n} byte${n === 1 ? "" : "s"}`;
}

function seconds(ms: number): string {
    return `${(ms / 1000).toFixed(1)} s`;
}

export function formatText(report: DrillReport): string {
    const n = report.appliances.length;
    const count = (v: Verdict) => report.appliances.filter((r) => r.verdict === v).length;
    const summary = [
        count("restorable") ? `${count("restorable")} restorable` : "",
        count("not-restorable") ? `${count("not-restorable")} NOT restorable` : "",
        count("error") ? `${count("error")} not checked (error)` : "",
    ].filter(Boolean).join(", ");
    const lines = [`Restore drill of stack ${report.stack}: ${n} appliance${n === 1 ? "" : "s"}${summary ? `, ${summary}` : ""}.`];
    for (const r of report.appliances) {
        const who = `${r.name}${r.appliance ? ` (${r.appliance})` : ""}`;
        if (r.verdict === "error") {
            lines.push(`${who}: the drill could not run: ${r.error ?? "unknown error"}`);
            continue;
        }
        const backup = `the newest backup ${r.backupId}${r.createdAt ? ` (made ${r.createdAt}${r.hostname ? ` by ${r.hostname}` : ""})` : ""}`;
        const where = r.destination ? ` at ${r.destination}` : "";
        const total = r.files.reduce((s, f) => s + f.size, 0);
        if (r.verdict === "restorable" && r.flavor === "vendor") {
            lines.push(`${who}: ${backup}${where} is restorable: ${r.files.length} files, ${bytes(total)}, each opened (no manifest on a vendor appliance: the files are the newest run's); checked in ${seconds(r.durationMs)}.`);
            for (const f of r.files) lines.push(`  ok  ${f.path}: ${f.detail}`);
        } else if (r.verdict === "restorable") {
            const manifest = r.manifestMatchesReport ? "; the manifest is the one orbit reported to pulumi up" : "";
            lines.push(`${who}: ${backup}${where} is restorable: ${r.files.length} files, ${bytes(total)}, each with its size and SHA-256, nothing extra${manifest}; checked in ${seconds(r.durationMs)}.`);
            for (const f of r.files) lines.push(`  ok  ${f.path}: ${f.detail}`);
        } else {
            lines.push(`${who}: ${backup}${where} is NOT restorable (${r.problems.length} problem${r.problems.length === 1 ? "" : "s"}):`);
            for (const p of r.problems) lines.push(`  BAD ${p.file}: ${p.reason}`);
            for (const f of r.files.filter((x) => x.ok)) lines.push(`  ok  ${f.path}: ${f.detail}`);
            for (const advice of whatToDo(r)) lines.push(`  What to do: ${advice}`);
        }
    }
    return `${lines.join("\n")}\n`;
}

export function formatJson(report: DrillReport): string {
    return `${JSON.stringify(report, null, 2)}\n`;
}
