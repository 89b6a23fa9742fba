// Processes of the lab and of the engine: listing, killing and restarting the
// lab's servers, and the lab's sudoers, edited for a test and put back.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { LabDescription } from "../lab";
import { REPO, waitFor } from "./results";

// ---------------------------------------------------------------- processes

/** Every process whose command line matches, with its argv. */
export function processes(match: (argv: string[]) => boolean): Array<{ pid: number; argv: string[] }> {
    const out: Array<{ pid: number; argv: string[] }> = [];
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        let raw: string;
        try { raw = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8"); } catch { continue; }
        const argv = raw.split("\0").filter((a, i, all) => a !== "" || i < all.length - 1);
        if (argv.length > 0 && match(argv)) out.push({ pid: Number(entry), argv });
    }
    return out;
}

export function alive(pid: number): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return !/^\d+ \(.*\) [ZX]/.test(stat);
    } catch {
        return false;
    }
}

/** The pids of a process's whole tree, parent first. */
export function processTree(root: number): number[] {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
        } catch { /* gone */ }
    }
    const out: number[] = [];
    const walk = (pid: number) => { out.push(pid); for (const c of children.get(pid) ?? []) walk(c); };
    walk(root);
    return out;
}

export function processName(pid: number): string {
    try { return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return ""; }
}

/** The pid the lab recorded for one of its servers (run/<name>.pid). */
export function labPid(lab: LabDescription, name: string): number {
    const pid = Number(fs.readFileSync(path.join(lab.root, "run", `${name}.pid`), "utf8").trim());
    if (!alive(pid)) throw new Error(`the lab's ${name} (pid ${pid}) is not running: start the lab`);
    return pid;
}

/** Kills a lab server and, when `onlySshd`, only the sshd processes of its tree (commands it started keep running, as after a crash). */
export async function killLabServer(lab: LabDescription, name: string, opts: { onlySshd?: boolean } = {}): Promise<number[]> {
    const root = labPid(lab, name);
    const tree = processTree(root).filter((pid) => !opts.onlySshd || processName(pid) === "sshd");
    for (const pid of tree) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
    await waitFor(`${name} to die`, () => tree.every((pid) => !alive(pid)), 10_000);
    return tree;
}

/** Restarts whatever lab server is down (lab/start is idempotent), keeping the lab's number of appliances. */
export function restartLab(lab: LabDescription): void {
    const r = spawnSync("bash", [path.join(REPO, "lab", "start")], {
        env: { ...process.env, LAB_APPLIANCES: String(lab.appliances.length) }, encoding: "utf8", timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`lab/start failed (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
}

/**
 * The lab, started if a server is down (the lab is shared: another run may have
 * stopped it). lab/start is idempotent and keeps the lab's number of appliances.
 */
export function ensureLab(): LabDescription {
    const file = path.join(process.env.SENHASEGURA_LAB_ROOT ?? "/var/lib/senhasegura-lab", "lab.json");
    const status = spawnSync("bash", [path.join(REPO, "lab", "status")], { encoding: "utf8", timeout: 60_000 });
    if (status.status !== 0 || !fs.existsSync(file)) {
        let appliances = 1;
        try { appliances = JSON.parse(fs.readFileSync(file, "utf8")).appliances.length; } catch { /* first start */ }
        restartLab({ appliances: new Array(appliances) } as LabDescription);
    }
    return JSON.parse(fs.readFileSync(file, "utf8")) as LabDescription;
}

/** A live process that does nothing, e.g. to hold a lock file with its pid. Kill it with .kill(). */
export function idleProcess(): ChildProcess {
    const child = spawn("sleep", ["600"], { stdio: "ignore", detached: false });
    child.unref();
    return child;
}

// ---------------------------------------------------------------- sudoers

const LAB_SUDOERS = "/etc/sudoers.d/senhasegura-lab";

/**
 * Rewrites the lab's sudoers file for the duration of `fn` (checked with visudo
 * first), and always puts the original bytes back, checked again.
 */
export async function withSudoers<T>(edit: (text: string) => string, fn: () => Promise<T>): Promise<T> {
    const original = fs.readFileSync(LAB_SUDOERS);
    const st = fs.statSync(LAB_SUDOERS);
    const changed = edit(original.toString("utf8"));
    const tmp = `${LAB_SUDOERS}.ssb-tmp`;
    const put = (bytes: Buffer | string) => {
        fs.writeFileSync(tmp, bytes, { mode: 0o440 });
        execFileSync("visudo", ["-cf", tmp], { stdio: "pipe" });
        fs.chownSync(tmp, st.uid, st.gid);
        fs.renameSync(tmp, LAB_SUDOERS);
    };
    try {
        put(changed);
        return await fn();
    } finally {
        put(original);
        if (!fs.readFileSync(LAB_SUDOERS).equals(original)) throw new Error(`${LAB_SUDOERS} was not restored`);
    }
}

/** A sudoers drop-in, removed after `fn`: e.g. a logfile so sudo's command lines can be searched. */
export async function withSudoersDropIn<T>(name: string, text: string, fn: () => Promise<T>): Promise<T> {
    const file = path.join("/etc/sudoers.d", name);
    fs.writeFileSync(`${file}.tmp`, text, { mode: 0o440 });
    try {
        execFileSync("visudo", ["-cf", `${file}.tmp`], { stdio: "pipe" });
        fs.renameSync(`${file}.tmp`, file);
        return await fn();
    } finally {
        fs.rmSync(`${file}.tmp`, { force: true });
        fs.rmSync(file, { force: true });
    }
}
