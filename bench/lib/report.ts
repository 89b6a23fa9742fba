// Turns the sections' raw figures into the summary (medians, ratios, linear fits,
// targets) and the readable tables printed on stdout.
import type { SectionResult } from "../section";
import type { PhaseResult } from "./pulumi";
import type { RawRun } from "./raw";

export interface PhaseFigures {
    runs: number;
    wallS: number;
    wallMinS: number;
    wallMaxS: number;
    perApplianceS: number;
    ok: boolean;
    /** Max and min handshakes on any one appliance during the phase. */
    handshakesPerApplianceMax: number;
    handshakesPerApplianceMin: number;
    handshakesBackupServerAdmin: number;
    /** Logins made by the appliances themselves on the backup server (rsync test, backup pushes). */
    applianceInitiatedLogins: number;
    providerProcesses: number;
    /** Which provider processes ran: dynamic-provider (ours), command-provider (pulumi-resource-command). */
    providerKinds: string[];
    providerPeakMiB: number;
    providerCpuS: number;
    programPeakMiB: number;
    /** Step generation (check + diff once the program runs): calls, span, most at once, time per call. */
    stepGenCalls: number;
    stepGenSpanS: number;
    stepGenMaxConcurrent: number;
    stepGenPerCallMs: number;
    /** The refresh reads: calls, span, most at once. */
    readCalls: number;
    readSpanS: number;
    readMaxConcurrent: number;
    /** From the last call before the first check to that check: the program starting. */
    programGapS: number;
    providerStartS: number;
    moduleLoadS: number;
    /** The baseline's commands from its program (bench/lib/command-trace.ts): how many, and when. */
    commandCount: number;
    commandsFirstRegisteredS: number;
    commandsSpanS: number;
    commandsTailS: number;
    rsyncUnreachableWarnings: number;
    machineCpuBusyPct: number;
}

export interface Fit { a: number; b: number; r2: number }

export interface NFigures {
    n: number;
    phases: Record<string, PhaseFigures>;
    /** ours' no-op refresh ÷ the baseline's re-read (up with a new runId), medians; speedup is its inverse. */
    refreshRatio?: number;
    refreshSpeedup?: number;
    providerBytes: { ours: Record<string, { count: number; max: number; min: number }>; baseline: Record<string, { count: number; max: number; min: number }>; maxOurs: number };
    stateBytesPerResource: { ours: number; baseline: number };
    /** The reads without the engine: ours over the pool, the baseline's commands on one new ssh2 connection each. */
    raw?: { pooledS: number; perCommandS: number; pooledHandshakesPerAppliance: number; perCommandHandshakesPerAppliance: number; ratio: number; speedup: number; pooledCommandsPerAppliance: number; perCommandCommandsPerAppliance: number };
    verification?: { wallS: number; succeeded: number; failed: number; retryWallS?: number; landedAfterRetry: number; meanBackupS: number; applianceHandshakesMax: number; backupServerAdmin: number; pushLogins: number; errors: string[] };
    errors: string[];
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function phaseFigures(runs: PhaseResult[], n: number): PhaseFigures {
    // The median run by wall time stands for the phase; min and max are kept.
    const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
    const p = sorted[Math.floor((sorted.length - 1) / 2)];
    const sg = p.trace.timeline?.stepGeneration;
    const rd = p.trace.timeline?.reads;
    const hs = runs.flatMap((r) => r.handshakes.perAppliance);
    const cmds = p.trace.timeline?.commands;
    return {
        runs: runs.length,
        wallS: r2(p.wallMs / 1000), wallMinS: r2(sorted[0].wallMs / 1000), wallMaxS: r2(sorted[sorted.length - 1].wallMs / 1000),
        perApplianceS: r3(p.wallMs / 1000 / n),
        ok: runs.every((r) => r.ok),
        handshakesPerApplianceMax: Math.max(...hs), handshakesPerApplianceMin: Math.min(...hs),
        handshakesBackupServerAdmin: Math.max(...runs.map((r) => r.handshakes.backupServerAdmin)),
        applianceInitiatedLogins: p.handshakes.backupServerFromAppliances,
        providerProcesses: p.provider.processes,
        providerKinds: [...new Set(runs.flatMap((r) => r.provider.kinds ?? []))],
        providerPeakMiB: Math.max(...runs.map((r) => r.provider.peakHwmMiB)),
        providerCpuS: r2(p.provider.cpuMs / 1000),
        programPeakMiB: Math.max(...runs.map((r) => r.program.peakHwmMiB)),
        stepGenCalls: sg?.calls ?? 0, stepGenSpanS: r2((sg?.spanMs ?? 0) / 1000), stepGenMaxConcurrent: sg?.maxConcurrent ?? 0, stepGenPerCallMs: r2(sg?.perCallMs ?? 0),
        readCalls: rd?.calls ?? 0, readSpanS: r2((rd?.spanMs ?? 0) / 1000), readMaxConcurrent: rd?.maxConcurrent ?? 0,
        programGapS: r2((p.trace.timeline?.programGapMs ?? 0) / 1000),
        providerStartS: r2((p.trace.providerStartMs ?? 0) / 1000), moduleLoadS: r2(p.trace.moduleLoadMs / 1000),
        commandCount: cmds?.count ?? 0, commandsFirstRegisteredS: r2((cmds?.firstRegisteredMs ?? 0) / 1000),
        commandsSpanS: r2((cmds?.spanMs ?? 0) / 1000), commandsTailS: r2((cmds?.tailMs ?? 0) / 1000),
        rsyncUnreachableWarnings: p.rsyncUnreachableWarnings,
        machineCpuBusyPct: p.machineCpuBusyPct,
    };
}

function sizes(bytes: Record<string, number[]>) {
    return Object.fromEntries(Object.entries(bytes).map(([t, xs]) => [t, { count: xs.length, max: Math.max(...xs), min: Math.min(...xs) }]));
}

function rawMedian(runs: RawRun[]): RawRun {
    const s = [...runs].sort((a, b) => a.wallMs - b.wallMs);
    return s[Math.floor((s.length - 1) / 2)];
}

export function figuresFor(s: SectionResult): NFigures {
    const phases: Record<string, PhaseFigures> = {};
    for (const [name, runs] of Object.entries(s.phases)) if (runs.length) phases[name] = phaseFigures(runs, s.n);
    const out: NFigures = {
        n: s.n, phases,
        providerBytes: { ours: sizes(s.providerBytes.ours), baseline: sizes(s.providerBytes.baseline), maxOurs: Math.max(0, ...Object.values(s.providerBytes.ours).flat()) },
        stateBytesPerResource: {
            ours: s.resources.ours ? Math.round(s.stateBytes.ours / s.resources.ours) : 0,
            baseline: s.resources.baseline ? Math.round(s.stateBytes.baseline / s.resources.baseline) : 0,
        },
        errors: s.errors,
    };
    const ours = s.phases.refresh;
    const base = s.phases["baseline re-read"];
    if (ours?.length && base?.length) {
        out.refreshRatio = r3(median(ours.map((p) => p.wallMs)) / median(base.map((p) => p.wallMs)));
        out.refreshSpeedup = r2(1 / out.refreshRatio);
    }
    if (s.raw.pooled.length && s.raw.perCommand?.length) {
        const p = rawMedian(s.raw.pooled);
        const pc = rawMedian(s.raw.perCommand);
        out.raw = {
            pooledS: r2(p.wallMs / 1000), perCommandS: r2(pc.wallMs / 1000),
            pooledHandshakesPerAppliance: Math.max(...p.handshakes.perAppliance), perCommandHandshakesPerAppliance: Math.max(...pc.handshakes.perAppliance),
            ratio: r3(p.wallMs / pc.wallMs), speedup: r2(pc.wallMs / p.wallMs),
            pooledCommandsPerAppliance: r2((p.poolCommands ?? 0) / s.n), perCommandCommandsPerAppliance: r2(pc.operations / s.n),
        };
    }
    if (s.verification) {
        const v = s.verification;
        out.verification = {
            wallS: r2(v.phase.wallMs / 1000), succeeded: v.succeeded, failed: v.failed,
            retryWallS: v.retry ? r2(v.retry.wallMs / 1000) : undefined, landedAfterRetry: v.landedAfterRetry ?? v.succeeded,
            meanBackupS: v.backupDurationsMs.length ? r2(v.backupDurationsMs.reduce((a, b) => a + b, 0) / v.backupDurationsMs.length / 1000) : 0,
            applianceHandshakesMax: Math.max(...v.phase.handshakes.perAppliance), backupServerAdmin: v.phase.handshakes.backupServerAdmin,
            pushLogins: v.phase.handshakes.backupServerFromAppliances, errors: v.errors,
        };
    }
    return out;
}

/** Least squares y = a + b·x. */
export function linearFit(points: Array<[number, number]>): Fit | undefined {
    if (points.length < 2) return undefined;
    const n = points.length;
    const mx = points.reduce((a, [x]) => a + x, 0) / n;
    const my = points.reduce((a, [, y]) => a + y, 0) / n;
    const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
    const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
    if (sxx === 0) return undefined;
    const b = sxy / sxx;
    const a = my - b * mx;
    const ssTot = points.reduce((acc, [, y]) => acc + (y - my) ** 2, 0);
    const ssRes = points.reduce((acc, [x, y]) => acc + (y - (a + b * x)) ** 2, 0);
    return { a: r2(a), b: r3(b), r2: ssTot === 0 ? 1 : r3(1 - ssRes / ssTot) };
}

export const PHASE_ORDER = ["up", "up retry", "baseline up", "baseline up retry", "refresh", "baseline re-read", "baseline refresh", "destroy", "destroy retry", "baseline destroy", "baseline destroy retry", "verify up", "verify retry"];
const LABEL: Record<string, string> = {
    "up": "pulumi up",
    "refresh": "preview --refresh (no-op)",
    "baseline re-read": "BASELINE re-read: up, new runId",
    "baseline refresh": "BASELINE preview --refresh (no read)",
    "destroy": "pulumi destroy",
    "baseline up": "BASELINE up",
    "baseline destroy": "BASELINE destroy",
    "verify up": "verification up (apart)",
    "verify retry": "  failed verifications again, --parallel 1",
    "up retry": "  pulumi up again (the first failed)",
    "destroy retry": "  pulumi destroy again (the first failed)",
    "baseline up retry": "  BASELINE up again",
    "baseline destroy retry": "  BASELINE destroy again",
};

function table(head: string[], rows: string[][], right: boolean[] = []): string {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) => cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ").trimEnd();
    return [line(head), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n");
}

export interface Report {
    meta: Record<string, unknown>;
    figures: NFigures[];
    fits: Record<string, Fit | undefined>;
    targets: Array<{ target: string; met: boolean | null; detail: string }>;
}

export function buildReport(meta: Record<string, unknown>, sections: SectionResult[]): Report {
    const figures = sections.map(figuresFor).sort((a, b) => a.n - b.n);
    const fits: Record<string, Fit | undefined> = {};
    for (const name of PHASE_ORDER.filter((p) => !p.endsWith(" retry"))) {
        // A phase that failed and was run again costs both runs.
        const pts = figures.filter((f) => f.phases[name]).map((f) => [f.n, f.phases[name].wallS + (name !== "verify up" ? f.phases[`${name} retry`]?.wallS ?? 0 : 0)] as [number, number]);
        fits[name] = linearFit(pts);
    }
    const targets: Report["targets"] = [];
    const engineRuns = figures.flatMap((f) => ["up", "up retry", "refresh", "destroy", "destroy retry"].filter((p) => f.phases[p]).map((p) => ({ n: f.n, p, fig: f.phases[p] })));
    const worst = engineRuns.reduce((m, r) => Math.max(m, r.fig.handshakesPerApplianceMax, r.fig.handshakesBackupServerAdmin), 0);
    targets.push({
        target: "1 SSH handshake per host per engine run (our providers)",
        met: engineRuns.length ? worst <= 1 : null,
        detail: engineRuns.map((r) => `N=${r.n} ${r.p}: ${r.fig.handshakesPerApplianceMin === r.fig.handshakesPerApplianceMax ? r.fig.handshakesPerApplianceMax : `${r.fig.handshakesPerApplianceMin}-${r.fig.handshakesPerApplianceMax}`}/appliance, ${r.fig.handshakesBackupServerAdmin} backup server`).join("; "),
    });
    const f20 = figures.find((f) => f.n === 20) ?? figures[figures.length - 1];
    if (f20?.refreshSpeedup !== undefined) {
        targets.push({
            target: `no-op refresh of ${f20.n} appliances at least 5x faster than the baseline's re-read`,
            met: f20.n === 20 ? f20.refreshSpeedup >= 5 : null,
            detail: `${f20.refreshSpeedup}x (ours ${f20.phases.refresh.wallS} s, baseline ${f20.phases["baseline re-read"].wallS} s)`,
        });
    }
    const maxProvider = Math.max(0, ...figures.map((f) => f.providerBytes.maxOurs));
    targets.push({ target: "__provider at most about 10 KB per resource", met: figures.length ? maxProvider <= 10_240 : null, detail: `largest ${maxProvider} bytes` });
    for (const name of ["up", "refresh", "destroy"]) {
        const fit = fits[name];
        if (!fit) continue;
        const retried = figures.filter((f) => f.phases[`${name} retry`]).map((f) => f.n);
        targets.push({
            target: `${LABEL[name]}: cost linear in N`,
            met: fit.r2 >= 0.97 && retried.length === 0,
            detail: `wall = ${fit.a} s + ${fit.b} s x N (R^2 ${fit.r2})${retried.length ? `; failed on the first run at N=${retried.join(",")}, both runs counted` : ""}`,
        });
    }
    return { meta, figures, fits, targets };
}

export function renderReport(report: Report): string {
    const out: string[] = [];
    const m = report.meta as any;
    out.push(`senhasegura-backup fleet benchmark, ${m.date}`);
    out.push(`pulumi ${m.pulumiVersion}, node ${m.nodeVersion}, ${m.cpus} CPUs, ${m.memGiB} GiB; --parallel ${m.parallel ?? "default (8 on this machine)"}; no-op refreshes: median of ${m.repeat}`);
    out.push(`BASELINE = @pulumi/command remote.Command${m.commandVersion ? ` ${m.commandVersion}` : ""}, one per read (the reads our providers do on refresh), each on its own SSH connection.`);
    out.push(`remote.Command has no read, so its preview --refresh reads nothing; its re-read is pulumi up with a new runId in every command's`);
    out.push(`triggers, which replaces every command and so runs each read again. Ours: a no-op preview --refresh.`);
    out.push("");
    const sumRows: string[][] = [];
    for (const f of report.figures) {
        const ph = f.phases;
        const wall = (p?: PhaseFigures) => !p ? "-" : `${p.wallS.toFixed(2)}${p.ok ? "" : " FAILED"}`;
        const spread = (p?: PhaseFigures) => !p ? "-" : p.runs > 1 ? `${wall(p)} (${p.wallMinS.toFixed(1)}-${p.wallMaxS.toFixed(1)})` : wall(p);
        const hs = (p?: PhaseFigures) => !p ? "-" : p.handshakesPerApplianceMin === p.handshakesPerApplianceMax ? `${p.handshakesPerApplianceMax}` : `${p.handshakesPerApplianceMin}-${p.handshakesPerApplianceMax}`;
        const mib = (p?: PhaseFigures) => !p || p.providerPeakMiB === 0 ? "-" : p.providerPeakMiB.toFixed(0);
        const peak = (...ps: Array<PhaseFigures | undefined>) => Math.max(0, ...ps.filter((p): p is PhaseFigures => !!p).map((p) => p.providerPeakMiB));
        const baseBytes = Object.values(f.providerBytes.baseline).map((b) => b.max);
        sumRows.push([
            String(f.n), spread(ph.refresh), spread(ph["baseline re-read"]),
            f.refreshRatio === undefined ? "-" : `${f.refreshRatio.toFixed(2)} (${f.refreshRatio <= 1 ? `ours ${f.refreshSpeedup!.toFixed(2)}x faster` : `ours ${f.refreshRatio.toFixed(2)}x slower`})`,
            `${hs(ph.refresh)} / ${hs(ph["baseline re-read"])}`,
            `${ph.refresh?.handshakesBackupServerAdmin ?? "-"} / ${ph["baseline re-read"]?.handshakesBackupServerAdmin ?? "-"}`,
            `${wall(ph.up)} / ${wall(ph["baseline up"])}`, `${wall(ph.destroy)} / ${wall(ph["baseline destroy"])}`,
            `${mib(ph.refresh)} / ${mib(ph["baseline re-read"])}`,
            `${peak(ph.up, ph.refresh, ph.destroy).toFixed(0)} / ${peak(ph["baseline up"], ph["baseline re-read"], ph["baseline destroy"]).toFixed(0)}`,
            `${f.providerBytes.maxOurs} / ${baseBytes.length ? Math.max(...baseBytes) : "none"}`,
        ]);
    }
    out.push("Summary (medians; ours / baseline):");
    out.push(table(["N", "ours no-op refresh s", "baseline re-read s", "ours/baseline", "SSH/appl.", "SSH bkp", "up s", "destroy s",
        "prov. MiB, refresh/re-read", "prov. MiB, any phase", "__provider B/resource"], sumRows, [true, true, true, false, true, true, true, true, true, true, true]));
    out.push("SSH/appl. = handshakes on each appliance's sshd in one refresh or re-read; SSH bkp = handshakes as bkpadmin on the backup server.");
    out.push("prov. MiB = peak VmHWM of the provider process: the Node dynamic provider (ours), pulumi-resource-command (the baseline);");
    out.push("- = no provider process was caught by the 100 ms sampler (the baseline's destroy starts the plugin only to delete nothing).");
    out.push("__provider = what each of our dynamic resources records to find its provider (a require of senhasegura-backup/provider);");
    out.push("a remote.Command records none (its provider is a plugin).");
    out.push("");
    const rows: string[][] = [];
    for (const f of report.figures) {
        for (const name of PHASE_ORDER) {
            const p = f.phases[name];
            if (!p) continue;
            const hs = p.handshakesPerApplianceMin === p.handshakesPerApplianceMax ? `${p.handshakesPerApplianceMax}` : `${p.handshakesPerApplianceMin}-${p.handshakesPerApplianceMax}`;
            rows.push([
                String(f.n), LABEL[name] + (p.ok ? "" : " FAILED"),
                p.runs > 1 ? `${p.wallS.toFixed(2)} (${p.wallMinS.toFixed(1)}-${p.wallMaxS.toFixed(1)})` : p.wallS.toFixed(2),
                p.perApplianceS.toFixed(2), hs, String(p.handshakesBackupServerAdmin), String(p.applianceInitiatedLogins),
                p.providerPeakMiB ? p.providerPeakMiB.toFixed(0) : "-",
                p.readCalls ? `${p.readCalls} in ${p.readSpanS.toFixed(2)} (x${p.readMaxConcurrent})`
                    : p.commandCount && name.startsWith("baseline") && name !== "baseline refresh" ? `${p.commandCount} commands in ${p.commandsSpanS.toFixed(2)}` : "-",
                p.stepGenCalls ? `${p.stepGenCalls} in ${p.stepGenSpanS.toFixed(2)} (x${p.stepGenMaxConcurrent})` : "-",
            ]);
            if (name === "baseline re-read" && f.refreshRatio !== undefined) {
                rows.push([String(f.n), "  ours / baseline", `${f.refreshRatio.toFixed(3)}`, "", "", "", "", "",
                    f.refreshRatio <= 1 ? `ours ${f.refreshSpeedup!.toFixed(2)}x faster` : `ours ${f.refreshRatio.toFixed(2)}x slower`, ""]);
            }
        }
    }
    out.push(table(
        ["N", "phase", "wall s (min-max)", "s/appl.", "SSH/appl.", "SSH bkp", "appl.->bkp", "prov. MiB", "reads: calls in s (conc.)", "check+diff: calls in s (conc.)"],
        rows, [true, false, true, true, true, true, true, true, false, false]));
    out.push("SSH/appl. = handshakes on each appliance's sshd; SSH bkp = handshakes as bkpadmin on the backup server; appl.->bkp = logins the");
    out.push("appliances make themselves on the backup server (orbit rsync test, backup pushes: not Pulumi's connections). prov. MiB = peak VmHWM of");
    out.push("the provider process (Node dynamic provider for ours, pulumi-resource-command for the baseline). reads = refresh reads; for the");
    out.push("baseline's up and re-read, its commands from the first registered to the last done (seen from its program). check+diff = step");
    out.push("generation once the program runs (up: interleaved with the creates and deletes it waits for). conc. = most calls in flight at once.");
    out.push("");

    const brRows: string[][] = [];
    for (const f of report.figures) {
        for (const name of ["refresh"]) {
            const p = f.phases[name];
            if (!p) continue;
            const rest = p.wallS - p.providerStartS - p.moduleLoadS - p.readSpanS - p.programGapS - p.stepGenSpanS;
            brRows.push([String(f.n), LABEL[name], p.wallS.toFixed(2), p.providerStartS.toFixed(2), p.moduleLoadS.toFixed(2), p.readSpanS.toFixed(2),
                p.programGapS.toFixed(2), `${p.stepGenSpanS.toFixed(2)} (${p.stepGenPerCallMs.toFixed(1)} ms/call)`, rest.toFixed(2),
                `${Math.round((100 * (p.wallS - p.readSpanS)) / p.wallS)}%`]);
        }
    }
    if (brRows.length) {
        out.push("Where the no-op refresh's time goes (median run, seconds, from the provider trace):");
        out.push(table(["N", "phase", "wall", "CLI -> provider up", "provider modules", "reads", "program start-up", "check+diff, one at a time", "rest", "not reads"],
            brRows, [true, false, true, true, true, true, true, true, true, true]));
        out.push("program start-up = from the last refresh read to the first check: language host, node, ts-node (the program's index.ts),");
        out.push("@pulumi/pulumi and the compiled senhasegura-backup package.");
        out.push("rest = CLI start before the provider, snapshot writes, plugin shutdown.");
        out.push("");
    }
    const reRows = report.figures.filter((f) => f.phases["baseline re-read"]?.commandCount).map((f) => {
        const p = f.phases["baseline re-read"];
        return [String(f.n), p.wallS.toFixed(2), p.commandsFirstRegisteredS.toFixed(2), `${p.commandsSpanS.toFixed(2)} (${p.commandCount} commands)`, p.commandsTailS.toFixed(2)];
    });
    if (reRows.length) {
        out.push("Where the baseline's re-read goes (median run, seconds, from its program's view of its commands):");
        out.push(table(["N", "wall", "to the first command registered", "to the last command done", "after"], reRows, [true, true, true, true, true]));
        out.push("to the first command registered = CLI, language host, node, ts-node, @pulumi/pulumi and @pulumi/command, the program.");
        out.push("to the last command done = step generation and every replacement's create (each runs its read on a new connection).");
        out.push("after = deleting the replaced commands (no delete command: nothing runs), snapshot writes, plugin shutdown.");
        out.push("");
    }

    const rawRows = report.figures.filter((f) => f.raw).map((f) => [
        String(f.n), f.raw!.pooledS.toFixed(2), f.raw!.perCommandS.toFixed(2), f.raw!.ratio.toFixed(3), `${f.raw!.speedup.toFixed(2)}x`,
        `${f.raw!.pooledCommandsPerAppliance} / ${f.raw!.perCommandCommandsPerAppliance}`,
        `${f.raw!.pooledHandshakesPerAppliance} / ${f.raw!.perCommandHandshakesPerAppliance}`,
        f.phases.refresh ? `${Math.round((100 * (f.phases.refresh.wallS - f.raw!.pooledS)) / f.phases.refresh.wallS)}%` : "-",
    ]);
    if (rawRows.length) {
        out.push("The same refresh reads without the engine (all at once, in one process; median). Per command = the baseline's commands,");
        out.push("each on a new ssh2 connection: remote.Command's connection pattern in Node, not the Go plugin itself.");
        out.push(table(["N", "ours s", "per command s", "ours/per command", "speed-up", "commands per appliance (ours / per command)", "handshakes per appliance (ours / per command)", "engine share of our refresh"], rawRows, [true, true, true, true, true, true, true, true]));
        out.push("");
    }

    const sizeRows = report.figures.flatMap((f) => Object.entries(f.providerBytes.ours).map(([t, s]) => [String(f.n), t, String(s.count), s.min === s.max ? String(s.max) : `${s.min}-${s.max}`, String(f.stateBytesPerResource.ours)]))
        .concat(report.figures.flatMap((f) => Object.entries(f.providerBytes.baseline).map(([t, s]) => [String(f.n), `BASELINE ${t}`, String(s.count), s.min === s.max ? String(s.max) : `${s.min}-${s.max}`, String(f.stateBytesPerResource.baseline)])));
    for (const f of report.figures) {
        if (Object.keys(f.providerBytes.baseline).length === 0 && f.stateBytesPerResource.baseline) {
            sizeRows.push([String(f.n), "BASELINE command:remote:Command", "-", "none (a plugin resource)", String(f.stateBytesPerResource.baseline)]);
        }
    }
    if (sizeRows.length) {
        out.push("__provider per resource in the exported state (bytes):");
        out.push(table(["N", "type", "resources", "__provider bytes", "state bytes/resource"], sizeRows, [true, false, true, true, true]));
        out.push("");
    }

    const vRows = report.figures.filter((f) => f.verification).map((f) => {
        const v = f.verification!;
        const first = v.errors.find((e) => /rrsync|failed: /.test(e)) ?? v.errors[0] ?? "";
        const err = /rrsync error: (.*?)( \(exit code \d+\))?$/.exec(first)?.[1] ?? first.replace(/^.*?error: /, "");
        return [String(f.n), v.wallS.toFixed(2), `${v.succeeded}/${f.n}`, v.retryWallS !== undefined ? `${v.retryWallS.toFixed(2)} -> ${v.landedAfterRetry}/${f.n}` : "-",
            v.meanBackupS.toFixed(2), String(v.applianceHandshakesMax), String(v.backupServerAdmin), String(v.pushLogins), err.slice(0, 110)];
    });
    if (vRows.length) {
        out.push("Verification backups (turned off in the timed phases; measured apart as one more up with verify=true):");
        out.push(table(["N", "wall s", "landed", "failed ones again, --parallel 1: s -> landed", "orbit backup s (mean)", "SSH/appl.", "SSH bkp", "appliance pushes", "why some failed"], vRows, [true, true, true, true, true, true, true, true, false]));
        out.push("");
    }

    const unit = (m.unitCosts ?? []) as Array<{ what: string; medianMs: number; meanMs: number; machineCpuMsPerOp: number }>;
    if (unit.length) {
        out.push("Unit costs, one operation at a time on appliance-0 (ms):");
        out.push(table(["operation", "median", "mean", "machine CPU/op (shared machine: rough)"], unit.map((u) => [u.what, u.medianMs.toFixed(1), u.meanMs.toFixed(1), u.machineCpuMsPerOp.toFixed(0)]), [false, true, true, true]));
        out.push("");
    }
    if (m.coldStart) {
        out.push(`What loading our providers adds to a fresh dynamic-provider process (require("senhasegura-backup/provider"), compiled JavaScript,`);
        out.push(`@pulumi/pulumi already loaded): ${m.coldStart.medianMs} ms (median of ${m.coldStart.runs})` + (m.coldStart.baseMiB ? `, and peak memory from ${m.coldStart.baseMiB} MiB (node + @pulumi/pulumi) to ${m.coldStart.withProvidersMiB} MiB.` : "."), "");
    }

    const fitRows = Object.entries(report.fits).filter(([, f]) => f).map(([name, f]) => [LABEL[name], f!.a.toFixed(2), f!.b.toFixed(3), f!.r2.toFixed(3)]);
    if (fitRows.length) {
        out.push("Linear fit over N (wall = fixed + per appliance x N; a phase that failed and ran again counts both runs):");
        out.push(table(["phase", "fixed s", "per appliance s", "R^2"], fitRows, [false, true, true, true]));
        out.push("");
    }
    out.push("Targets:");
    for (const t of report.targets) out.push(`  [${t.met === null ? "n/a" : t.met ? "MET" : "NOT MET"}] ${t.target}: ${t.detail}`);
    for (const f of report.figures) for (const e of f.errors) out.push(`  error at N=${f.n}: ${e.split("\n")[0]}`);
    return out.join("\n");
}
