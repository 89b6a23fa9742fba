// Opening a backup file in memory, as it streams in, for the restore drill: the
// envelope (AES-256-GCM, key from the master password), then gzip, then the members
// of the tar archive, counted. Nothing is written anywhere and no plaintext is kept:
// each chunk is decrypted, inflated, its tar headers read, and dropped. No I/O here;
// cli/restore-drill/run.ts feeds the bytes from the destination, and
// tests/unit/restore-open.test.ts feeds made-up archives.
//
// Every step is synchronous, so memory stays flat whatever the file's size: the
// transfer hands over each chunk in a callback that cannot wait, and Node's zlib
// streams inflate on the thread pool, queueing every chunk that arrives meanwhile (a
// 1 GiB archive over rsync held 1.2 GiB). minizlib (npm's own, on the same zlib
// binding) inflates during write().
import type { DecipherGCM } from "crypto";
import { Gunzip } from "minizlib";
import { ENVELOPE_HEADER_BYTES, type ManifestFile, envelopeDecipher, parseEnvelopeHeader } from "../../providers/formats/backup-format";
import { type Opened, countSecrets, wrongKeyReason } from "./plan";

const BLOCK = 512;

/** Tar header types that describe the next member rather than being one (pax and GNU long names). */
const META_TYPES = new Set(["x", "g", "L", "K"]);

/**
 * Counts the members of a tar archive (POSIX ustar, pax and GNU) from its bytes in
 * any chunking. A header with a bad checksum, or an archive that ends inside a member
 * or before its end-of-archive block, is refused with the byte offset.
 */
export class TarMemberCounter {
    private members = 0;
    private offset = 0;
    /** Bytes of member data (with padding) still to skip. */
    private skip = 0;
    private pending: Buffer = Buffer.alloc(0);
    private ended = false;
    private inMember = false;

    /** Throws an Error with the reason when the bytes are not a tar archive. */
    push(chunk: Buffer): void {
        let at = 0;
        while (at < chunk.length && !this.ended) {
            if (this.skip > 0) {
                const n = Math.min(this.skip, chunk.length - at);
                this.skip -= n;
                this.offset += n;
                at += n;
                if (this.skip === 0) this.inMember = false;
                continue;
            }
            const n = Math.min(BLOCK - this.pending.length, chunk.length - at);
            this.pending = Buffer.concat([this.pending, chunk.subarray(at, at + n)]);
            at += n;
            if (this.pending.length === BLOCK) {
                const header = this.pending;
                this.pending = Buffer.alloc(0);
                this.header(header);
                this.offset += BLOCK;
            }
        }
    }

    private header(block: Buffer): void {
        if (block.every((b) => b === 0)) {
            // One zero block ends the archive (POSIX writes two; GNU tar reads one as the end too).
            this.ended = true;
            return;
        }
        const stored = parseOctal(block.subarray(148, 156));
        let sum = 0;
        for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
        if (stored === undefined || stored !== sum) {
            throw new Error(`has a damaged tar header at byte ${this.offset} (after ${this.members} member${this.members === 1 ? "" : "s"}): its checksum does not match`);
        }
        const size = parseSize(block.subarray(124, 136));
        if (size === undefined) throw new Error(`has a tar header at byte ${this.offset} whose size field is not a number`);
        const type = String.fromCharCode(block[156]);
        if (!META_TYPES.has(type)) this.members++;
        this.skip = Math.ceil(size / BLOCK) * BLOCK;
        this.inMember = this.skip > 0;
    }

    /** The number of members; throws when the archive was cut short. */
    end(): number {
        if (this.inMember || this.pending.length > 0) {
            throw new Error(`ends inside a tar member at byte ${this.offset + this.pending.length}: the archive was cut short`);
        }
        if (!this.ended) {
            throw new Error(this.offset === 0 ? "holds no tar archive (no bytes)" : `has no end-of-archive block after ${this.members} member${this.members === 1 ? "" : "s"}: the archive was cut short`);
        }
        return this.members;
    }
}

function parseOctal(field: Buffer): number | undefined {
    const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
    return /^[0-7]+$/.test(text) ? parseInt(text, 8) : undefined;
}

/** A size field: octal text, or big-endian base-256 when its first byte's high bit is set (GNU, for 8 GiB and more). */
function parseSize(field: Buffer): number | undefined {
    if (field[0] & 0x80) {
        let v = field[0] & 0x7f;
        for (let i = 1; i < field.length; i++) v = v * 256 + field[i];
        return Number.isSafeInteger(v) ? v : undefined;
    }
    return parseOctal(field);
}

/**
 * Opens a database dump or session archive as its bytes arrive: `push` each chunk in
 * order, as the transfer delivers it, then `finish`. The first thing
 * that fails is the reason, except that a failed decryption explains everything after
 * it (the plaintext was noise), so it wins.
 */
export class ArchiveOpener {
    private headerBytes: Buffer[] = [];
    private headerLength = 0;
    private decipher?: DecipherGCM;
    private readonly gunzip = new Gunzip({});
    private readonly tar = new TarMemberCounter();
    private failure?: string;

    /**
     * `masterPassword` only for an encrypted file; it stays in this process's memory.
     * `manifestTrusted`: the manifest is the one orbit reported, or nothing says otherwise,
     * so a file matching it is as the appliance wrote it.
     */
    constructor(private readonly file: ManifestFile, private readonly masterPassword?: string, private readonly manifestTrusted = true) {
        this.gunzip.on("data", (data: Buffer) => {
            if (this.failure) return;
            try {
                this.tar.push(data);
            } catch (err) {
                this.fail(`${this.inflatedPrefix()}, but ${(err as Error).message}`);
            }
        });
        this.gunzip.on("error", (err: unknown) => this.fail(`${this.file.encrypted ? "decrypts, but " : ""}is not a valid gzip stream: ${String((err as Error)?.message ?? err).replace(/^zlib: /, "")}`));
    }

    private inflatedPrefix(): string {
        return this.file.encrypted ? "decrypts and gunzips" : "gunzips";
    }

    private fail(reason: string): void {
        if (this.failure === undefined) this.failure = reason;
    }

    /** Takes the next chunk of the file; everything it holds is processed before this returns. */
    push(chunk: Buffer): void {
        if (!this.file.encrypted) { this.inflate(chunk); return; }
        if (this.decipher === undefined) {
            this.headerBytes.push(chunk);
            this.headerLength += chunk.length;
            if (this.headerLength < ENVELOPE_HEADER_BYTES) return;
            const head = Buffer.concat(this.headerBytes);
            this.headerBytes = [];
            const header = parseEnvelopeHeader(head);
            if (typeof header === "string") {
                this.fail(`is not an encrypted envelope: it ${header}`);
                this.decipher = DISCARD;
                return;
            }
            this.decipher = envelopeDecipher(header, this.masterPassword ?? "");
            chunk = head.subarray(ENVELOPE_HEADER_BYTES);
        }
        if (this.decipher === DISCARD) return;
        this.inflate(this.decipher.update(chunk));
    }

    private inflate(plain: Buffer): void {
        if (this.failure === undefined && plain.length > 0) this.gunzip.write(plain);
    }

    /** What the whole file showed, once its last chunk was pushed. */
    finish(): Opened {
        if (this.file.encrypted) {
            if (this.decipher === undefined) {
                return { failure: `is not an encrypted envelope: it is ${this.headerLength} bytes, shorter than the ${ENVELOPE_HEADER_BYTES}-byte envelope header` };
            }
            if (this.decipher !== DISCARD) {
                let tail: Buffer;
                try {
                    tail = this.decipher.final();
                } catch {
                    // Only files whose size and SHA-256 matched the manifest are opened.
                    return { failure: wrongKeyReason(this.manifestTrusted) };
                }
                this.inflate(tail);
            }
        }
        if (this.failure === undefined) this.gunzip.end();
        if (this.failure !== undefined) return { failure: this.failure };
        try {
            return { entries: this.tar.end() };
        } catch (err) {
            return { failure: `${this.inflatedPrefix()}, but ${(err as Error).message}` };
        }
    }
}

/** Marks an envelope whose header was refused: the rest is not decrypted. */
const DISCARD = {} as DecipherGCM;

/**
 * Opens the secrets archive held in memory and counts its entries. The plaintext is
 * overwritten before this returns; only the count leaves.
 */
export function openSecrets(file: ManifestFile, sealed: Buffer, masterPassword: string, manifestTrusted = true): Opened {
    if (!file.encrypted) return countSecrets(sealed);
    const header = parseEnvelopeHeader(sealed);
    if (typeof header === "string") return { failure: `is not an encrypted envelope: it ${header}` };
    const decipher = envelopeDecipher(header, masterPassword);
    let plain: Buffer;
    try {
        plain = Buffer.concat([decipher.update(sealed.subarray(ENVELOPE_HEADER_BYTES)), decipher.final()]);
    } catch {
        return { failure: wrongKeyReason(manifestTrusted) };
    }
    try {
        const counted = countSecrets(plain);
        return "failure" in counted ? { failure: counted.failure.replace(/^decrypts/, "decrypts with the master password") } : counted;
    } finally {
        plain.fill(0);
    }
}
