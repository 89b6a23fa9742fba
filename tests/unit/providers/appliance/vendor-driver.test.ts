// The vendor driver (providers/appliance/vendor-driver.ts, vendor-reads.ts, select.ts)
// over a fake transport that answers as a real appliance's documented commands do;
// the known_hosts edit script run by the local shell on a scratch file; and how a
// command runs as root with a sudo password (providers/transport/shell.ts).
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ApplianceConnection } from "../../../../providers/appliance/connection";
import { verificationCommand, verificationStdin } from "../../../../providers/appliance/backup-command";
import { vendorSummary } from "../../../../providers/resources/backup-verification";
import { driverFromVersion, driverName, forgetDetectedDrivers } from "../../../../providers/appliance/select";
import {
    VendorDriver, expectRsyncProof, forgetExpectedProofs, knownHostsAddScript, knownHostsName, proofKey, rsyncReach, rsyncWriteTestArgv,
} from "../../../../providers/appliance/vendor-driver";
import { parseReads, readScript } from "../../../../providers/appliance/vendor-reads";
import { resolvedPaths } from "../../../../providers/appliance/connection";
import { forgetAllSharedReads } from "../../../../providers/transport/shared-reads";
import { BackupProviderError } from "../../../../providers/transport/errors";
import { SUDO_WITH_PASSWORD_SCRIPT, sudoLine, sudoRefusal } from "../../../../providers/transport/shell";
import { type CommandResult, type RemoteCommand, sshPool } from "../../../../providers/transport/ssh";
import { ed25519PublicKey } from "../../../support/keys";

const ROOT_KEY = ed25519PublicKey("root@appliance-0");
const VERSION = "senhasegura Orbit Command-Line Interface\nVersion 3.31.1-4\n+----+\n| orbini-fwk | 3.31.1-9 |\n| senhasegura-pam | 3.31.1-5 |\n+----+\n";

/** What a vendor appliance answers each command with; `hour` is its state, `rsync` its write tests' answer. */
function vendorAppliance(state: { hour: number; version?: string; fstab?: string; mounts?: string; rsync?: [string, number] }) {
    const rsync = () => state.rsync ?? ["", 0];
    return (command: RemoteCommand): CommandResult => {
        const argv = command.argv;
        if (argv[0] === "sh" && argv[1] === "-c" && argv[2].startsWith("b=")) {
            // The batched read script: answer each item it asks, as the appliance would, in its frame.
            const boundary = /^b=([0-9a-f]+)/.exec(argv[2])![1];
            const items: Record<string, [string, number]> = {
                version: [state.version ?? VERSION, 0], hour: [`Backup daily time: ${state.hour}`, 0], rootKey: [`${ROOT_KEY}\n`, 0],
                hostname: ["appliance-0\n", 0], fstab: [state.fstab ?? "# empty\n", 0], mounts: [state.mounts ?? "/dev/sda1 / ext4 rw 0 0\n", 0],
                writeTest: ["stat: cannot statx '/srv/backup_remoto/write_test': No such file or directory", 1],
            };
            const asked = [...argv[2].matchAll(/"\$b" (\w+); (\S+)/g)].map((m) => ({ name: m[1], program: m[2] }));
            const out = asked.map(({ name, program }) => {
                const [text, rc] = items[name] ?? (program === "rsync" ? rsync() : ["sh: unknown item", 127]);
                return `${boundary} begin ${name}\n${text}\n${boundary} end ${name} ${rc}\n`;
            }).join("");
            return { code: 0, stdout: out, stderr: "" };
        }
        if (argv[0] === "rsync") return { code: rsync()[1], stdout: "", stderr: rsync()[0] };
        if (argv[0] === "orbit" && argv[1] === "backup" && argv[2] === "time") {
            const hour = /^--hour=(\d+)$/.exec(argv[3] ?? "");
            if (hour && argv[4] === "--force") { state.hour = Number(hour[1]); return { code: 0, stdout: "", stderr: "" }; }
        }
        return { code: 80, stdout: "", stderr: `orbit: error: unexpected argument ${argv.join(" ")}` };
    };
}

describe("the vendor driver, over a fake transport", () => {
    const realRun = sshPool.run;
    let sent: RemoteCommand[];
    const connection = (extra: object = {}) => ApplianceConnection.parse({ host: "10.0.0.5", hostKey: ed25519PublicKey(), privateKeyPath: "/keys/mt4adm", ...extra });
    const realHostKey = sshPool.presentedHostKey;
    function answerWith(fake: (c: RemoteCommand) => CommandResult) {
        Object.assign(sshPool, {
            run: async (_conn: unknown, command: RemoteCommand) => { sent.push(command); return fake(command); },
            // The login, which the batch waits for before it writes its script.
            presentedHostKey: async () => Buffer.from("host key"),
        });
    }
    beforeEach(() => { sent = []; forgetDetectedDrivers(); forgetAllSharedReads(); forgetExpectedProofs(); });
    afterEach(() => { Object.assign(sshPool, { run: realRun, presentedHostKey: realHostKey }); });

    it("detects a vendor appliance from `orbit version`, and one batched exec serves the detection and the refresh", async () => {
        answerWith(vendorAppliance({ hour: 5 }));
        const c = connection();
        assert.equal(await driverName(c), "vendor");
        const driver = new VendorDriver(c);
        const key = await driver.rootKey(true);
        assert.equal(key.publicKey, ROOT_KEY.split(" ").slice(0, 3).join(" "));
        assert.equal(key.hostname, "appliance-0");
        assert.match(key.fingerprint, /^SHA256:/);
        assert.deepEqual(await driver.backupSettings(true), { hour: 5 });
        assert.equal(sent.length, 1, "one exec: detection, root key and hour from the same batch");
        assert.ok(sent[0].sudo, "the batch runs as root");
        assert.ok(sent.every((c) => !c.argv.includes("--json")), "nothing undocumented");
    });

    it("carries an announced rsync proof in the refresh batch: the RsyncTarget's refresh costs no exec of its own", async () => {
        answerWith(vendorAppliance({ hour: 5, rsync: ["", 0] }));
        const c = connection();
        const target = { user: "senhauser", host: "127.0.0.1", port: 22, path: "/files/backup/" };
        expectRsyncProof(c, target);
        const driver = new VendorDriver(c);
        await driver.rootKey(true);
        assert.deepEqual(await driver.testRsync({ ...target, path: "/files/backup" }, true), { reachable: true, error: null });
        assert.equal(sent.length, 1, "the proof rode in the batch");
        assert.match(sent[0].argv[2], /"\$b" rsync0; rsync --ignore-times/);
        assert.equal(sent[0].timeoutSec, 90, "a batch with a proof has rsync's time");
    });

    it("a failed proof in the batch is the target's answer, and the batch's other reads still stand", async () => {
        answerWith(vendorAppliance({ hour: 7, rsync: ["Permission denied (publickey).\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]\nrsync error: unexplained error (code 255)", 255] }));
        const c = connection();
        const target = { user: "senhauser", host: "127.0.0.1", port: 22, path: "/files/backup" };
        expectRsyncProof(c, target);
        const driver = new VendorDriver(c);
        assert.deepEqual(await driver.backupSettings(true), { hour: 7 });
        const reach = await driver.testRsync(target, true);
        assert.equal(reach.reachable, false);
        assert.equal(reach.error, "Permission denied (publickey).; rsync: connection unexpectedly closed (0 bytes received so far) [sender] (rsync exit 255)");
        assert.equal(sent.length, 1);
    });

    it("runs a proof on its own when the batch did not carry it, or when the read is not a refresh", async () => {
        answerWith(vendorAppliance({ hour: 5, rsync: ["", 0] }));
        const c = connection();
        const driver = new VendorDriver(c);
        await driver.rootKey(true);
        const target = { user: "senhauser", host: "127.0.0.1", port: 22, path: "/files/backup" };
        // Announced after the batch ran: it cannot ride in it.
        expectRsyncProof(c, target);
        assert.equal((await driver.testRsync(target, true)).reachable, true);
        assert.deepEqual(sent.map((s) => s.argv[0]), ["sh", "rsync"]);
        // A create's or an update's proof never takes a batch's answer.
        assert.equal((await driver.testRsync(target)).reachable, true);
        assert.deepEqual(sent.map((s) => s.argv[0]), ["sh", "rsync", "rsync"]);
        assert.ok(!/rsync0/.test(sent[0].argv[2]), "the first batch had no proof");
    });

    it("sets the hour with the documented flags and checks it by its outcome", async () => {
        const state = { hour: 5 };
        answerWith(vendorAppliance(state));
        const driver = new VendorDriver(connection());
        await driver.applyPolicyStep({ set: "hour", hour: 9 }, "set the daily backup hour");
        assert.deepEqual(sent[0].argv, ["orbit", "backup", "time", "--hour=9", "--force"]);
        assert.equal(state.hour, 9);
        // An appliance that accepts the flag but keeps its hour is caught, not believed.
        answerWith((c) => (c.argv[0] === "orbit" ? { code: 0, stdout: "", stderr: "" } : vendorAppliance({ hour: 5 })(c)));
        await assert.rejects(driver.applyPolicyStep({ set: "hour", hour: 9 }, "set the daily backup hour"), /accepted --hour=9, but `orbit backup time --show` now reports 5/);
        await assert.rejects(driver.applyPolicyStep({ set: "kind", kind: "video", on: true }, "enable the video backup"), /no documented command does it/);
    });

    it("names a contract appliance, fails closed on anything else with the answer, and says when orbit is missing", async () => {
        assert.equal(driverFromVersion("senhasegura Orbit (lab simulator), contract 2, appliance appliance-0"), "contract");
        assert.equal(driverFromVersion(VERSION), "vendor");
        assert.equal(driverFromVersion("Orbit 9 (something new)"), undefined);
        answerWith(vendorAppliance({ hour: 5, version: "Orbit 9 (something new)" }));
        await assert.rejects(driverName(connection()), (err: Error) => /Orbit 9 \(something new\)/.test(err.message) && /probe/.test(err.message));
        forgetDetectedDrivers(); forgetAllSharedReads();
        answerWith(vendorAppliance({ hour: 5, version: "sh: 1: orbit: not found" }));
        await assert.rejects(driverName(connection()), /orbit is not installed on this host/);
        forgetDetectedDrivers(); forgetAllSharedReads();
        answerWith(vendorAppliance({ hour: 5, version: "senhasegura Orbit (lab simulator), contract 2, appliance appliance-0" }));
        await assert.rejects(driverName(connection({ driver: "vendor" })), /connection.driver is "vendor", but the appliance answers .* as the lab's contract appliance/);
        assert.equal(await driverName(connection({ driver: "contract" })), "contract", "an explicit contract driver asks nothing");
    });

    it("asks orbit alone where sudo allows orbit but not the batched read's shell (the lab's contract appliance)", async () => {
        const refuse = () => { throw new BackupProviderError("sudo asks for a password, and none is configured", { kind: "sudo", host: "h", operation: "read", hint: "set sudoPassword" }); };
        answerWith((c) => (c.argv[0] === "sh" ? refuse() : c.argv.join(" ") === "orbit version"
            ? { code: 0, stdout: "senhasegura Orbit (lab simulator), contract 2, appliance appliance-0\n", stderr: "" } : vendorAppliance({ hour: 5 })(c)));
        assert.equal(await driverName(connection()), "contract");
        forgetDetectedDrivers(); forgetAllSharedReads();
        // A vendor appliance behind such a sudo still needs the shell: the refusal is what is reported.
        answerWith((c) => (c.argv[0] === "sh" ? refuse() : { code: 0, stdout: VERSION, stderr: "" }));
        await assert.rejects(driverName(connection()), /sudo asks for a password, and none is configured/);
    });

    it("reads the one partition at the mount point from fstab and the mount table, its password only as present", async () => {
        const entry = "//files.example.com/backup/senhasegura /srv/backup_remoto cifs username=svc,domain=CORP,credentials=/root/.senhasegura-backup/cifs-credentials,port=4450,_netdev 0 0";
        answerWith(vendorAppliance({ hour: 5, fstab: `UUID=1 / ext4 defaults 0 1\n${entry}\n`, mounts: "//files.example.com/backup/senhasegura /srv/backup_remoto cifs rw 0 0\n" }));
        const view = await new VendorDriver(connection()).partitionAt(true, "share");
        assert.deepEqual(view, {
            id: "share", protocol: "cifs", host: "files.example.com", port: 4450, path: "/backup/senhasegura", user: "svc", domain: "CORP",
            credentialId: null, passwordSet: true, mounted: true, mountedAt: null,
        });
        forgetAllSharedReads();
        answerWith(vendorAppliance({ hour: 5 }));
        assert.equal(await new VendorDriver(connection()).partitionAt(true, "share"), undefined, "no entry: no partition");
    });

    it("registers a CIFS partition with the documented flags, its password in the credentials file from stdin, never in argv", async () => {
        answerWith((c) => (c.argv[0] === "orbit" ? { code: 0, stdout: "Done!\nNo errors reported\n", stderr: "" } : { code: 0, stdout: "", stderr: "" }));
        const password = "Sh4red-secret-pass";
        await new VendorDriver(connection()).savePartitionAtMountPoint({
            id: "share", protocol: "cifs", host: "files.example.com", port: 445, path: "/backup", user: "svc", domain: null, credentialId: null, password, mounted: true,
        }, { passwordOnCommandLine: false });
        assert.equal(sent.length, 2);
        assert.equal(sent[0].argv[0], "sh", "the credentials file first");
        assert.match(String(sent[0].stdin), new RegExp(`password=${password}`));
        assert.deepEqual(sent[1].argv, ["orbit", "partition", "--local=/srv/backup_remoto", "--remote-host=files.example.com", "--remote-path=/backup", "--type=cifs",
            "--user=svc", "--options=credentials=/root/.senhasegura-backup/cifs-credentials", "--force"]);
        assert.ok(sent.every((c) => !c.argv.join(" ").includes(password)), "the password is never an argument");
        sent = [];
        await new VendorDriver(connection()).savePartitionAtMountPoint({
            id: "share", protocol: "cifs", host: "h", port: 445, path: "/backup", user: "svc", domain: null, credentialId: null, password, mounted: true,
        }, { passwordOnCommandLine: true });
        assert.ok(sent[0].argv.includes(`--password=${password}`), "only with the explicit opt-in");
        answerWith(() => ({ code: 32, stdout: "Are you sure you want to proceed: mount error(13): Permission denied\n", stderr: "" }));
        await assert.rejects(new VendorDriver(connection()).remountPartition(true), (err: Error) => /Permission denied/.test(err.message) && /the share exists/.test(err.message));
    });

    it("frames each read so that no file content can forge another answer", () => {
        const paths = resolvedPaths(undefined);
        const boundary = "0123456789abcdef0123456789abcdef";
        assert.match(readScript(paths, boundary), /orbit version <\/dev\/null/);
        assert.throws(() => readScript(paths, "not-hex"), /boundary/);
        const forged = `${boundary} begin version\n${VERSION}\nfake end version 0\n${boundary} end version 0\n`;
        const parsed = parseReads(forged, boundary, ["version"]);
        assert.ok(typeof parsed !== "string");
        assert.match(parsed.version.output, /fake end version 0/, "a line that only looks like a frame stays content");
        assert.match(String(parseReads("nothing", boundary, ["version"])), /missing/);
    });

    it("runs an extra command in the batch under its own name, and refuses a name that is not one word or is used twice", () => {
        const paths = resolvedPaths(undefined);
        const boundary = "0123456789abcdef0123456789abcdef";
        const script = readScript(paths, boundary, ["version"], [{ name: "rsync0", argv: ["rsync", "a b", "c"] }]);
        assert.match(script, /"\$b" rsync0; rsync 'a b' c <\/dev\/null 2>&1/);
        assert.throws(() => readScript(paths, boundary, ["version"], [{ name: "version", argv: ["true"] }]), /used once/);
        assert.throws(() => readScript(paths, boundary, [], [{ name: "a;b", argv: ["true"] }]), /a word/);
        // The real shell runs it: each answer in its frame, with its exit code.
        const run = spawnSync("sh", ["-c", readScript(paths, boundary, [], [{ name: "ok", argv: ["echo", "fine"] }, { name: "bad", argv: ["sh", "-c", "echo no >&2; exit 3"] }])], { encoding: "utf8" });
        const parsed = parseReads(run.stdout, boundary, ["ok", "bad"]);
        assert.ok(typeof parsed !== "string", String(parsed));
        assert.deepEqual(parsed, { ok: { output: "fine", code: 0 }, bad: { output: "no", code: 3 } });
    });
});

describe("the vendor driver's rsync proof and known_hosts pin", () => {
    it("names a proof by user, server and directory, with or without a trailing slash", () => {
        assert.equal(proofKey({ user: "u", host: "h", path: "/files/backup//" }), proofKey({ user: "u", host: "h", path: "/files/backup" }));
        assert.notEqual(proofKey({ user: "u", host: "h", path: "/a" }), proofKey({ user: "v", host: "h", path: "/a" }));
    });

    it("reads rsync's answer: exit 0 is reachable; otherwise its first lines, without rsync's own error summary", () => {
        assert.deepEqual(rsyncReach(0, "anything"), { reachable: true, error: null });
        assert.deepEqual(rsyncReach(23, "rsync error: some files could not be transferred (code 23)\n"), { reachable: false, error: "no detail (rsync exit 23)" });
    });

    it("tests the target as the appliance's backup does: root's key and known_hosts, no port of its own", () => {
        const argv = rsyncWriteTestArgv(resolvedPaths(undefined), { user: "senhauser", host: "backup.example.com", path: "/files/backup/" });
        assert.equal(argv[0], "rsync");
        const ssh = argv[argv.indexOf("-e") + 1];
        assert.match(ssh, /-i \/root\/.ssh\/id_rsa/);
        assert.match(ssh, /StrictHostKeyChecking=yes/);
        assert.match(ssh, /UserKnownHostsFile=\/root\/.ssh\/known_hosts/);
        assert.doesNotMatch(ssh, / -p /);
        assert.doesNotMatch(ssh, / -F /, "ssh's own configuration file unless the appliance's paths name one");
        assert.equal(argv[argv.length - 1], "senhauser@backup.example.com:/files/backup/", "into the directory itself, so an unwritable one fails");
        assert.ok(argv.includes("--ignore-times"), "rewritten at every test");
        assert.match(rsyncWriteTestArgv(resolvedPaths({ rootSshConfig: "/lab/ssh_config" }), { user: "u", host: "h", path: "/p" })[4], /-F \/lab\/ssh_config/);
        assert.equal(knownHostsName("h", 22), "h");
        assert.equal(knownHostsName("127.0.0.1", 2222), "[127.0.0.1]:2222");
    });

    it("adds the line once, keeps every other line byte for byte, and keeps the file's mode", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-known-hosts-"));
        try {
            const file = path.join(dir, "ssh", "known_hosts");
            const line = `[127.0.0.1]:2222 ${ed25519PublicKey().split(" ").slice(0, 2).join(" ")}`;
            const run = () => spawnSync("sh", ["-c", knownHostsAddScript(file, line)], { encoding: "utf8" });
            const first = run();
            assert.equal(first.status, 0, first.stderr);
            assert.equal(first.stdout.trim(), "added");
            assert.equal(fs.readFileSync(file, "utf8"), `${line}\n`);
            const others = "# hand-made\r\nhost1 ssh-ed25519 AAAAother  trailing  ";
            fs.writeFileSync(file, others);
            fs.chmodSync(file, 0o600);
            assert.equal(run().stdout.trim(), "added");
            assert.equal(fs.readFileSync(file, "utf8"), `${others}\n${line}\n`, "a last line without a newline gets one; nothing else changes");
            assert.equal(fs.statSync(file).mode & 0o777, 0o600);
            assert.equal(run().stdout.trim(), "present");
            assert.equal(fs.readFileSync(file, "utf8"), `${others}\n${line}\n`);
            assert.deepEqual(fs.readdirSync(path.dirname(file)), ["known_hosts"], "no temporary file is left");
            assert.throws(() => knownHostsAddScript(file, "a\nb"), /one line/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("sudo with a password", () => {
    it("puts the password on stdin, never on the command line, and runs sudo -n after sudo -S -v", () => {
        const line = sudoLine(["orbit", "backup", "create"], true);
        assert.match(line, /^sh -c /);
        assert.ok(line.endsWith(" sh orbit backup create"));
        assert.match(SUDO_WITH_PASSWORD_SCRIPT, /sudo -S -p '' -v/);
        assert.match(SUDO_WITH_PASSWORD_SCRIPT, /; sudo -n -- "\$@"$/, "not exec'd: sudo's credential is kept per parent process");
        assert.equal(sudoLine(["orbit", "version"], false), "sudo -n -- orbit version");
    });

    it("tells a wrong password from a missing one", () => {
        assert.equal(sudoRefusal("Sorry, try again.\nsudo: 1 incorrect password attempt\n"), "wrong-password");
        assert.equal(sudoRefusal("sudo: no password was provided\n"), "wrong-password");
        assert.equal(sudoRefusal("sudo: a password is required\n"), "password");
    });
});

describe("the verification backup on a vendor appliance", () => {
    it("answers the documented prompt on stdin, after the sudo password, and proves success by the log", () => {
        const line = verificationCommand("vendor", 900, "mt4adm@10.0.0.5:59022", true);
        assert.match(line, /orbit backup create/);
        assert.doesNotMatch(line, /--json|--force/, "only the documented command");
        assert.match(line, /backup successfully performed\$/);
        assert.match(line, /\(ERROR\|CRITICAL\|FATAL\)/);
        assert.equal(verificationStdin("vendor", "pw"), "pw\ny\n");
        assert.equal(verificationStdin("vendor", undefined), "y\n");
        assert.equal(verificationStdin("contract", undefined), undefined, "the contract command takes nothing on stdin");
        assert.equal(verificationCommand("contract", 900, "t", false).startsWith("timeout -k 30 900 sudo -n -- orbit backup create --json"), true);
    });

    it("reads the vendor's log as the report: the dumps, where they land, and the run's time", () => {
        const log = [
            "Are you sure you want to perform a data backup now: ",
            "Orbini Backup 1.1.0.2",
            "[2026-12-07 10:00:01]: BACKUP INFO Using configuration file '/var/senhasegura/orbinibkp.conf'",
            "[2026-12-07 10:00:01]: senhasegura DB INFO Starting database backup to /var/orbini/backup/senhasegura/senhasegura-db-2026-12-07_100001mt4.sql.gz",
            "[2026-12-07 10:00:02]: senhasegura FILE INFO Starting db backup files via rsync from the /var/orbini/backup/senhasegura/ with delete source",
            "[2026-12-07 10:00:03]: senhasegura FILE INFO /var/orbini/backup/senhasegura/ backup successfully performed",
            "Duration: 2.5s",
        ].join("\n");
        const summary = vendorSummary(log);
        assert.ok(typeof summary !== "string", String(summary));
        assert.deepEqual(summary.files, ["backup/system/db/senhasegura-db-2026-12-07_100001mt4.sql.gz"]);
        assert.equal(summary.id, "20261207T100001");
        assert.equal(summary.durationMs, 2500);
        assert.equal(summary.destination, "rsync");
    });
});
