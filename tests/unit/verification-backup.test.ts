// The verification backup's pure parts: the command line remote.Command runs (in a
// real POSIX shell, with stand-ins for coreutils timeout and sudo), the host key line
// handed to pulumi-command, and BackupVerification's check and diff of the report.
import { strict as assert } from "assert";
import { runtime } from "@pulumi/pulumi";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { backupCommandLine } from "../../components/verification-backup";
import { hostKeyLine } from "../../providers/appliance-host-key";
import { backupVerificationProvider } from "../../providers/backup-verification";
import { parseHostKeyPin, sha256Fingerprint } from "../../providers/connection";
import { ed25519PublicKey } from "../support/keys";

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
});
