// The command lines the remote POSIX shell runs (sshd hands it every exec request):
// quoting, and how a command runs as root.

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

/**
 * How a command runs as root: `-n` makes sudo fail at once where it would ask for a
 * password (nothing here ever types one), and `--` ends sudo's options, so no
 * argument of the command is read as one.
 */
export function sudoArgv(argv: readonly string[]): string[] {
    return ["sudo", "-n", "--", ...argv];
}

/** Why sudo refused to run a command, read from its stderr: it wants a password, or its policy forbids the command. */
export function sudoRefusal(stderr: string): "password" | "forbidden" | undefined {
    if (/sudo: (a password is required|a terminal is required)/.test(stderr)) return "password";
    if (/is not allowed to execute|may not run sudo|not in the sudoers file/.test(stderr)) return "forbidden";
    return undefined;
}
