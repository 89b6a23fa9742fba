// The peers benchmark's pure half: figures per tool and N, medians, slopes, ratios
// against ours in one stack, the detection table and the speed targets. No I/O,
// so tests/unit/bench/peers.test.ts covers it.
import { DRIFT_CASES, type DriftCaseId } from "./spec";

export const TOOLS = ["ours-1", "ours-4", "command", "ansible"] as const;
export type ToolId = typeof TOOLS[number];

export const TOOL_NAMES: Record<ToolId, string> = {
    "ours-1": "ours, 1 stack",
    "ours-4": "ours, 4 stacks (scripts/fleet)",
    command: "@pulumi/command",
    ansible: "Ansible",
};

export interface RunHandshakes {
    /** Logins per appliance in this run (the appliance user). */
    perAppliance: number[];
    /** Logins on the backup server as its admin user. */
    backupServer: number;
}

export interface RunFigure {
    what: "converge" | "noop" | "detect" | "repair";
    round?: number;
    ok: boolean;
    exitCode: number | null;
    wallMs: number;
    handshakes: RunHandshakes;
    /** Largest VmHWM of a provider process (ours: the Node dynamic provider; command: the plugin); undefined for Ansible. */
    providerPeakMiB?: number;
    /** Largest sum of VmRSS over the whole tree the run started, at one sample. */
    treePeakMiB?: number;
    /** Drift cases this run's output named (detect runs). */
    detected?: DriftCaseId[];
    /** What isConverged() still found after a converge or repair run. */
    notConverged?: string[];
    log?: string;
    note?: string;
}

export interface ToolResult {
    tool: ToolId;
    n: number;
    runs: RunFigure[];
    /** Per drift case: named by the detection run, and gone (by isConverged) after the repair run. */
    cases: Partial<Record<DriftCaseId, { detected: boolean; repaired: boolean }>>;
    errors: string[];
    skipped?: string;
}

export interface PeersSection {
    n: number;
    startedAt: string;
    sectionMs: number;
    labStartMs: number;
    tools: ToolResult[];
    errors: string[];
}

export function median(xs: number[]): number | undefined {
    if (xs.length === 0) return undefined;
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Least-squares fit y = a + b·x. */
export function fit(points: Array<[number, number]>): { fixed: number; slope: number; r2: number } | undefined {
    if (points.length < 2) return undefined;
    const n = points.length;
    const mx = points.reduce((s, [x]) => s + x, 0) / n;
    const my = points.reduce((s, [, y]) => s + y, 0) / n;
    const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
    if (sxx === 0) return undefined;
    const slope = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
    const fixed = my - slope * mx;
    const ssTot = points.reduce((s, [, y]) => s + (y - my) ** 2, 0);
    const ssRes = points.reduce((s, [x, y]) => s + (y - fixed - slope * x) ** 2, 0);
    return { fixed, slope, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}

/** The per-appliance cost between two N (ms per appliance), e.g. N=20 and N=100. */
export function marginal(a: [number, number], b: [number, number]): number | undefined {
    return b[0] === a[0] ? undefined : (b[1] - a[1]) / (b[0] - a[0]);
}

export interface ToolSummary {
    tool: ToolId;
    n: number;
    noopMs?: number;
    convergeMs?: number;
    /** Sum of both rounds' repair runs. */
    repairMs?: number;
    /** Sum of both rounds' detection runs. */
    detectMs?: number;
    /** Max handshakes per appliance, and on the backup server, over all runs of each kind. */
    handshakesPerAppliance: { noop?: number; converge?: number; repair?: number };
    handshakesBackupServer: { noop?: number; converge?: number; repair?: number };
    providerPeakMiB?: number;
    treePeakMiB?: number;
    detected: number;
    repaired: number;
    allOk: boolean;
    converged: boolean;
    skipped?: string;
}

const maxOf = (xs: Array<number | undefined>) => {
    const v = xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
    return v.length ? Math.max(...v) : undefined;
};
const sumOf = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) : undefined);

export function summarize(t: ToolResult): ToolSummary {
    const of = (what: RunFigure["what"]) => t.runs.filter((r) => r.what === what);
    const perHost = (runs: RunFigure[]) => maxOf(runs.map((r) => maxOf(r.handshakes.perAppliance)));
    const server = (runs: RunFigure[]) => maxOf(runs.map((r) => r.handshakes.backupServer));
    const cases = Object.values(t.cases);
    return {
        tool: t.tool, n: t.n, skipped: t.skipped,
        noopMs: median(of("noop").filter((r) => r.ok).map((r) => r.wallMs)),
        convergeMs: of("converge").find((r) => r.ok)?.wallMs,
        repairMs: of("repair").length > 0 && of("repair").every((r) => r.ok) ? sumOf(of("repair").map((r) => r.wallMs)) : undefined,
        detectMs: sumOf(of("detect").map((r) => r.wallMs)),
        handshakesPerAppliance: { noop: perHost(of("noop")), converge: perHost(of("converge")), repair: perHost(of("repair")) },
        handshakesBackupServer: { noop: server(of("noop")), converge: server(of("converge")), repair: server(of("repair")) },
        providerPeakMiB: maxOf(t.runs.map((r) => r.providerPeakMiB)),
        treePeakMiB: maxOf(t.runs.map((r) => r.treePeakMiB)),
        detected: cases.filter((c) => c?.detected).length,
        repaired: cases.filter((c) => c?.repaired).length,
        allOk: t.runs.length > 0 && t.runs.every((r) => r.ok || r.what === "detect"),
        converged: t.runs.filter((r) => r.what === "converge" || r.what === "repair").every((r) => (r.notConverged ?? []).length === 0),
    };
}

const s = (ms: number | undefined) => (ms === undefined ? "-" : (ms / 1000).toFixed(2));
const num = (x: number | undefined) => (x === undefined ? "-" : String(Math.round(x)));

/** ratio = tool ÷ ours-1 (above 1: ours is faster). */
export function ratio(tool: number | undefined, ours: number | undefined): string {
    if (tool === undefined || ours === undefined || ours === 0) return "-";
    return `${(tool / ours).toFixed(2)}×`;
}

function table(head: string[], rows: string[][]): string {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
    return [line(head), `|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 2)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...rows.map(line)].join("\n");
}

/** One table per N: the four tools, their figures and the ratios against ours in one stack. */
export function renderPerN(sections: PeersSection[]): string {
    const out: string[] = [];
    for (const sec of [...sections].sort((a, b) => a.n - b.n)) {
        const sums = sec.tools.map(summarize);
        const ours = sums.find((x) => x.tool === "ours-1");
        out.push(`N = ${sec.n} (section ${s(sec.sectionMs)} s)`);
        out.push(table(
            ["tool", "no-op check s", "÷ ours", "converge s", "÷ ours", "repair s (2 rounds)", "÷ ours", "handshakes/appliance noop/converge/repair", "backup server", "provider peak MiB", "tree peak MiB", "detected", "repaired", "verified"],
            sums.map((x) => x.skipped ? [TOOL_NAMES[x.tool], `skipped: ${x.skipped}`, "", "", "", "", "", "", "", "", "", "", "", ""] : [
                TOOL_NAMES[x.tool],
                s(x.noopMs), ratio(x.noopMs, ours?.noopMs),
                s(x.convergeMs), ratio(x.convergeMs, ours?.convergeMs),
                s(x.repairMs), ratio(x.repairMs, ours?.repairMs),
                `${num(x.handshakesPerAppliance.noop)}/${num(x.handshakesPerAppliance.converge)}/${num(x.handshakesPerAppliance.repair)}`,
                `${num(x.handshakesBackupServer.noop)}/${num(x.handshakesBackupServer.converge)}/${num(x.handshakesBackupServer.repair)}`,
                num(x.providerPeakMiB), num(x.treePeakMiB),
                `${x.detected}/8`, `${x.repaired}/8`, x.converged && x.allOk ? "yes" : "NO",
            ]),
        ));
        out.push("");
    }
    return out.join("\n");
}

/** Which of the 8 drift cases each tool detected and repaired (at the largest N that ran it). */
export function renderDetection(sections: PeersSection[]): string {
    const latest = new Map<ToolId, ToolResult>();
    for (const sec of [...sections].sort((a, b) => a.n - b.n)) for (const t of sec.tools) if (!t.skipped) latest.set(t.tool, t);
    const tools = TOOLS.filter((t) => latest.has(t));
    const mark = (c?: { detected: boolean; repaired: boolean }) => (c ? `${c.detected ? "detected" : "missed"} / ${c.repaired ? "repaired" : "NOT repaired"}` : "-");
    return table(["drift case", ...tools.map((t) => `${TOOL_NAMES[t]} (N=${latest.get(t)!.n})`)],
        DRIFT_CASES.map((c) => [`${c.id}: ${c.description}`, ...tools.map((t) => mark(latest.get(t)!.cases[c.id]))]));
}

export interface TargetCheck { target: string; result: string; met: boolean | undefined }

/** The targets of issue 15, checked against the figures (undefined: not measured in this run). */
export function checkTargets(sections: PeersSection[]): TargetCheck[] {
    const byN = new Map<number, ToolSummary[]>(sections.map((sec) => [sec.n, sec.tools.map(summarize)]));
    const ours = (n: number) => byN.get(n)?.find((x) => x.tool === "ours-1");
    const ns = [...byN.keys()].sort((a, b) => a - b);
    const out: TargetCheck[] = [];
    const n100 = ours(100)?.noopMs;
    out.push({ target: "N=100 one-stack no-op check ≤ 10 s", result: n100 === undefined ? "N=100 not run" : `${s(n100)} s`, met: n100 === undefined ? undefined : n100 <= 10_000 });
    const points = ns.map((n) => [n, ours(n)?.noopMs] as [number, number | undefined]).filter((p): p is [number, number] => p[1] !== undefined);
    const f = fit(points);
    const p20 = points.find((p) => p[0] === 20);
    const p100 = points.find((p) => p[0] === 100);
    const m = p20 && p100 ? marginal(p20, p100) : f?.slope;
    const how = p20 && p100 ? "between N=20 and N=100" : `least squares over N=${points.map((p) => p[0]).join(",")}`;
    out.push({
        target: "marginal no-op cost ≤ 50 ms per appliance",
        result: m === undefined ? "needs two N" : `${m.toFixed(0)} ms/appliance (${how})${f ? `; fit ${s(f.fixed)} s + ${f.slope.toFixed(0)} ms·N, R² ${f.r2.toFixed(3)}` : ""}`,
        met: m === undefined ? undefined : m <= 50,
    });
    // Per engine run: ours in one stack. In 4 stacks each stack is its own run with its own
    // pool, so the backup server sees one login per stack (shown, not judged).
    const hs = ns.map((n) => ours(n)).filter((x): x is ToolSummary => !!x && !x.skipped);
    const worst = maxOf(hs.flatMap((x) => [x.handshakesPerAppliance.noop, x.handshakesPerAppliance.converge, x.handshakesPerAppliance.repair, x.handshakesBackupServer.noop, x.handshakesBackupServer.converge, x.handshakesBackupServer.repair]));
    const four = ns.map((n) => byN.get(n)!.find((x) => x.tool === "ours-4")).filter((x): x is ToolSummary => !!x && !x.skipped);
    const fourAppliance = maxOf(four.flatMap((x) => [x.handshakesPerAppliance.noop, x.handshakesPerAppliance.converge, x.handshakesPerAppliance.repair]));
    const fourServer = maxOf(four.flatMap((x) => [x.handshakesBackupServer.noop, x.handshakesBackupServer.converge, x.handshakesBackupServer.repair]));
    out.push({
        target: "≤ 1 SSH handshake per host per run (ours, one stack)",
        result: worst === undefined ? "-" : `at most ${worst} per host in any run${fourAppliance === undefined ? "" : `; 4 stacks: at most ${fourAppliance} per appliance, ${fourServer} on the backup server (one per stack)`}`,
        met: worst === undefined ? undefined : worst <= 1,
    });
    const peak = maxOf(ns.map((n) => ours(n)?.providerPeakMiB));
    const peakAt = ns.find((n) => ours(n)?.providerPeakMiB === peak);
    out.push({ target: "provider process peak ≤ 250 MiB", result: peak === undefined ? "-" : `${num(peak)} MiB (N=${peakAt})`, met: peak === undefined ? undefined : peak <= 250 });
    const slower: string[] = [];
    let compared = 0;
    for (const n of ns) {
        const o = ours(n)?.noopMs;
        for (const peer of ["command", "ansible"] as const) {
            const p = byN.get(n)!.find((x) => x.tool === peer);
            if (o === undefined || p?.noopMs === undefined) continue;
            compared++;
            if (o >= p.noopMs) slower.push(`N=${n}: ${s(o)} s vs ${TOOL_NAMES[peer]} ${s(p.noopMs)} s`);
        }
    }
    out.push({
        target: "no-op check faster than both peers at every N",
        result: compared === 0 ? "no peer measured" : slower.length ? `not at ${slower.join("; ")}` : `faster in all ${compared} comparisons`,
        met: compared === 0 ? undefined : slower.length === 0,
    });
    const det = ns.length ? ours(ns[ns.length - 1])?.detected : undefined;
    out.push({ target: "8 of 8 drift cases detected (ours)", result: det === undefined ? "-" : `${det}/8`, met: det === undefined ? undefined : det === 8 });
    return out;
}

export function renderTargets(checks: TargetCheck[]): string {
    return table(["target", "result", "met"], checks.map((c) => [c.target, c.result, c.met === undefined ? "n/a" : c.met ? "yes" : "NO"]));
}

export function renderPeers(sections: PeersSection[]): string {
    return [
        "Peers: no-op drift check, converge from scratch, repair of the 8 drift cases (÷ ours: the tool's time over ours in one stack; above 1× ours is faster)",
        "",
        renderPerN(sections),
        "Drift cases: named by the tool's check / gone after its repair run (verified on the hosts by isConverged)",
        renderDetection(sections),
        "",
        "Targets (issue 15)",
        renderTargets(checkTargets(sections)),
    ].join("\n");
}
