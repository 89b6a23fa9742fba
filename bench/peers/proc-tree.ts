// Peak memory of a whole process tree, for a peer tool that forks (ansible-playbook
// and its workers, the ssh clients they start). Samples /proc every 100 ms like
// bench/lib/proc.ts, but adds up the tree: the figure is the largest sum of VmRSS
// over the processes alive at one sample, which is what the machine had to hold at
// once. Only the descendants of the process we started are counted, plus (optionally)
// processes whose command line holds a marker: ssh's ControlPersist masters detach
// from the tree (they are re-parented to init), and their command line names the
// control socket directory, which is unique to one run's work directory.
import * as fs from "fs";

export interface TreeMemory {
    /** Largest sum of VmRSS over the tree at one sample, in KiB. */
    peakTreeRssKiB: number;
    /** How many processes the tree had at that sample. */
    processesAtPeak: number;
    /**
     * Largest sum of Pss (proportional set size, /proc/<pid>/smaps_rollup) at one sample, in KiB:
     * forked workers share most of their pages with their parent, which the RSS sum counts
     * once per process; Pss splits each shared page among its sharers.
     */
    peakTreePssKiB: number;
    /** Largest VmHWM of any one process, in KiB, and its command name. */
    peakProcessHwmKiB: number;
    peakProcessName: string;
    /** Distinct processes seen over the run. */
    processesSeen: number;
    samples: number;
}

function readText(file: string): string | undefined {
    try { return fs.readFileSync(file, "utf8"); } catch { return undefined; }
}

/** ppid and command name from /proc/<pid>/stat text (the name may hold spaces and parentheses). Pure. */
export function parseStat(text: string): { ppid: number; comm: string } | undefined {
    const open = text.indexOf("(");
    const close = text.lastIndexOf(")");
    if (open < 0 || close < open) return undefined;
    const fields = text.slice(close + 2).split(" ");
    const ppid = Number(fields[1]);
    return Number.isInteger(ppid) ? { ppid, comm: text.slice(open + 1, close) } : undefined;
}

/** The processes to count in one snapshot: the root's descendants (and itself), plus the marked ones. Pure. */
export function treeOf(rootPid: number, parents: Map<number, number>, marked: Iterable<number> = []): Set<number> {
    const children = new Map<number, number[]>();
    for (const [pid, ppid] of parents) (children.get(ppid) ?? children.set(ppid, []).get(ppid)!).push(pid);
    const out = new Set<number>();
    const queue = [rootPid, ...marked];
    while (queue.length > 0) {
        const pid = queue.shift()!;
        if (out.has(pid) || !parents.has(pid)) continue;
        out.add(pid);
        queue.push(...(children.get(pid) ?? []));
    }
    return out;
}

export class ProcessTreeSampler {
    private timer?: NodeJS.Timeout;
    private readonly seen = new Set<number>();
    private result: TreeMemory = { peakTreeRssKiB: 0, processesAtPeak: 0, peakTreePssKiB: 0, peakProcessHwmKiB: 0, peakProcessName: "", processesSeen: 0, samples: 0 };

    /**
     * @param rootPid the process we started
     * @param marker  a string whose presence in a process's command line makes it count
     *                even outside the tree (only ssh processes are looked at, to keep a sample cheap)
     */
    constructor(private readonly rootPid: number, private readonly marker?: string, private readonly intervalMs = 100) {}

    start(): void {
        this.sample();
        this.timer = setInterval(() => this.sample(), this.intervalMs);
    }

    stop(): TreeMemory {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        return { ...this.result, processesSeen: this.seen.size };
    }

    private sample(): void {
        this.result.samples++;
        const parents = new Map<number, number>();
        const marked: number[] = [];
        for (const entry of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(entry)) continue;
            const pid = Number(entry);
            const stat = parseStat(readText(`/proc/${pid}/stat`) ?? "");
            if (!stat) continue;
            parents.set(pid, stat.ppid);
            if (this.marker && stat.comm === "ssh" && (readText(`/proc/${pid}/cmdline`) ?? "").includes(this.marker)) marked.push(pid);
        }
        let sum = 0;
        let pss = 0;
        let count = 0;
        for (const pid of treeOf(this.rootPid, parents, marked)) {
            const status = readText(`/proc/${pid}/status`);
            if (!status) continue;
            const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
            const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
            if (rss === 0 && hwm === 0) continue; // a zombie or a kernel thread
            this.seen.add(pid);
            sum += rss;
            pss += Number(/^Pss:\s+(\d+) kB/m.exec(readText(`/proc/${pid}/smaps_rollup`) ?? "")?.[1] ?? 0);
            count++;
            if (hwm > this.result.peakProcessHwmKiB) {
                this.result.peakProcessHwmKiB = hwm;
                this.result.peakProcessName = /Name:\s+(\S+)/.exec(status)?.[1] ?? "";
            }
        }
        if (pss > this.result.peakTreePssKiB) this.result.peakTreePssKiB = pss;
        if (sum > this.result.peakTreeRssKiB) {
            this.result.peakTreeRssKiB = sum;
            this.result.processesAtPeak = count;
        }
    }
}
