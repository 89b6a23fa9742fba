// The verification backup's pure parts: the command line remote.Command runs (in a
// real POSIX shell, with stand-ins for coreutils timeout and sudo), the host key line
// handed to pulumi-command, and BackupVerification's check and diff of the report.
import { strict as assert } from "assert";
import { runtime } from "@pulumi/pulumi";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backupCommandLine } from "../../../components/verification-backup";
import { hostKeyLine } from "../../../providers/resources/appliance-host-key";
import { aesCryptFiles, aesCryptReason, backupVerificationProvider, matchApplianceCopies, compareDigests, directoriesOf, expectedFiles, findingLine, findingsReason } from "../../../providers/resources/backup-verification";
import { AesCryptError } from "../../../providers/formats/aescrypt";
import { sha256Fingerprint } from "../../../providers/formats/authorized-keys/key";
import { parseHostKeyPin } from "../../../providers/transport/connection";
import type { FileDigest } from "../../../providers/transport/far-side";
import { ed25519PublicKey } from "../../support/keys";

const REPORT = {
    ok: true, id: "20261126T080000Z-1a2b", destination: "nfs://10.0.0.9:2049/exports/senhasegura", kinds: ["system", "video"],
    files: ["backup/system/20261126T080000Z-1a2b/system.tar.gz", "backup/video/20261126T080000Z-1a2b/sessions.tar.gz"],
    bytes: 12345, durationMs: 840, startedAt: "2026-11-26T08:00:00.000Z",
};
const NFS = { type: "nfs", host: "nfs.example.com", port: 2049, path: "/exports/senhasegura" };

/**
 * Runs a command line in sh with `timeout` and `sudo` replaced by scripts that record
 * their argv and exit with `orbitExit`, printing what orbit prints.
 */
const standInDirs: string[] = [];
after(() => { for (const d of standInDirs) fs.rmSync(d, { recursive: true, force: true }); });

function runWithStandIns(line: string, orbitExit: number): { code: number; stdout: string; stderr: string; argv: string[]; dir: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-cmdline-"));
    standInDirs.push(dir);
    const argvFile = path.join(dir, "argv");
    fs.writeFileSync(path.join(dir, "timeout"), `#!/bin/sh\nfor a; do printf '%s\\n' "$a" >> '${argvFile}'; done\nshift 3\nexec "$@"\n`, { mode: 0o755 });
    const orbitOut = orbitExit === 0 ? JSON.stringify(REPORT) : '{"ok":false,"error":{"code":"unreachable","message":"could not reach the destination"}}';
    fs.writeFileSync(path.join(dir, "sudo"), `#!/bin/sh\necho '${orbitOut}'\n[ ${orbitExit} -eq 0 ] || echo 'orbit: could not reach the destination' >&2\nexit ${orbitExit}\n`, { mode: 0o755 });
    const r = spawnSync("sh", ["-c", line], { cwd: dir, env: { PATH: `${dir}:/usr/bin:/bin` }, encoding: "utf8" });
    const argv = fs.existsSync(argvFile) ? fs.readFileSync(argvFile, "utf8").trim().split("\n") : [];
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, argv, dir };
}

describe("the verification backup's command line", () => {
    it("bounds the backup with timeout, kill-after, and runs sudo -n orbit backup create --json", () => {
        const r = runWithStandIns(backupCommandLine(900, "mt4adm@10.0.0.5:59022"), 0);
        assert.equal(r.code, 0);
        assert.deepEqual(r.argv, ["-k", "30", "900", "sudo", "-n", "--", "orbit", "backup", "create", "--json"]);
        assert.deepEqual(JSON.parse(r.stdout), REPORT, "stdout is orbit's report, untouched");
        assert.equal(r.stderr, "");
    });

    it("keeps orbit's exit code and message on failure, and adds the appliance and what to do", () => {
        const r = runWithStandIns(backupCommandLine(120, "mt4adm@10.0.0.5:59022"), 4);
        assert.equal(r.code, 4);
        assert.match(r.stderr, /^orbit: could not reach the destination\n/);
        assert.match(r.stderr, /verification backup on mt4adm@10\.0\.0\.5:59022 failed \(exit 4; 124 means it ran past 120 s/);
        assert.match(r.stderr, /what to do: read \/var\/log\/orbinibkp\.log/);
    });

    it("passes a hostile appliance name as data: it runs nothing", () => {
        const target = "x$(touch pwned)`touch pwned2`';touch pwned3;'@h:1";
        const r = runWithStandIns(backupCommandLine(60, target), 4);
        assert.equal(r.code, 4);
        assert.ok(r.stderr.includes(`backup on ${target} failed`), r.stderr);
        assert.deepEqual(fs.readdirSync(r.dir).filter((f) => f.startsWith("pwned")), []);
    });

    it("refuses a timeout outside 10-86400 whole seconds, naming the field", () => {
        for (const bad of [9, 86_401, 30.5, Number.NaN]) {
            assert.throws(() => backupCommandLine(bad, "t"), /backupTimeoutSec must be a whole number of seconds from 10 to 86400/);
        }
    });
});

describe("ApplianceHostKey.keyLine", () => {
    it("is the presented key as pulumi-command's hostKey takes it, and matches the pin it was checked against", () => {
        const line = ed25519PublicKey();
        const pin = parseHostKeyPin(line);
        assert.ok(typeof pin !== "string" && pin.kind === "key");
        assert.equal(hostKeyLine(pin.blob), line);
        const byFingerprint = parseHostKeyPin(sha256Fingerprint(pin.blob));
        assert.ok(typeof byFingerprint !== "string" && byFingerprint.kind === "fingerprint");
    });
});

describe("BackupVerification's check and diff", () => {
    const inputs = { report: JSON.stringify(REPORT), appliance: "mt4adm@10.0.0.5:59022", destination: NFS };

    it("accepts orbit's report", async () => {
        const r = await backupVerificationProvider.check!({}, inputs);
        assert.deepEqual(r.failures, []);
    });

    it("refuses a failed orbit answer at check, naming the report", async () => {
        const r = await backupVerificationProvider.check!({}, { ...inputs, report: '{"ok":false,"error":{"code":"unreachable","message":"x"}}' });
        assert.deepEqual(r.failures?.map((f) => f.property), ["report"]);
        assert.match(r.failures![0].reason, /is not orbit's backup summary/);
    });

    it("does not judge a report still unknown during preview", async () => {
        const r = await backupVerificationProvider.check!({}, { ...inputs, report: runtime.unknownValue });
        assert.deepEqual(r.failures, []);
    });

    it("a new report (a new backup) is an update, never a replace; the same report is no change", async () => {
        const olds = { ...inputs, backupId: REPORT.id, files: REPORT.files, bytes: 1, durationMs: 1, startedAt: "", sentTo: "" };
        const same = await backupVerificationProvider.diff!("id", olds, inputs);
        assert.equal(same.changes, false);
        const next = await backupVerificationProvider.diff!("id", olds, { ...inputs, report: JSON.stringify({ ...REPORT, id: "20261127T080000Z-9f9f" }) });
        assert.equal(next.changes, true);
        assert.deepEqual(next.replaces, []);
    });

    it("a changed appliance description alone keeps what was proved and looks at nothing", async () => {
        const olds = { ...inputs, backupId: REPORT.id, files: REPORT.files, bytes: 12345, durationMs: 840, startedAt: REPORT.startedAt, sentTo: REPORT.destination };
        const r = await backupVerificationProvider.update!("id", olds, { ...inputs, appliance: "mt4adm@backup-appliance:59022" });
        assert.equal(r.outs.backupId, REPORT.id);
        assert.equal(r.outs.appliance, "mt4adm@backup-appliance:59022");
    });

    it("a new applianceConnection alone is no change: it says how to reach the appliance, not what to prove", async () => {
        const olds = { ...inputs, backupId: REPORT.id, files: REPORT.files, bytes: 1, durationMs: 1, startedAt: "", sentTo: "" };
        const r = await backupVerificationProvider.diff!("id", olds, { ...inputs, applianceConnection: { host: "127.0.0.1", hostKey: "SHA256:" + "A".repeat(43), privateKeyPath: "/k" } });
        assert.equal(r.changes, false);
    });

    it("a new master key is an update that opens the files again; a key in parts is refused at check without being quoted", async () => {
        const olds = { ...inputs, masterKey: "key-one", backupId: REPORT.id, files: REPORT.files, bytes: 1, durationMs: 1, startedAt: "", sentTo: "", checked: "aescrypt-hmac" };
        const r = await backupVerificationProvider.diff!("id", olds, { ...inputs, masterKey: "key-two" });
        assert.equal(r.changes, true);
        assert.deepEqual(r.replaces, []);
        const bad = await backupVerificationProvider.check!({}, { ...inputs, masterKey: "part-1\npart-2" });
        assert.deepEqual(bad.failures?.map((f) => f.property), ["masterKey"]);
        assert.ok(!bad.failures![0].reason.includes("part-1"));
    });
});

describe("BackupVerification of a vendor appliance's AES Crypt files (pure decisions)", () => {
    it("opens the .aes files among a backup's dumps, and sizes the rest", () => {
        assert.deepEqual(aesCryptFiles(["backup/system/db/senhasegura-db-2026-12-07_050000mt4.sql.gz.aes", "backup/system/db/senhasegura-db-2026-12-07_050000mt4.sql.gz", "x.enc"]),
            ["backup/system/db/senhasegura-db-2026-12-07_050000mt4.sql.gz.aes"]);
    });

    it("compares each dump at the destination with the appliance's own copy: plaintext for AES Crypt, nothing for a copy no longer held or a file not opened", () => {
        const db = "backup/system/db/senhasegura-db-2026-12-07_050000";
        const dumps = [
            { original: `${db}mt4.sql.gz`, atDestination: `${db}mt4.sql.gz.aes` },
            { original: `${db}senhasegura.sql.gz`, atDestination: `${db}senhasegura.sql.gz` },
            { original: `${db}old.sql.gz`, atDestination: `${db}old.sql.gz` },
            { original: `${db}locked.sql.gz`, atDestination: `${db}locked.sql.gz.aes` },
        ];
        const here = new Map<string, string | undefined>([[`${db}mt4.sql.gz.aes`, "a".repeat(64)], [`${db}senhasegura.sql.gz`, "b".repeat(64)], [`${db}old.sql.gz`, "c".repeat(64)], [`${db}locked.sql.gz.aes`, undefined]]);
        const appliance = new Map([["senhasegura-db-2026-12-07_050000mt4.sql.gz", { sha256: "a".repeat(64) }], ["senhasegura-db-2026-12-07_050000senhasegura.sql.gz", { sha256: "d".repeat(64) }],
            ["senhasegura-db-2026-12-07_050000old.sql.gz", undefined], ["senhasegura-db-2026-12-07_050000locked.sql.gz", { sha256: "e".repeat(64) }]]);
        const r = matchApplianceCopies(dumps, here, appliance);
        assert.deepEqual(r.matched, [`${db}mt4.sql.gz.aes`]);
        assert.deepEqual(r.differ.map((d) => [d.atDestination, d.destination, d.appliance]), [[`${db}senhasegura.sql.gz`, "b".repeat(64), "d".repeat(64)]]);
        assert.deepEqual(r.notHeld, [`${db}old.sql.gz`]);
        assert.deepEqual(r.notComparable, [`${db}locked.sql.gz.aes`]);
    });

    it("says a wrong key is the master key's doing, and anything else the file's, naming the file and the failure", () => {
        assert.match(aesCryptReason("a.aes", new AesCryptError("wrong-key", "the key block's HMAC differs")), /^the master key does not open a\.aes: the key block's HMAC differs$/);
        assert.match(aesCryptReason("b.aes", new AesCryptError("altered", "the HMAC of its ciphertext differs")), /^b\.aes is not a sound AES Crypt file \(altered\): the HMAC of its ciphertext differs$/);
        assert.match(aesCryptReason("c.aes", new AesCryptError("truncated", "ends inside the trailer")), /\(truncated\)/);
    });
});

describe("BackupVerification against a contract 2 manifest (pure decisions)", () => {
    const ID = "20261126T080000Z-1a2b";
    const sha = (c: string) => c.repeat(64);
    const manifest = {
        path: `backup/manifests/${ID}.json`, size: 900, sha256: sha("7"),
        files: [
            { path: `backup/system/db/${ID}/senhasegura-db.tar.gz.enc`, kind: "system" as const, role: "db" as const, size: 4096, sha256: sha("a"), encrypted: true, entries: 3 },
            { path: `backup/system/db/${ID}/orbit-config.tar.gz.enc`, kind: "system" as const, role: "db" as const, size: 2048, sha256: sha("b"), encrypted: true, entries: 2 },
            { path: `backup/system/arz/2026/1126/${ID}-sessions.tar.gz.enc`, kind: "video" as const, role: "arz" as const, size: 8192, sha256: sha("c"), encrypted: true, entries: 1 },
            { path: `backup/secrets/${ID}.secrets.enc`, kind: "secrets" as const, role: "secrets" as const, size: 300, sha256: sha("d"), encrypted: true, entries: 4 },
        ],
    };
    const expected = expectedFiles(manifest);
    const intact = () => new Map<string, FileDigest | undefined>(expected.map((f) => [f.path, { size: f.size, sha256: f.sha256 }]));
    const listedIntact = expected.map((f) => f.path);

    it("expects every manifest file, then the manifest itself, each once; lists the directories that hold them", () => {
        assert.deepEqual(expected.map((f) => f.path), [...manifest.files.map((f) => f.path), manifest.path]);
        assert.equal(expectedFiles({ ...manifest, files: [...manifest.files, manifest.files[0]] }).length, 5);
        assert.deepEqual(directoriesOf(expected), ["backup/manifests", "backup/secrets", "backup/system/arz/2026/1126", `backup/system/db/${ID}`]);
    });

    it("an intact backup has no finding, whatever else of other backups the directories hold", () => {
        const others = ["backup/manifests/20261125T080000Z-9f9f.json", "backup/secrets/20261125T080000Z-9f9f.secrets.enc", "backup/system/arz/2026/1126/20261126T070000Z-0000-sessions.tar.gz.enc"];
        assert.deepEqual(compareDigests(ID, expected, intact(), [...listedIntact, ...others]), []);
    });

    it("names a truncated file, a flipped byte, a deleted file and a stray file of the backup, with the expected and found digests", () => {
        const found = intact();
        found.set(manifest.files[0].path, { size: 1000, sha256: sha("e") });
        found.set(manifest.files[1].path, { size: 2048, sha256: sha("f") });
        found.set(manifest.files[3].path, undefined);
        const stray = `backup/system/db/${ID}/extra.tar.gz`;
        const findings = compareDigests(ID, expected, found, [...listedIntact, stray, `backup/secrets/${ID}.secrets.enc.bak`]);
        assert.deepEqual(findings.map((f) => [f.kind, f.path]), [
            ["changed", manifest.files[0].path], ["changed", manifest.files[1].path], ["missing", manifest.files[3].path],
            ["extra", `backup/secrets/${ID}.secrets.enc.bak`], ["extra", stray],
        ]);
        const reason = findingsReason(ID, "mt4adm@10.0.0.5:59022", findings, manifest.path);
        const lines = reason.split("\n");
        assert.equal(lines[0], `backup ${ID} from mt4adm@10.0.0.5:59022 does not match its manifest (2 changed, 1 missing, 2 not in the manifest):`);
        assert.equal(lines[1], `  - ${manifest.files[0].path}: shorter than written (truncated); expected 4096 bytes, SHA-256 ${sha("a")}; found 1000 bytes, SHA-256 ${sha("e")}`);
        assert.equal(lines[2], `  - ${manifest.files[1].path}: same size, other content; expected 2048 bytes, SHA-256 ${sha("b")}; found 2048 bytes, SHA-256 ${sha("f")}`);
        assert.equal(lines[3], `  - ${manifest.files[3].path}: missing; expected 300 bytes, SHA-256 ${sha("d")}`);
        assert.match(lines[5], new RegExp(`^  - ${stray}: not in the manifest, yet named as a file of backup ${ID}`));
    });

    it("names the manifest itself when it changed, and a longer file as longer", () => {
        const found = intact();
        found.set(manifest.path, { size: 901, sha256: sha("9") });
        const [f] = compareDigests(ID, expected, found, listedIntact);
        assert.equal(findingLine(f, ID, manifest.path), `${manifest.path} (the manifest): longer than written; expected 900 bytes, SHA-256 ${sha("7")}; found 901 bytes, SHA-256 ${sha("9")}`);
    });

    it("does not count a file twice when two listings name it", () => {
        const stray = `backup/system/db/${ID}/x`;
        assert.equal(compareDigests(ID, expected, intact(), [...listedIntact, stray, stray]).length, 1);
    });

    it("check refuses a report whose manifest names a file outside the backup directory", async () => {
        const report = { ...REPORT, id: ID, files: [...manifest.files.map((f) => f.path), manifest.path], manifest: { ...manifest, files: [{ ...manifest.files[0], path: "../../etc/shadow" }] } };
        const r = await backupVerificationProvider.check!({}, { report: JSON.stringify(report), destination: NFS });
        assert.deepEqual(r.failures?.map((f) => f.property), ["report"]);
        assert.match(r.failures![0].reason, /manifest\.files\.0\.path/);
        const ok = await backupVerificationProvider.check!({}, { report: JSON.stringify({ ...report, manifest }), destination: NFS });
        assert.deepEqual(ok.failures, []);
    });

    it("a state from before the checksums reads as checked by presence and keeps what it proved", async () => {
        const inputs = { report: JSON.stringify(REPORT), appliance: "a", destination: NFS };
        const olds = { ...inputs, backupId: REPORT.id, files: REPORT.files, bytes: 12345, durationMs: 840, startedAt: REPORT.startedAt, sentTo: REPORT.destination };
        const r = await backupVerificationProvider.update!("id", olds, { ...inputs, appliance: "b" });
        assert.equal(r.outs.checked, "presence");
    });
});
