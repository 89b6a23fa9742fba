// The peers benchmark's @pulumi/command peer: the program a user of remote.Command
// writes to CONFIGURE the fleet of bench/peers/spec.ts, and to check it for drift.
//
// Configure: per appliance, one remote.Command per orbit setting (root key, rsync target,
// the three backup kinds, hour, notifications, destination; appliance 0 also its CIFS and
// NFS partitions), and per appliance one command on the backup server that puts the
// appliance's root key line into authorized_keys (an idempotent replace, under flock,
// chmod 600, through sudo as the admin user). Every command's `triggers` hold the desired
// values and `runId`: remote.Command has no read, so the only way to repair is to run the
// commands again, `pulumi up --config runId=<new>`.
//
// Check (only when `checkRunId` is set): per appliance one command that runs
// `orbit backup config show --json` and compares it with the desired values in jq (the
// lab hosts have jq), and one command on the backup server that checks every key line
// and the file's mode. Each exits 1 with one `[tag] message` line per difference, which
// fails the `up`. Re-run them with `pulumi up --config checkRunId=<new>`.
//
// Host keys are pinned (connection.hostKey). The master password and the CIFS password
// go on stdin and are secrets; private keys are secrets read from the lab's key files.
import * as command from "@pulumi/command";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { readLabDescription } from "../../../lab/description";
import { CIFS_PARTITION_ID, NFS_PARTITION_ID, type PeerLab, desiredFleet, keyOptions } from "../../peers/spec";
import { labKeySecret } from "../../lib/lab-key";

const cfg = new pulumi.Config();
const count = cfg.requireNumber("count");
const lab: PeerLab = readLabDescription(cfg.require("labFile"));
const fleet = desiredFleet(lab, count);
const masterPassword = cfg.requireSecret("masterPassword");
const runId = cfg.get("runId") ?? "initial";
const checkRunId = cfg.get("checkRunId");

/** Quotes one word for the remote shell. */
const q = (s: string | number) => (/^[A-Za-z0-9._\/:=@%+-]+$/.test(String(s)) ? String(s) : `'${String(s).replace(/'/g, "'\\''")}'`);
const orbit = (...args: (string | number)[]) => ["sudo", "-n", "orbit", ...args, "--json"].map(q).join(" ");


type Login = { host: string; port: number; user: string; hostKey: string; privateKeyPath: string };
function connection(l: Login): command.types.input.remote.ConnectionArgs {
    // hostKey pinned: without it pulumi-command accepts any host key.
    return { host: l.host, port: l.port, user: l.user, hostKey: l.hostKey, privateKey: labKeySecret(l.privateKeyPath) };
}
const server = fleet.server;
const serverLogin: Login = { host: server.host, port: server.port, user: server.adminUser, hostKey: server.hostKey, privateKeyPath: server.adminPrivateKeyPath };
const cifsPassword = pulumi.secret(fs.readFileSync(lab.cifs.passwordPath, "utf8").split("\n")[0]);

const quiet = { logging: "none" as const, addPreviousOutputInEnv: false };

// Replaces the appliance's key line in authorized_keys (or adds it), atomically, under a
// lock so that the fleet's N commands, which run at once, do not lose each other's lines.
const PUT_KEY = `set -eu
user=$1; blob=$2; line=$3
home=$(getent passwd "$user" | cut -d: -f6)
f="$home/.ssh/authorized_keys"
mkdir -p "$home/.ssh"
exec 9>"$home/.ssh/.peer-lock"
flock 9
tmp=$(mktemp "$f.XXXXXX")
if [ -f "$f" ]; then grep -v -F -- "$blob" "$f" >"$tmp" || true; fi
printf '%s\\n' "$line" >>"$tmp"
chown "$user": "$tmp"
chmod 600 "$tmp"
mv "$tmp" "$f"
`;

// Checks every wanted key line (stdin, one per line) and the file's mode.
const CHECK_KEYS = `set -eu
user=$1
home=$(getent passwd "$user" | cut -d: -f6)
f="$home/.ssh/authorized_keys"
out=""
if [ ! -f "$f" ]; then echo "[key-file] $f is missing" >&2; exit 1; fi
mode=$(stat -c %a "$f")
[ "$mode" = 600 ] || out="$out[key-mode] $f mode is $mode, want 600
"
while IFS= read -r want; do
  [ -n "$want" ] || continue
  name=\${want##* }; blob=$(printf '%s' "$want" | awk '{print $(NF-1)}')
  if grep -qxF -- "$want" "$f"; then continue; fi
  if grep -qF -- "$blob" "$f"; then out="$out[key-options:$name] the key line of $name has other options
"; else out="$out[key-missing:$name] the key line of $name is missing
"; fi
done
if [ -n "$out" ]; then printf 'drift on the backup server:\\n%s' "$out" >&2; exit 1; fi
echo "backup server: no drift"
`;

// The desired values as jq sees them, compared with config show; one line per difference.
const CHECK_CONFIG_JQ = `
  ($want.rsync) as $r |
  [ (if .rsync != $r then "[rsync] rsync target is \\(.rsync|tojson), want \\($r|tojson)" else empty end),
    (if .backup.destination.mode != "rsync" then "[destination] destination is \\(.backup.destination.mode)" else empty end),
    (("system","video","secrets") as $k | if .backup[$k] != true then "[\\($k)] the \\($k) backup is off" else empty end),
    (if .backup.masterPasswordSet != true then "[master-password] no master password is set" else empty end),
    (if .backup.hour != $want.hour then "[hour] hour is \\(.backup.hour), want \\($want.hour)" else empty end),
    (if .backup.notifications.email != true then "[email] e-mail notifications are off" else empty end),
    (if .backup.notifications.siem != true then "[siem] SIEM notifications are off" else empty end),
    ($want.partitions[] as $p | ([.partitions[] | select(.id == $p.id)][0]) as $l |
      if $l == null then "[partition-missing:\\($p.id)] partition \\($p.id) is missing"
      elif ($l.protocol != $p.protocol or $l.host != $p.host or $l.port != $p.port or $l.path != $p.path or ($p.user != null and $l.user != $p.user))
        then "[partition-changed:\\($p.id)] partition \\($p.id) is \\($l.protocol)://\\($l.host):\\($l.port)\\($l.path)"
      elif $l.mounted != true then "[partition-unmounted:\\($p.id)] partition \\($p.id) is not mounted"
      else empty end)
  ] | .[]`;

/** Each appliance's configuring commands (its key line on the backup server included), for the checks to wait on. */
const commandsOf = new Map<string, command.remote.Command[]>();
const keyLines: pulumi.Output<string>[] = [];
for (const a of fleet.appliances) {
    const conn = connection(a);
    commandsOf.set(a.name, []);
    const cmd = (suffix: string, create: string, triggers: unknown[], extra: Partial<command.remote.CommandArgs> = {}, opts: pulumi.CustomResourceOptions = {}) => {
        const c = new command.remote.Command(`${a.name}-${suffix}`, { connection: conn, create, triggers: [...triggers, runId], ...quiet, ...extra }, opts);
        commandsOf.get(a.name)!.push(c);
        return c;
    };
    const rootKey = cmd("root-key", orbit("root-key", "show"), []);
    const publicKey = rootKey.stdout.apply((out) => {
        const parsed = JSON.parse(out);
        if (typeof parsed.publicKey !== "string") throw new Error(`orbit root-key show on ${a.name} answered no publicKey: ${out.slice(0, 200)}`);
        return parsed.publicKey.trim() as string;
    });
    const line = publicKey.apply((k) => `${keyOptions(a.rsync.path)} ${k}`);
    keyLines.push(line);
    const key = new command.remote.Command(`${a.name}-authorized-key`, {
        connection: connection(serverLogin),
        create: pulumi.all([publicKey, line]).apply(([k, l]) => ["sudo", "-n", "sh", "-c", PUT_KEY, "put-key", a.rsync.user, k.split(/\s+/)[1], l].map(q).join(" ")),
        triggers: [line, runId],
        ...quiet,
    });
    commandsOf.get(a.name)!.push(key);
    const rsync = cmd("rsync", orbit("rsync", "set", "--user", a.rsync.user, "--host", a.rsync.host, "--port", a.rsync.port, "--path", a.rsync.path),
        [a.rsync], {}, { dependsOn: [key] });
    cmd("kinds", `${orbit("backup", "kind", "enable", "system")} </dev/null && ${orbit("backup", "kind", "enable", "video")} </dev/null && ${orbit("backup", "kind", "enable", "secrets")}`,
        [a.kinds], { stdin: pulumi.interpolate`${masterPassword}\n` });
    cmd("hour", orbit("backup", "time", "--hour", a.hour), [a.hour]);
    cmd("notify", orbit("backup", "notify", "--email", "on", "--siem", "on"), [a.notifications]);
    cmd("destination", orbit("backup", "destination", "rsync"), [a.destination], {}, { dependsOn: [rsync] });
    for (const p of a.partitions) {
        const args = ["--id", p.id, "--protocol", p.protocol, "--host", p.host, "--port", p.port, "--path", p.path, ...(p.user ? ["--user", p.user, "--password-stdin"] : [])];
        // update mounts an unmounted partition with the same values; it fails with not_found when
        // the partition is gone, and then add creates (and mounts) it.
        const create = p.protocol === "cifs"
            ? `IFS= read -r pw; printf '%s\\n' "$pw" | ${orbit("partition", "update", ...args)} || printf '%s\\n' "$pw" | ${orbit("partition", "add", ...args)}`
            : `${orbit("partition", "update", ...args)} || ${orbit("partition", "add", ...args)}`;
        cmd(p.id === CIFS_PARTITION_ID ? "cifs" : p.id === NFS_PARTITION_ID ? "nfs" : p.id, create,
            [{ ...p, passwordFile: undefined }], p.protocol === "cifs" ? { stdin: pulumi.interpolate`${cifsPassword}\n` } : {});
    }
}

// The drift check: re-run by a new checkRunId. It depends on the configuring commands so that
// it never runs before them, but it is not re-run when only runId changes (a repair).
if (checkRunId !== undefined) {
    for (const a of fleet.appliances) {
        const want = JSON.stringify({ rsync: a.rsync, hour: a.hour, partitions: a.partitions.map(({ id, protocol, host, port, path, user }) => ({ id, protocol, host, port, path, user: user ?? null })) });
        const script = `set -u
c=$(${orbit("backup", "config", "show")}) || { echo "[orbit] orbit backup config show failed on ${a.name}: $c" >&2; exit 1; }
d=$(printf '%s' "$c" | jq -r --argjson want ${q(want)} ${q(CHECK_CONFIG_JQ)}) || { echo "[jq] the check could not read config show on ${a.name}" >&2; exit 1; }
if [ -n "$d" ]; then printf 'drift on ${a.name}:\\n%s\\n' "$d" >&2; exit 1; fi
echo "${a.name}: no drift"`;
        new command.remote.Command(`${a.name}-check`, {
            connection: connection(a), create: script, triggers: [checkRunId], logging: "stdoutAndStderr", addPreviousOutputInEnv: false,
        }, { dependsOn: commandsOf.get(a.name) });
    }
    new command.remote.Command("backup-server-key-check", {
        connection: connection(serverLogin),
        create: ["sudo", "-n", "sh", "-c", CHECK_KEYS, "check-keys", server.backupUser].map(q).join(" "),
        stdin: pulumi.all(keyLines).apply((lines) => `${lines.join("\n")}\n`),
        triggers: [checkRunId],
        logging: "stdoutAndStderr",
        addPreviousOutputInEnv: false,
    }, { dependsOn: [...commandsOf.values()].flat() });
}

export const appliances = fleet.appliances.length;
