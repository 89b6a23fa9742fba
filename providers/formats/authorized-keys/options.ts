// The options field of an authorized_keys line (restrict, command="…", from=…):
// typed options, their rendering as sshd reads them, and parsing what a line holds.
// Pure: no I/O. Syntax follows sshd (auth-options.c) where it differs from the man page.
import { z } from "zod";
import { shown } from "../rules";
import { controlCharacterProblem } from "./key";

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
export function splitOptionItems(text: string): { items: string[] } | { problem: string } {
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

