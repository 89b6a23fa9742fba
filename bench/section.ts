// One locked section of the benchmark: everything that touches the lab for one
// fleet size N. bench/run.ts starts it under `flock /run/ssb-lab.lock`, so it
// must leave the lab as it found it: stacks destroyed and removed, the files our
// stacks change restored, the lab back to one appliance.
//
//   node -r ts-node/register/transpile-only bench/section.ts --n 5 --out FILE [--repeat 3]
//        [--parallel P] [--no-verify] [--unit-costs] [--no-raw]
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { LAB_JSON, type LabSnapshot, labStart, loadLab, removeBackupFiles, restoreLab, snapshotLab } from "./lib/lab";
import { BenchStack, type PhaseResult, REPO, RESULTS, providerSizes } from "./lib/pulumi";
import { applianceConnection, serverConnection } from "./lib/fleet";
import { type RawRun, type UnitCost, rawPerCommand, rawPooled, unitCosts } from "./lib/raw";
import { refreshReads } from "./lib/baseline-reads";
import type { Lab } from "./lib/sshd";

export interface VerificationResult {
    phase: PhaseResult;
    succeeded: number;
    failed: number;
    /** Distinct error lines from the CLI output. */
    errors: string[];
    /** orbit's own duration of each backup that landed. */
    backupDurationsMs: number[];
    /** The failed ones run again with --parallel 1, when any failed. */
    retry?: PhaseResult;
    landedAfterRetry: number;
}

export interface SectionResult {
    n: number;
    startedAt: string;
    parallel: number | null;
    repeat: number;
    labStartMs: number;
    phases: Record<string, PhaseResult[]>;
    providerBytes: { ours: Record<string, number[]>; baseline: Record<string, number[]> };
    stateBytes: { ours: number; baseline: number };
    resources: { ours: number; baseline: number };
    /** The reads without the engine: ours over the pool, and the baseline's commands on one new ssh2 connection each. */
    raw: { pooled: RawRun[]; perCommand: RawRun[] };
    unitCosts?: UnitCost[];
    verification?: VerificationResult;
    cleanup: { restoredFiles: string[]; removedBackupFiles: number; labRestoreMs: number };
    errors: string[];
}

function option(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

function say(message: string): void {
    process.stdout.write(`[bench] ${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

function summary(p: PhaseResult): string {
    const hs = p.handshakes.perAppliance;
    return `${p.name}: ${p.ok ? "ok" : `FAILED (exit ${p.exitCode})`} in ${(p.wallMs / 1000).toFixed(2)} s; handshakes per appliance ${Math.min(...hs)}..${Math.max(...hs)}, backup server ${p.handshakes.backupServerAdmin}; provider peak ${p.provider.peakHwmMiB} MiB (${p.provider.kinds.join(", ") || "none started"})`;
}

async function main(): Promise<void> {
    const n = Number(option("n"));
    const out = option("out");
    const repeat = Number(option("repeat") ?? 3);
    const parallel = option("parallel") ? Number(option("parallel")) : null;
    const verify = !flag("no-verify");
    if (!Number.isInteger(n) || n < 1 || !out) throw new Error("usage: section.ts --n N --out FILE [--repeat R] [--parallel P] [--no-verify] [--unit-costs] [--no-raw]");
    fs.writeFileSync(`${out}.started`, ""); // tells bench/run.ts the lock is ours
    const tag = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
    const logDir = path.join(RESULTS, "logs", `n${n}-${tag}`);
    fs.mkdirSync(logDir, { recursive: true });
    const par = parallel ? ["--parallel", String(parallel)] : [];

    const result: SectionResult = {
        n, startedAt: new Date().toISOString(), parallel, repeat, labStartMs: 0, phases: {},
        providerBytes: { ours: {}, baseline: {} }, stateBytes: { ours: 0, baseline: 0 }, resources: { ours: 0, baseline: 0 },
        raw: { pooled: [], perCommand: [] },
        cleanup: { restoredFiles: [], removedBackupFiles: 0, labRestoreMs: 0 }, errors: [],
    };
    const record = (p: PhaseResult): PhaseResult => {
        (result.phases[p.name] ??= []).push(p);
        say(summary(p));
        return p;
    };
    /** A phase that must succeed for the next ones to mean anything: on failure it runs once more (a user would). */
    const measure = async (stack: BenchStack, name: string, args: string[]): Promise<PhaseResult> => {
        const p = record(await stack.phase(name, args, lab!, n));
        if (p.ok) return p;
        say(`N=${n}: ${name} failed (${p.errorLines.find((l) => / failed: /.test(l))?.replace(/^.*?error: /, "") ?? `exit ${p.exitCode}`}); running it once more`);
        const again = record(await stack.phase(`${name} retry`, args, lab!, n));
        if (!again.ok) throw new Error(`${name} failed twice; see ${again.log}`);
        return again;
    };

    let lab: Lab | undefined;
    let snapshot: LabSnapshot | undefined;
    const ours = new BenchStack("fleet", `bench-ours-n${n}-${tag}`, logDir);
    const baseline = new BenchStack("baseline", `bench-base-n${n}-${tag}`, logDir);
    const backupFiles: string[] = [];
    try {
        say(`N=${n}: lab/start --appliances ${n}`);
        result.labStartMs = labStart(REPO, n);
        lab = loadLab();
        snapshot = snapshotLab(lab, n);
        await ours.init({
            labFile: { value: LAB_JSON }, count: { value: String(n) }, verify: { value: "false" },
            masterPassword: { value: `bench-${randomBytes(12).toString("base64url")}`, secret: true },
        });
        await baseline.init({ labFile: { value: LAB_JSON }, count: { value: String(n) }, runId: { value: "initial" } });

        say(`N=${n}: pulumi up of ${n} ApplianceBackup component(s), verification off`);
        await measure(ours, "up", ["up", "--yes", "--skip-preview", ...par]);
        const state = await ours.exportState();
        result.providerBytes.ours = providerSizes(state);
        result.stateBytes.ours = Buffer.byteLength(JSON.stringify(state));
        result.resources.ours = (state.deployment?.resources ?? []).length;

        const baselineCommands = lab.appliances.slice(0, n).flatMap((a) => refreshReads(applianceConnection(a), serverConnection(lab!), lab!.rsyncServer.backupUser)).length;
        say(`N=${n}: baseline up (${baselineCommands} remote.Commands, one SSH connection each)`);
        await measure(baseline, "baseline up", ["up", "--yes", "--skip-preview", ...par]);
        const baseState = await baseline.exportState();
        result.providerBytes.baseline = providerSizes(baseState);
        result.stateBytes.baseline = Buffer.byteLength(JSON.stringify(baseState));
        result.resources.baseline = (baseState.deployment?.resources ?? []).length;

        for (let r = 1; r <= repeat; r++) {
            say(`N=${n}: ours no-op preview --refresh, then the baseline's re-read (up with a new runId), round ${r}/${repeat}`);
            // --expect-no-changes: a refresh that finds drift fails, and is reported as FAILED.
            const refresh = record(await ours.phase("refresh", ["preview", "--refresh", "--expect-no-changes", ...par], lab, n));
            if (!refresh.ok) result.errors.push(`refresh was not a no-op or failed: ${refresh.errorLines.join(" | ").slice(0, 400)}`);
            // remote.Command has no read: the only way to run its reads again is to replace
            // every command, here through the runId in its triggers, as a scheduled job would.
            const reread = record(await baseline.phase("baseline re-read", ["up", "--yes", "--skip-preview", "--config", `runId=${tag}-r${r}`, ...par], lab, n));
            if (!reread.ok) result.errors.push(`baseline re-read failed: ${reread.errorLines.join(" | ").slice(0, 400)}`);
        }
        // What a refresh of the baseline does: nothing on the hosts (remote.Command has no
        // read). Measured once, so the report shows it, not just says it.
        say(`N=${n}: baseline preview --refresh (remote.Command has no read: expect no handshakes)`);
        const baseRefresh = record(await baseline.phase("baseline refresh", ["preview", "--refresh", "--expect-no-changes", ...par], lab, n));
        if (!baseRefresh.ok) result.errors.push(`baseline refresh was not a no-op or failed: ${baseRefresh.errorLines.join(" | ").slice(0, 400)}`);

        if (!flag("no-raw")) {
            const secretState = await ours.exportState(true);
            for (let r = 1; r <= repeat; r++) {
                say(`N=${n}: the same reads without the engine, round ${r}/${repeat}`);
                result.raw.pooled.push(await rawPooled(lab, n, secretState));
                result.raw.perCommand.push(await rawPerCommand(lab, n));
            }
        }
        if (flag("unit-costs")) {
            say(`N=${n}: unit costs, one operation at a time`);
            result.unitCosts = await unitCosts(lab, 10);
        }

        if (verify) {
            say(`N=${n}: verification backups (measured apart): up with verify=true`);
            await ours.setConfig("verify", "true");
            const phase = await ours.phase("verify up", ["up", "--yes", "--skip-preview", ...par], lab, n);
            (result.phases[phase.name] ??= []).push(phase);
            say(summary(phase));
            const landed = async () => ((await ours.exportState()).deployment?.resources ?? []).filter((r: any) => String(r.type).endsWith(":BackupVerification"));
            const first = await landed();
            let retry: PhaseResult | undefined;
            if (!phase.ok) {
                // What a user does next: run the failed ones again, one at a time. (Before
                // restrictTo wrote rrsync -no-lock, its single-run lock made most fail here.)
                say(`N=${n}: ${n - first.length} verification(s) failed; running them again one at a time (--parallel 1)`);
                retry = await ours.phase("verify retry", ["up", "--yes", "--skip-preview", "--parallel", "1"], lab, n);
                (result.phases[retry.name] ??= []).push(retry);
                say(summary(retry));
            }
            const verifications = retry ? await landed() : first;
            for (const v of verifications) backupFiles.push(...(v.outputs?.files ?? []));
            result.verification = {
                phase, succeeded: first.length, failed: n - first.length, errors: phase.errorLines,
                backupDurationsMs: verifications.map((v: any) => Number(v.outputs?.durationMs)).filter((x: number) => Number.isFinite(x)),
                retry, landedAfterRetry: verifications.length,
            };
            await ours.setConfig("verify", "false");
            await ours.run(["up", "--yes", "--skip-preview", ...par]);
        }

        say(`N=${n}: destroy`);
        await measure(ours, "destroy", ["destroy", "--yes", "--skip-preview", ...par]);
        await ours.run(["stack", "rm", "--yes"]);
        ours.removed = true;
        await measure(baseline, "baseline destroy", ["destroy", "--yes", "--skip-preview", ...par]);
        await baseline.run(["stack", "rm", "--yes"]);
        baseline.removed = true;
    } catch (err) {
        result.errors.push(String((err as Error).stack ?? err));
        say(`N=${n}: ERROR ${(err as Error).message.split("\n")[0]}`);
    } finally {
        for (const s of [ours, baseline]) {
            if (s.removed) continue;
            try {
                await s.destroyAndRemove();
            } catch (err) {
                result.errors.push(`cleanup of ${s.name}: ${(err as Error).message.split("\n")[0]}`);
                await s.forceRemove().catch(() => undefined);
            }
        }
        try {
            if (lab) result.cleanup.removedBackupFiles = removeBackupFiles(lab.rsyncServer.backupPath, backupFiles);
            if (snapshot) result.cleanup.restoredFiles = restoreLab(snapshot);
        } catch (err) {
            result.errors.push(`restoring the lab: ${(err as Error).message}`);
        }
        say(`N=${n}: restoring the lab's default (lab/start --appliances 1)`);
        try {
            result.cleanup.labRestoreMs = labStart(REPO, 1);
        } catch (err) {
            result.errors.push(String(err));
        }
        fs.writeFileSync(out, JSON.stringify(result, null, 2));
    }
    if (result.errors.length > 0) process.exitCode = 1;
}

main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
});
