// The pure half of scripts/fleet: the command line, the K-at-a-time scheduler,
// how each stack's outcome is read from scripts/drift's and scripts/restore-drill's
// JSON, the merged exit code, the summary table and the JSON summary. No engine,
// no SSH, no process: tests/unit/fleet.test.ts.
import * as path from "path";

export const COMMANDS = ["preview", "up", "drift", "restore-drill"] as const;
export type FleetCommand = typeof COMMANDS[number];

export const EXIT = { ok: 0, error: 1, drift: 2 } as const;
export type ExitCode = 0 | 1 | 2;

/**
 * Two stacks at once by default: each runs a `pulumi` CLI, its language host and
 * the dynamic-provider host, which together keep one core of this 2-core machine busy.
 */
export const DEFAULT_CONCURRENCY = 2;

export class UsageError extends Error {}

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

/** Parses the command line; throws a UsageError naming the bad argument. */
export function parseFleetArgs(argv: readonly string[], repo: string): FleetArgs | "help" {
    if (argv.some((a, i) => (a === "-h" || a === "--help") && !argv.slice(0, i).includes("--"))) return "help";
    const [command, ...rest] = argv;
    if (command === undefined) throw new UsageError(`a command is needed: one of ${COMMANDS.join(", ")}`);
    if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}: use one of ${COMMANDS.join(", ")}`);
    const out: FleetArgs = { command: command as FleetCommand, all: false, cwd: repo, concurrency: DEFAULT_CONCURRENCY, json: false, passthrough: [] };
    for (let i = 0; i < rest.length; i++) {
        const a = rest[i];
        const value = (flag: string): string => {
            const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : rest[++i];
            if (v === undefined || v === "") throw new UsageError(`${flag} needs a value`);
            return v;
        };
        if (a === "--") { out.passthrough = rest.slice(i + 1); break; }
        else if (a === "--json") out.json = true;
        else if (a === "--all") out.all = true;
        else if (a === "--stacks" || a.startsWith("--stacks=")) out.stacks = parseStackList(value("--stacks"));
        else if (a === "--cwd" || a.startsWith("--cwd=")) out.cwd = path.resolve(value("--cwd"));
        else if (a === "--concurrency" || a === "-j" || a.startsWith("--concurrency=")) out.concurrency = parseConcurrency(value("--concurrency"));
        else throw new UsageError(`unknown argument ${JSON.stringify(a)}${a.startsWith("--") ? " (arguments for scripts/drift or scripts/restore-drill go after --)" : ""}`);
    }
    if (out.all && out.stacks) throw new UsageError("--stacks and --all exclude each other: name the stacks, or take them all");
    if (!out.all && !out.stacks) throw new UsageError("which stacks? give --stacks a,b or --all");
    if (out.passthrough.length > 0 && (out.command === "preview" || out.command === "up")) {
        throw new UsageError(`arguments after -- go to scripts/drift or scripts/restore-drill; ${out.command} takes none`);
    }
    const own = out.passthrough.find((a) => OWN_FLAGS.test(a));
    if (own) throw new UsageError(`${own} after -- is set by scripts/fleet for each stack; leave it out`);
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
