// The lab's description (lab/start writes it). Tests that need the lab fail loudly
// when it is missing; they never skip.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface LabAppliance {
    name: string; host: string; port: number; user: string; privateKeyPath: string;
    hostKey: string; hostKeyFingerprint: string; orbitRoot: string; rootPublicKey: string; sshdLog: string;
}
export interface LabDescription {
    version: number;
    root: string;
    appliances: LabAppliance[];
    rsyncServer: {
        host: string; port: number; hostKey: string; hostKeyFingerprint: string; backupUser: string; backupPath: string;
        authorizedKeysPath: string; adminUser: string; adminPrivateKeyPath: string; operatorPrivateKeyPath: string; sshdLog: string;
    };
    cifs: { host: string; port: number; share: string; remotePath: string; user: string; passwordPath: string; localPath: string; credentialId: string };
    nfs: { host: string; port: number; remotePath: string; localPath: string };
    skipped: string[];
}

export function labFile(): string {
    return path.join(process.env.SENHASEGURA_LAB_ROOT ?? "/var/lib/senhasegura-lab", "lab.json");
}

export function loadLab(): LabDescription {
    const file = labFile();
    if (!fs.existsSync(file)) {
        throw new Error(`the lab is not running: ${file} is missing. Start it with 'bash lab/start' (scripts/test does this)`);
    }
    return JSON.parse(fs.readFileSync(file, "utf8")) as LabDescription;
}

/** Counts accepted SSH logins in an sshd log, to prove connection pooling. */
export function acceptedLogins(sshdLog: string): number {
    if (!fs.existsSync(sshdLog)) throw new Error(`sshd log ${sshdLog} is missing: is the lab's sshd logging with -E?`);
    return (fs.readFileSync(sshdLog, "utf8").match(/Accepted publickey for /g) ?? []).length;
}

/** One orbit call's result; `json` is the parsed stdout (orbit answers JSON with --json), or undefined. */
export interface OrbitRun { code: number; stdout: string; stderr: string; json: any }

const knownHostsFiles = new Map<string, string>();

/** A known_hosts file holding only the pinned key of host:port, so ssh checks it strictly. */
export function pinnedKnownHosts(host: string, port: number, hostKey: string): string {
    const id = `${host}:${port}`;
    let file = knownHostsFiles.get(id);
    if (!file || !fs.existsSync(file)) {
        file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ssb-known-hosts-")), "known_hosts");
        fs.writeFileSync(file, `[${host}]:${port} ${hostKey.trim()}\n`);
        knownHostsFiles.set(id, file);
    }
    return file;
}

const shq = (s: string) => (/^[A-Za-z0-9._\/:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/**
 * Runs `sudo -n orbit <args> --json` on a lab appliance over the system ssh
 * client, as an operator would, with its host key pinned. A secret goes on stdin.
 */
export function orbit(appliance: LabAppliance, args: readonly string[], stdin?: string): OrbitRun {
    const argv = args.includes("--json") ? [...args] : [...args, "--json"];
    const r = spawnSync("ssh", [
        "-F", "/dev/null", "-i", appliance.privateKeyPath, "-p", String(appliance.port),
        "-o", `UserKnownHostsFile=${pinnedKnownHosts(appliance.host, appliance.port, appliance.hostKey)}`,
        "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=10", `${appliance.user}@${appliance.host}`,
        ["sudo", "-n", "orbit", ...argv].map(shq).join(" "),
    ], { input: stdin ?? "", encoding: "utf8", timeout: 60_000 });
    if (r.error) throw new Error(`ssh to ${appliance.name} failed to run: ${r.error.message}`);
    let json: any;
    try { json = JSON.parse(r.stdout); } catch { json = undefined; }
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
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
