// The peers benchmark: ours in one stack, ours in 4 stacks through
// scripts/fleet, the @pulumi/command program and Ansible, on the same lab, one locked
// section per fleet size N. See docs/benchmark.md, "Peers".
//
//   npm run bench -- --peers [--n 1,5,20,50,100] [--tools ours-1,ours-4,command,ansible]
//   npm run bench -- --peers --report bench/results/peers-<time>.json
//
// For each N (in its own `flock -o /run/ssb-lab.lock` section: lab/start --appliances N,
// the files every tool changes saved, and put back with lab/start --appliances 1 at the
// end) and each tool:
//   1. the fleet reset (the saved files put back: nothing configured), then converge from
//      scratch, verified on the hosts by isConverged (bench/peers/spec.ts);
//   2. the no-op drift check, twice (median);
//   3. drift round 1 (seven cases on appliance 0) → the tool's check (which cases it
//      names) → its repair run (timed) → isConverged; round 2 (key line removed) the same;
//   4. its stacks dropped (state only) and the fleet reset.
// Each run: wall time, SSH handshakes per host from the sshd logs, peak memory (the
// provider process, and the whole tree).
import { spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { type LabSnapshot, labStart, restoreLab, snapshotLab } from "./lib/lab";
import { ProcessSampler } from "./lib/proc";
import { PASSPHRASE, REPO, RESULTS, STATE_DIR, pulumi } from "./lib/pulumi";
import { type Lab, handshakesSince, logFiles, takeOffsets } from "./lib/sshd";
import { ProcessTreeSampler } from "./peers/proc-tree";
import { resetFleet as resetToScratch } from "./peers/reset";
import { type PeersSection, type RunFigure, TOOLS, type ToolId, type ToolResult, renderPeers } from "./peers/harness-report";
import { DRIFT_CASES, DRIFT_ROUNDS, type DriftCaseId, LAB_JSON, type PeerLab, applyDriftRound, cifsPassword, driftCasesIn, isConverged, loadPeerLab } from "./peers/spec";
import { commandLine } from "./lib/args";

const USAGE = `usage: npm run bench -- --peers [--n 1,5,20,50,100] [--tools ours-1,ours-4,command,ansible]
                      [--noop-rounds 2] [--section-per-tool] [--lock /run/ssb-lab.lock] [--out FILE] [--report FILE]
  --n            fleet sizes (lab appliances), comma-separated     (default 1,5,20,50,100)
  --tools        which tools, in this order                        (default ${TOOLS.join(",")})
  --noop-rounds  rounds of each tool's no-op drift check (median)  (default 2)
  --section-per-tool  one locked section per N and tool (shorter holds of the shared lab
                 at large N; each section runs lab/start --appliances N)
  --lock         the shared lab's lock file (default $SSB_LAB_LOCK or /run/ssb-lab.lock)
  --out          the JSON file of figures (default bench/results/peers-<time>.json)
  --report       print the tables of an earlier JSON file and exit`;

const { option, flag } = commandLine(USAGE);
const say = (m: string) => process.stdout.write(`[peers] ${new Date().toISOString().slice(11, 19)} ${m}\n`);

const FLEET_DIR = path.join(REPO, "bench", "programs", "fleet");
const COMMAND_DIR = path.join(REPO, "bench", "programs", "command-peer");
const ENGINE_ENV = { PULUMI_BACKEND_URL: `file://${STATE_DIR}`, PULUMI_CONFIG_PASSPHRASE: PASSPHRASE, PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
const MiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;

// ---------------------------------------------------------------------------
// One measured run of any command.

interface Measured { code: number | null; output: string; stdout?: string; wallMs: number; handshakes: RunFigure["handshakes"]; providerPeakMiB?: number; treePeakMiB?: number }

async function measured(lab: PeerLab, n: number, log: string, run: (onStart: (pid: number) => void) => Promise<{ code: number | null; output: string; stdout?: string }>): Promise<Measured> {
    const offsets = takeOffsets(logFiles(lab as unknown as Lab, n));
    let roles: ProcessSampler | undefined;
    let tree: ProcessTreeSampler | undefined;
    const started = Date.now();
    const r = await run((pid) => {
        roles = new ProcessSampler(pid); roles.start();
        tree = new ProcessTreeSampler(pid); tree.start();
    });
    const wallMs = Date.now() - started;
    const records = roles ? roles.stop() : [];
    const t = tree?.stop();
    await new Promise((res) => setTimeout(res, 200)); // sshd writes "Accepted" at authentication; give a straggler a moment
    const h = handshakesSince(lab as unknown as Lab, n, offsets);
    const providers = records.filter((p) => p.role === "dynamic-provider" || p.role === "command-provider");
    fs.appendFileSync(log, `\n=== exit ${r.code} in ${wallMs} ms\n${r.output}\n`);
    return {
        code: r.code, output: r.output, stdout: r.stdout, wallMs,
        handshakes: { perAppliance: h.perAppliance, backupServer: h.backupServerAdmin },
        providerPeakMiB: providers.length ? MiB(Math.max(...providers.map((p) => p.hwmKiB))) : undefined,
        treePeakMiB: t ? MiB(t.peakTreeRssKiB) : undefined,
    };
}

function spawnCollect(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string>; input?: string; log: string }, onStart: (pid: number) => void): Promise<{ code: number | null; output: string; stdout: string }> {
    return new Promise((resolve, reject) => {
        fs.appendFileSync(opts.log, `\n$ ${cmd} ${args.join(" ")}\n`);
        const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...ENGINE_ENV, ...(opts.env ?? {}) }, stdio: ["pipe", "pipe", "pipe"] });
        const chunks: Buffer[] = [];
        let stdout = "";
        child.stdout.on("data", (d: Buffer) => { chunks.push(d); stdout += d.toString("utf8"); });
        child.stderr.on("data", (d: Buffer) => chunks.push(d));
        child.on("error", reject);
        if (child.pid !== undefined) onStart(child.pid);
        child.stdin.end(opts.input ?? "");
        child.on("close", (code) => resolve({ code, output: Buffer.concat(chunks).toString("utf8"), stdout }));
    });
}

// ---------------------------------------------------------------------------
// The tools. Each converges, checks (no-op or after drift) and repairs.

interface CheckResult extends Measured { detected: DriftCaseId[]; driftSeen: boolean }

interface Tool {
    id: ToolId;
    /** Why the tool cannot run here, if it cannot. */
    unavailable(): string | undefined;
    prepare(): Promise<void>;
    converge(): Promise<Measured>;
    check(): Promise<CheckResult>;
    repair(): Promise<Measured>;
    /** Forgets the tool's state (stacks removed from the backend, state only). */
    dispose(): Promise<void>;
}

interface Context { lab: PeerLab; n: number; tag: string; logDir: string; masterPassword: string }

async function cli(dir: string, args: string[], log: string, input?: string): Promise<string> {
    const r = await pulumi(dir, [...args, "--non-interactive"], { log, input });
    if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} in ${dir} failed (exit ${r.code}); see ${log}\n${r.output.split("\n").slice(-15).join("\n")}`);
    return r.output;
}

async function initStack(dir: string, stack: string, log: string, config: Record<string, { value: string; secret?: boolean }>): Promise<void> {
    fs.mkdirSync(STATE_DIR, { recursive: true });
    await cli(dir, ["stack", "init", stack, "--secrets-provider", "passphrase"], log);
    for (const [key, { value, secret }] of Object.entries(config)) {
        await cli(dir, ["config", "set", key, ...(secret ? ["--secret"] : [value]), "--stack", stack], log, secret ? value : undefined);
    }
}

async function dropStack(dir: string, stack: string, log: string): Promise<void> {
    await pulumi(dir, ["stack", "rm", "--yes", "--force", "--stack", stack, "--non-interactive"], { log });
}

/** Our drift findings (scripts/drift --json) as drift cases. */
export function casesFromFindings(findings: any[]): DriftCaseId[] {
    const out = new Set<DriftCaseId>();
    for (const f of findings) {
        const field = f.field ?? f.change;
        const name = String(f.name ?? "");
        if (f.type === "AuthorizedKey" && field === "effectiveOptions") out.add("key-options");
        else if (f.type === "AuthorizedKey" && field === "fileMode") out.add("key-mode");
        else if (f.type === "AuthorizedKey" && field === "removed") out.add("key-removed");
        else if (f.type === "RemotePartition" && /-nfs$/.test(name) && field === "removed") out.add("nfs-removed");
        else if (f.type === "RemotePartition" && /-cifs$/.test(name) && field === "mounted") out.add("cifs-unmounted");
        else if (f.type === "RsyncTarget" && field === "path") out.add("rsync-path");
        else if (f.type === "BackupPolicy" && field === "video") out.add("video-off");
        else if (f.type === "BackupPolicy" && field === "hour") out.add("hour");
    }
    return DRIFT_CASES.map((c) => c.id).filter((id) => out.has(id));
}

/** The @pulumi/command peer's check output ("[tag] message" lines) as drift cases. */
export function casesFromCommandOutput(output: string, driftTarget: string): DriftCaseId[] {
    const out = new Set<DriftCaseId>();
    // Only the checks' own stderr lines count: the engine's error line repeats the script,
    // whose text holds every tag.
    const lines = output.split("\n").filter((l) => !l.includes("Process exited with status"));
    for (const m of lines.flatMap((l) => [...l.matchAll(/(?:^\s*|;\s)\[([a-z-]+)(?::([A-Za-z0-9@._-]+))?\] /g)])) {
        const [, tag, arg] = m;
        const forTarget = arg === undefined || arg === driftTarget || arg.endsWith(`@${driftTarget}`);
        if (tag === "key-options" && forTarget) out.add("key-options");
        else if (tag === "key-mode") out.add("key-mode");
        else if (tag === "key-missing" && forTarget) out.add("key-removed");
        else if (tag === "partition-missing" && arg === "peer-nfs") out.add("nfs-removed");
        else if ((tag === "partition-unmounted" || tag === "partition-missing") && arg === "peer-cifs") out.add("cifs-unmounted");
        else if (tag === "rsync") out.add("rsync-path");
        else if (tag === "video") out.add("video-off");
        else if (tag === "hour") out.add("hour");
    }
    return DRIFT_CASES.map((c) => c.id).filter((id) => out.has(id));
}

function oursOneStack(ctx: Context): Tool {
    const stack = `peers-ours-n${ctx.n}-${ctx.tag}`;
    const log = path.join(ctx.logDir, `${stack}.log`);
    const run = (args: string[]) => measured(ctx.lab, ctx.n, log, (onStart) =>
        pulumi(FLEET_DIR, [...args, "--stack", stack, "--non-interactive", "--color", "never"], { log, env: ENGINE_ENV, onStart }).then((r) => ({ code: r.code, output: r.output })));
    return {
        id: "ours-1",
        unavailable: () => undefined,
        prepare: () => initStack(FLEET_DIR, stack, log, {
            labFile: { value: LAB_JSON }, count: { value: String(ctx.n) }, first: { value: "0" }, verify: { value: "false" }, partitions: { value: "true" },
            masterPassword: { value: ctx.masterPassword, secret: true },
        }),
        converge: () => run(["up", "--yes", "--skip-preview"]),
        check: async () => {
            // The no-op check is the preview; after drift, scripts/drift names the findings (the same preview, read).
            const m = await measured(ctx.lab, ctx.n, log, (onStart) => spawnCollect("bash", [path.join(REPO, "scripts", "drift"), "--stack", stack, "--cwd", FLEET_DIR, "--json", "--no-backup-age"], { cwd: REPO, log }, onStart));
            let findings: any[] = [];
            try { findings = JSON.parse(m.stdout ?? "").findings ?? []; } catch { /* the exit code decides */ }
            return { ...m, detected: casesFromFindings(findings), driftSeen: m.code === 2 };
        },
        repair: () => run(["up", "--yes", "--skip-preview", "--refresh"]),
        dispose: () => dropStack(FLEET_DIR, stack, log),
    };
}

/** The no-op check of ours in one stack, as the brief has it: preview --refresh --expect-no-changes, with --run-program as scripts/drift runs it. */
function oursNoop(ctx: Context): () => Promise<CheckResult> {
    const stack = `peers-ours-n${ctx.n}-${ctx.tag}`;
    const log = path.join(ctx.logDir, `${stack}.log`);
    return async () => {
        const m = await measured(ctx.lab, ctx.n, log, (onStart) =>
            pulumi(FLEET_DIR, ["preview", "--refresh", "--run-program", "--expect-no-changes", "--stack", stack, "--non-interactive", "--color", "never"], { log, env: ENGINE_ENV, onStart }).then((r) => ({ code: r.code, output: r.output })));
        return { ...m, detected: [], driftSeen: m.code !== 0 };
    };
}

export function sliceFleet(n: number, stacks: number): Array<{ first: number; count: number }> {
    const k = Math.min(stacks, n);
    const base = Math.floor(n / k);
    const extra = n % k;
    const out: Array<{ first: number; count: number }> = [];
    let first = 0;
    for (let i = 0; i < k; i++) {
        const count = base + (i < extra ? 1 : 0);
        out.push({ first, count });
        first += count;
    }
    return out;
}

function oursFourStacks(ctx: Context): Tool {
    const slices = sliceFleet(ctx.n, 4);
    const names = slices.map((_, i) => `peers-o4${"abcd"[i]}-n${ctx.n}-${ctx.tag}`);
    const log = path.join(ctx.logDir, `peers-ours4-n${ctx.n}-${ctx.tag}.log`);
    const fleet = (command: string, extra: string[] = []) => measured(ctx.lab, ctx.n, log, (onStart) =>
        spawnCollect("bash", [path.join(REPO, "scripts", "fleet"), command, "--stacks", names.join(","), "--cwd", FLEET_DIR, "--concurrency", "2", "--json", ...extra], { cwd: REPO, log }, onStart));
    return {
        id: "ours-4",
        unavailable: () => undefined,
        prepare: async () => {
            for (const [i, s] of slices.entries()) {
                await initStack(FLEET_DIR, names[i], log, {
                    labFile: { value: LAB_JSON }, count: { value: String(s.count) }, first: { value: String(s.first) }, verify: { value: "false" }, partitions: { value: "true" },
                    masterPassword: { value: ctx.masterPassword, secret: true },
                });
            }
        },
        converge: () => fleet("up"),
        check: async () => {
            const m = await fleet("drift", ["--", "--no-backup-age"]);
            let findings: any[] = [];
            try {
                findings = (JSON.parse(m.stdout ?? "").stacks ?? []).flatMap((s: any) => s.report?.findings ?? []);
            } catch { /* the exit code decides */ }
            return { ...m, detected: casesFromFindings(findings), driftSeen: m.code === 2 };
        },
        repair: () => fleet("up"),
        dispose: async () => { for (const s of names) await dropStack(FLEET_DIR, s, log); },
    };
}

function commandPeer(ctx: Context): Tool {
    const stack = `peers-cmd-n${ctx.n}-${ctx.tag}`;
    const log = path.join(ctx.logDir, `${stack}.log`);
    let round = 0;
    const up = (config: string[]) => measured(ctx.lab, ctx.n, log, (onStart) =>
        pulumi(COMMAND_DIR, ["up", "--yes", "--skip-preview", ...config, "--stack", stack, "--non-interactive", "--color", "never"], { log, env: ENGINE_ENV, onStart }).then((r) => ({ code: r.code, output: r.output })));
    return {
        id: "command",
        unavailable: () => (fs.existsSync(path.join(REPO, "node_modules", "@pulumi", "command")) ? undefined : "node_modules/@pulumi/command is missing: run scripts/setup"),
        prepare: () => initStack(COMMAND_DIR, stack, log, {
            labFile: { value: LAB_JSON }, count: { value: String(ctx.n) }, runId: { value: "initial" },
            masterPassword: { value: ctx.masterPassword, secret: true },
        }),
        converge: () => up([]),
        check: async () => {
            const m = await up(["--config", `checkRunId=${ctx.tag}-c${++round}`]);
            return { ...m, detected: casesFromCommandOutput(m.output, ctx.lab.appliances[0].name), driftSeen: m.code !== 0 };
        },
        repair: () => up(["--config", `runId=${ctx.tag}-r${++round}`]),
        dispose: () => dropStack(COMMAND_DIR, stack, log),
    };
}

/** The Ansible peer (bench/peers/ansible.ts, built by another engineer); absent until it lands. */
function ansiblePeer(ctx: Context): Tool {
    let mod: any;
    let loadError: string | undefined;
    try {
        // Loaded at run time, so that this file compiles and runs the other tools before it lands.
        mod = require(path.join(__dirname, "peers", "ansible"));
    } catch (err) {
        loadError = `bench/peers/ansible.ts cannot be loaded: ${(err as Error).message.split("\n")[0]}`;
    }
    // Short: ssh's ControlPath socket must fit in 107 bytes.
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `ssb-ans${ctx.n}-`));
    const log = path.join(ctx.logDir, `peers-ansible-n${ctx.n}-${ctx.tag}.log`);
    const asMeasured = async (mode: "check" | "converge"): Promise<Measured & { run: any }> => {
        const offsets = takeOffsets(logFiles(ctx.lab as unknown as Lab, ctx.n));
        const started = Date.now();
        // runAnsible samples ansible-playbook's tree itself (and the ControlPersist masters that leave it).
        const run = await mod.runAnsible(workDir, mode);
        const wallMs = run?.wallMs ?? Date.now() - started;
        await new Promise((res) => setTimeout(res, 200));
        const h = handshakesSince(ctx.lab as unknown as Lab, ctx.n, offsets);
        const stdout = run?.logFile && fs.existsSync(run.logFile) ? fs.readFileSync(run.logFile, "utf8") : "";
        fs.appendFileSync(log, `\n=== ansible-playbook ${mode}: exit ${run?.exitCode} in ${wallMs} ms; changed ${JSON.stringify(run?.changedByHost)}; failed ${JSON.stringify(run?.failedHosts)} ${JSON.stringify(run?.errors)}; log ${run?.logFile}\n`);
        return {
            run, code: run?.exitCode ?? null, output: stdout, wallMs,
            handshakes: { perAppliance: h.perAppliance, backupServer: h.backupServerAdmin },
            treePeakMiB: run?.memory ? MiB(run.memory.peakTreeRssKiB) : undefined,
        };
    };
    return {
        id: "ansible",
        unavailable: () => {
            if (loadError) return loadError;
            try {
                // ensureAnsible (in prepare) installs it with apt-get when missing.
                if (typeof mod.ensureAnsible !== "function" && !mod.ansibleAvailable()) return "ansible-playbook or ansible.posix is not installed";
            } catch (err) { return `ansibleAvailable() failed: ${(err as Error).message}`; }
            return undefined;
        },
        prepare: async () => {
            if (typeof mod.ensureAnsible === "function") mod.ensureAnsible((m: string) => say(m));
            await mod.prepareAnsible(ctx.lab, ctx.n, workDir, ctx.masterPassword);
        },
        converge: async () => asMeasured("converge"),
        check: async () => {
            const m = await asMeasured("check");
            const detected: DriftCaseId[] = typeof mod.detectedCases === "function" ? await mod.detectedCases(m.run) : [];
            const changed = Object.values(m.run?.changedByHost ?? {}).some((tasks: any) => Array.isArray(tasks) && tasks.length > 0);
            return { ...m, detected, driftSeen: changed || (m.run?.failedHosts?.length ?? 0) > 0 || m.code !== 0 };
        },
        repair: async () => asMeasured("converge"),
        dispose: async () => {
            // Ansible keeps no state; its work directory holds no secret (the master password goes by environment), but is not needed again.
            try { fs.cpSync(path.join(workDir, "logs"), path.join(ctx.logDir, `ansible-n${ctx.n}-runs`), { recursive: true }); } catch { /* the logs are a convenience */ }
            fs.rmSync(workDir, { recursive: true, force: true });
        },
    };
}

// ---------------------------------------------------------------------------
// One locked section: one N, every tool.

function figure(what: RunFigure["what"], m: Measured, extra: Partial<RunFigure> = {}): RunFigure {
    return {
        what, ok: m.code === 0, exitCode: m.code, wallMs: m.wallMs, handshakes: m.handshakes,
        providerPeakMiB: m.providerPeakMiB, treePeakMiB: m.treePeakMiB, ...extra,
    };
}

function fmt(f: RunFigure): string {
    const hs = f.handshakes.perAppliance;
    return `${f.what}${f.round !== undefined ? ` round ${f.round + 1}` : ""}: ${f.ok ? "ok" : `exit ${f.exitCode}`} in ${(f.wallMs / 1000).toFixed(2)} s; handshakes/appliance ${hs.length ? `${Math.min(...hs)}..${Math.max(...hs)}` : "-"}, backup server ${f.handshakes.backupServer}; provider ${f.providerPeakMiB ?? "-"} MiB, tree ${f.treePeakMiB ?? "-"} MiB${f.detected ? `; detected ${f.detected.length ? f.detected.join(",") : "none"}` : ""}${f.notConverged?.length ? `; NOT CONVERGED: ${f.notConverged.slice(0, 4).join("; ")}` : ""}`;
}

/**
 * Takes the fleet to scratch (bench/peers/reset.ts: every field a tool sets differs, so a
 * converge does all of its work), run locally as root: no handshake lands in the sshd logs.
 */
function resetFleet(ctx: Context): void {
    resetToScratch(ctx.lab, ctx.n);
}

async function runTool(tool: Tool, ctx: Context, noopRounds: number, noop?: () => Promise<CheckResult>): Promise<ToolResult> {
    const result: ToolResult = { tool: tool.id, n: ctx.n, runs: [], cases: {}, errors: [] };
    const why = tool.unavailable();
    if (why) { result.skipped = why; say(`N=${ctx.n} ${tool.id}: skipped (${why})`); return result; }
    const rec = (f: RunFigure) => { result.runs.push(f); say(`N=${ctx.n} ${tool.id}: ${fmt(f)}`); return f; };
    const started = Date.now();
    try {
        resetFleet(ctx);
        await tool.prepare();
        const c = await tool.converge();
        const cf = rec(figure("converge", c, { notConverged: isConverged(ctx.lab, ctx.n, ctx.masterPassword) }));
        if (!cf.ok) throw new Error(`converge failed (exit ${cf.exitCode}): ${lastLines(c.output)}`);
        if (cf.notConverged!.length) result.errors.push(`after converge the hosts differ: ${cf.notConverged!.join("; ")}`);
        for (let r = 0; r < noopRounds; r++) {
            const m = await (noop ?? tool.check)();
            rec(figure("noop", m, { round: r, ok: m.code === 0 && !m.driftSeen, note: m.driftSeen ? "the no-op check reported drift" : undefined }));
        }
        for (let round = 0; round < DRIFT_ROUNDS.length; round++) {
            const applied = applyDriftRound(ctx.lab, round);
            const d = await tool.check();
            rec(figure("detect", d, { round, detected: d.detected }));
            const rp = await tool.repair();
            const left = isConverged(ctx.lab, ctx.n, ctx.masterPassword);
            rec(figure("repair", rp, { round, notConverged: left }));
            const still = driftCasesIn(ctx.lab, left);
            for (const id of applied) result.cases[id] = { detected: d.detected.includes(id), repaired: rp.code === 0 && !still.includes(id) };
            if (left.length) result.errors.push(`after repair round ${round + 1} the hosts differ: ${left.join("; ")}`);
            if (left.length && still.length !== left.length) {
                // Something beyond this round's cases differs: one more repair run, so that the next round starts from the desired state.
                const again = await tool.repair();
                rec(figure("converge", again, { note: "repaired once more after an incomplete repair (not counted as converge time)", notConverged: isConverged(ctx.lab, ctx.n, ctx.masterPassword) }));
            }
        }
    } catch (err) {
        result.errors.push(String((err as Error).message ?? err));
        say(`N=${ctx.n} ${tool.id}: ERROR ${(err as Error).message.split("\n")[0]}`);
    } finally {
        await tool.dispose().catch((err) => result.errors.push(`dispose: ${(err as Error).message}`));
    }
    say(`N=${ctx.n} ${tool.id}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return result;
}

function walk(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
const countFiles = (dir: string) => walk(dir).length;

/** The files under dir that contain any of the secrets. */
function filesHolding(dir: string, secrets: string[]): string[] {
    return walk(dir).filter((f) => {
        const text = fs.readFileSync(f, "latin1");
        return secrets.some((x) => x.length > 0 && text.includes(x));
    });
}

/** Drops the stacks an interrupted peers run left in the benchmark's backend (state only; the next section resets the hosts). */
async function removeLeftovers(): Promise<void> {
    if (!fs.existsSync(STATE_DIR)) return;
    for (const dir of [FLEET_DIR, COMMAND_DIR]) {
        const ls = await pulumi(dir, ["stack", "ls", "--json"], { env: ENGINE_ENV });
        let stacks: Array<{ name: string }> = [];
        try { stacks = JSON.parse(ls.output); } catch { continue; }
        for (const st of stacks.filter((x) => /^peers-/.test(x.name))) {
            say(`removing the leftover stack ${st.name} of an interrupted peers run (state only)`);
            await pulumi(dir, ["stack", "rm", "--yes", "--force", "--stack", st.name, "--non-interactive"], { env: ENGINE_ENV });
        }
    }
}

function lastLines(text: string): string {
    return text.split("\n").filter((l) => /error|failed|fatal/i.test(l)).slice(-4).join(" | ").slice(0, 600);
}

async function section(): Promise<void> {
    const n = Number(option("n"));
    const out = option("out");
    const tools = (option("tools") ?? TOOLS.join(",")).split(",") as ToolId[];
    const noopRounds = Number(option("noop-rounds") ?? 2);
    if (!Number.isInteger(n) || n < 1 || !out) throw new Error("usage: peers.ts --section --n N --out FILE [--tools …] [--noop-rounds R]");
    fs.writeFileSync(`${out}.started`, "");
    const tag = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
    const logDir = path.join(RESULTS, "logs", `peers-n${n}-${tag}`);
    fs.mkdirSync(logDir, { recursive: true });
    const started = Date.now();
    const sec: PeersSection = { n, startedAt: new Date().toISOString(), sectionMs: 0, labStartMs: 0, tools: [], errors: [] };
    let snapshot: LabSnapshot | undefined;
    // Mounting peer-cifs writes write_test at the share's root; it goes if it was not there.
    // (The NFS export's stays: deleting on disk under nfs-ganesha leaves its cache stale.)
    let cifsWriteTest: string | undefined;
    let cifsWriteTestExisted = true;
    try {
        say(`N=${n}: lab/start --appliances ${n}`);
        sec.labStartMs = labStart(REPO, n);
        const lab = loadPeerLab();
        snapshot = snapshotLab(lab as unknown as Lab, n);
        cifsWriteTest = path.join(lab.cifs.localPath, "write_test");
        cifsWriteTestExisted = fs.existsSync(cifsWriteTest);
        // One master password per run: random, secret, never printed.
        const ctx: Context = { lab, n, tag, logDir, masterPassword: `peers-${randomBytes(12).toString("base64url")}` };
        for (const id of tools) {
            const make = { "ours-1": oursOneStack, "ours-4": oursFourStacks, command: commandPeer, ansible: ansiblePeer }[id];
            if (!make) throw new Error(`unknown tool ${id}: the tools are ${TOOLS.join(", ")}`);
            const tool = make(ctx);
            sec.tools.push(await runTool(tool, ctx, noopRounds, id === "ours-1" ? oursNoop(ctx) : undefined));
        }
        // No secret in any output any tool printed: the master password and the CIFS password.
        const leaks = filesHolding(logDir, [ctx.masterPassword, cifsPassword(lab)]);
        if (leaks.length) sec.errors.push(`a secret value is in these output files: ${leaks.join(", ")}`);
        else say(`N=${n}: no secret in the ${countFiles(logDir)} output files`);
    } catch (err) {
        sec.errors.push(String((err as Error).stack ?? err));
        say(`N=${n}: ERROR ${(err as Error).message.split("\n")[0]}`);
    } finally {
        try {
            if (snapshot) restoreLab(snapshot);
            if (cifsWriteTest && !cifsWriteTestExisted) fs.rmSync(cifsWriteTest, { force: true });
        } catch (err) { sec.errors.push(`restoring the lab: ${(err as Error).message}`); }
        say(`N=${n}: restoring the lab's default (lab/start --appliances 1)`);
        try { labStart(REPO, 1); } catch (err) { sec.errors.push(String(err)); }
        sec.sectionMs = Date.now() - started;
        fs.writeFileSync(out, JSON.stringify(sec, null, 2));
    }
    if (sec.errors.length || sec.tools.some((t) => t.errors.length)) process.exitCode = 1;
}

// ---------------------------------------------------------------------------
// The driver: one locked section per N, then the tables.

function runLocked(lock: string, n: number, out: string, extra: string[]): Promise<number> {
    return new Promise((resolve) => {
        say(`N=${n}: waiting for the lab lock ${lock} (other engineers share the lab)`);
        // -o: flock does not pass its descriptor on to the daemons lab/start restarts.
        const child = spawn("flock", ["-o", lock, process.execPath, "-r", "ts-node/register/transpile-only", __filename, "--section", "--n", String(n), "--out", out, ...extra], { cwd: REPO, stdio: "inherit", env: process.env });
        child.on("close", (code) => { fs.rmSync(`${out}.started`, { force: true }); resolve(code ?? 1); });
    });
}

async function driver(): Promise<void> {
    if (flag("help") || flag("h")) { console.log(USAGE); return; }
    const report = option("report");
    if (report) {
        const json = JSON.parse(fs.readFileSync(report, "utf8"));
        console.log(renderPeers(json.sections ?? []));
        return;
    }
    const ns = (option("n") ?? "1,5,20,50,100").split(",").map((x) => Number(x.trim()));
    if (ns.some((n) => !Number.isInteger(n) || n < 1 || n > 200)) throw new Error(`--n takes fleet sizes from 1 to 200\n${USAGE}`);
    const tools = option("tools") ?? TOOLS.join(",");
    for (const t of tools.split(",")) if (!(TOOLS as readonly string[]).includes(t)) throw new Error(`--tools: unknown tool ${t}; the tools are ${TOOLS.join(", ")}\n${USAGE}`);
    const lock = option("lock") ?? process.env.SSB_LAB_LOCK ?? "/run/ssb-lab.lock";
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    fs.mkdirSync(RESULTS, { recursive: true });
    const outFile = path.resolve(option("out") ?? path.join(RESULTS, `peers-${stamp}.json`));
    await removeLeftovers();
    const sections: PeersSection[] = [];
    let failed = 0;
    // With --section-per-tool each (N, tool) holds the lab on its own; the results merge into one section per N.
    const groups = flag("section-per-tool") ? tools.split(",").map((t) => [t]) : [tools.split(",")];
    for (const n of ns) {
        let merged: PeersSection | undefined;
        for (const group of groups) {
            const sectionOut = path.join(RESULTS, `peers-section-n${n}-${group.length === 1 ? `${group[0]}-` : ""}${stamp}.json`);
            const code = await runLocked(lock, n, sectionOut, ["--tools", group.join(","), "--noop-rounds", option("noop-rounds") ?? "2"]);
            if (code !== 0) failed++;
            if (!fs.existsSync(sectionOut)) { say(`N=${n} (${group.join(",")}): the section wrote no results (exit ${code})`); continue; }
            const sec = JSON.parse(fs.readFileSync(sectionOut, "utf8")) as PeersSection;
            fs.rmSync(sectionOut);
            if (!merged) { merged = sec; sections.push(merged); continue; }
            merged.tools.push(...sec.tools);
            merged.errors.push(...sec.errors);
            merged.sectionMs += sec.sectionMs;
            merged.labStartMs += sec.labStartMs;
        }
        // Written after every N, so a long run that is stopped keeps what it measured.
        const meta = { date: new Date().toISOString(), nodeVersion: process.version, cpus: os.cpus().length, memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10, ns, tools: tools.split(","), sectionPerTool: flag("section-per-tool") };
        fs.writeFileSync(outFile, JSON.stringify({ meta, sections }, null, 2));
    }
    console.log("");
    console.log(renderPeers(sections));
    console.log("");
    say(`figures: ${outFile}; logs: bench/results/logs/peers-n*`);
    if (failed > 0) process.exitCode = 1;
}

if (require.main === module) {
    (flag("section") ? section() : driver()).catch((err) => {
        process.stderr.write(`[peers] ${(err as Error).stack ?? err}\n`);
        process.exit(1);
    });
}
