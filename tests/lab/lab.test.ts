// The lab's self-test: real sshd, real orbit over ssh + sudo, real rsync/Samba/NFS.
// It needs a started lab (bash lab/start) and fails loudly, never skips, without one.
// It takes the lab's last appliance (or $LAB_SELFTEST_APPLIANCE) for its run, so
// `lab/start --appliances 2` lets it run beside suites that drive appliance-0.
// It puts back what it changed:
// that appliance's orbit configuration and event log, its own line in senhauser's
// authorized_keys and the backups and write_test files it created.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Manifest, belongsTo, openEnvelope } from "../../providers/formats/backup-format";
import {
    type LabAppliance, type LabDescription, type SshRun, assertLabServersAnswer, labFile, loadLab, orbitCommand, pinnedSsh, pinnedSshArgs, shellQuote,
} from "../support/lab";

// Without root, lab/start skips nfs-ganesha and maybe smbd, and says so in lab.json.
type Lab = LabDescription & { cifs: { available: boolean }; nfs: { available: boolean } };
interface OrbitRun extends SshRun { json: any }

const LAB_ROOT = process.env.SENHASEGURA_LAB_ROOT ?? "/var/lib/senhasegura-lab";
const LAB_JSON = labFile();
const MASTER_PASSWORD = "lab-master-password-2026";

let lab: Lab;
let app: LabAppliance;
let cifsPassword: string;
const outputs: string[] = []; // every orbit stdout/stderr, checked for secrets at the end
const createdBackups: string[] = []; // backup ids to delete on the far side afterwards
const snapshot: { conf?: string | null; events?: string | null; keyWasAuthorized?: boolean; writeTests: Record<string, boolean> } = { writeTests: {} };
const REPO = path.resolve(__dirname, "..", "..");
const DAY_MS = 24 * 3600 * 1000;

function parseOrbit(r: SshRun, args: string[]): OrbitRun {
    outputs.push(r.stdout, r.stderr);
    let json: any;
    try {
        json = JSON.parse(r.stdout);
    } catch {
        throw new Error(`orbit ${args.join(" ")} did not print one JSON document (exit ${r.code}): ${r.stdout} ${r.stderr}`);
    }
    return { ...r, json };
}

/** `sudo -n orbit ARGS --json` on the test appliance, over ssh with its pinned host key. */
function orbit(args: string[], input = ""): OrbitRun {
    return parseOrbit(pinnedSsh(app, orbitCommand(args), input), args);
}

function orbitAsync(args: string[], input = ""): Promise<OrbitRun> {
    return new Promise((resolve) => {
        const c = spawn("ssh", pinnedSshArgs(app, orbitCommand(args)));
        let stdout = "";
        let stderr = "";
        c.stdout.on("data", (d) => (stdout += d));
        c.stderr.on("data", (d) => (stderr += d));
        c.stdin.end(input);
        c.on("close", (code) => resolve(parseOrbit({ code: code ?? 255, stdout, stderr }, args)));
    });
}

function expectOk(r: OrbitRun): any {
    assert.equal(r.code, 0, `expected success, got exit ${r.code}: ${r.stdout} ${r.stderr}`);
    assert.equal(r.json.ok, true);
    return r.json;
}

function expectError(r: OrbitRun, code: string, exit: number, field?: string): void {
    assert.equal(r.code, exit, `expected exit ${exit} (${code}), got ${r.code}: ${r.stdout} ${r.stderr}`);
    assert.equal(r.json.ok, false);
    assert.equal(r.json.error.code, code, r.stdout);
    assert.ok(typeof r.json.error.message === "string" && r.json.error.message.length > 0);
    if (field !== undefined) assert.equal(r.json.error.field, field, r.stdout);
    assert.match(r.stderr, /^orbit: /m);
}

function show(): any {
    return expectOk(orbit(["backup", "config", "show"]));
}

function bkpadmin(command: string, input = ""): SshRun {
    const r = lab.rsyncServer;
    return pinnedSsh({ host: r.host, port: r.port, user: r.adminUser, privateKeyPath: r.adminPrivateKeyPath, hostKey: r.hostKey }, command, input);
}

const keyBlob = () => app.rootPublicKey.split(/\s+/)[1];

/** As the provider does: bkpadmin appends the appliance key, restricted to rrsync, with sudo -n. */
function authorizeAppliance(): void {
    const r = lab.rsyncServer;
    // senhauser's authorized_keys is shared with other suites that may rewrite it: add our line when missing
    if (fs.readFileSync(r.authorizedKeysPath, "utf8").includes(keyBlob())) return;
    const line = `restrict,command="rrsync -wo -no-lock -absolute ${r.backupPath}" ${app.rootPublicKey}\n`;
    const w = bkpadmin(`sudo -n tee -a ${shellQuote(r.authorizedKeysPath)} >/dev/null`, line);
    assert.equal(w.code, 0, w.stderr);
}

/**
 * Runs fn with the appliance key authorized. Another suite may rewrite the shared
 * authorized_keys meanwhile: only when our line has vanished is fn run again
 * (at most 3 times); a failure while the line is present is a real failure.
 */
function withAuthorizedKey<T>(fn: () => T, ok: (r: T) => boolean): T {
    let r!: T;
    for (let i = 0; i < 3; i++) {
        authorizeAppliance();
        r = fn();
        if (ok(r) || fs.readFileSync(lab.rsyncServer.authorizedKeysPath, "utf8").includes(keyBlob())) return r;
    }
    return r;
}

function fingerprintOf(key: string): string {
    return "SHA256:" + crypto.createHash("sha256").update(Buffer.from(key.split(/\s+/)[1], "base64")).digest("base64").replace(/=+$/, "");
}

const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");

/** `tar -tz` of an archive held in memory, fed on stdin: its members. */
function tarMembers(archive: Buffer): string[] {
    const list = spawnSync("tar", ["-tzf", "-"], { input: archive, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    assert.equal(list.status, 0, `tar -tz failed: ${list.stderr}`);
    return list.stdout.split("\n").filter(Boolean);
}

/** One member's bytes, extracted in memory (tar -xO from stdin). */
function tarMember(archive: Buffer, member: string): string {
    const x = spawnSync("tar", ["-xzOf", "-", member], { input: archive, encoding: "utf8" });
    assert.equal(x.status, 0, x.stderr);
    return x.stdout;
}

/**
 * A contract 2 backup at the far side (`localRoot`, the destination as the lab keeps it
 * on disk): the report's files are where the vendor layout puts them, each matches the
 * manifest's size and SHA-256, the manifest landed and is the one reported, the secrets
 * decrypt with the master password to the appliance's vault, and the db and arz
 * archives decrypt (when sealed) and list, with the counted members.
 */
function checkBackupOnFarSide(localRoot: string, summary: any, kinds: string[], opts: { encrypted: boolean }): any {
    const id: string = summary.id;
    assert.equal(summary.contract, 2);
    assert.deepEqual(summary.kinds, kinds);
    const manifestPath = `backup/manifests/${id}.json`;
    const listed = summary.manifest.files as any[];
    assert.deepEqual(summary.files, [...listed.map((f) => f.path), manifestPath], "files: the content files, then the manifest");
    assert.equal(summary.manifest.path, manifestPath);
    for (const f of summary.files as string[]) assert.ok(belongsTo(f, id), `${f} does not carry the backup id ${id} in its path`);

    // the manifest: landed, the one reported, valid, and listing exactly the reported files
    const manifestBytes = fs.readFileSync(path.join(localRoot, manifestPath));
    assert.equal(manifestBytes.length, summary.manifest.size);
    assert.equal(sha256(manifestBytes), summary.manifest.sha256);
    const manifest = Manifest.parse(JSON.parse(manifestBytes.toString("utf8")));
    assert.equal(manifest.id, id);
    assert.equal(manifest.hostname, app.name);
    assert.deepEqual(manifest.kinds, kinds);
    assert.deepEqual(manifest.files, listed);
    assert.ok(Date.parse(manifest.createdAt) >= Date.parse(summary.startedAt), "the manifest is written after the backup started");

    // the vendor layout, kind by kind
    const day = summary.startedAt.slice(0, 4) + "/" + summary.startedAt.slice(5, 7) + summary.startedAt.slice(8, 10);
    const enc = opts.encrypted ? ".enc" : "";
    const expected: Array<[string, string, string]> = [];
    if (kinds.includes("system")) {
        expected.push(["system", "db", `backup/system/db/${id}/senhasegura-db.tar.gz${enc}`], ["system", "db", `backup/system/db/${id}/orbit-config.tar.gz${enc}`]);
    }
    if (kinds.includes("secrets")) expected.push(["secrets", "secrets", `backup/secrets/${id}.secrets.enc`]);
    if (kinds.includes("video")) expected.push(["video", "arz", `backup/system/arz/${day}/${id}-sessions.tar.gz${enc}`]);
    assert.deepEqual(listed.map((f) => [f.kind, f.role, f.path]), expected, "each kind's files are where the vendor layout puts them");

    let bytes = manifestBytes.length;
    for (const f of listed) {
        const data = fs.readFileSync(path.join(localRoot, f.path));
        bytes += data.length;
        assert.equal(data.length, f.size, `${f.path}: size`);
        assert.equal(sha256(data), f.sha256, `${f.path}: sha256`);
        assert.equal(f.encrypted, f.role === "secrets" || opts.encrypted, `${f.path}: encrypted`);
        assert.equal(data.subarray(0, 4).toString("latin1") === "OSEC", f.encrypted, `${f.path}: the envelope's magic`);
        const plain = f.encrypted ? openEnvelope(data, MASTER_PASSWORD) : data;
        if (f.encrypted) assert.throws(() => openEnvelope(data, `${MASTER_PASSWORD}-wrong`), /does not decrypt with the master password/);
        if (f.role === "secrets") {
            const vault = JSON.parse(fs.readFileSync(path.join(app.orbitRoot, "data", "secrets.json"), "utf8"));
            const opened = JSON.parse(plain.toString("utf8"));
            assert.deepEqual(opened, { secrets: vault.secrets }, "the secrets archive holds the appliance's vault");
            assert.equal(f.entries, vault.secrets.length);
            continue;
        }
        const members = tarMembers(plain);
        assert.equal(members.length, f.entries, `${f.path}: the manifest counts its tar members`);
        if (f.path.includes("senhasegura-db")) {
            assert.ok(members.includes("data/system/settings.json"), members.join(" "));
            assert.ok(!members.some((m) => m.includes("secrets.json")), "the vault goes only into the secrets kind");
        } else if (f.path.includes("orbit-config")) {
            assert.deepEqual(members, ["orbit-config/", "orbit-config/orbinibkp.json"]);
            const conf = tarMember(plain, "orbit-config/orbinibkp.json");
            assert.ok(!conf.includes(MASTER_PASSWORD) && !conf.includes(cifsPassword), "a database dump holds no stored password");
            assert.equal(JSON.parse(conf).hostname, app.name);
        } else {
            assert.ok(members.includes("recordings/session-0001.cast"), members.join(" "));
        }
    }
    assert.equal(bytes, summary.bytes, "the far side holds exactly the bytes orbit reported");
    const { ok, manifest: { files: _files, ...manifestRef }, ...rest } = summary;
    return { ...rest, manifest: manifestRef };
}

/** The appliance's number, for the lab helpers' --appliance. */
const applianceNumber = () => app.name.replace(/^appliance-/, "");

/** Runs a lab helper (lab/age-backup, lab/fill-recordings, lab/notify-lost) on the test appliance. */
function labHelper(name: string, args: string[]): string {
    const r = spawnSync("bash", [path.join(REPO, "lab", name), "--appliance", applianceNumber(), ...args], { encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, `lab/${name} ${args.join(" ")} failed: ${r.stdout} ${r.stderr}`);
    outputs.push(r.stdout, r.stderr);
    return r.stdout;
}

/**
 * lab/age-backup: lastBackup.startedAt and the newest manifest's createdAt are `hours`
 * older, and the last backup's reference follows the rewritten manifest. `read` reads the
 * manifest as the destination serves it.
 */
function checkAged(hours: number, read: (rel: string) => Buffer): void {
    const before = show().lastBackup;
    const rel = before.manifest.path;
    const manifestBefore = JSON.parse(read(rel).toString("utf8"));
    const out = labHelper("age-backup", ["--hours", String(hours)]);
    assert.match(out, new RegExp(`lastBackup\\.startedAt ${before.startedAt} -> `));
    assert.match(out, new RegExp(`${rel.replace(/[.]/g, "\\.")} at .*createdAt ${manifestBefore.createdAt} -> `));
    const after = show().lastBackup;
    assert.equal(Date.parse(before.startedAt) - Date.parse(after.startedAt), hours * 3600 * 1000);
    const served = read(rel);
    const manifestAfter = JSON.parse(served.toString("utf8"));
    assert.equal(Date.parse(manifestBefore.createdAt) - Date.parse(manifestAfter.createdAt), hours * 3600 * 1000);
    assert.deepEqual({ ...manifestAfter, createdAt: manifestBefore.createdAt }, manifestBefore, "only createdAt changed");
    assert.deepEqual(after.manifest, { path: rel, size: served.length, sha256: sha256(served) });
    assert.deepEqual({ ...after, startedAt: before.startedAt, manifest: before.manifest }, before, "only startedAt and the manifest's digest changed");
}

/** Every file and directory under base/backup that belongs to backup `id`, deepest first. */
function backupPaths(base: string, id: string): string[] {
    const found: string[] = [];
    const walk = (rel: string) => {
        const dir = path.join(base, rel);
        if (!fs.existsSync(dir)) return;
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
            const r = `${rel}/${e.name}`;
            if (e.isDirectory()) walk(r);
            if (belongsTo(r, id) && !(e.isDirectory() && !belongsTo(e.name, id))) found.push(r);
        }
    };
    walk("backup");
    return found;
}

function backupLogLines(): string[] {
    return fs.readFileSync(path.join(app.orbitRoot, "log", "orbinibkp.log"), "utf8").split("\n").filter(Boolean);
}

function writeAtomic(file: string, text: string, mode: number): void {
    const t = `${file}.selftest-${process.pid}`;
    fs.writeFileSync(t, text, { mode });
    fs.renameSync(t, file);
}

// Every process's command line, straight from /proc (to catch a secret in argv).
function commandLines(): string[] {
    const out: string[] = [];
    for (const pid of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(pid)) continue;
        try {
            out.push(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "));
        } catch { /* exited */ }
    }
    return out;
}

describe("the lab (lab/start, the orbit simulator and the backup servers)", function () {
    this.timeout(60000);

    before(async function () {
        lab = loadLab() as Lab;
        assert.ok(lab.appliances.length >= 1, "lab.json lists no appliance");
        const wanted = process.env.LAB_SELFTEST_APPLIANCE;
        app = wanted ? lab.appliances.find((a) => a.name === wanted)! : lab.appliances[lab.appliances.length - 1];
        if (!app) throw new Error(`LAB_SELFTEST_APPLIANCE=${wanted} is not in ${LAB_JSON}`);
        await assertLabServersAnswer([
            ...lab.appliances.map((a): [string, number] => [`${a.name} sshd`, a.port]),
            ["rsync sshd", lab.rsyncServer.port], ["smbd", lab.cifs.port], ["ganesha", lab.nfs.port],
        ]);
        if (!lab.cifs.available || !lab.nfs.available) throw new Error(`this self-test needs the root lab; skipped: ${lab.skipped.join("; ")}`);

        cifsPassword = fs.readFileSync(lab.cifs.passwordPath, "utf8").split("\n")[0];

        // Snapshot what the test changes, then start the appliance from orbit's defaults.
        const conf = path.join(app.orbitRoot, "orbinibkp.conf");
        snapshot.conf = fs.existsSync(conf) ? fs.readFileSync(conf, "utf8") : null;
        // start from an empty event log too: config show reports the last 7 days of it
        const events = path.join(app.orbitRoot, "notifications", "events.log");
        snapshot.events = fs.existsSync(events) ? fs.readFileSync(events, "utf8") : null;
        fs.rmSync(events, { force: true });
        snapshot.keyWasAuthorized = fs.readFileSync(lab.rsyncServer.authorizedKeysPath, "utf8").includes(keyBlob());
        for (const dir of [lab.cifs.localPath, lab.nfs.localPath]) snapshot.writeTests[dir] = fs.existsSync(path.join(dir, "write_test"));
        if (fs.existsSync(conf)) fs.unlinkSync(conf);
    });

    after(function () {
        if (!lab || snapshot.keyWasAuthorized === undefined) return;
        const conf = path.join(app.orbitRoot, "orbinibkp.conf");
        if (snapshot.conf !== undefined) {
            if (snapshot.conf === null) fs.rmSync(conf, { force: true });
            else writeAtomic(conf, snapshot.conf, 0o600);
        }
        fs.rmSync(`${conf}.lock`, { force: true });
        if (snapshot.keyWasAuthorized === false) {
            // remove only the line this test added (other suites share the file)
            const ak = lab.rsyncServer.authorizedKeysPath;
            const text = fs.readFileSync(ak, "utf8");
            if (text.includes(keyBlob())) {
                writeAtomic(ak, text.split("\n").filter((l) => !l.includes(keyBlob())).join("\n"), 0o600);
                const owner = fs.statSync(path.dirname(ak));
                fs.chownSync(ak, owner.uid, owner.gid);
            }
        }
        const events = path.join(app.orbitRoot, "notifications", "events.log");
        if (snapshot.events !== undefined) {
            if (snapshot.events === null) fs.rmSync(events, { force: true });
            else writeAtomic(events, snapshot.events, 0o640);
        }
        spawnSync("bash", [path.join(REPO, "lab", "fill-recordings"), "--appliance", applianceNumber(), "--clear"]);
        for (const base of [lab.rsyncServer.backupPath, lab.cifs.localPath]) {
            for (const id of createdBackups) for (const rel of backupPaths(base, id)) fs.rmSync(path.join(base, rel), { recursive: true, force: true });
        }
        // The NFS export's through NFS: files deleted under a running nfs-ganesha stay in
        // its cache (NFS4ERR_STALE on the next write there).
        const nfsRemovals = createdBackups.flatMap((id) => backupPaths(lab.nfs.localPath, id));
        if (nfsRemovals.length) {
            const script = `const o = require(${JSON.stringify(path.join(REPO, "lab", "appliance", "orbit.js"))});
                (async () => { for (const rel of ${JSON.stringify(nfsRemovals)}) await o.nfsRemove(${JSON.stringify({ host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath })}, rel); })()
                    .catch((e) => { console.error(e.message); process.exit(1); });`;
            const r = spawnSync("node", ["-e", script], { encoding: "utf8" });
            if (r.status !== 0) console.error(`could not remove this run's NFS backups: ${r.stderr}`);
        }
        for (const [dir, existed] of Object.entries(snapshot.writeTests)) if (!existed && dir !== lab.nfs.localPath) fs.rmSync(path.join(dir, "write_test"), { force: true });
    });

    describe("lab.json and the servers", function () {
        it("describes every server, with host key fingerprints that match the pinned keys", function () {
            assert.equal(lab.version, 1);
            assert.equal(lab.root, LAB_ROOT);
            assert.equal((fs.statSync(LAB_JSON).mode & 0o777), 0o644);
            lab.appliances.forEach((a, i) => {
                assert.equal(a.name, `appliance-${i}`);
                assert.equal(a.port, 59022 + i);
                assert.equal(a.host, "127.0.0.1");
                assert.equal(a.hostKeyFingerprint, fingerprintOf(a.hostKey));
                assert.match(a.rootPublicKey, new RegExp(`^ssh-rsa \\S+ root@appliance-${i}$`));
                assert.equal(fs.statSync(a.privateKeyPath).mode & 0o777, 0o600);
                assert.equal(fs.statSync(path.join(a.orbitRoot, "root", ".ssh", "id_rsa")).mode & 0o777, 0o600);
            });
            assert.equal(lab.rsyncServer.hostKeyFingerprint, fingerprintOf(lab.rsyncServer.hostKey));
            assert.equal(lab.rsyncServer.port, 2222);
            assert.equal(lab.cifs.port, 4450);
            assert.equal(lab.nfs.port, 20490);
            assert.ok(fs.existsSync(lab.rsyncServer.operatorPrivateKeyPath), "the senhauser operator key exists");
            assert.equal(fs.statSync(lab.cifs.passwordPath).mode & 0o777, 0o600);
            assert.doesNotMatch(cifsPassword, /[\\&!]/, "the lab's Samba password avoids the vendor's forbidden characters");
        });

        it("pins the rsync server's host key in each appliance root's known_hosts", function () {
            for (const a of lab.appliances) {
                const kh = fs.readFileSync(path.join(a.orbitRoot, "root", ".ssh", "known_hosts"), "utf8");
                assert.ok(kh.includes(`[127.0.0.1]:${lab.rsyncServer.port} ${lab.rsyncServer.hostKey}`), `${a.name} known_hosts lacks the rsync host key`);
            }
        });

        it("registered the lab-cifs credential on the appliance at start", function () {
            const conf = JSON.parse(snapshot.conf ?? "{}");
            assert.ok(conf.credentials?.some((c: any) => c.id === lab.cifs.credentialId && c.user === lab.cifs.user), "the test appliance had lab-cifs");
        });

        it("logs into the appliance sshd as mt4adm with the pinned host key, with ORBIT_ROOT set", function () {
            const r = pinnedSsh(app, "id -un; echo $ORBIT_ROOT");
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(r.stdout.trim().split("\n"), ["mt4adm", app.orbitRoot]);
            assert.match(fs.readFileSync(app.sshdLog, "utf8"), /Accepted publickey for mt4adm from 127\.0\.0\.1/);
        });

        it("logs into the rsync server's sshd as bkpadmin with the pinned host key, with passwordless sudo there", function () {
            const r = bkpadmin("id -un; sudo -n id -u");
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(r.stdout.trim().split("\n"), ["bkpadmin", "0"]);
        });

        it("refuses to connect when the pinned host key is wrong", function () {
            // the rsync server's key pinned for the appliance's address
            const r = pinnedSsh({ ...app, hostKey: lab.rsyncServer.hostKey }, "true");
            assert.equal(r.code, 255);
            assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
        });

        it("refuses a key that is not authorized (senhauser's operator key is not installed by default)", function () {
            const s = lab.rsyncServer;
            const r = pinnedSsh({ host: s.host, port: s.port, user: s.backupUser, privateKeyPath: s.operatorPrivateKeyPath, hostKey: s.hostKey }, "true");
            assert.equal(r.code, 255);
            assert.match(r.stderr, /Permission denied \(publickey\)/);
        });

        it("gives mt4adm sudo for orbit and nothing else", function () {
            const r = pinnedSsh(app, "sudo -n id -u");
            assert.notEqual(r.code, 0);
            assert.match(r.stderr, /a password is required/);
        });

        it("makes orbit refuse an ORBIT_ROOT the lab did not register", function () {
            const r = parseOrbit(pinnedSsh(app, `ORBIT_ROOT=/tmp ${orbitCommand(["version"])}`), ["version"]);
            expectError(r, "internal", 1);
            assert.match(r.json.error.message, /not an appliance root registered/);
        });
    });

    describe("orbit reads and settings", function () {
        it("answers version with contract 2 and the appliance's name", function () {
            assert.deepEqual(expectOk(orbit(["version"])), { ok: true, contract: 2, product: "senhasegura Orbit (lab simulator)", hostname: app.name });
        });

        it("shows the vendor defaults on a fresh appliance", function () {
            const c = show();
            assert.deepEqual(c, {
                ok: true, contract: 2, hostname: app.name,
                backup: {
                    system: true, secrets: false, video: false, masterPasswordSet: false, hour: 5,
                    destination: { mode: "none", partitionId: null },
                    notifications: { email: true, siem: true, emailTo: null },
                },
                partitions: [], credentials: [], rsync: null, lastBackup: null, lastFailure: null, events: [],
                rootKey: { publicKey: app.rootPublicKey, fingerprint: fingerprintOf(app.rootPublicKey) },
            });
            const st = fs.statSync(path.join(app.orbitRoot, "orbinibkp.conf"));
            assert.equal(st.mode & 0o777, 0o600);
            assert.equal(st.uid, 0);
        });

        it("sets the backup hour, answers changed:false when repeated, and rejects 24 and 'x'", function () {
            assert.equal(expectOk(orbit(["backup", "time", "--hour", "3"])).changed, true);
            assert.equal(expectOk(orbit(["backup", "time", "--hour", "3"])).changed, false);
            expectError(orbit(["backup", "time", "--hour", "24"]), "invalid", 3, "hour");
            expectError(orbit(["backup", "time", "--hour", "x"]), "invalid", 3, "hour");
            assert.equal(show().backup.hour, 3);
        });

        it("enables and disables each backup kind; secrets needs a master password on stdin", function () {
            expectError(orbit(["backup", "kind", "enable", "secrets"]), "invalid", 3, "masterPassword");
            expectError(orbit(["backup", "kind", "enable", "secrets"], "short\n"), "invalid", 3, "masterPassword");
            assert.equal(expectOk(orbit(["backup", "kind", "enable", "secrets"], `${MASTER_PASSWORD}\n`)).changed, true);
            assert.equal(expectOk(orbit(["backup", "kind", "enable", "secrets"], `${MASTER_PASSWORD}\n`)).changed, false);
            assert.equal(expectOk(orbit(["backup", "kind", "enable", "video"])).changed, true);
            assert.equal(expectOk(orbit(["backup", "kind", "disable", "system"])).changed, true);
            assert.equal(expectOk(orbit(["backup", "kind", "disable", "system"])).changed, false);
            let b = show().backup;
            assert.deepEqual([b.system, b.secrets, b.video, b.masterPasswordSet], [false, true, true, true]);
            assert.equal(expectOk(orbit(["backup", "kind", "enable", "system"])).changed, true);
            expectError(orbit(["backup", "kind", "enable", "audio"]), "usage", 2);
            b = show().backup;
            assert.deepEqual([b.system, b.secrets, b.video], [true, true, true]);
        });

        it("sets notifications and the e-mail address, and rejects a bad address", function () {
            assert.equal(expectOk(orbit(["backup", "notify", "--email", "off", "--email-to", "ops@example.com"])).changed, true);
            assert.deepEqual(show().backup.notifications, { email: false, siem: true, emailTo: "ops@example.com" });
            assert.equal(expectOk(orbit(["backup", "notify", "--email", "off"])).changed, false);
            expectError(orbit(["backup", "notify", "--email-to", "not-an-address"]), "invalid", 3, "emailTo");
            expectError(orbit(["backup", "notify", "--siem", "maybe"]), "invalid", 3, "siem");
            assert.equal(expectOk(orbit(["backup", "notify", "--email", "on", "--no-email-to"])).changed, true);
            assert.deepEqual(show().backup.notifications, { email: true, siem: true, emailTo: null });
        });

        it("prints the appliance root's public key with its fingerprint", function () {
            const k = expectOk(orbit(["root-key", "show"]));
            assert.equal(k.publicKey, app.rootPublicKey);
            assert.equal(k.fingerprint, fingerprintOf(app.rootPublicKey));
            const lf = spawnSync("ssh-keygen", ["-lf", path.join(app.orbitRoot, "root", ".ssh", "id_rsa.pub")], { encoding: "utf8" });
            assert.ok(lf.stdout.includes(k.fingerprint), "ssh-keygen agrees on the fingerprint");
            // contract 2: config show carries the same key, so a refresh needs one orbit run
            assert.deepEqual(show().rootKey, { publicKey: k.publicKey, fingerprint: k.fingerprint });
        });

        it("answers as contract 1 when lab/appliance-contract says so, and as 2 again after", function () {
            const helper = (v: string) => spawnSync("bash", [path.join(REPO, "lab", "appliance-contract"), "--appliance", app.name.split("-")[1], v], { encoding: "utf8" });
            try {
                assert.equal(helper("1").status, 0);
                assert.equal(expectOk(orbit(["version"])).contract, 1);
                const c = show();
                assert.equal(c.contract, 1);
                for (const k of ["lastFailure", "events", "rootKey"]) assert.ok(!(k in c), `${k} is contract 2 only`);
            } finally {
                assert.equal(helper("2").status, 0);
            }
            assert.equal(show().contract, 2);
            assert.equal(helper("3").status, 2, "only 1 or 2");
        });

        it("answers an unknown command or flag with usage (exit 2)", function () {
            expectError(orbit(["backup", "explode"]), "usage", 2);
            expectError(orbit(["backup", "time", "--hour", "4", "--password", "oops"]), "usage", 2);
            const audit = fs.readFileSync(path.join(app.orbitRoot, "log", "orbit-audit.log"), "utf8");
            assert.ok(!audit.includes("oops"), "a value given to an unknown flag is not written to the audit log");
        });
    });

    describe("credentials and partitions", function () {
        it("registers a credential with its password from stdin, and rejects \\, & and !", function () {
            for (const bad of ["pass\\word", "pass&word", "pass!word"]) {
                expectError(orbit(["credential", "add", "--id", "lab-cifs", "--user", lab.cifs.user], `${bad}\n`), "invalid", 3, "password");
            }
            expectError(orbit(["credential", "add", "--id", "lab-cifs", "--user", lab.cifs.user]), "invalid", 3, "password");
            assert.equal(expectOk(orbit(["credential", "add", "--id", "lab-cifs", "--user", lab.cifs.user], `${cifsPassword}\n`)).changed, true);
            assert.equal(expectOk(orbit(["credential", "add", "--id", "lab-cifs", "--user", lab.cifs.user], `${cifsPassword}\n`)).changed, false);
            assert.equal(expectOk(orbit(["credential", "add", "--id", "spare", "--user", "someone", "--domain", "CORP"], "Spare-pass-1\n")).changed, true);
            assert.equal(expectOk(orbit(["credential", "remove", "--id", "spare"])).changed, true);
            assert.equal(expectOk(orbit(["credential", "remove", "--id", "spare"])).changed, false);
            assert.deepEqual(show().credentials, [{ id: "lab-cifs", user: lab.cifs.user, domain: null }]);
        });

        it("rejects partitions with bad values, naming the field", function () {
            const base = ["partition", "add", "--id", "p1", "--protocol", "nfs", "--host", "127.0.0.1", "--port", String(lab.nfs.port), "--no-mount"];
            for (const bad of ["relative/path", "/a/../b", "/a//b", "/a b", "/semi;colon"]) {
                expectError(orbit([...base, "--path", bad]), "invalid", 3, "path");
            }
            expectError(orbit(["partition", "add", "--id", "p1", "--protocol", "nfs", "--host", "999.1.1.1", "--path", "/x", "--no-mount"]), "invalid", 3, "host");
            expectError(orbit(["partition", "add", "--id", "p1", "--protocol", "nfs", "--host", "bad_host!", "--path", "/x", "--no-mount"]), "invalid", 3, "host");
            expectError(orbit(["partition", "add", "--id", "p1", "--protocol", "nfs", "--host", "h", "--port", "65536", "--path", "/x", "--no-mount"]), "invalid", 3, "port");
            expectError(orbit(["partition", "add", "--id", "P_1", "--protocol", "nfs", "--host", "h", "--path", "/x", "--no-mount"]), "invalid", 3, "id");
            expectError(orbit(["partition", "add", "--id", "p1", "--protocol", "smb", "--host", "h", "--path", "/x", "--no-mount"]), "invalid", 3, "protocol");
            expectError(orbit([...base, "--path", "/x", "--user", "u"]), "invalid", 3, "user");
            const cifs = ["partition", "add", "--id", "p1", "--protocol", "cifs", "--host", "127.0.0.1", "--port", String(lab.cifs.port), "--path", "/backup", "--no-mount"];
            for (const bad of ["a\\b", "a&b", "a!b"]) {
                expectError(orbit([...cifs, "--user", "u", "--password-stdin"], `${bad}\n`), "invalid", 3, "password");
            }
            expectError(orbit([...cifs, "--user", "u"]), "invalid", 3, "password");
            expectError(orbit([...cifs, "--credential-id", "nope"]), "not_found", 4);
            assert.deepEqual(show().partitions, [], "no rejected partition was stored");
        });

        it("adds a CIFS partition with a password, mounts it with smbclient and writes write_test", function () {
            const p = expectOk(orbit(["partition", "add", "--id", "cifs-share", "--protocol", "cifs", "--host", lab.cifs.host,
                "--port", String(lab.cifs.port), "--path", lab.cifs.remotePath, "--user", lab.cifs.user, "--password-stdin"], `${cifsPassword}\n`)).partition;
            assert.equal(p.mounted, true);
            assert.equal(p.passwordSet, true);
            assert.equal(p.user, lab.cifs.user);
            assert.ok(!Number.isNaN(Date.parse(p.mountedAt)));
            assert.match(fs.readFileSync(path.join(lab.cifs.localPath, "write_test"), "utf8"), new RegExp(`write test from ${app.name}`));
            expectError(orbit(["partition", "add", "--id", "cifs-share", "--protocol", "nfs", "--host", "h", "--path", "/x", "--no-mount"]), "conflict", 8);
        });

        it("adds a CIFS partition that uses the registered lab-cifs credential", function () {
            const p = expectOk(orbit(["partition", "add", "--id", "cifs-cred", "--protocol", "cifs", "--host", lab.cifs.host,
                "--port", String(lab.cifs.port), "--path", lab.cifs.remotePath, "--credential-id", lab.cifs.credentialId])).partition;
            assert.deepEqual([p.mounted, p.credentialId, p.user, p.passwordSet], [true, lab.cifs.credentialId, null, false]);
            expectError(orbit(["credential", "remove", "--id", lab.cifs.credentialId]), "conflict", 8);
        });

        it("fails to mount a CIFS partition with a wrong password: keeps it unmounted, exits unreachable", function () {
            const r = orbit(["partition", "add", "--id", "cifs-wrong", "--protocol", "cifs", "--host", lab.cifs.host,
                "--port", String(lab.cifs.port), "--path", lab.cifs.remotePath, "--user", lab.cifs.user, "--password-stdin"], "Wrong-password-1\n");
            expectError(r, "unreachable", 6);
            assert.match(r.json.error.message, /LOGON_FAILURE/);
            const p = show().partitions.find((x: any) => x.id === "cifs-wrong");
            assert.deepEqual([p.mounted, p.passwordSet], [false, true]);
            assert.equal(expectOk(orbit(["partition", "remove", "--id", "cifs-wrong"])).changed, true);
        });

        it("adds an NFS partition and mounts it with nfs-ls and nfs-cp, again and again", function () {
            const add = ["partition", "add", "--id", "nfs-export", "--protocol", "nfs", "--host", lab.nfs.host, "--port", String(lab.nfs.port), "--path", lab.nfs.remotePath];
            const p = expectOk(orbit(add)).partition;
            assert.deepEqual([p.mounted, p.user, p.domain, p.credentialId, p.passwordSet], [true, null, null, null, false]);
            assert.ok(fs.existsSync(path.join(lab.nfs.localPath, "write_test")));
            // a second mount replaces the existing write_test (nfs-cp alone cannot)
            const again = expectOk(orbit(["partition", "mount", "--id", "nfs-export"]));
            assert.equal(again.changed, false);
            assert.equal(again.partition.mounted, true);
        });

        it("unmounts and remounts a partition, idempotently", function () {
            assert.equal(expectOk(orbit(["partition", "unmount", "--id", "nfs-export"])).changed, true);
            assert.equal(expectOk(orbit(["partition", "unmount", "--id", "nfs-export"])).changed, false);
            assert.equal(show().partitions.find((x: any) => x.id === "nfs-export").mounted, false);
            assert.equal(expectOk(orbit(["partition", "mount", "--id", "nfs-export"])).changed, true);
            expectError(orbit(["partition", "mount", "--id", "nope"]), "not_found", 4);
            expectError(orbit(["partition", "unmount", "--id", "nope"]), "not_found", 4);
        });

        it("updates a partition: identical is changed:false, the password is kept for the same user", function () {
            const upd = ["partition", "update", "--id", "cifs-share", "--protocol", "cifs", "--host", lab.cifs.host,
                "--port", String(lab.cifs.port), "--path", lab.cifs.remotePath, "--user", lab.cifs.user];
            const same = expectOk(orbit(upd));
            assert.equal(same.changed, false);
            assert.equal(same.partition.passwordSet, true);
            const moved = expectOk(orbit([...upd, "--domain", "WORKGROUP"]));
            assert.equal(moved.changed, true);
            assert.equal(moved.partition.domain, "WORKGROUP");
            assert.equal(moved.partition.mounted, true, "the updated partition is mounted again with the kept password");
            expectError(orbit(["partition", "update", "--id", "ghost", "--protocol", "nfs", "--host", "h", "--path", "/x"]), "not_found", 4);
            expectError(orbit(["partition", "update", "--id", "cifs-share", "--protocol", "cifs", "--host", lab.cifs.host,
                "--path", lab.cifs.remotePath, "--user", "other-user"]), "invalid", 3, "password");
        });
    });

    describe("backups to the three servers", function () {
        it("reports the rsync target unreachable until the root key is authorized, then reachable through rrsync", function () {
            const r = lab.rsyncServer;
            assert.equal(expectOk(orbit(["rsync", "set", "--user", r.backupUser, "--host", r.host, "--port", String(r.port), "--path", r.backupPath])).changed, true);
            assert.equal(expectOk(orbit(["rsync", "set", "--user", r.backupUser, "--host", r.host, "--port", String(r.port), "--path", r.backupPath])).changed, false);
            expectError(orbit(["rsync", "set", "--user", r.backupUser, "--host", r.host, "--path", "/files/../etc"]), "invalid", 3, "path");
            assert.deepEqual(show().rsync, { user: r.backupUser, host: r.host, port: r.port, path: r.backupPath });
            // start from a target that does not know the appliance's key
            const strip = bkpadmin(`sudo -n sed -i ${shellQuote(`\\|${app.rootPublicKey.split(" ")[1]}|d`)} ${shellQuote(r.authorizedKeysPath)}`);
            assert.equal(strip.code, 0, strip.stderr);
            const before = expectOk(orbit(["rsync", "test"]));
            assert.equal(before.reachable, false);
            assert.match(before.error, /Permission denied \(publickey\)/);
            assert.equal(typeof before.durationMs, "number");
            authorizeAppliance();
            assert.match(fs.readFileSync(r.authorizedKeysPath, "utf8"), new RegExp(`^restrict,command="rrsync -wo -no-lock -absolute ${r.backupPath}" ssh-rsa `, "m"));
            const after = expectOk(withAuthorizedKey(() => orbit(["rsync", "test"]), (x) => x.json.reachable === true));
            assert.equal(after.reachable, true, JSON.stringify(after));
        });

        it("refuses a backup without a destination, and to select a destination that does not exist", function () {
            expectError(orbit(["backup", "create"]), "invalid", 3, "destination");
            expectError(orbit(["backup", "destination", "partition", "--partition", "ghost"]), "conflict", 8);
            expectError(orbit(["backup", "destination", "partition"]), "invalid", 3, "partitionId");
        });

        it("completes orbit backup create over rsync and the files are on the rsync server", function () {
            assert.equal(expectOk(orbit(["backup", "destination", "rsync"])).changed, true);
            const logBefore = backupLogLines().length;
            const s = expectOk(withAuthorizedKey(() => orbit(["backup", "create"]), (x) => x.code === 0));
            createdBackups.push(s.id);
            assert.match(s.id, /^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
            assert.equal(s.destination, `rsync://${lab.rsyncServer.backupUser}@127.0.0.1:${lab.rsyncServer.port}${lab.rsyncServer.backupPath}`);
            const last = checkBackupOnFarSide(lab.rsyncServer.backupPath, s, ["system", "secrets", "video"], { encrypted: true });
            for (const f of s.files) {
                const owner = fs.statSync(path.join(lab.rsyncServer.backupPath, f)).uid;
                assert.equal(owner, fs.statSync(lab.rsyncServer.backupPath).uid, `${f} belongs to the rsync user`);
            }
            const lines = backupLogLines();
            assert.ok(lines.length > logBefore);
            assert.equal(lines.filter((l) => l.includes(`backup ${s.id} `)).length, 1, "one backup log line per run");
            assert.match(lines[lines.length - 1], new RegExp(`backup ${s.id} status=ok`));
            const c = show();
            assert.deepEqual(c.lastBackup, last, "lastBackup: the report without ok and without the manifest's file list");
            assert.equal(c.lastFailure, null);
        });

        it("lab/age-backup makes the last backup look older, in orbit's configuration and in the manifest on the rsync server", function () {
            checkAged(30, (rel) => fs.readFileSync(path.join(lab.rsyncServer.backupPath, rel)));
            const st = fs.statSync(path.join(lab.rsyncServer.backupPath, show().lastBackup.manifest.path));
            assert.equal(st.uid, fs.statSync(lab.rsyncServer.backupPath).uid, "the rewritten manifest keeps its owner");
        });

        it("prints a readable summary with the transfer duration without --json", function () {
            const r = withAuthorizedKey(() => pinnedSsh(app, "sudo -n orbit backup create"), (x) => x.code === 0);
            outputs.push(r.stdout, r.stderr);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /Rsync transfer completed: 5 files/);
            assert.match(r.stdout, /Transfer duration: \d+\.\d\d s/);
            const id = /Backup (\S+) started/.exec(r.stdout)?.[1];
            assert.ok(id);
            createdBackups.push(id);
            assert.match(r.stdout, new RegExp(`backup/secrets/${id}\\.secrets\\.enc \\(\\d+ bytes, encrypted, 2 entries, sha256 [0-9a-f]{64}\\)`));
            assert.ok(fs.existsSync(path.join(lab.rsyncServer.backupPath, "backup", "manifests", `${id}.json`)));
        });

        it("refuses to clear the rsync target while it is the active destination", function () {
            expectError(orbit(["rsync", "clear"]), "conflict", 8);
        });

        it("completes orbit backup create to CIFS (smbclient) and the files are in the share", async function () {
            assert.equal(expectOk(orbit(["backup", "destination", "partition", "--partition", "cifs-share"])).changed, true);
            // watch the process list while orbit works: the password must never be in an argv
            let scans = 0;
            let sawOrbit = false;
            const leaks: string[] = [];
            let running = true;
            const watcher = (async () => {
                while (running) {
                    for (const c of commandLines()) {
                        if (c.includes(cifsPassword)) leaks.push(c);
                        if (/orbit(\.js)? .*(backup|partition)/.test(c)) sawOrbit = true;
                    }
                    scans++;
                    await new Promise((r) => setTimeout(r, 5));
                }
            })();
            const runs = await Promise.all([orbitAsync(["backup", "create"]), orbitAsync(["partition", "mount", "--id", "cifs-share"]), orbitAsync(["backup", "check"])]);
            running = false;
            await watcher;
            const s = expectOk(runs[0]);
            createdBackups.push(s.id);
            expectOk(runs[1]);
            assert.equal(expectOk(runs[2]).reachable, true);
            assert.equal(s.destination, `cifs://127.0.0.1:${lab.cifs.port}${lab.cifs.remotePath}`);
            checkBackupOnFarSide(lab.cifs.localPath, s, ["system", "secrets", "video"], { encrypted: true });
            checkAged(2, (rel) => fs.readFileSync(path.join(lab.cifs.localPath, rel)));
            assert.ok(scans > 5 && sawOrbit, `the process list was watched while orbit ran (${scans} scans)`);
            assert.deepEqual(leaks, [], "the CIFS password appeared in a process's argv");
        });

        it("completes orbit backup create to CIFS through the registered lab-cifs credential; without a master key db and arz are plain .tar.gz", function () {
            assert.equal(expectOk(orbit(["backup", "kind", "disable", "secrets"])).changed, true);
            assert.equal(show().backup.masterPasswordSet, false, "disabling secrets forgets the master password");
            expectOk(orbit(["backup", "destination", "partition", "--partition", "cifs-cred"]));
            const s = expectOk(orbit(["backup", "create"]));
            createdBackups.push(s.id);
            checkBackupOnFarSide(lab.cifs.localPath, s, ["system", "video"], { encrypted: false });
            assert.ok(s.files.every((f: string) => !f.endsWith(".enc")), "no .enc file without a master key");
            expectOk(orbit(["backup", "kind", "enable", "secrets"], `${MASTER_PASSWORD}\n`));
        });

        it("completes orbit backup create to NFS in the vendor layout, with archives of several MiB (lab/fill-recordings), and ages it through NFS", function () {
            expectOk(orbit(["backup", "destination", "partition", "--partition", "nfs-export"]));
            // More than libnfs-utils 4.0's nfs-cp can write (about 4000 bytes): orbit's own NFSv4 writer carries it.
            assert.match(labHelper("fill-recordings", ["--mib", "3"]), /wrote 3 MiB of random data/);
            const s = expectOk(orbit(["backup", "create"]));
            createdBackups.push(s.id);
            assert.equal(s.destination, `nfs://127.0.0.1:${lab.nfs.port}${lab.nfs.remotePath}`);
            checkBackupOnFarSide(lab.nfs.localPath, s, ["system", "secrets", "video"], { encrypted: true });
            const arz = s.manifest.files.find((f: any) => f.role === "arz");
            assert.ok(arz.size > 3 * 1024 * 1024, `the arz archive carries the bulk recordings (${arz.size} bytes)`);
            assert.equal(arz.entries, 4, "recordings/, the stand-in session, bulk/ and one bulk file");
            assert.match(labHelper("fill-recordings", ["--clear"]), /removed .*recordings\/bulk \(3\.0 MiB\)/);
            assert.equal(expectOk(orbit(["backup", "check"])).reachable, true);
            // what nfs-ganesha serves, not only what its directory holds
            const nfsCat = (rel: string) => {
                const r = spawnSync("nfs-cat", [`nfs://${lab.nfs.host}${lab.nfs.remotePath}/${rel}?version=4&nfsport=${lab.nfs.port}`], { maxBuffer: 16 * 1024 * 1024 });
                assert.equal(r.status, 0, r.stderr?.toString());
                return r.stdout;
            };
            checkAged(27, nfsCat);
            assert.deepEqual(nfsCat(s.manifest.path), fs.readFileSync(path.join(lab.nfs.localPath, s.manifest.path)));
        });

        it("refuses to remove the partition that is the active destination", function () {
            expectError(orbit(["partition", "remove", "--id", "nfs-export"]), "conflict", 8);
            assert.ok(show().partitions.some((p: any) => p.id === "nfs-export"));
        });

        it("records a remote_directory_lost notification and exits unreachable when the destination is gone", function () {
            const email = path.join(app.orbitRoot, "notifications", "email.log");
            const siem = path.join(app.orbitRoot, "notifications", "siem.log");
            const count = (f: string) => fs.readFileSync(f, "utf8").split("\n").filter(Boolean).length;
            const [e0, s0] = [count(email), count(siem)];
            // a port where nothing listens on loopback
            expectOk(orbit(["partition", "add", "--id", "nfs-dead", "--protocol", "nfs", "--host", "127.0.0.1", "--port", "1", "--path", "/senhasegura", "--no-mount"]));
            expectOk(orbit(["backup", "destination", "partition", "--partition", "nfs-dead"]));
            const t0 = Date.now();
            const r = orbit(["backup", "create"]);
            expectError(r, "unreachable", 6);
            assert.ok(Date.now() - t0 < 30000, "a dead server does not hang orbit");
            assert.equal(count(email), e0 + 1);
            assert.equal(count(siem), s0 + 1);
            const ev = JSON.parse(fs.readFileSync(siem, "utf8").trim().split("\n").pop()!);
            assert.equal(ev.kind, "remote_directory_lost");
            assert.equal(ev.destination, "nfs://127.0.0.1:1/senhasegura");
            assert.ok(ev.error && !Number.isNaN(Date.parse(ev.time)));
            assert.match(backupLogLines().pop()!, /status=failed .*code=unreachable/);
            // config show: the failure, and the event whatever the channels
            const c = show();
            assert.deepEqual(Object.keys(c.lastFailure).sort(), ["code", "destination", "id", "message", "time"]);
            assert.equal(c.lastFailure.code, "unreachable");
            assert.equal(c.lastFailure.id, /backup (\S+) status=failed/.exec(backupLogLines().pop()!)![1]);
            assert.equal(c.lastFailure.destination, "nfs://127.0.0.1:1/senhasegura");
            assert.equal(c.lastFailure.message, r.json.error.message);
            assert.deepEqual(c.events.at(-1), { time: ev.time, kind: "remote_directory_lost", hostname: app.name, destination: ev.destination, error: ev.error });
            const events0 = c.events.length;
            // only SIEM when e-mail is off
            expectOk(orbit(["backup", "notify", "--email", "off"]));
            expectError(orbit(["backup", "check"]), "unreachable", 6);
            assert.equal(count(email), e0 + 1);
            assert.equal(count(siem), s0 + 2);
            // no channel at all: the event is still kept
            expectOk(orbit(["backup", "notify", "--siem", "off"]));
            expectError(orbit(["backup", "check"]), "unreachable", 6);
            assert.equal(count(siem), s0 + 2);
            assert.equal(show().events.length, events0 + 2, "config show lists events whether or not e-mail and SIEM are on");
            expectOk(orbit(["backup", "notify", "--email", "on", "--siem", "on"]));
            expectError(orbit(["partition", "mount", "--id", "nfs-dead"]), "unreachable", 6);
            assert.equal(count(siem), s0 + 3, "a failed mount records a notification too");
            assert.equal(show().events.length, events0 + 3);
            assert.match(labHelper("notify-lost", ["--error", "lab test"]), /recorded .*"kind":"remote_directory_lost"/);
            const last = show().events.at(-1);
            assert.deepEqual([last.kind, last.hostname, last.destination, last.error], ["remote_directory_lost", app.name, "nfs://127.0.0.1:1/senhasegura", "lab test"]);
            expectOk(orbit(["backup", "destination", "none"]));
            assert.equal(expectOk(orbit(["partition", "remove", "--id", "nfs-dead"])).changed, true);
            assert.equal(expectOk(orbit(["partition", "remove", "--id", "nfs-dead"])).changed, false);
        });

        it("reports only the events of the last 7 days in config show, at most 20, oldest first", function () {
            const file = path.join(app.orbitRoot, "notifications", "events.log");
            const kept = fs.readFileSync(file, "utf8");
            try {
                const now = Date.now();
                const event = (ageMs: number, i: number) => JSON.stringify({ time: new Date(now - ageMs).toISOString(), kind: "remote_directory_lost", hostname: app.name, destination: "nfs://127.0.0.1:1/x", error: `e${i}` });
                const lines = [event(8 * DAY_MS, 0), "not json", ...Array.from({ length: 25 }, (_, i) => event((25 - i) * 3600 * 1000, i + 1))];
                writeAtomic(file, lines.join("\n") + "\n", 0o640);
                const events = show().events;
                assert.equal(events.length, 20);
                assert.deepEqual(events.map((e: any) => e.error), Array.from({ length: 20 }, (_, i) => `e${i + 6}`), "the newest 20, oldest first");
            } finally {
                writeAtomic(file, kept, 0o640);
            }
        });

        it("fails with invalid when no backup kind is on, and a successful backup clears lastFailure", function () {
            expectOk(orbit(["backup", "destination", "rsync"]));
            for (const k of ["system", "secrets", "video"]) expectOk(orbit(["backup", "kind", "disable", k]));
            expectError(orbit(["backup", "create"]), "invalid", 3, "kinds");
            const failure = show().lastFailure;
            assert.equal(failure.code, "invalid");
            assert.match(failure.message, /no backup kind is enabled/);
            expectOk(orbit(["backup", "kind", "enable", "system"]));
            const s = expectOk(withAuthorizedKey(() => orbit(["backup", "create"]), (x) => x.code === 0));
            createdBackups.push(s.id);
            const c = show();
            assert.equal(c.lastFailure, null, "a successful backup clears the last failure");
            assert.equal(c.lastBackup.id, s.id);
            expectOk(orbit(["backup", "destination", "none"]));
            assert.equal(expectOk(orbit(["rsync", "clear"])).changed, true);
            assert.equal(expectOk(orbit(["rsync", "clear"])).changed, false);
            assert.equal(expectOk(orbit(["rsync", "test"])).reachable, false);
        });
    });

    describe("the lock, the audit log and secrets", function () {
        it("fails with locked while another live process holds the lock, and breaks a stale lock", function () {
            const lock = path.join(app.orbitRoot, "orbinibkp.conf.lock");
            fs.writeFileSync(lock, `${process.pid}\n`); // this (live) test process holds it
            try {
                const t0 = Date.now();
                const r = orbit(["backup", "time", "--hour", "7", "--lock-timeout-sec", "1"]);
                expectError(r, "locked", 5);
                assert.ok(Date.now() - t0 >= 1000, "orbit waited for the lock timeout");
                assert.notEqual(show().backup.hour, 7, "reads need no lock, and the change did not happen");
            } finally {
                fs.rmSync(lock, { force: true });
            }
            const dead = spawnSync("true");
            fs.writeFileSync(lock, `${dead.pid}\n`); // a holder that has exited
            assert.equal(expectOk(orbit(["backup", "time", "--hour", "7", "--lock-timeout-sec", "1"])).changed, true);
            assert.ok(!fs.existsSync(lock), "the stale lock was broken and the new one released");
        });

        it("serialises concurrent orbit calls: all succeed and the configuration stays valid", async function () {
            const hours = [10, 11, 12, 13, 14, 15, 16, 17];
            const runs = await Promise.all(hours.map((h) => orbitAsync(["backup", "time", "--hour", String(h)])));
            for (const r of runs) expectOk(r);
            const conf = JSON.parse(fs.readFileSync(path.join(app.orbitRoot, "orbinibkp.conf"), "utf8"));
            assert.ok(hours.includes(conf.backup.hour));
            const leftovers = fs.readdirSync(app.orbitRoot).filter((f) => f.includes(".tmp-") || f.endsWith(".lock"));
            assert.deepEqual(leftovers, [], "no temp file or lock is left behind");
        });

        it("writes one audit line per call with the calling user and exit code, without secrets", function () {
            const lines = fs.readFileSync(path.join(app.orbitRoot, "log", "orbit-audit.log"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
            const mine = lines.filter((l) => l.user === "mt4adm");
            assert.ok(mine.length >= 60, `the audit log holds this run's calls (${mine.length})`);
            for (const l of mine) {
                assert.ok(!Number.isNaN(Date.parse(l.time)) && Array.isArray(l.argv) && Number.isInteger(l.exit));
            }
            assert.ok(mine.some((l) => l.exit === 5 && l.code === "locked"));
            assert.ok(mine.some((l) => l.argv.includes("--password-stdin")));
            const text = JSON.stringify(lines);
            assert.ok(!text.includes(cifsPassword), "the CIFS password is not in the audit log");
            assert.ok(!text.includes(MASTER_PASSWORD), "the master password is not in the audit log");
        });

        it("never prints the CIFS password or the master password in orbit's output", function () {
            assert.ok(outputs.length > 100);
            const all = outputs.join("\n");
            assert.ok(!all.includes(cifsPassword));
            assert.ok(!all.includes(MASTER_PASSWORD));
            assert.ok(!all.includes("Wrong-password-1"));
        });
    });
});
