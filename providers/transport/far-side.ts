// The far side of a backup: the rsync server, CIFS share or NFS export where the
// appliance put its files, read from outside the appliance. The verification hashes
// what landed; the restore drill opens it.
//
// Content is only ever streamed: into a hash, or into the caller's callback (which
// decrypts in memory). Nothing of it is written to disk on the machine running Pulumi.
// - rsync server: the pooled, pinned SSH connection (providers/transport/ssh.ts), through
//   `sudo -n` when useSudo, so the admin reads what the backup user owns; sha256sum
//   runs there, one command for all files, and only digests travel;
// - CIFS: `smbclient … -c 'get <file> -'`, its stdout piped into this process; the
//   password is in a 0600 auth file in a private directory, never on argv;
// - NFS: `nfs-cat <url>`, its stdout piped into this process.
import { spawn } from "child_process";
import { createHash } from "crypto";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { z } from "zod";
import { RelativeFile } from "../formats/backup-format";
import { type Connection, DEFAULT_PORTS, ServerConnection, describeTarget } from "./connection";
import { BackupProviderError } from "./errors";
import { BackupDirectory, CifsDomain, CifsPassword, Hostname, Port, UnixUser, shown } from "../formats/rules";
import { type DiskSpace, parseDfPortable, parseNfsSummary, parseSmbDu } from "../formats/disk-space";
import { sshPool } from "./ssh";

export const FarSide = z.discriminatedUnion("type", [
    z.strictObject({
        type: z.literal("rsync"),
        /** The backup server, reached as an admin who may sudo, or as the backup user. */
        server: ServerConnection,
        /** Read the files through `sudo -n`. @default true */
        useSudo: z.boolean().default(true),
        /** The backup directory the files are relative to. */
        path: BackupDirectory,
    }),
    z.strictObject({
        type: z.literal("cifs"),
        host: Hostname,
        port: Port.default(DEFAULT_PORTS.cifs),
        /** `/<share>[/<dir>]`, as the partition's path. */
        path: BackupDirectory,
        user: UnixUser,
        /** Secret. */
        password: CifsPassword,
        domain: CifsDomain.optional(),
    }),
    z.strictObject({
        type: z.literal("nfs"),
        host: Hostname,
        port: Port.default(DEFAULT_PORTS.nfs),
        /** The export path. */
        path: BackupDirectory,
    }),
], { error: "must be {type: \"rsync\" | \"cifs\" | \"nfs\", …}" });
export type FarSide = z.output<typeof FarSide>;

/** A file as found at the far side. */
export interface FileDigest { size: number; sha256: string }

export interface DigestOptions {
    /**
     * The bytes the files should hold, when known (from a manifest): an rsync server
     * hashes a whole file before it answers, so the wait for each answer grows with it.
     */
    expectedBytes?: number;
}

/** Where a local client (smbclient, nfs-cat) may go silent before it counts as stalled. */
const LOCAL_IDLE_TIMEOUT_MS = 60_000;
/** The slowest hashing rate assumed of a backup server's disk, to bound the wait for sha256sum. */
const SLOWEST_HASH_BYTES_PER_SEC = 4 * 1024 * 1024;
/** smbclient and nfs-cat report why they failed in a line or two; more is kept from nobody. */
const DIAGNOSTIC_BYTES = 16 * 1024;

export function describeSide(side: FarSide): string {
    return side.type === "rsync" ? `${describeTarget(side.server)}:${side.path}` : `${side.type}://${side.host}:${side.port}${side.path}`;
}

/** The paths, checked: a caller's mistake or a hostile manifest must not reach a shell, smbclient's command line or a URL. */
function relativeFile(file: string, side: FarSide): string {
    const parsed = RelativeFile.safeParse(file);
    if (!parsed.success) {
        throw new BackupProviderError(`the file name ${shown(file)} ${parsed.error.issues[0].message}`, {
            kind: "invalid", host: describeSide(side), operation: "read a backup file", hint: "name backup files relative to the destination, as the manifest does",
        });
    }
    return parsed.data;
}

function secretsOf(side: FarSide): string[] {
    return side.type === "cifs" ? [side.password] : [];
}

/**
 * Size and SHA-256 of each file at the far side, or undefined for a file that is not
 * there. A file that is there but cannot be read, or is not a regular file, fails the
 * call naming it. `onProgress` hears after each file.
 */
export async function digestFiles(
    side: FarSide, files: string[], onProgress?: (done: number, total: number) => void, options: DigestOptions = {},
): Promise<Map<string, FileDigest | undefined>> {
    const checked = files.map((f) => relativeFile(f, side));
    const found = new Map<string, FileDigest | undefined>();
    if (checked.length === 0) return found;
    if (side.type === "rsync") return digestOverSsh(side, checked, onProgress, options);
    let done = 0;
    await withClient(side, async (client) => {
        for (const file of checked) {
            const hash = createHash("sha256");
            let size = 0;
            const present = await client.stream(file, (chunk) => { hash.update(chunk); size += chunk.length; });
            found.set(file, present ? { size, sha256: hash.digest("hex") } : undefined);
            onProgress?.(++done, checked.length);
        }
    });
    return found;
}

/** A regular file at the far side: its path relative to the destination, its size, and its time where the protocol's client shows one. */
export interface FileEntry {
    file: string;
    size: number;
    /** ISO time of its last change; undefined over NFS, whose client (nfs-ls) shows no times. */
    modifiedAt?: string;
}

/** The regular files directly in `dir` (relative to the destination), as `dir/name`; [] when `dir` does not exist. */
export async function listFiles(side: FarSide, dir: string): Promise<string[]> {
    return (await listEntries(side, dir)).map((e) => e.file);
}

/** The regular files directly in `dir`, with sizes and times (FileEntry), sorted by path; [] when `dir` does not exist. */
export async function listEntries(side: FarSide, dir: string): Promise<FileEntry[]> {
    const checked = relativeFile(dir, side);
    if (side.type === "rsync") {
        // NUL-separated: a name is whatever the server holds, and a newline must not split one in two.
        // A directory that is there but cannot be entered is an error, not an empty listing.
        // GNU find's -printf: one process for the directory, a file's size and time beside its name.
        const script = '[ -d "$1" ] || exit 0; cd -- "$1" || exit 3; exec find . -mindepth 1 -maxdepth 1 -type f -printf "%s %T@ %P\\0"';
        const result = await sshPool.run(side.server, {
            argv: ["sh", "-c", script, "ssb-list", `${side.path}/${checked}`], sudo: side.useSudo,
            operation: `list ${checked} in ${side.path}`,
        });
        if (result.code !== 0) {
            throw new BackupProviderError(`cannot list ${checked} in ${side.path}`, {
                kind: "command", host: describeTarget(side.server), operation: "list the backup files", exitCode: result.code, stderr: result.stderr,
                hint: "check the verification user may read the backup directory (useSudo), and that the server has GNU find",
            });
        }
        return parseFindEntries(result.stdout).map((e) => ({ ...e, file: `${checked}/${e.file}` }));
    }
    return withClient(side, (client) => client.list(checked));
}

/** `find -printf "%s %T@ %P\\0"`'s records: size, seconds since the epoch, name. Pure; tested. */
export function parseFindEntries(text: string): FileEntry[] {
    const out: FileEntry[] = [];
    for (const record of text.split("\0")) {
        const m = /^(\d+) (\d+)(?:\.\d+)? ([^]+)$/.exec(record);
        if (m) out.push({ file: m[3], size: Number(m[1]), modifiedAt: new Date(Number(m[2]) * 1000).toISOString() });
    }
    return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/**
 * The size and free room of the filesystem that holds the destination: `df -P -k`
 * over SSH on an rsync server, smbclient's `du` on a CIFS share, `nfs-ls -s` on an
 * NFS export. An answer that is not the tool's fails, quoting it.
 */
export async function spaceOf(side: FarSide): Promise<DiskSpace> {
    const where = describeSide(side);
    const unexpected = (tool: string, why: string, answer: string) => new BackupProviderError(`${tool}'s answer is not understood: ${why}`, {
        kind: "command", host: where, operation: "read the destination's free space", stderr: answer.slice(0, 400), secrets: secretsOf(side),
        hint: "run the tool by hand on that host and compare its answer with docs/vendor-appliance.md (the free-space reads)",
    });
    if (side.type === "rsync") {
        const result = await sshPool.run(side.server, {
            argv: ["df", "-P", "-k", "--", side.path], sudo: side.useSudo, operation: `read the free space of ${side.path}`,
        });
        if (result.code !== 0) {
            throw new BackupProviderError(`cannot read the free space of ${side.path}`, {
                kind: "command", host: describeTarget(side.server), operation: "read the destination's free space", exitCode: result.code, stderr: result.stderr,
                hint: "check the backup directory exists on the server",
            });
        }
        const space = parseDfPortable(result.stdout);
        if (typeof space === "string") throw unexpected("df -P -k", space, result.stdout);
        return space;
    }
    return withClient(side, (client) => client.space());
}

/**
 * Streams one file's content into `onData`. A missing or unreadable file fails,
 * naming it and the side. A throw from `onData` stops the transfer and is rethrown.
 */
export async function streamFile(side: FarSide, file: string, onData: (chunk: Buffer) => void): Promise<void> {
    const checked = relativeFile(file, side);
    if (side.type === "rsync") {
        const script = 'cd -- "$1" || exit 3; if [ -L "$2" ] || { [ -e "$2" ] && [ ! -f "$2" ]; }; then exit 5; fi; [ -e "$2" ] || exit 4; exec cat -- "$2"';
        const result = await sshPool.run(side.server, {
            argv: ["sh", "-c", script, "ssb-read", side.path, checked], sudo: side.useSudo,
            operation: `read ${checked} in ${side.path}`, onStdout: onData,
        });
        if (result.code === 0) return;
        throw fileError(side, checked, result.code === 4 ? "missing" : result.code === 5 ? "not-regular" : "unreadable", result.code, result.stderr);
    }
    await withClient(side, async (client) => {
        if (!(await client.stream(checked, onData))) throw fileError(side, checked, "missing");
    });
}

/** A whole file in memory; refuses one larger than `maxBytes` without reading past it. */
export async function readFile(side: FarSide, file: string, maxBytes: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    await streamFile(side, file, (chunk) => {
        size += chunk.length;
        if (size > maxBytes) {
            throw new BackupProviderError(`${file} is larger than the ${maxBytes} bytes it may be read into memory`, {
                kind: "invalid", host: describeSide(side), operation: `read ${file}`,
                hint: "the file is not what the appliance writes there: look at it on the destination",
            });
        }
        chunks.push(chunk);
    });
    return Buffer.concat(chunks, size);
}

function fileError(side: FarSide, file: string, why: "missing" | "not-regular" | "unreadable", exitCode?: number, stderr?: string): BackupProviderError {
    const reason = why === "missing" ? "the file is not there"
        : why === "not-regular" ? "it is not a regular file (a directory or a symbolic link)"
        : "the file cannot be read";
    return new BackupProviderError(reason, {
        kind: "command", host: describeSide(side), operation: `read ${file}`, exitCode, stderr, secrets: secretsOf(side),
        hint: why === "unreadable"
            ? "check the backup server is up and the verification login may read the backup directory (useSudo for an rsync server)"
            : "the backup at the destination is not as the appliance wrote it: run a new backup, and find out who changed the destination",
    });
}

// ------------------------------------------------------------------ rsync server

async function digestOverSsh(
    side: Extract<FarSide, { type: "rsync" }>, files: string[], onProgress: ((done: number, total: number) => void) | undefined, options: DigestOptions,
): Promise<Map<string, FileDigest | undefined>> {
    const { found, odd, stderr } = await digestInDirectory({ connection: side.server, dir: side.path, sudo: side.useSudo, role: "backup server" }, files, onProgress, options);
    if (odd.length > 0) throw fileError(side, odd[0].file, odd[0].why, undefined, stderr);
    return found;
}

/** Where digestInDirectory hashes: a directory on a host reached over the pooled SSH connection. */
export interface HashedDirectory {
    connection: Connection;
    dir: string;
    sudo: boolean;
    /** What the host is, for messages: "backup server", "appliance". */
    role: string;
}

/**
 * Size and SHA-256 of each named file in a directory on an SSH host, hashed there in
 * one command: only digests travel. A file that is not there is undefined; one that
 * is not a regular file or cannot be read is in `odd`, for the caller to name.
 */
export async function digestInDirectory(
    at: HashedDirectory, files: readonly string[], onProgress?: (done: number, total: number) => void, options: DigestOptions = {},
): Promise<{ found: Map<string, FileDigest | undefined>; odd: Array<{ file: string; why: "not-regular" | "unreadable" }>; stderr: string }> {
    // One line per file, as each is hashed: F size sha256 file, M file (missing),
    // X file (not a regular file), E file (unreadable). Names travel on stdin, so no
    // list is too long for a command line. A missing directory means missing files.
    const script = [
        '[ -d "$1" ] || { while IFS= read -r f; do printf "M %s\\n" "$f"; done; exit 0; }',
        'cd -- "$1" || exit 3',
        'while IFS= read -r f; do',
        '  if [ -L "$f" ] || { [ -e "$f" ] && [ ! -f "$f" ]; }; then printf "X %s\\n" "$f"',
        '  elif [ ! -e "$f" ]; then printf "M %s\\n" "$f"',
        '  elif s=$(stat -c %s -- "$f") && h=$(sha256sum < "$f"); then printf "F %s %s %s\\n" "$s" "${h%% *}" "$f"',
        '  else printf "E %s\\n" "$f"; fi',
        'done',
    ].join("\n");
    const host = describeTarget(at.connection);
    const found = new Map<string, FileDigest | undefined>();
    const odd: Array<{ file: string; why: "not-regular" | "unreadable" }> = [];
    let pending = "";
    let done = 0;
    const take = (line: string) => {
        const m = /^(F) (\d+) ([0-9a-f]{64}) (.+)$|^([MXE]) (.+)$/.exec(line);
        if (!m) throw new BackupProviderError(`sha256sum's answer is not understood: ${shown(line.slice(0, 120))}`, {
            kind: "command", host, operation: `hash the backup files in ${at.dir}`,
            hint: `the ${at.role} needs a POSIX sh, GNU coreutils' stat and sha256sum`,
        });
        if (m[1]) found.set(m[4], { size: Number(m[2]), sha256: m[3] });
        else if (m[5] === "M") found.set(m[6], undefined);
        else odd.push({ file: m[6], why: m[5] === "X" ? "not-regular" : "unreadable" });
        onProgress?.(++done, files.length);
    };
    const timeoutSec = at.connection.commandTimeoutSec + Math.ceil((options.expectedBytes ?? 0) / SLOWEST_HASH_BYTES_PER_SEC);
    const result = await sshPool.run(at.connection, {
        argv: ["sh", "-c", script, "ssb-digest", at.dir], sudo: at.sudo, stdin: `${files.join("\n")}\n`,
        operation: `hash ${files.length} backup files in ${at.dir}`, timeoutSec,
        onStdout: (chunk) => {
            pending += chunk.toString("utf8");
            const lines = pending.split("\n");
            pending = lines.pop() ?? "";
            for (const line of lines) take(line);
        },
    });
    if (result.code !== 0) {
        throw new BackupProviderError(`cannot read ${at.dir}`, {
            kind: "command", host, operation: "hash the backup files", exitCode: result.code, stderr: result.stderr,
            hint: at.sudo ? "check the directory exists on the host (it is read through sudo)" : "check the directory exists and the login may read it (useSudo)",
        });
    }
    const unanswered = files.filter((f) => !found.has(f) && !odd.some((o) => o.file === f));
    if (unanswered.length > 0) {
        throw new BackupProviderError(`the ${at.role} answered for ${found.size} of ${files.length} files; no answer for ${unanswered.slice(0, 3).join(", ")}`, {
            kind: "command", host, operation: "hash the backup files", stderr: result.stderr,
            hint: `run \`pulumi up\` again; if it repeats, check the ${at.role}'s shell and coreutils`,
        });
    }
    return { found, odd, stderr: result.stderr };
}

// ------------------------------------------------------------------ CIFS and NFS: local clients

interface LocalClient {
    /** Streams a file into onData; false when it is not there. */
    stream(file: string, onData: (chunk: Buffer) => void): Promise<boolean>;
    list(dir: string): Promise<FileEntry[]>;
    space(): Promise<DiskSpace>;
}

/** A client for one CIFS share or NFS export, with the CIFS auth file kept for its lifetime. */
async function withClient<T>(side: Exclude<FarSide, { type: "rsync" }>, use: (client: LocalClient) => Promise<T>): Promise<T> {
    if (side.type === "nfs") return use(nfsClient(side));
    // The password goes in a 0600 file in a private 0700 directory, never on argv or in a child's environment.
    const tmp = mkdtempSync(path.join(tmpdir(), "ssb-smb-"));
    try {
        const auth = path.join(tmp, "auth");
        writeFileSync(auth, `username = ${side.user}\npassword = ${side.password}\n${side.domain ? `domain = ${side.domain}\n` : ""}`, { mode: 0o600 });
        return await use(cifsClient(side, auth));
    } finally {
        rmSync(tmp, { recursive: true, force: true });
    }
}

/** smbclient and NFS status codes that mean "no such file or directory". */
const CIFS_ABSENT = /NT_STATUS_(OBJECT_NAME_NOT_FOUND|OBJECT_PATH_NOT_FOUND|NO_SUCH_FILE)\b/;
const NFS_ABSENT = /NFS4ERR_NOENT|NFS3ERR_NOENT/;

function cifsClient(side: Extract<FarSide, { type: "cifs" }>, auth: string): LocalClient {
    const [share, ...dir] = side.path.split("/").filter(Boolean);
    const remote = (file: string) => [...dir, file].join("/");
    // Paths are RelativeFile (no quote, space or ';'), so double quotes keep smbclient's command line whole.
    const run = (command: string, onData?: (chunk: Buffer) => void) => runLocal(
        "smbclient", [`//${side.host}/${share}`, "-p", String(side.port), "-A", auth, "-t", "10", "-c", command], onData, describeSide(side), secretsOf(side));
    return {
        async stream(file, onData) {
            // smbclient writes the file to stdout and, when it cannot open it, its NT_STATUS there
            // too; nothing is written before the open succeeds, so a failed run hashed only that.
            let head = Buffer.alloc(0);
            const r = await run(`get "${remote(file)}" -`, (chunk) => {
                if (head.length < DIAGNOSTIC_BYTES) head = Buffer.concat([head, chunk.subarray(0, DIAGNOSTIC_BYTES - head.length)]);
                onData(chunk);
            });
            if (r.code === 0) return true;
            const status = statusOf(`${head.toString("latin1")}\n${r.stderr}`);
            if (CIFS_ABSENT.test(status)) return false;
            throw fileError(side, file, /NT_STATUS_FILE_IS_A_DIRECTORY/.test(status) ? "not-regular" : "unreadable", r.code, status || r.stderr);
        },
        async list(dirPath) {
            const out: Buffer[] = [];
            const r = await run(`ls "${remote(dirPath)}/*"`, (chunk) => out.push(chunk));
            const text = Buffer.concat(out).toString("utf8");
            if (r.code !== 0) {
                if (CIFS_ABSENT.test(text) || CIFS_ABSENT.test(r.stderr)) return [];
                throw new BackupProviderError(`cannot list ${dirPath}`, {
                    kind: "command", host: describeSide(side), operation: "list the backup files", exitCode: r.code, stderr: statusOf(`${text}\n${r.stderr}`) || r.stderr,
                    secrets: secretsOf(side), hint: "check the share is up and the user may read it",
                });
            }
            return parseSmbListing(text).map((e) => ({ ...e, file: `${dirPath}/${e.file}` }));
        },
        async space() {
            const out: Buffer[] = [];
            const r = await run("du", (chunk) => out.push(chunk));
            const text = Buffer.concat(out).toString("utf8");
            const space = r.code === 0 ? parseSmbDu(text) : `smbclient exited ${r.code}`;
            if (typeof space === "string") {
                throw new BackupProviderError(`cannot read the share's free space: ${space}`, {
                    kind: "command", host: describeSide(side), operation: "read the destination's free space", exitCode: r.code, stderr: statusOf(`${text}\n${r.stderr}`) || r.stderr,
                    secrets: secretsOf(side), hint: "check the share is up and the user may read it",
                });
            }
            return space;
        },
    };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * The regular files of a `smbclient ls` listing: `  <name>  <attributes>  <size>  <date>`.
 * The attributes column is letters; D marks a directory. The date is smbclient's
 * local time, and runLocal gives it TZ=UTC. Pure; tested.
 */
export function parseSmbListing(text: string): FileEntry[] {
    const entries: FileEntry[] = [];
    for (const line of text.split("\n")) {
        const m = /^ {2}(.+?)\s+([A-Z]*)\s+(\d+)\s+(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (\w{3}) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})\s*$/.exec(line);
        if (!m || m[1] === "." || m[1] === ".." || m[2].includes("D")) continue;
        const month = MONTHS.indexOf(m[4]);
        const time = month < 0 ? undefined : new Date(Date.UTC(Number(m[9]), month, Number(m[5]), Number(m[6]), Number(m[7]), Number(m[8]))).toISOString();
        entries.push({ file: m[1], size: Number(m[3]), ...(time ? { modifiedAt: time } : {}) });
    }
    return entries.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

function nfsClient(side: Extract<FarSide, { type: "nfs" }>): LocalClient {
    const url = (file: string) => `nfs://${side.host}${side.path}/${file}?version=4&nfsport=${side.port}`;
    return {
        async stream(file, onData) {
            const r = await runLocal("nfs-cat", [url(file)], onData, describeSide(side), []);
            if (r.code === 0) return true;
            if (NFS_ABSENT.test(r.stderr)) return false;
            throw fileError(side, file, /NFS4ERR_ISDIR|NFS3ERR_ISDIR/.test(r.stderr) ? "not-regular" : "unreadable", r.code, r.stderr);
        },
        async list(dirPath) {
            const out: Buffer[] = [];
            const r = await runLocal("nfs-ls", [url(dirPath)], (chunk) => out.push(chunk), describeSide(side), []);
            if (r.code !== 0) {
                if (NFS_ABSENT.test(r.stderr)) return [];
                throw new BackupProviderError(`cannot list ${dirPath}`, {
                    kind: "command", host: describeSide(side), operation: "list the backup files", exitCode: r.code, stderr: r.stderr,
                    hint: "check the export is up and allows this machine's address",
                });
            }
            return parseNfsListing(Buffer.concat(out).toString("utf8")).map((e) => ({ ...e, file: `${dirPath}/${e.file}` }));
        },
        async space() {
            const out: Buffer[] = [];
            const r = await runLocal("nfs-ls", ["-s", url("").replace(/\/\?/, "?")], (chunk) => out.push(chunk), describeSide(side), []);
            const space = r.code === 0 ? parseNfsSummary(Buffer.concat(out).toString("utf8")) : `nfs-ls exited ${r.code}`;
            if (typeof space === "string") {
                throw new BackupProviderError(`cannot read the export's free space: ${space}`, {
                    kind: "command", host: describeSide(side), operation: "read the destination's free space", exitCode: r.code, stderr: r.stderr,
                    hint: "check the export is up and allows this machine's address",
                });
            }
            return space;
        },
    };
}

/** The regular files of an `nfs-ls` listing: `-rw-r--r--  1  0  0  1234 <name>`; nfs-ls shows no times. Pure; tested. */
export function parseNfsListing(text: string): FileEntry[] {
    const entries: FileEntry[] = [];
    for (const line of text.split("\n")) {
        const m = /^(\S)\S{9}\s+\d+\s+\d+\s+\d+\s+(\d+)\s(.+)$/.exec(line);
        if (!m || m[1] !== "-") continue;
        entries.push({ file: m[3], size: Number(m[2]) });
    }
    return entries.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** The NT_STATUS or NFS error words of a client's output, without any content around them. */
function statusOf(text: string): string {
    return [...new Set(text.match(/NT_STATUS_[A-Z_]+|NFS[34]ERR_[A-Z_]+/g) ?? [])].join(", ");
}

/**
 * Runs a local client with its stdout streamed into `onData` and stderr kept for
 * messages. It gets no environment but PATH, a C locale and UTC (smbclient prints
 * times in local time), so nothing of this
 * process's environment reaches it. A client silent for LOCAL_IDLE_TIMEOUT_MS is
 * killed; a throw from `onData` kills it and is rethrown.
 */
function runLocal(file: string, args: string[], onData: ((chunk: Buffer) => void) | undefined, where: string, secrets: string[]): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", TZ: "UTC" } });
        let stderr = "";
        let settled = false;
        const finish = (err: unknown, code = 1) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (err !== undefined) {
                child.kill("SIGKILL");
                reject(err);
            } else {
                resolve({ code, stderr });
            }
        };
        const timer = setTimeout(() => finish(new BackupProviderError(`${file} sent nothing for ${LOCAL_IDLE_TIMEOUT_MS / 1000} s`, {
            kind: "timeout", host: where, operation: `run ${file}`, stderr, secrets,
            hint: "check the server answers; a stalled share or export is killed rather than waited for",
        })), LOCAL_IDLE_TIMEOUT_MS);
        timer.unref();
        child.stdout.on("data", (chunk: Buffer) => {
            if (settled) return;
            timer.refresh();
            try { onData?.(chunk); } catch (err) { finish(err); }
        });
        child.stderr.on("data", (chunk: Buffer) => {
            timer.refresh();
            if (stderr.length < DIAGNOSTIC_BYTES) stderr += chunk.toString("utf8");
        });
        child.on("error", (err) => finish(new BackupProviderError(`cannot run ${file}: ${err.message}`, {
            kind: "command", host: where, operation: `run ${file} on this machine`, secrets,
            hint: file === "smbclient" ? "install smbclient (Debian: apt-get install smbclient)" : "install libnfs-utils (Debian: apt-get install libnfs-utils)",
            cause: err,
        })));
        child.on("close", (code) => finish(undefined, code ?? 1));
    });
}
