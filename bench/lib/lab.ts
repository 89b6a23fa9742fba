// The lab is shared: the benchmark holds /run/ssb-lab.lock while it uses it, and
// leaves it as it found it. Before a run it saves the files our stacks change
// (each appliance's orbinibkp.conf, the backup user's authorized_keys); after the
// run it puts them back byte for byte, with mode and owner, and removes the files
// its verification backups wrote on the backup server.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { labFile, readLabDescription } from "../../lab/description";
import type { Lab } from "./sshd";

export const LAB_JSON = labFile();
export const LAB_ROOT = path.dirname(LAB_JSON);

/** The lab's description, read and checked by the one reader the tests and the dev stack use too. */
export function loadLab(): Lab {
    return readLabDescription(LAB_JSON);
}

/**
 * Runs lab/start with N appliances; returns its wall time. A second attempt follows a
 * failed first one: lab/start is idempotent, and its 20 s wait for every server to answer
 * was once missed at N=50 on this 2-core machine (right after the previous section), which
 * cost that N a tool's figures. The first failure's last lines go to stderr.
 */
export function labStart(repo: string, n: number, attempts = 2): number {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
        try {
            execFileSync("bash", [path.join(repo, "lab", "start"), "--appliances", String(n)], { stdio: ["ignore", "pipe", "pipe"] });
            return Date.now() - started;
        } catch (err: any) {
            const output = `${err.stdout ?? ""}${err.stderr ?? ""}`;
            if (attempt >= attempts) throw new Error(`lab/start --appliances ${n} failed ${attempts} times; the last:\n${output}`);
            const tail = output.trim().split("\n").slice(-3).join("\n  ");
            process.stderr.write(`[lab] lab/start --appliances ${n} failed (attempt ${attempt} of ${attempts}), trying again:\n  ${tail}\n`);
        }
    }
}

interface SavedFile { file: string; data: Buffer | null; mode: number; uid: number; gid: number }
export type LabSnapshot = SavedFile[];

function save(file: string): SavedFile {
    if (!fs.existsSync(file)) return { file, data: null, mode: 0, uid: 0, gid: 0 };
    const st = fs.statSync(file);
    return { file, data: fs.readFileSync(file), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

export function snapshotLab(lab: Lab, n: number): LabSnapshot {
    return [
        ...lab.appliances.slice(0, n).map((a) => save(path.join(a.orbitRoot, "orbinibkp.conf"))),
        save(lab.rsyncServer.authorizedKeysPath),
    ];
}

/** Puts every saved file back (atomically: temp file, mode, owner, rename). */
export function restoreLab(snapshot: LabSnapshot): string[] {
    const restored: string[] = [];
    for (const s of snapshot) {
        const current = fs.existsSync(s.file) ? fs.readFileSync(s.file) : null;
        if (s.data === null) {
            if (current !== null) { fs.rmSync(s.file); restored.push(s.file); }
            continue;
        }
        if (current !== null && current.equals(s.data)) {
            const st = fs.statSync(s.file);
            if ((st.mode & 0o7777) === s.mode && st.uid === s.uid && st.gid === s.gid) continue;
        }
        const tmp = `${s.file}.ssb-bench-${process.pid}`;
        fs.writeFileSync(tmp, s.data, { mode: s.mode });
        fs.chmodSync(tmp, s.mode);
        fs.chownSync(tmp, s.uid, s.gid);
        fs.renameSync(tmp, s.file);
        restored.push(s.file);
    }
    return restored;
}

/** Removes the files verification backups wrote (paths relative to the backup directory), and their emptied directories. */
export function removeBackupFiles(backupPath: string, files: string[]): number {
    let removed = 0;
    const root = path.resolve(backupPath);
    for (const f of files) {
        const full = path.resolve(root, f);
        if (!full.startsWith(root + path.sep)) continue;
        if (fs.existsSync(full)) { fs.rmSync(full, { force: true }); removed++; }
        let dir = path.dirname(full);
        // backup/<kind>/<id>/…: remove up to the <id> directory when empty
        while (dir.startsWith(path.join(root, "backup") + path.sep) && path.dirname(dir) !== path.join(root, "backup")) {
            try { fs.rmdirSync(dir); } catch { break; }
            dir = path.dirname(dir);
        }
    }
    return removed;
}
