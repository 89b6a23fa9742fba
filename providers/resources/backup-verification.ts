// BackupVerification: proves that the backup a verification run reported really
// landed at the destination, intact, by reading it from outside the appliance.
//
// The backup itself runs in a @pulumi/command remote.Command (`sudo -n orbit
// backup create --json`, see components/verification-backup.ts); its stdout, the
// report, is this resource's input. A new report (a new backup) or a new
// destination checks again; a plain `pulumi up` or a refresh checks nothing.
//
// With orbit contract 2 the report carries the backup's manifest: every file's size
// and SHA-256. Each file is then hashed where it landed (providers/transport/far-side.ts,
// streaming: nothing of it is written to disk here), the manifest file itself too,
// and the directories that hold them are listed for a file of the backup that the
// manifest does not name. A contract 1 report has no digests: its files are only
// looked for.
//
// A vendor appliance's report is its log lines: the dumps it names are looked for
// at the destination and sized there, and each AES Crypt file among them is read
// through: without the master key its structure (header, lengths), with it its
// HMACs too. The output says which level was reached.
import { createHash } from "crypto";
import { isDeepStrictEqual } from "util";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { AesCryptError, AesCryptInspector, AesCryptReader } from "../formats/aescrypt";
import { RelativeFile, type ReportedManifest, belongsTo } from "../formats/backup-format";
import { checkInputs, decideDiff, fieldsOf } from "../scaffolding/check";
import { BackupProviderError } from "../transport/errors";
import { FarSide, type FileDigest, describeSide, digestFiles, listFiles, streamFile } from "../transport/far-side";
import { OrbitBackupReport, type OrbitBackupSummary } from "../appliance/orbit";
import { ApplianceConnection } from "../appliance/connection";
import { driverFor } from "../appliance/select";
import { parseBackupRun } from "../formats/orbit-vendor";
import { AES_SUFFIX, VENDOR_LAYOUT } from "../formats/vendor-layout";
import { info, progress } from "../transport/progress";
import { BackupResource, type Inputs } from "../scaffolding/resource";
import { MasterKey, shown } from "../formats/rules";

// The package exports FarSide from here; it lives with the code that reads the far side.
export { FarSide } from "../transport/far-side";

/** Where a vendor appliance's database dumps land at the destination (vendor: the backup directory structure). */
const VENDOR_DB_DIR = VENDOR_LAYOUT.db;

/**
 * A vendor appliance's report: what `orbit backup create` printed, its log lines.
 * The backup is the run of the first line; its files are the dumps the log names,
 * which land in backup/system/db under the same name (ASSUMPTION: the vendor
 * documents the directory, not the names; an encrypted copy may add a suffix).
 * Pure.
 */
export function vendorSummary(text: string): OrbitBackupSummary | string {
    const run = parseBackupRun(text);
    if (run.lines.length === 0) return `is neither orbit's JSON summary nor the log lines of \`orbit backup create\`; got ${shown(text.slice(0, 80))}`;
    if (!run.succeeded) return "is the log of a backup that did not report `backup successfully performed`";
    if (run.errors.length > 0) return `is the log of a backup with an ERROR line: ${shown(run.errors[0].message, { maxLength: 160 })}`;
    const files = run.files.map((f) => `${VENDOR_DB_DIR}/${f.split("/").pop()}`);
    const bad = files.find((f) => !RelativeFile.safeParse(f).success);
    if (bad !== undefined) return `names a dump whose name is not plain characters: ${shown(bad.slice(0, 120))}`;
    const first = run.lines[0].time;
    return {
        id: first.replace(/[-:]/g, "").replace(" ", "T"),
        destination: run.lines.some((l) => /via rsync/.test(l.message)) ? "rsync" : "the appliance's destination",
        kinds: ["system"], files, bytes: 0, durationMs: Math.round((run.durationSec ?? 0) * 1000), startedAt: first.replace(" ", "T"),
    };
}

function parseReport(text: string): OrbitBackupSummary | string {
    let body: unknown;
    try {
        body = JSON.parse(text);
    } catch {
        return vendorSummary(text);
    }
    const parsed = OrbitBackupReport.safeParse(body);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return `is not orbit's backup summary: ${issue.path.join(".") || "(root)"} ${issue.message}`;
    }
    const outside = parsed.data.files.find((f) => !RelativeFile.safeParse(f).success);
    if (outside !== undefined) {
        return `names a file outside the backup directory, ${shown(outside.slice(0, 120))}: every file must be a relative path of plain characters without '..'`;
    }
    return parsed.data;
}

export const BackupVerificationArgs = z.strictObject({
    /** What the verification backup printed: the remote.Command's stdout. Contract: orbit's JSON summary, every file in it and in its manifest a plain relative path inside the backup (no `..`). Vendor: the log lines of a successful `orbit backup create`. */
    report: z.string().max(4 * 1024 * 1024).superRefine((text, ctx) => {
        const parsed = parseReport(text);
        if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
    }),
    /** The appliance that ran the backup, for messages (`mt4adm@10.0.0.5:59022`). */
    appliance: z.string().regex(/^[\x20-\x7e]{1,300}$/, "must be printable ASCII, at most 300 characters").optional(),
    /** Where to look for the files: `{type: "rsync", server, path, useSudo}`, `{type: "cifs", host, port, path, user, password}` or `{type: "nfs", host, port, path}`. */
    destination: FarSide,
    /**
     * The master key from the master key ceremony, complete (secret). Vendor appliance:
     * each AES Crypt file of the backup is opened with it, its HMACs checked; without
     * it, only its structure is. A backup made before the last ceremony needs the key
     * that was active then.
     */
    masterKey: MasterKey.optional(),
    /**
     * How to reach the appliance that ran the backup. Vendor appliance: the SHA-256 of
     * each dump at the destination is compared with the copy the appliance keeps in
     * its backup directory (of the plaintext, for an AES Crypt file opened with
     * masterKey). Unset: the destination alone is read.
     */
    applianceConnection: ApplianceConnection.optional(),
});
export type BackupVerificationArgs = z.input<typeof BackupVerificationArgs>;
type BackupVerificationInputs = z.output<typeof BackupVerificationArgs>;

/** What a verification proved, from orbit's report: the resource's outputs. */
const Proof = z.object({
    backupId: z.string(),
    files: z.array(z.string()),
    bytes: z.number(),
    durationMs: z.number(),
    startedAt: z.string(),
    /** Where orbit said it sent the backup. */
    sentTo: z.string(),
    /**
     * How the files were checked: `sha256` (size and SHA-256 of every file against the
     * manifest, and no stray file of the backup) or `presence` (a contract 1 report,
     * which has no digests). Vendor: `aescrypt-hmac` (every AES Crypt file opened with
     * the master key, both HMACs valid), `aescrypt-structure` (without the key: header
     * and lengths), or `presence` (sized, no AES Crypt file). State written before the
     * checksums reads as `presence`.
     */
    checked: z.enum(["sha256", "aescrypt-hmac", "aescrypt-structure", "presence"]).default("presence"),
    /** Vendor: how many of the files had the SHA-256 of the appliance's own copy (applianceConnection). */
    applianceCopies: z.number().int().default(0),
});
export type BackupVerificationState = BackupVerificationInputs & z.output<typeof Proof>;

// ------------------------------------------------------------------ pure decisions

/** A file the far side must hold, byte for byte. */
export interface ExpectedFile { path: string; size: number; sha256: string }

/** What the far side holds that the manifest does not say. */
export type Finding =
    | { kind: "missing"; path: string; expected: FileDigest }
    | { kind: "changed"; path: string; expected: FileDigest; found: FileDigest }
    | { kind: "extra"; path: string };

/** Every file a contract 2 backup wrote: the manifest's files, then the manifest itself. Each once. */
export function expectedFiles(manifest: ReportedManifest): ExpectedFile[] {
    const all = [...manifest.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })), { path: manifest.path, size: manifest.size, sha256: manifest.sha256 }];
    const seen = new Set<string>();
    return all.filter((f) => !seen.has(f.path) && seen.add(f.path));
}

/** The directories that hold the expected files: where a stray file of the backup is looked for. */
export function directoriesOf(files: readonly { path: string }[]): string[] {
    return [...new Set(files.map((f) => f.path.split("/").slice(0, -1).join("/")).filter(Boolean))].sort();
}

/**
 * Expected files against what the far side holds: `found` has each expected file's
 * digest (undefined when missing), `listed` the files of the directories that hold
 * them. A listed file that belongs to the backup and is not expected is extra.
 */
export function compareDigests(
    backupId: string, expected: readonly ExpectedFile[], found: ReadonlyMap<string, FileDigest | undefined>, listed: readonly string[],
): Finding[] {
    const findings: Finding[] = [];
    for (const file of expected) {
        const digest = { size: file.size, sha256: file.sha256 };
        const at = found.get(file.path);
        if (at === undefined) findings.push({ kind: "missing", path: file.path, expected: digest });
        else if (at.size !== file.size || at.sha256 !== file.sha256) findings.push({ kind: "changed", path: file.path, expected: digest, found: at });
    }
    const known = new Set(expected.map((f) => f.path));
    for (const file of [...new Set(listed)].sort()) {
        if (!known.has(file) && belongsTo(file, backupId)) findings.push({ kind: "extra", path: file });
    }
    return findings;
}

function bytesText(n: number): string {
    return `${n} byte${n === 1 ? "" : "s"}`;
}

/** One line per finding, naming the file, what the manifest says and what was found. */
export function findingLine(f: Finding, backupId: string, manifestPath?: string): string {
    const name = f.path === manifestPath ? `${f.path} (the manifest)` : f.path;
    switch (f.kind) {
        case "missing":
            return `${name}: missing; expected ${bytesText(f.expected.size)}, SHA-256 ${f.expected.sha256}`;
        case "changed": {
            const how = f.found.size < f.expected.size ? "shorter than written (truncated)"
                : f.found.size > f.expected.size ? "longer than written"
                : "same size, other content";
            return `${name}: ${how}; expected ${bytesText(f.expected.size)}, SHA-256 ${f.expected.sha256}; found ${bytesText(f.found.size)}, SHA-256 ${f.found.sha256}`;
        }
        case "extra":
            return `${name}: not in the manifest, yet named as a file of backup ${backupId} (added after the backup, or by another writer)`;
    }
}

/** The reason a verification fails: how many of which, then a line per file. */
export function findingsReason(backupId: string, appliance: string, findings: readonly Finding[], manifestPath?: string): string {
    const count = (kind: Finding["kind"]) => findings.filter((f) => f.kind === kind).length;
    const parts = [
        count("changed") && `${count("changed")} changed`,
        count("missing") && `${count("missing")} missing`,
        count("extra") && `${count("extra")} not in the manifest`,
    ].filter(Boolean);
    return `backup ${backupId} from ${appliance} does not match its manifest (${parts.join(", ")}):\n`
        + findings.map((f) => `  - ${findingLine(f, backupId, manifestPath)}`).join("\n");
}

// ------------------------------------------------------------------ the checks

const MIB = 1024 * 1024;

function mib(bytes: number): string {
    return `${(bytes / MIB).toFixed(1)} MiB`;
}

/** Hashes every file of a contract 2 backup at the far side and compares it with the manifest. */
async function checkAgainstManifest(summary: OrbitBackupSummary, manifest: ReportedManifest, side: FarSide): Promise<Finding[]> {
    const expected = expectedFiles(manifest);
    const totalBytes = expected.reduce((sum, f) => sum + f.size, 0);
    const where = describeSide(side);
    // The files are hashed in the order given, so the bytes done are the sizes of the files done.
    const doneBytes = expected.reduce<number[]>((acc, f) => [...acc, (acc.at(-1) ?? 0) + f.size], []);
    progress(`BackupVerification: hashing ${expected.length} files (${mib(totalBytes)}) of backup ${summary.id} at ${where}`);
    const started = Date.now();
    const found = await digestFiles(side, expected.map((f) => f.path), (done, total) => {
        progress(`BackupVerification: hashed ${done}/${total} files, ${mib(doneBytes[done - 1] ?? 0)} of ${mib(totalBytes)}, at ${where}`);
    }, { expectedBytes: totalBytes });
    const listed: string[] = [];
    for (const dir of directoriesOf(expected)) listed.push(...await listFiles(side, dir));
    const seconds = (Date.now() - started) / 1000;
    info(`BackupVerification: hashed ${expected.length} files, ${mib(totalBytes)}, at ${where} in ${seconds.toFixed(1)} s`
        + (seconds > 0 ? ` (${(totalBytes / MIB / seconds).toFixed(1)} MiB/s)` : ""));
    return compareDigests(summary.id, expected, found, listed);
}

/**
 * The report has no digests (contract 1, or a vendor appliance), so the files are
 * only looked for, one listing per directory. `suffixes`: a vendor dump may land
 * encrypted, under its name plus one of them.
 */
async function locateFiles(side: FarSide, files: readonly string[], suffixes: readonly string[] = []): Promise<{ missing: string[]; found: string[] }> {
    const present = new Set<string>();
    for (const dir of directoriesOf(files.map((path) => ({ path })))) {
        for (const file of await listFiles(side, dir)) present.add(file);
    }
    const missing: string[] = [];
    const found: string[] = [];
    for (const f of files) {
        const name = [f, ...suffixes.map((s) => `${f}${s}`)].find((n) => present.has(n));
        if (name === undefined) missing.push(f); else found.push(name);
    }
    return { missing, found };
}

/** What an encrypted copy of a vendor dump may add to its name (AES Crypt's customary suffix, and a generic one). */
const VENDOR_SUFFIXES = [".aes", ".enc"];

/** The files of a vendor backup that are AES Crypt streams, by their suffix. Pure. */
export function aesCryptFiles(files: readonly string[]): string[] {
    return files.filter((f) => f.endsWith(AES_SUFFIX));
}

/** A vendor dump as the log named it, and the name it landed under at the destination. */
export interface LandedDump { original: string; atDestination: string }

/**
 * Each dump's SHA-256 at the destination (of its plaintext, when it landed as AES
 * Crypt) against the appliance's own copy. A dump the appliance no longer holds, or
 * whose plaintext was not read (no master key), is not compared. Pure.
 */
export function matchApplianceCopies(
    dumps: readonly LandedDump[], atDestination: ReadonlyMap<string, string | undefined>, onAppliance: ReadonlyMap<string, { sha256: string } | undefined>,
): { matched: string[]; differ: Array<LandedDump & { destination: string; appliance: string }>; notHeld: string[]; notComparable: string[] } {
    const out = { matched: [] as string[], differ: [] as Array<LandedDump & { destination: string; appliance: string }>, notHeld: [] as string[], notComparable: [] as string[] };
    for (const d of dumps) {
        const copy = onAppliance.get(baseName(d.original));
        const here = atDestination.get(d.atDestination);
        if (copy === undefined) out.notHeld.push(d.atDestination);
        else if (here === undefined) out.notComparable.push(d.atDestination);
        else if (here === copy.sha256) out.matched.push(d.atDestination);
        else out.differ.push({ ...d, destination: here, appliance: copy.sha256 });
    }
    return out;
}

function baseName(file: string): string {
    return file.slice(file.lastIndexOf("/") + 1);
}

/** Why an AES Crypt file fails, for a message; the wrong key's case names the ceremony. Pure. */
export function aesCryptReason(file: string, err: AesCryptError): string {
    return err.failure === "wrong-key"
        ? `the master key does not open ${file}: ${err.message}`
        : `${file} is not a sound AES Crypt file (${err.failure}): ${err.message}`;
}

/**
 * Reads each AES Crypt file through, as it streams from the far side: with the key,
 * both HMACs (the plaintext is dropped as it comes); without, the structure.
 */
async function checkAesCrypt(side: FarSide, files: readonly string[], masterKey: string | undefined): Promise<Map<string, string>> {
    // With the key, the plaintext's SHA-256, to compare with the appliance's own copy.
    const plaintext = new Map<string, string>();
    for (const [i, file] of files.entries()) {
        progress(`BackupVerification: ${masterKey ? "opening" : "reading the structure of"} ${file} (${i + 1}/${files.length}) at ${describeSide(side)}`);
        const reader = masterKey ? new AesCryptReader(masterKey) : new AesCryptInspector();
        const hash = createHash("sha256");
        try {
            await streamFile(side, file, (chunk) => { if (reader instanceof AesCryptReader) hash.update(reader.push(chunk)); else reader.update(chunk); });
            if (reader instanceof AesCryptReader) {
                hash.update(reader.end());
                plaintext.set(file, hash.digest("hex"));
            } else {
                reader.finish();
            }
        } catch (err) {
            if (!(err instanceof AesCryptError)) throw err;
            throw new BackupProviderError(aesCryptReason(file, err), {
                kind: "appliance", code: err.failure === "wrong-key" ? "wrong-key" : "corrupt", host: describeSide(side), operation: "check the backup's AES Crypt files",
                hint: err.failure === "wrong-key"
                    ? "give the master key that was active when the backup was made (a backup made before the last master key ceremony needs the key of then), complete, as the stack's secret"
                    : `the file at the destination is not what the appliance wrote: find out what changed or cut it (the backup server's disk, another writer, a transfer cut short); ${NEW_BACKUP_HINT}`,
            });
        }
    }
    return plaintext;
}

/**
 * Compares each dump at the destination with the appliance's own copy, hashed on the
 * appliance over the pooled connection. Returns how many matched; a difference fails.
 */
async function checkApplianceCopies(
    connection: ApplianceConnection, backupId: string, dumps: readonly LandedDump[], atDestination: ReadonlyMap<string, string | undefined>, where: string,
): Promise<number> {
    const driver = await driverFor(connection);
    if (!driver.localBackupCopies) return 0;
    progress(`BackupVerification: hashing the appliance's own copies of ${dumps.length} dumps on ${driver.target}`);
    const copies = await driver.localBackupCopies(dumps.map((d) => baseName(d.original)));
    const r = matchApplianceCopies(dumps, atDestination, copies);
    if (r.differ.length > 0) {
        const d = r.differ[0];
        throw new BackupProviderError(`backup ${backupId}: ${d.atDestination} at ${where} ${d.atDestination === d.original ? "has" : "decrypts to"} SHA-256 ${d.destination}, `
            + `but the appliance's own copy of ${baseName(d.original)} has ${d.appliance}${r.differ.length > 1 ? ` (and ${r.differ.length - 1} more differ)` : ""}`, {
            kind: "appliance", code: "corrupt", host: where, operation: "compare the backup's dumps with the appliance's copies",
            hint: `the dump at the destination is not the one the appliance made: find out what changed it (the backup server's disk, another writer); ${NEW_BACKUP_HINT}`,
        });
    }
    if (r.notHeld.length > 0) info(`BackupVerification: the appliance no longer holds its copy of ${r.notHeld.length} dump${r.notHeld.length === 1 ? "" : "s"} (it rotates its backup directory), so ${r.notHeld.length === 1 ? "it was" : "they were"} not compared`);
    return r.matched.length;
}

const NEW_BACKUP_HINT = "to run a new verification backup after the fix, `pulumi up --replace` the backup command (its URN ends in -verification-backup)";

async function verify(inputs: BackupVerificationInputs): Promise<BackupVerificationState> {
    const summary = parseReport(inputs.report);
    const appliance = inputs.appliance ?? "the appliance";
    if (typeof summary === "string") {
        // check() refused this already; only a report that changed after check lands here.
        throw new BackupProviderError(`the backup report ${summary}`, {
            kind: "invalid", host: appliance, operation: "read the verification backup's report", hint: "report this as a bug",
        });
    }
    const side = inputs.destination;
    const where = describeSide(side);
    const vendor = !inputs.report.trimStart().startsWith("{");
    info(vendor
        ? `BackupVerification: backup ${summary.id} on ${appliance} wrote ${summary.files.length} database dumps and sent them to ${summary.destination} in ${(summary.durationMs / 1000).toFixed(1)} s`
        : `BackupVerification: backup ${summary.id} on ${appliance} sent ${summary.files.length} files, ${summary.bytes} bytes, to ${summary.destination} in ${(summary.durationMs / 1000).toFixed(1)} s`);
    const proof = { backupId: summary.id, files: summary.files, bytes: summary.bytes, durationMs: summary.durationMs, startedAt: summary.startedAt, sentTo: summary.destination };
    if (summary.manifest) {
        const findings = await checkAgainstManifest(summary, summary.manifest, side);
        if (findings.length > 0) {
            throw new BackupProviderError(findingsReason(summary.id, appliance, findings, summary.manifest.path), {
                kind: "command", host: where, operation: "verify the backup's sizes and SHA-256",
                hint: "the backup at the destination is not what the appliance wrote: find out what changed it (the backup server's disk, "
                    + "another writer, a transfer cut short; the appliance's backup log is /var/log/orbinibkp.log); " + NEW_BACKUP_HINT,
            });
        }
        return { ...inputs, ...proof, checked: "sha256", applianceCopies: 0 };
    }
    progress(`BackupVerification: looking for ${summary.files.length} files of backup ${summary.id} at ${where}`);
    const { missing, found } = await locateFiles(side, summary.files, vendor ? VENDOR_SUFFIXES : []);
    if (missing.length > 0) {
        throw new BackupProviderError(`backup ${summary.id} reported ${summary.files.length} files sent to ${summary.destination}, but ${missing.length} are not at ${where}: ${missing.join(", ")}`, {
            kind: "appliance", host: appliance, operation: "verify the backup landed",
            hint: `check the destination path and rights on the backup server, and the appliance's backup log (/var/log/orbinibkp.log); ${NEW_BACKUP_HINT}`,
        });
    }
    if (vendor) {
        // The vendor's log names no sizes: the far side's are the backup's.
        const digests = await digestFiles(side, found, () => undefined);
        const empty = found.filter((f) => (digests.get(f)?.size ?? 0) === 0);
        if (empty.length > 0) {
            throw new BackupProviderError(`backup ${summary.id} landed, but ${empty.join(", ")} ${empty.length === 1 ? "is" : "are"} empty at ${where}`, {
                kind: "appliance", host: appliance, operation: "verify the backup landed",
                hint: `check the appliance's backup log (/var/log/orbinibkp.log) and the space at the destination; ${NEW_BACKUP_HINT}`,
            });
        }
        const bytes = found.reduce((sum, f) => sum + (digests.get(f)?.size ?? 0), 0);
        const encrypted = aesCryptFiles(found);
        const plaintext = await checkAesCrypt(side, encrypted, inputs.masterKey);
        const checked = encrypted.length === 0 ? "presence" : inputs.masterKey ? "aescrypt-hmac" : "aescrypt-structure";
        // locateFiles keeps the log's order, and none is missing here: found[i] is summary.files[i] as it landed.
        const dumps = found.map((atDestination, i) => ({ original: summary.files[i], atDestination }));
        const atDestination = new Map(found.map((f) => [f, plaintext.get(f) ?? (encrypted.includes(f) ? undefined : digests.get(f)?.sha256)]));
        const applianceCopies = inputs.applianceConnection ? await checkApplianceCopies(inputs.applianceConnection, summary.id, dumps, atDestination, where) : 0;
        info(`BackupVerification: the ${found.length} dumps of backup ${summary.id} are at ${where}, ${bytes} bytes; `
            + (checked === "presence" ? "none is an AES Crypt file, so they were sized, not opened"
                : checked === "aescrypt-hmac" ? `${encrypted.length} AES Crypt file${encrypted.length === 1 ? "" : "s"} opened with the master key, both HMACs valid`
                    : `${encrypted.length} AES Crypt file${encrypted.length === 1 ? "" : "s"} well-formed (no master key given, so the HMACs were not checked)`)
            + (inputs.applianceConnection ? `; ${applianceCopies} of ${found.length} ha${applianceCopies === 1 ? "s" : "ve"} the SHA-256 of the appliance's own copy` : ""));
        return { ...inputs, ...proof, files: found, bytes, checked, applianceCopies };
    }
    return { ...inputs, ...proof, checked: "presence", applianceCopies: 0 };
}

export const backupVerificationProvider = {
    async check(_olds: unknown, news: unknown) {
        return checkInputs(BackupVerificationArgs, news);
    },
    async diff(_id: string, olds: unknown, news: unknown) {
        // The appliance's connection says how to reach it, not what to prove: a new one alone re-verifies nothing.
        const decision = decideDiff(olds, news, { identity: [], ignore: [...Object.keys(Proof.shape), "applianceConnection"] });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs: BackupVerificationInputs) {
        const state = await verify(inputs);
        return { id: `${state.appliance ?? "appliance"}/verification`, outs: state };
    },
    async read(id: string, props?: BackupVerificationState) {
        // A verification is an event, not a thing on a host: refresh keeps what it proved.
        return { id, props };
    },
    async update(_id: string, olds: unknown, news: unknown) {
        // Both bags are parsed, not trusted: what was proved is carried over from the old
        // state, which an earlier version may have written without a part of it (then the
        // files are looked for again).
        const after = BackupVerificationArgs.parse(fieldsOf(news));
        const proved = Proof.safeParse(olds);
        const before = fieldsOf(olds);
        if (proved.success && before.report === after.report && isDeepStrictEqual(before.destination, after.destination) && before.masterKey === after.masterKey) {
            // Only the appliance's description changed: keep what was proved, look at nothing.
            // A new master key opens the files again, since it changes what can be proved.
            return { outs: { ...after, ...proved.data } };
        }
        return { outs: await verify(after) };
    },
    async delete() {
        // The backups stay at the destination: deleting a verification deletes no backup.
    },
} satisfies pulumi.dynamic.ResourceProvider<BackupVerificationInputs, BackupVerificationState>;

/**
 * Proves that a verification backup's files landed at the destination, and, when the
 * report carries a manifest (orbit contract 2), that each one's size and SHA-256 there
 * match it and no stray file of the backup is beside them. `report` is what `orbit
 * backup create --json` printed; it checks again when the report or the destination changes.
 *
 * @example
 * const run = new command.remote.Command("backup", { connection, create: "sudo -n orbit backup create --json" });
 * new BackupVerification("verify", {
 *     report: run.stdout,
 *     destination: { type: "rsync", server: backupAdminConnection, path: "/files/backup/senhasegura" },
 * });
 */
export class BackupVerification extends BackupResource {
    declare readonly backupId: pulumi.Output<string>;
    declare readonly files: pulumi.Output<string[]>;
    declare readonly bytes: pulumi.Output<number>;
    declare readonly durationMs: pulumi.Output<number>;
    declare readonly startedAt: pulumi.Output<string>;
    declare readonly sentTo: pulumi.Output<string>;
    /** `sha256` when every file's size and SHA-256 matched the manifest; on a vendor appliance `aescrypt-hmac` or `aescrypt-structure`; `presence` otherwise. */
    declare readonly checked: pulumi.Output<"sha256" | "aescrypt-hmac" | "aescrypt-structure" | "presence">;
    /** Vendor: how many files had the SHA-256 of the appliance's own copy. */
    declare readonly applianceCopies: pulumi.Output<number>;

    constructor(name: string, args: Inputs<BackupVerificationArgs>, opts?: pulumi.CustomResourceOptions) {
        super("BackupVerification", "backupVerification", name,
            { ...args, backupId: undefined, files: undefined, bytes: undefined, durationMs: undefined, startedAt: undefined, sentTo: undefined, checked: undefined, applianceCopies: undefined },
            opts, ["destination", "masterKey", "applianceConnection"]);
    }
}
