// One measured piece of work in its own Node process (a plain-JavaScript probe under
// bench/lib/), given its input on stdin (which may hold a secret), sampled with its
// children for memory; resolves with the one JSON line it prints.
import { spawn } from "child_process";
import * as path from "path";
import { ProcessSampler, cpuTimes } from "./proc";

const REPO = path.resolve(__dirname, "..", "..");

export function runProbe(script: string, input: unknown, what: string): Promise<{ out: any; records: ReturnType<ProcessSampler["stop"]>; busy: number }> {
    return new Promise((resolve, reject) => {
        const cpuBefore = cpuTimes();
        const child = spawn(process.execPath, [path.join(REPO, "bench", "lib", script)], { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
        const sampler = new ProcessSampler(child.pid!, 50);
        sampler.start();
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => { stdout += d; });
        child.stderr.on("data", (d) => { stderr += d; });
        child.stdin.end(JSON.stringify(input));
        child.on("close", (code) => {
            const records = sampler.stop();
            const cpuAfter = cpuTimes();
            const busy = (cpuAfter.busy - cpuBefore.busy) / Math.max(1, cpuAfter.total - cpuBefore.total);
            if (code !== 0) { reject(new Error(`${what} failed (exit ${code}): ${stderr.trim()}`)); return; }
            try { resolve({ out: JSON.parse(stdout), records, busy }); } catch { reject(new Error(`the probe printed no result: ${stdout.slice(0, 200)} ${stderr.trim()}`)); }
        });
    });
}
