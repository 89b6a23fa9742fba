// OpenSSH public keys, as an authorized_keys line or a host-key pin holds them:
// parsing, the structural check of the key blob, its identity (type + blob, never
// the comment) and its SHA-256 fingerprint. Pure: no I/O.
import { createHash, createPublicKey } from "node:crypto";
import type * as Ssh2 from "ssh2";
import { z } from "zod";
import { shown } from "../rules";

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

// Tab is included: sshd accepts it between fields, but nothing we write needs it,
// and refusing it keeps "one visible line" the only shape a value can take.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function controlCharacterProblem(value: string): string | undefined {
    const match = CONTROL_CHARACTER.exec(value);
    if (!match) return undefined;
    const code = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    const name = match[0] === "\n" ? " (newline)" : match[0] === "\r" ? " (carriage return)"
        : match[0] === "\t" ? " (tab)" : match[0] === "\u0000" ? " (NUL)" : "";
    return `contains control character U+${code}${name} at position ${match.index}`;
}

/** The algorithm name stored at the start of an SSH public-key blob. */
export function blobKeyType(blob: Buffer): string | undefined {
    if (blob.length < 4) return undefined;
    const length = blob.readUInt32BE(0);
    if (length === 0 || length > 64 || blob.length < 4 + length) return undefined;
    return blob.subarray(4, 4 + length).toString("latin1");
}

export function sha256Fingerprint(blob: Buffer): string {
    return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

// ---------------------------------------------------------------------------
// Public keys
// ---------------------------------------------------------------------------

/** Key types this resource will install. */
export const SUPPORTED_KEY_TYPES = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
] as const;

export type SupportedKeyType = (typeof SUPPORTED_KEY_TYPES)[number];

/** Smallest RSA modulus accepted. OpenSSH's own floor is 1024 bits, too weak for a key that writes backups. */
export const MIN_RSA_BITS = 2048;

const SUPPORTED_TYPE_SET: ReadonlySet<string> = new Set(SUPPORTED_KEY_TYPES);

const PUBLIC_KEY_SHAPE =
    `expected one line "<type> <base64> [comment]" with <type> one of ${SUPPORTED_KEY_TYPES.join(", ")}` +
    ` (RSA at least ${MIN_RSA_BITS} bits), as in a .pub file`;

export interface ParsedPublicKey {
    type: SupportedKeyType;
    /** Canonical base64 of the key blob, exactly as it appears in the input. */
    blob: string;
    comment?: string;
    /** "SHA256:" and the unpadded base64 SHA-256 of the blob, as `ssh-keygen -l` prints it. */
    fingerprint: string;
    /** Key size as `ssh-keygen -l` reports it (RSA modulus, curve size, 256 for Ed25519). */
    bits: number;
}

/** The identity of a key in authorized_keys: its type and blob. The comment never takes part. */
export interface KeyIdentity {
    type: string;
    blob: string;
}

export class InvalidPublicKeyError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "InvalidPublicKeyError";
    }
}

export type PublicKeyCheck =
    | { ok: true; key: ParsedPublicKey }
    | { ok: false; error: string };

const OPTION_NAMES: ReadonlySet<string> = new Set([
    "agent-forwarding", "cert-authority", "command", "environment", "expiry-time", "from",
    "no-agent-forwarding", "no-port-forwarding", "no-pty", "no-touch-required", "no-user-rc",
    "no-x11-forwarding", "permitlisten", "permitopen", "port-forwarding", "principals", "pty",
    "restrict", "tunnel", "user-rc", "verify-required", "x11-forwarding",
]);

/** Reads one SSH wire-format string (uint32 length, then bytes) at `offset`. */
function readWireString(data: Buffer, offset: number): { value: Buffer; next: number } | undefined {
    if (offset + 4 > data.length) return undefined;
    const length = data.readUInt32BE(offset);
    const start = offset + 4;
    if (length > data.length - start) return undefined;
    return { value: data.subarray(start, start + length), next: start + length };
}

function wireString(value: Buffer | string): Buffer {
    const bytes = typeof value === "string" ? Buffer.from(value, "latin1") : value;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length, 0);
    return Buffer.concat([length, bytes]);
}

/**
 * ssh2 does not know the FIDO (sk-) key types. Their blob is the plain key's
 * fields plus an application string, so we peel off that string and hand the
 * plain key to ssh2 for the real structural check.
 */
function unwrapSecurityKey(type: string, blob: Buffer): { inner: Buffer } | { problem: string } {
    const truncated = { problem: `key data is truncated or malformed for ${type}` };
    const name = readWireString(blob, 0);
    if (!name) return truncated;
    let inner: Buffer;
    let offset: number;
    if (type === "sk-ssh-ed25519@openssh.com") {
        const point = readWireString(blob, name.next);
        if (!point) return truncated;
        inner = Buffer.concat([wireString("ssh-ed25519"), wireString(point.value)]);
        offset = point.next;
    } else {
        const curve = readWireString(blob, name.next);
        if (!curve) return truncated;
        if (curve.value.toString("latin1") !== "nistp256") {
            return { problem: `key data names curve ${shown(curve.value.toString("latin1"))}, but ${type} requires nistp256` };
        }
        const point = readWireString(blob, curve.next);
        if (!point) return truncated;
        inner = Buffer.concat([wireString("ecdsa-sha2-nistp256"), wireString("nistp256"), wireString(point.value)]);
        offset = point.next;
    }
    const application = readWireString(blob, offset);
    if (!application) return truncated;
    if (application.next !== blob.length) return { problem: `key data has ${blob.length - application.next} unexpected trailing bytes` };
    if (application.value.length === 0 || !/^[\x21-\x7e]+$/.test(application.value.toString("latin1"))) {
        return { problem: `key data holds an application string that is empty or not printable ASCII` };
    }
    return { inner };
}

function bitsOf(type: string, details: { modulusLength?: number; namedCurve?: string } | undefined): number | undefined {
    if (type === "ssh-rsa") return details?.modulusLength;
    if (type.includes("ed25519")) return 256;
    const curveBits: Record<string, number> = { "prime256v1": 256, "secp384r1": 384, "secp521r1": 521 };
    return details?.namedCurve !== undefined ? curveBits[details.namedCurve] : undefined;
}

export const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Validates a public key line without throwing. Use it from zod's superRefine, or
 * anywhere a bad key is an expected input rather than a bug.
 */
export function checkPublicKey(text: unknown): PublicKeyCheck {
    const fail = (problem: string): PublicKeyCheck => ({
        ok: false,
        error: `invalid SSH public key: ${problem}, but ${shown(text)} was provided; ${PUBLIC_KEY_SHAPE}`,
    });
    if (typeof text !== "string") return fail("it is not a string");
    const control = controlCharacterProblem(text);
    if (control) return fail(control);
    const trimmed = text.replace(/^ +| +$/g, "");
    if (trimmed === "") return fail("it is empty");

    const typeEnd = trimmed.indexOf(" ");
    const type = typeEnd < 0 ? trimmed : trimmed.slice(0, typeEnd);
    const afterType = typeEnd < 0 ? "" : trimmed.slice(typeEnd).replace(/^ +/, "");
    const blobEnd = afterType.indexOf(" ");
    const blob = blobEnd < 0 ? afterType : afterType.slice(0, blobEnd);
    const comment = blobEnd < 0 ? "" : afterType.slice(blobEnd).replace(/^ +/, "");

    if (!SUPPORTED_TYPE_SET.has(type)) {
        const firstOption = type.split(/[=,]/)[0]!.toLowerCase();
        if (OPTION_NAMES.has(firstOption) || type.includes('"')) {
            return fail("it starts with authorized_keys options; give only the public key and set options through the options input");
        }
        if (type === "ssh-dss") return fail("DSA (ssh-dss) keys are refused: they are limited to 1024 bits and OpenSSH disables them by default");
        if (type.endsWith("-cert-v01@openssh.com")) return fail(`certificates (${type}) are not accepted; give the plain public key`);
        return fail(`key type ${shown(type)} is not supported`);
    }
    if (blob === "") return fail("the base64 key data after the type is missing");
    // Buffer.from is lenient (skips junk, stops at stray '='), so only accept base64
    // that survives a round trip; otherwise two spellings could name one key.
    const bytes = Buffer.from(blob, "base64");
    if (!BASE64.test(blob) || blob.length % 4 !== 0 || bytes.toString("base64") !== blob) {
        return fail("the key data is not valid base64");
    }

    const embedded = readWireString(bytes, 0);
    if (!embedded) return fail("the key data is truncated: it does not even hold its key type");
    const embeddedType = embedded.value.toString("latin1");
    if (embeddedType !== type) return fail(`the key data is a ${shown(embeddedType)} key but the line says ${type}`);

    let plain: Buffer = bytes;
    if (type.startsWith("sk-")) {
        const unwrapped = unwrapSecurityKey(type, bytes);
        if ("problem" in unwrapped) return fail(unwrapped.problem);
        plain = unwrapped.inner;
    }
    const plainType = plain === bytes ? type : readWireString(plain, 0)!.value.toString("latin1");
    // Loaded on first use: a program that only declares resources never needs ssh2 (fast-start.ts).
    const parsed = (require("ssh2") as typeof Ssh2).utils.parseKey(`${plainType} ${plain.toString("base64")}`);
    if (parsed instanceof Error) return fail(`the key data is malformed for ${type} (${parsed.message})`);
    // ssh2 only checks that the embedded type starts with the declared one and
    // ignores bytes after the last field and the ECDSA curve name; re-encoding and
    // comparing closes all three gaps without parsing the blob ourselves.
    if (!parsed.getPublicSSH().equals(plain)) {
        return fail(`the key data has trailing bytes or fields that do not belong to a ${type} key`);
    }
    let details: { modulusLength?: number; namedCurve?: string } | undefined;
    try {
        details = createPublicKey(parsed.getPublicPEM()).asymmetricKeyDetails;
    } catch (error) {
        return fail(`the key material is not a valid ${type} key (${error instanceof Error ? error.message : String(error)})`);
    }
    const bits = bitsOf(type, details);
    if (bits === undefined) return fail(`the size of the ${type} key could not be determined`);
    if (type === "ssh-rsa" && bits < MIN_RSA_BITS) return fail(`the RSA key has ${bits} bits, fewer than the ${MIN_RSA_BITS} required`);

    return {
        ok: true,
        key: {
            type: type as SupportedKeyType,
            blob,
            ...(comment !== "" ? { comment } : {}),
            fingerprint: sha256Fingerprint(bytes),
            bits,
        },
    };
}

/** Parses `type base64 [comment]`; throws InvalidPublicKeyError saying what is wrong. */
export function parsePublicKey(text: string): ParsedPublicKey {
    const result = checkPublicKey(text);
    if (!result.ok) throw new InvalidPublicKeyError(result.error);
    return result.key;
}

/** A public key line as a resource input, checked the same way as parsePublicKey. */
export const PublicKeyText = z.string().superRefine((value, ctx) => {
    const result = checkPublicKey(value);
    if (!result.ok) ctx.addIssue({ code: "custom", message: result.error });
});

