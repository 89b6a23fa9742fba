// Helpers of the hardening suites (hostile input, faults, concurrency, secrets):
// figures for the report, snapshots of the lab that a test restores, watched logs,
// process sampling, an outside editor, a TCP proxy that can drop connections, and
// restarting the lab's servers. The tests run as root beside the lab, so they read
// and restore the lab's files directly.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import type { LabAppliance, LabDescription } from "./lab";
import { ed25519PublicKey } from "./keys";

export const REPO = path.resolve(__dirname, "..", "..");
export const RESULTS_DIR = path.join(REPO, ".test-results");
export const FIGURES_FILE = path.join(RESULTS_DIR, "hardening-figures.json");
/** Where each hardening stack's provider log (SSB_PROVIDER_LOG) and samples go. */
export const HARDENING_DIR = path.join(RESULTS_DIR, "hardening");

/** Merges one suite's figures into .test-results/hardening-figures.json, for the report. */
export function recordFigures(suite: string, figures: Record<string, unknown>): void {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    let all: Record<string, unknown> = {};
    try { all = JSON.parse(fs.readFileSync(FIGURES_FILE, "utf8")); } catch { /* first suite */ }
    all[suite] = { ...figures, recordedAt: new Date().toISOString() };
    fs.writeFileSync(FIGURES_FILE, JSON.stringify(all, null, 2) + "\n");
}

/** A fresh file under .test-results/hardening/ for a provider log or a sample. */
export function hardeningFile(name: string): string {
    fs.mkdirSync(HARDENING_DIR, { recursive: true });
    const file = path.join(HARDENING_DIR, `${name}-${Date.now().toString(36)}.log`);
    fs.writeFileSync(file, "");
    return file;
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every `everyMs` until it returns a truthy value, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, condition: () => T | undefined | false | null, timeoutMs = 30_000, everyMs = 20): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = condition();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(everyMs);
    }
}

// ---------------------------------------------------------------- keys


/** A fresh ed25519 public key line ("ssh-ed25519 AAAA… comment") nobody holds the private half of. */
export const throwawayPublicKey = (comment: string): string => ed25519PublicKey(comment);

/** A fresh ed25519 private key in OpenSSH format, authorized nowhere. */
export function throwawayPrivateKey(): string {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    const dir = fs.mkdtempSync(path.join(RESULTS_DIR, "key-"));
    try {
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "not-authorized", "-f", path.join(dir, "k")]);
        return fs.readFileSync(path.join(dir, "k"), "utf8");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The distinctive lines of a private key (its base64 body lines), to search for leaks. */
export function privateKeyFragments(privateKey: string): string[] {
    return privateKey.split("\n").map((l) => l.trim()).filter((l) => l.length >= 20 && !l.startsWith("-----"));
}

// ---------------------------------------------------------------- the lab's files

/** Every log of the lab a command could leave a trace in. */
export function labLogFiles(lab: LabDescription): string[] {
    const files = [lab.rsyncServer.sshdLog];
    for (const a of lab.appliances) {
        files.push(a.sshdLog, ...["log/orbit-audit.log", "log/orbinibkp.log", "notifications/email.log", "notifications/siem.log"].map((f) => path.join(a.orbitRoot, f)));
    }
    return files;
}

/** A file's size and hash, or null when it does not exist. */
export type FileMark = { size: number; sha256: string } | null;

export function markFiles(files: readonly string[]): Map<string, FileMark> {
    const marks = new Map<string, FileMark>();
    for (const file of files) {
        try {
            const bytes = fs.readFileSync(file);
            marks.set(file, { size: bytes.length, sha256: crypto.createHash("sha256").update(bytes).digest("hex") });
        } catch {
            marks.set(file, null);
        }
    }
    return marks;
}

/** The text appended to each file since it was marked (the whole file when it was rewritten). */
export function appendedSince(marks: Map<string, FileMark>): Map<string, string> {
    const out = new Map<string, string>();
    for (const [file, mark] of marks) {
        let bytes: Buffer;
        try { bytes = fs.readFileSync(file); } catch { continue; }
        const from = mark && bytes.length >= mark.size ? mark.size : 0;
        const text = bytes.subarray(from).toString("utf8");
        if (!mark || bytes.length !== mark.size || crypto.createHash("sha256").update(bytes).digest("hex") !== mark.sha256) out.set(file, text);
    }
    return out;
}

/** Lines of an sshd log (LogLevel VERBOSE) that mean a client connected or tried to. */
export const SSHD_CONNECTION_LINE = /Connection from|Accepted publickey|Failed publickey|Connection closed by authenticating|Invalid user|Postponed|Starting session/;

/** Runs orbit on the lab appliance directly as root (not over ssh, so sshd logs nothing), as the lab's own scripts do. */
export function orbitDirect(appliance: LabAppliance, args: readonly string[], stdin = ""): { code: number; json: any; stdout: string; stderr: string } {
    const labRoot = path.dirname(path.dirname(appliance.orbitRoot));
    const r = spawnSync("/usr/bin/node", [path.join(labRoot, "bin", "orbit.js"), ...args, "--json"], {
        env: { ...process.env, ORBIT_ROOT: appliance.orbitRoot }, input: stdin, encoding: "utf8", timeout: 60_000,
    });
    let json: any;
    try { json = JSON.parse(r.stdout); } catch { json = undefined; }
    return { code: r.status ?? -1, json, stdout: r.stdout, stderr: r.stderr };
}

export function orbitDirectOk(appliance: LabAppliance, args: readonly string[], stdin = ""): any {
    const r = orbitDirect(appliance, args, stdin);
    if (r.code !== 0 || r.json?.ok !== true) throw new Error(`orbit ${args.join(" ")} on ${appliance.name} failed (exit ${r.code}): ${r.stdout} ${r.stderr}`);
    return r.json;
}

/** Like orbitDirect, without blocking the event loop: for calls made while an engine operation runs. */
export function orbitDirectAsync(appliance: LabAppliance, args: readonly string[], stdin = ""): Promise<{ code: number; json: any; stdout: string }> {
    const labRoot = path.dirname(path.dirname(appliance.orbitRoot));
    return new Promise((resolve) => {
        const child = spawn("/usr/bin/node", [path.join(labRoot, "bin", "orbit.js"), ...args, "--json"], {
            env: { ...process.env, ORBIT_ROOT: appliance.orbitRoot }, stdio: ["pipe", "pipe", "ignore"],
        });
        let stdout = "";
        child.stdout!.on("data", (d) => { stdout += d; });
        child.on("close", (code) => {
            let json: any;
            try { json = JSON.parse(stdout); } catch { json = undefined; }
            resolve({ code: code ?? -1, json, stdout });
        });
        child.stdin!.end(stdin);
    });
}

/** The appliance's configuration file, parsed; throws when it is not whole JSON. */
export function readOrbitConf(appliance: LabAppliance): any {
    return JSON.parse(fs.readFileSync(path.join(appliance.orbitRoot, "orbinibkp.conf"), "utf8"));
}

/** Leftovers of an interrupted orbit write: temp files and stale lock files. */
export function orbitLeftovers(appliance: LabAppliance): string[] {
    return fs.readdirSync(appliance.orbitRoot).filter((f) => /^orbinibkp\.conf\.(tmp-|lock\.stale-)/.test(f));
}

interface SavedFile { file: string; bytes: Buffer | null; mode: number; uid: number; gid: number }

function saveFile(file: string): SavedFile {
    try {
        const st = fs.statSync(file);
        return { file, bytes: st.isDirectory() ? null : fs.readFileSync(file), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    } catch {
        return { file, bytes: null, mode: -1, uid: -1, gid: -1 };
    }
}

function restoreFile(saved: SavedFile): void {
    if (saved.mode < 0) { fs.rmSync(saved.file, { force: true }); return; }
    if (saved.bytes !== null) {
        const tmp = `${saved.file}.ssb-restore-${process.pid}`;
        fs.writeFileSync(tmp, saved.bytes);
        fs.chownSync(tmp, saved.uid, saved.gid);
        fs.chmodSync(tmp, saved.mode);
        fs.renameSync(tmp, saved.file);
    } else {
        fs.chownSync(saved.file, saved.uid, saved.gid);
        fs.chmodSync(saved.file, saved.mode);
    }
}

function listTree(dir: string): Set<string> {
    const out = new Set<string>();
    const walk = (d: string) => {
        let entries: fs.Dirent[];
        try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
        for (const e of entries) {
            const p = path.join(d, e.name);
            out.add(p);
            if (e.isDirectory()) walk(p);
        }
    };
    walk(dir);
    return out;
}

/**
 * What a hardening test changes on the lab, saved before it runs and put back
 * after: the appliance's orbit configuration, senhauser's authorized_keys and its
 * directory, the backup directory's mode, and every backup file created since.
 */
export class LabGuard {
    private readonly saved: SavedFile[];
    private readonly trees: Map<string, Set<string>>;

    constructor(lab: LabDescription, private readonly appliance: LabAppliance) {
        const ak = lab.rsyncServer.authorizedKeysPath;
        this.saved = [
            saveFile(path.join(appliance.orbitRoot, "orbinibkp.conf")),
            saveFile(ak), saveFile(path.dirname(ak)),
            saveFile(lab.rsyncServer.backupPath),
        ];
        this.trees = new Map([lab.rsyncServer.backupPath, lab.cifs.localPath, lab.nfs.localPath].map((d) => [d, listTree(d)]));
    }

    /** Puts every saved file back and removes what the test created under the backup directories. */
    restore(): void {
        const lock = path.join(this.appliance.orbitRoot, "orbinibkp.conf.lock");
        fs.rmSync(lock, { force: true });
        for (const f of orbitLeftovers(this.appliance)) fs.rmSync(path.join(this.appliance.orbitRoot, f), { force: true });
        for (const saved of this.saved) restoreFile(saved);
        for (const [dir, before] of this.trees) {
            const now = [...listTree(dir)].filter((p) => !before.has(p)).sort((a, b) => b.length - a.length);
            for (const p of now) fs.rmSync(p, { recursive: true, force: true });
        }
    }
}

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

// ---------------------------------------------------------------- helpers run as separate processes

/** Runs a small Node program as its own process (so a busy loop never stalls the engine's event stream). */
function nodeChild(source: string, args: string[]): ChildProcess {
    return spawn(process.execPath, ["-e", source, ...args], { stdio: ["ignore", "pipe", "inherit"] });
}

async function stopChild<T>(child: ChildProcess, resultFile: string): Promise<T> {
    if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
    }
    return JSON.parse(fs.readFileSync(resultFile, "utf8")) as T;
}

const SAMPLER = String.raw`
const fs = require("fs");
const [out, everyMs] = process.argv.slice(1);
const seen = new Map(); let samples = 0; let stop = false;
process.on("SIGTERM", () => { stop = true; });
function sample() {
  samples++;
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || e === String(process.pid)) continue;
    let c; try { c = fs.readFileSync("/proc/" + e + "/cmdline", "latin1"); } catch { continue; }
    if (c && !seen.has(c)) seen.set(c, e);
  }
}
(function loop() {
  if (stop) { fs.writeFileSync(out, JSON.stringify({ samples, cmdlines: [...seen.keys()].map((c) => c.split("\0").join(" ")) })); process.exit(0); }
  sample(); setTimeout(loop, Number(everyMs));
})();
`;

/** Samples every process's argv (/proc/<pid>/cmdline) every `everyMs` until stopped. */
export function startArgvSampler(everyMs = 5): { stop(): Promise<{ samples: number; cmdlines: string[] }> } {
    const out = hardeningFile("argv-samples");
    const child = nodeChild(SAMPLER, [out, String(everyMs)]);
    return { stop: () => stopChild(child, out) };
}

const APPENDER = String.raw`
const fs = require("fs"); const path = require("path"); const crypto = require("crypto");
const [file, out, prefix, everyMs, maxDuringWrite] = process.argv.slice(1);
const dir = path.dirname(file);
const appended = []; let stop = false; let n = 0; let last = Date.now(); let duringWrite = 0; const temps = new Set();
process.on("SIGTERM", () => { stop = true; });
const wire = (b) => { const n = Buffer.alloc(4); n.writeUInt32BE(b.length); return Buffer.concat([n, b]); };
function append(why) {
  const der = crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" });
  const blob = Buffer.concat([wire(Buffer.from("ssh-ed25519")), wire(der.subarray(der.length - 32))]).toString("base64");
  const line = "ssh-ed25519 " + blob + " " + prefix + "-" + (n++) + "-" + why;
  fs.appendFileSync(file, line + "\n");
  appended.push(line);
}
(function loop() {
  if (stop) { fs.writeFileSync(out, JSON.stringify({ appended })); process.exit(0); }
  // The worst moment: a writer's temp file exists, so it has read the file and is about to replace it.
  let names = []; try { names = fs.readdirSync(dir); } catch {}
  for (const name of names) {
    if (name.startsWith(".authorized_keys.") && !temps.has(name)) {
      temps.add(name);
      if (duringWrite < Number(maxDuringWrite)) { duringWrite++; append("during-write"); }
    }
  }
  if (Date.now() - last >= Number(everyMs)) { last = Date.now(); append("steady"); }
  setImmediate(loop);
})();
`;

/**
 * An administrator editing authorized_keys by hand while Pulumi runs: appends a key
 * line (as `cat >> authorized_keys` and ssh-copy-id do, without any lock) every
 * `everyMs`, and one more when a writer's temp file appears in the directory (up to
 * `maxDuringWrite` times): the moment a writer that replaces the file would lose
 * it. Returns the lines it appended.
 */
export function startOutsideAppender(file: string, prefix: string, opts: { everyMs: number; maxDuringWrite: number }): { stop(): Promise<{ appended: string[] }> } {
    const out = hardeningFile("outside-appender");
    const child = nodeChild(APPENDER, [file, out, prefix, String(opts.everyMs), String(opts.maxDuringWrite)]);
    return { stop: () => stopChild(child, out) };
}

const CONF_WATCHER = String.raw`
const fs = require("fs");
const [file, out] = process.argv.slice(1);
let reads = 0; const bad = []; let stop = false;
process.on("SIGTERM", () => { stop = true; });
(function loop() {
  if (stop) { fs.writeFileSync(out, JSON.stringify({ reads, bad })); process.exit(0); }
  let text; try { text = fs.readFileSync(file, "utf8"); } catch (e) { bad.push("unreadable: " + e.code); setImmediate(loop); return; }
  reads++;
  try { const c = JSON.parse(text); if (!c || typeof c !== "object" || !c.backup) bad.push("not a config: " + text.slice(0, 80)); } catch (e) { bad.push("not JSON (" + text.length + " bytes): " + e.message); }
  setImmediate(loop);
})();
`;

/** Reads the orbit config file in a tight loop, counting reads that are not whole JSON. */
export function startConfWatcher(appliance: LabAppliance): { stop(): Promise<{ reads: number; bad: string[] }> } {
    const out = hardeningFile("conf-watcher");
    const child = nodeChild(CONF_WATCHER, [path.join(appliance.orbitRoot, "orbinibkp.conf"), out]);
    return { stop: () => stopChild(child, out) };
}

// ---------------------------------------------------------------- a proxy that drops connections

/** A TCP proxy on 127.0.0.1 to a lab server, which can drop every connection through it at once. */
export class DroppingProxy {
    private readonly server: net.Server;
    private readonly sockets = new Set<net.Socket>();
    port = 0;
    connections = 0;

    constructor(private readonly targetHost: string, private readonly targetPort: number) {
        this.server = net.createServer((client) => {
            this.connections++;
            const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
            for (const s of [client, upstream]) {
                this.sockets.add(s);
                s.on("close", () => this.sockets.delete(s));
                s.on("error", () => { client.destroy(); upstream.destroy(); });
            }
            client.pipe(upstream);
            upstream.pipe(client);
        });
    }

    async listen(): Promise<number> {
        await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        this.port = (this.server.address() as net.AddressInfo).port;
        return this.port;
    }

    /** Drops every connection through the proxy, as a network failure would: no FIN, a reset. */
    drop(): number {
        const n = this.sockets.size;
        for (const s of this.sockets) s.resetAndDestroy();
        return n;
    }

    async close(): Promise<void> {
        this.drop();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}

// ---------------------------------------------------------------- secrets

/** Every place a secret value was found: `where` names the file, stream or process. */
export interface SecretHit { secret: string; where: string }

/** Searches each text for each secret (by name), returning every hit. */
export function findSecrets(secrets: Record<string, string[]>, texts: Array<{ where: string; text: string }>): SecretHit[] {
    const hits: SecretHit[] = [];
    for (const { where, text } of texts) {
        for (const [name, values] of Object.entries(secrets)) {
            if (values.some((v) => v.length >= 8 && text.includes(v))) hits.push({ secret: name, where });
        }
    }
    return hits;
}

/** Every regular file under `dir`, as { where, text } (latin1, so any byte is searchable). */
export function filesUnder(dir: string, filter: (file: string) => boolean = () => true): Array<{ where: string; text: string }> {
    const out: Array<{ where: string; text: string }> = [];
    const walk = (d: string) => {
        let entries: fs.Dirent[];
        try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
        for (const e of entries) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.isFile() && filter(p)) {
                try { out.push({ where: p, text: fs.readFileSync(p, "latin1") }); } catch { /* gone */ }
            }
        }
    };
    walk(dir);
    return out;
}
