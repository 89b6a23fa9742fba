// Samples /proc every 100 ms for the processes a Pulumi CLI run spawns: the
// dynamic-provider process(es) (node …/@pulumi/pulumi/cmd/dynamic-provider), the
// command plugin (pulumi-resource-command, the baseline's provider), the program
// (node …/cmd/run), the language host and the CLI itself. Only
// descendants of the CLI we started are looked at, so other engineers' Pulumi
// runs on the same machine are never counted.
import * as fs from "fs";

export type Role = "dynamic-provider" | "command-provider" | "program" | "language-host" | "cli" | "other";

export interface ProcessRecord {
    pid: number;
    role: Role;
    /** Peak resident set size (VmHWM) seen, in KiB. */
    hwmKiB: number;
    /** Largest VmRSS sample, in KiB. */
    rssKiB: number;
    /** CPU time (user + system) at the last sample, in ms. */
    cpuMs: number;
    firstSeenMs: number;
    lastSeenMs: number;
}

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

function readText(file: string): string | undefined {
    try { return fs.readFileSync(file, "utf8"); } catch { return undefined; }
}

/** ppid and cpu ms from /proc/<pid>/stat (the command name may contain spaces and parentheses). */
function statOf(pid: number): { ppid: number; cpuMs: number } | undefined {
    const text = readText(`/proc/${pid}/stat`);
    if (!text) return undefined;
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is state (field 3); ppid is field 4, utime 14, stime 15
    return { ppid: Number(fields[1]), cpuMs: (Number(fields[11]) + Number(fields[12])) * TICK_MS };
}

export function roleOf(cmdline: string[]): Role {
    const script = cmdline[1] ?? "";
    if (/cmd[\\/]dynamic-provider([\\/]index\.js)?$/.test(script)) return "dynamic-provider";
    if (/(^|\/)pulumi-resource-command$/.test(cmdline[0] ?? "")) return "command-provider";
    if (/@pulumi[\\/]pulumi[\\/]cmd[\\/]run/.test(cmdline.join(" "))) return "program";
    if (/pulumi-language-nodejs$/.test(cmdline[0] ?? "")) return "language-host";
    if (/(^|\/)pulumi$/.test(cmdline[0] ?? "")) return "cli";
    return "other";
}

export class ProcessSampler {
    private timer?: NodeJS.Timeout;
    private readonly records = new Map<number, ProcessRecord>();
    private samples = 0;

    constructor(private readonly rootPid: number, private readonly intervalMs = 100) {}

    start(): void {
        this.sample();
        this.timer = setInterval(() => this.sample(), this.intervalMs);
    }

    stop(): ProcessRecord[] {
        if (this.timer) clearInterval(this.timer);
        return [...this.records.values()];
    }

    get sampleCount(): number { return this.samples; }

    private sample(): void {
        this.samples++;
        const children = new Map<number, number[]>();
        for (const entry of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(entry)) continue;
            const pid = Number(entry);
            const st = statOf(pid);
            if (!st) continue;
            const list = children.get(st.ppid) ?? [];
            list.push(pid);
            children.set(st.ppid, list);
        }
        const queue = [this.rootPid];
        const now = Date.now();
        while (queue.length > 0) {
            const pid = queue.shift()!;
            queue.push(...(children.get(pid) ?? []));
            let record = this.records.get(pid);
            // A process caught between fork and exec still shows its parent's command line
            // (the CLI's, for a plugin it starts): look again.
            if (!record || record.role === "other" || (record.role === "cli" && pid !== this.rootPid)) {
                const cmdline = (readText(`/proc/${pid}/cmdline`) ?? "").split("\0").filter(Boolean);
                if (cmdline.length === 0) continue;
                const role = pid === this.rootPid ? "cli" : roleOf(cmdline);
                if (!record) {
                    record = { pid, role, hwmKiB: 0, rssKiB: 0, cpuMs: 0, firstSeenMs: now, lastSeenMs: now };
                    this.records.set(pid, record);
                } else if (role !== record.role) {
                    Object.assign(record, { role, hwmKiB: 0, rssKiB: 0 });
                }
            }
            const status = readText(`/proc/${pid}/status`);
            if (!status) continue;
            const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
            const rss = /VmRSS:\s+(\d+) kB/.exec(status);
            if (hwm) record.hwmKiB = Math.max(record.hwmKiB, Number(hwm[1]));
            if (rss) record.rssKiB = Math.max(record.rssKiB, Number(rss[1]));
            const st = statOf(pid);
            if (st) record.cpuMs = st.cpuMs;
            record.lastSeenMs = now;
        }
    }
}

/** Busy share of all CPUs between two readings of /proc/stat, for context (the machine is shared). */
export function cpuTimes(): { busy: number; total: number } {
    const line = (readText("/proc/stat") ?? "").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = (line[3] ?? 0) + (line[4] ?? 0);
    const total = line.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
}
