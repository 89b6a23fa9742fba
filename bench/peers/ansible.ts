// The Ansible peer of the peers benchmark: Debian's ansible-core
// and ansible (the collections, for ansible.posix.authorized_key) running
// bench/peers/ansible/site.yml against the first N lab appliances and the backup
// server, as a drift check (`--check --diff`) and as a converge.
//
//   ensureAnsible(say)                             installs the two Debian packages (idempotent)
//   prepareAnsible(lab, n, workDir, masterPassword) writes inventory.yml, known_hosts, ansible.cfg
//   runAnsible(workDir, "check" | "converge")       runs it; wall time, changed tasks per host, peak memory
//   detectedCases(run)                              which of spec.ts's 8 drift cases a check run reported
//
// Settings, as a team running a fleet would choose them: forks = 8, pipelining (one
// ssh exec per task, no temp files), ssh's ControlMaster with ControlPersist=60s (one
// handshake per host per run), gathering off (facts are not needed, and would cost a
// round trip per host), the Python interpreter named (no discovery round trip), host
// keys pinned from lab.json in a known_hosts of the work directory with
// StrictHostKeyChecking=yes. The output is the ansible.posix.json callback: one JSON
// document, parsed here.
//
// Secrets: the master password is kept in this process's memory by prepareAnsible and
// given to ansible-playbook in its environment (SSB_MASTER_PASSWORD, read by
// lookup('env')), never in argv or a file; the CIFS password is read by the playbook
// from the lab's own password file on the controller. Both reach orbit on stdin, in
// no_log tasks. The environment is inherited by ansible's workers and by the ssh
// ControlPersist masters (readable by root only, /proc/<pid>/environ is 0400):
// runAnsible closes those masters when the run ends, which also makes the next run
// start cold, so that each run's handshakes are its own.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { type TreeMemory, ProcessTreeSampler } from "./proc-tree";
import { DRIFT_TARGET, type DriftCaseId, type PeerLab, desiredFleet } from "./spec";

export const PLAYBOOK_DIR = path.join(__dirname, "ansible");
export const PLAYBOOK = path.join(PLAYBOOK_DIR, "site.yml");
export const MASTER_PASSWORD_ENV = "SSB_MASTER_PASSWORD";
/** The backup server's host name in the inventory. */
export const BACKUP_SERVER_HOST = "backup-server";
/** Where orbit is on an appliance (the lab's; the playbook's `removes:` test, see site.yml). */
export const ORBIT_PATH = "/usr/local/bin/orbit";
const POSIX_COLLECTION = "/usr/lib/python3/dist-packages/ansible_collections/ansible/posix/MANIFEST.json";
/** A Unix socket path is at most 107 bytes; ansible names the socket <control_path_dir>/<40 hex>. */
const MAX_CONTROL_DIR = 107 - 41;

// ---------------------------------------------------------------------------
// Installing

/** "ansible-core 2.14.18, ansible.posix 1.5.1", or undefined when ansible-playbook or the ansible.posix collection is missing. */
export function ansibleAvailable(): string | undefined {
    const r = spawnSync("ansible-playbook", ["--version"], { encoding: "utf8", timeout: 30_000 });
    if (r.error || r.status !== 0) return undefined;
    const core = /\[core ([^\]]+)\]/.exec(r.stdout)?.[1];
    if (!core || !fs.existsSync(POSIX_COLLECTION)) return undefined;
    let posix = "?";
    try { posix = JSON.parse(fs.readFileSync(POSIX_COLLECTION, "utf8")).collection_info?.version ?? "?"; } catch { /* the version is for the report only */ }
    return `ansible-core ${core}, ansible.posix ${posix}`;
}

/** Installs Debian's ansible-core and ansible (the collections) when they are missing; says what it does. Returns the version. */
export function ensureAnsible(say: (message: string) => void = (m) => process.stdout.write(`${m}\n`)): string {
    const present = ansibleAvailable();
    if (present) {
        say(`ansible: ${present} is installed; nothing to do`);
        return present;
    }
    const install = () => spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "ansible-core", "ansible"],
        { encoding: "utf8", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, timeout: 900_000 });
    say("ansible: installing Debian's ansible-core and ansible (apt-get install -y --no-install-recommends)");
    let r = install();
    if (r.status !== 0) {
        say("ansible: apt-get install failed; running apt-get update once and trying again");
        spawnSync("apt-get", ["update"], { encoding: "utf8", timeout: 600_000 });
        r = install();
    }
    const now = ansibleAvailable();
    if (r.status !== 0 || !now) {
        throw new Error(`installing ansible-core and ansible with apt-get failed (exit ${r.status}): ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" ")}; `
            + "run 'apt-get update && apt-get install -y --no-install-recommends ansible-core ansible' as root and look at its output");
    }
    say(`ansible: installed ${now}`);
    return now;
}

// ---------------------------------------------------------------------------
// The work directory (pure renderers, then prepareAnsible)

/** One line of known_hosts for host:port (the bracketed form unless the port is 22). Pure. */
export function knownHostsLine(host: string, port: number, hostKey: string): string {
    return `${port === 22 ? host : `[${host}]:${port}`} ${hostKey.trim()}`;
}

/** known_hosts for the first n appliances and the backup server, from lab.json's host key lines. Pure. */
export function renderKnownHosts(lab: PeerLab, n: number): string {
    const r = lab.rsyncServer;
    return [...lab.appliances.slice(0, n).map((a) => knownHostsLine(a.host, a.port, a.hostKey)), knownHostsLine(r.host, r.port, r.hostKey)].join("\n") + "\n";
}

/** A YAML scalar: numbers and booleans as they are, strings double-quoted (JSON's quoting is valid YAML). */
function scalar(value: unknown): string {
    if (value === null || value === undefined) return "null";
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    return JSON.stringify(String(value));
}

/** A small YAML block emitter for the inventory: mappings of mappings and scalars. */
function yaml(value: Record<string, unknown>, indent = 0): string {
    const pad = " ".repeat(indent);
    return Object.entries(value).map(([key, v]) => {
        const k = /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) ? key : JSON.stringify(key);
        if (v !== null && typeof v === "object" && !Array.isArray(v)) {
            return Object.keys(v).length === 0 ? `${pad}${k}: {}\n` : `${pad}${k}:\n${yaml(v as Record<string, unknown>, indent + 2)}`;
        }
        return `${pad}${k}: ${scalar(v)}\n`;
    }).join("");
}

/** The inventory: group `appliances` (first n, appliance 0 with its two partitions), group `backup_server`, the desired values as variables. Pure. */
export function renderInventory(lab: PeerLab, n: number): string {
    const fleet = desiredFleet(lab, n);
    const r = fleet.server;
    const first = fleet.appliances[0];
    const appliances: Record<string, unknown> = {};
    for (const a of fleet.appliances) {
        const host: Record<string, unknown> = {
            ansible_host: a.host, ansible_port: a.port, ansible_user: a.user, ansible_ssh_private_key_file: a.privateKeyPath,
        };
        for (const p of a.partitions) {
            host[`${p.protocol}_partition`] = p.protocol === "cifs"
                ? { id: p.id, host: p.host, port: p.port, path: p.path, user: p.user, password_file: p.passwordFile }
                : { id: p.id, host: p.host, port: p.port, path: p.path };
        }
        appliances[a.name] = host;
    }
    const doc = {
        all: {
            vars: {
                ansible_python_interpreter: "/usr/bin/python3",
                orbit_path: ORBIT_PATH,
                desired_rsync: { ...first.rsync },
                desired_hour: first.hour,
                backup_user: r.backupUser,
                backup_path: r.backupPath,
                authorized_keys_path: fleet.authorizedKeysPath,
            },
            children: {
                appliances: { hosts: appliances },
                backup_server: {
                    hosts: {
                        [BACKUP_SERVER_HOST]: {
                            ansible_host: r.host, ansible_port: r.port, ansible_user: r.adminUser, ansible_ssh_private_key_file: r.adminPrivateKeyPath,
                        },
                    },
                },
            },
        },
    };
    return `# Written by bench/peers/ansible.ts for ${n} lab appliance(s); the desired values come from bench/peers/spec.ts.\n${yaml(doc)}`;
}

/** ansible.cfg for one work directory. Pure. */
export function renderAnsibleCfg(workDir: string): string {
    const controlDir = path.join(workDir, "cp");
    if (Buffer.byteLength(controlDir) > MAX_CONTROL_DIR) {
        throw new Error(`the Ansible work directory ${workDir} is too long for ssh's control sockets (${controlDir} must be at most ${MAX_CONTROL_DIR} bytes, a socket path at most 107); use a shorter work directory, e.g. under /tmp`);
    }
    return [
        "# Written by bench/peers/ansible.ts (see its head for why each setting).",
        "[defaults]",
        `inventory = ${path.join(workDir, "inventory.yml")}`,
        "forks = 8",
        "host_key_checking = True",
        "gathering = explicit",
        "interpreter_python = /usr/bin/python3",
        "stdout_callback = ansible.posix.json",
        "retry_files_enabled = False",
        `local_tmp = ${path.join(workDir, "tmp")}`,
        "nocows = 1",
        "",
        "[ssh_connection]",
        "pipelining = True",
        // IdentitiesOnly: offer only the inventory's key file, never whatever else root's ssh would try first.
        `ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${path.join(workDir, "known_hosts")} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes`,
        `control_path_dir = ${controlDir}`,
        "",
    ].join("\n");
}

interface PeerInfo { n: number; driftTarget: string; backupServer: string; appliances: string[] }

const masterPasswords = new Map<string, string>();

/** Writes the work directory's inventory.yml, known_hosts, ansible.cfg and peer.json (no secret), and keeps the master password in memory for runAnsible. */
export function prepareAnsible(lab: PeerLab, n: number, workDir: string, masterPassword: string): void {
    if (masterPassword.length < 12 || masterPassword.length > 128 || !/^[\x20-\x7e]+$/.test(masterPassword)) {
        throw new Error(`prepareAnsible: the master password must be 12-128 printable ASCII characters (orbit's rule), but one of ${masterPassword.length} characters was provided`);
    }
    const dir = path.resolve(workDir);
    fs.mkdirSync(path.join(dir, "cp"), { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.join(dir, "tmp"), { recursive: true, mode: 0o700 });
    fs.mkdirSync(path.join(dir, "logs"), { recursive: true });
    fs.writeFileSync(path.join(dir, "inventory.yml"), renderInventory(lab, n));
    fs.writeFileSync(path.join(dir, "known_hosts"), renderKnownHosts(lab, n));
    fs.writeFileSync(path.join(dir, "ansible.cfg"), renderAnsibleCfg(dir));
    const info: PeerInfo = { n, driftTarget: lab.appliances[DRIFT_TARGET].name, backupServer: BACKUP_SERVER_HOST, appliances: lab.appliances.slice(0, n).map((a) => a.name) };
    fs.writeFileSync(path.join(dir, "peer.json"), JSON.stringify(info, null, 2) + "\n");
    masterPasswords.set(dir, masterPassword);
}

// ---------------------------------------------------------------------------
// Running and reading the output

export interface AnsibleRun {
    mode: "check" | "converge";
    wallMs: number;
    exitCode: number | null;
    /** Per host, the names of the tasks that reported changed (under --check: that would change). Hosts with none are absent. */
    changedByHost: Record<string, string[]>;
    /** Hosts with a failed task or unreachable. */
    failedHosts: string[];
    /** The first error message of each failed host (no_log tasks say only that they were hidden). */
    errors: Record<string, string>;
    /** What the authorized_key task's diff says about each appliance's key line (only with --diff): changed options, or added. */
    keyChanges: Record<string, "options" | "added">;
    /** ansible's recap per host. */
    stats: Record<string, Record<string, number>>;
    memory: TreeMemory;
    /** The JSON output of ansible-playbook (stderr next to it, as <logFile>.stderr). */
    logFile: string;
    driftTarget: string;
    backupServer: string;
}

export type ParsedOutput = Pick<AnsibleRun, "changedByHost" | "failedHosts" | "errors" | "keyChanges" | "stats">;

export const READ_TASK = "read the backup configuration";
export const KEY_TASK = "authorized_keys: the appliances' root keys, restricted to the backup directory";
export const MODE_TASK = "authorized_keys: mode 600";

function keyBlob(publicKey: string): string | undefined {
    return publicKey.trim().split(/\s+/)[1];
}

/**
 * Reads the ansible.posix.json callback's document: changed tasks per host, failed
 * hosts, the recap, and from the authorized_key task's diff, which appliance's line was
 * added and which had its options changed (an appliance's key comes from its own read
 * task's output in the same document). Pure.
 */
export function parseAnsibleJson(text: string): ParsedOutput {
    const start = text.indexOf("{");
    if (start < 0) throw new Error(`ansible-playbook printed no JSON document (is stdout_callback = ansible.posix.json?): ${text.slice(0, 200)}`);
    const doc = JSON.parse(text.slice(start));
    const out: ParsedOutput = { changedByHost: {}, failedHosts: [], errors: {}, keyChanges: {}, stats: doc.stats ?? {} };
    const keyOwners = new Map<string, string>(); // key blob -> appliance
    const keyResults: any[] = [];
    for (const play of doc.plays ?? []) {
        for (const task of play.tasks ?? []) {
            const name: string = task.task?.name ?? "";
            for (const [host, result] of Object.entries<any>(task.hosts ?? {})) {
                const items: any[] = Array.isArray(result.results) ? result.results : [];
                const changed = result.changed === true || items.some((i) => i?.changed === true);
                if (changed && !result.skipped) (out.changedByHost[host] ??= []).push(name);
                if ((result.failed || result.unreachable) && !out.errors[host]) out.errors[host] = `${name}: ${String(result.msg ?? "failed").split("\n")[0]}`;
                if (name === READ_TASK && typeof result.stdout === "string") {
                    try {
                        const blob = keyBlob(JSON.parse(result.stdout).rootKey?.publicKey ?? "");
                        if (blob) keyOwners.set(blob, host);
                    } catch { /* a failed read leaves no key */ }
                }
                if (name === KEY_TASK && changed) keyResults.push(result);
            }
        }
    }
    for (const result of keyResults) {
        const diffs: any[] = Array.isArray(result.diff) ? result.diff : result.diff ? [result.diff] : [];
        for (const d of diffs) {
            const before = String(d.before ?? "").split("\n");
            const after = String(d.after ?? "").split("\n");
            for (const line of after.filter((l) => l.trim() !== "" && !before.includes(l))) {
                for (const [blob, owner] of keyOwners) {
                    if (!line.split(/\s+/).includes(blob)) continue;
                    out.keyChanges[owner] = before.some((l) => l.split(/\s+/).includes(blob)) ? "options" : "added";
                }
            }
        }
    }
    for (const [host, s] of Object.entries(out.stats)) if ((s.failures ?? 0) > 0 || (s.unreachable ?? 0) > 0) out.failedHosts.push(host);
    return out;
}

/** Ends the ssh ControlPersist masters of a work directory (so the next run starts cold, and their environment goes). */
export function closeControlMasters(workDir: string): number {
    const dir = path.join(path.resolve(workDir), "cp");
    let closed = 0;
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        const socket = path.join(dir, name);
        // A master may exit, and its socket go, between the listing and here (ControlPersist
        // timing out, or ssh cleaning up after the one before): that one needs no closing.
        const stat = fs.statSync(socket, { throwIfNoEntry: false });
        if (!stat?.isSocket()) continue;
        const r = spawnSync("ssh", ["-o", `ControlPath=${socket}`, "-O", "exit", "control-master"], { encoding: "utf8", timeout: 10_000 });
        if (r.status === 0) closed++;
        else fs.rmSync(socket, { force: true }); // a stale socket whose master is gone
    }
    return closed;
}

/**
 * Runs site.yml: `--check --diff` (the drift check) or a real run (converge). Never throws
 * for a failed play; read exitCode and failedHosts. A run past `timeoutMs` (default 20
 * minutes) is ended with its whole process group (it runs in its own), exit code null.
 */
export async function runAnsible(workDir: string, mode: "check" | "converge", options: { timeoutMs?: number } = {}): Promise<AnsibleRun> {
    const dir = path.resolve(workDir);
    const password = masterPasswords.get(dir);
    if (password === undefined) throw new Error(`runAnsible: ${dir} was not prepared in this process; call prepareAnsible(lab, n, workDir, masterPassword) first (the master password is kept in memory only)`);
    const info = JSON.parse(fs.readFileSync(path.join(dir, "peer.json"), "utf8")) as PeerInfo;
    closeControlMasters(dir); // whatever an earlier run left: this run's handshakes must be its own
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const logFile = path.join(dir, "logs", `${mode}-${stamp}.json`);
    const args = [PLAYBOOK, ...(mode === "check" ? ["--check", "--diff"] : [])];
    const started = Date.now();
    const child = spawn("ansible-playbook", args, {
        cwd: dir,
        env: { ...process.env, ANSIBLE_CONFIG: path.join(dir, "ansible.cfg"), [MASTER_PASSWORD_ENV]: password, ANSIBLE_FORCE_COLOR: "0" },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true, // its own process group, so a timeout ends its workers and ssh clients too, and nothing else
    });
    const timeoutMs = options.timeoutMs ?? 20 * 60_000;
    let timedOut = false;
    const timer = setTimeout(() => {
        timedOut = true;
        try { process.kill(-child.pid!, "SIGTERM"); } catch { /* already gone */ }
        setTimeout(() => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ } }, 5_000).unref();
    }, timeoutMs);
    const sampler = new ProcessTreeSampler(child.pid!, path.join(dir, "cp"));
    sampler.start();
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => stdout.push(b));
    child.stderr.on("data", (b: Buffer) => stderr.push(b));
    const exitCode = await new Promise<number | null>((resolve, reject) => {
        child.once("error", (err) => {
            clearTimeout(timer);
            sampler.stop();
            reject(new Error(`ansible-playbook did not start: ${err.message}; run ensureAnsible() (apt-get install ansible-core ansible)`));
        });
        child.once("close", (code) => resolve(code));
    });
    clearTimeout(timer);
    const wallMs = Date.now() - started;
    const memory = sampler.stop();
    closeControlMasters(dir);
    const out = Buffer.concat(stdout).toString("utf8");
    fs.writeFileSync(logFile, out);
    if (timedOut) stderr.push(Buffer.from(`\nansible-playbook ${mode} did not finish within ${timeoutMs} ms and was ended (SIGTERM to its process group)`));
    fs.writeFileSync(`${logFile}.stderr`, Buffer.concat(stderr));
    let parsed: ParsedOutput;
    try {
        parsed = parseAnsibleJson(out);
    } catch (err: any) {
        parsed = { changedByHost: {}, failedHosts: [...info.appliances, info.backupServer], errors: { all: `${err.message}; stderr: ${Buffer.concat(stderr).toString("utf8").trim().slice(-500)}` }, keyChanges: {}, stats: {} };
    }
    return { mode, wallMs, exitCode, ...parsed, memory, logFile, driftTarget: info.driftTarget, backupServer: info.backupServer };
}

// ---------------------------------------------------------------------------
// Which drift cases a check run reported

/**
 * The task of site.yml that reports each drift case on the drift target (appliance 0)
 * or the backup server. key-options and key-removed are the same task (authorized_key
 * with exclusive: false replaces a line whose options differ, and adds a missing one);
 * its --diff tells them apart (see parseAnsibleJson's keyChanges).
 */
export const CASE_TASKS: Readonly<Record<DriftCaseId, { host: "drift-target" | "backup-server"; task: string; key?: "options" | "added" }>> = {
    "key-options": { host: "backup-server", task: KEY_TASK, key: "options" },
    "key-mode": { host: "backup-server", task: MODE_TASK },
    "nfs-removed": { host: "drift-target", task: "NFS partition: add" },
    "cifs-unmounted": { host: "drift-target", task: "CIFS partition: mount" },
    "rsync-path": { host: "drift-target", task: "rsync target: set" },
    "video-off": { host: "drift-target", task: "backup kind video: enable" },
    "hour": { host: "drift-target", task: "backup hour: set" },
    "key-removed": { host: "backup-server", task: KEY_TASK, key: "added" },
};

/** The drift cases a (check) run reported, in spec.ts's order. */
export function detectedCases(run: Pick<AnsibleRun, "changedByHost" | "keyChanges" | "driftTarget" | "backupServer">): DriftCaseId[] {
    return (Object.keys(CASE_TASKS) as DriftCaseId[]).filter((id) => {
        const c = CASE_TASKS[id];
        const host = c.host === "drift-target" ? run.driftTarget : run.backupServer;
        if (!(run.changedByHost[host] ?? []).includes(c.task)) return false;
        return c.key === undefined || run.keyChanges[run.driftTarget] === c.key;
    });
}

/** Tasks reported changed on hosts other than the drift target and the backup server: none, in a drift round. */
export function changesElsewhere(run: Pick<AnsibleRun, "changedByHost" | "driftTarget" | "backupServer">): Record<string, string[]> {
    return Object.fromEntries(Object.entries(run.changedByHost).filter(([h]) => h !== run.driftTarget && h !== run.backupServer));
}

/** The number of changed tasks over all hosts. */
export function changedCount(run: Pick<AnsibleRun, "changedByHost">): number {
    return Object.values(run.changedByHost).reduce((sum, tasks) => sum + tasks.length, 0);
}

