// The pure half of scripts/fleet: the command line, the K-at-a-time scheduler,
// how each stack's outcome is read from scripts/drift's and scripts/restore-drill's
// JSON, the merged exit code, the summary table and the JSON summary. No engine,
// no SSH, no process: tests/unit/fleet.test.ts.
import * as path from "path";
import { type FlagSpecs, UsageError, parseFlags } from "../shared/args";

export const COMMANDS = ["preview", "up", "drift", "restore-drill"] as const;
export type FleetCommand = typeof COMMANDS[number];

export const EXIT = { ok: 0, error: 1, drift: 2 } as const;
export type ExitCode = 0 | 1 | 2;

/**
 * Two stacks at once by default: each runs a `pulumi` CLI, its language host and
 * the dynamic-provider host, which together keep one core of this 2-core machine busy.
 */
export const DEFAULT_CONCURRENCY = 2;

export interface FleetArgs {
    command: FleetCommand;
    /** The stacks named by --stacks, in that order; undefined with --all. */
    stacks?: string[];
    all: boolean;
    cwd: string;
    concurrency: number;
    json: boolean;
    /** Arguments after `--`, passed to every scripts/drift or scripts/restore-drill run. */
    passthrough: string[];
}

const STACK_NAME = /^[A-Za-z0-9_.\/-]+$/;
// The fleet sets these itself, per stack; a second value would make the child's answer ambiguous.
const OWN_FLAGS = /^(--stack|-s|--cwd|-C|--json)(=|$)/;

export const USAGE = `usage: senhasegura-backup fleet <preview|up|drift|restore-drill> (--stacks a,b | --all) [--cwd DIR] [--concurrency K] [--json] [-- ARGS]

Runs one command over several stacks of the project, K at a time, and ends with
one summary table (stack, appliances, result, drift findings, time).

  preview         pulumi preview --refresh of each stack (nothing is changed)
  up              pulumi up --refresh of each stack
  drift           senhasegura-backup drift of each stack
  restore-drill   senhasegura-backup restore-drill of each stack

  --stacks a,b         the stacks, comma-separated
  --all                every stack of the project (pulumi stack ls)
  --cwd DIR            the Pulumi project directory (default: the nearest directory up
                       from here that holds a Pulumi.yaml)
  --concurrency K      stacks at once, 1-64 (default: ${DEFAULT_CONCURRENCY}, for a 2-core machine)
  --json               print the merged summary as JSON (each stack's own report inside)
  -- ARGS              passed to every drift or restore-drill run,
                       e.g. -- --no-backup-age

Progress goes to stderr. One stack's failure never stops the others.
Exit codes: 0 all fine, 2 drift or a backup not restorable in some stack,
1 an error in any stack (it outranks 2: part of the fleet is then unknown).
The passphrase comes from PULUMI_CONFIG_PASSPHRASE (or _FILE), never from arguments.`;

/** The flags of `senhasegura-backup fleet`; the command comes first, and arguments for each stack's tool after `--`. */
export const FLEET_FLAGS = {
    stacks: { type: "string" },
    all: { type: "boolean" },
    cwd: { type: "string", short: "C" },
    concurrency: { type: "string", short: "j" },
    json: { type: "boolean" },
} as const satisfies FlagSpecs;

/** Parses the command line; throws a UsageError naming the bad argument. `project` is --cwd's default. */
export function parseFleetArgs(argv: readonly string[], project: string): FleetArgs | "help" {
    let parsed;
    try {
        parsed = parseFlags(argv, FLEET_FLAGS, { positionals: true, rest: true });
    } catch (err) {
        // An unknown flag here is often one meant for each stack's drift or restore-drill.
        if (err instanceof UsageError && /^unknown argument "--/.test(err.message)) {
            throw new UsageError(`${err.message} (arguments for drift or restore-drill go after --)`);
        }
        throw err;
    }
    if (parsed === "help") return "help";
    const [command, ...extra] = parsed.positionals;
    if (command === undefined) throw new UsageError(`a command is needed: one of ${COMMANDS.join(", ")}`);
    if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}: use one of ${COMMANDS.join(", ")}`);
    if (extra.length > 0) throw new UsageError(`unknown argument ${JSON.stringify(extra[0])}`);
    const v = parsed.values;
    const out: FleetArgs = {
        command: command as FleetCommand,
        all: v.all ?? false,
        ...(v.stacks !== undefined ? { stacks: parseStackList(v.stacks) } : {}),
        cwd: v.cwd !== undefined ? path.resolve(v.cwd) : project,
        concurrency: v.concurrency !== undefined ? parseConcurrency(v.concurrency) : DEFAULT_CONCURRENCY,
        json: v.json ?? false,
        passthrough: parsed.rest,
    };
    if (out.all && out.stacks) throw new UsageError("--stacks and --all exclude each other: name the stacks, or take them all");
    if (!out.all && !out.stacks) throw new UsageError("which stacks? give --stacks a,b or --all");
    if (out.passthrough.length > 0 && (out.command === "preview" || out.command === "up")) {
        throw new UsageError(`arguments after -- go to drift or restore-drill; ${out.command} takes none`);
    }
    const own = out.passthrough.find((a) => OWN_FLAGS.test(a));
    if (own) throw new UsageError(`${own} after -- is set by fleet for each stack; leave it out`);
    return out;
}

function parseStackList(text: string): string[] {
    const names = text.split(",").map((s) => s.trim());
    const bad = names.find((n) => !STACK_NAME.test(n));
    if (bad !== undefined) throw new UsageError(`--stacks: ${JSON.stringify(bad)} is not a stack name (comma-separated names, e.g. --stacks site-a,site-b)`);
    const seen = new Set<string>();
    for (const n of names) {
        if (seen.has(n)) throw new UsageError(`--stacks names ${n} twice`);
        seen.add(n);
    }
    return names;
}

function parseConcurrency(text: string): number {
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(n >= 1 && n <= 64)) throw new UsageError(`--concurrency must be a whole number from 1 to 64, but ${JSON.stringify(text)} was provided`);
    return n;
}

/**
 * Runs `work` over every item, at most `limit` at a time, starting the next as
 * soon as one ends; results keep the items' order. A rejected item becomes
 * `onError`'s value, so one failure never stops the others.
 */
export async function runLimited<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>, onError: (item: T, err: unknown) => R): Promise<R[]> {
    const results = new Array<R>(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            try {
                results[i] = await work(items[i], i);
            } catch (err) {
                results[i] = onError(items[i], err);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
    return results;
}

/** One stack's outcome, as the summary shows it. */
export interface StackResult {
    stack: string;
    exitCode: ExitCode;
    /** A few words: "no drift", "drift", "restorable", "not restorable", "3 to update", "error"… */
    result: string;
    /** Appliances in the stack's state; undefined when it could not be read. */
    appliances?: number;
    /** Drift findings, or not-restorable files for the drill; undefined for preview and up, or when unknown. */
    findings?: number;
    durationMs: number;
    /** Why the stack failed, in one line (exit code 1). */
    error?: string;
    /** The child's own JSON report (drift, restore-drill), kept whole for --json. */
    report?: unknown;
}

/** The fleet's exit code: an error anywhere (1) outranks drift (2), since part of the fleet is then unknown. */
export function mergeExitCodes(codes: readonly ExitCode[]): ExitCode {
    if (codes.includes(EXIT.error)) return EXIT.error;
    if (codes.includes(EXIT.drift)) return EXIT.drift;
    return EXIT.ok;
}

function parseReport(stdout: string): any {
    try {
        return JSON.parse(stdout);
    } catch {
        return undefined;
    }
}

function firstLine(lines: unknown, fallback: string): string {
    if (Array.isArray(lines) && lines.length > 0) return lines.map(String).join(" ").replace(/\s+/g, " ").trim();
    return fallback;
}

/** A scripts/drift --json run (exit code and stdout) as a stack result. */
export function driftResult(stack: string, code: number | null, stdout: string, stderrTail: string, durationMs: number): StackResult {
    const report = parseReport(stdout);
    const findings = Array.isArray(report?.findings) ? report.findings.length : undefined;
    if (code === EXIT.ok && report) return { stack, exitCode: EXIT.ok, result: "no drift", findings, durationMs, report };
    if (code === EXIT.drift && report) return { stack, exitCode: EXIT.drift, result: "drift", findings, durationMs, report };
    const why = report?.error ? firstLine(report.error, "") : stderrTail || `scripts/drift exited ${code ?? "on a signal"} without a report`;
    return { stack, exitCode: EXIT.error, result: "error", findings, durationMs, error: why, report };
}

/** A scripts/restore-drill --json run as a stack result; findings are the files found wrong. */
export function drillResult(stack: string, code: number | null, stdout: string, stderrTail: string, durationMs: number): StackResult {
    const report = parseReport(stdout);
    const appliances = Array.isArray(report?.appliances) ? report.appliances : undefined;
    const appliancesCount = appliances?.length;
    const findings = appliances?.reduce((n: number, a: any) => n + (Array.isArray(a?.problems) ? a.problems.length : 0), 0);
    if (code === EXIT.ok && report) return { stack, exitCode: EXIT.ok, result: "restorable", appliances: appliancesCount, findings, durationMs, report };
    if (code === EXIT.drift && report) return { stack, exitCode: EXIT.drift, result: "not restorable", appliances: appliancesCount, findings, durationMs, report };
    const errored = appliances?.filter((a: any) => a?.verdict === "error").map((a: any) => `${a.name}: ${a.error}`);
    const why = report?.error ? firstLine(report.error, "") : errored?.length ? errored.join("; ") : stderrTail || `scripts/restore-drill exited ${code ?? "on a signal"} without a report`;
    return { stack, exitCode: EXIT.error, result: "error", appliances: appliancesCount, findings, durationMs, error: why, report };
}

/** The engine's change summary of a preview or an up, in a few words. */
export function changesResult(command: "preview" | "up", summary: Record<string, number | undefined> | undefined): string {
    const entries = Object.entries(summary ?? {}).filter(([op, n]) => op !== "same" && n);
    if (entries.length === 0) return command === "up" ? "up to date" : "no changes";
    const words = entries.map(([op, n]) => `${n} to ${op}`).join(", ");
    return command === "up" ? words.replace(/ to /g, " ").replace(/(\d+) (\w+)/g, (_, n, op) => `${n} ${pastTense(op)}`) : words;
}

function pastTense(op: string): string {
    return ({ create: "created", update: "updated", delete: "deleted", replace: "replaced" } as Record<string, string>)[op] ?? op;
}

/**
 * Appliances in a stack's state (what `pulumi stack export` prints): one BackupPolicy
 * per appliance, whether the program uses the ApplianceBackup component or not.
 */
export function countAppliances(deployment: unknown): number {
    const resources = (deployment as { deployment?: { resources?: Array<{ type?: string }> } })?.deployment?.resources ?? [];
    return resources.filter((r) => r.type === "pulumi-nodejs:dynamic/senhasegura:BackupPolicy").length;
}

const dash = (n: number | undefined) => (n === undefined ? "-" : String(n));
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The summary table, one row per stack, then the verdict and the exit code. */
export function formatTable(command: FleetCommand, results: readonly StackResult[], totalMs: number): string {
    const head = ["stack", "appliances", "result", command === "restore-drill" ? "problems" : "drift findings", "time"];
    const rows = results.map((r) => [r.stack, dash(r.appliances), r.result, dash(r.findings), seconds(r.durationMs)]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 1 || i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
    const out = [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
    for (const r of results.filter((x) => x.error)) out.push(`${r.stack}: ${r.error}`);
    const code = mergeExitCodes(results.map((r) => r.exitCode));
    const count = (c: ExitCode) => results.filter((r) => r.exitCode === c).length;
    const bad = command === "restore-drill" ? "not restorable" : "drifted";
    out.push("", `${command} of ${results.length} stack(s) in ${seconds(totalMs)}: ${count(EXIT.ok)} ok, ${count(EXIT.drift)} ${bad}, ${count(EXIT.error)} failed; exit ${code}`);
    return out.join("\n") + "\n";
}

/** The merged machine-readable summary (--json). */
export function formatSummaryJson(command: FleetCommand, results: readonly StackResult[], totalMs: number): string {
    const exitCode = mergeExitCodes(results.map((r) => r.exitCode));
    return JSON.stringify({
        command, exitCode, durationMs: totalMs,
        stacks: results.map((r) => ({
            stack: r.stack, exitCode: r.exitCode, result: r.result, appliances: r.appliances ?? null, findings: r.findings ?? null,
            durationMs: r.durationMs, ...(r.error ? { error: r.error } : {}), ...(r.report === undefined ? {} : { report: r.report }),
        })),
    }, null, 2) + "\n";
}
