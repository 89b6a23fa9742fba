// The vendor driver: a real senhasegura appliance, through only what the vendor
// documents (docs/vendor-appliance.md): `orbit version`, `orbit backup time`,
// `orbit backup create`, `orbit partition`, the root key file, and standard
// read-only tools. What only Orbit Web sets is never written here: its abilities
// say so, and resources check it by its outcome instead.
import { randomBytes } from "crypto";
import { checkPublicKey } from "../formats/authorized-keys/key";
import { type BackupHistory, UnexpectedAnswer, parseBackupHistory, parseBackupTimeShow, parseOrbitVersion, parsePartitionAnswer, quoteAnswer, type OrbitVersion } from "../formats/orbit-vendor";
import { entryFor, optionValue, parseMountTable, remoteShare } from "../formats/mount-table";
import { describeTarget } from "../transport/connection";
import { BackupProviderError } from "../transport/errors";
import { SharedReads } from "../transport/shared-reads";
import { shellJoin } from "../transport/shell";
import { digestInDirectory } from "../transport/far-side";
import { sshPool } from "../transport/ssh";
import { type DiskSpace, parseDfPortable } from "../formats/disk-space";
import { type ApplianceConnection, type ResolvedPaths, resolvedPaths } from "./connection";
import {
    type ApplianceDriver, type BackupSettingsView, type DriverAbilities, type PartitionSpec, type PartitionView, type PolicyStep, type RootKeyView, type RsyncReach,
    type RsyncTargetView, notSupported,
} from "./driver";
import { ALL_ITEMS, type ExtraRead, type ItemAnswer, type ReadItem, parseReads, readScript } from "./vendor-reads";

/** What the vendor driver can change: the hour only (partitions: RemotePartition's vendor mode). */
export const VENDOR_ABILITIES: DriverAbilities = { kinds: false, notifications: false, destination: false, rsyncTarget: false, partitionsById: false };

/** One batched read of an appliance: the read items, and the rsync proofs that rode along, by proofKey. */
interface ReadBatch {
    items: Record<ReadItem, ItemAnswer>;
    proofs: ReadonlyMap<string, ItemAnswer>;
}

/** The batched refresh reads of each appliance, shared by its resources. */
const sharedReads = new SharedReads<ReadBatch>();

/** The part of an rsync target that the write test uses (the port is root's ssh configuration's). */
export type RsyncPath = Pick<RsyncTargetView, "user" | "host" | "path">;

/** Which rsync proofs each appliance's next batched refresh read carries, by appliance and proofKey. */
const expectedProofs = new Map<string, Map<string, RsyncPath>>();

function applianceKey(connection: Pick<ApplianceConnection, "user" | "host" | "port">): string {
    return `${connection.user}@${connection.host}:${connection.port}`;
}

/** What names one write test: the same user, server and directory are the same proof. Pure. */
export function proofKey(target: RsyncPath): string {
    return `${target.user}@${target.host}:${target.path.replace(/\/+$/, "")}`;
}

/**
 * Asks that the appliance's batched refresh read also run the rsync write test of
 * `target`. The engine refreshes RsyncTarget after the AuthorizedKey it depends on,
 * long after the batch ran, so the resources that read first (ApplianceRootKey,
 * from the target ApplianceBackup gives it) announce it; RsyncTarget's refresh then
 * finds its answer there instead of an exec of its own. Refresh reads only: a
 * create's proof must follow the key's authorization, so it runs on its own.
 */
export function expectRsyncProof(connection: Pick<ApplianceConnection, "user" | "host" | "port">, target: RsyncPath): void {
    const key = applianceKey(connection);
    const proofs = expectedProofs.get(key) ?? new Map<string, RsyncPath>();
    proofs.set(proofKey(target), { user: target.user, host: target.host, path: target.path });
    expectedProofs.set(key, proofs);
}

/** Forgets the announced proofs of this process (tests and benchmarks that reuse one process). */
export function forgetExpectedProofs(): void {
    expectedProofs.clear();
}

/** What an rsync's exit code and output say about the target. Pure. */
export function rsyncReach(code: number, output: string): RsyncReach {
    if (code === 0) return { reachable: true, error: null };
    const lines = output.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !/^rsync error: /.test(l));
    return { reachable: false, error: `${lines.slice(0, 3).join("; ") || "no detail"} (rsync exit ${code})` };
}

/** Seconds a batched read with rsync proofs may take: rsync's own limits (a 15 s connect, 30 s of silence) with room. */
const PROOF_TIMEOUT_SEC = 90;

/** What to tell the user when an answer is not what the vendor documents. */
const PROBE_HINT = "run `senhasegura-backup probe` against this appliance and attach its report to a bug report: the appliance answered in a way the vendor's documentation does not show";

/** The known_hosts host field for a server: `host` on port 22, `[host]:port` otherwise (ssh's own lookup key). */
export function knownHostsName(host: string, port: number): string {
    return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * The rsync that proves the target as the appliance's backup uses it: as root, with
 * root's key, root's known_hosts (strict: an unknown or changed server key fails),
 * and no port of its own, since Orbit Web has none (root's ssh configuration
 * decides). It sends the appliance's public key file, which the server already
 * holds in authorized_keys, into the directory under its own name (id_rsa.pub), as
 * a write test: `-I` rewrites it every time, so an unwritable directory fails.
 * Into the directory, not to another name: rrsync's write-only mode refuses to
 * replace a file sent under a name of its own. Pure.
 */
export function rsyncWriteTestArgv(paths: ResolvedPaths, target: Pick<RsyncTargetView, "user" | "host" | "path">): string[] {
    const ssh = ["ssh", ...(paths.rootSshConfig ? ["-F", paths.rootSshConfig] : []), "-i", paths.rootPrivateKey,
        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
        "-o", `UserKnownHostsFile=${paths.rootKnownHosts}`, "-o", "ConnectTimeout=15"];
    return ["rsync", "--ignore-times", "--timeout=30", "-e", shellJoin(ssh), "--", paths.rootPublicKey,
        `${target.user}@${target.host}:${target.path.replace(/\/+$/, "")}/`];
}

/**
 * The script that adds one line to root's known_hosts unless it is there: under a
 * lock on the directory, through a temporary file renamed over the old one, every
 * other line kept byte for byte. Pure.
 */
export function knownHostsAddScript(file: string, line: string): string {
    if (/[\r\n\u0000]/.test(line)) throw new Error("a known_hosts line must be one line");
    const q = (s: string) => shellJoin([s]);
    return [
        `f=${q(file)}; line=${q(line)}; d=$(dirname "$f")`,
        `[ -d "$d" ] || install -d -m 0700 "$d"`,
        `exec 9<"$d"; flock -w 20 9 || { echo "cannot lock $d" >&2; exit 3; }`,
        `if [ -f "$f" ] && grep -qxF -- "$line" "$f"; then echo present; exit 0; fi`,
        `tmp=$(mktemp "$f.XXXXXX") || exit 3`,
        `{ if [ -f "$f" ]; then cat -- "$f"; [ -s "$f" ] && [ "$(tail -c 1 -- "$f" | od -An -c | tr -d ' ')" != '\\n' ] && echo; fi; printf '%s\\n' "$line"; } >"$tmp" || { rm -f "$tmp"; exit 3; }`,
        `if [ -f "$f" ]; then chmod --reference="$f" "$tmp" && chown --reference="$f" "$tmp"; else chmod 0644 "$tmp"; fi`,
        `mv -f "$tmp" "$f" && echo added`,
    ].join("\n");
}

/** VendorDriver.backupOutcome's answer. */
export interface BackupOutcome {
    /** The appliance clock's UTC offset, `+0000`: the log's times are local. */
    offset: string;
    history: BackupHistory;
    /** The filesystem of connection.paths.varDirectory, or why it could not be read. */
    varSpace: DiskSpace | string;
    /** The partition's write_test at the mount point; null when there is none; a string when stat's answer is not understood. */
    writeTest: { modifiedAt: string } | null | string;
}

export class VendorDriver implements ApplianceDriver {
    readonly name = "vendor" as const;
    readonly abilities = VENDOR_ABILITIES;
    readonly target: string;
    readonly paths: ResolvedPaths;

    constructor(readonly connection: ApplianceConnection) {
        this.target = describeTarget(connection);
        this.paths = resolvedPaths(connection.paths);
    }

    private get readKey(): string { return applianceKey(this.connection); }

    /** Runs `argv` as root and returns its exit code and output. */
    private async root(argv: readonly string[], operation: string, options: { stdin?: string; timeoutSec?: number; secrets?: readonly (string | undefined)[] } = {}) {
        return sshPool.run(this.connection, { argv, sudo: true, operation, stdin: options.stdin, timeoutSec: options.timeoutSec, secrets: options.secrets });
    }

    private unexpected(err: unknown, operation: string, context: { exitCode?: number; stderr?: string } = {}): BackupProviderError {
        const reason = err instanceof UnexpectedAnswer ? err.message : String(err);
        return new BackupProviderError(reason, { kind: "appliance", code: "unexpected-answer", host: this.target, operation, hint: PROBE_HINT, ...context, cause: err });
    }

    /** Every read item in one exec. `shared`: a refresh read, shared by the appliance's resources. */
    async reads(shared: boolean): Promise<Record<ReadItem, ItemAnswer>> {
        return (await this.batch(shared)).items;
    }

    /**
     * The batch: every read item and, on a shared read, the rsync proofs announced
     * for this appliance (expectRsyncProof). The script is written once the login is
     * done, so every proof announced while it ran still rides in the one exec.
     */
    private batch(shared: boolean): Promise<ReadBatch> {
        const read = async (): Promise<ReadBatch> => {
            await sshPool.presentedHostKey(this.connection);
            const proofs = shared ? [...(expectedProofs.get(this.readKey) ?? new Map<string, RsyncPath>()).entries()] : [];
            const extra: ExtraRead[] = proofs.map(([, target], i) => ({ name: `rsync${i}`, argv: rsyncWriteTestArgv(this.paths, target) }));
            const boundary = randomBytes(16).toString("hex");
            const what = proofs.length > 0 ? "orbit version, backup time, root key, partition, rsync write test" : "orbit version, backup time, root key, partition";
            const result = await this.root(["sh", "-c", readScript(this.paths, boundary, ALL_ITEMS, extra)], `read the appliance (${what})`,
                proofs.length > 0 ? { timeoutSec: PROOF_TIMEOUT_SEC } : {});
            const parsed = parseReads<string>(result.stdout, boundary, [...ALL_ITEMS, ...extra.map((e) => e.name)]);
            if (typeof parsed === "string") throw this.unexpected(new UnexpectedAnswer("the answers of the read script", parsed, result.stdout + result.stderr), "read the appliance", { exitCode: result.code });
            return { items: parsed as Record<ReadItem, ItemAnswer>, proofs: new Map(proofs.map(([key], i) => [key, parsed[`rsync${i}`]!])) };
        };
        return shared ? sharedReads.get(this.readKey, read) : read();
    }

    private forget(): void { sharedReads.forget(this.readKey); }

    /**
     * The appliance's account of its backups, in one exec as root (the log is root's):
     * the UTC offset of its clock (`date +%z`), the last lines of its backup log
     * (`tail`), the size of its `/var` (`df -P -k`, for the vendor's sizing rule) and
     * the time of the partition's write_test (`stat`).
     */
    async backupOutcome(lines = 5000): Promise<BackupOutcome> {
        const operation = `read the backup log ${this.paths.backupLog}, df of ${this.paths.varDirectory} and write_test`;
        const boundary = randomBytes(16).toString("hex");
        const extra: ExtraRead[] = [
            { name: "offset", argv: ["date", "+%z"] },
            { name: "var", argv: ["df", "-P", "-k", "--", this.paths.varDirectory] },
            { name: "log", argv: ["tail", "-n", String(lines), "--", this.paths.backupLog] },
        ];
        const result = await this.root(["sh", "-c", readScript(this.paths, boundary, ["writeTest"], extra)], operation);
        const parsed = parseReads<string>(result.stdout, boundary, ["writeTest", ...extra.map((e) => e.name)]);
        if (typeof parsed === "string") throw this.unexpected(new UnexpectedAnswer("the answers of the read script", parsed, result.stdout + result.stderr), operation, { exitCode: result.code });
        const { offset, log, writeTest } = parsed as Record<string, ItemAnswer>;
        if (log.code !== 0) {
            throw new BackupProviderError(`cannot read ${this.paths.backupLog}: ${quoteAnswer(log.output)}`, {
                kind: "appliance", host: this.target, operation, exitCode: log.code,
                hint: "the vendor's backup writes this log; if the appliance keeps it elsewhere, set connection.paths.backupLog",
            });
        }
        if (offset.code !== 0 || !/^[+-]\d{4}$/.test(offset.output.trim())) {
            throw this.unexpected(new UnexpectedAnswer("a UTC offset such as +0000 from `date +%z`", `it answered with exit ${offset.code}`, offset.output), operation);
        }
        const varSpace = parsed.var.code === 0 ? parseDfPortable(parsed.var.output) : `df exited ${parsed.var.code}: ${quoteAnswer(parsed.var.output)}`;
        const stat = /^(\d+) \d+$/.exec(writeTest.output.trim());
        return {
            offset: offset.output.trim(),
            history: parseBackupHistory(log.output),
            varSpace,
            writeTest: writeTest.code === 0 && stat ? { modifiedAt: new Date(Number(stat[1]) * 1000).toISOString() }
                : writeTest.code === 0 ? `stat's answer is not \`<seconds> <size>\`: ${quoteAnswer(writeTest.output)}` : null,
        };
    }

    /**
     * The appliance's own copies of its dumps (vendor: "a copy is kept on the appliance
     * to speed up restores"), hashed as root in its backup directory in one exec.
     * A name it does not hold, or holds as something other than a file, is undefined.
     */
    async localBackupCopies(names: readonly string[]): Promise<Map<string, { size: number; sha256: string } | undefined>> {
        const { found, odd } = await digestInDirectory({ connection: this.connection, dir: this.paths.localBackupDir, sudo: true, role: "appliance" }, names);
        for (const o of odd) found.set(o.file, undefined);
        return found;
    }

    async version(shared: boolean): Promise<OrbitVersion> {
        const { version } = await this.reads(shared);
        try {
            return parseOrbitVersion(version.output);
        } catch (err) {
            throw this.unexpected(err, "read the orbit version (orbit version)", { exitCode: version.code });
        }
    }

    async rootKey(shared: boolean): Promise<RootKeyView> {
        const reads = await this.reads(shared);
        const { rootKey, hostname } = reads;
        if (rootKey.code !== 0) {
            throw new BackupProviderError(`cannot read ${this.paths.rootPublicKey}: ${quoteAnswer(rootKey.output)}`, {
                kind: "appliance", host: this.target, operation: "read the appliance's root public key", exitCode: rootKey.code,
                hint: `the appliance makes this key when it is installed (vendor: sudo cat ${this.paths.rootPublicKey}); check the path, or set connection.paths.rootPublicKey`,
            });
        }
        const key = checkPublicKey(rootKey.output.split("\n").find((l) => l.trim() !== "") ?? "");
        if (!key.ok) throw this.unexpected(new UnexpectedAnswer(`a public key in ${this.paths.rootPublicKey}`, key.error, rootKey.output), "read the appliance's root public key");
        const name = hostname.code === 0 ? (hostname.output.split("\n")[0] ?? "").trim() : "";
        return {
            publicKey: `${key.key.type} ${key.key.blob}${key.key.comment ? ` ${key.key.comment}` : ""}`,
            fingerprint: key.key.fingerprint,
            hostname: name === "" ? this.connection.host : name,
        };
    }

    async backupSettings(shared: boolean): Promise<BackupSettingsView> {
        const { hour } = await this.reads(shared);
        if (hour.code !== 0) throw this.unexpected(new UnexpectedAnswer("the answer of `orbit backup time --show`", `it exited with ${hour.code}`, hour.output), "read the daily backup hour", { exitCode: hour.code });
        try {
            return { hour: parseBackupTimeShow(hour.output) };
        } catch (err) {
            throw this.unexpected(err, "read the daily backup hour (orbit backup time --show)");
        }
    }

    async applyPolicyStep(step: PolicyStep, operation: string): Promise<void> {
        if (step.set !== "hour") notSupported(this.name, operation);
        this.forget();
        // --force: the vendor documents it as "never prompt", so nothing waits on a terminal.
        const result = await this.root(["orbit", "backup", "time", `--hour=${step.hour}`, "--force"], operation);
        if (result.code !== 0) {
            throw this.unexpected(new UnexpectedAnswer("`orbit backup time --hour` to succeed", `it exited with ${result.code}`, result.stdout + result.stderr), operation, { exitCode: result.code });
        }
        // The command's answer is not documented: the outcome is checked instead.
        const now = await this.backupSettings(false);
        if (now.hour !== step.hour) {
            throw new BackupProviderError(`orbit accepted --hour=${step.hour}, but \`orbit backup time --show\` now reports ${now.hour}`, {
                kind: "appliance", code: "unexpected-answer", host: this.target, operation, hint: PROBE_HINT,
            });
        }
    }

    async rsyncTarget(): Promise<undefined> {
        // Orbit Web holds User, Server and Remote path; no documented command reads them.
        return undefined;
    }

    setRsyncTarget(): Promise<void> { return notSupported(this.name, "set the rsync target"); }
    clearRsyncTarget(): Promise<void> { return notSupported(this.name, "clear the rsync target"); }

    /**
     * Pins the backup server's host key in root's known_hosts, as the vendor's own
     * `sudo ssh <user>@<server>` step would on first use, but from the pin instead
     * of trust on first use. Returns whether the line was added.
     */
    async pinServerHostKey(host: string, port: number, keyLine: string): Promise<boolean> {
        const [type, blob] = keyLine.trim().split(/\s+/);
        const line = `${knownHostsName(host, port)} ${type} ${blob}`;
        const operation = `pin ${host}'s host key in ${this.paths.rootKnownHosts}`;
        const result = await this.root(["sh", "-c", knownHostsAddScript(this.paths.rootKnownHosts, line)], operation);
        if (result.code !== 0) {
            throw new BackupProviderError(`could not add the backup server's host key to ${this.paths.rootKnownHosts}`, {
                kind: "appliance", host: this.target, operation, exitCode: result.code, stderr: result.stderr,
                hint: "check that the file and its directory are root's and not full; or turn the pin off (RsyncTarget.pinServerHostKey: false) and add the line by hand",
            });
        }
        return /added/.test(result.stdout);
    }

    /**
     * The write test of rsyncWriteTestArgv. `shared`: a refresh read, answered from the
     * appliance's batch when the proof rode in it (expectRsyncProof), else its own exec.
     */
    async testRsync(target: RsyncTargetView, shared = false): Promise<RsyncReach> {
        if (shared) {
            const answer = (await this.batch(true)).proofs.get(proofKey(target));
            if (answer) return rsyncReach(answer.code, answer.output);
        }
        const result = await this.root(rsyncWriteTestArgv(this.paths, target), `test the rsync target ${target.user}@${target.host}:${target.path}`, { timeoutSec: PROOF_TIMEOUT_SEC });
        return rsyncReach(result.code, result.stderr || result.stdout);
    }

    /**
     * The one remote partition, at the mount point (its identity): the fstab entry
     * (what `orbit partition` registered), whether the mount table holds it, and its
     * write_test's time. undefined when the fstab has none. `id` is the caller's name.
     */
    async partitionAt(shared: boolean, id: string): Promise<PartitionView | undefined> {
        const { fstab, mounts, writeTest } = await this.reads(shared);
        if (fstab.code !== 0) throw this.unexpected(new UnexpectedAnswer(`a readable ${this.paths.fstab}`, `cat exited ${fstab.code}`, fstab.output), "read the remote partition");
        const entry = entryFor(parseMountTable(fstab.output), this.paths.mountPoint);
        if (!entry) return undefined;
        const share = remoteShare(entry);
        if (typeof share === "string") {
            throw this.unexpected(new UnexpectedAnswer(`a CIFS or NFS entry for ${this.paths.mountPoint} in ${this.paths.fstab}`, share, `${entry.spec} ${entry.mountPoint} ${entry.type}`), "read the remote partition");
        }
        const text = (key: string) => { const v = optionValue(entry, key); return typeof v === "string" ? v : null; };
        const stat = /^(\d+) \d+$/.exec(writeTest.output.trim());
        return {
            id, protocol: share.protocol, host: share.host, port: share.port ?? (share.protocol === "cifs" ? 445 : 2049), path: share.path,
            user: share.protocol === "cifs" ? text("username") ?? text("user") : null,
            domain: share.protocol === "cifs" ? text("domain") : null,
            credentialId: null,
            // Read back only as present: the value never leaves the appliance.
            passwordSet: optionValue(entry, "credentials") !== undefined || optionValue(entry, "password") !== undefined,
            mounted: mounts.code === 0 && entryFor(parseMountTable(mounts.output), this.paths.mountPoint) !== undefined,
            mountedAt: writeTest.code === 0 && stat ? new Date(Number(stat[1]) * 1000).toISOString() : null,
        };
    }

    /** Runs one `orbit partition …` change with --force and checks its documented answer. */
    private async partitionCommand(flags: readonly string[], operation: string, secrets: readonly (string | undefined)[] = []): Promise<void> {
        this.forget();
        const argv = ["orbit", "partition", `--local=${this.paths.mountPoint}`, ...flags, "--force"];
        const result = await this.root(argv, operation, { secrets, timeoutSec: 120 });
        try {
            if (result.code !== 0) throw new UnexpectedAnswer("`orbit partition` to succeed", `it exited with ${result.code}`, result.stdout + result.stderr);
            parsePartitionAnswer(result.stdout);
        } catch (err) {
            const mountFailed = /mount error|Permission denied|No such file|Connection refused|timed out|NT_STATUS/i.test(result.stdout + result.stderr);
            throw new BackupProviderError(err instanceof Error ? err.message : String(err), {
                kind: "appliance", code: mountFailed ? "unreachable" : "unexpected-answer", host: this.target, operation, exitCode: result.code, secrets,
                hint: mountFailed
                    ? "check the share exists and the appliance may write to it (for CIFS: the user, the password and the domain; for NFS: the export allows the appliance's address); then run `pulumi up` again"
                    : PROBE_HINT,
            });
        }
    }

    /**
     * Registers and mounts the partition with `orbit partition`. A CIFS password goes
     * into the credentials file (mode 600, from stdin), named with `--options
     * credentials=…`, unless `passwordOnCommandLine` opts in to `--password`, which
     * ps and sudo's log on the appliance then show.
     */
    async savePartitionAtMountPoint(spec: PartitionSpec, options: { passwordOnCommandLine: boolean }): Promise<void> {
        const mountOptions: string[] = [];
        if (spec.port !== (spec.protocol === "cifs" ? 445 : 2049)) mountOptions.push(`port=${spec.port}`);
        const flags = [`--remote-host=${spec.host}`, `--remote-path=${spec.path}`, `--type=${spec.protocol}`];
        if (spec.user !== null) flags.push(`--user=${spec.user}`);
        if (spec.domain !== null) flags.push(`--domain=${spec.domain}`);
        if (spec.protocol === "cifs" && spec.password !== undefined) {
            if (options.passwordOnCommandLine) {
                flags.push(`--password=${spec.password}`);
            } else {
                await this.writeCredentials(spec);
                mountOptions.push(`credentials=${this.paths.cifsCredentials}`);
            }
        }
        if (mountOptions.length > 0) flags.push(`--options=${mountOptions.join(",")}`);
        await this.partitionCommand(flags, `register and mount ${spec.protocol}://${spec.host}${spec.path} at ${this.paths.mountPoint}`, [spec.password]);
    }

    /** Writes the CIFS credentials file as root: mode 600, from stdin, renamed into place. */
    private async writeCredentials(spec: PartitionSpec): Promise<void> {
        const content = [`username=${spec.user ?? ""}`, `password=${spec.password ?? ""}`, ...(spec.domain !== null ? [`domain=${spec.domain}`] : []), ""].join("\n");
        const script = `umask 077; f=$1; d=$(dirname "$f"); install -d -m 0700 "$d" && tmp=$(mktemp "$f.XXXXXX") && cat >"$tmp" && chmod 0600 "$tmp" && mv -f "$tmp" "$f"`;
        const result = await this.root(["sh", "-c", script, "ssb-cifs-credentials", this.paths.cifsCredentials], `write the CIFS credentials file ${this.paths.cifsCredentials}`, { stdin: content, secrets: [spec.password] });
        if (result.code !== 0) {
            throw new BackupProviderError(`could not write ${this.paths.cifsCredentials}`, {
                kind: "appliance", host: this.target, operation: "write the CIFS credentials file", exitCode: result.code, stderr: result.stderr, secrets: [spec.password],
                hint: "check that root's directory there is writable, or set connection.paths.cifsCredentials; or opt in to passwordOnCommandLine (see docs/vendor-appliance.md)",
            });
        }
    }

    async remountPartition(mounted: boolean): Promise<void> {
        await this.partitionCommand([mounted ? "--remount" : "--umount"], `${mounted ? "remount" : "unmount"} the partition at ${this.paths.mountPoint}`);
    }

    /** `orbit partition --delete`, then the credentials file this project wrote goes too. */
    async deletePartition(): Promise<void> {
        await this.partitionCommand(["--delete"], `delete the partition at ${this.paths.mountPoint}`);
        await this.root(["rm", "-f", "--", this.paths.cifsCredentials], "remove the CIFS credentials file");
    }

    async partitions(): Promise<PartitionView[]> { return notSupported(this.name, "list partitions by id"); }
    savePartition(): Promise<void> { return notSupported(this.name, "save a partition by id"); }
    mountPartition(): Promise<void> { return notSupported(this.name, "mount a partition by id"); }
    removePartition(): Promise<void> { return notSupported(this.name, "remove a partition by id"); }
}
