// Errors that say what failed, on which host, and what to do, with a machine-readable
// kind in the manner of ssh2's `err.level`.

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
}

export class BackupProviderError extends Error {
    readonly kind: FailureKind;
    readonly host: string;
    readonly operation: string;
    readonly hint: string;
    readonly exitCode?: number;
    readonly code?: string;

    constructor(message: string, details: FailureDetails) {
        const parts = [`${details.operation} on ${details.host} failed: ${message}`];
        if (details.exitCode !== undefined) parts.push(`(exit code ${details.exitCode})`);
        const stderr = details.stderr?.trim();
        if (stderr) parts.push(`\n  stderr: ${stderr.split("\n").slice(-5).join("\n          ")}`);
        parts.push(`\n  what to do: ${details.hint}`);
        super(parts.join(" "), details.cause !== undefined ? { cause: details.cause } : undefined);
        this.name = "BackupProviderError";
        this.kind = details.kind;
        this.host = details.host;
        this.operation = details.operation;
        this.hint = details.hint;
        this.exitCode = details.exitCode;
        this.code = details.code;
    }
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
