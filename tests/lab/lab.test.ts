// The lab's self-test: real sshd, real orbit over ssh + sudo, real rsync/Samba/NFS.
// It needs a started lab (bash lab/start) and fails loudly, never skips, without one.
// It takes the lab's last appliance (or $LAB_SELFTEST_APPLIANCE) for its run, so
// `lab/start --appliances 2` lets it run beside suites that drive appliance-0.
// It puts back what it changed:
// that appliance's orbit configuration, its own line in senhauser's
// authorized_keys and the backups and write_test files it created.
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
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
const snapshot: { conf?: string | null; keyWasAuthorized?: boolean; writeTests: Record<string, boolean> } = { writeTests: {} };

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

/** secrets.enc: "OSEC" | 1 | salt(16) | iv(12) | tag(16) | ciphertext; scrypt N=16384 r=8 p=1. */
function decryptSecrets(buf: Buffer, password: string): string {
    assert.equal(buf.subarray(0, 4).toString(), "OSEC");
    assert.equal(buf[4], 1);
    const salt = buf.subarray(5, 21);
    const iv = buf.subarray(21, 33);
    const tag = buf.subarray(33, 49);
    const key = crypto.scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 });
    const d = crypto.createDecipheriv("aes-256-gcm", key, iv);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(buf.subarray(49)), d.final()]).toString("utf8");
}

function checkBackupOnFarSide(localRoot: string, summary: any, kinds: string[]): void {
    assert.deepEqual(summary.kinds, kinds);
    assert.equal(summary.files.length, kinds.length);
    let bytes = 0;
    for (const f of summary.files as string[]) {
        const p = path.join(localRoot, f);
        assert.ok(fs.existsSync(p), `${p} is missing on the far side`);
        bytes += fs.statSync(p).size;
    }
    assert.equal(bytes, summary.bytes, "the far side holds exactly the bytes orbit reported");
    const system = summary.files.find((f: string) => f.startsWith("backup/system/"));
    if (system) {
        assert.equal(system, `backup/system/${summary.id}/system.tar.gz`);
        const list = spawnSync("tar", ["-tzf", path.join(localRoot, system)], { encoding: "utf8" });
        assert.equal(list.status, 0, list.stderr);
        assert.match(list.stdout, /^data\/system\/settings\.json$/m);
    }
    const secrets = summary.files.find((f: string) => f.startsWith("backup/secrets/"));
    if (secrets) {
        assert.equal(secrets, `backup/secrets/${summary.id}/secrets.enc`);
        const plain = decryptSecrets(fs.readFileSync(path.join(localRoot, secrets)), MASTER_PASSWORD);
        assert.ok(Array.isArray(JSON.parse(plain).secrets), "secrets.enc decrypts to the appliance's secrets");
    }
    const video = summary.files.find((f: string) => f.startsWith("backup/video/"));
    if (video) {
        assert.equal(video, `backup/video/${summary.id}/sessions.tar.gz`);
        const list = spawnSync("tar", ["-tzf", path.join(localRoot, video)], { encoding: "utf8" });
        assert.match(list.stdout, /recordings\/session-0001\.cast/);
    }
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
        // Not the NFS export: deleting files under a running nfs-ganesha leaves its cache
        // stale (NFS4ERR_STALE on the next write_test). Those files stay; the next
        // 'lab/start --reset' (run with the lab stopped) clears them.
        for (const base of [lab.rsyncServer.backupPath, lab.cifs.localPath]) {
            for (const id of createdBackups) {
                for (const kind of ["system", "secrets", "video"]) fs.rmSync(path.join(base, "backup", kind, id), { recursive: true, force: true });
            }
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
        it("answers version with contract 1 and the appliance's name", function () {
            assert.deepEqual(expectOk(orbit(["version"])), { ok: true, contract: 1, product: "senhasegura Orbit (lab simulator)", hostname: app.name });
        });

        it("shows the vendor defaults on a fresh appliance", function () {
            const c = show();
            assert.deepEqual(c, {
                ok: true, contract: 1, hostname: app.name,
                backup: {
                    system: true, secrets: false, video: false, masterPasswordSet: false, hour: 5,
                    destination: { mode: "none", partitionId: null },
                    notifications: { email: true, siem: true, emailTo: null },
                },
                partitions: [], credentials: [], rsync: null, lastBackup: null,
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
            checkBackupOnFarSide(lab.rsyncServer.backupPath, s, ["system", "secrets", "video"]);
            const owner = fs.statSync(path.join(lab.rsyncServer.backupPath, s.files[0])).uid;
            assert.equal(owner, fs.statSync(lab.rsyncServer.backupPath).uid, "the files belong to the rsync user");
            const lines = backupLogLines();
            assert.ok(lines.length > logBefore);
            assert.equal(lines.filter((l) => l.includes(`backup ${s.id} `)).length, 1, "one backup log line per run");
            assert.match(lines[lines.length - 1], new RegExp(`backup ${s.id} status=ok`));
            const { ok, ...summary } = s;
            assert.equal(ok, true);
            assert.deepEqual(show().lastBackup, summary);
        });

        it("prints a readable summary with the transfer duration without --json", function () {
            const r = withAuthorizedKey(() => pinnedSsh(app, "sudo -n orbit backup create"), (x) => x.code === 0);
            outputs.push(r.stdout, r.stderr);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /Rsync transfer completed: 3 files/);
            assert.match(r.stdout, /Transfer duration: \d+\.\d\d s/);
            const id = /Backup (\S+) started/.exec(r.stdout)?.[1];
            assert.ok(id);
            createdBackups.push(id);
            assert.ok(fs.existsSync(path.join(lab.rsyncServer.backupPath, "backup", "system", id, "system.tar.gz")));
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
            checkBackupOnFarSide(lab.cifs.localPath, s, ["system", "secrets", "video"]);
            assert.ok(scans > 5 && sawOrbit, `the process list was watched while orbit ran (${scans} scans)`);
            assert.deepEqual(leaks, [], "the CIFS password appeared in a process's argv");
        });

        it("completes orbit backup create to CIFS through the registered lab-cifs credential", function () {
            assert.equal(expectOk(orbit(["backup", "kind", "disable", "secrets"])).changed, true);
            assert.equal(show().backup.masterPasswordSet, false, "disabling secrets forgets the master password");
            expectOk(orbit(["backup", "destination", "partition", "--partition", "cifs-cred"]));
            const s = expectOk(orbit(["backup", "create"]));
            createdBackups.push(s.id);
            checkBackupOnFarSide(lab.cifs.localPath, s, ["system", "video"]);
            expectOk(orbit(["backup", "kind", "enable", "secrets"], `${MASTER_PASSWORD}\n`));
        });

        it("completes orbit backup create to NFS (nfs-cp) in the backup/<kind>/<id>/ layout", function () {
            expectOk(orbit(["backup", "destination", "partition", "--partition", "nfs-export"]));
            const s = expectOk(orbit(["backup", "create"]));
            createdBackups.push(s.id);
            assert.equal(s.destination, `nfs://127.0.0.1:${lab.nfs.port}${lab.nfs.remotePath}`);
            checkBackupOnFarSide(lab.nfs.localPath, s, ["system", "secrets", "video"]);
            assert.equal(expectOk(orbit(["backup", "check"])).reachable, true);
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
            // only SIEM when e-mail is off
            expectOk(orbit(["backup", "notify", "--email", "off"]));
            expectError(orbit(["backup", "check"]), "unreachable", 6);
            assert.equal(count(email), e0 + 1);
            assert.equal(count(siem), s0 + 2);
            expectOk(orbit(["backup", "notify", "--email", "on"]));
            expectError(orbit(["partition", "mount", "--id", "nfs-dead"]), "unreachable", 6);
            assert.equal(count(siem), s0 + 3, "a failed mount records a notification too");
            expectOk(orbit(["backup", "destination", "none"]));
            assert.equal(expectOk(orbit(["partition", "remove", "--id", "nfs-dead"])).changed, true);
            assert.equal(expectOk(orbit(["partition", "remove", "--id", "nfs-dead"])).changed, false);
        });

        it("fails with invalid when no backup kind is on", function () {
            expectOk(orbit(["backup", "destination", "rsync"]));
            for (const k of ["system", "secrets", "video"]) expectOk(orbit(["backup", "kind", "disable", k]));
            expectError(orbit(["backup", "create"]), "invalid", 3, "kinds");
            expectOk(orbit(["backup", "kind", "enable", "system"]));
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
