// The fleet benchmark. Run it with `npm run bench` (see docs/benchmark.md).
//
//   npm run bench                        # N = 1, 5, 20
//   npm run bench -- --n 1,5 --repeat 5  # other fleet sizes, more refresh rounds
//   npm run bench -- --report FILE       # print the tables of an earlier run again
//   npm run bench -- --checksums-only    # only the checksum figure (digestFiles over 1 GiB on rsync, CIFS, NFS)
//   npm run bench -- --vendor-set-only   # only the vendor set figure (verification and drill of 1 GiB of AES Crypt)
//
// Every fleet size runs in its own locked section (bench/section.ts under
// `flock /run/ssb-lab.lock`), which leaves the lab as it found it. Results go to
// bench/results/ (gitignored): bench-<time>.json, and latest.json.
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO, RESULTS, STATE_DIR, pulumi } from "./lib/pulumi";
import { type Report, buildReport, renderReport } from "./lib/report";
import { type ChecksumResult, renderChecksums } from "./checksums";
import { type VendorSetResult, renderVendorSet } from "./vendor-set";
import type { SectionResult } from "./section";
import { commandLine } from "./lib/args";

const USAGE = `usage: npm run bench -- [--n 1,5,20] [--repeat 3] [--parallel P] [--no-verify] [--no-raw]
                      [--no-checksums | --checksums-only] [--checksum-gib 1] [--vendor-set-only [--vendor-set-gib 1]]
                      [--lock /run/ssb-lab.lock] [--out FILE] [--report FILE]
  --n         fleet sizes (lab appliances), comma-separated           (default 1,5,20)
  --repeat    rounds of ours' no-op refresh and the baseline's re-read, and of the engine-free reads (default 3)
  --parallel  passed to every pulumi up/preview/destroy            (default: the CLI's own)
  --no-verify skip the verification-backup measurement
  --no-raw    skip the engine-free reads
  --no-checksums    skip the checksum figure (digestFiles over a 1 GiB set on rsync, CIFS and NFS)
  --checksums-only  measure only the checksum figure
  --checksum-gib    the size of the checksum figure's set, in GiB     (default 1)
  --vendor-set-only measure only the vendor set figure: a vendor appliance's AES Crypt backup set verified and drilled on rsync, CIFS and NFS
  --vendor-set-gib  the size of that set, in GiB                      (default 1)
  --lock      the shared lab's lock file (default $SSB_LAB_LOCK or /run/ssb-lab.lock)
  --out       the JSON file of figures                  (default bench/results/bench-<time>.json)
  --report    print the tables of an earlier JSON file and exit
  --peers     the peers benchmark instead (bench/peers.ts: ours, @pulumi/command, Ansible); --peers --help for its options`;

const { option, flag } = commandLine(USAGE);

function say(message: string): void {
    process.stdout.write(`[bench] ${message}\n`);
}

/** Removes benchmark stacks an interrupted run left in the benchmark's own backend (never touches hosts). */
async function removeLeftovers(): Promise<void> {
    if (!fs.existsSync(STATE_DIR)) return;
    for (const program of ["fleet", "baseline"]) {
        const dir = path.join(REPO, "bench", "programs", program);
        const ls = await pulumi(dir, ["stack", "ls", "--json"]);
        if (ls.code !== 0) continue;
        let stacks: Array<{ name: string }> = [];
        try { stacks = JSON.parse(ls.output); } catch { continue; }
        for (const s of stacks) {
            say(`removing the leftover stack ${s.name} of an interrupted run (state only; 'bash lab/start --reset' clears the lab if it was left changed)`);
            await pulumi(dir, ["stack", "rm", "--yes", "--force", "--stack", s.name, "--non-interactive"]);
        }
    }
}

/**
 * What loading our providers adds to a fresh dynamic-provider process, outside the
 * engine: time and peak memory of require("senhasegura-backup/provider"), the
 * compiled package entry every resource's __provider names, resolved from the fleet
 * program's directory as the host resolves it.
 */
function coldStart(runs: number): { runs: number; medianMs: number; samplesMs: number[]; baseMiB: number; withProvidersMiB: number } {
    // The dynamic-provider process has @pulumi/pulumi loaded before it evaluates a __provider: so here.
    const script = `
require("@pulumi/pulumi");
const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(require("fs").readFileSync("/proc/self/status", "utf8"))[1]) / 1024;
const base = hwm();
const t = process.hrtime.bigint();
require("senhasegura-backup/provider");
process.stdout.write(JSON.stringify({ ms: Number(process.hrtime.bigint() - t) / 1e6, base, after: hwm() }));`;
    const samples: Array<{ ms: number; base: number; after: number }> = [];
    for (let i = 0; i < runs; i++) {
        const out = execFileSync(process.execPath, ["-e", script], { cwd: path.join(REPO, "bench", "programs", "fleet"), env: { ...process.env, NODE_OPTIONS: "" } });
        samples.push(JSON.parse(out.toString()));
    }
    const sorted = [...samples].sort((a, b) => a.ms - b.ms);
    const mid = sorted[Math.floor((runs - 1) / 2)];
    return { runs, medianMs: Math.round(mid.ms), samplesMs: samples.map((x) => Math.round(x.ms)), baseMiB: Math.round(mid.base), withProvidersMiB: Math.round(mid.after) };
}

/** The @pulumi/command SDK the baseline program loads; the engine runs the plugin of the same version. */
function commandVersion(): string {
    try {
        return JSON.parse(fs.readFileSync(path.join(REPO, "node_modules", "@pulumi", "command", "package.json"), "utf8")).version;
    } catch {
        return "unknown";
    }
}

/** Processes that have the lock file open (the holder, and flock(1)s waiting for it), for a long wait. */
function lockUsers(lock: string): string[] {
    const out: string[] = [];
    for (const pid of fs.readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        try {
            const fds = fs.readdirSync(`/proc/${pid}/fd`);
            if (!fds.some((fd) => { try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === lock; } catch { return false; } })) continue;
            out.push(`${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").slice(0, 120)}`);
        } catch { /* gone, or not ours to read */ }
    }
    return out;
}

function runSection(lock: string, n: number, out: string, extra: string[]): Promise<number> {
    return runLocked(lock, `N=${n}`, "section.ts", ["--n", String(n), "--out", out, ...extra], out);
}

/** Runs one bench/<script> under the lab's lock; `out` is the file it writes, and `${out}.started` says it holds the lock. */
function runLocked(lock: string, what: string, script: string, scriptArgs: string[], out: string): Promise<number> {
    return new Promise((resolve) => {
        // -o: flock holds the lock itself and does not pass its descriptor on. Otherwise a
        // daemon that lab/start (re)starts (smbd, ganesha) would inherit it and hold the
        // lab's lock for as long as it runs.
        const args = ["-o", lock, process.execPath, "-r", "ts-node/register/transpile-only", path.join(REPO, "bench", script), ...scriptArgs];
        say(`${what}: waiting for the lab lock ${lock} (other engineers share the lab)`);
        const child = spawn("flock", args, { cwd: REPO, stdio: "inherit", env: process.env });
        const started = Date.now();
        let printed = false;
        const timer = setInterval(() => {
            if (printed || fs.existsSync(`${out}.started`)) return;
            if (Date.now() - started > 10 * 60_000) {
                printed = true;
                say(`${what}: still waiting for ${lock} after 10 minutes; processes that have it open:\n  ${lockUsers(lock).join("\n  ")}`);
            }
        }, 30_000);
        child.on("close", (code) => { clearInterval(timer); fs.rmSync(`${out}.started`, { force: true }); resolve(code ?? 1); });
    });
}

/** A figure measured by its own script in its own locked section, and its results. */
async function measureLocked<R>(lock: string, stamp: string, name: string, script: string, args: string[]): Promise<R | undefined> {
    const out = path.join(RESULTS, `section-${name}-${stamp}.json`);
    const code = await runLocked(lock, name, script, ["--out", out, ...args], out);
    if (!fs.existsSync(out)) {
        say(`${name}: the section wrote no results (exit ${code})`);
        return undefined;
    }
    const result = JSON.parse(fs.readFileSync(out, "utf8")) as R;
    fs.rmSync(out);
    return result;
}

/** The checksum figure, in its own locked section. */
function measureChecksums(lock: string, stamp: string): Promise<ChecksumResult | undefined> {
    return measureLocked<ChecksumResult>(lock, stamp, "checksums", "checksums.ts", ["--gib", option("checksum-gib") ?? "1"]);
}

/** Only the vendor set figure, printed and kept as bench-vendor-set-<time>.json. */
async function vendorSetOnly(lock: string, stamp: string): Promise<void> {
    const result = await measureLocked<VendorSetResult>(lock, stamp, "vendor-set", "vendor-set.ts", ["--gib", option("vendor-set-gib") ?? "1"]);
    if (!result) { process.exitCode = 1; return; }
    const outFile = path.resolve(option("out") ?? path.join(RESULTS, `bench-vendor-set-${stamp}.json`));
    const meta = { date: new Date().toISOString(), nodeVersion: process.version, cpus: os.cpus().length, memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10 };
    fs.writeFileSync(outFile, JSON.stringify({ meta, vendorSet: result }, null, 2));
    console.log(`\n${renderVendorSet(result)}\n`);
    say(`figures: ${outFile}`);
    if (result.errors.length > 0) process.exitCode = 1;
}

async function main(): Promise<void> {
    if (flag("peers")) {
        // The peers benchmark (bench/peers.ts): ours against @pulumi/command and Ansible. Its own options.
        const args = process.argv.slice(2).filter((a) => a !== "--peers");
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(REPO, "bench", "peers.ts"), ...args], { cwd: REPO, stdio: "inherit", env: process.env });
        process.exitCode = r.status ?? 1;
        return;
    }
    if (flag("help") || flag("h")) { console.log(USAGE); return; }
    const reportFile = option("report");
    if (reportFile) {
        const report = JSON.parse(fs.readFileSync(reportFile, "utf8")) as Report & { sections?: SectionResult[]; checksums?: ChecksumResult; vendorSet?: VendorSetResult };
        if (report.sections?.length) console.log(renderReport(buildReport(report.meta, report.sections)));
        if (report.checksums) console.log(`\n${renderChecksums(report.checksums)}`);
        if (report.vendorSet) console.log(`\n${renderVendorSet(report.vendorSet)}`);
        return;
    }
    const lock = option("lock") ?? process.env.SSB_LAB_LOCK ?? "/run/ssb-lab.lock";
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    fs.mkdirSync(RESULTS, { recursive: true });
    if (flag("checksums-only") && flag("no-checksums")) throw new Error(`--checksums-only and --no-checksums exclude each other\n${USAGE}`);
    if (flag("vendor-set-only")) { await vendorSetOnly(lock, stamp); return; }
    if (flag("checksums-only")) {
        const checksums = await measureChecksums(lock, stamp);
        if (!checksums) { process.exitCode = 1; return; }
        const outFile = path.resolve(option("out") ?? path.join(RESULTS, `bench-checksums-${stamp}.json`));
        const meta = { date: new Date().toISOString(), nodeVersion: process.version, cpus: os.cpus().length, memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10 };
        fs.writeFileSync(outFile, JSON.stringify({ meta, checksums }, null, 2));
        console.log("");
        console.log(renderChecksums(checksums));
        console.log("");
        say(`figures: ${outFile}`);
        if (checksums.errors.length > 0) process.exitCode = 1;
        return;
    }
    const ns = (option("n") ?? "1,5,20").split(",").map((x) => Number(x.trim()));
    if (ns.some((n) => !Number.isInteger(n) || n < 1 || n > 200)) throw new Error(`--n takes fleet sizes from 1 to 200\n${USAGE}`);
    const repeat = Number(option("repeat") ?? 3);
    if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a positive integer\n${USAGE}`);
    const parallel = option("parallel");
    const outFile = path.resolve(option("out") ?? path.join(RESULTS, `bench-${stamp}.json`));

    let pulumiVersion = "unknown";
    try { pulumiVersion = execFileSync("pulumi", ["version"]).toString().trim(); } catch {
        throw new Error("no pulumi CLI on PATH: run the benchmark with 'npm run bench' (bench/run sources scripts/env.sh after the README set-up)");
    }
    await removeLeftovers();
    say("measuring the dynamic-provider start-up outside the engine (no lab needed)");
    const cold = coldStart(3);

    const sections: SectionResult[] = [];
    let failed = 0;
    for (const [i, n] of ns.entries()) {
        const sectionOut = path.join(RESULTS, `section-n${n}-${stamp}.json`);
        const extra = ["--repeat", String(repeat)];
        if (parallel) extra.push("--parallel", parallel);
        if (flag("no-verify")) extra.push("--no-verify");
        if (flag("no-raw")) extra.push("--no-raw");
        if (i === 0) extra.push("--unit-costs");
        const code = await runSection(lock, n, sectionOut, extra);
        if (code !== 0) failed++;
        if (fs.existsSync(sectionOut)) {
            sections.push(JSON.parse(fs.readFileSync(sectionOut, "utf8")));
            fs.rmSync(sectionOut);
        } else {
            say(`N=${n}: the section wrote no results (exit ${code})`);
        }
    }
    const checksums = flag("no-checksums") ? undefined : await measureChecksums(lock, stamp);
    if (checksums && checksums.errors.length > 0) failed++;

    const meta = {
        date: new Date().toISOString(), pulumiVersion, nodeVersion: process.version, cpus: os.cpus().length,
        memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10, parallel: parallel ? Number(parallel) : null, repeat, ns,
        baseline: "@pulumi/command remote.Command, one per read, each on its own SSH connection; re-read by pulumi up with a new runId in its triggers (remote.Command has no read)",
        commandVersion: commandVersion(),
        coldStart: cold,
        unitCosts: sections.find((s) => s.unitCosts)?.unitCosts,
    };
    const report = buildReport(meta, sections);
    const json = { ...report, sections, checksums };
    fs.writeFileSync(outFile, JSON.stringify(json, null, 2));
    fs.writeFileSync(path.join(RESULTS, "latest.json"), JSON.stringify(json, null, 2));
    console.log("");
    console.log(renderReport(report));
    if (checksums) console.log(`\n${renderChecksums(checksums)}`);
    console.log("");
    say(`figures: ${outFile} (and bench/results/latest.json); logs and provider traces: bench/results/logs/`);
    if (failed > 0) process.exitCode = 1;
}

main().catch((err) => {
    process.stderr.write(`[bench] ${(err as Error).message}\n`);
    process.exit(1);
});
