// Errors that say what failed, on which host, why, and what to do, with a
// machine-readable kind in the manner of ssh2's `err.level`.
//
// The dynamic-provider host sends the engine only `error.message`, so everything a
// user needs goes into the message itself: the command's stderr and the chain of
// causes, redacted, not just the outermost sentence.

export type FailureKind =
    | "host-key"        // the server's host key does not match the pinned one
    | "authentication"  // the server refused our key
    | "timeout"         // dial or command took longer than allowed
    | "dns"             // the host name did not resolve
    | "socket"          // connection refused, reset or dropped
    | "protocol"        // SSH protocol failure
    | "sudo"            // sudo wants a password or refused the command
    | "command"         // a remote command failed
    | "appliance"       // orbit answered with an error
    | "concurrent-edit" // a file changed under us too many times
    | "invalid";        // bad input

/** Kinds worth another try: the network may come back, a lock may be released. */
export const RETRYABLE: ReadonlySet<FailureKind> = new Set(["timeout", "dns", "socket"]);

export interface FailureDetails {
    kind: FailureKind;
    host: string;
    operation: string;
    hint: string;
    exitCode?: number;
    stderr?: string;
    code?: string;
    cause?: unknown;
    /** Values that must never appear in the message, causes included. */
    secrets?: readonly (string | undefined)[];
}

/** The last lines of stderr worth showing; the cause is nearly always at the end. */
const STDERR_LINES = 5;
/** How deep a chain of causes is followed. */
const CAUSE_DEPTH = 5;

export class BackupProviderError extends Error {
    readonly kind: FailureKind;
    readonly host: string;
    readonly operation: string;
    /** What went wrong, without the operation, host, output and hint the message adds. */
    readonly reason: string;
    readonly hint: string;
    readonly exitCode?: number;
    /** The command's stderr, redacted. */
    readonly stderr?: string;
    readonly code?: string;

    constructor(reason: string, details: FailureDetails) {
        const secrets = details.secrets ?? [];
        super(redact(renderFailure(reason, details), secrets), details.cause !== undefined ? { cause: details.cause } : undefined);
        this.name = "BackupProviderError";
        this.kind = details.kind;
        this.host = details.host;
        this.operation = details.operation;
        this.reason = redact(reason, secrets);
        this.hint = details.hint;
        this.exitCode = details.exitCode;
        this.stderr = details.stderr === undefined ? undefined : redact(details.stderr, secrets);
        this.code = details.code;
    }
}

/** Where an error happened, to leave out of a cause what its parent already says. */
interface Place { host: string; operation: string }

/**
 * The message: the headline, the command's stderr, each cause with its own stderr,
 * then what to do. A line whose text the message already holds is left out, so
 * orbit's `orbit: <message>` on stderr does not repeat the message it also put in
 * its JSON answer, and a retry's cause does not repeat the retry's headline. Pure.
 */
function renderFailure(reason: string, details: FailureDetails): string {
    const message = new MessageBuilder(`${details.operation} on ${details.host} failed: ${reason}${exitCodeText(details.exitCode)}`);
    message.section("stderr", stderrLines(details.stderr));
    let parent: Place = details;
    for (const cause of causeChain(details.cause)) {
        if (cause instanceof BackupProviderError) {
            if (!message.holds(cause.reason)) message.section("cause", [`${placeText(cause, parent)}${cause.reason}${exitCodeText(cause.exitCode)}`]);
            message.section("stderr", stderrLines(cause.stderr));
            parent = cause;
        } else {
            message.section("cause", cause instanceof Error ? cause.message.split("\n") : [String(cause)]);
        }
    }
    message.section("what to do", [details.hint]);
    return message.text;
}

class MessageBuilder {
    constructor(public text: string) {}

    /** Appends `  <label>: <line>` and indented continuation lines, leaving out lines the text already holds. */
    section(label: string, lines: readonly string[]): void {
        const fresh = lines.map((line) => line.trim()).filter((line) => line !== "" && !this.holds(line));
        if (fresh.length === 0) return;
        const indent = " ".repeat(label.length + 4);
        this.text += `\n  ${label}: ${fresh.join(`\n${indent}`)}`;
    }

    /** Whether the text holds `line`, also once a program's `name: ` prefix (`orbit: `, `sudo: `) is taken off. */
    holds(line: string): boolean {
        if (this.text.includes(line)) return true;
        const unprefixed = line.replace(/^[\w.\/-]+: /, "");
        return unprefixed !== line && unprefixed.length >= 8 && this.text.includes(unprefixed);
    }
}

function exitCodeText(exitCode: number | undefined): string {
    return exitCode === undefined ? "" : ` (exit code ${exitCode})`;
}

/** What a cause adds to where its parent happened: "", "<operation>: " or "<operation> on <host>: ". */
function placeText(cause: Place, parent: Place): string {
    if (cause.host !== parent.host) return `${cause.operation} on ${cause.host}: `;
    return cause.operation !== parent.operation ? `${cause.operation}: ` : "";
}

function stderrLines(stderr: string | undefined): string[] {
    return (stderr ?? "").split("\n").map((line) => line.trimEnd()).filter((line) => line.trim() !== "").slice(-STDERR_LINES);
}

/** `cause`, its cause, and so on, at most CAUSE_DEPTH deep and never around a loop. */
function causeChain(cause: unknown): unknown[] {
    const chain: unknown[] = [];
    for (let next = cause; next !== undefined && next !== null && chain.length < CAUSE_DEPTH && !chain.includes(next);) {
        chain.push(next);
        next = next instanceof Error ? next.cause : undefined;
    }
    return chain;
}

/**
 * Replaces every occurrence of each secret with [secret]. Applied to anything a
 * remote host sends back before it can reach a message or a log, since a
 * misbehaving host could echo what we sent it.
 */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
    let out = text;
    for (const secret of secrets) {
        if (secret && secret.length >= 4) out = out.split(secret).join("[secret]");
    }
    return out;
}
