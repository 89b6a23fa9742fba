// A real appliance, as the lab's vendor mode plays it (the documented Orbit CLI only,
// a sudo that asks for mt4adm's password, Orbit Web settings set by lab/orbit-web),
// driven by the dev stack's own program over rsync, through the real engine:
//   up (the driver detected as vendor, the server's key pinned for the appliance's own
//   hop, a verification backup whose dumps land in backup/system/db);
//   a no-op preview --refresh, with its SSH logins and execs counted;
//   drift made by hand, each named by field: the hour (orbit backup time), the backup
//   directory made unwritable, the root key removed from authorized_keys; repaired;
//   sudo: no password configured, and a wrong one, each a clear error, neither a hang;
//   the appliance's orbit audit log holds only documented commands and flags;
//   the sudo password appears in no argv (sudo's own log), output or plaintext state;
//   after the master key ceremony, the dumps land as AES Crypt: checked by structure
//   without the master key, by HMAC with it; a flipped byte and a wrong key each named;
//   each dump's SHA-256 against the appliance's own copy, a flipped byte in a plain dump
//   found that way; drift by outcome: video declared on with Orbit Web's off, more runs
//   than totalBackups, an 8 MiB destination filled (free space, the 150 % of /var rule);
//   the restore drill: the newest run restorable; a dump cut short, the mt4 dump gone
//   and the secrets directory emptied each named (exit 2); a backup made under the key
//   of before a new ceremony reported as such, not as damage;
//   destroy.
// The appliance goes back to contract mode afterwards, as the other suites expect.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";
import { ApplianceConnection } from "../../providers/appliance/connection";
import { forgetDetectedDrivers } from "../../providers/appliance/select";
import { VendorDriver } from "../../providers/appliance/vendor-driver";
import { forgetAllSharedReads } from "../../providers/transport/shared-reads";
import { sshPool } from "../../providers/transport/ssh";
import { REPO, type TestStack, createTestStack, exportState, plannedFieldChanges, recorded } from "../support/engine";
import { withSudoersDropIn } from "../support/hardening";
import { type LabAppliance, type LabDescription, acceptedLogins, orbitWeb, pinnedSsh, setOrbitMode } from "../support/lab";
import { assertNoLeak, explain, runDrift, runDrill, sample } from "../support/drill-run";
import { whatToDo } from "../../cli/restore-drill/plan";
import { drillOne } from "../../cli/restore-drill/run";
import { type VendorTarget, stackTargets } from "../../cli/shared/stack-targets";

/** Every command and flag the vendor documents that the driver may use (docs/vendor-appliance.md). */
const DOCUMENTED: ReadonlyArray<RegExp> = [
    /^version$/,
    /^backup time --show$/,
    /^backup time --hour=([0-9]|1[0-9]|2[0-4]) --force$/,
    /^backup create$/,
];

function auditEntries(app: LabAppliance): Array<{ mode?: string; argv: string[] }> {
    const file = path.join(app.orbitRoot, "log", "orbit-audit.log");
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

function sshdCounts(app: LabAppliance): { logins: number; execs: number } {
    const log = fs.readFileSync(app.sshdLog, "utf8");
    return { logins: acceptedLogins(app.sshdLog), execs: (log.match(/Starting session: command for /g) ?? []).length };
}

describe("a vendor appliance: only the documented Orbit CLI, through the real engine", function () {
    this.timeout(600_000);
    let lab: LabDescription;
    let app: LabAppliance;
    let t: TestStack;
    let sudoPassword: string;
    let auditFrom = 0;
    const backupDir = () => lab.rsyncServer.backupPath;
    const authorizedKeys = () => lab.rsyncServer.authorizedKeysPath;

    before(async () => {
        lab = setOrbitMode("vendor");
        app = lab.appliances[0];
        assert.equal(app.orbit, "vendor");
        sudoPassword = fs.readFileSync(app.sudoPasswordPath, "utf8").trim();
        // Root's known_hosts starts empty: the driver pins the server's key itself.
        fs.writeFileSync(app.vendorPaths.rootKnownHosts, "# kept by hand\n");
        orbitWeb(app, {
            // No ceremony yet, whatever an earlier run left: the first backups land in clear.
            applicationBackup: "yes", sessionsBackup: "no", remotePartition: "yes", sendMode: "rsync", masterKeyCeremony: "no",
            "rsync.user": lab.rsyncServer.backupUser, "rsync.server": lab.rsyncServer.host, "rsync.path": backupDir(),
        });
        auditFrom = auditEntries(app).length;
        t = await createTestStack(REPO, { labFile: { value: path.join(lab.root, "lab.json") }, destination: { value: "rsync" }, videoBackup: { value: "false" } });
    });

    after(async () => {
        try {
            if (t) await t.destroyAndRemove().catch(() => undefined);
        } finally {
            fs.chmodSync(backupDir(), 0o750);
            setOrbitMode("contract");
        }
    });

    it("up: detects the vendor driver, pins the server's key once, and lands the verification backup's dumps", async () => {
        const result = await t.stack.up(recorded(t));
        assert.equal(result.summary.result, "succeeded");
        const v = result.outputs.lastVerification.value;
        assert.equal(v.files.length, 2, JSON.stringify(v));
        for (const f of v.files) {
            assert.match(f, /^backup\/system\/db\/senhasegura-db-\d{4}-\d\d-\d\d_\d{6}(mt4|senhasegura)\.sql\.gz$/);
            assert.ok(fs.statSync(path.join(backupDir(), f)).size > 0, `${f} landed empty`);
        }
        assert.ok(v.bytes > 0);
        const state = exportState(t).deployment.resources;
        for (const type of ["ApplianceRootKey", "BackupPolicy", "RsyncTarget", "ApplianceHostKey"]) {
            assert.equal(state.find((r: any) => r.type.endsWith(`:${type}`))?.outputs.driver, "vendor", `${type} records the driver`);
        }
        const knownHosts = fs.readFileSync(app.vendorPaths.rootKnownHosts, "utf8");
        const pinned = `[${lab.rsyncServer.host}]:${lab.rsyncServer.port} ${lab.rsyncServer.hostKey}`;
        assert.equal(knownHosts, `# kept by hand\n${pinned}\n`, "one line added, the hand-made line kept");
        const output = t.output.join("\n");
        assert.match(output, /Enable application backup\?/, "the preview says what Orbit Web must hold");
        assert.match(output, /Send to a remote Linux server \(via rsync\)/);
        const verification = state.find((r: any) => r.type.endsWith(":BackupVerification"));
        assert.equal(verification.outputs.applianceCopies, 2, "both dumps have the SHA-256 of the appliance's own copy");
        assert.match(output, /2 of 2 have the SHA-256 of the appliance's own copy/);

        // A flipped byte in a plain dump at the destination: only the appliance's own copy can tell.
        const file = path.join(backupDir(), v.files[0]);
        const original = fs.readFileSync(file);
        const flipped = Buffer.from(original);
        flipped[flipped.length - 10] ^= 0x01;
        fs.writeFileSync(file, flipped);
        try {
            const failed: string[] = [];
            await assert.rejects(t.stack.up({ replace: [verification.urn], onOutput: (l) => failed.push(l) }));
            assert.match(failed.join("\n"), /backup\/system\/db\/senhasegura-db-\S+ at \S+ has SHA-256 [0-9a-f]{64}, but the appliance's own copy of senhasegura-db-\S+ has [0-9a-f]{64}/);
        } finally {
            fs.writeFileSync(file, original);
        }
        assert.equal((await t.stack.up({ replace: [verification.urn], ...recorded(t) })).summary.result, "succeeded");
    });

    it("a no-op preview --refresh changes nothing, in one SSH login and one exec per appliance", async () => {
        const before = sshdCounts(app);
        const started = Date.now();
        const events: any[] = [];
        await t.stack.preview({ refresh: true, expectNoChanges: true, onEvent: (e) => events.push(e), onOutput: (l) => t.output.push(l) });
        const wallMs = Date.now() - started;
        const after = sshdCounts(app);
        assert.deepEqual(plannedFieldChanges(events), []);
        const logins = after.logins - before.logins;
        const execs = after.execs - before.execs;
        assert.equal(logins, 1, "one pooled SSH login for the whole preview");
        // The rsync proof rides in the batched read (docs/vendor-appliance.md); the host key needs only the handshake.
        assert.equal(execs, 1, "one batched read, the rsync proof in it");
        fs.mkdirSync(path.join(REPO, ".test-results"), { recursive: true });
        fs.writeFileSync(path.join(REPO, ".test-results", "vendor-noop-preview.json"), JSON.stringify({ wallMs, logins, execs }) + "\n");
    });

    it("drift made by hand is named by field: the hour, an unwritable backup directory; up repairs what it owns", async () => {
        const r = pinnedSsh(app, "sudo -n orbit backup time --hour=9 --force");
        assert.equal(r.code, 0, r.stderr);
        fs.chmodSync(backupDir(), 0o550);
        const events: any[] = [];
        await t.stack.preview({ refresh: true, onEvent: (e) => events.push(e), onOutput: (l) => t.output.push(l) });
        const changes = plannedFieldChanges(events);
        assert.deepEqual(changes.find((c) => c.name.endsWith("-policy"))?.keys, ["hour"], JSON.stringify(changes));
        assert.deepEqual(changes.find((c) => c.name.endsWith("-rsync"))?.keys, ["reachable"], JSON.stringify(changes));
        assert.match(t.output.join("\n"), /cannot write to .* as root with its root key \(.*(Permission denied|not permitted)/);
        // The directory is the server admin's to fix; up then converges the rest.
        fs.chmodSync(backupDir(), 0o750);
        const up = await t.stack.up({ refresh: true, ...recorded(t) });
        assert.equal(up.summary.result, "succeeded");
        assert.match(pinnedSsh(app, "sudo -n orbit backup time --show").stdout, /Backup daily time: 5/);
        await t.stack.preview({ refresh: true, expectNoChanges: true });
    });

    it("the root key removed from authorized_keys is drift, and up puts it back", async () => {
        const blob = app.rootPublicKey.split(" ")[1];
        const text = fs.readFileSync(authorizedKeys(), "latin1");
        fs.writeFileSync(authorizedKeys(), text.split("\n").filter((l) => !l.includes(blob)).join("\n"), "latin1");
        const events: any[] = [];
        await t.stack.preview({ refresh: true, onEvent: (e) => events.push(e) });
        const changes = plannedFieldChanges(events);
        assert.ok(changes.some((c) => c.name.endsWith("-appliance-key") && c.op === "create"), JSON.stringify(changes));
        assert.deepEqual(changes.find((c) => c.name.endsWith("-rsync"))?.keys, ["reachable"], "the appliance can no longer log in");
        const up = await t.stack.up({ refresh: true, ...recorded(t) });
        assert.equal(up.summary.result, "succeeded");
        assert.ok(fs.readFileSync(authorizedKeys(), "latin1").includes(blob));
        await t.stack.preview({ refresh: true, expectNoChanges: true });
    });

    it("sudo: no password configured and a wrong one are clear errors naming the key, not hangs", async () => {
        const connection = (extra: object) => ApplianceConnection.parse({
            host: app.host, port: app.port, user: app.user, hostKey: app.hostKey, privateKeyPath: app.privateKeyPath, paths: app.vendorPaths, commandTimeoutSec: 30, ...extra,
        });
        try {
            for (const [extra, message] of [
                [{}, /sudo asks for a password, and none is configured[\s\S]*connection\.sudoPassword/],
                [{ sudoPassword: "not-the-password" }, /sudo refused the configured password[\s\S]*connection\.sudoPassword/],
            ] as const) {
                forgetDetectedDrivers(); forgetAllSharedReads();
                const started = Date.now();
                await assert.rejects(new VendorDriver(connection(extra)).reads(false), (err: Error) => {
                    assert.match(err.message, message);
                    assert.ok(!err.message.includes(sudoPassword));
                    return true;
                });
                assert.ok(Date.now() - started < 20_000, "a refusal, not a timeout");
            }
            forgetAllSharedReads();
            const right = await new VendorDriver(connection({ sudoPassword })).backupSettings(false);
            assert.equal(right.hour, 5);
        } finally {
            await sshPool.closeAll();
        }
    });

    it("a verification backup run by hand keeps the password out of every argv sudo logs", async () => {
        const log = path.join(lab.root, "logs", "vendor-sudo.log");
        fs.rmSync(log, { force: true });
        await withSudoersDropIn("ssb-vendor-log", `Defaults logfile=${log}\nDefaults log_year\nDefaults loglinelen=0\n`, async () => {
            await t.stack.up({ replace: [`urn:pulumi:${t.name}::senhasegura-backup::senhasegura:backup:ApplianceBackup$command:remote:Command::appliance-0-verification-backup`], ...recorded(t) });
        });
        const logged = fs.readFileSync(log, "utf8");
        assert.match(logged, /COMMAND=\/usr\/local\/bin\/orbit backup create/, "sudo logged the backup's command line");
        assert.ok(!logged.includes(sudoPassword), "the sudo password is in sudo's log");
    });

    const VERIFICATION_BACKUP = () => `urn:pulumi:${t.name}::senhasegura-backup::senhasegura:backup:ApplianceBackup$command:remote:Command::appliance-0-verification-backup`;
    const verificationState = () => exportState(t).deployment.resources.find((r: any) => r.type.endsWith(":BackupVerification"))?.outputs;
    let masterKey = "";

    it("after the master key ceremony the dumps land as AES Crypt: their structure checked without the key, their HMACs with it", async () => {
        orbitWeb(app, { masterKeyCeremony: "yes" });
        masterKey = fs.readFileSync(app.masterKeyPath, "utf8");
        assert.ok(masterKey.length > 20);
        await t.stack.up({ replace: [VERIFICATION_BACKUP()], ...recorded(t) });
        let v = verificationState();
        assert.equal(v.files.length, 2, JSON.stringify(v.files));
        for (const f of v.files) {
            assert.match(f, /^backup\/system\/db\/senhasegura-db-.*(mt4|senhasegura)\.sql\.gz\.aes$/);
            assert.equal(fs.readFileSync(path.join(backupDir(), f)).subarray(0, 4).toString("latin1"), "AES\x02", `${f} is AES Crypt stream version 2`);
        }
        assert.equal(v.checked, "aescrypt-structure");
        assert.equal(v.applianceCopies, 0, "without the key the plaintext is not read, so there is nothing to compare");
        assert.match(t.output.join("\n"), /2 AES Crypt files well-formed \(no master key given, so the HMACs were not checked\)/);
        // The key given: the same backup's files are opened again, both HMACs checked, while
        // the argv and environment of the engine, the program and the providers are sampled.
        await t.stack.setConfig("masterKey", { value: masterKey, secret: true });
        const scan = { sampled: new Set<string>(), leaks: [] as string[], configChannel: new Set<string>() };
        const timer = setInterval(() => sample(process.pid, [masterKey], scan, { pulumiConfig: true }), 5);
        try {
            await t.stack.up(recorded(t));
        } finally {
            clearInterval(timer);
        }
        assert.deepEqual(scan.leaks, [], "the master key in the argv or environment of a process of the up");
        assert.ok(scan.sampled.has("pulumi") && scan.sampled.has("node"), `the sampler saw the engine and Node: ${[...scan.sampled]}`);
        v = verificationState();
        assert.equal(v.checked, "aescrypt-hmac");
        assert.equal(v.applianceCopies, 2, "each dump decrypts to the appliance's own copy");
        assert.match(t.output.join("\n"), /2 AES Crypt files opened with the master key, both HMACs valid; 2 of 2 have the SHA-256 of the appliance's own copy/);
        assert.ok(!t.output.join("\n").includes(masterKey), "the master key in the engine's output");
    });

    /** The oracle seals `plain` with `key` as the appliance does (AES Crypt version 2), the key on a file descriptor. */
    function seal(plain: Buffer, key: string): Buffer {
        const keyFile = path.join(lab.root, "run", `oracle-key-${process.pid}`);
        fs.writeFileSync(keyFile, key, { mode: 0o600 });
        const fd = fs.openSync(keyFile, "r");
        try {
            const r = spawnSync("/usr/bin/python3", [path.join(REPO, "tests", "oracle", "aescrypt.py"), "encrypt", "--version", "2", "--key-fd", "3"],
                { input: plain, stdio: ["pipe", "pipe", "pipe", fd], maxBuffer: 1 << 28 });
            assert.equal(r.status, 0, r.stderr?.toString());
            return r.stdout;
        } finally {
            fs.closeSync(fd);
            fs.rmSync(keyFile);
        }
    }

    it("the restore drill on the vendor appliance: the newest run's dumps and secrets items open with the master key; each damage is named (exit 2)", async () => {
        // Orbit Web's "Enable secrets backup" on, and the program declaring it on too.
        orbitWeb(app, { "secrets.enabled": "yes" });
        await t.stack.setConfig("masterPassword", { value: `vendor master ${process.pid}`, secret: true });
        await t.stack.up({ replace: [VERIFICATION_BACKUP()], ...recorded(t) });
        const needles = [masterKey, sudoPassword, `vendor master ${process.pid}`];
        const clean = await runDrill(REPO, t.name, ["--json"], needles);
        assert.equal(clean.code, 0, explain(clean));
        assertNoLeak(clean, needles);
        const [a] = clean.json.appliances;
        assert.equal(a.flavor, "vendor");
        assert.equal(a.verdict, "restorable");
        const dumps = a.files.filter((f: any) => f.role === "db");
        assert.deepEqual(dumps.map((f: any) => /(mt4|senhasegura)\.sql\.gz\.aes$/.exec(f.path)?.[1]).sort(), ["mt4", "senhasegura"]);
        assert.deepEqual(dumps.map((f: any) => f.path).sort(), [...verificationState().files].sort(), "the newest run is the verification backup");
        for (const f of dumps) assert.match(f.detail, /^decrypts with the master key, both HMACs valid, gunzips, \d+ bytes of SQL ending with mysqldump's completion line$/);
        const items = a.files.filter((f: any) => f.role === "secrets");
        assert.equal(items.length, 3, JSON.stringify(a.files));
        for (const f of items) assert.match(f.detail, /^decrypts with the master key, both HMACs valid, \d+ bytes of JSON$/);
        const text = await runDrill(REPO, t.name, [], needles);
        assert.equal(text.code, 0, explain(text));
        // The count is the JSON's: an arz day other suites left at the destination is listed too.
        assert.match(text.stdout, new RegExp(`is restorable: ${a.files.length} files, .* each opened \\(no manifest on a vendor appliance: the files are the newest run's\\)`));

        const mt4 = dumps.find((f: any) => /mt4\.sql\.gz\.aes$/.test(f.path)).path as string;
        const mt4File = path.join(backupDir(), mt4);
        const original = fs.readFileSync(mt4File);
        const secretsDir = path.join(backupDir(), "backup", "secrets");
        const aside = fs.mkdtempSync(path.join(lab.root, "run", "secrets-aside-"));
        try {
            // A dump cut short: the appliance's own copy, less its completion line, sealed with the same key.
            const localCopy = path.join(app.orbitRoot, "var", "orbini", "backup", "senhasegura", path.basename(mt4, ".aes"));
            const sql = zlib.gunzipSync(fs.readFileSync(localCopy)).toString("utf8");
            assert.match(sql, /-- Dump completed on .*\n$/);
            fs.writeFileSync(mt4File, seal(zlib.gzipSync(Buffer.from(sql.replace(/-- Dump completed on .*\n$/, ""))), masterKey));
            let run = await runDrill(REPO, t.name, ["--json"], needles);
            assert.equal(run.code, 2, explain(run));
            assertNoLeak(run, needles);
            assert.deepEqual(run.json.appliances[0].problems.map((p: any) => p.file), [mt4]);
            assert.match(run.json.appliances[0].problems[0].reason, /gunzips \(\d+ bytes of SQL\), but does not end with mysqldump's completion line .*: the dump was cut short$/);

            // The mt4 dump gone: named by the file it would be.
            fs.rmSync(mt4File);
            run = await runDrill(REPO, t.name, ["--json"], needles);
            assert.equal(run.code, 2, explain(run));
            assert.deepEqual(run.json.appliances[0].problems.map((p: any) => p.file), [mt4]);
            assert.match(run.json.appliances[0].problems[0].reason, /^is missing: .* has no dump of the mt4 database/);
            fs.writeFileSync(mt4File, original);

            // The secrets directory emptied, while the program declares the secrets backup on.
            for (const n of fs.readdirSync(secretsDir)) fs.renameSync(path.join(secretsDir, n), path.join(aside, n));
            run = await runDrill(REPO, t.name, [], needles);
            assert.equal(run.code, 2, explain(run));
            assert.match(run.stdout, /^  BAD backup\/secrets: holds no secrets item \(it is empty, or not there\), though the program declares the secrets backup on: turn on "Enable secrets backup" in Orbit Web/m);
            assert.match(run.stdout, /^  What to do: A kind the program declares on has nothing at the destination: turn it on in Orbit Web/m);
            assert.doesNotMatch(run.stdout, /Files at the destination differ/);
        } finally {
            fs.writeFileSync(mt4File, original);
            for (const n of fs.readdirSync(aside)) fs.renameSync(path.join(aside, n), path.join(secretsDir, n));
            fs.rmSync(aside, { recursive: true, force: true });
        }

        // A new ceremony: the stack holding the new key, the newest backup made under the old one.
        orbitWeb(app, { masterKeyCeremony: "again" });
        const newKey = fs.readFileSync(app.masterKeyPath, "utf8");
        try {
            assert.notEqual(newKey, masterKey);
            const [target] = stackTargets(await t.stack.workspace.exportStack(t.name)).targets as VendorTarget[];
            assert.equal(target.flavor, "vendor");
            assert.equal(target.masterKey, masterKey, "the drill takes the master key from the state");
            const r = await drillOne({ ...target, masterKey: newKey }, () => undefined);
            assert.equal(r.verdict, "not-restorable");
            assert.ok(r.problems.length >= 2 && r.problems.every((p) => /made under another master key, an earlier ceremony's .*this is not corruption$/.test(p.reason)), JSON.stringify(r.problems));
            assert.match(whatToDo(r)[0], /^The stack's masterKey is not the key this backup was made under/);
            assert.equal(whatToDo(r).length, 1, "not called damage");
            for (const k of [masterKey, newKey]) assert.ok(!JSON.stringify(r).includes(k), "a master key in the drill's result");
        } finally {
            // The lab's key back to the one the backups at the destination were made under.
            fs.renameSync(`${app.masterKeyPath}.1`, app.masterKeyPath);
        }
        // The kinds back as they were: a change of kinds runs a new verification backup, which the next case must not meet.
        await t.stack.removeConfig("masterPassword");
        orbitWeb(app, { "secrets.enabled": "no" });
        await t.stack.up(recorded(t));
        assert.equal(verificationState().checked, "aescrypt-hmac");
    });

    it("a flipped byte in a dump at the destination, and a master key from another ceremony, each fail naming the file and why", async () => {
        const file = path.join(backupDir(), verificationState().files[0]);
        const original = fs.readFileSync(file);
        const flipped = Buffer.from(original);
        flipped[flipped.length - 40] ^= 0x01;
        fs.writeFileSync(file, flipped);
        try {
            // The key block's HMAC comes first: another ceremony's key is named as such.
            await t.stack.setConfig("masterKey", { value: `${masterKey}-other`, secret: true });
            const wrongKey: string[] = [];
            await assert.rejects(t.stack.up({ onOutput: (l) => wrongKey.push(l) }));
            assert.match(wrongKey.join("\n"), /the master key does not open backup\/system\/db\/senhasegura-db-.*\.aes: .*older or newer than the one it was made with/);
            assert.ok(!wrongKey.join("\n").includes(masterKey), "the master key is in the output");
            // Without the key only the structure is read, which a flipped ciphertext byte keeps: the output says so.
            await t.stack.removeConfig("masterKey");
            await t.stack.up(recorded(t));
            assert.equal(verificationState().checked, "aescrypt-structure");
            await t.stack.setConfig("masterKey", { value: masterKey, secret: true });
            const altered: string[] = [];
            await assert.rejects(t.stack.up({ onOutput: (l) => altered.push(l) }));
            assert.match(altered.join("\n"), /senhasegura-db-.*\.aes is not a sound AES Crypt file \(altered\): the HMAC of its ciphertext differs/);
        } finally {
            fs.writeFileSync(file, original);
        }
        await t.stack.up(recorded(t));
        assert.equal(verificationState().checked, "aescrypt-hmac");
        const state = JSON.stringify(exportState(t));
        assert.ok(!state.includes(masterKey), "the master key is in plaintext state");
        await t.stack.removeConfig("masterKey");
        orbitWeb(app, { masterKeyCeremony: "no" });
    });

    const drift = () => runDrift(REPO, t.name);

    it("drift reads the vendor's backup log: a fresh backup is no finding, an ERROR after it is (exit 2), and the next good backup clears it", async () => {
        const backupFindings = (json: any) => (json?.findings ?? []).filter((f: any) => f.type === "BackupAge");
        let r = drift();
        assert.deepEqual(backupFindings(r.json), [], r.text);
        const log = path.join(app.orbitRoot, "var", "log", "orbinibkp.log");
        const stamp = new Date(Date.now() + 1000).toISOString().replace("T", " ").slice(0, 19);
        fs.appendFileSync(log, `[${stamp}]: senhasegura FILE ERROR rsync to senhauser@127.0.0.1:/files/backup/senhasegura failed: Connection refused\n`);
        r = drift();
        assert.equal(r.code, 2, r.text);
        const found = backupFindings(r.json);
        assert.deepEqual(found.map((f: any) => f.field), ["backupLog"], r.text);
        assert.match(found[0].message, /the backup log \(\/var\/log\/orbinibkp\.log\) has 1 ERROR line after its last successful backup, the last at .*: senhasegura FILE: rsync to .* failed: Connection refused/);
        assert.equal(found[0].cause, "outside-pulumi");
        await t.stack.up({ replace: [VERIFICATION_BACKUP()], ...recorded(t) });
        r = drift();
        assert.deepEqual(backupFindings(r.json), [], r.text);
    });

    it("drift checks by outcome what Orbit Web alone sets: a declared kind with no files, more sets than totalBackups, a full destination; each cleared", async () => {
        const outcome = (json: any) => (json?.findings ?? []).filter((f: any) => f.type === "BackupOutcome");
        let r = drift();
        // The lab's /var is a 64 MiB tmpfs and the destination this machine's disk: the sizing rule holds.
        assert.deepEqual(outcome(r.json), [], r.text);

        // Session files other suites sent today are put aside for the case, and back after it.
        const arz = path.join(backupDir(), "backup", "system", "arz");
        const arzAside = `${arz}.aside-${process.pid}`;
        if (fs.existsSync(arz)) fs.renameSync(arz, arzAside);
        try {
            // Video declared on while Orbit Web has it off, and a "Total of backups" the destination holds more sets than.
            await t.stack.setConfig("videoBackup", { value: "true" });
            await t.stack.setConfig("totalBackups", { value: "1" });
            const output: string[] = [];
            await t.stack.up({ onOutput: (l) => output.push(l) });
            assert.match(output.join("\n"), /"Total of backups" = 1 \(totalBackups\)/, "the preview names the Orbit Web field");
            r = drift();
            assert.equal(r.code, 2, r.text);
            const found = outcome(r.json);
            assert.deepEqual(found.map((f: any) => [f.field, f.cause]), [["video", "outside-pulumi"], ["totalBackups", "outside-pulumi"]], r.text);
            assert.match(found[0].message, /declares the video backup on, but the destination has no session files in backup\/system\/arz for the last 3 days; set Orbit Config Manager ➔ Settings ➔ Backup: "Enable sessions file backup\?" = Yes \(video\)/);
            assert.match(found[1].message, /keeps \d+ backup sets in backup\/system\/db, more than the 1 the program declares/);

            // Turned on in Orbit Web: the next backup files the day's sessions, and the video finding is gone.
            orbitWeb(app, { sessionsBackup: "yes" });
            await t.stack.removeConfig("totalBackups");
            await t.stack.up({ replace: [VERIFICATION_BACKUP()], ...recorded(t) });
            r = drift();
            assert.deepEqual(outcome(r.json), [], r.text);
        } finally {
            fs.rmSync(arz, { recursive: true, force: true });
            if (fs.existsSync(arzAside)) fs.renameSync(arzAside, arz);
        }

        // The destination full: an 8 MiB filesystem over the backup directory, its files copied in, then filled.
        const dir = backupDir();
        const owner = fs.statSync(dir);
        const saved = fs.mkdtempSync(path.join(lab.root, "run", "destination-aside-"));
        execFileSync("cp", ["-a", `${dir}/.`, saved]);
        execFileSync("mount", ["-t", "tmpfs", "-o", `size=8m,mode=0750,uid=${owner.uid},gid=${owner.gid}`, "lab-full-destination", dir]);
        try {
            execFileSync("cp", ["-a", `${saved}/.`, dir]);
            const filler = fs.openSync(path.join(dir, "filler"), "w");
            try {
                const block = Buffer.alloc(64 * 1024);
                for (;;) fs.writeSync(filler, block);
            } catch (err) {
                assert.equal((err as NodeJS.ErrnoException).code, "ENOSPC");
            } finally {
                fs.closeSync(filler);
            }
            r = drift();
            assert.equal(r.code, 2, r.text);
            const found = outcome(r.json);
            assert.deepEqual(found.map((f: any) => f.field), ["freeSpace", "destinationSize"], r.text);
            assert.match(found[0].message, /the destination has 0 B free, less than 3 times the newest backup/);
            assert.match(found[1].message, /the destination holds 8\.0 MiB, less than the vendor's sizing rule of 150 % of the appliance's \/var \(64\.0 MiB\)/);
        } finally {
            execFileSync("umount", [dir]);
            fs.rmSync(saved, { recursive: true, force: true });
        }
        r = drift();
        assert.deepEqual(outcome(r.json), [], r.text);

        await t.stack.setConfig("videoBackup", { value: "false" });
        orbitWeb(app, { sessionsBackup: "no" });
        await t.stack.up(recorded(t));
    });

    it("the appliance saw only documented orbit commands and flags, and no secret is in output or state", () => {
        const used = auditEntries(app).slice(auditFrom).filter((e) => e.mode === "vendor").map((e) => e.argv.join(" "));
        assert.ok(used.length > 5, `only ${used.length} orbit calls were audited`);
        const undocumented = used.filter((line) => !DOCUMENTED.some((re) => re.test(line)));
        assert.deepEqual(undocumented, [], "orbit calls the vendor does not document");
        const state = JSON.stringify(exportState(t));
        assert.ok(!state.includes(sudoPassword), "the sudo password is in plaintext state");
        assert.ok(!t.output.join("\n").includes(sudoPassword), "the sudo password is in the engine's output");
        assert.ok(!execFileSync("ps", ["-eo", "args"]).toString().includes(sudoPassword));
    });

    /** Runs the installed CLI's probe, as an operator would (scripts/env.sh's ssb_cli). */
    function probe(...args: string[]): { code: number | null; stdout: string; stderr: string } {
        const r = spawnSync("bash", ["-c", `source ${path.join(REPO, "scripts", "env.sh")}; ssb_cli probe "$@"`, "probe", ...args], { encoding: "utf8", timeout: 120_000 });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    }
    const pathsFile = () => {
        const file = path.join(lab.root, "run", "vendor-paths.json");
        fs.writeFileSync(file, JSON.stringify(app.vendorPaths));
        return file;
    };

    it("the probe: every capability as expected on the vendor appliance (exit 0), and 1 on a host that is not one", () => {
        const ok = probe("--host", app.host, "--port", String(app.port), "--host-key", app.hostKey, "--private-key-file", app.privateKeyPath,
            "--sudo-password-file", app.sudoPasswordPath, "--paths", pathsFile());
        assert.equal(ok.code, 0, ok.stdout + ok.stderr);
        assert.match(ok.stdout, /ok +version +Version 3\.31\.1-4/);
        assert.match(ok.stdout, /ok +backup hour +hour 5 \(an assumption/);
        // The lab's log holds the suite's backups, and the drift case's ERROR line, followed by a good backup.
        assert.match(ok.stdout, /ok +backup log +last success \d{4}-\d\d-\d\dT[\d:.]+Z \(zone \+0000\) +\[date \+%z; tail -n 500 /);
        assert.match(ok.stdout, /ok +var space +64\.0 MiB, [\d.]+ MiB free +\[df -P -k \S+var-fs\/appliance-0\]/);
        assert.ok(!ok.stdout.includes(sudoPassword));
        const server = lab.rsyncServer;
        const not = probe("--host", server.host, "--port", String(server.port), "--user", server.adminUser, "--host-key", server.hostKey, "--private-key-file", server.adminPrivateKeyPath);
        assert.equal(not.code, 1, not.stdout + not.stderr);
        // The lab's backup server shares the machine, so an orbit is there, but not a senhasegura's.
        assert.match(not.stdout, /not a senhasegura appliance/);
        const bad = probe("--host", app.host, "--port", String(app.port), "--host-key", lab.rsyncServer.hostKey, "--private-key-file", app.privateKeyPath);
        assert.equal(bad.code, 1);
        assert.match(bad.stdout, /UNREACHABLE .*host key does not match/);
    });

    it("destroy: leaves Orbit Web's settings alone, says so, and removes the key line", async () => {
        const blob = app.rootPublicKey.split(" ")[1];
        const output: string[] = [];
        await t.stack.destroy({ onOutput: (l) => output.push(l) });
        assert.match(output.join("\n"), /deleted from the stack only/);
        assert.ok(!fs.readFileSync(authorizedKeys(), "latin1").includes(blob), "the appliance key is still authorized");
    });

    it("the probe lists the differences on a contract appliance (exit 2)", () => {
        lab = setOrbitMode("contract");
        app = lab.appliances[0];
        const r = probe("--host", app.host, "--port", String(app.port), "--host-key", app.hostKey, "--private-key-file", app.privateKeyPath,
            "--sudo-password-file", app.sudoPasswordPath, "--paths", pathsFile(), "--json");
        assert.equal(r.code, 2, r.stdout + r.stderr);
        const report = JSON.parse(r.stdout).reports[0];
        const differs = report.findings.filter((f: any) => f.status === "differs").map((f: any) => f.capability);
        assert.ok(differs.includes("version"), JSON.stringify(report));
        assert.match(report.findings.find((f: any) => f.capability === "version").answer, /contract 2/);
    });
});
