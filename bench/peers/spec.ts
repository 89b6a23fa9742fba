// The peers benchmark's one definition of "the fleet": what every tool (ours in one
// stack, ours in 4 stacks, @pulumi/command, Ansible) must make N lab appliances look
// like, the 8 drift cases of tests/e2e/drift.test.ts (applied to appliance 0), and
// isConverged(), which reads the hosts directly (as root on this machine) to check that a
// tool really converged. Every tool is judged by this file, not by its own report.
//
// Secrets (the master password, the CIFS password) are never put in argv, logs or a
// finding: findings name the field only.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shellJoin } from "../../providers/transport/shell";
import { labFile, readLabDescription } from "../../lab/description";
import type { Lab, LabAppliance } from "../lib/sshd";

/** lab.json, as the one reader (lab/description.ts) checks it for the tests and the dev stack. */
export type PeerLab = Lab;
export type PeerLabAppliance = LabAppliance;

export const LAB_JSON = labFile();

export function loadPeerLab(): PeerLab {
    return readLabDescription(LAB_JSON);
}

/** The partitions appliance 0 (the drift target) gets; no other appliance has any. */
export const CIFS_PARTITION_ID = "peer-cifs";
export const NFS_PARTITION_ID = "peer-nfs";
export const HOUR = 5;
/** Appliance index that also carries the two partitions and receives the drift cases. */
export const DRIFT_TARGET = 0;

/** The authorized_keys options for the appliance root key, as providers/resources/authorized-key.ts renders `restrictTo` (tests/unit/bench-peers.test.ts compares them). */
export function keyOptions(backupPath: string): string {
    return `restrict,command="rrsync -wo -no-lock -absolute ${backupPath}"`;
}

export interface DesiredPartition {
    id: string;
    protocol: "cifs" | "nfs";
    host: string;
    port: number;
    path: string;
    /** CIFS only: the user; the password is the lab's, read from `passwordFile`. */
    user?: string;
    passwordFile?: string;
    /** Always true: mounted, but never the destination. */
    mounted: true;
}

export interface DesiredAppliance {
    index: number;
    name: string;
    host: string; port: number; user: string; hostKey: string; privateKeyPath: string;
    orbitRoot: string;
    rootPublicKey: string;
    rsync: { user: string; host: string; port: number; path: string };
    destination: "rsync";
    kinds: { system: true; video: true; secrets: true };
    hour: number;
    notifications: { email: true; siem: true };
    partitions: DesiredPartition[];
}

export interface DesiredFleet {
    appliances: DesiredAppliance[];
    /** The backup server: the root key of every appliance goes into authorized_keys there. */
    server: PeerLab["rsyncServer"];
    /** One line per appliance: `<options> <root public key>`. */
    authorizedKeyLines: string[];
    authorizedKeysPath: string;
    authorizedKeysMode: 0o600;
}

/** The desired state of lab appliances 0 … n-1 and the backup server. The same for every tool. */
export function desiredFleet(lab: PeerLab, n: number): DesiredFleet {
    if (lab.appliances.length < n) throw new Error(`the lab runs ${lab.appliances.length} appliance(s), the peers benchmark needs ${n}: run 'bash lab/start --appliances ${n}' under the lab lock`);
    const r = lab.rsyncServer;
    const appliances = lab.appliances.slice(0, n).map((a, index): DesiredAppliance => ({
        index, name: a.name, host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKeyPath: a.privateKeyPath,
        orbitRoot: a.orbitRoot, rootPublicKey: a.rootPublicKey.trim(),
        rsync: { user: r.backupUser, host: r.host, port: r.port, path: r.backupPath },
        destination: "rsync",
        kinds: { system: true, video: true, secrets: true },
        hour: HOUR,
        notifications: { email: true, siem: true },
        partitions: index === DRIFT_TARGET ? [
            { id: CIFS_PARTITION_ID, protocol: "cifs", host: lab.cifs.host, port: lab.cifs.port, path: lab.cifs.remotePath, user: lab.cifs.user, passwordFile: lab.cifs.passwordPath, mounted: true },
            { id: NFS_PARTITION_ID, protocol: "nfs", host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath, mounted: true },
        ] : [],
    }));
    return {
        appliances, server: r,
        authorizedKeyLines: appliances.map((a) => `${keyOptions(r.backupPath)} ${a.rootPublicKey}`),
        authorizedKeysPath: r.authorizedKeysPath,
        authorizedKeysMode: 0o600,
    };
}

/** The lab's CIFS password (first line of its file). A secret: never log it. */
export function cifsPassword(lab: PeerLab): string {
    return fs.readFileSync(lab.cifs.passwordPath, "utf8").split("\n")[0];
}

// ---------------------------------------------------------------------------
// The 8 drift cases of tests/e2e/drift.test.ts, on appliance 0.

export type DriftCaseId = "key-options" | "key-mode" | "nfs-removed" | "cifs-unmounted" | "rsync-path" | "video-off" | "hour" | "key-removed";

export interface DriftCase {
    id: DriftCaseId;
    /** Round 1 applies seven at once; round 2 removes the key line (it conflicts with key-options). */
    round: 1 | 2;
    /** What the drift suite's finding names: resource type and field. */
    resource: "AuthorizedKey" | "RemotePartition" | "RsyncTarget" | "BackupPolicy";
    field: string;
    description: string;
}

export const DRIFT_ELSEWHERE_PATH = "/files/backup/drift-elsewhere";
export const DRIFT_HOUR = 9;

export const DRIFT_CASES: readonly DriftCase[] = [
    { id: "key-options", round: 1, resource: "AuthorizedKey", field: "effectiveOptions", description: "the key line's options weakened to no-pty" },
    { id: "key-mode", round: 1, resource: "AuthorizedKey", field: "fileMode", description: "authorized_keys chmod 644" },
    { id: "nfs-removed", round: 1, resource: "RemotePartition", field: "removed", description: "the NFS partition removed (orbit partition remove)" },
    { id: "cifs-unmounted", round: 1, resource: "RemotePartition", field: "mounted", description: "the CIFS partition unmounted (orbit partition unmount)" },
    { id: "rsync-path", round: 1, resource: "RsyncTarget", field: "path", description: `the rsync path changed to ${DRIFT_ELSEWHERE_PATH}` },
    { id: "video-off", round: 1, resource: "BackupPolicy", field: "video", description: "the video backup disabled" },
    { id: "hour", round: 1, resource: "BackupPolicy", field: "hour", description: `the daily hour changed to ${DRIFT_HOUR}` },
    { id: "key-removed", round: 2, resource: "AuthorizedKey", field: "removed", description: "the key line deleted from authorized_keys" },
];

export const DRIFT_ROUNDS: readonly (readonly DriftCaseId[])[] = [
    DRIFT_CASES.filter((c) => c.round === 1).map((c) => c.id),
    DRIFT_CASES.filter((c) => c.round === 2).map((c) => c.id),
];

let knownHostsDir: string | undefined;
/** A known_hosts file holding only the pinned key of host:port, so ssh checks it strictly. */
function pinnedKnownHosts(host: string, port: number, hostKey: string): string {
    if (!knownHostsDir || !fs.existsSync(knownHostsDir)) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-peers-known-hosts-"));
        process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
        knownHostsDir = dir;
    }
    const file = path.join(knownHostsDir, `known_hosts-${port}`);
    fs.writeFileSync(file, `[${host}]:${port} ${hostKey.trim()}\n`);
    return file;
}


/**
 * Runs `sudo -n orbit <args> --json` on a lab appliance over the system ssh client with
 * its host key pinned, as an operator (and tests/support/lab.ts) does. Fails loudly
 * unless orbit answered ok. A secret goes on stdin.
 */
export function orbitOnAppliance(a: PeerLabAppliance, args: readonly string[], stdin = ""): any {
    const command = shellJoin(["sudo", "-n", "orbit", ...args, "--json"]);
    const r = spawnSync("ssh", [
        "-F", "/dev/null", "-i", a.privateKeyPath, "-p", String(a.port),
        "-o", `UserKnownHostsFile=${pinnedKnownHosts(a.host, a.port, a.hostKey)}`, "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
        `${a.user}@${a.host}`, command,
    ], { input: stdin, encoding: "utf8", timeout: 60_000 });
    let json: any;
    try { json = JSON.parse(r.stdout ?? ""); } catch { json = undefined; }
    if (r.error || r.status !== 0 || json?.ok !== true) {
        throw new Error(`orbit ${args.join(" ")} on ${a.name} (${a.host}:${a.port}) failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ""}): ${(r.stdout ?? "").trim()} ${(r.stderr ?? "").trim()}`);
    }
    return json;
}

/** Rewrites authorized_keys atomically (temp file, same mode and owner, rename), as a careful hand edit would. */
function editAuthorizedKeys(file: string, edit: (text: string) => string): void {
    const st = fs.statSync(file);
    const tmp = `${file}.ssb-peers-${process.pid}`;
    fs.writeFileSync(tmp, edit(fs.readFileSync(file, "latin1")), "latin1");
    fs.chownSync(tmp, st.uid, st.gid);
    fs.chmodSync(tmp, st.mode & 0o7777);
    fs.renameSync(tmp, file);
}

function keyBlob(publicKey: string): string {
    return publicKey.trim().split(/\s+/)[1];
}

/** Applies one drift case to appliance 0 and the backup server, outside any tool. */
export function applyDriftCase(lab: PeerLab, id: DriftCaseId): void {
    const a = lab.appliances[DRIFT_TARGET];
    const r = lab.rsyncServer;
    const blob = keyBlob(a.rootPublicKey);
    const isOurLine = (l: string) => l.split(/\s+/).includes(blob);
    switch (id) {
        case "key-options": {
            let found = false;
            editAuthorizedKeys(r.authorizedKeysPath, (text) => text.split("\n").map((l) => {
                if (!isOurLine(l)) return l;
                found = true;
                return `no-pty ${a.rootPublicKey.trim()}`;
            }).join("\n"));
            if (!found) throw new Error(`drift case key-options: ${a.name}'s root key is not in ${r.authorizedKeysPath}; converge first`);
            return;
        }
        case "key-mode": fs.chmodSync(r.authorizedKeysPath, 0o644); return;
        case "nfs-removed": orbitOnAppliance(a, ["partition", "remove", "--id", NFS_PARTITION_ID]); return;
        case "cifs-unmounted": orbitOnAppliance(a, ["partition", "unmount", "--id", CIFS_PARTITION_ID]); return;
        case "rsync-path": orbitOnAppliance(a, ["rsync", "set", "--user", r.backupUser, "--host", r.host, "--port", String(r.port), "--path", DRIFT_ELSEWHERE_PATH]); return;
        case "video-off": orbitOnAppliance(a, ["backup", "kind", "disable", "video"]); return;
        case "hour": orbitOnAppliance(a, ["backup", "time", "--hour", String(DRIFT_HOUR)]); return;
        case "key-removed": {
            let found = false;
            editAuthorizedKeys(r.authorizedKeysPath, (text) => text.split("\n").filter((l) => {
                if (!isOurLine(l)) return true;
                found = true;
                return false;
            }).join("\n"));
            if (!found) throw new Error(`drift case key-removed: ${a.name}'s root key is not in ${r.authorizedKeysPath}; converge first`);
            return;
        }
    }
}

/** Applies every case of one round (index 0: the seven; 1: key-removed). */
export function applyDriftRound(lab: PeerLab, round: number): readonly DriftCaseId[] {
    const ids = DRIFT_ROUNDS[round];
    if (!ids) throw new Error(`drift round ${round} does not exist: rounds are 0 and 1`);
    for (const id of ids) applyDriftCase(lab, id);
    return ids;
}

// ---------------------------------------------------------------------------
// isConverged: what differs from desiredFleet() on the hosts, read directly.

/** The orbit config file of an appliance (root-owned; this process runs as root beside the lab). */
function readOrbitConfig(a: { name: string; orbitRoot: string }): any {
    const file = path.join(a.orbitRoot, "orbinibkp.conf");
    if (!fs.existsSync(file)) return undefined;
    try {
        return JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err: any) {
        throw new Error(`${a.name}: ${file} is not JSON (${err.message}); is orbit writing it right now?`);
    }
}

/**
 * Lists every way the hosts differ from the desired fleet of n appliances (empty:
 * converged). With `masterPassword`, also checks that the secrets backup holds this
 * run's password (only whether it matches is said, never the value).
 */
export function isConverged(lab: PeerLab, n: number, masterPassword?: string): string[] {
    const want = desiredFleet(lab, n);
    const diffs: string[] = [];
    const cifsSecret = n > DRIFT_TARGET ? cifsPassword(lab) : "";
    for (const a of want.appliances) {
        const c = readOrbitConfig(a);
        const at = `${a.name}`;
        if (!c) { diffs.push(`${at}: no orbit config (${path.join(a.orbitRoot, "orbinibkp.conf")})`); continue; }
        const b = c.backup ?? {};
        const eq = (what: string, actual: unknown, expected: unknown) => {
            if (JSON.stringify(actual) !== JSON.stringify(expected)) diffs.push(`${at}: ${what} is ${JSON.stringify(actual)}, want ${JSON.stringify(expected)}`);
        };
        eq("rsync target", c.rsync ? { user: c.rsync.user, host: c.rsync.host, port: c.rsync.port, path: c.rsync.path } : null, a.rsync);
        eq("destination", b.destination?.mode ?? null, a.destination);
        eq("system backup", b.system, true);
        eq("video backup", b.video, true);
        eq("secrets backup", b.secrets, true);
        if (b.secrets === true) {
            if (typeof b.masterPassword !== "string" || b.masterPassword.length === 0) diffs.push(`${at}: secrets backup has no master password`);
            else if (masterPassword !== undefined && b.masterPassword !== masterPassword) diffs.push(`${at}: master password is not this run's`);
        }
        eq("hour", b.hour, a.hour);
        eq("email notifications", b.notifications?.email, true);
        eq("SIEM notifications", b.notifications?.siem, true);
        const partitions: any[] = Array.isArray(c.partitions) ? c.partitions : [];
        for (const p of a.partitions) {
            const live = partitions.find((x) => x.id === p.id);
            if (!live) { diffs.push(`${at}: partition ${p.id} is missing`); continue; }
            eq(`partition ${p.id} protocol`, live.protocol, p.protocol);
            eq(`partition ${p.id} host:port`, `${live.host}:${live.port}`, `${p.host}:${p.port}`);
            eq(`partition ${p.id} path`, live.path, p.path);
            if (p.protocol === "cifs") {
                eq(`partition ${p.id} user`, live.user ?? null, p.user);
                if (live.password !== cifsSecret) diffs.push(`${at}: partition ${p.id} password is not the lab's CIFS password`);
            }
            eq(`partition ${p.id} mounted`, !!live.mounted, true);
        }
    }
    // The backup server: one line per appliance, with the restricted options, mode 600.
    const file = want.authorizedKeysPath;
    if (!fs.existsSync(file)) {
        diffs.push(`backup server: ${file} is missing`);
    } else {
        const mode = fs.statSync(file).mode & 0o777;
        if (mode !== want.authorizedKeysMode) diffs.push(`backup server: ${file} mode is ${mode.toString(8)}, want 600`);
        const lines = fs.readFileSync(file, "latin1").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
        want.appliances.forEach((a) => {
            const blob = keyBlob(a.rootPublicKey);
            const mine = lines.filter((l) => l.split(/\s+/).includes(blob));
            if (mine.length === 0) diffs.push(`backup server: ${a.name}'s root key is not in authorized_keys`);
            else if (mine.length > 1) diffs.push(`backup server: ${a.name}'s root key is in authorized_keys ${mine.length} times`);
            else {
                // The options are what precedes the key type; the comment after the key may differ by tool.
                const [type] = a.rootPublicKey.split(/\s+/);
                const line = mine[0].trim();
                const at = line.startsWith(`${type} `) ? 0 : line.indexOf(` ${type} ${blob}`);
                const options = at <= 0 ? "" : line.slice(0, at).trim();
                const wantOptions = keyOptions(want.server.backupPath);
                if (options !== wantOptions) diffs.push(`backup server: ${a.name}'s key options are ${JSON.stringify(options)}, want ${JSON.stringify(wantOptions)}`);
            }
        });
    }
    return diffs;
}

/**
 * Which drift cases an isConverged() list still shows (so a repair left them): each
 * case's own difference on appliance 0 or the backup server.
 */
export function driftCasesIn(lab: PeerLab, diffs: readonly string[]): DriftCaseId[] {
    const a = lab.appliances[DRIFT_TARGET].name;
    const has = (re: RegExp) => diffs.some((d) => re.test(d));
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const found: Record<DriftCaseId, boolean> = {
        "key-options": has(new RegExp(`^backup server: ${esc(a)}'s key options are`)),
        "key-mode": has(/^backup server: .* mode is \d+, want 600$/),
        "nfs-removed": has(new RegExp(`^${esc(a)}: partition ${NFS_PARTITION_ID} is missing$`)),
        "cifs-unmounted": has(new RegExp(`^${esc(a)}: partition ${CIFS_PARTITION_ID} (is missing|mounted is false)`)),
        "rsync-path": has(new RegExp(`^${esc(a)}: rsync target is`)),
        "video-off": has(new RegExp(`^${esc(a)}: video backup is`)),
        "hour": has(new RegExp(`^${esc(a)}: hour is`)),
        "key-removed": has(new RegExp(`^backup server: ${esc(a)}'s root key is not in authorized_keys$`)),
    };
    return DRIFT_CASES.map((c) => c.id).filter((id) => found[id]);
}
