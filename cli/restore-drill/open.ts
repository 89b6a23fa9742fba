// Opening a backup file in memory, as it streams in, for the restore drill: the
// envelope (AES-256-GCM, key from the master password), then gzip, then the members
// of the tar archive, counted. Nothing is written anywhere and no plaintext is kept:
// each chunk is decrypted, inflated, its tar headers read, and dropped. No I/O here;
// cli/restore-drill/run.ts feeds the bytes from the destination, and
// tests/unit/cli/restore-drill/open.test.ts feeds made-up archives.
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

/** No real pax or long-name header comes near this; a larger one is refused rather than held. */
const MAX_META_BYTES = 1024 * 1024;

/** A member as the archive describes it, pax records and GNU long names applied. */
export interface TarMember {
    path: string;
    size: number;
    /** The ustar type flag: "0" a file, "5" a directory, and so on. */
    type: string;
}

/** The records of a pax extended header ("<length> <key>=<value>\n" each), or undefined when malformed. Pure. */
export function parsePaxRecords(data: Buffer): Map<string, string> | undefined {
    const records = new Map<string, string>();
    let at = 0;
    while (at < data.length) {
        // A header may be padded with NULs after its last record.
        if (data[at] === 0) break;
        const space = data.indexOf(0x20, at);
        if (space < 0) return undefined;
        const length = Number(data.subarray(at, space).toString("latin1"));
        if (!Number.isInteger(length) || length <= space - at + 1 || at + length > data.length || data[at + length - 1] !== 0x0a) return undefined;
        const record = data.subarray(space + 1, at + length - 1).toString("utf8");
        const eq = record.indexOf("=");
        if (eq <= 0) return undefined;
        records.set(record.slice(0, eq), record.slice(eq + 1));
        at += length;
    }
    return records;
}

/**
 * Counts the members of a tar archive (POSIX ustar, pax and GNU) from its bytes in
 * any chunking. A pax header's `size=` and `path=` (and a GNU long name) apply to
 * the member they describe; a global pax header's, to every member after it. A
 * header with a bad checksum, or an archive that ends inside a member or before its
 * end-of-archive block, is refused with the byte offset.
 */
export class TarMemberCounter {
    private members = 0;
    private offset = 0;
    /** Bytes of member data (with padding) still to skip. */
    private skip = 0;
    private pending: Buffer = Buffer.alloc(0);
    private ended = false;
    private inMember = false;
    /** A pax or long-name header's data, collected while it is skipped. */
    private meta?: { type: string; size: number; at: number; data: Buffer[]; collected: number };
    /** What the next member's pax header (or GNU long name) says. */
    private next = new Map<string, string>();
    /** What the global pax headers say, for every member after them. */
    private global = new Map<string, string>();

    constructor(private readonly onMember?: (member: TarMember) => void) {}

    /** Throws an Error with the reason when the bytes are not a tar archive. */
    push(chunk: Buffer): void {
        let at = 0;
        while (at < chunk.length && !this.ended) {
            if (this.skip > 0) {
                const n = Math.min(this.skip, chunk.length - at);
                if (this.meta && this.meta.collected < this.meta.size) {
                    const take = Math.min(n, this.meta.size - this.meta.collected);
                    this.meta.data.push(Buffer.from(chunk.subarray(at, at + take)));
                    this.meta.collected += take;
                }
                this.skip -= n;
                this.offset += n;
                at += n;
                if (this.skip === 0) {
                    this.inMember = false;
                    if (this.meta) this.applyMeta();
                }
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
        const type = String.fromCharCode(block[156]);
        const described = { ...Object.fromEntries(this.global), ...Object.fromEntries(this.next) } as Record<string, string>;
        let size = parseSize(block.subarray(124, 136));
        if (!META_TYPES.has(type) && described.size !== undefined) {
            // pax's size= overrides the header's field, which cannot hold 8 GiB or more.
            size = /^\d+$/.test(described.size) && Number.isSafeInteger(Number(described.size)) ? Number(described.size) : undefined;
            if (size === undefined) throw new Error(`has a pax header before byte ${this.offset} whose size= is not a number`);
        }
        if (size === undefined) throw new Error(`has a tar header at byte ${this.offset} whose size field is not a number`);
        if (META_TYPES.has(type)) {
            if (size > MAX_META_BYTES) throw new Error(`has a ${type === "x" || type === "g" ? "pax" : "long-name"} header at byte ${this.offset} of ${size} bytes, more than the ${MAX_META_BYTES} a real one takes`);
            this.meta = { type, size, at: this.offset, data: [], collected: 0 };
        } else {
            this.members++;
            this.onMember?.({ path: described.path ?? ustarPath(block), size, type });
            this.next = new Map();
        }
        this.skip = Math.ceil(size / BLOCK) * BLOCK;
        this.inMember = this.skip > 0;
        if (this.skip === 0 && this.meta) this.applyMeta();
    }

    /** A pax header's records, or a GNU long name, for the member after it. */
    private applyMeta(): void {
        const meta = this.meta!;
        this.meta = undefined;
        const data = Buffer.concat(meta.data);
        if (meta.type === "L") {
            this.next.set("path", data.toString("utf8").replace(/\0.*$/s, ""));
            return;
        }
        if (meta.type === "K") return;
        const records = parsePaxRecords(data);
        if (!records) throw new Error(`has a pax header at byte ${meta.at} whose records are malformed`);
        const into = meta.type === "g" ? this.global : this.next;
        for (const [key, value] of records) into.set(key, value);
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

/** A header's path: POSIX ustar's prefix field, a slash and its name field; the name alone in GNU's format, which keeps other fields there. */
function ustarPath(block: Buffer): string {
    const text = (from: number, to: number) => block.subarray(from, to).toString("utf8").replace(/\0.*$/s, "");
    const name = text(0, 100);
    const prefix = block.subarray(257, 263).toString("latin1") === "ustar\0" ? text(345, 500) : "";
    return prefix === "" ? name : `${prefix}/${name}`;
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
