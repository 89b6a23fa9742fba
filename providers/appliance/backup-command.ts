// The verification backup's command line, one per driver: the @pulumi/command
// resource that runs it (components/verification-backup.ts) builds no orbit
// command itself. Pure.
import { shellQuote, sudoLine } from "../transport/shell";
import type { DriverName } from "./driver";

/** What the bound adds for sudo and orbit to stop after SIGTERM before SIGKILL. */
export const KILL_AFTER_SEC = 30;

/** The exit code of a vendor backup that exited 0 without the success line, or with an ERROR line. */
export const BACKUP_NOT_PROVEN = 65;

/** The vendor's prompt, answered on stdin (`orbit backup create` documents no --force). */
const CONFIRM = "y\n";

function checkTimeout(timeoutSec: number): void {
    if (!Number.isInteger(timeoutSec) || timeoutSec < 10 || timeoutSec > 86_400) {
        throw new Error(`backupTimeoutSec must be a whole number of seconds from 10 to 86400, but ${JSON.stringify(timeoutSec)} was provided`);
    }
}

/**
 * The command line. pulumi-command cannot stop a running session, so coreutils
 * `timeout` on the appliance bounds the backup. On failure the engine shows the
 * command's output: orbit's own, then one line that names the appliance and what
 * to do. `target` is quoted, never interpreted, by the remote shell.
 *
 * contract: `orbit backup create --json`, whose JSON report is stdout.
 * vendor: `orbit backup create`, its prompt answered on stdin; success is exit 0,
 * the `… backup successfully performed` line and no ERROR line (exit 65 otherwise),
 * and stdout is its log lines, which BackupVerification reads.
 */
export function verificationCommand(driver: DriverName, timeoutSec: number, target: string, withSudoPassword: boolean): string {
    checkTimeout(timeoutSec);
    const hint = (extra: string) => `senhasegura-backup: the verification backup on %s failed (exit %s; 124 means it ran past ${timeoutSec} s and was stopped${extra}). `
        + "what to do: read /var/log/orbinibkp.log on the appliance and fix what it names (often the destination); "
        + "the next pulumi up runs the backup again\n";
    const bounded = (argv: readonly string[]) => `timeout -k ${KILL_AFTER_SEC} ${timeoutSec} ${sudoLine(argv, withSudoPassword)}`;
    if (driver === "contract") {
        return `${bounded(["orbit", "backup", "create", "--json"])} || { rc=$?; printf ${shellQuote(hint(""))} ${shellQuote(target)} "$rc" >&2; exit "$rc"; }`;
    }
    const notProven = `; ${BACKUP_NOT_PROVEN} means orbit exited 0 without its success line, or printed an ERROR line`;
    return [
        `out=$(${bounded(["orbit", "backup", "create"])} 2>&1); rc=$?`,
        `printf '%s\\n' "$out"`,
        `if [ "$rc" = 0 ]; then printf '%s\\n' "$out" | grep -q 'backup successfully performed$' || rc=${BACKUP_NOT_PROVEN}; `
            + `printf '%s\\n' "$out" | grep -Eq '^\\[[^]]+\\]: .* (ERROR|CRITICAL|FATAL) ' && rc=${BACKUP_NOT_PROVEN}; fi`,
        `[ "$rc" = 0 ] || { printf ${shellQuote(hint(notProven))} ${shellQuote(target)} "$rc" >&2; exit "$rc"; }`,
    ].join("\n");
}

/** What goes on the verification backup's stdin: the sudo password first when one is configured, then the vendor prompt's answer. */
export function verificationStdin(driver: DriverName, sudoPassword: string | undefined): string | undefined {
    const text = `${sudoPassword === undefined ? "" : `${sudoPassword}\n`}${driver === "vendor" ? CONFIRM : ""}`;
    return text === "" ? undefined : text;
}
