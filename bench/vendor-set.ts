// The vendor set figure: how long the verification and the restore drill take on a
// 1 GiB backup set as a vendor appliance writes it after the master key ceremony
// (AES Crypt dumps of mt4 and senhasegura, secrets items, a day of session files), on
// each far side (rsync over SSH, CIFS, NFS), and the peak memory of the process that
// does it, which stays flat because every file is streamed through AES Crypt, gzip and
// a tail buffer, never held.
//
// A locked section like bench/checksums.ts: bench/run.ts starts it under `flock -o
// /run/ssb-lab.lock`, and it leaves the lab as it found it. The set is made once by
// the test oracle (tests/oracle/aescrypt.py, streaming) with a random key of this run,
// in a new directory of each destination as the lab keeps it on this machine; each far
// side is given that directory as its root. Removed afterwards (through NFS for NFS).
//
//   node -r ts-node/register/transpile-only bench/vendor-set.ts --out FILE [--gib 1] [--repeat 3]
import { spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { LAB_JSON } from "./lib/lab";
import { runProbe } from "./lib/probe-process";
import { type LabJson, SIDES, type SideName, localDir, median, mib, orbitJs, sideOf } from "./checksums";

const REPO = path.resolve(__dirname, "..");
const MIB = 1024 * 1024;
const STAMP = "2099-01-01_050000";
const DAY = "backup/system/arz/2099/0101";

type Mode = "verify" | "drill";

export interface VendorRound { ms: number; mibPerSec: number; peakMiB: number; beforeMiB: number; clientPeakMiB: number | null; machineBusy: number }
export interface VendorSide { side: SideName; mode: Mode; rounds: VendorRound[]; medianMs: number; peakMiB: number; clientPeakMiB: number | null }
export interface VendorSetResult { startedAt: string; bytes: number; files: number; repeat: number; cpus: number; sides: VendorSide[]; errors: string[] }

function option(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

function say(message: string): void {
    process.stdout.write(`[bench] ${new Date().toISOString().slice(11, 19)} vendor-set: ${message}\n`);
}

/** The oracle's encrypt, streaming: plaintext into `input`; `done` resolves once the sealed file is written. */
function sealer(file: string, keyFile: string): { input: NodeJS.WritableStream; done: Promise<void> } {
    const out = fs.openSync(file, "wx", 0o644);
    const key = fs.openSync(keyFile, "r");
    const child = spawn("/usr/bin/python3", [path.join(REPO, "tests", "oracle", "aescrypt.py"), "encrypt", "--version", "2", "--key-fd", "3"], { stdio: ["pipe", out, "pipe", key] });
    fs.closeSync(out);
    fs.closeSync(key);
    let stderr = "";
    child.stderr!.on("data", (d) => { stderr += d; });
    const done = new Promise<void>((resolve, reject) => child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`the oracle failed sealing ${file}: ${stderr.trim()}`)))));
    return { input: child.stdin!, done };
}

/** A stand-in mysqldump of about `bytes` gzipped bytes (random rows, so gzip cannot shrink them much), ending with the completion line, sealed. */
async function writeDump(file: string, keyFile: string, db: string, bytes: number): Promise<void> {
    const seal = sealer(file, keyFile);
    const gzip = zlib.createGzip({ level: 1 });
    let gzipped = 0;
    gzip.on("data", (d: Buffer) => { gzipped += d.length; });
    gzip.pipe(seal.input);
    const write = (text: string) => new Promise<void>((resolve) => { if (gzip.write(text)) resolve(); else gzip.once("drain", () => resolve()); });
    await write(`-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)\n--\n-- Host: localhost    Database: ${db}\nCREATE TABLE \`bench\` (\`row\` TEXT);\n`);
    while (gzipped < bytes) {
        // 2048 rows of 128 random base64 characters each, from one draw.
        const text = randomBytes(2048 * 96).toString("base64");
        const rows: string[] = [];
        for (let at = 0; at < text.length; at += 128) rows.push(`INSERT INTO \`bench\` VALUES ('${text.slice(at, at + 128)}');`);
        await write(`${rows.join("\n")}\n`);
    }
    await write("-- Dump completed on 2099-01-01  5:00:00\n");
    gzip.end();
    await seal.done;
}

async function writeSealed(file: string, keyFile: string, plain: Buffer): Promise<void> {
    const seal = sealer(file, keyFile);
    seal.input.end(plain);
    await seal.done;
}

const DIRS = ["backup", "backup/system", "backup/system/db", "backup/secrets", "backup/system/arz", "backup/system/arz/2099", DAY];

/** Writes the set into the rsync directory, copies it into the CIFS and NFS ones (owned like each), and returns its files and size. */
async function placeSet(lab: LabJson, tag: string, keyFile: string, totalBytes: number): Promise<{ files: string[]; dumps: string[]; bytes: number }> {
    for (const name of SIDES) {
        const st = fs.statSync(localDir(lab, name));
        for (const d of [tag, ...DIRS.map((x) => `${tag}/${x}`)]) {
            fs.mkdirSync(path.join(localDir(lab, name), d), { mode: 0o755 });
            fs.chownSync(path.join(localDir(lab, name), d), st.uid, st.gid);
        }
    }
    const base = path.join(localDir(lab, "rsync"), tag);
    const dumps = [`senhasegura-db-${STAMP}mt4.sql.gz`, `senhasegura-db-${STAMP}senhasegura.sql.gz`];
    const files: string[] = [];
    for (const [i, dump] of dumps.entries()) {
        const rel = `backup/system/db/${dump}.aes`;
        say(`sealing ${rel} with the oracle`);
        await writeDump(path.join(base, rel), keyFile, i === 0 ? "mt4" : "senhasegura", Math.floor(totalBytes * (i === 0 ? 0.75 : 0.25)));
        files.push(rel);
    }
    for (let i = 1; i <= 3; i++) {
        const rel = `backup/secrets/credential-${String(i).padStart(4, "0")}.json.aes`;
        await writeSealed(path.join(base, rel), keyFile, Buffer.from(`${JSON.stringify({ type: "credential", name: `bench ${i}`, secret: randomBytes(12).toString("hex") })}\n`));
        files.push(rel);
    }
    const session = `${DAY}/session-0001.arz.aes`;
    await writeSealed(path.join(base, session), keyFile, randomBytes(64 * 1024));
    files.push(session);
    let bytes = 0;
    for (const rel of files) {
        bytes += fs.statSync(path.join(base, rel)).size;
        for (const name of SIDES.filter((n) => n !== "rsync")) {
            const to = path.join(localDir(lab, name), tag, rel);
            fs.copyFileSync(path.join(base, rel), to);
            const st = fs.statSync(localDir(lab, name));
            fs.chownSync(to, st.uid, st.gid);
        }
        const st = fs.statSync(localDir(lab, "rsync"));
        fs.chownSync(path.join(base, rel), st.uid, st.gid);
    }
    return { files, dumps, bytes };
}

async function removeSet(lab: LabJson, tag: string, files: string[]): Promise<string[]> {
    const problems: string[] = [];
    for (const name of SIDES) {
        if (name === "nfs") {
            const target = { host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath };
            try {
                for (const rel of [...files, ...[...DIRS].reverse()].map((r) => `${tag}/${r}`).concat(tag)) {
                    if (fs.existsSync(path.join(localDir(lab, name), rel))) await orbitJs.nfsRemove(target, rel);
                }
            } catch (err) {
                problems.push(`removing the set through NFS failed (${(err as Error).message}); removed on disk instead`);
            }
        }
        fs.rmSync(path.join(localDir(lab, name), tag), { recursive: true, force: true });
    }
    return problems;
}

/** One measured verification or drill in its own process, with it and its children sampled for memory. */
function probe(input: unknown) {
    return runProbe("vendor-probe.js", input, "the probe");
}

/** What a round must have found, or why the figure is void. */
function checkOutcome(name: SideName, mode: Mode, result: any, files: string[]): void {
    if (mode === "verify") {
        if (result.checked !== "aescrypt-hmac") throw new Error(`${name}: the verification reached ${result.checked}, not aescrypt-hmac`);
        return;
    }
    if (result.verdict !== "restorable") throw new Error(`${name}: the drill says ${result.verdict}: ${result.error ?? JSON.stringify(result.problems).slice(0, 400)}`);
    const opened = new Set(result.files.map((f: any) => f.path));
    const missing = files.filter((f) => !f.startsWith(DAY) && !opened.has(f));
    if (missing.length > 0) throw new Error(`${name}: the drill did not open ${missing.join(", ")}`);
}

async function main(): Promise<void> {
    const out = option("out");
    const gib = Number(option("gib") ?? 1);
    const repeat = Number(option("repeat") ?? 3);
    if (!out || !(gib > 0 && gib <= 8) || !Number.isInteger(repeat) || repeat < 1) throw new Error("usage: vendor-set.ts --out FILE [--gib 1 (up to 8)] [--repeat 3]");
    fs.writeFileSync(`${out}.started`, ""); // tells bench/run.ts the lock is ours
    for (const f of ["providers/resources/backup-verification.js", "cli/restore-drill/run.js"]) {
        if (!fs.existsSync(path.join(REPO, "dist", f))) throw new Error(`dist/${f} is missing: build the package first (npx tsc -b; bench/run does it)`);
    }
    const lab = JSON.parse(fs.readFileSync(LAB_JSON, "utf8")) as LabJson;
    if (lab.cifs.available === false || lab.nfs.available === false) throw new Error("the vendor set figure needs the root lab, with Samba and nfs-ganesha");

    const tag = `ssb-bench-vendor-${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-bench-key-"));
    const keyFile = path.join(keyDir, "master-key");
    const masterKey = Array.from({ length: 4 }, () => randomBytes(8).toString("hex")).join("-");
    fs.writeFileSync(keyFile, masterKey, { mode: 0o600 });
    const result: VendorSetResult = { startedAt: new Date().toISOString(), bytes: 0, files: 0, repeat, cpus: os.cpus().length, sides: [], errors: [] };
    let files: string[] = [];
    try {
        say(`writing a vendor backup set of about ${gib} GiB (AES Crypt, sealed by the oracle) into ${tag}/ of each of rsync, CIFS and NFS`);
        const set = await placeSet(lab, tag, keyFile, gib * 1024 * MIB);
        files = set.files;
        result.bytes = set.bytes;
        result.files = set.files.length;
        for (const name of SIDES) {
            const side = sideOf(lab, name) as { path: string };
            side.path = `${side.path.replace(/\/+$/, "")}/${tag}`;
            for (const mode of ["verify", "drill"] as const) {
                const rounds: VendorRound[] = [];
                for (let i = 0; i < repeat; i++) {
                    const { out: r, records, busy } = await probe({ mode, side, masterKey, dumps: set.dumps, startedAt: STAMP.replace("_", " ").replace(/(\d\d)(\d\d)(\d\d)$/, "$1:$2:$3") });
                    checkOutcome(name, mode, r.result, set.files);
                    const root = records.find((p) => p.role === "cli");
                    const clients = records.filter((p) => p.role !== "cli");
                    const round: VendorRound = {
                        ms: Math.round(r.ms), mibPerSec: Math.round((set.bytes / MIB / (r.ms / 1000)) * 10) / 10,
                        peakMiB: mib(Math.max(r.hwmAfterKiB, root?.hwmKiB ?? 0)), beforeMiB: mib(r.hwmBeforeKiB),
                        clientPeakMiB: clients.length > 0 ? mib(Math.max(...clients.map((c) => c.hwmKiB))) : null,
                        machineBusy: Math.round(busy * 100) / 100,
                    };
                    rounds.push(round);
                    say(`${name} ${mode} round ${i + 1}/${repeat}: ${(round.ms / 1000).toFixed(2)} s, ${round.mibPerSec} MiB/s; peak ${round.peakMiB} MiB (${round.beforeMiB} before)`
                        + `${round.clientPeakMiB === null ? "" : `, client peak ${round.clientPeakMiB} MiB`}; machine ${Math.round(round.machineBusy * 100)}% busy`);
                }
                result.sides.push({
                    side: name, mode, rounds, medianMs: median(rounds.map((r) => r.ms)), peakMiB: Math.max(...rounds.map((r) => r.peakMiB)),
                    clientPeakMiB: rounds[0].clientPeakMiB === null ? null : Math.max(...rounds.map((r) => r.clientPeakMiB ?? 0)),
                });
            }
        }
    } catch (err) {
        result.errors.push((err as Error).message);
        say(`failed: ${(err as Error).message}`);
    } finally {
        fs.rmSync(keyDir, { recursive: true, force: true });
        result.errors.push(...await removeSet(lab, tag, files));
        say(`removed the set (${tag}) from the three destinations`);
        fs.writeFileSync(out, JSON.stringify(result, null, 2));
    }
    if (result.errors.length > 0) process.exitCode = 1;
}

/** The figure as a table, for bench/run.ts and --report. */
export function renderVendorSet(r: VendorSetResult): string {
    const lines = [
        `A vendor backup set: ${(r.bytes / 2 ** 30).toFixed(2)} GiB in ${r.files} AES Crypt files, verified (sizes, both HMACs) and drilled (opened, gunzipped, completion line), median of ${r.repeat}, ${r.cpus} CPUs`,
        "far side  work     seconds   MiB/s   peak RSS   client peak RSS",
    ];
    for (const s of r.sides) {
        const med = s.rounds.find((x) => x.ms === s.medianMs) ?? s.rounds[0];
        lines.push(`${s.side.padEnd(8)}  ${s.mode.padEnd(7)}  ${(s.medianMs / 1000).toFixed(2).padStart(7)}  ${med.mibPerSec.toFixed(1).padStart(6)}   ${`${s.peakMiB} MiB`.padStart(8)}   ${(s.clientPeakMiB === null ? "-" : `${s.clientPeakMiB} MiB`).padStart(15)}`);
    }
    for (const e of r.errors) lines.push(`error: ${e}`);
    return lines.join("\n");
}

if (require.main === module) {
    main().catch((err) => {
        process.stderr.write(`[bench] vendor-set: ${(err as Error).message}\n`);
        process.exit(1);
    });
}
