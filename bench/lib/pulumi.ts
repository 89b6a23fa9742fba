// Runs the Pulumi CLI (the one scripts/toolchain built) for the benchmark's stacks,
// and measures one phase: wall time, SSH handshakes from the sshd logs, the
// dynamic-provider process's peak memory from /proc, and the provider trace.
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { type ProcessRecord, ProcessSampler, cpuTimes } from "./proc";
import { type Handshakes, type Lab, handshakesSince, logFiles, takeOffsets } from "./sshd";
import { type TraceSummary, readTrace } from "./trace";

export const REPO = path.resolve(__dirname, "..", "..");
export const RESULTS = path.join(REPO, "bench", "results");
export const STATE_DIR = path.join(RESULTS, "state");
export const PASSPHRASE = "senhasegura-bench";
const PROBE = path.join(REPO, "bench", "lib", "provider-probe.js");

export interface CliResult { code: number; output: string; wallMs: number; pid: number }

export interface PhaseResult {
    name: string;
    stack: string;
    args: string[];
    ok: boolean;
    exitCode: number;
    wallMs: number;
    handshakes: Handshakes;
    /**
     * The resource-provider processes the phase started, peak VmHWM and CPU: the Node
     * dynamic provider (ours) and pulumi-resource-command (the baseline's remote.Command,
     * and our verification backup). `kinds` says which ran.
     */
    provider: { processes: number; kinds: string[]; peakHwmMiB: number; peakRssMiB: number; cpuMs: number };
    /** The program process (node running the stack's index.ts) and the CLI, for context. */
    program: { peakHwmMiB: number; cpuMs: number };
    cli: { peakHwmMiB: number; cpuMs: number };
    /** Share of the machine's CPUs that were busy during the phase (it is shared: context for outliers). */
    machineCpuBusyPct: number;
    /** Warnings that the appliance could not reach the rsync target (orbit rsync test). */
    rsyncUnreachableWarnings: number;
    /** Distinct error lines of this phase's output (empty when it succeeded). */
    errorLines: string[];
    trace: TraceSummary;
    samples: number;
    log: string;
}

function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PULUMI_BACKEND_URL: `file://${STATE_DIR}`,
        PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
        PULUMI_NODEJS_TRANSPILE_ONLY: "true",
        ...extra,
    };
}

/** Runs `pulumi ARGS` in DIR; resolves with its exit code and output (never rejects on a non-zero exit). */
export function pulumi(dir: string, args: string[], opts: { env?: Record<string, string>; log?: string; onStart?: (pid: number) => void; input?: string } = {}): Promise<CliResult> {
    return new Promise((resolve, reject) => {
        const started = Date.now();
        const child = spawn("pulumi", args, { cwd: dir, env: baseEnv(opts.env), stdio: ["pipe", "pipe", "pipe"] });
        const chunks: Buffer[] = [];
        child.stdout.on("data", (d: Buffer) => chunks.push(d));
        child.stderr.on("data", (d: Buffer) => chunks.push(d));
        child.on("error", reject);
        if (child.pid !== undefined) opts.onStart?.(child.pid);
        child.stdin.end(opts.input ?? "");
        child.on("close", (code) => {
            const output = Buffer.concat(chunks).toString("utf8");
            if (opts.log) fs.appendFileSync(opts.log, `\n$ pulumi ${args.join(" ")}\n${output}`);
            resolve({ code: code ?? -1, output, wallMs: Date.now() - started, pid: child.pid ?? -1 });
        });
    });
}

const MiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;

export class BenchStack {
    readonly dir: string;
    removed = false;

    constructor(readonly program: "fleet" | "baseline", readonly name: string, readonly logDir: string) {
        this.dir = path.join(REPO, "bench", "programs", program);
    }

    get log(): string { return path.join(this.logDir, `${this.name}.log`); }

    /** Runs a CLI command on this stack that is not measured; throws when it fails. */
    async run(args: string[], input?: string): Promise<string> {
        const r = await pulumi(this.dir, [...args, "--stack", this.name, "--non-interactive"], { log: this.log, input });
        if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} --stack ${this.name} failed (exit ${r.code}); see ${this.log}\n${r.output.split("\n").slice(-25).join("\n")}`);
        return r.output;
    }

    async init(config: Record<string, { value: string; secret?: boolean }>): Promise<void> {
        fs.mkdirSync(STATE_DIR, { recursive: true });
        await this.run(["stack", "init", "--secrets-provider", "passphrase"]);
        for (const [key, { value, secret }] of Object.entries(config)) {
            // Secrets go on stdin, never on argv.
            await this.run(["config", "set", key, ...(secret ? ["--secret"] : [value])], secret ? value : undefined);
        }
    }

    async setConfig(key: string, value: string): Promise<void> {
        await this.run(["config", "set", key, value]);
    }

    /** The state as `pulumi stack export` prints it; with showSecrets, secret values are in plaintext. */
    async exportState(showSecrets = false): Promise<any> {
        const out = await pulumi(this.dir, ["stack", "export", "--stack", this.name, ...(showSecrets ? ["--show-secrets"] : [])], {});
        if (out.code !== 0) throw new Error(`pulumi stack export --stack ${this.name} failed: ${out.output.slice(-500)}`);
        return JSON.parse(out.output);
    }

    /** One measured phase: the CLI's wall time, with handshakes, memory and the provider trace. */
    async phase(name: string, args: string[], lab: Lab, n: number): Promise<PhaseResult> {
        const traceFile = path.join(this.logDir, `${this.name}.${name.replace(/\W+/g, "-")}.${Date.now()}.trace.jsonl`);
        const offsets = takeOffsets(logFiles(lab, n));
        const cpu0 = cpuTimes();
        let sampler: ProcessSampler | undefined;
        const started = Date.now();
        const fullArgs = [...args, "--stack", this.name, "--non-interactive", "--color", "never"];
        const result = await pulumi(this.dir, fullArgs, {
            log: this.log,
            env: {
                NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${PROBE}`.trim(),
                SSB_BENCH_TRACE: traceFile,
            },
            onStart: (pid) => { sampler = new ProcessSampler(pid); sampler.start(); },
        });
        const ended = started + result.wallMs;
        const records: ProcessRecord[] = sampler ? sampler.stop() : [];
        const cpu1 = cpuTimes();
        // sshd writes the "Accepted" line at authentication; give a straggler a moment.
        await new Promise((r) => setTimeout(r, 200));
        const handshakes = handshakesSince(lab, n, offsets);
        const of = (role: string) => records.filter((r) => r.role === role);
        const providers = [...of("dynamic-provider"), ...of("command-provider")];
        return {
            name, stack: this.name, args: fullArgs, ok: result.code === 0, exitCode: result.code, wallMs: result.wallMs,
            handshakes,
            provider: {
                processes: providers.length,
                kinds: [...new Set(providers.map((p) => p.role))],
                peakHwmMiB: MiB(Math.max(0, ...providers.map((p) => p.hwmKiB))),
                peakRssMiB: MiB(Math.max(0, ...providers.map((p) => p.rssKiB))),
                cpuMs: providers.reduce((a, p) => a + p.cpuMs, 0),
            },
            program: { peakHwmMiB: MiB(Math.max(0, ...of("program").map((p) => p.hwmKiB))), cpuMs: of("program").reduce((a, p) => a + p.cpuMs, 0) },
            cli: { peakHwmMiB: MiB(Math.max(0, ...of("cli").map((p) => p.hwmKiB))), cpuMs: of("cli").reduce((a, p) => a + p.cpuMs, 0) },
            machineCpuBusyPct: cpu1.total > cpu0.total ? Math.round((100 * (cpu1.busy - cpu0.busy)) / (cpu1.total - cpu0.total)) : 0,
            rsyncUnreachableWarnings: (result.output.match(/cannot reach \S+ with its root key/g) ?? []).length,
            errorLines: [...new Set(result.output.split("\n").filter((l) => /\berror: /.test(l)).map((l) => l.trim().slice(0, 600)))].slice(0, 8),
            trace: readTrace(traceFile, started, ended),
            samples: sampler?.sampleCount ?? 0,
            log: this.log,
        };
    }

    /** Destroys the stack's resources and removes the stack (and its config file). */
    async destroyAndRemove(): Promise<void> {
        if (this.removed) return;
        await this.run(["destroy", "--yes", "--skip-preview"]);
        await this.run(["stack", "rm", "--yes"]);
        this.removed = true;
    }

    /** Last resort after a failure: drop the stack without touching hosts. */
    async forceRemove(): Promise<void> {
        if (this.removed) return;
        await pulumi(this.dir, ["stack", "rm", "--yes", "--force", "--stack", this.name, "--non-interactive"], { log: this.log });
        this.removed = true;
    }
}

/** Every resource's `__provider` size in an exported state, by resource type. */
export function providerSizes(state: any): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const r of state.deployment?.resources ?? []) {
        const p = r.inputs?.__provider;
        if (typeof p !== "string") continue;
        const type = String(r.type).replace(/^pulumi-nodejs:dynamic\//, "");
        (out[type] ??= []).push(Buffer.byteLength(p));
    }
    return out;
}

/** Undoes the export format's secret wrapping ({<sig>: …, plaintext: "<json>"}). */
export function unwrapSecrets(value: any): any {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        if (typeof value.plaintext === "string" && value[specialSigKey] !== undefined) {
            return unwrapSecrets(JSON.parse(value.plaintext));
        }
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}
