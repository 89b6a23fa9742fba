// Opening a vendor appliance's backup files in memory, as they stream in, for the
// restore drill: AES Crypt (providers/formats/aescrypt.ts) with the master key, then,
// for a database dump, gzip and mysqldump's completion line at its end. Nothing is
// written anywhere and no plaintext is kept beyond a dump's last bytes. No I/O here:
// cli/restore-drill/run.ts feeds the bytes from the destination.
//
// Every step is synchronous, so memory stays flat whatever the file's size (as in
// open.ts: minizlib inflates during write()). The plaintext is inflated before the
// ciphertext's HMAC is known; a verdict is given only after it is checked, and a
// failed HMAC is the reason over whatever the inflating said.
import { Gunzip } from "minizlib";
import { AesCryptError, AesCryptReader } from "../../providers/formats/aescrypt";
import { DUMP_TAIL_BYTES, dumpCompleted } from "../../providers/formats/vendor-layout";

/** What opening one file found: what it proved, or why it does not open and whether the key is the cause. */
export type VendorOpened =
    | { ok: true; detail: string; plaintextBytes: number }
    | { ok: false; reason: string; wrongKey: boolean };

/** Why an AES Crypt file does not open, in the drill's words. */
export function aesCryptFailure(err: AesCryptError): VendorOpened {
    if (err.failure === "wrong-key") {
        return {
            ok: false, wrongKey: true,
            reason: `does not open with the stack's master key (${err.message}): it was made under another master key, an earlier ceremony's if the key was renewed since; this is not corruption`,
        };
    }
    return { ok: false, wrongKey: false, reason: `is not a sound AES Crypt file (${err.failure}): ${err.message}` };
}

/** Decrypts (when the file is AES Crypt) as the bytes come, handing on the plaintext. */
class Decrypting {
    private readonly reader?: AesCryptReader;
    private failure?: AesCryptError;

    constructor(encrypted: boolean, masterKey: string | undefined, private readonly onPlain: (plain: Buffer) => void) {
        if (encrypted) this.reader = new AesCryptReader(masterKey ?? "");
    }

    push(chunk: Buffer): void {
        if (this.failure) return;
        if (!this.reader) { this.onPlain(chunk); return; }
        try {
            const plain = this.reader.push(chunk);
            if (plain.length > 0) this.onPlain(plain);
        } catch (err) {
            if (!(err instanceof AesCryptError)) throw err;
            this.failure = err;
        }
    }

    /** The AES Crypt failure, if any, once the whole file was pushed: the HMAC is checked here. */
    end(): AesCryptError | undefined {
        if (this.failure || !this.reader) return this.failure;
        try {
            const plain = this.reader.end();
            if (plain.length > 0) this.onPlain(plain);
        } catch (err) {
            if (!(err instanceof AesCryptError)) throw err;
            return err;
        }
        return undefined;
    }
}

/**
 * A database dump, `.sql.gz` or `.sql.gz.aes`: it decrypts with both HMACs valid,
 * gunzips, and ends with mysqldump's completion line.
 */
export class DumpOpener {
    private readonly gunzip = new Gunzip({});
    private readonly decrypting: Decrypting;
    private tail: Buffer = Buffer.alloc(0);
    private sqlBytes = 0;
    private gzipFailure?: string;

    constructor(private readonly encrypted: boolean, masterKey?: string) {
        this.gunzip.on("data", (data: Buffer) => {
            this.sqlBytes += data.length;
            const joined = Buffer.concat([this.tail, data]);
            this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - DUMP_TAIL_BYTES)));
        });
        this.gunzip.on("error", (err: unknown) => {
            this.gzipFailure ??= String((err as Error)?.message ?? err).replace(/^zlib: /, "");
        });
        this.decrypting = new Decrypting(encrypted, masterKey, (plain) => { if (this.gzipFailure === undefined) this.gunzip.write(plain); });
    }

    push(chunk: Buffer): void {
        this.decrypting.push(chunk);
    }

    finish(): VendorOpened {
        const failed = this.decrypting.end();
        if (failed) return aesCryptFailure(failed);
        const decrypts = this.encrypted ? "decrypts with the master key, both HMACs valid, " : "not encrypted, ";
        if (this.gzipFailure === undefined) this.gunzip.end();
        if (this.gzipFailure !== undefined) return { ok: false, wrongKey: false, reason: `${decrypts}but is not a valid gzip stream: ${this.gzipFailure}` };
        if (!dumpCompleted(this.tail.toString("latin1"))) {
            return {
                ok: false, wrongKey: false,
                reason: `${decrypts}gunzips (${this.sqlBytes} bytes of SQL), but does not end with mysqldump's completion line (-- Dump completed on …): the dump was cut short`,
            };
        }
        return { ok: true, detail: `${decrypts}gunzips, ${this.sqlBytes} bytes of SQL ending with mysqldump's completion line`, plaintextBytes: this.sqlBytes };
    }
}

/**
 * Any other AES Crypt file (a secrets item, a session file): it opens with both HMACs
 * valid. A `.json` item's plaintext must be JSON too; it is held only as long as the
 * item (items are small) and overwritten after.
 */
export class ItemOpener {
    private readonly decrypting: Decrypting;
    private readonly plain: Buffer[] = [];
    private bytes = 0;

    constructor(private readonly json: boolean, masterKey: string | undefined) {
        this.decrypting = new Decrypting(true, masterKey, (p) => {
            this.bytes += p.length;
            if (this.json) this.plain.push(Buffer.from(p));
        });
    }

    push(chunk: Buffer): void {
        this.decrypting.push(chunk);
    }

    finish(): VendorOpened {
        try {
            const failed = this.decrypting.end();
            if (failed) return aesCryptFailure(failed);
            if (this.json) {
                const whole = Buffer.concat(this.plain);
                try {
                    JSON.parse(whole.toString("utf8"));
                } catch {
                    return { ok: false, wrongKey: false, reason: "decrypts with the master key, both HMACs valid, but what it holds is not JSON" };
                } finally {
                    whole.fill(0);
                }
            }
            return { ok: true, detail: `decrypts with the master key, both HMACs valid, ${this.bytes} bytes${this.json ? " of JSON" : ""}`, plaintextBytes: this.bytes };
        } finally {
            for (const p of this.plain) p.fill(0);
        }
    }
}
