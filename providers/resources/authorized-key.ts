// AuthorizedKey: one line in a backup server user's ~/.ssh/authorized_keys —
// normally the appliance root's key, restricted so it can only write backups
// into one directory (vendor step 3, done declaratively).
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { planAuthorizedKeysEdit, readManagedEntry, sha256Hex } from "../formats/authorized-keys/file";
import { InvalidPublicKeyError, type KeyIdentity, PublicKeyText, parsePublicKey } from "../formats/authorized-keys/key";
import { AuthorizedKeyOptions, InvalidOptionsError, defaultBackupOptions, renderOptions } from "../formats/authorized-keys/options";
import { ADOPTION_FIELDS, Adopt, adoptionDifferences, reportAdoption } from "../scaffolding/adoption";
import { checkInputs, connectionIdentity, decideDiff, fieldsOf, requireState } from "../scaffolding/check";
import { ServerConnection, describeTarget, objectId } from "../transport/connection";
import { BackupProviderError } from "../transport/errors";
import { progress } from "../transport/progress";
import { BackupResource, type Inputs } from "../scaffolding/resource";
import { AuthorizedKeysFile, BackupDirectory, OneLine, UnixUser } from "../formats/rules";
import { SharedReads } from "../transport/shared-reads";
import { sshPool } from "../transport/ssh";

const FILE_MODE = "600";
const DIR_MODE = "700";

export const AuthorizedKeyArgs = z.strictObject({
    /** How to reach the backup server: as the target user, or (recommended) as an admin who may sudo, who can repair a file whose mode locks the user out. Port 22 by default. */
    connection: ServerConnection,
    /** The user whose authorized_keys holds the key. @default connection.user */
    targetUser: UnixUser.optional(),
    /** Run the file edits through `sudo -n`. @default true when targetUser differs from connection.user */
    useSudo: z.boolean().optional(),
    /** The file to edit. @default ~targetUser/.ssh/authorized_keys */
    authorizedKeysPath: AuthorizedKeysFile.optional(),
    /** The public key line to authorize, e.g. ApplianceRootKey.publicKey. Its identity is its type and blob, not its comment. ed25519, RSA (2048 bits or more), ECDSA and sk- keys; DSA is refused. */
    publicKey: z.string().transform((s) => s.trim()).pipe(PublicKeyText),
    /** The comment written after the key. @default the key's own comment */
    comment: OneLine(200).optional(),
    /** The backup directory: the key gets `restrict,command="rrsync -wo -no-lock -absolute <dir>"`, so it can only write backups there. */
    restrictTo: BackupDirectory.optional(),
    /** Explicit options, instead of restrictTo. */
    options: AuthorizedKeyOptions.optional(),
    /** Set to true to authorize the key with no options at all: full shell access. An explicit opt-out. */
    unrestricted: z.literal(true, { error: "may only be true (an explicit opt-out); leave it out otherwise" }).optional(),
    /** Create takes over a key line that is already there, as it is, and writes nothing (docs/adopt.md). */
    adopt: Adopt,
}).superRefine((a, ctx) => {
    const given = (["restrictTo", "options", "unrestricted"] as const).filter((k) => a[k] !== undefined);
    if (given.length !== 1) {
        ctx.addIssue({
            code: "custom", path: ["restrictTo"],
            message: `give exactly one of restrictTo (the backup directory, recommended), options, or unrestricted: true, but ${given.length === 0 ? "none" : given.join(" and ")} ${given.length === 1 ? "was" : "were"} provided`,
        });
    }
}).transform((a) => {
    const key = parsePublicKey(a.publicKey);
    const targetUser = a.targetUser ?? a.connection.user;
    const effectiveOptions = a.unrestricted ? "" : renderOptions(a.restrictTo !== undefined ? defaultBackupOptions(a.restrictTo) : a.options!);
    return {
        ...a,
        publicKey: `${key.type} ${key.blob}`,
        comment: a.comment ?? key.comment,
        targetUser,
        useSudo: a.useSudo ?? targetUser !== a.connection.user,
        /** The options text written before the key; what refresh compares. */
        effectiveOptions,
        fingerprint: key.fingerprint,
        fileMode: FILE_MODE,
        dirMode: DIR_MODE,
        /** Who owns the file (and its directory): the target user, checked on every read. */
        fileOwner: targetUser,
    };
});
export type AuthorizedKeyArgs = z.input<typeof AuthorizedKeyArgs>;
type AuthorizedKeyInputs = z.output<typeof AuthorizedKeyArgs>;

export type AuthorizedKeyState = AuthorizedKeyInputs;

// Runs on the backup server. Reports the file, its directory and its content
// (base64, so CRLF and odd bytes survive) without changing anything.
const READ_SCRIPT = `set -eu
user=$1; file=$2
home=$(getent passwd "$user" | cut -d: -f6) || { echo "no such user: $user" >&2; exit 6; }
[ -n "$home" ] || { echo "no such user: $user" >&2; exit 6; }
[ -n "$file" ] || file="$home/.ssh/authorized_keys"
dir=$(dirname "$file")
echo "file=$file"
if [ -L "$dir" ]; then echo "dir=symlink"; elif [ -d "$dir" ]; then echo "dir=present"; stat -c 'dirmode=%a
dirowner=%U' "$dir"; else echo "dir=absent"; fi
if [ -L "$file" ]; then echo "state=symlink"; elif [ -f "$file" ]; then echo "state=present"; stat -c 'filemode=%a
fileowner=%U' "$file"; echo "sha=$(sha256sum < "$file" | cut -d' ' -f1)"; echo "---"; base64 -w0 < "$file"; echo; elif [ -e "$file" ]; then echo "state=notfile"; else echo "state=absent"; fi
`;

// Writes the new content (stdin) atomically under a lock on the directory, only if
// the file still has the content we planned against (compare and swap), and puts
// modes and owner right. The content's SHA-256 comes as an argument: a connection
// that drops mid-transfer leaves a short temp file, which is never renamed into
// place. Editors that do not lock (>>, ssh-copy-id) may append to the old file
// after the check; the old file stays open, and what they appended moves over.
// Exit 3: symlink refused; 4: changed since read; 5: lock busy; 7: content incomplete.
const WRITE_SCRIPT = `set -eu
user=$1; file=$2; expected=$3; incoming=$4
home=$(getent passwd "$user" | cut -d: -f6) || { echo "no such user: $user" >&2; exit 6; }
[ -n "$file" ] || file="$home/.ssh/authorized_keys"
dir=$(dirname "$file")
umask 077
if [ -L "$dir" ]; then echo "refusing: $dir is a symbolic link" >&2; exit 3; fi
[ -d "$dir" ] || mkdir -p "$dir"
chown "$user": "$dir"; chmod ${DIR_MODE} "$dir"
exec 9<"$dir"
flock -w 10 9 || { echo "the lock on $dir is held by another writer" >&2; exit 5; }
if [ -L "$file" ]; then echo "refusing: $file is a symbolic link" >&2; exit 3; fi
current=absent; size=0
if [ -f "$file" ]; then
  exec 8<"$file"
  size=$(stat -L -c %s /dev/fd/8)
  current=$(head -c "$size" /dev/fd/8 | sha256sum | cut -d' ' -f1)
fi
[ "$current" = "$expected" ] || { echo "changed since read" >&2; exit 4; }
# Temp files of writers killed outright (SIGKILL) would otherwise stay forever.
find "$dir" -maxdepth 1 -type f -name '.authorized_keys.??????' -mmin +5 -delete 2>/dev/null || true
tmp=$(mktemp "$dir/.authorized_keys.XXXXXX")
# A dropped connection closes stderr too: the shell may die of SIGPIPE on its next
# message, which skips an EXIT trap, so remove the temp file first and on signals.
trap 'rm -f "$tmp"' EXIT
trap 'rm -f "$tmp"; exit 1' HUP INT TERM PIPE
cat > "$tmp"
[ "$(sha256sum < "$tmp" | cut -d' ' -f1)" = "$incoming" ] || { rm -f "$tmp"; echo "the new content arrived incomplete; nothing was written" >&2; exit 7; }
chown "$user": "$tmp"; chmod ${FILE_MODE} "$tmp"
sync "$tmp" 2>/dev/null || true
mv -f "$tmp" "$file"
trap - EXIT HUP INT TERM PIPE
if [ "$current" != absent ]; then tail -c +$((size + 1)) /dev/fd/8 >> "$file"; fi
`;

interface RemoteFile {
    file: string;
    dir: "present" | "absent" | "symlink";
    dirMode?: string;
    dirOwner?: string;
    state: "present" | "absent" | "symlink" | "notfile";
    fileMode?: string;
    fileOwner?: string;
    sha: string;
    /** The file's bytes as a latin1 string, so every byte round-trips. */
    content: string;
}

/** Parses the read script's answer. Pure. */
export function parseReadAnswer(stdout: string): RemoteFile {
    const [head, body = ""] = stdout.split("\n---\n");
    const fields = new Map(head.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as [string, string]));
    const content = Buffer.from(body.trim(), "base64").toString("latin1");
    return {
        file: fields.get("file") ?? "",
        dir: (fields.get("dir") ?? "absent") as RemoteFile["dir"],
        dirMode: fields.get("dirmode"),
        dirOwner: fields.get("dirowner"),
        state: (fields.get("state") ?? "absent") as RemoteFile["state"],
        fileMode: fields.get("filemode"),
        fileOwner: fields.get("fileowner"),
        sha: fields.get("sha") ?? "absent",
        content,
    };
}

function identityOf(inputs: AuthorizedKeyInputs): KeyIdentity {
    const [type, blob] = inputs.publicKey.split(" ");
    return { type, blob };
}

function label(inputs: AuthorizedKeyInputs): string {
    return `AuthorizedKey for ${inputs.targetUser} on ${inputs.connection.host}:${inputs.connection.port}`;
}

async function readRemote(inputs: AuthorizedKeyInputs): Promise<RemoteFile> {
    const conn = inputs.connection;
    const result = await sshPool.run(conn, {
        argv: ["sh", "-c", READ_SCRIPT, "ssb-read-authorized-keys", inputs.targetUser, inputs.authorizedKeysPath ?? ""],
        sudo: inputs.useSudo, operation: `read ${inputs.targetUser}'s authorized_keys`,
    });
    if (result.code !== 0) {
        throw new BackupProviderError(result.code === 6 ? `user ${inputs.targetUser} does not exist` : "the read failed", {
            kind: "command", host: describeTarget(conn), operation: `read ${inputs.targetUser}'s authorized_keys`, exitCode: result.code, stderr: result.stderr,
            hint: result.code === 6 ? `create the user ${inputs.targetUser} on ${conn.host}, or fix targetUser` : "check that the connection user may read the file (or set useSudo)",
        });
    }
    const remote = parseReadAnswer(result.stdout);
    if (remote.state === "symlink" || remote.dir === "symlink" || remote.state === "notfile") {
        throw new BackupProviderError(`${remote.file} ${remote.state === "notfile" ? "is not a regular file" : "or its directory is a symbolic link"}, which this resource refuses to follow`, {
            kind: "invalid", host: describeTarget(conn), operation: `read ${inputs.targetUser}'s authorized_keys`,
            hint: `replace the link with a real file (a link could point the edit at any file on ${conn.host})`,
        });
    }
    return remote;
}

/** Refresh reads of one authorized_keys, shared by the fleet's AuthorizedKeys in it (see shared-reads.ts). */
const sharedFiles = new SharedReads<RemoteFile>();

function fileKey(inputs: AuthorizedKeyInputs): string {
    const c = inputs.connection;
    return `${c.user}@${c.host}:${c.port}/${inputs.targetUser}/${inputs.authorizedKeysPath ?? ""}/${inputs.useSudo ? "sudo" : "direct"}`;
}

/** Live state in input shape: what refresh compares against the program. Pure. */
export function liveInputs(inputs: AuthorizedKeyInputs, remote: RemoteFile): AuthorizedKeyInputs | undefined {
    const entry = readManagedEntry(remote.content, identityOf(inputs));
    if (!entry.present) return undefined;
    return {
        ...inputs,
        effectiveOptions: entry.optionsText ?? "",
        comment: entry.comment,
        fileMode: remote.fileMode ?? FILE_MODE,
        dirMode: remote.dirMode ?? DIR_MODE,
        fileOwner: remote.fileOwner !== inputs.targetUser ? remote.fileOwner ?? "unknown"
            : remote.dirOwner !== inputs.targetUser ? `${remote.dirOwner ?? "unknown"} (the directory)` : inputs.targetUser,
    };
}

/**
 * Writers in other processes (another stack's `up` against the same backup server,
 * docs/fleet.md) are held off only by compare and swap: enough attempts, spread by a
 * jittered, growing wait, that two stacks of 25 appliances each editing one file
 * get through (5 fixed waits did not, at 100 appliances in 4 stacks).
 */
const MAX_ATTEMPTS = 12;
const retryDelayMs = (attempt: number) => Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random());

/** Reads, plans and writes with compare-and-swap until the file holds the desired line (or none). */
/**
 * Edits of one file from this process wait for each other: the engine runs many
 * AuthorizedKey resources at once, and twenty writers racing through compare and
 * swap would exhaust their retries. Compare and swap still guards against writers
 * outside this process.
 */
const fileQueues = new Map<string, Promise<unknown>>();

function serializedPerFile<T>(inputs: AuthorizedKeyInputs, work: () => Promise<T>): Promise<T> {
    const key = `${inputs.connection.host}:${inputs.connection.port}/${inputs.targetUser}/${inputs.authorizedKeysPath ?? ""}`;
    const previous = fileQueues.get(key) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(() => undefined, () => undefined);
    fileQueues.set(key, settled);
    settled.then(() => { if (fileQueues.get(key) === settled) fileQueues.delete(key); });
    return next;
}

function converge(inputs: AuthorizedKeyInputs, state: "present" | "absent"): Promise<RemoteFile> {
    return serializedPerFile(inputs, async () => {
        try {
            return await convergeNow(inputs, state);
        } finally {
            sharedFiles.forget(fileKey(inputs));
        }
    });
}

async function convergeNow(inputs: AuthorizedKeyInputs, state: "present" | "absent"): Promise<RemoteFile> {
    const conn = inputs.connection;
    for (let attempt = 1; ; attempt++) {
        const remote = await readRemote(inputs);
        const plan = planAuthorizedKeysEdit(remote.content, state === "present"
            ? { state, key: identityOf(inputs), options: inputs.effectiveOptions, comment: inputs.comment }
            : { state, key: identityOf(inputs) });
        const modesRight = remote.state === "absent" || (remote.fileMode === FILE_MODE && remote.dirMode === DIR_MODE && remote.fileOwner === inputs.targetUser && remote.dirOwner === inputs.targetUser);
        if (!plan.changed && modesRight) return remote;
        if (state === "absent" && remote.state === "absent") return remote;
        progress(`${label(inputs)}: ${plan.changed ? plan.action : "fixing mode and owner of"} ${remote.file} (attempt ${attempt})`);
        // Bytes, not characters: the content was read as latin1, so it goes back as latin1.
        const bytes = Buffer.from(plan.content, "latin1");
        const result = await sshPool.run(conn, {
            argv: ["sh", "-c", WRITE_SCRIPT, "ssb-write-authorized-keys", inputs.targetUser, inputs.authorizedKeysPath ?? "", remote.sha, sha256Hex(bytes)],
            sudo: inputs.useSudo, stdin: bytes, operation: `write ${remote.file}`,
        });
        // Read back once more: confirms the write and checks the modes.
        if (result.code === 0) continue;
        if ((result.code === 4 || result.code === 5) && attempt < MAX_ATTEMPTS) {
            progress(`${label(inputs)}: ${result.code === 4 ? "the file changed while we planned" : "another writer holds the lock"}; retrying (${attempt}/${MAX_ATTEMPTS})`);
            await new Promise((r) => setTimeout(r, retryDelayMs(attempt)));
            continue;
        }
        throw new BackupProviderError(
            result.code === 3 ? "refused to write through a symbolic link" : result.code === 7 ? "the new content arrived incomplete (the connection dropped?), so nothing was written" : result.code === 4 ? `the file kept changing under us for ${MAX_ATTEMPTS} attempts` : result.code === 5 ? "another writer held the lock too long" : "the write failed", {
                kind: result.code === 4 || result.code === 5 ? "concurrent-edit" : "command", host: describeTarget(conn), operation: `write ${remote.file}`,
                exitCode: result.code, stderr: result.stderr,
                hint: result.code === 3 ? "replace the symbolic link with a real file" : "nothing was lost: the file is unchanged or fully written; run `pulumi up` again",
            });
    }
}

/**
 * An adopting create: the key line as the file holds it, options, comment and modes
 * included, or undefined when the line is not there (then create writes it).
 */
async function adopt(inputs: AuthorizedKeyInputs): Promise<AuthorizedKeyInputs | undefined> {
    const live = liveInputs(inputs, await readRemote(inputs));
    if (!live) return undefined;
    reportAdoption(label(inputs), adoptionDifferences(live, inputs, { ignore: ["fingerprint"] }));
    // State records what the host holds; adopt is how this create started, not part of it.
    const { adopt: _, ...found } = live;
    return found;
}

export const authorizedKeyProvider = {
    async check(_olds: unknown, news: unknown) {
        // The schema's transform parses the key and renders the options; the pure model
        // throws typed errors, which name the field here.
        try {
            return checkInputs(AuthorizedKeyArgs, news);
        } catch (err) {
            const property = err instanceof InvalidPublicKeyError ? "publicKey"
                : err instanceof InvalidOptionsError ? (fieldsOf(news).restrictTo !== undefined ? "restrictTo" : "options") : "(arguments)";
            return { failures: [{ property, reason: err instanceof Error ? err.message : String(err) }] };
        }
    },
    async diff(_id: string, olds: unknown, news: unknown) {
        const decision = decideDiff(olds, news, {
            identity: ["connection", "targetUser", "authorizedKeysPath", "publicKey"],
            identityProjection: { connection: connectionIdentity },
            ignore: ADOPTION_FIELDS,
        });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs: AuthorizedKeyInputs) {
        const adopted = inputs.adopt ? await adopt(inputs) : undefined;
        if (!adopted) await converge(inputs, "present");
        const { type, blob } = identityOf(inputs);
        return { id: objectId(inputs.connection, inputs.targetUser, type, sha256Hex(blob).slice(0, 16)), outs: adopted ?? inputs };
    },
    async read(id: string, props?: AuthorizedKeyState) {
        const state = requireState(props, id);
        const remote = await sharedFiles.get(fileKey(state), () => readRemote(state));
        const live = liveInputs(state, remote);
        // No id: the key line is gone, and refresh drops the resource.
        if (!live) return {};
        return { id, props: live, inputs: live };
    },
    async update(_id: string, _olds: AuthorizedKeyState, news: AuthorizedKeyInputs) {
        await converge(news, "present");
        return { outs: news };
    },
    async delete(_id: string, props: AuthorizedKeyState) {
        await converge(props, "absent");
    },
} satisfies pulumi.dynamic.ResourceProvider<AuthorizedKeyInputs, AuthorizedKeyState>;

/**
 * Authorizes a public key (usually the appliance root's) for a user on a backup
 * server, restricted by default to rsync writes into one directory.
 *
 * @example
 * new AuthorizedKey("appliance-key", {
 *     connection: { host: "backup.example.com", user: "bkpadmin", hostKey: "SHA256:…", privateKey: cfg.requireSecret("backupAdminKey") },
 *     targetUser: "senhauser",
 *     publicKey: rootKey.publicKey,
 *     restrictTo: "/files/backup/senhasegura",
 * });
 */
export class AuthorizedKey extends BackupResource {
    declare readonly publicKey: pulumi.Output<string>;
    declare readonly effectiveOptions: pulumi.Output<string>;
    declare readonly fingerprint: pulumi.Output<string>;
    declare readonly targetUser: pulumi.Output<string>;

    constructor(name: string, args: Inputs<AuthorizedKeyArgs>, opts?: pulumi.CustomResourceOptions) {
        super("AuthorizedKey", "authorizedKey", name,
            { effectiveOptions: undefined, fingerprint: undefined, targetUser: undefined, ...args }, opts, []);
    }
}
