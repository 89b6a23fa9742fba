// The lab's files as the hardening suites watch and restore them: its logs, marks
// of what was appended, orbit run directly as root, and a guard that puts the
// appliance's configuration back. The tests run as root beside the lab.
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { LabAppliance, LabDescription } from "../lab";

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
