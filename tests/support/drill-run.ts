// Runs the restore drill (and drift) as a user runs them (scripts/restore-drill, scripts/drift), sampling the argv
// and environment of the drill and of every process it starts every 5 ms for each
// secret given, and checks that no secret was seen anywhere: the restore drill's and the
// vendor suite's secret scan.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO, TEST_BACKEND_DIR, TEST_PASSPHRASE } from "./engine";

export interface DrillRun {
    code: number;
    stdout: string;
    stderr: string;
    json: any;
    /** The command name of every process sampled: the drill and its descendants. */
    sampled: Set<string>;
    /** Where a needle was found: "<comm> <pid> cmdline|environ". */
    leaks: string[];
}

/** `root` and its descendants, from each thread's /proc/<pid>/task/<tid>/children (Go starts processes from any thread). */
function processTree(root: number): number[] {
    const out: number[] = [];
    const queue = [root];
    while (queue.length > 0 && out.length < 1000) {
        const pid = queue.shift()!;
        out.push(pid);
        let tasks: string[] = [];
        try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; /* gone meanwhile */ }
        for (const tid of tasks) {
            try {
                queue.push(...fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number));
            } catch { /* gone meanwhile */ }
        }
    }
    return out;
}

/**
 * Reads the argv and environment of `root` and all its descendants, looking for each
 * needle. `pulumiConfig`: the Pulumi program's own `PULUMI_CONFIG` variable is how the
 * engine hands the stack's config, decrypted, to the program (Pulumi's design, not
 * ours): a needle found only there is counted in `configChannel`, not as a leak.
 */
export function sample(root: number, needles: readonly string[], run: Pick<DrillRun, "sampled" | "leaks"> & { configChannel?: Set<string> }, options: { pulumiConfig?: boolean } = {}): void {
    for (const pid of processTree(root)) {
        try {
            const comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
            run.sampled.add(comm);
            for (const what of ["cmdline", "environ"] as const) {
                const text = fs.readFileSync(`/proc/${pid}/${what}`).toString("latin1");
                for (const needle of needles) {
                    if (!text.includes(needle)) continue;
                    const holders = text.split("\0").filter((entry) => entry.includes(needle));
                    if (options.pulumiConfig && what === "environ" && holders.every((entry) => entry.startsWith("PULUMI_CONFIG="))) {
                        run.configChannel?.add(`${comm} ${pid}`);
                    } else {
                        run.leaks.push(`${comm} ${pid} ${what}`);
                    }
                }
            }
        } catch { /* gone meanwhile */ }
    }
}

/** Runs scripts/restore-drill as a user would on the stack of the project in `cwd`, sampling its processes every few milliseconds. */
export function runDrill(cwd: string, stack: string, args: string[], needles: readonly string[]): Promise<DrillRun> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", [path.join(REPO, "scripts", "restore-drill"), "--stack", stack, "--cwd", cwd, ...args], {
            env: { ...process.env, PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE },
            stdio: ["ignore", "pipe", "pipe"],
        });
        const run: DrillRun = { code: -1, stdout: "", stderr: "", json: undefined, sampled: new Set(), leaks: [] };
        const timer = setInterval(() => sample(child.pid!, needles, run), 5);
        child.stdout.on("data", (d) => { run.stdout += d; });
        child.stderr.on("data", (d) => { run.stderr += d; });
        child.on("error", reject);
        child.on("close", (code) => {
            clearInterval(timer);
            run.code = code ?? -1;
            try { run.json = JSON.parse(run.stdout); } catch { /* text mode */ }
            resolve(run);
        });
    });
}

/** scripts/drift on a stack, as CI runs it: exit code, JSON report, and a text to explain a failure. */
export function runDrift(cwd: string, stack: string): { code: number | null; json: any; text: string } {
    const r = spawnSync("bash", [path.join(REPO, "scripts", "drift"), "--stack", stack, "--cwd", cwd, "--json"], {
        env: { ...process.env, PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE }, encoding: "utf8", timeout: 300_000,
    });
    let json: any;
    try { json = JSON.parse(r.stdout); } catch { /* shown in text */ }
    return { code: r.status, json, text: `exit ${r.status}\n${r.stdout.slice(0, 3000)}\n${r.stderr.slice(-3000)}` };
}

/** The drill found nothing secret anywhere it can be seen. */
export function assertNoLeak(run: DrillRun, needles: readonly string[]): void {
    assert.deepEqual(run.leaks, [], "a secret in the argv or environment of the drill or a process it started");
    for (const needle of needles) {
        assert.ok(!run.stdout.includes(needle), "a secret on the drill's stdout");
        assert.ok(!run.stderr.includes(needle), "a secret on the drill's stderr");
    }
}

export const explain = (run: DrillRun) => `exit ${run.code}\nstdout: ${run.stdout.slice(0, 4000)}\nstderr: ${run.stderr.slice(-4000)}`;

