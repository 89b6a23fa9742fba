// The Ansible peer on its own, for one fleet size: what bench/peers.ts measures for
// every tool, without the other tools. Run it as root beside the lab, under the lab lock:
//
//   flock -o /run/ssb-lab.lock node -r ts-node/register/transpile-only bench/peers/ansible/trial.ts --n 5 [--work /tmp/ssb-ansible-trial]
//
// It starts the lab with N appliances, saves the files it will change (each
// appliance's orbinibkp.conf, authorized_keys), resets the fleet to scratch
// (bench/peers/reset.ts), then: converge from scratch, a no-op --check, drift round 1
// (seven cases) --check then converge, round 2 (key removed) --check then converge, a
// last no-op --check. Each run: wall time, changed tasks, SSH handshakes per host
// from the sshd logs, peak memory of the ansible-playbook tree, and spec.ts's
// isConverged after each converge. It puts the saved files back and runs
// `lab/start --appliances 1` at the end, whatever happened.
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { labStart, restoreLab, snapshotLab, type LabSnapshot } from "../../lib/lab";
import { handshakesSince, logFiles, takeOffsets, type Lab } from "../../lib/sshd";
import { type AnsibleRun, changedCount, changesElsewhere, detectedCases, ensureAnsible, prepareAnsible, runAnsible } from "../ansible";
import { resetFleet } from "../reset";
import { DRIFT_ROUNDS, applyDriftRound, cifsPassword, isConverged, loadPeerLab, type PeerLab } from "../spec";

const REPO = path.resolve(__dirname, "..", "..", "..");

function option(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

function say(message: string): void {
    process.stdout.write(`[ansible-trial] ${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

interface Step {
    name: string;
    mode: "check" | "converge";
    wallMs: number;
    exitCode: number | null;
    changed: number;
    changedByHost: Record<string, string[]>;
    failedHosts: string[];
    detected?: string[];
    handshakes: { perAppliance: number[]; backupServerAdmin: number };
    peakTreeRssMiB: number;
    peakTreePssMiB: number;
    processesAtPeak: number;
    peakProcessHwmMiB: number;
    converged?: string[];
    logFile: string;
}

async function main(): Promise<void> {
    const n = Number(option("n") ?? 1);
    const workDir = path.resolve(option("work") ?? `/tmp/ssb-ansible-trial-n${n}`);
    if (!Number.isInteger(n) || n < 1) throw new Error("usage: trial.ts --n N [--work DIR]");
    say(ensureAnsible((m) => say(m)));
    const steps: Step[] = [];
    let lab: PeerLab | undefined;
    let snapshot: LabSnapshot | undefined;
    try {
        say(`lab/start --appliances ${n}`);
        labStart(REPO, n);
        lab = loadPeerLab();
        snapshot = snapshotLab(lab as unknown as Lab, n);
        const reset = resetFleet(lab, n);
        say(`reset to scratch in ${reset.wallMs} ms (${Object.values(reset.appliances).flat().length} orbit commands, ${reset.keyLinesRemoved} key line(s) removed)`);
        fs.rmSync(workDir, { recursive: true, force: true });
        const masterPassword = `trial-${randomBytes(12).toString("base64url")}`;
        prepareAnsible(lab, n, workDir, masterPassword);

        const step = async (name: string, mode: "check" | "converge"): Promise<AnsibleRun> => {
            const offsets = takeOffsets(logFiles(lab as unknown as Lab, n));
            const run = await runAnsible(workDir, mode);
            await new Promise((r) => setTimeout(r, 200)); // sshd writes its log line after the handshake; give it a moment
            const hs = handshakesSince(lab as unknown as Lab, n, offsets);
            const s: Step = {
                name, mode, wallMs: run.wallMs, exitCode: run.exitCode, changed: changedCount(run), changedByHost: run.changedByHost, failedHosts: run.failedHosts,
                handshakes: { perAppliance: hs.perAppliance, backupServerAdmin: hs.backupServerAdmin },
                peakTreeRssMiB: Math.round(run.memory.peakTreeRssKiB / 1024), peakTreePssMiB: Math.round(run.memory.peakTreePssKiB / 1024), processesAtPeak: run.memory.processesAtPeak,
                peakProcessHwmMiB: Math.round(run.memory.peakProcessHwmKiB / 1024), logFile: run.logFile,
            };
            if (mode === "check") s.detected = detectedCases(run);
            if (mode === "converge") s.converged = isConverged(lab!, n, masterPassword);
            steps.push(s);
            say(`${name}: exit ${run.exitCode} in ${(run.wallMs / 1000).toFixed(2)} s; ${s.changed} changed task(s)`
                + `${s.detected ? `; detected [${s.detected.join(", ")}]` : ""}`
                + `${Object.keys(changesElsewhere(run)).length ? `; changes elsewhere ${JSON.stringify(changesElsewhere(run))}` : ""}`
                + `; handshakes per appliance ${Math.min(...hs.perAppliance)}..${Math.max(...hs.perAppliance)}, backup server ${hs.backupServerAdmin}`
                + `; peak tree RSS ${s.peakTreeRssMiB} MiB (PSS ${s.peakTreePssMiB} MiB) over ${s.processesAtPeak} processes (largest process ${s.peakProcessHwmMiB} MiB)`
                + `${s.converged ? `; isConverged: ${s.converged.length === 0 ? "yes" : s.converged.join("; ")}` : ""}`
                + `${run.failedHosts.length ? `; FAILED ${run.failedHosts.join(", ")}: ${JSON.stringify(run.errors)}` : ""}`);
            return run;
        };

        await step("converge from scratch", "converge");
        await step("no-op check", "check");
        say(`drift round 1: ${applyDriftRound(lab, 0).join(", ")}`);
        await step("check after round 1", "check");
        await step("repair round 1", "converge");
        say(`drift round 2: ${applyDriftRound(lab, 1).join(", ")}`);
        await step("check after round 2", "check");
        await step("repair round 2", "converge");
        await step("no-op check after repair", "check");
        // No secret in anything ansible-playbook printed (no_log, stdin only).
        const secrets = [masterPassword, cifsPassword(lab)];
        const leaks = fs.readdirSync(path.join(workDir, "logs")).filter((f) => {
            const text = fs.readFileSync(path.join(workDir, "logs", f), "utf8");
            return secrets.some((secret) => text.includes(secret));
        });
        say(leaks.length === 0 ? "secret scan: neither the master password nor the CIFS password is in any log" : `secret scan: FOUND a secret in ${leaks.join(", ")}`);
        const detected = new Set(steps.flatMap((s) => s.detected ?? []));
        say(`detected ${DRIFT_ROUNDS.flat().filter((id) => detected.has(id)).length} of 8 cases: ${DRIFT_ROUNDS.flat().map((id) => `${id} ${detected.has(id) ? "yes" : "NO"}`).join(", ")}`);
    } finally {
        if (lab) {
            try { resetFleet(lab, n); } catch (err: any) { say(`reset before restore failed: ${err.message}`); }
        }
        if (snapshot) say(`restored ${restoreLab(snapshot).length} file(s)`);
        say("lab/start --appliances 1");
        labStart(REPO, 1);
        fs.mkdirSync(workDir, { recursive: true });
        fs.writeFileSync(path.join(workDir, "trial.json"), JSON.stringify({ n, steps }, null, 2) + "\n");
        say(`figures in ${path.join(workDir, "trial.json")}`);
    }
}

main().catch((err) => {
    process.stderr.write(`[ansible-trial] ${err.stack ?? err}\n`);
    process.exit(1);
});
