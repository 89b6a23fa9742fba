// Quoting for the remote POSIX shell that sshd hands an exec request to.

const SAFE = /^[A-Za-z0-9_.\/:=@,+%-]+$/;

/** Quotes one argument so the remote shell passes it through unchanged. */
export function shellQuote(arg: string): string {
    if (arg.includes("\0")) throw new Error("a remote command argument contains a NUL byte, which no shell can pass");
    if (arg !== "" && SAFE.test(arg)) return arg;
    return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function shellJoin(argv: readonly string[]): string {
    return argv.map(shellQuote).join(" ");
}
