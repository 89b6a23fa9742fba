// The lab's description (lab/start writes it). Tests that need the lab fail loudly
// when it is missing; they never skip.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { type LabAppliance, type LabDescription, readLabDescription } from "../../lab/description";
import { shellJoin, shellQuote } from "../../providers/transport/shell";

export { type LabAppliance, type LabDescription, labFile } from "../../lab/description";

/** The running lab's description; fails saying how to start the lab. */
export function loadLab(): LabDescription {
    return readLabDescription();
}

/** Counts accepted SSH logins in an sshd log, to prove connection pooling. */
export function acceptedLogins(sshdLog: string): number {
    if (!fs.existsSync(sshdLog)) throw new Error(`sshd log ${sshdLog} is missing: is the lab's sshd logging with -E?`);
    return (fs.readFileSync(sshdLog, "utf8").match(/Accepted publickey for /g) ?? []).length;
}

/** One orbit call's result; `json` is the parsed stdout (orbit answers JSON with --json), or undefined. */
export interface OrbitRun { code: number; stdout: string; stderr: string; json: any }

let knownHostsDir: string | undefined;
const knownHostsFiles = new Map<string, string>();

/** A known_hosts file holding only the pinned key of host:port, so ssh checks it strictly. */
export function pinnedKnownHosts(host: string, port: number, hostKey: string): string {
    // Keyed by the host key too: a test that pins a wrong key on purpose must not get
    // the right key's file back.
    const id = `[${host}]:${port} ${hostKey.trim()}`;
    let file = knownHostsFiles.get(id);
    if (!file || !fs.existsSync(file)) {
        if (!knownHostsDir || !fs.existsSync(knownHostsDir)) {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-known-hosts-"));
            process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
            knownHostsDir = dir;
        }
        file = path.join(knownHostsDir, `known_hosts-${knownHostsFiles.size}`);
        fs.writeFileSync(file, `${id}\n`);
        knownHostsFiles.set(id, file);
    }
    return file;
}

/** Where and as whom to log in over ssh, and the one host key to accept there. A LabAppliance is one. */
export interface SshLogin { host: string; port: number; user: string; privateKeyPath: string; hostKey: string }

/**
 * The system ssh client's arguments to run a command as login: its host key pinned
 * (ssh refuses any other), only its key file offered, and never a prompt.
 */
export function pinnedSshArgs(login: SshLogin, command: string): string[] {
    return [
        "-F", "/dev/null", "-i", login.privateKeyPath, "-p", String(login.port),
        "-o", `UserKnownHostsFile=${pinnedKnownHosts(login.host, login.port, login.hostKey)}`, "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
        `${login.user}@${login.host}`, command,
    ];
}

/** One ssh run's result; ssh's own failures (refused host key or login) exit 255. */
export interface SshRun { code: number; stdout: string; stderr: string }

/** Runs a shell command as login over ssh with its host key pinned; stdin gets input. */
export function pinnedSsh(login: SshLogin, command: string, input = "", timeoutMs = 120_000): SshRun {
    const r = spawnSync("ssh", pinnedSshArgs(login, command), { input, encoding: "utf8", timeout: timeoutMs });
    if (r.error) throw new Error(`ssh ${login.user}@${login.host}:${login.port} failed to run: ${r.error.message}`);
    return { code: r.status ?? 255, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Quotes a word for the remote shell, which splits ssh's command line again: the providers' own quoting. */
export { shellQuote };

/** The remote command line for `sudo -n orbit <args> --json`. */
export function orbitCommand(args: readonly string[]): string {
    const argv = args.includes("--json") ? [...args] : [...args, "--json"];
    return shellJoin(["sudo", "-n", "orbit", ...argv]);
}

/**
 * Runs `sudo -n orbit <args> --json` on a lab appliance over the system ssh
 * client, as an operator would, with its host key pinned. A secret goes on stdin.
 */
export function orbit(appliance: LabAppliance, args: readonly string[], stdin?: string): OrbitRun {
    const r = pinnedSsh(appliance, orbitCommand(args), stdin ?? "", 60_000);
    let json: any;
    try { json = JSON.parse(r.stdout); } catch { json = undefined; }
    return { ...r, json };
}

/** Like orbit(), but fails loudly unless the call succeeded; returns the JSON answer. */
export function orbitOk(appliance: LabAppliance, args: readonly string[], stdin?: string): any {
    const r = orbit(appliance, args, stdin);
    if (r.code !== 0 || r.json?.ok !== true) {
        throw new Error(`orbit ${args.join(" ")} on ${appliance.name} failed (exit ${r.code}): ${r.stdout.trim()} ${r.stderr.trim()}`);
    }
    return r.json;
}

/** A file's exact bytes (none for a directory), mode, owner and inode, read directly from disk (the tests run as root beside the lab). */
export interface FileSnapshot { bytes: Buffer; mode: number; uid: number; gid: number; ino: number }

export function snapshotFile(file: string): FileSnapshot {
    const st = fs.statSync(file);
    return { bytes: st.isDirectory() ? Buffer.alloc(0) : fs.readFileSync(file), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, ino: st.ino };
}

/** Whether a TCP connection to host:port opens within 3 seconds. */
export function tcpOpen(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host, port });
        const done = (ok: boolean) => { s.destroy(); resolve(ok); };
        s.setTimeout(3000, () => done(false));
        s.on("connect", () => done(true));
        s.on("error", () => done(false));
    });
}

/** Fails, naming every one, unless each [name, port] answers on 127.0.0.1. */
export async function assertLabServersAnswer(servers: ReadonlyArray<readonly [string, number]>): Promise<void> {
    const down: string[] = [];
    for (const [name, port] of servers) if (!(await tcpOpen("127.0.0.1", port))) down.push(`${name} (127.0.0.1:${port})`);
    if (down.length) throw new Error(`lab servers not answering: ${down.join(", ")}. Run 'bash lab/status', then 'bash lab/start'.`);
}

/** The lab files a test changes, as they were: what restoreLab() puts back. */
export interface LabSnapshot {
    authorizedKeysPath: string;
    /** Undefined: there was no authorized_keys. */
    authorizedKeys?: FileSnapshot;
    sshDirMode: number;
    orbitConfigPath: string;
    /** Undefined: the appliance had no orbit config (orbit's defaults). */
    orbitConfig?: Buffer;
    cifsWriteTestPath: string;
    cifsWriteTestExisted: boolean;
}

/**
 * Keeps the backup user's authorized_keys (bytes, mode, owner) and its directory's
 * mode, the appliance's orbit config, and whether the CIFS share held a write_test.
 */
export function snapshotLab(lab: LabDescription, appliance: LabAppliance): LabSnapshot {
    const authorizedKeysPath = lab.rsyncServer.authorizedKeysPath;
    const orbitConfigPath = path.join(appliance.orbitRoot, "orbinibkp.conf");
    const cifsWriteTestPath = path.join(lab.cifs.localPath, "write_test");
    return {
        authorizedKeysPath,
        authorizedKeys: fs.existsSync(authorizedKeysPath) ? snapshotFile(authorizedKeysPath) : undefined,
        sshDirMode: snapshotFile(path.dirname(authorizedKeysPath)).mode,
        orbitConfigPath,
        orbitConfig: fs.existsSync(orbitConfigPath) ? fs.readFileSync(orbitConfigPath) : undefined,
        cifsWriteTestPath,
        cifsWriteTestExisted: fs.existsSync(cifsWriteTestPath),
    };
}

/** Writes a file whole under a temporary name and renames it in, so no reader sees it half written. */
function replaceFile(file: string, bytes: Buffer, mode: number, owner?: { uid: number; gid: number }): void {
    const tmp = `${file}.restore-${process.pid}`;
    fs.writeFileSync(tmp, bytes, { mode });
    if (owner) fs.chownSync(tmp, owner.uid, owner.gid);
    fs.chmodSync(tmp, mode); // writeFileSync's mode is cut by the umask
    fs.renameSync(tmp, file);
}

/**
 * Puts back what snapshotLab() kept, and removes a CIFS write_test the test left.
 *
 * Nothing is deleted from the NFS export: deleting files there on disk, under a
 * running nfs-ganesha, leaves its cache stale, and the next NFS mount or write_test
 * fails with NFS4ERR_STALE (see commit 6720b62). The NFS write_test stays; the next
 * 'lab/start --reset' (run with the lab stopped) clears it.
 */
export function restoreLab(snapshot: LabSnapshot): void {
    const { authorizedKeys, orbitConfig } = snapshot;
    if (authorizedKeys) replaceFile(snapshot.authorizedKeysPath, authorizedKeys.bytes, authorizedKeys.mode, authorizedKeys);
    else fs.rmSync(snapshot.authorizedKeysPath, { force: true });
    fs.chmodSync(path.dirname(snapshot.authorizedKeysPath), snapshot.sshDirMode);
    if (orbitConfig) replaceFile(snapshot.orbitConfigPath, orbitConfig, 0o600);
    else fs.rmSync(snapshot.orbitConfigPath, { force: true });
    if (!snapshot.cifsWriteTestExisted) fs.rmSync(snapshot.cifsWriteTestPath, { force: true });
}

/** The lab's credentials, read from its files: what a stack config gets as secrets. */
export interface LabCredentials { applianceKey: string; adminKey: string; cifsPassword: string }

export function labCredentials(lab: LabDescription, appliance: LabAppliance): LabCredentials {
    return {
        applianceKey: fs.readFileSync(appliance.privateKeyPath, "utf8"),
        adminKey: fs.readFileSync(lab.rsyncServer.adminPrivateKeyPath, "utf8"),
        cifsPassword: fs.readFileSync(lab.cifs.passwordPath, "utf8").split("\n")[0],
    };
}

/**
 * The stack config of the e2e programs that drive every resource against one lab
 * appliance (tests/e2e/programs/resources and drift): hosts, ports and host keys
 * from lab.json, keys and passwords as secrets.
 */
export function resourceProgramConfig(lab: LabDescription, appliance: LabAppliance, credentials: LabCredentials,
    policy: { cifsPartitionId: string; nfsPartitionId: string; hour: number; masterPassword: string; video?: boolean }): Record<string, { value: string; secret?: boolean }> {
    const r = lab.rsyncServer;
    return {
        applianceHost: { value: appliance.host }, appliancePort: { value: String(appliance.port) }, applianceUser: { value: appliance.user },
        applianceHostKey: { value: appliance.hostKey }, appliancePrivateKey: { value: credentials.applianceKey, secret: true },
        serverHost: { value: r.host }, serverPort: { value: String(r.port) },
        serverAdminUser: { value: r.adminUser }, serverHostKey: { value: r.hostKey },
        serverAdminPrivateKey: { value: credentials.adminKey, secret: true },
        backupUser: { value: r.backupUser }, backupPath: { value: r.backupPath },
        rsyncHost: { value: r.host }, rsyncPort: { value: String(r.port) },
        cifsPartitionId: { value: policy.cifsPartitionId }, cifsHost: { value: lab.cifs.host }, cifsPort: { value: String(lab.cifs.port) },
        cifsPath: { value: lab.cifs.remotePath }, cifsUser: { value: lab.cifs.user }, cifsPassword: { value: credentials.cifsPassword, secret: true },
        nfsPartitionId: { value: policy.nfsPartitionId }, nfsHost: { value: lab.nfs.host }, nfsPort: { value: String(lab.nfs.port) }, nfsPath: { value: lab.nfs.remotePath },
        hour: { value: String(policy.hour) }, masterPassword: { value: policy.masterPassword, secret: true },
        ...(policy.video === undefined ? {} : { video: { value: String(policy.video) } }),
    };
}

/**
 * Restarts the lab (idempotent: running servers stay up) with every appliance's orbit
 * in `mode`, and returns the new description. The suites run in contract mode
 * (scripts/test sets LAB_ORBIT); the vendor suite switches and switches back.
 */
export function setOrbitMode(mode: "vendor" | "contract"): LabDescription {
    const count = loadLab().appliances.length;
    const r = spawnSync("bash", [path.join(__dirname, "..", "..", "lab", "start")], {
        env: { ...process.env, LAB_ORBIT: mode, LAB_APPLIANCES: String(count) }, encoding: "utf8", timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`lab/start with LAB_ORBIT=${mode} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`);
    return loadLab();
}

/** Sets an appliance's Orbit Web settings (lab/orbit-web stands in for the admin), as KEY=VALUE pairs. */
export function orbitWeb(appliance: LabAppliance, settings: Record<string, string>): unknown {
    const r = spawnSync("bash", [path.join(__dirname, "..", "..", "lab", "orbit-web"), appliance.name, ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)], { encoding: "utf8", timeout: 30_000 });
    if (r.status !== 0) throw new Error(`lab/orbit-web ${appliance.name} failed (exit ${r.status}): ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
}
