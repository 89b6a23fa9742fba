// AES Crypt streams: the `.aes` format a real senhasegura appliance encrypts its
// backups in, opened with the master key. Read (and, for the lab and the tests,
// written) from the published stream format, versions 2 and 3
// (https://www.aescrypt.com/aes_stream_format.html; docs/vendor-appliance.md).
//
// The layout page does not spell out two things, taken from the reference
// implementation (AES Crypt's KDF, "ACKDF"): version 2 derives its key from the
// password in UTF-16LE by 8192 rounds of SHA-256 over (digest ‖ password), the
// digest seeded with the public IV padded with zeros to 32 octets; version 3 runs
// PBKDF2-HMAC-SHA512 over the UTF-8 password, with the public IV as salt.
//
// Streaming and in memory: a reader keeps only the header, one block and the
// trailer, whatever the file's size, and never writes plaintext anywhere. The key
// block's HMAC is checked before anything is decrypted; the ciphertext's at the
// end, before the last block goes out. So plaintext read before the end of the
// stream is not yet trusted: a consumer takes no verdict until the stream ends
// without an error.
import { createCipheriv, createDecipheriv, createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual, type Decipher, type Hmac } from "crypto";
import { Transform, type TransformCallback } from "stream";

export type AesCryptVersion = 2 | 3;

/** Why a stream does not open, in machine-readable form. */
export type AesCryptFailure =
    /** It does not start with "AES". */
    | "not-aescrypt"
    /** A version this reader does not open (0, 1, or newer than 3). */
    | "unsupported-version"
    /** The structure breaks the format (a reserved octet, an extension, the iterations, the padding, the lengths). */
    | "malformed"
    /** It ends before the format says it can. */
    | "truncated"
    /** The key block's HMAC differs: another key (or an older master key), or the key block was changed. */
    | "wrong-key"
    /** The ciphertext's HMAC differs: the file was changed after it was written. */
    | "altered";

export class AesCryptError extends Error {
    constructor(readonly failure: AesCryptFailure, message: string) {
        super(message);
        this.name = "AesCryptError";
    }
}

export interface AesCryptExtension {
    /** The identifier (empty for the spec's "container" extension). */
    identifier: string;
    /** Its contents, after the identifier's terminating 0x00. Neither encrypted nor authenticated. */
    contents: Buffer;
}

export interface AesCryptHeader {
    version: AesCryptVersion;
    extensions: AesCryptExtension[];
    /** Version 3's PBKDF2 iterations; null for version 2 (fixed 8192 rounds). */
    iterations: number | null;
    /** The public IV, the KDF's salt. */
    iv: Buffer;
    /** The 48 octets holding the session IV and key, encrypted with the derived key. */
    sessionBlock: Buffer;
    sessionHmac: Buffer;
    /** How many octets the header takes, up to the first octet of ciphertext. */
    length: number;
}

/** What a whole stream was, once read to its end. */
export interface AesCryptShape {
    version: AesCryptVersion;
    extensions: AesCryptExtension[];
    iterations: number | null;
    ciphertextBytes: number;
    /** The plaintext's size: exact for version 2 (its modulo octet) and after a decryption; null for version 3 without the key. */
    plaintextBytes: number | null;
}

/** The bound on version 3's iterations: far above the reference's 300 000, and low enough that a forged header cannot stall a run for minutes. */
export const MAX_ITERATIONS = 5_000_000;
/** Version 3's iterations when this module writes (the reference implementation's default). */
export const DEFAULT_ITERATIONS = 300_000;
/** No real header comes near this: extensions beyond it are refused rather than buffered. */
const MAX_HEADER_BYTES = 64 * 1024;
const BLOCK = 16;

function trailerLength(version: AesCryptVersion): number {
    // Version 2: the modulo octet and the HMAC; version 3: the HMAC.
    return version === 2 ? 33 : 32;
}

/**
 * The header at the start of `buf`, or undefined when more octets are needed.
 * Throws AesCryptError when what is there breaks the format. Pure.
 */
export function parseAesCryptHeader(buf: Buffer): AesCryptHeader | undefined {
    const prefix = Math.min(buf.length, 3);
    if (!buf.subarray(0, prefix).equals(Buffer.from("AES").subarray(0, prefix))) {
        throw new AesCryptError("not-aescrypt", `it does not start with "AES" (it starts with 0x${buf.subarray(0, prefix).toString("hex")})`);
    }
    if (buf.length < 5) return undefined;
    const version = buf[3];
    if (version !== 2 && version !== 3) {
        throw new AesCryptError("unsupported-version", version < 2
            ? `it is AES Crypt stream version ${version}, which predates the version 2 this reader opens`
            : `it is AES Crypt stream version ${version}, newer than the 3 this reader knows`);
    }
    if (buf[4] !== 0) throw new AesCryptError("malformed", `its reserved octet is 0x${buf[4].toString(16)}, not 0x00`);
    let at = 5;
    const extensions: AesCryptExtension[] = [];
    for (;;) {
        if (at > MAX_HEADER_BYTES) throw new AesCryptError("malformed", `its extensions run past ${MAX_HEADER_BYTES} octets`);
        if (buf.length < at + 2) return undefined;
        const size = buf.readUInt16BE(at);
        at += 2;
        if (size === 0) break;
        if (buf.length < at + size) return undefined;
        const body = buf.subarray(at, at + size);
        const end = body.indexOf(0);
        if (end < 0) throw new AesCryptError("malformed", `extension ${extensions.length + 1} has no 0x00 after its identifier`);
        extensions.push({ identifier: body.subarray(0, end).toString("utf8"), contents: Buffer.from(body.subarray(end + 1)) });
        at += size;
    }
    let iterations: number | null = null;
    if (version === 3) {
        if (buf.length < at + 4) return undefined;
        iterations = buf.readUInt32BE(at);
        at += 4;
        if (iterations < 1 || iterations > MAX_ITERATIONS) {
            throw new AesCryptError("malformed", `its KDF iterations are ${iterations}, outside 1-${MAX_ITERATIONS}`);
        }
    }
    if (buf.length < at + 16 + 48 + 32) return undefined;
    return {
        version, extensions, iterations,
        iv: Buffer.from(buf.subarray(at, at + 16)),
        sessionBlock: Buffer.from(buf.subarray(at + 16, at + 64)),
        sessionHmac: Buffer.from(buf.subarray(at + 64, at + 96)),
        length: at + 96,
    };
}

/** The password's octets as each version hashes them: UTF-16LE for 2, UTF-8 for 3. */
function passwordOctets(version: AesCryptVersion, password: string): Buffer {
    if (password === "") throw new AesCryptError("wrong-key", "the key is empty");
    return Buffer.from(password, version === 2 ? "utf16le" : "utf8");
}

/** Version 2's key derivation: 8192 rounds of SHA-256 over (digest ‖ password), the digest seeded with the IV. */
export function deriveKeyV2(password: string, iv: Buffer): Buffer {
    const pw = passwordOctets(2, password);
    let digest = Buffer.alloc(32);
    iv.copy(digest, 0, 0, 16);
    for (let i = 0; i < 8192; i++) digest = createHash("sha256").update(digest).update(pw).digest();
    pw.fill(0);
    return digest;
}

/** The key that opens the key block: version 2's ACKDF, or version 3's PBKDF2 (off the event loop). */
export async function deriveKey(header: Pick<AesCryptHeader, "version" | "iv" | "iterations">, password: string): Promise<Buffer> {
    if (header.version === 2) return deriveKeyV2(password, header.iv);
    const pw = passwordOctets(3, password);
    try {
        return await new Promise<Buffer>((resolve, reject) => pbkdf2(pw, header.iv, header.iterations!, 32, "sha512", (err, key) => (err ? reject(err) : resolve(key))));
    } finally {
        pw.fill(0);
    }
}

function sessionHmac(version: AesCryptVersion, key: Buffer, sessionBlock: Buffer): Buffer {
    const hmac = createHmac("sha256", key).update(sessionBlock);
    // Version 3 authenticates the version octet with the key block.
    if (version === 3) hmac.update(Buffer.from([3]));
    return hmac.digest();
}

function sameMac(a: Buffer, b: Buffer): boolean {
    return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The session IV and key, from the header and the key that opens it. Throws
 * "wrong-key" before decrypting anything when the key block's HMAC differs.
 */
export function openSessionBlock(header: AesCryptHeader, derived: Buffer): { iv: Buffer; key: Buffer } {
    if (!sameMac(sessionHmac(header.version, derived, header.sessionBlock), header.sessionHmac)) {
        throw new AesCryptError("wrong-key", "the key does not open it: the HMAC of its key block differs (another key, a master key older or newer than the one it was made with, or a changed header)");
    }
    const decipher = createDecipheriv("aes-256-cbc", derived, header.iv).setAutoPadding(false);
    const plain = Buffer.concat([decipher.update(header.sessionBlock), decipher.final()]);
    return { iv: plain.subarray(0, 16), key: plain.subarray(16, 48) };
}

/** The last `keep` octets of `tail ‖ chunk`, without joining a large chunk; `count` hears how many went before them. */
function keepLast(tail: Buffer, chunk: Buffer, keep: number, count: (octets: number) => void): Buffer {
    const total = tail.length + chunk.length;
    if (total <= keep) return Buffer.concat([tail, chunk]);
    count(total - keep);
    if (chunk.length >= keep) return Buffer.from(chunk.subarray(chunk.length - keep));
    return Buffer.concat([tail.subarray(tail.length - (keep - chunk.length)), chunk]);
}

/** The end of a stream, checked: its ciphertext's size against the format's, and (version 2) its modulo. Pure. */
function checkTrailer(version: AesCryptVersion, ciphertextBytes: number, trailer: Buffer): { modulo: number } {
    if (trailer.length < trailerLength(version)) throw new AesCryptError("truncated", "it ends inside its header or trailer");
    if (ciphertextBytes % BLOCK !== 0) throw new AesCryptError("truncated", `its ciphertext is ${ciphertextBytes} octets, not a whole number of 16-octet blocks (the file was cut)`);
    if (version === 3) {
        if (ciphertextBytes === 0) throw new AesCryptError("malformed", "it has no ciphertext block, and version 3 always pads to one");
        return { modulo: 0 };
    }
    if (trailer[0] > 0x0f) throw new AesCryptError("malformed", `its modulo octet is 0x${trailer[0].toString(16)}, not 0-15`);
    const modulo = trailer[0];
    if (ciphertextBytes === 0 && modulo !== 0) throw new AesCryptError("malformed", `it has no ciphertext, but its modulo octet says ${modulo}`);
    return { modulo };
}

/**
 * Reads a stream's structure without the key: the header, the extensions, the
 * iterations and the lengths, holding only the header and the trailer. For a
 * backup checked where the master key is not given.
 */
export class AesCryptInspector {
    private head: Buffer = Buffer.alloc(0);
    private header: AesCryptHeader | undefined;
    private tail: Buffer = Buffer.alloc(0);
    private bodyBytes = 0;

    update(chunk: Buffer): void {
        if (!this.header) {
            this.head = Buffer.concat([this.head, chunk]);
            const parsed = parseAesCryptHeader(this.head);
            if (!parsed) return;
            this.header = parsed;
            chunk = this.head.subarray(parsed.length);
            this.head = Buffer.alloc(0);
        }
        // Only the last trailer's worth of octets is kept; the rest is counted.
        this.tail = keepLast(this.tail, chunk, trailerLength(this.header.version), (counted) => { this.bodyBytes += counted; });
    }

    finish(): AesCryptShape {
        if (!this.header) {
            if (this.head.length === 0) throw new AesCryptError("truncated", "it is empty");
            throw new AesCryptError("truncated", `it ends inside its header, after ${this.head.length} octets`);
        }
        const { version, extensions, iterations } = this.header;
        const { modulo } = checkTrailer(version, this.bodyBytes, this.tail);
        const plaintextBytes = version === 2 ? (this.bodyBytes === 0 ? 0 : this.bodyBytes - (modulo === 0 ? 0 : BLOCK - modulo)) : null;
        return { version, extensions, iterations, ciphertextBytes: this.bodyBytes, plaintextBytes };
    }
}

/** How a reader gets the key that opens the key block: from the key (derived here, synchronously), or already derived. */
export type AesCryptKey = string | { derived: (header: AesCryptHeader) => Buffer };

/**
 * Decrypts an AES Crypt stream piece by piece, synchronously: `push` each chunk in
 * order and pass on what it returns, then `end`. Holds the header, one block and the
 * trailer. Throws AesCryptError; `shape` tells what the stream was once `end` returned.
 * Version 3's key derivation (PBKDF2, 300 000 rounds by default) blocks for a
 * moment: AesCryptDecipher derives off the event loop.
 */
export class AesCryptReader {
    private pending: Buffer = Buffer.alloc(0);
    private header: AesCryptHeader | undefined;
    private decipher: Decipher | undefined;
    private mac: Hmac | undefined;
    /** The last plaintext block, held back until the trailer says how much of it is padding. */
    private held: Buffer = Buffer.alloc(0);
    private ciphertextBytes = 0;
    private plaintextBytes = 0;
    shape: AesCryptShape | undefined;

    constructor(private readonly key: AesCryptKey) {}

    /** The plaintext this chunk completes (not to be trusted before `end` returns). */
    push(chunk: Buffer): Buffer {
        this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
        if (!this.header) {
            const header = parseAesCryptHeader(this.pending);
            if (!header) return Buffer.alloc(0);
            const derived = typeof this.key === "string"
                ? (header.version === 2 ? deriveKeyV2(this.key, header.iv) : pbkdf2Sync(passwordOctets(3, this.key), header.iv, header.iterations!, 32, "sha512"))
                : this.key.derived(header);
            const session = openSessionBlock(header, derived);
            derived.fill(0);
            this.header = header;
            this.decipher = createDecipheriv("aes-256-cbc", session.key, session.iv).setAutoPadding(false);
            this.mac = createHmac("sha256", session.key);
            session.key.fill(0);
            this.pending = this.pending.subarray(header.length);
        }
        const keep = trailerLength(this.header.version);
        if (this.pending.length <= keep) return Buffer.alloc(0);
        const body = this.pending.subarray(0, this.pending.length - keep);
        this.pending = Buffer.from(this.pending.subarray(this.pending.length - keep));
        this.ciphertextBytes += body.length;
        this.mac!.update(body);
        return this.release(this.decipher!.update(body));
    }

    /** All but the last block of plaintext. */
    private release(plain: Buffer): Buffer {
        if (plain.length === 0) return plain;
        const joined = this.held.length === 0 ? plain : Buffer.concat([this.held, plain]);
        const cut = Math.max(0, joined.length - BLOCK);
        this.held = Buffer.from(joined.subarray(cut));
        this.plaintextBytes += cut;
        return joined.subarray(0, cut);
    }

    /** The rest of the plaintext, once the ciphertext's HMAC and the padding are checked. */
    end(): Buffer {
        if (!this.header) {
            throw new AesCryptError("truncated", this.pending.length === 0 ? "it is empty" : `it ends inside its header, after ${this.pending.length} octets`);
        }
        const { version, extensions, iterations } = this.header;
        const { modulo } = checkTrailer(version, this.ciphertextBytes, this.pending);
        if (!sameMac(this.mac!.digest(), this.pending.subarray(this.pending.length - 32))) {
            throw new AesCryptError("altered", "the HMAC of its ciphertext differs: the file was changed or damaged after it was written");
        }
        const before = this.release(this.decipher!.final());
        let last = this.held;
        if (version === 3) {
            const pad = last[last.length - 1];
            if (last.length !== BLOCK || pad < 1 || pad > BLOCK || !last.subarray(BLOCK - pad).every((b) => b === pad)) {
                throw new AesCryptError("malformed", "its last block's PKCS#7 padding is not valid, though its HMAC is");
            }
            last = last.subarray(0, BLOCK - pad);
        } else if (modulo !== 0) {
            last = last.subarray(0, modulo);
        }
        this.held = Buffer.alloc(0);
        this.plaintextBytes += last.length;
        this.shape = { version, extensions, iterations, ciphertextBytes: this.ciphertextBytes, plaintextBytes: this.plaintextBytes };
        return Buffer.concat([before, last]);
    }
}

/**
 * AesCryptReader as a stream: ciphertext in, plaintext out, the key derived off the
 * event loop. The error it fails with is an AesCryptError; `shape` tells what the
 * stream was once it ended without one.
 */
export class AesCryptDecipher extends Transform {
    private head: Buffer = Buffer.alloc(0);
    private reader: AesCryptReader | undefined;
    shape: AesCryptShape | undefined;

    constructor(private readonly password: string) {
        super();
    }

    override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
        if (this.reader) {
            try { done(null, this.reader.push(chunk)); } catch (err) { done(err as Error); }
            return;
        }
        this.head = Buffer.concat([this.head, chunk]);
        let header: AesCryptHeader | undefined;
        try { header = parseAesCryptHeader(this.head); } catch (err) { done(err as Error); return; }
        if (!header) { done(); return; }
        deriveKey(header, this.password).then((derived) => {
            this.reader = new AesCryptReader({ derived: () => derived });
            const head = this.head;
            this.head = Buffer.alloc(0);
            done(null, this.reader.push(head));
        }).catch((err) => done(err as Error));
    }

    override _flush(done: TransformCallback): void {
        try {
            const reader = this.reader ?? new AesCryptReader(this.password);
            // Without a reader the header never completed: the reader says so.
            if (!this.reader) reader.push(this.head);
            const last = reader.end();
            this.shape = reader.shape;
            done(null, last.length > 0 ? last : undefined);
        } catch (err) {
            done(err as Error);
        }
    }
}

export interface AesCryptWriteOptions {
    version: AesCryptVersion;
    /** Version 3's PBKDF2 iterations. @default DEFAULT_ITERATIONS */
    iterations?: number;
    /** Extensions to write, before the spec's recommended 128-octet container. */
    extensions?: readonly AesCryptExtension[];
    /** The source of the IVs and the session key; tests give fixed octets. @default crypto.randomBytes */
    random?: (size: number) => Buffer;
}

/**
 * Encrypts into the AES Crypt format, piece by piece: what the lab's appliance
 * writes, and what the tests check the reader against. The key is derived
 * synchronously in the constructor.
 */
export class AesCryptEncryptor {
    private readonly cipher;
    private readonly mac: Hmac;
    private readonly version: AesCryptVersion;
    private plaintextBytes = 0;
    private header: Buffer | undefined;

    constructor(password: string, options: AesCryptWriteOptions) {
        const random = options.random ?? randomBytes;
        this.version = options.version;
        const iterations = options.version === 3 ? options.iterations ?? DEFAULT_ITERATIONS : null;
        if (iterations !== null && (iterations < 1 || iterations > MAX_ITERATIONS)) throw new RangeError(`iterations must be 1-${MAX_ITERATIONS}`);
        const iv = random(16);
        const sessionIv = random(16);
        const sessionKey = random(32);
        const derived = options.version === 2 ? deriveKeyV2(password, iv) : pbkdf2Sync(passwordOctets(3, password), iv, iterations!, 32, "sha512");
        const wrap = createCipheriv("aes-256-cbc", derived, iv).setAutoPadding(false);
        const sessionBlock = Buffer.concat([wrap.update(Buffer.concat([sessionIv, sessionKey])), wrap.final()]);
        const parts: Buffer[] = [Buffer.from("AES"), Buffer.from([options.version, 0])];
        // The spec asks writers for a 128-octet container extension: 0x00 first, for extensions added later.
        for (const ext of [...(options.extensions ?? []), { identifier: "", contents: Buffer.alloc(127) }]) {
            const body = Buffer.concat([Buffer.from(ext.identifier, "utf8"), Buffer.from([0]), ext.contents]);
            const size = Buffer.alloc(2);
            size.writeUInt16BE(body.length);
            parts.push(size, body);
        }
        parts.push(Buffer.alloc(2));
        if (iterations !== null) {
            const it = Buffer.alloc(4);
            it.writeUInt32BE(iterations);
            parts.push(it);
        }
        parts.push(iv, sessionBlock, sessionHmac(options.version, derived, sessionBlock));
        derived.fill(0);
        this.header = Buffer.concat(parts);
        this.cipher = createCipheriv("aes-256-cbc", sessionKey, sessionIv).setAutoPadding(options.version === 3);
        this.mac = createHmac("sha256", sessionKey);
        sessionKey.fill(0);
    }

    /** The ciphertext, authenticated as it goes; the first call's answer starts with the header. */
    private out(octets: Buffer): Buffer {
        this.mac.update(octets);
        if (!this.header) return octets;
        const first = Buffer.concat([this.header, octets]);
        this.header = undefined;
        return first;
    }

    update(plaintext: Buffer): Buffer {
        this.plaintextBytes += plaintext.length;
        return this.out(this.cipher.update(plaintext));
    }

    final(): Buffer {
        if (this.version === 3) return Buffer.concat([this.out(this.cipher.final()), this.mac.digest()]);
        // Version 2 pads the last block to 16 octets, and says in the modulo octet how much of it is plaintext.
        const modulo = this.plaintextBytes % BLOCK;
        const pad = modulo === 0 ? Buffer.alloc(0) : this.cipher.update(Buffer.alloc(BLOCK - modulo, BLOCK - modulo));
        const last = this.out(Buffer.concat([pad, this.cipher.final()]));
        return Buffer.concat([last, Buffer.from([modulo]), this.mac.digest()]);
    }
}

/** A whole buffer, encrypted: for small files and tests. */
export function encryptAesCrypt(plaintext: Buffer, password: string, options: AesCryptWriteOptions): Buffer {
    const encryptor = new AesCryptEncryptor(password, options);
    return Buffer.concat([encryptor.update(plaintext), encryptor.final()]);
}
