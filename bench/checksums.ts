// The checksum figure: how long BackupVerification's digestFiles takes
// for a 1 GiB backup set on each far side (the rsync server over SSH, the CIFS share
// with smbclient, the NFS export with nfs-cat), and the verifying process's peak
// memory, which stays flat because content is streamed into the hash, never held.
//
// A locked section like bench/section.ts: bench/run.ts starts it under
// `flock -o /run/ssb-lab.lock`, and it leaves the lab as it found it. The set is a few
// files of random data placed in each destination's directory on this machine (the
// lab's servers serve them from there), hashed here to know the answer, measured
// `--repeat` times per side, then removed: over NFS through NFS (REMOVE), so
// nfs-ganesha's cache never holds a file deleted behind its back.
//
//   node -r ts-node/register/transpile-only bench/checksums.ts --out FILE [--gib 1] [--files 4] [--repeat 3]
import { createHash, randomBytes, randomFillSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LAB_JSON } from "./lib/lab";
import { runProbe } from "./lib/probe-process";

const REPO = path.resolve(__dirname, "..");
const MIB = 1024 * 1024;
const WRITE_CHUNK = 8 * MIB;

export type SideName = "rsync" | "cifs" | "nfs";
export const SIDES: readonly SideName[] = ["rsync", "cifs", "nfs"];

export interface LabJson {
    rsyncServer: { host: string; port: number; hostKey: string; backupPath: string; adminUser: string; adminPrivateKeyPath: string };
    cifs: { available?: boolean; host: string; port: number; remotePath: string; user: string; passwordPath: string; localPath: string };
    nfs: { available?: boolean; host: string; port: number; remotePath: string; localPath: string };
}

export interface ChecksumRound {
    ms: number;
    mibPerSec: number;
    /** Peak RSS (VmHWM) of the verifying Node process, and what it was before digestFiles began. */
    verifierPeakMiB: number;
    verifierBeforeMiB: number;
    /** Peak RSS of the client it ran (smbclient, nfs-cat); none over rsync, where sha256sum runs on the server. */
    clientPeakMiB: number | null;
    /** Busy share of all CPUs during the round (the machine is shared). */
    machineBusy: number;
}

export interface ChecksumSide {
    side: SideName;
    rounds: ChecksumRound[];
    medianMs: number;
    medianMibPerSec: number;
    verifierPeakMiB: number;
    clientPeakMiB: number | null;
}

export interface ChecksumResult {
    startedAt: string;
    bytes: number;
    files: number;
    repeat: number;
    cpus: number;
    sides: ChecksumSide[];
    errors: string[];
}

function option(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

function say(message: string): void {
    process.stdout.write(`[bench] ${new Date().toISOString().slice(11, 19)} checksums: ${message}\n`);
}

export function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)];
}

export const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

/** orbit's NFS client: the set is removed from the export through NFS. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const orbitJs = require(path.join(REPO, "lab", "appliance", "orbit.js")) as {
    nfsRemove(p: { host: string; port: number; path: string }, rel: string): Promise<void>;
};

/** The far side as BackupVerification is given it (the CIFS password goes to the probe on stdin only). */
export function sideOf(lab: LabJson, name: SideName): unknown {
    if (name === "rsync") {
        const r = lab.rsyncServer;
        return { type: "rsync", server: { host: r.host, port: r.port, user: r.adminUser, hostKey: r.hostKey, privateKeyPath: r.adminPrivateKeyPath }, path: r.backupPath };
    }
    if (name === "cifs") {
        const c = lab.cifs;
        return { type: "cifs", host: c.host, port: c.port, path: c.remotePath, user: c.user, password: fs.readFileSync(c.passwordPath, "utf8").split("\n")[0] };
    }
    return { type: "nfs", host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath };
}

export function localDir(lab: LabJson, name: SideName): string {
    return name === "rsync" ? lab.rsyncServer.backupPath : name === "cifs" ? lab.cifs.localPath : lab.nfs.localPath;
}

/**
 * Writes the same random files into every destination directory in one pass, owned
 * like the directory they are in, and returns each file's size and SHA-256.
 */
function placeSet(lab: LabJson, dirRel: string, files: string[], bytesPerFile: number): Map<string, { size: number; sha256: string }> {
    const digests = new Map<string, { size: number; sha256: string }>();
    for (const name of SIDES) {
        const base = localDir(lab, name);
        const st = fs.statSync(base);
        fs.mkdirSync(path.join(base, dirRel), { mode: 0o755 });
        fs.chownSync(path.join(base, dirRel), st.uid, st.gid);
    }
    const chunk = Buffer.alloc(WRITE_CHUNK);
    for (const rel of files) {
        const fds = SIDES.map((name) => {
            const file = path.join(localDir(lab, name), rel);
            const fd = fs.openSync(file, "wx", 0o644);
            const st = fs.statSync(localDir(lab, name));
            fs.fchownSync(fd, st.uid, st.gid);
            return fd;
        });
        const hash = createHash("sha256");
        try {
            for (let left = bytesPerFile; left > 0;) {
                const n = Math.min(left, chunk.length);
                randomFillSync(chunk, 0, n);
                hash.update(chunk.subarray(0, n));
                for (const fd of fds) fs.writeSync(fd, chunk, 0, n);
                left -= n;
            }
        } finally {
            for (const fd of fds) fs.closeSync(fd);
        }
        digests.set(rel, { size: bytesPerFile, sha256: hash.digest("hex") });
    }
    return digests;
}

async function removeSet(lab: LabJson, dirRel: string, files: string[]): Promise<string[]> {
    const problems: string[] = [];
    for (const name of SIDES) {
        if (name !== "nfs") {
            fs.rmSync(path.join(localDir(lab, name), dirRel), { recursive: true, force: true });
            continue;
        }
        const target = { host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath };
        try {
            for (const rel of [...files, dirRel]) await orbitJs.nfsRemove(target, rel);
        } catch (err) {
            problems.push(`removing the set through NFS failed (${(err as Error).message}); removed on disk instead`);
        }
        fs.rmSync(path.join(localDir(lab, name), dirRel), { recursive: true, force: true });
    }
    return problems;
}

/** One measured digestFiles in its own process, with it and its children sampled for memory. */
function probe(side: unknown, files: string[], expectedBytes: number) {
    return runProbe("digest-probe.js", { side, files, expectedBytes }, "digestFiles");
}

async function main(): Promise<void> {
    const out = option("out");
    const gib = Number(option("gib") ?? 1);
    const fileCount = Number(option("files") ?? 4);
    const repeat = Number(option("repeat") ?? 3);
    if (!out || !(gib > 0 && gib <= 16) || !Number.isInteger(fileCount) || fileCount < 1 || !Number.isInteger(repeat) || repeat < 1) {
        throw new Error("usage: checksums.ts --out FILE [--gib 1 (up to 16)] [--files 4] [--repeat 3]");
    }
    fs.writeFileSync(`${out}.started`, ""); // tells bench/run.ts the lock is ours
    if (!fs.existsSync(path.join(REPO, "dist", "providers", "transport", "far-side.js"))) throw new Error("dist/providers/transport/far-side.js is missing: build the package first (npx tsc -b; bench/run does it)");
    const lab = JSON.parse(fs.readFileSync(LAB_JSON, "utf8")) as LabJson;
    if (lab.cifs.available === false || lab.nfs.available === false) throw new Error("the checksum figure needs the root lab, with Samba and nfs-ganesha");

    const bytesPerFile = Math.floor((gib * 1024 * MIB) / fileCount);
    const totalBytes = bytesPerFile * fileCount;
    const dirRel = `ssb-bench-checksums-${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
    const files = Array.from({ length: fileCount }, (_, i) => `${dirRel}/part-${i}.tar.gz.enc`);
    const result: ChecksumResult = { startedAt: new Date().toISOString(), bytes: totalBytes, files: fileCount, repeat, cpus: os.cpus().length, sides: [], errors: [] };
    try {
        say(`placing ${fileCount} files of random data, ${(totalBytes / MIB).toFixed(0)} MiB in all, on each of rsync, CIFS and NFS`);
        const expected = placeSet(lab, dirRel, files, bytesPerFile);
        for (const name of SIDES) {
            const side = sideOf(lab, name);
            const rounds: ChecksumRound[] = [];
            for (let i = 0; i < repeat; i++) {
                const { out: r, records, busy } = await probe(side, files, totalBytes);
                for (const f of files) {
                    const got = r.found[f];
                    const want = expected.get(f)!;
                    if (!got || got.size !== want.size || got.sha256 !== want.sha256) throw new Error(`${name}: digestFiles found ${JSON.stringify(got)} for ${f}, but it holds ${JSON.stringify(want)}`);
                }
                const verifier = records.find((p) => p.role === "cli"); // the sampler names its root process "cli"
                const clients = records.filter((p) => p.role !== "cli");
                const round: ChecksumRound = {
                    ms: Math.round(r.ms),
                    mibPerSec: Math.round((totalBytes / MIB / (r.ms / 1000)) * 10) / 10,
                    verifierPeakMiB: mib(Math.max(r.hwmAfterKiB, verifier?.hwmKiB ?? 0)),
                    verifierBeforeMiB: mib(r.hwmBeforeKiB),
                    clientPeakMiB: clients.length > 0 ? mib(Math.max(...clients.map((c) => c.hwmKiB))) : null,
                    machineBusy: Math.round(busy * 100) / 100,
                };
                rounds.push(round);
                say(`${name} round ${i + 1}/${repeat}: ${(round.ms / 1000).toFixed(2)} s, ${round.mibPerSec} MiB/s; verifier peak ${round.verifierPeakMiB} MiB (${round.verifierBeforeMiB} before)`
                    + `${round.clientPeakMiB === null ? "" : `, client peak ${round.clientPeakMiB} MiB`}; machine ${Math.round(round.machineBusy * 100)}% busy`);
            }
            const med = median(rounds.map((r) => r.ms));
            result.sides.push({
                side: name, rounds, medianMs: med, medianMibPerSec: Math.round((totalBytes / MIB / (med / 1000)) * 10) / 10,
                verifierPeakMiB: Math.max(...rounds.map((r) => r.verifierPeakMiB)),
                clientPeakMiB: rounds[0].clientPeakMiB === null ? null : Math.max(...rounds.map((r) => r.clientPeakMiB ?? 0)),
            });
        }
    } catch (err) {
        result.errors.push((err as Error).message);
        say(`failed: ${(err as Error).message}`);
    } finally {
        result.errors.push(...await removeSet(lab, dirRel, files));
        say(`removed the set (${dirRel}) from the three destinations`);
        fs.writeFileSync(out, JSON.stringify(result, null, 2));
    }
    if (result.errors.length > 0) process.exitCode = 1;
}

/** The figure as a table, for bench/run.ts and --report. */
export function renderChecksums(r: ChecksumResult): string {
    const lines = [
        `Checksums at the far side: digestFiles over a ${(r.bytes / 2 ** 30).toFixed(2)} GiB backup set (${r.files} files of random data), median of ${r.repeat}, ${r.cpus} CPUs`,
        "far side  seconds   MiB/s   verifier peak RSS   client peak RSS",
    ];
    for (const s of r.sides) {
        lines.push(`${s.side.padEnd(8)}  ${(s.medianMs / 1000).toFixed(2).padStart(7)}  ${s.medianMibPerSec.toFixed(1).padStart(6)}   ${`${s.verifierPeakMiB} MiB`.padStart(17)}   ${(s.clientPeakMiB === null ? "- (sha256sum on the server)" : `${s.clientPeakMiB} MiB`).padStart(15)}`);
    }
    for (const e of r.errors) lines.push(`error: ${e}`);
    return lines.join("\n");
}

if (require.main === module) {
    main().catch((err) => {
        process.stderr.write(`[bench] checksums: ${(err as Error).message}\n`);
        process.exit(1);
    });
}
