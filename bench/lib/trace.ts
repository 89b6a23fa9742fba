// Reads the JSON lines bench/lib/provider-probe.js wrote inside the dynamic-provider
// process(es) and turns them into where the time went: start-up, module loads, the
// provider calls by method, how many ran at once, and the SSH pool's own counters.
// For the baseline, whose provider is a Go plugin the probe cannot enter, the lines
// bench/lib/command-trace.ts wrote in its program: when each command was registered
// and when the engine reported it done.
import * as fs from "fs";

interface CallEvent { pid: number; kind: "call"; provider: string; method: string; s: number; e: number; ok: boolean }

export interface MethodSummary {
    count: number;
    failed: number;
    /** Sum of the time spent inside the provider method. */
    insideMs: number;
    /** From the first call's start to the last call's end. */
    spanMs: number;
    /** The most calls of this method in flight at once. */
    maxConcurrent: number;
}

export interface TraceSummary {
    providerProcesses: number;
    /** Phase start to the first dynamic-provider process coming up. */
    providerStartMs?: number;
    /** Time to load the provider implementations the first time (the package entry, zod and ssh2 included). */
    moduleLoadMs: number;
    /** Phase start to the first provider call, and the last call's end to the phase end. */
    firstCallMs?: number;
    tailMs?: number;
    methods: Record<string, MethodSummary>;
    /** check and diff together: the engine's step generation, which Node dynamic providers get one call at a time. */
    checkDiff: MethodSummary & { meanGapMs: number };
    /**
     * The phase's timeline, from the provider calls: the refresh reads; then the gap until
     * the first check (the program starting: language host, node, ts-node for the program's
     * own index.ts, @pulumi/pulumi, the compiled package); then step generation, check and
     * diff, which the engine hands a Node dynamic provider one call at a time.
     */
    timeline: {
        reads?: { calls: number; startMs: number; spanMs: number; maxConcurrent: number };
        programGapMs?: number;
        stepGeneration?: { calls: number; startMs: number; spanMs: number; maxConcurrent: number; perCallMs: number };
        /**
         * The baseline's remote.Commands, seen from its program: phase start to the first
         * registration (CLI, language host, node, ts-node, @pulumi/pulumi and @pulumi/command,
         * the program), then to the last command the engine reported done (step generation and
         * every create, so every read, at --parallel), then to the phase end (the replaced
         * commands' deletes, which run nothing, the last snapshot, plugin shutdown).
         */
        commands?: { count: number; firstRegisteredMs: number; spanMs: number; tailMs: number };
    };
    /** sshPool.snapshot() at the end, summed over provider processes. */
    pool: { handshakes: Record<string, number>; commands: Record<string, number> };
}

function maxConcurrent(calls: { s: number; e: number }[]): number {
    const edges: Array<[number, number]> = [];
    for (const c of calls) { edges.push([c.s, 1]); edges.push([c.e, -1]); }
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let max = 0;
    for (const [, d] of edges) { now += d; max = Math.max(max, now); }
    return max;
}

function summarize(calls: CallEvent[]): MethodSummary {
    if (calls.length === 0) return { count: 0, failed: 0, insideMs: 0, spanMs: 0, maxConcurrent: 0 };
    return {
        count: calls.length,
        failed: calls.filter((c) => !c.ok).length,
        insideMs: calls.reduce((a, c) => a + (c.e - c.s), 0),
        spanMs: Math.max(...calls.map((c) => c.e)) - Math.min(...calls.map((c) => c.s)),
        maxConcurrent: maxConcurrent(calls),
    };
}

export function readTrace(file: string, phaseStart: number, phaseEnd: number): TraceSummary {
    const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
    const events = lines.map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).filter(Boolean);
    const starts = events.filter((e) => e.kind === "start");
    const loads = events.filter((e) => e.kind === "load");
    const calls = events.filter((e) => e.kind === "call") as CallEvent[];
    const methods: Record<string, MethodSummary> = {};
    for (const m of [...new Set(calls.map((c) => c.method))]) methods[m] = summarize(calls.filter((c) => c.method === m));
    const cd = calls.filter((c) => c.method === "check" || c.method === "diff").sort((a, b) => a.s - b.s);
    const gaps = cd.slice(1).map((c, i) => Math.max(0, c.s - cd[i].e));
    const pool: TraceSummary["pool"] = { handshakes: {}, commands: {} };
    const lastPool = new Map<number, any>();
    for (const e of events) if (e.kind === "pool") lastPool.set(e.pid, e.snapshot);
    for (const snap of lastPool.values()) {
        for (const [k, v] of Object.entries<number>(snap.handshakes ?? {})) pool.handshakes[k] = (pool.handshakes[k] ?? 0) + v;
        for (const [k, v] of Object.entries<number>(snap.commands ?? {})) pool.commands[k] = (pool.commands[k] ?? 0) + v;
    }
    // Module loads nest (a module requiring another); count only the outermost intervals.
    const outer = loads.filter((l) => !loads.some((o) => o !== l && o.pid === l.pid && o.s <= l.s && o.e >= l.e && (o.s < l.s || o.e > l.e)));
    const timeline: TraceSummary["timeline"] = {};
    const reads = calls.filter((c) => c.method === "read");
    if (reads.length) {
        const r = summarize(reads);
        timeline.reads = { calls: r.count, startMs: Math.min(...reads.map((c) => c.s)) - phaseStart, spanMs: r.spanMs, maxConcurrent: r.maxConcurrent };
    }
    const firstCheck = cd.find((c) => c.method === "check");
    if (firstCheck) {
        const gen = cd.filter((c) => c.s >= firstCheck.s);
        const g = summarize(gen);
        timeline.stepGeneration = { calls: g.count, startMs: firstCheck.s - phaseStart, spanMs: g.spanMs, maxConcurrent: g.maxConcurrent, perCallMs: g.count ? g.spanMs / g.count : 0 };
        const before = calls.filter((c) => c.e <= firstCheck.s).map((c) => c.e);
        const providerUp = starts.length ? Math.min(...starts.map((x) => x.t)) : phaseStart;
        timeline.programGapMs = firstCheck.s - (before.length ? Math.max(...before) : providerUp);
    }
    const commands = events.filter((e) => e.kind === "command" && e.known);
    if (commands.length) {
        const first = Math.min(...commands.map((c) => c.s));
        const last = Math.max(...commands.map((c) => c.e));
        timeline.commands = { count: commands.length, firstRegisteredMs: first - phaseStart, spanMs: last - first, tailMs: phaseEnd - last };
    }
    return {
        timeline,
        providerProcesses: new Set(starts.map((s) => s.pid)).size,
        providerStartMs: starts.length ? Math.min(...starts.map((s) => s.t)) - phaseStart : undefined,
        moduleLoadMs: outer.reduce((a, l) => a + (l.e - l.s), 0),
        firstCallMs: calls.length ? Math.min(...calls.map((c) => c.s)) - phaseStart : undefined,
        tailMs: calls.length ? phaseEnd - Math.max(...calls.map((c) => c.e)) : undefined,
        methods,
        checkDiff: { ...summarize(cd), meanGapMs: gaps.length ? gaps.reduce((a, b) => a + b, 0) / gaps.length : 0 },
        pool,
    };
}
