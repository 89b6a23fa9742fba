// The pure half of scripts/adopt: its command line, and the stack config that
// describes what it found on a hand-configured appliance and its backup server.
// No I/O here, so tests/unit/adopt.test.ts checks it with recorded answers;
// cli/adopt/run.ts does the reads and runs `pulumi config set`.
//
// The config is the one index.ts reads (docs/configuration.md), with adopted: true,
// so the first `pulumi up` records what the hosts hold and writes nothing, and
// verify: false, since a verification backup writes a backup (docs/adopt.md).
import * as path from "path";
import * as yaml from "js-yaml";
import { z } from "zod";
import { type FlagSpecs, UsageError, parseFlags } from "../shared/args";
import { defaultBackupOptions, parseOptions, renderOptions } from "../../providers/formats/authorized-keys/options";
import { APPLIANCE_LOGIN, HostKey } from "../../providers/transport/connection";
import type { OrbitConfig } from "../../providers/appliance/orbit";
import { Hostname, ObjectId, OneLine, Port, UnixUser, shown } from "../../providers/formats/rules";

/** The namespace of the keys index.ts reads (Pulumi.yaml's project name). */
export const NAMESPACE = "senhasegura-backup";

export const USAGE = `usage: senhasegura-backup adopt --host H [--port P] [--user U] --host-key PIN --private-key-file F
                                [--backup-server-host H] [--backup-server-port P] [--backup-server-user U]
                                [--backup-server-host-key PIN] [--backup-server-private-key-file F]
                                [--set --stack NAME] [--cwd DIR]
       senhasegura-backup adopt --appliances FILE [backup server flags] [--set] [--cwd DIR]

Reads a senhasegura appliance whose backups were set up by hand, and its rsync
backup server, and prints the stack config (Pulumi.<stack>.yaml) that describes
what it found. It only reads: orbit backup config show, orbit root-key show, and
the backup user's authorized_keys. Every connection checks the host key against
the pin before it logs in.

  --host, --port, --user   the appliance (port ${APPLIANCE_LOGIN.port}, user ${APPLIANCE_LOGIN.user} unless given)
  --host-key PIN           the appliance's host key line (ssh-keyscan) or its SHA256: fingerprint
  --private-key-file F     the key of the appliance's user; the config names the file, never its contents
  --backup-server-*        for an rsync destination: how to reach the backup server to read the
                           root key's line (host and port default to where the appliance sends
                           backups, user to the backup user; give an admin who may sudo -n)
  --appliances FILE        a JSON or YAML list of appliances: {stack?, host, port?, user?, hostKey,
                           privateKeyFile, backupServer?: {host?, port?, user?, hostKey, privateKeyFile}}
  --set                    run pulumi config set on the stack (--stack, or each entry's stack)
                           instead of only printing; secrets are never set or printed
  --stack NAME             the stack for --set (one appliance)
  --cwd DIR                the Pulumi project directory for --set (default: the nearest directory up
                           from here that holds a Pulumi.yaml)

Exit codes: 0 adopted (config printed or set), 1 error. docs/adopt.md has the steps.`;

/** A private key file: its path goes into the config, so it must be absolute there. */
const KeyFile = z.string().min(1, "must name a private key file");
const StackName = z.string().regex(/^[A-Za-z0-9_.\/-]{1,100}$/, { error: (issue) => `must be a stack name (letters, digits, '_', '.', '-', '/'), but ${shown(issue.input)} was provided` });

export const BackupServerTarget = z.strictObject({
    host: Hostname.optional(),
    port: Port.optional(),
    user: UnixUser.optional(),
    hostKey: HostKey,
    privateKeyFile: KeyFile,
});
export type BackupServerTarget = z.output<typeof BackupServerTarget>;

export const ApplianceTarget = z.strictObject({
    stack: StackName.optional(),
    host: Hostname,
    port: Port.default(APPLIANCE_LOGIN.port),
    user: UnixUser.default(APPLIANCE_LOGIN.user),
    hostKey: HostKey,
    privateKeyFile: KeyFile,
    backupServer: BackupServerTarget.optional(),
});
export type ApplianceTarget = z.output<typeof ApplianceTarget>;

const AppliancesFile = z.union([z.array(z.unknown()), z.object({ appliances: z.array(z.unknown()) }).transform((o) => o.appliances)]);

export interface AdoptArgs {
    appliances: ApplianceTarget[];
    set: boolean;
    cwd: string;
}

/** What parseArgs needs from outside: where relative paths start, and how to read --appliances. */
export interface ArgsContext {
    /** The directory relative paths on the command line start from. */
    cwd: string;
    /** The Pulumi project directory: --cwd's default. */
    project: string;
    /** Reads and parses --appliances (JSON or YAML). */
    readAppliances: (file: string) => unknown;
}

/** The flags that describe the appliance or its backup server, and the field of each. */
const FLAGS: Record<string, { field: string; number?: boolean; server?: boolean }> = {
    "host": { field: "host" },
    "port": { field: "port", number: true },
    "user": { field: "user" },
    "host-key": { field: "hostKey" },
    "private-key-file": { field: "privateKeyFile" },
    "backup-server-host": { field: "host", server: true },
    "backup-server-port": { field: "port", number: true, server: true },
    "backup-server-user": { field: "user", server: true },
    "backup-server-host-key": { field: "hostKey", server: true },
    "backup-server-private-key-file": { field: "privateKeyFile", server: true },
};

/** The flags of `senhasegura-backup adopt`. */
export const ADOPT_FLAGS = {
    ...Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: "string" } as const])),
    appliances: { type: "string" },
    stack: { type: "string", short: "s" },
    cwd: { type: "string", short: "C" },
    set: { type: "boolean" },
} as const satisfies FlagSpecs;

/** A zod problem as one line: the flag or field, then the rule. */
function problems(error: z.ZodError, where: (path: string[]) => string): string {
    return error.issues.map((i) => {
        const p = i.path.map(String);
        const message = i.code === "invalid_type" && i.input === undefined ? "is required" : i.message;
        return `${where(p)} ${message}`;
    }).join("; ");
}

const flagOf = (p: string[]): string => {
    const [head, field] = p;
    if (head === "stack") return "--stack";
    if (head === "backupServer") return `--${Object.entries(FLAGS).find(([, f]) => f.server && f.field === field)?.[0] ?? `backup-server-${field}`}`;
    const flag = Object.entries(FLAGS).find(([, f]) => !f.server && f.field === head)?.[0];
    return flag ? `--${flag}` : head;
};

/** Parses the command line; throws a UsageError naming the bad argument. Pure but for ctx.readAppliances. */
export function parseArgs(argv: readonly string[], ctx: ArgsContext): AdoptArgs | "help" {
    const parsed = parseFlags(argv, ADOPT_FLAGS);
    if (parsed === "help") return "help";
    const given = parsed.values as Record<string, string | boolean | undefined>;
    const appliance: Record<string, unknown> = {};
    const server: Record<string, unknown> = {};
    for (const [name, flag] of Object.entries(FLAGS)) {
        const text = given[name];
        if (typeof text !== "string") continue;
        const target = flag.server ? server : appliance;
        if (flag.number) {
            if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a port number, but ${shown(text)} was provided`);
            target[flag.field] = Number(text);
        } else {
            target[flag.field] = flag.field === "privateKeyFile" ? path.resolve(ctx.cwd, text) : text;
        }
    }
    const file = typeof given.appliances === "string" ? path.resolve(ctx.cwd, given.appliances) : undefined;
    const stack = typeof given.stack === "string" ? given.stack : undefined;
    const set = given.set === true;
    const cwd = typeof given.cwd === "string" ? path.resolve(ctx.cwd, given.cwd) : ctx.project;
    const sharedServer = Object.keys(server).length > 0 ? server : undefined;
    let raw: unknown[];
    let base = ctx.cwd;
    if (file !== undefined) {
        if (Object.keys(appliance).length > 0) throw new UsageError(`--appliances and ${Object.keys(appliance).map((f) => flagOf([f])).join(", ")} cannot be combined: list every appliance in ${file}`);
        const listed = AppliancesFile.safeParse(ctx.readAppliances(file));
        if (!listed.success || listed.data.length === 0) throw new UsageError(`${file} must hold a non-empty list of appliances, or {appliances: [...]}`);
        raw = listed.data;
        base = path.dirname(file);
    } else {
        if (Object.keys(appliance).length === 0) throw new UsageError("name the appliance with --host, --host-key and --private-key-file, or list appliances with --appliances FILE");
        raw = [{ ...appliance, ...(stack !== undefined ? { stack } : {}) }];
    }
    const appliances = raw.map((entry, index) => {
        const withServer = sharedServer && typeof entry === "object" && entry !== null && !("backupServer" in entry) ? { ...entry, backupServer: sharedServer } : entry;
        const parsed = ApplianceTarget.safeParse(withServer);
        if (!parsed.success) {
            throw new UsageError(file === undefined ? problems(parsed.error, flagOf) : `${file}: appliance ${index}: ${problems(parsed.error, (p) => p.join("."))}`);
        }
        // A key file named in the list is relative to the list, as a reader of the list expects.
        const a = parsed.data;
        const resolve = (f: string) => path.resolve(base, f);
        return { ...a, privateKeyFile: resolve(a.privateKeyFile), ...(a.backupServer ? { backupServer: { ...a.backupServer, privateKeyFile: resolve(a.backupServer.privateKeyFile) } } : {}) };
    });
    if (file !== undefined && stack !== undefined) {
        if (appliances.length > 1) throw new UsageError("--stack names one stack: with several appliances, give each entry of --appliances its own stack");
        appliances[0].stack = stack;
    }
    if (set) {
        const missing = appliances.map((a, i) => (a.stack === undefined ? i : -1)).filter((i) => i >= 0);
        if (missing.length > 0) {
            throw new UsageError(file === undefined ? "--set needs --stack NAME: the stack whose config it sets" : `--set needs a stack for every appliance; ${file} gives none for appliance ${missing.join(", ")}`);
        }
        const stacks = appliances.map((a) => a.stack);
        const twice = stacks.find((s, i) => stacks.indexOf(s) !== i);
        if (twice !== undefined) throw new UsageError(`stack ${twice} is named for two appliances: a stack of this program drives one appliance`);
    }
    return { appliances, set, cwd };
}

// ------------------------------------------------------------------ what was found

/** The root key's line in the backup user's authorized_keys, as AuthorizedKey's read sees it. */
export type KeyLineFinding =
    | { present: false }
    | { present: true; options: string; comment?: string; fileMode: string; dirMode: string; fileOwner: string };

export interface BackupServerFinding {
    /** How adopt logged in (and so how Pulumi will): host, port, user, pin and key file. */
    connection: { host: string; port: number; user: string; hostKey: string; privateKeyFile: string };
    keyLine: KeyLineFinding;
}

export interface ApplianceFindings {
    target: ApplianceTarget;
    config: OrbitConfig;
    rootKey: { publicKey: string; fingerprint: string };
    /** Read only when the appliance sends its backups over rsync. */
    backupServer?: BackupServerFinding;
}

/** A config value as index.ts reads it: text for a plain key, an object for appliance, backupServer, cifs and nfs. */
export type ConfigValue = string | Record<string, string | number>;

export interface AdoptedStack {
    stack?: string;
    /** The appliance, for headings and messages: "mt4adm@10.0.0.5:59022 (appliance-0)". */
    appliance: string;
    /** Keys in the order they are printed, without the namespace. */
    values: Array<{ key: string; value: ConfigValue }>;
    /** Keys only the user can set: adopt cannot read them back. */
    secrets: Array<{ key: string; why: string }>;
    /** What the config cannot say, and what the first up and the next preview will do. */
    notes: string[];
}

/** Why adopt cannot describe an appliance; the CLI prints it and exits 1. */
export class AdoptError extends Error {}

const onOff = (b: boolean) => (b ? "true" : "false");

/** The rsync destination's config, and what the root key's line on the backup server says. */
function rsyncValues(f: ApplianceFindings, target: string, notes: string[]): Record<string, string | number> {
    const rsync = f.config.rsync;
    if (rsync === null) throw new AdoptError(`${target} sends backups over rsync but has no rsync target set: orbit's answer contradicts itself; run orbit backup config show --json there`);
    const server = f.backupServer;
    if (!server) {
        throw new AdoptError(`${target} sends backups over rsync to ${rsync.user}@${rsync.host}:${rsync.port}${rsync.path}, and adopt reads the root key's line there: `
            + "give --backup-server-host-key and --backup-server-private-key-file (and --backup-server-user, an admin who may sudo -n, unless you log in as the backup user)");
    }
    const c = server.connection;
    if (c.host !== rsync.host || c.port !== rsync.port) {
        notes.push(`adopt reached the backup server as ${c.host}:${c.port}, and the appliance reaches it as ${rsync.host}:${rsync.port}. This program uses backupServer.host and port for both, so they are set to the appliance's, which keeps its rsync target as it is: the machine that runs Pulumi must reach ${rsync.host}:${rsync.port} too.`);
    }
    const expected = renderOptions(defaultBackupOptions(rsync.path));
    const line = server.keyLine;
    const where = `${rsync.user}'s authorized_keys on ${rsync.host}:${rsync.port}`;
    if (!line.present) {
        notes.push(`The appliance's root key (${f.rootKey.fingerprint}) is not in ${where}, so its backups cannot be arriving there. The first up adds it, restricted: ${expected}. That is a change on the backup server.`);
    } else {
        notes.push(`The root key's line in ${where}: options ${line.options === "" ? "none" : line.options}; comment ${line.comment === undefined ? "none" : shown(line.comment)}; file mode ${line.fileMode}, directory mode ${line.dirMode}, owner ${line.fileOwner}.`);
        const weaker = weakerThanRules(line.options, rsync.path);
        const tighten: string[] = [];
        if (line.options !== expected) tighten.push(`options to ${expected}`);
        if (line.comment !== rootKeyComment(f.rootKey.publicKey)) tighten.push(`comment to ${rootKeyComment(f.rootKey.publicKey) === undefined ? "none" : shown(rootKeyComment(f.rootKey.publicKey))}`);
        if (line.fileMode !== "600") tighten.push("file mode to 600");
        if (line.dirMode !== "700") tighten.push("directory mode to 700");
        if (line.fileOwner !== rsync.user) tighten.push(`owner to ${rsync.user}`);
        if (tighten.length > 0) {
            notes.push(`${weaker ? `That is weaker than this project's rules: ${weaker}. ` : ""}The first up records the line as it is and writes nothing; the next preview shows the update that sets its ${tighten.join(", ")}, and the up after applies it (docs/adopt.md says why).`);
        }
    }
    return {
        host: rsync.host, port: rsync.port, user: c.user, hostKey: c.hostKey, privateKeyPath: c.privateKeyFile,
        backupUser: rsync.user, path: rsync.path,
    };
}

/** The comment of the appliance's own key line, which AuthorizedKey writes. */
function rootKeyComment(publicKey: string): string | undefined {
    const comment = publicKey.trim().split(/\s+/).slice(2).join(" ");
    return comment === "" ? undefined : comment;
}

/** Why a key line's options let the appliance's root key do more than write backups into `dir`, or undefined. Pure. */
export function weakerThanRules(options: string, dir: string): string | undefined {
    if (options.trim() === "") return "the key has no options: it can log in to a shell, forward ports and read every file its user can";
    let parsed;
    try {
        parsed = parseOptions(options);
    } catch {
        return "its options cannot be parsed, so what the key may do is unclear";
    }
    const lacks: string[] = [];
    if (!parsed.restrict) lacks.push("restrict (no pty, no forwarding)");
    const command = parsed.command?.trim().split(/\s+/) ?? [];
    if (command.length === 0 || !/(^|\/)rrsync$/.test(command[0])) lacks.push("an rrsync command (any command may run)");
    else if (!command.includes("-wo")) lacks.push("rrsync -wo (the key may read backups too)");
    else if (command[command.length - 1] !== dir) lacks.push(`rrsync limited to ${dir}`);
    return lacks.length === 0 ? undefined : `it lacks ${lacks.join(" and ")}`;
}

/** The stack config that describes one appliance as found, and what adopt could not read back. Pure. */
export function adoptedStack(f: ApplianceFindings): AdoptedStack {
    const live = f.config;
    const b = live.backup;
    const t = f.target;
    const target = `${t.user}@${t.host}:${t.port} (${live.hostname})`;
    const values: AdoptedStack["values"] = [];
    const secrets: AdoptedStack["secrets"] = [];
    const notes: string[] = [];
    const put = (key: string, value: ConfigValue) => values.push({ key, value });

    if (OneLine(100).safeParse(live.hostname).success && live.hostname !== "") put("name", live.hostname);
    put("adopted", "true");
    put("verify", "false");
    put("appliance", { host: t.host, port: t.port, user: t.user, hostKey: t.hostKey, privateKeyPath: t.privateKeyFile });

    const mode = b.destination.mode;
    if (mode === "none") {
        throw new AdoptError(`${target} sends its backups nowhere (destination none), so there is nothing to adopt: set its backups up with a new stack (README, "Point a stack at a real appliance")`);
    }
    let partitionId: string | undefined;
    if (mode === "rsync") {
        put("destination", "rsync");
        put("backupServer", rsyncValues(f, target, notes));
    } else {
        partitionId = b.destination.partitionId ?? "";
        const p = live.partitions.find((x) => x.id === partitionId);
        if (!p) throw new AdoptError(`${target} sends backups to partition ${shown(partitionId)}, which it does not list: orbit's answer contradicts itself; run orbit backup config show --json there`);
        if (!ObjectId.safeParse(p.id).success) throw new AdoptError(`${target}'s partition id ${shown(p.id)} breaks this project's id rule (1-63 lowercase letters, digits or '-'), so no resource can name it`);
        put("destination", p.protocol);
        put("partitionId", p.id);
        if (p.protocol === "nfs") {
            put("nfs", { host: p.host, port: p.port, path: p.path });
        } else {
            const share: Record<string, string | number> = { host: p.host, port: p.port, path: p.path };
            if (p.credentialId !== null) {
                share.credentialId = p.credentialId;
            } else if (p.user !== null) {
                share.user = p.user;
                if (p.domain !== null) share.domain = p.domain;
                secrets.push({ key: "cifsPassword", why: `the password of ${p.user} on //${p.host}/${p.path.split("/")[1] ?? ""}, which the appliance holds but never gives back` });
                notes.push(`The CIFS password cannot be read back. The first up takes the one you set for the one the appliance holds, and checks nothing; a wrong one shows only when the partition next changes (its mount then fails) or a verification backup looks for its files (docs/adopt.md).`);
            }
            put("cifs", share);
        }
        if (!p.mounted) notes.push(`Partition ${p.id} is not mounted. The first up records that; the next preview shows the update that mounts it (which writes its write_test file on the share).`);
    }
    const others = live.partitions.filter((p) => p.id !== partitionId).map((p) => `${p.id} (${p.protocol}://${p.host}:${p.port}${p.path})`);
    if (others.length > 0) notes.push(`Not adopted, and left as they are: partition${others.length > 1 ? "s" : ""} ${others.join(", ")}, which no backup uses.`);
    if (mode !== "rsync" && live.rsync !== null) notes.push(`Not adopted, and left as it is: the rsync target ${live.rsync.user}@${live.rsync.host}:${live.rsync.port}${live.rsync.path}, which no backup uses.`);

    put("systemBackup", onOff(b.system));
    put("videoBackup", onOff(b.video));
    if (b.secrets) {
        put("secretsBackup", "true");
        secrets.push({ key: "masterPassword", why: "the secrets backup is on, and the appliance never gives its master password back" });
        if (!b.masterPasswordSet) notes.push("The secrets backup is on but the appliance holds no master password: the first up records that; the next preview shows the update that stores yours.");
    }
    put("hour", String(b.hour));
    put("notifyEmail", onOff(b.notifications.email));
    put("notifySiem", onOff(b.notifications.siem));
    if (b.notifications.emailTo !== null) put("notifyEmailTo", b.notifications.emailTo);

    const last = live.lastBackup;
    notes.push(last ? `The appliance's last successful backup: ${last.id}, started ${last.startedAt}, to ${last.destination}.` : "The appliance reports no successful backup yet.");
    notes.push("verify is false: a verification backup writes a backup to the destination. Once the first up is done, pulumi config set verify true runs one at the next up, and again whenever the destination or the kinds change.");
    notes.push("adopted is true, so every resource is retained on delete: a destroy, or removing the appliance from the program, leaves both hosts as they are. pulumi config set retainOnDelete false restores deletes (backups off, key line removed).");
    return { stack: t.stack, appliance: target, values, secrets, notes };
}

// ------------------------------------------------------------------ output

/** YAML of a config mapping, as Pulumi writes a stack file: two-space indent, text quoted when YAML would read it otherwise. */
function yamlOf(values: AdoptedStack["values"]): string {
    const config = Object.fromEntries(values.map(({ key, value }) => [`${NAMESPACE}:${key}`, value]));
    return yaml.dump({ config }, { indent: 2, lineWidth: -1, noRefs: true, quotingType: "\"" });
}

const commentLines = (text: string, width = 96): string[] => {
    const out: string[] = [];
    let line = "";
    for (const word of text.split(" ")) {
        if (line !== "" && line.length + 1 + word.length > width) { out.push(line); line = word; } else line = line === "" ? word : `${line} ${word}`;
    }
    if (line !== "") out.push(line);
    return out;
};

/** What adopt prints: one YAML document per appliance, its notes and the secrets to set as comments. Pure. */
export function renderYaml(stacks: readonly AdoptedStack[], when: string): string {
    return stacks.map((s) => {
        const head: string[] = [
            `# ${s.stack ? `Pulumi.${s.stack}.yaml` : "Pulumi.<stack>.yaml"}: appliance ${s.appliance}, as scripts/adopt found it on ${when}.`,
            "# adopted: true makes the first pulumi up record what the hosts hold and write nothing (docs/adopt.md).",
        ];
        if (s.secrets.length > 0) {
            head.push("# Set these yourself before the first up; adopt cannot read them back and never guesses:");
            for (const secret of s.secrets) {
                head.push(`#   pulumi config set --secret ${secret.key}${s.stack ? ` --stack ${s.stack}` : ""}`, ...commentLines(`(${secret.why})`).map((l) => `#     ${l}`));
            }
        }
        for (const note of s.notes) {
            const [first, ...rest] = commentLines(note);
            head.push(`# - ${first}`, ...rest.map((l) => `#   ${l}`));
        }
        return `${head.join("\n")}\n${yamlOf(s.values)}`;
    }).join("---\n");
}

/** The `pulumi config` calls that store a stack's values, each an argv without `pulumi`; never a secret. Pure. */
export function configSetCalls(s: AdoptedStack): Array<{ key: string; argv: string[] }> {
    if (!s.stack) throw new Error("configSetCalls needs the stack's name");
    const calls: Array<{ key: string; argv: string[] }> = [];
    for (const { key, value } of s.values) {
        if (typeof value === "string") {
            calls.push({ key, argv: ["config", "set", "--stack", s.stack, key, "--", value] });
            continue;
        }
        // An object replaces the stack's whole value, so no field of an older one lingers.
        calls.push({ key, argv: ["config", "rm", "--stack", s.stack, key] });
        for (const [field, v] of Object.entries(value)) {
            calls.push({ key: `${key}.${field}`, argv: ["config", "set", "--stack", s.stack, "--path", "--type", typeof v === "number" ? "int" : "string", `${key}.${field}`, "--", String(v)] });
        }
    }
    return calls;
}
