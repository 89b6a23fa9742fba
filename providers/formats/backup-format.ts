// The format of a backup at its destination (orbit contract 2, docs/appliance-contract.md):
// the manifest that lists every file with its size and SHA-256, the encryption envelope
// that wraps the secrets archive, database dumps and session archives, and which files
// belong to which backup. Pure: the verification, the restore drill and scripts/drift
// use it, and tests/unit/backup-format.test.ts checks it without a host.
//
// The layout's paths live in the appliance (the lab's in lab/appliance/orbit.js, LAYOUT).
// The client side reads every content path from the manifest, so the only path it must
// know is where the manifests are: BACKUP_LAYOUT.manifests, overridable where a real
// appliance differs.
import { createDecipheriv, scryptSync, type DecipherGCM } from "crypto";
import { z } from "zod";

export const BACKUP_LAYOUT = {
    /** Where the appliance keeps one manifest per backup: `<manifests>/<id>.json`. */
    manifests: "backup/manifests",
} as const;

/** A backup id: its start time in UTC and a random suffix, e.g. 20261126T080000Z-1a2b. Sorts by time. */
export const BackupId = z.string().regex(/^\d{8}T\d{6}Z-[0-9a-f]{4,16}$/, "must be a backup id like 20261126T080000Z-1a2b");

/** A path relative to the destination: plain characters, no `..`, no absolute path. */
export const RelativeFile = z.string().max(1024)
    .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, "must be a relative path of letters, digits, '.', '_', '-' and '/'")
    .refine((p) => !p.split("/").includes(".."), "must not contain a '..' segment");

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 in lowercase hex");

/** What a file holds, so the drill knows how to open it. */
export const FileRole = z.enum(["db", "arz", "secrets"]);
export type FileRole = z.infer<typeof FileRole>;

export const ManifestFile = z.object({
    path: RelativeFile,
    /** The backup kind the file belongs to: system (db), video (arz), secrets. */
    kind: z.enum(["system", "secrets", "video"]),
    role: FileRole,
    size: z.number().int().nonnegative(),
    sha256: Sha256,
    /** Wrapped in the envelope below (keyed from the master password). */
    encrypted: z.boolean(),
    /** Members of the archive (db, arz) or entries of the secrets document (secrets). */
    entries: z.number().int().nonnegative(),
});
export type ManifestFile = z.infer<typeof ManifestFile>;

/** `<manifests>/<id>.json`, kept with the backup at the destination. */
export const Manifest = z.object({
    format: z.literal("orbit-backup-manifest"),
    version: z.literal(1),
    id: BackupId,
    hostname: z.string(),
    createdAt: z.iso.datetime(),
    kinds: z.array(z.enum(["system", "secrets", "video"])),
    files: z.array(ManifestFile),
});
export type Manifest = z.infer<typeof Manifest>;

/** The manifest as `orbit backup create --json` reports it: where it was written, its digest, and its files. */
export const ReportedManifest = z.object({
    path: RelativeFile,
    size: z.number().int().nonnegative(),
    sha256: Sha256,
    files: z.array(ManifestFile),
});
export type ReportedManifest = z.infer<typeof ReportedManifest>;

export function manifestPath(id: string, manifests: string = BACKUP_LAYOUT.manifests): string {
    return `${manifests}/${id}.json`;
}

/** The newest backup id among manifest file names (`<id>.json`), or undefined. Ids sort by time. */
export function newestBackupId(manifestNames: readonly string[]): string | undefined {
    const ids = manifestNames
        .map((n) => n.replace(/^.*\//, ""))
        .filter((n) => n.endsWith(".json"))
        .map((n) => n.slice(0, -".json".length))
        .filter((id) => BackupId.safeParse(id).success)
        .sort();
    return ids.at(-1);
}

/** When a backup started, from its id. */
export function backupIdTime(id: string): Date {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id);
    if (!m) throw new Error(`${JSON.stringify(id)} is not a backup id`);
    return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

/**
 * Does `file` belong to backup `id`? Every file of a backup carries its id in its path
 * (a directory named after it, or a name that starts with it), so a file that does and
 * is not in the manifest was added after the backup, or by someone else.
 */
export function belongsTo(file: string, id: string): boolean {
    return file.split("/").some((part) => part === id || part.startsWith(`${id}.`) || part.startsWith(`${id}-`));
}

// ------------------------------------------------------------------ the envelope
//
// "OSEC" | version 1 | scrypt salt (16) | GCM IV (12) | GCM tag (16) | ciphertext
// key = scrypt(masterPassword, salt, 32 bytes, N = 16384, r = 8, p = 1); cipher AES-256-GCM.

export const ENVELOPE = {
    magic: "OSEC",
    version: 1,
    saltBytes: 16,
    ivBytes: 12,
    tagBytes: 16,
    scrypt: { N: 16384, r: 8, p: 1 },
    keyBytes: 32,
} as const;
export const ENVELOPE_HEADER_BYTES = ENVELOPE.magic.length + 1 + ENVELOPE.saltBytes + ENVELOPE.ivBytes + ENVELOPE.tagBytes;

export interface EnvelopeHeader { salt: Buffer; iv: Buffer; tag: Buffer }

/** The header of an envelope, or a reason it is not one. */
export function parseEnvelopeHeader(head: Buffer): EnvelopeHeader | string {
    if (head.length < ENVELOPE_HEADER_BYTES) return `is ${head.length} bytes, shorter than the ${ENVELOPE_HEADER_BYTES}-byte envelope header`;
    if (head.subarray(0, 4).toString("latin1") !== ENVELOPE.magic) return "does not start with the envelope's magic \"OSEC\"";
    if (head[4] !== ENVELOPE.version) return `has envelope version ${head[4]}, and only version ${ENVELOPE.version} is known`;
    let at = 5;
    const take = (n: number) => head.subarray(at, (at += n));
    return { salt: Buffer.from(take(ENVELOPE.saltBytes)), iv: Buffer.from(take(ENVELOPE.ivBytes)), tag: Buffer.from(take(ENVELOPE.tagBytes)) };
}

/**
 * A decipher for the ciphertext after the header. Its `final()` throws when the tag does
 * not match: a wrong master password or a changed byte, which GCM cannot tell apart.
 * The key is derived here and lives only in this process's memory.
 */
export function envelopeDecipher(header: EnvelopeHeader, masterPassword: string): DecipherGCM {
    const { N, r, p } = ENVELOPE.scrypt;
    const key = scryptSync(masterPassword, header.salt, ENVELOPE.keyBytes, { N, r, p, maxmem: 64 * 1024 * 1024 });
    const decipher = createDecipheriv("aes-256-gcm", key, header.iv);
    decipher.setAuthTag(header.tag);
    key.fill(0);
    return decipher;
}

/** Opens a whole envelope held in memory; throws with the reason. */
export function openEnvelope(sealed: Buffer, masterPassword: string): Buffer {
    const header = parseEnvelopeHeader(sealed);
    if (typeof header === "string") throw new Error(`the file ${header}`);
    const decipher = envelopeDecipher(header, masterPassword);
    try {
        return Buffer.concat([decipher.update(sealed.subarray(ENVELOPE_HEADER_BYTES)), decipher.final()]);
    } catch {
        throw new Error("does not decrypt with the master password: the password is wrong, or the file was changed (AES-256-GCM authentication failed)");
    }
}
