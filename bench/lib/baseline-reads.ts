// What the baseline reads: for each appliance, the reads a refresh of its
// ApplianceBackup performs, written as one command each, as a program built of
// @pulumi/command remote.Commands would run them. Shared by the baseline program,
// the runner (to count them) and the engine-free reads. No ssh2 and no providers
// beyond the shell quoting, so the baseline program loads nothing of ours.
import { shellJoin } from "../../providers/transport/shell";
import type { SshLogin } from "./fleet";

/**
 * Reads a user's authorized_keys as AuthorizedKey's read does: the directory's and
 * file's mode and owner, a checksum and the content. Written for the benchmark; the
 * same kind and amount of work as the provider's read script.
 */
const AUTHORIZED_KEYS_READ = `set -eu
home=$(getent passwd "$1" | cut -d: -f6)
f="$home/.ssh/authorized_keys"
stat -c 'dir %a %U' "$(dirname "$f")"
if [ -f "$f" ]; then stat -c 'file %a %U' "$f"; sha256sum < "$f"; base64 -w0 < "$f"; echo; fi
`;

export interface ReadOperation {
    /** Which provider read this stands for, e.g. "RsyncTarget: orbit backup config show". */
    op: string;
    login: SshLogin;
    command: string;
}

/**
 * What each resource of one ApplianceBackup (rsync destination) must read on
 * refresh, one command per read, with nothing shared between resources:
 *   ApplianceRootKey -> orbit root-key show, and the host name (orbit version)
 *   AuthorizedKey    -> read authorized_keys on the backup server (sudo)
 *   RsyncTarget      -> orbit backup config show
 *   BackupPolicy     -> orbit backup config show
 *   BackupVerification reads nothing.
 * Five commands per appliance, four of them on the appliance. Our providers read
 * the same facts with 2 orbit runs per appliance and one authorized_keys read per
 * server (docs/resources.md, "Refresh reads"). Neither runs `orbit rsync test` on
 * refresh: RsyncTarget does only with testOnRefresh.
 */
export function refreshReads(appliance: SshLogin, server: SshLogin, backupUser: string): ReadOperation[] {
    const orbit = (...args: string[]) => shellJoin(["sudo", "-n", "orbit", ...args, "--json"]);
    return [
        { op: "ApplianceRootKey: orbit root-key show", login: appliance, command: orbit("root-key", "show") },
        { op: "ApplianceRootKey: orbit version", login: appliance, command: orbit("version") },
        { op: "AuthorizedKey: read authorized_keys", login: server, command: shellJoin(["sudo", "-n", "sh", "-c", AUTHORIZED_KEYS_READ, "ssb-read", backupUser]) },
        { op: "RsyncTarget: orbit backup config show", login: appliance, command: orbit("backup", "config", "show") },
        { op: "BackupPolicy: orbit backup config show", login: appliance, command: orbit("backup", "config", "show") },
    ];
}
