// The pure half of the AuthorizedKey resource: it reads and plans edits to an
// OpenSSH authorized_keys file held in a string, and never touches a host. The
// resource owns exactly one line (the appliance root's key, normally confined to
// rrsync) and must leave every other line of a file that people also edit by hand
// exactly as it found it, so parsing is lossless and edits are line-local.
//
// Syntax follows sshd (auth-options.c, authfile handling) rather than the man page
// where the two differ, because sshd is what will read the file we write.
import { createHash } from "node:crypto";
import { shown } from "../rules";
import { BASE64, controlCharacterProblem, InvalidPublicKeyError, type KeyIdentity, parsePublicKey, SUPPORTED_KEY_TYPES } from "./key";
import { InvalidOptionsError, type ParsedOptions, parseOptions, splitOptionItems } from "./options";

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
