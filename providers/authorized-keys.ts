// The pure half of the AuthorizedKey resource: it reads and plans edits to an
// OpenSSH authorized_keys file held in a string, and never touches a host. The
// resource owns exactly one line (the appliance root's key, normally confined to
// rrsync) and must leave every other line of a file that people also edit by hand
// exactly as it found it, so parsing is lossless and edits are line-local.
//
// Syntax follows sshd (auth-options.c, authfile handling) rather than the man page
// where the two differ, because sshd is what will read the file we write.
import { createHash, createPublicKey } from "node:crypto";
import type * as Ssh2 from "ssh2";
import { z } from "zod";
import { sha256Fingerprint } from "./connection";
import { shown } from "./rules";

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

// Tab is included: sshd accepts it between fields, but nothing we write needs it,
// and refusing it keeps "one visible line" the only shape a value can take.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

function controlCharacterProblem(value: string): string | undefined {
    const match = CONTROL_CHARACTER.exec(value);
    if (!match) return undefined;
    const code = match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    const name = match[0] === "\n" ? " (newline)" : match[0] === "\r" ? " (carriage return)"
        : match[0] === "\t" ? " (tab)" : match[0] === "\u0000" ? " (NUL)" : "";
    return `contains control character U+${code}${name} at position ${match.index}`;
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

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

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

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

export class InvalidOptionsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "InvalidOptionsError";
    }
}

// sshd's dequoting only turns \" into "; every other backslash is literal. So a
// value can hold backslashes freely, except as its last character, where the
// closing quote would be read as an escaped one and the line would break.
function quotedValueProblem(value: string): string | undefined {
    const control = controlCharacterProblem(value);
    if (control) return control;
    if (value.endsWith("\\")) return "ends with a backslash, which sshd would read together with the closing quote as an escaped quote";
    return undefined;
}

function checkCommand(value: string): string | undefined {
    if (value.trim() === "") return `must be a non-empty command, but ${shown(value)} was provided`;
    const problem = quotedValueProblem(value);
    return problem ? `${problem}, but ${shown(value)} was provided; a command is one line of printable text` : undefined;
}

const FROM_PATTERN = /^!?[A-Za-z0-9.:*?/_%\[\]-]+$/;

function checkFromPattern(value: string): string | undefined {
    if (FROM_PATTERN.test(value)) return undefined;
    return `must be one host or address pattern (letters, digits and . : * ? / _ % [ ] -, optionally preceded by !),` +
        ` without spaces, quotes, commas or control characters, but ${shown(value)} was provided`;
}

const HOST_PART = String.raw`(?:\*|[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])`;
const PERMIT_OPEN = new RegExp(`^${HOST_PART}:(\\*|[0-9]{1,5})$`);
const PERMIT_LISTEN = new RegExp(`^(?:${HOST_PART}:)?(\\*|[0-9]{1,5})$`);

function portProblem(port: string | undefined): boolean {
    return port !== undefined && port !== "*" && (Number(port) < 1 || Number(port) > 65535);
}

function checkPermitOpen(value: string): string | undefined {
    const match = PERMIT_OPEN.exec(value);
    if (match && !portProblem(match[1])) return undefined;
    return `must be host:port (host a name, an address, [IPv6] or *; port 1-65535 or *), but ${shown(value)} was provided`;
}

function checkPermitListen(value: string): string | undefined {
    const match = PERMIT_LISTEN.exec(value);
    if (match && !portProblem(match[1])) return undefined;
    return `must be [host:]port (host a name, an address, [IPv6] or *; port 1-65535 or *), but ${shown(value)} was provided`;
}

function checkEnvironment(value: string): string | undefined {
    // sshd accepts only alphanumeric names; even '_' makes it reject the whole line.
    if (!/^[A-Za-z0-9]+=/.test(value)) {
        return `must be NAME=value with NAME made of letters and digits only (sshd refuses others, even '_'), but ${shown(value)} was provided`;
    }
    const problem = quotedValueProblem(value);
    return problem ? `${problem}, but ${shown(value)} was provided` : undefined;
}

function checkExpiryTime(value: string): string | undefined {
    const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?Z?$/.exec(value);
    const ok = match !== null
        && Number(match[2]) >= 1 && Number(match[2]) <= 12
        && Number(match[3]) >= 1 && Number(match[3]) <= 31
        && (match[4] === undefined || Number(match[4]) <= 23)
        && (match[5] === undefined || Number(match[5]) <= 59)
        && (match[6] === undefined || Number(match[6]) <= 59);
    return ok ? undefined
        : `must be YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z for UTC, but ${shown(value)} was provided`;
}

/** Splits an options field on the commas sshd would split on, honouring quotes. */
function splitOptionItems(text: string): { items: string[] } | { problem: string } {
    const items: string[] = [];
    let quoted = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (c === "\\" && text[i + 1] === '"') {
            i++;
        } else if (c === '"') {
            quoted = !quoted;
        } else if (!quoted && (c === " " || c === "\t")) {
            return { problem: `has whitespace outside quotes at position ${i}, which would end the options there` };
        } else if (!quoted && c === ",") {
            items.push(text.slice(start, i));
            start = i + 1;
        }
    }
    if (quoted) return { problem: "has an unterminated quote" };
    items.push(text.slice(start));
    return { items };
}

function checkRawOption(value: string): string | undefined {
    const control = controlCharacterProblem(value);
    const split = control === undefined ? splitOptionItems(value) : undefined;
    const problem = control ?? (split && "problem" in split ? split.problem
        : split && split.items.length !== 1 ? "holds more than one option (an unquoted comma)"
        : value === "" ? "is empty" : undefined);
    return problem ? `${problem}, but ${shown(value)} was provided; each entry must be one complete option such as tunnel="0"` : undefined;
}

function checked(check: (value: string) => string | undefined) {
    return z.string().superRefine((value, ctx) => {
        const problem = check(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    });
}

// Field name and sshd spelling of each flag, in the order they are rendered.
const FLAGS = [
    ["noAgentForwarding", "no-agent-forwarding"],
    ["noPortForwarding", "no-port-forwarding"],
    ["noPty", "no-pty"],
    ["noUserRc", "no-user-rc"],
    ["noX11Forwarding", "no-X11-forwarding"],
    ["agentForwarding", "agent-forwarding"],
    ["portForwarding", "port-forwarding"],
    ["pty", "pty"],
    ["userRc", "user-rc"],
    ["x11Forwarding", "X11-forwarding"],
] as const;

type FlagField = (typeof FLAGS)[number][0];

const FLAG_BY_NAME: ReadonlyMap<string, FlagField> = new Map(FLAGS.map(([field, name]) => [name.toLowerCase(), field]));

/**
 * The options of an authorized_keys line. Flags left out or false are not written.
 * `pty`, `portForwarding` and the like re-enable what `restrict` turned off.
 * `other` carries options this model does not type, verbatim, so that reading a
 * line back never drops anything.
 */
export const AuthorizedKeyOptions = z.strictObject({
    restrict: z.boolean().default(false),
    noAgentForwarding: z.boolean().optional(),
    noPortForwarding: z.boolean().optional(),
    noPty: z.boolean().optional(),
    noUserRc: z.boolean().optional(),
    noX11Forwarding: z.boolean().optional(),
    agentForwarding: z.boolean().optional(),
    portForwarding: z.boolean().optional(),
    pty: z.boolean().optional(),
    userRc: z.boolean().optional(),
    x11Forwarding: z.boolean().optional(),
    from: z.array(checked(checkFromPattern)).min(1, "must list at least one pattern when given").optional(),
    permitOpen: z.array(checked(checkPermitOpen)).optional(),
    permitListen: z.array(checked(checkPermitListen)).optional(),
    environment: z.array(checked(checkEnvironment)).optional(),
    expiryTime: checked(checkExpiryTime).optional(),
    command: checked(checkCommand).optional(),
    other: z.array(checked(checkRawOption)).optional(),
}).superRefine((options, ctx) => {
    const pairs = [
        ["noAgentForwarding", "agentForwarding"], ["noPortForwarding", "portForwarding"],
        ["noPty", "pty"], ["noUserRc", "userRc"], ["noX11Forwarding", "x11Forwarding"],
    ] as const;
    for (const [off, on] of pairs) {
        if (options[off] && options[on]) {
            ctx.addIssue({ code: "custom", path: [on], message: `cannot be set together with ${off}; choose one` });
        }
    }
});

/** Options after defaults are applied, as renderOptions writes and parseOptions returns them. */
export type AuthorizedKeyOptions = z.output<typeof AuthorizedKeyOptions>;
/** Options as a caller may write them (restrict may be left out). */
export type AuthorizedKeyOptionsInput = z.input<typeof AuthorizedKeyOptions>;
export type ParsedOptions = AuthorizedKeyOptions;

function quote(value: string): string {
    return `"${value.replace(/"/g, '\\"')}"`;
}

function issuesText(error: z.ZodError): string {
    return error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "options"}: ${issue.message}`).join("; ");
}

/** Validates options, throwing InvalidOptionsError that names each bad field. */
export function validateOptions(options: AuthorizedKeyOptionsInput): AuthorizedKeyOptions {
    const result = AuthorizedKeyOptions.safeParse(options);
    if (!result.success) throw new InvalidOptionsError(`invalid authorized_keys options: ${issuesText(result.error)}`);
    return result.data;
}

/**
 * Renders options in one canonical order, so two option sets mean the same
 * thing exactly when they render the same. Quotes inside values are written as
 * \" (the only escape sshd knows); backslashes are written as they are.
 */
export function renderOptions(options: AuthorizedKeyOptionsInput): string {
    const o = validateOptions(options);
    const parts: string[] = [];
    if (o.restrict) parts.push("restrict");
    for (const [field, name] of FLAGS) if (o[field]) parts.push(name);
    if (o.from) parts.push(`from=${quote(o.from.join(","))}`);
    for (const value of o.permitOpen ?? []) parts.push(`permitopen=${quote(value)}`);
    for (const value of o.permitListen ?? []) parts.push(`permitlisten=${quote(value)}`);
    for (const value of o.environment ?? []) parts.push(`environment=${quote(value)}`);
    if (o.expiryTime !== undefined) parts.push(`expiry-time=${quote(o.expiryTime)}`);
    if (o.command !== undefined) parts.push(`command=${quote(o.command)}`);
    parts.push(...(o.other ?? []));
    return parts.join(",");
}

/** The value of `"..."` when the quoted string is the whole of `text`, as sshd dequotes it. */
function dequoteWhole(text: string): string | undefined {
    if (!text.startsWith('"')) return undefined;
    let value = "";
    let i = 1;
    while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && text[i + 1] === '"') i++;
        value += text[i];
        i++;
    }
    return i === text.length - 1 ? value : undefined;
}

/**
 * Parses an options field (the part before the key type). Names match without
 * regard to case, as in sshd. Anything that does not map onto a typed field
 * without loss (unknown options, a second command, a value our rules would
 * refuse) lands verbatim in `other`. Throws InvalidOptionsError only when the
 * text cannot be split into options at all.
 */
export function parseOptions(text: string): ParsedOptions {
    const split = splitOptionItems(text);
    if ("problem" in split) throw new InvalidOptionsError(`cannot parse authorized_keys options: the text ${split.problem}, but ${shown(text)} was provided`);
    const options: ParsedOptions = { restrict: false };
    const other: string[] = [];
    const list = (field: "from" | "permitOpen" | "permitListen" | "environment") => (options[field] ??= []);
    for (const item of split.items) {
        if (item === "") continue; // sshd skips empty items between commas
        const equals = item.indexOf("=");
        const name = (equals < 0 ? item : item.slice(0, equals)).toLowerCase();
        if (equals < 0) {
            const flag = FLAG_BY_NAME.get(name);
            if (name === "restrict") options.restrict = true;
            else if (flag !== undefined) options[flag] = true;
            else other.push(item);
            continue;
        }
        const value = dequoteWhole(item.slice(equals + 1));
        let typed = false;
        if (value !== undefined) {
            if (name === "command" && options.command === undefined && !checkCommand(value)) {
                options.command = value;
                typed = true;
            } else if (name === "from" && options.from === undefined && value.split(",").every((p) => !checkFromPattern(p))) {
                options.from = value.split(",");
                typed = true;
            } else if (name === "expiry-time" && options.expiryTime === undefined && !checkExpiryTime(value)) {
                options.expiryTime = value;
                typed = true;
            } else if (name === "permitopen" && !checkPermitOpen(value)) {
                list("permitOpen").push(value);
                typed = true;
            } else if (name === "permitlisten" && !checkPermitListen(value)) {
                list("permitListen").push(value);
                typed = true;
            } else if (name === "environment" && !checkEnvironment(value)) {
                list("environment").push(value);
                typed = true;
            }
        }
        if (!typed) other.push(item);
    }
    if (other.length > 0) options.other = other;
    return options;
}

/**
 * Drops flags that are off and empty lists, so equal meanings compare equal.
 * It does not validate, so it also works on whatever parseOptions read back.
 */
export function normalizeOptions(options: AuthorizedKeyOptionsInput): AuthorizedKeyOptions {
    const out: Record<string, unknown> = { restrict: false };
    for (const [key, value] of Object.entries(options)) {
        if (value === undefined || (value === false && key !== "restrict") || (Array.isArray(value) && value.length === 0)) continue;
        out[key] = value;
    }
    return out as AuthorizedKeyOptions;
}

const RRSYNC_DIRECTORY = /^\/[A-Za-z0-9._\/-]*$/;

/**
 * What the appliance's root key may do on the backup server: nothing but
 * rsync writes into `path`. rrsync's -absolute lets the appliance name the
 * destination by the same absolute path it is configured with; without it
 * rrsync would read that path as relative to `path` itself. -no-lock: rrsync's
 * single-run lock (a convenience, not a control) holds the whole directory, so a
 * fleet whose appliances back up at the same hour would lose all pushes but one;
 * each appliance writes its own backup/<kind>/<id>/ tree, so they do not collide.
 */
export function defaultBackupOptions(path: string): AuthorizedKeyOptions {
    const problems: string[] = [];
    if (typeof path !== "string" || !RRSYNC_DIRECTORY.test(path)) {
        problems.push("must be an absolute path of letters, digits, '.', '_', '-' and '/'");
    } else {
        if (path === "/") problems.push("must not be '/', which would let the key write anywhere");
        if (path.split("/").some((segment) => segment === "." || segment === "..")) problems.push("must not contain '.' or '..' segments");
        if (path.includes("//")) problems.push("must not contain '//'");
        if (path.length > 1 && path.endsWith("/")) problems.push("must not end with '/'");
    }
    if (problems.length > 0) {
        throw new InvalidOptionsError(`backup directory ${problems.join("; ")}, but ${shown(path)} was provided`);
    }
    // The command reaches a shell via sshd, which is why the path's character set is so narrow.
    return { restrict: true, command: `rrsync -wo -no-lock -absolute ${path}` };
}

// ---------------------------------------------------------------------------
// authorized_keys files
// ---------------------------------------------------------------------------

export type LineEnding = "\n" | "\r\n" | "";

interface LineBase {
    /** 1-based, for messages. */
    lineNumber: number;
    /** The line exactly as in the file, terminator included. */
    raw: string;
    /** The line without its terminator. */
    text: string;
    eol: LineEnding;
}

export interface BlankLine extends LineBase { kind: "blank" }
export interface CommentLine extends LineBase { kind: "comment" }
export interface KeyLine extends LineBase {
    kind: "key";
    /** The options field as written, when there is one. */
    optionsText?: string;
    options?: ParsedOptions;
    type: string;
    blob: string;
    comment?: string;
}
/** A line sshd would skip; kept so that it survives every edit untouched. */
export interface UnparseableLine extends LineBase { kind: "unparseable"; reason: string }

export type AuthorizedKeysLine = BlankLine | CommentLine | KeyLine | UnparseableLine;

// Every key type name sshd recognises at the start of a line, including ones we
// refuse to install: a line that starts with one of these is not an options field.
const LINE_KEY_TYPES: ReadonlySet<string> = new Set([
    ...SUPPORTED_KEY_TYPES,
    "ssh-dss",
    "ssh-xmss@openssh.com",
    ...["ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519", "sk-ecdsa-sha2-nistp256", "ssh-xmss"].map((t) => `${t}-cert-v01@openssh.com`),
]);

function skipBlanks(text: string, index: number): number {
    while (index < text.length && (text[index] === " " || text[index] === "\t")) index++;
    return index;
}

function tokenEnd(text: string, index: number): number {
    while (index < text.length && text[index] !== " " && text[index] !== "\t") index++;
    return index;
}

/** Where sshd's options field ends: the first blank outside quotes, or -1 for an open quote. */
function optionsEnd(text: string, index: number): number {
    let quoted = false;
    for (; index < text.length; index++) {
        const c = text[index];
        if (!quoted && (c === " " || c === "\t")) break;
        if (c === "\\" && text[index + 1] === '"') index++;
        else if (c === '"') quoted = !quoted;
    }
    return quoted ? -1 : index;
}

function classifyLine(text: string): Omit<BlankLine, keyof LineBase> | Omit<CommentLine, keyof LineBase>
    | Omit<KeyLine, keyof LineBase> | Omit<UnparseableLine, keyof LineBase> {
    let i = skipBlanks(text, 0);
    if (i === text.length) return { kind: "blank" };
    if (text[i] === "#") return { kind: "comment" };

    let optionsText: string | undefined;
    let end = tokenEnd(text, i);
    if (!LINE_KEY_TYPES.has(text.slice(i, end))) {
        const optionsStop = optionsEnd(text, i);
        if (optionsStop < 0) return { kind: "unparseable", reason: "unterminated quote in the options" };
        optionsText = text.slice(i, optionsStop);
        i = skipBlanks(text, optionsStop);
        end = tokenEnd(text, i);
    }
    const type = text.slice(i, end);
    if (!LINE_KEY_TYPES.has(type)) {
        return { kind: "unparseable", reason: type === "" ? "no key type after the options" : `unknown key type ${shown(type)}` };
    }
    i = skipBlanks(text, end);
    end = tokenEnd(text, i);
    // sshd's base64 decoder skips whitespace, so a stray CR on an unterminated
    // last line still leaves a valid key; it must still match our identity.
    const blob = text.slice(i, end).replace(/\r+$/, "");
    if (blob === "" || !BASE64.test(blob)) return { kind: "unparseable", reason: "missing or invalid base64 key data" };
    const comment = text.slice(skipBlanks(text, end)).replace(/[ \t\r]+$/, "");

    let options: ParsedOptions | undefined;
    if (optionsText !== undefined) {
        try {
            options = parseOptions(optionsText);
        } catch (error) {
            return { kind: "unparseable", reason: error instanceof Error ? error.message : String(error) };
        }
    }
    return {
        kind: "key",
        ...(optionsText !== undefined ? { optionsText, options } : {}),
        type,
        blob,
        ...(comment !== "" ? { comment } : {}),
    };
}

/**
 * Splits a file into classified lines such that
 * `lines.map((l) => l.raw).join("") === content` always holds. Only "\n" ends a
 * line, as for sshd; a "\r" before it is part of the terminator, any other "\r"
 * is content. Byte fidelity depends on the caller decoding the file losslessly.
 */
export function parseAuthorizedKeys(content: string): AuthorizedKeysLine[] {
    const lines: AuthorizedKeysLine[] = [];
    let start = 0;
    while (start < content.length) {
        const newline = content.indexOf("\n", start);
        const stop = newline < 0 ? content.length : newline + 1;
        const raw = content.slice(start, stop);
        const eol: LineEnding = newline < 0 ? "" : raw.endsWith("\r\n") ? "\r\n" : "\n";
        const text = raw.slice(0, raw.length - eol.length);
        lines.push({ lineNumber: lines.length + 1, raw, text, eol, ...classifyLine(text) } as AuthorizedKeysLine);
        start = stop;
    }
    return lines;
}

function identityBytes(identity: KeyIdentity): Buffer {
    return Buffer.from(identity.blob, "base64");
}

function matcher(identity: KeyIdentity): (line: AuthorizedKeysLine) => line is KeyLine {
    const bytes = identityBytes(identity);
    // Compare decoded bytes: the same key can be spelled with or without padding.
    return (line): line is KeyLine =>
        line.kind === "key" && line.type === identity.type
        && (line.blob === identity.blob || Buffer.from(line.blob, "base64").equals(bytes));
}

function assertIdentity(identity: KeyIdentity): void {
    if (typeof identity?.type !== "string" || !LINE_KEY_TYPES.has(identity.type)) {
        throw new InvalidPublicKeyError(`invalid key identity: type ${shown(identity?.type)} is not an SSH key type`);
    }
    if (typeof identity.blob !== "string" || !BASE64.test(identity.blob) || identityBytes(identity).length === 0) {
        throw new InvalidPublicKeyError(`invalid key identity: blob ${shown(identity.blob)} is not base64 key data`);
    }
}

/** The line ending most of the file's lines use; "\n" on a tie or an empty file. */
export function dominantLineEnding(lines: readonly AuthorizedKeysLine[]): "\n" | "\r\n" {
    let crlf = 0;
    let lf = 0;
    for (const line of lines) {
        if (line.eol === "\r\n") crlf++;
        else if (line.eol === "\n") lf++;
    }
    return crlf > lf ? "\r\n" : "\n";
}

/** The state the resource wants for its one key. Removal needs only the key's identity. */
export type DesiredAuthorizedKey =
    | {
        state: "present";
        key: KeyIdentity;
        /** Rendered options (see renderOptions); "" for none. */
        options: string;
        comment?: string;
    }
    | { state: "absent"; key: KeyIdentity };

export interface AuthorizedKeysEditPlan {
    content: string;
    changed: boolean;
    /**
     * "replace" also covers the case where the managed line was already right
     * and only duplicates were dropped; `changed` is false exactly when "none".
     */
    action: "none" | "add" | "replace" | "remove";
    /** Lines with the same identity beyond the first that were removed. */
    duplicatesRemoved: number;
}

/** The managed line as it will be written, without terminator. Throws on anything sshd would misread. */
export function renderAuthorizedKeyLine(desired: { key: KeyIdentity; options: string; comment?: string }): string {
    const key = parsePublicKey(`${desired.key.type} ${desired.key.blob}`);
    if (desired.options !== "") {
        const control = controlCharacterProblem(desired.options);
        const split = control === undefined ? splitOptionItems(desired.options) : undefined;
        const problem = control ?? (split && "problem" in split ? split.problem : undefined);
        if (problem) {
            throw new InvalidOptionsError(`invalid rendered options: the text ${problem}, but ${shown(desired.options)} was provided; use renderOptions to build it`);
        }
    }
    if (desired.comment !== undefined) {
        const control = controlCharacterProblem(desired.comment);
        if (control) {
            throw new InvalidPublicKeyError(`invalid key comment: it ${control}, but ${shown(desired.comment)} was provided; a comment is one line of printable text`);
        }
    }
    const comment = desired.comment?.trim();
    const line = `${desired.options !== "" ? `${desired.options} ` : ""}${key.type} ${key.blob}${comment ? ` ${comment}` : ""}`;
    // Read our own line back: if it does not come back as the same key, options and
    // comment, the next plan would not recognise it and would add it again.
    const reread = classifyLine(line);
    if (reread.kind !== "key" || reread.type !== key.type || reread.blob !== key.blob
        || (reread.optionsText ?? "") !== desired.options || (reread.comment ?? "") !== (comment ?? "")) {
        throw new InvalidOptionsError(`invalid rendered options: the line would not read back as written, but options ${shown(desired.options)} were provided; use renderOptions to build them`);
    }
    return line;
}

/**
 * Plans the edit that brings `content` to the desired state, touching only lines
 * that carry the managed key (identified by type and blob, never the comment).
 * Adding appends one line, in the file's dominant line ending, after first
 * terminating an unterminated last line; replacing rewrites the first matching
 * line in place and drops later duplicates; removing drops every matching line.
 */
export function planAuthorizedKeysEdit(content: string, desired: DesiredAuthorizedKey): AuthorizedKeysEditPlan {
    assertIdentity(desired.key);
    const lines = parseAuthorizedKeys(content);
    const isManaged = matcher(desired.key);
    const matches = lines.filter(isManaged);

    if (desired.state === "absent") {
        if (matches.length === 0) return { content, changed: false, action: "none", duplicatesRemoved: 0 };
        const kept = lines.filter((line) => !isManaged(line));
        const last = lines[lines.length - 1];
        // An unterminated managed last line took over the file's "no final newline"
        // shape when it was added; give that shape back to the line now last.
        const raws = kept.map((line) => line.raw);
        // After an add to such a file the line before ours is never blank, so a blank
        // line keeps its terminator (dropping it would delete the line).
        if (last && isManaged(last) && last.eol === "" && kept.length > 0 && kept[kept.length - 1]!.text !== "") {
            const tail = kept[kept.length - 1]!;
            raws[raws.length - 1] = tail.text;
        }
        return {
            content: raws.join(""),
            changed: true,
            action: "remove",
            duplicatesRemoved: matches.length - 1,
        };
    }

    const wanted = renderAuthorizedKeyLine(desired);
    if (matches.length === 0) {
        const eol = dominantLineEnding(lines);
        // A file without a final newline keeps that shape: the new line goes last, unterminated.
        if (content !== "" && !content.endsWith("\n")) {
            return { content: `${content}${eol}${wanted}`, changed: true, action: "add", duplicatesRemoved: 0 };
        }
        return { content: `${content}${wanted}${eol}`, changed: true, action: "add", duplicatesRemoved: 0 };
    }

    const first = matches[0]!;
    const next = lines
        .filter((line) => line === first || !isManaged(line))
        .map((line) => (line === first ? wanted + line.eol : line.raw))
        .join("");
    const changed = next !== content;
    return { content: next, changed, action: changed ? "replace" : "none", duplicatesRemoved: matches.length - 1 };
}

export interface ManagedEntry {
    present: boolean;
    lineNumber?: number;
    /** The managed line without terminator. */
    line?: string;
    /** Parsed options; `{ restrict: false }` when the line has none. */
    options?: ParsedOptions;
    /** The options field as written; "" when the line has none. */
    optionsText?: string;
    comment?: string;
    /** Further lines with the same identity, beyond the first. */
    duplicates: number;
}

/** Reads the first line carrying the key, for the resource's read and drift detection. */
export function readManagedEntry(content: string, identity: KeyIdentity): ManagedEntry {
    assertIdentity(identity);
    const matches = parseAuthorizedKeys(content).filter(matcher(identity));
    const first = matches[0];
    if (!first) return { present: false, duplicates: 0 };
    return {
        present: true,
        lineNumber: first.lineNumber,
        line: first.text,
        optionsText: first.optionsText ?? "",
        options: first.options ?? { restrict: false },
        ...(first.comment !== undefined ? { comment: first.comment } : {}),
        duplicates: matches.length - 1,
    };
}

/** Hex SHA-256 of the file as read, for the caller's compare-and-swap write. */
export function sha256Hex(content: string | Uint8Array): string {
    return createHash("sha256").update(content).digest("hex");
}
