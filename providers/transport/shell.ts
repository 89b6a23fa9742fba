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

/**
 * The remote shell script that runs a command as root with a password, which comes
 * first on stdin (see sudoLine). The shell reads that one line itself (`read` takes
 * one byte at a time from a pipe, so the rest of stdin stays for the command),
 * hands it to `sudo -S -v` through a pipe from the `printf` builtin, then runs the
 * command with `sudo -n`, which uses the credential `-v` just cached. Both are
 * children of the one shell, never `exec`ed: without a terminal, sudo keeps that
 * credential per parent process. Why not
 * `sudo -S` on the command itself: where sudo needs no password (NOPASSWD), it
 * would not read the line, and the password would become the command's input.
 * The password is never in an argv or the environment; exit 112 means sudo
 * refused it, and its stderr says why.
 */
export const SUDO_WITH_PASSWORD_SCRIPT = `IFS= read -r p || exit 111; printf '%s\\n' "$p" | sudo -S -p '' -v || exit 112; p=; sudo -n -- "$@"`;

/**
 * The command line that runs `argv` as root. With `password`, the caller sends the
 * sudo password and a newline before anything else on stdin.
 */
export function sudoLine(argv: readonly string[], password: boolean): string {
    return password ? shellJoin(["sh", "-c", SUDO_WITH_PASSWORD_SCRIPT, "sh", ...argv]) : shellJoin(sudoArgv(argv));
}

/** Why sudo refused to run a command, read from its stderr: it wants a password, it was given a wrong one, or its policy forbids the command. */
export function sudoRefusal(stderr: string): "password" | "wrong-password" | "forbidden" | undefined {
    if (/incorrect password attempt|Sorry, try again|no password was provided/.test(stderr)) return "wrong-password";
    if (/sudo: (a password is required|a terminal is required)/.test(stderr)) return "password";
    if (/is not allowed to execute|may not run sudo|not in the sudoers file/.test(stderr)) return "forbidden";
    return undefined;
}
