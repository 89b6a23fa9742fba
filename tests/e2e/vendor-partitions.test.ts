// A vendor appliance's remote partition, CIFS then NFS, driven by the dev stack's
// program through the real engine: `orbit partition` registers and mounts it at the
// mount point (its identity), the CIFS password goes into a mode-600 credentials file
// and never onto a command line, a verification backup lands on the share; drift made
// by hand (unmounted with --umount, the fstab entry deleted) is named and repaired;
// after the master key ceremony the backup on the share verifies by HMAC and the
// restore drill opens it, a flipped byte named; drift finds an aged write_test, which
// a remount clears; destroy deletes the partition and the credentials file. The
// appliance goes back to contract mode afterwards.
import { strict as assert } from "assert";
import { type ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO, type TestStack, createTestStack, exportState, plannedFieldChanges, recorded } from "../support/engine";
import { withSudoersDropIn } from "../support/hardening";
import { type LabAppliance, type LabDescription, orbitWeb, pinnedSsh, setOrbitMode } from "../support/lab";
import { assertNoLeak, explain, runDrift, runDrill } from "../support/drill-run";

const DOCUMENTED_PARTITION = [
    /^partition --local=\S+ --remote-host=\S+ --remote-path=\/\S* --type=(cifs|nfs)( --user=\S+)?( --domain=\S+)?( --options=\S+)? --force$/,
    /^partition --local=\S+ --(remount|umount|delete) --force$/,
    /^version$/, /^backup time --show$/, /^backup time --hour=\d+ --force$/, /^backup create$/,
];

describe("a vendor appliance's remote partition: orbit partition only, through the real engine", function () {
    this.timeout(600_000);
    let lab: LabDescription;
    let app: LabAppliance;
    let cifsPassword: string;
    let auditFrom = 0;
    const fstabEntry = () => fs.readFileSync(app.vendorPaths.fstab, "utf8").split("\n").find((l) => l.split(/\s+/)[1] === app.vendorPaths.mountPoint);
    const mounted = () => fs.readFileSync(app.vendorPaths.mountTable, "utf8").split("\n").some((l) => l.split(/\s+/)[1] === app.vendorPaths.mountPoint);
    const audit = () => fs.readFileSync(path.join(app.orbitRoot, "log", "orbit-audit.log"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));

    before(() => {
        lab = setOrbitMode("vendor");
        app = lab.appliances[0];
        cifsPassword = fs.readFileSync(lab.cifs.passwordPath, "utf8").trim();
        orbitWeb(app, { applicationBackup: "yes", sessionsBackup: "no", remotePartition: "yes", sendMode: "partition" });
        auditFrom = audit().length;
    });
    after(() => { setOrbitMode("contract"); });

    for (const protocol of ["cifs", "nfs"] as const) {
        describe(protocol, () => {
            let t: TestStack;
            const share = () => (protocol === "cifs" ? lab.cifs.localPath : lab.nfs.localPath);

            before(async () => {
                t = await createTestStack(REPO, { labFile: { value: path.join(lab.root, "lab.json") }, destination: { value: protocol }, videoBackup: { value: "false" } });
            });
            after(async () => { if (t) await t.destroyAndRemove().catch(() => undefined); });

            it("up registers and mounts it at the mount point, and the verification backup's dumps land on the share", async () => {
                let sampler: ChildProcess | undefined;
                const samples = path.join(lab.root, "run", `ps-samples-${protocol}`);
                const sudoLog = path.join(lab.root, "logs", `vendor-partition-sudo-${protocol}.log`);
                fs.rmSync(sudoLog, { force: true });
                // Every argv on the machine (the appliance's side included), sampled while the partition is made.
                sampler = spawn("sh", ["-c", `while :; do ps -eo args; sleep 0.05; done > ${samples}`], { stdio: "ignore" });
                try {
                    await withSudoersDropIn(`ssb-partition-${protocol}`, `Defaults logfile=${sudoLog}\nDefaults loglinelen=0\n`, async () => {
                        const result = await t.stack.up(recorded(t));
                        assert.equal(result.summary.result, "succeeded");
                        const v = result.outputs.lastVerification.value;
                        assert.equal(v.files.length, 2, JSON.stringify(v));
                        for (const f of v.files) assert.ok(fs.statSync(path.join(share(), f)).size > 0, `${f} is not on the share`);
                    });
                } finally {
                    sampler.kill();
                }
                const entry = fstabEntry();
                assert.ok(entry, "no fstab entry at the mount point");
                assert.match(entry!, protocol === "cifs" ? /^\/\/127\.0\.0\.1\/backup / : /^127\.0\.0\.1:\/senhasegura /);
                assert.ok(mounted(), "not in the mount table");
                assert.ok(fs.existsSync(path.join(app.vendorPaths.mountPoint, "write_test")));
                if (protocol === "cifs") {
                    assert.match(entry!, new RegExp(`credentials=${app.vendorPaths.cifsCredentials}`));
                    assert.equal(fs.statSync(app.vendorPaths.cifsCredentials).mode & 0o777, 0o600);
                    assert.ok(!entry!.includes(cifsPassword), "the password is in fstab");
                    assert.ok(!fs.readFileSync(samples, "utf8").includes(cifsPassword), "the CIFS password was on a command line");
                    assert.ok(!fs.readFileSync(sudoLog, "utf8").includes(cifsPassword), "the CIFS password is in sudo's log");
                }
                assert.match(fs.readFileSync(sudoLog, "utf8"), /orbit partition --local=/, "sudo logged the partition change");
                const sudoPassword = fs.readFileSync(app.sudoPasswordPath, "utf8").trim();
                assert.ok(!fs.readFileSync(samples, "utf8").includes(sudoPassword), "the sudo password was on a command line");
                assert.ok(!fs.readFileSync(sudoLog, "utf8").includes(sudoPassword), "the sudo password is in sudo's log");
                const state = JSON.stringify(exportState(t));
                assert.ok(!state.includes(cifsPassword), "the CIFS password is in plaintext state");
            });

            it("a no-op preview --refresh changes nothing", async () => {
                await t.stack.preview({ refresh: true, expectNoChanges: true });
            });

            it("unmounted by hand (orbit partition --umount) is drift of mounted, and up remounts it", async () => {
                const r = pinnedSsh(app, `sudo -n orbit partition --local=${app.vendorPaths.mountPoint} --umount --force`);
                assert.equal(r.code, 0, r.stdout + r.stderr);
                const events: any[] = [];
                await t.stack.preview({ refresh: true, onEvent: (e) => events.push(e) });
                const changes = plannedFieldChanges(events).filter((c) => c.name.endsWith("-partition"));
                assert.deepEqual(changes.map((c) => [c.op, c.keys]), [["update", ["mounted"]]], JSON.stringify(changes));
                const up = await t.stack.up({ refresh: true, ...recorded(t) });
                assert.equal(up.summary.result, "succeeded");
                assert.ok(mounted());
                await t.stack.preview({ refresh: true, expectNoChanges: true });
            });

            it("its fstab entry deleted by hand is a partition removed outside Pulumi, and up registers it again", async () => {
                const fstab = fs.readFileSync(app.vendorPaths.fstab, "utf8");
                fs.writeFileSync(app.vendorPaths.fstab, fstab.split("\n").filter((l) => l.split(/\s+/)[1] !== app.vendorPaths.mountPoint).join("\n"));
                const events: any[] = [];
                await t.stack.preview({ refresh: true, onEvent: (e) => events.push(e) });
                assert.ok(plannedFieldChanges(events).some((c) => c.name.endsWith("-partition") && c.op === "create"), JSON.stringify(plannedFieldChanges(events)));
                const up = await t.stack.up({ refresh: true, ...recorded(t) });
                assert.equal(up.summary.result, "succeeded");
                assert.ok(fstabEntry() && mounted());
            });

            it("after the master key ceremony the backup on the share verifies by HMAC and drills clean; a flipped byte is named", async () => {
                // The secrets backup on in Orbit Web too: its items land beside what other suites'
                // contract backups left in backup/secrets, which the drill would otherwise call stray.
                orbitWeb(app, { masterKeyCeremony: "yes", "secrets.enabled": "yes" });
                const masterKey = fs.readFileSync(app.masterKeyPath, "utf8");
                const sudoPassword = fs.readFileSync(app.sudoPasswordPath, "utf8").trim();
                await t.stack.setConfig("masterKey", { value: masterKey, secret: true });
                try {
                    const backup = `urn:pulumi:${t.name}::senhasegura-backup::senhasegura:backup:ApplianceBackup$command:remote:Command::appliance-0-verification-backup`;
                    await t.stack.up({ replace: [backup], ...recorded(t) });
                    const verification = exportState(t).deployment.resources.find((r: any) => r.type.endsWith(":BackupVerification"))?.outputs;
                    assert.equal(verification.checked, "aescrypt-hmac", JSON.stringify(verification));
                    const needles = [masterKey, sudoPassword, cifsPassword];
                    const clean = await runDrill(REPO, t.name, ["--json"], needles);
                    assert.equal(clean.code, 0, explain(clean));
                    assertNoLeak(clean, needles);
                    assert.deepEqual([clean.json.appliances[0].flavor, clean.json.appliances[0].verdict], ["vendor", "restorable"]);

                    const dump = verification.files.find((f: string) => /mt4\.sql\.gz\.aes$/.test(f)) as string;
                    const file = path.join(share(), dump);
                    const original = fs.readFileSync(file);
                    const flipped = Buffer.from(original);
                    flipped[flipped.length - 40] ^= 0x01;
                    fs.writeFileSync(file, flipped);
                    try {
                        const bad = await runDrill(REPO, t.name, ["--json"], needles);
                        assert.equal(bad.code, 2, explain(bad));
                        assertNoLeak(bad, needles);
                        assert.deepEqual(bad.json.appliances[0].problems.map((p: any) => p.file), [dump]);
                        assert.match(bad.json.appliances[0].problems[0].reason, /altered/);
                    } finally {
                        fs.writeFileSync(file, original);
                    }
                } finally {
                    await t.stack.removeConfig("masterKey");
                    orbitWeb(app, { masterKeyCeremony: "no", "secrets.enabled": "no" });
                }
            });

            it("drift checks the partition by outcome: a write_test older than maxWriteTestAgeHours is drift, and a remount clears it", async () => {
                const outcome = (json: any) => (json?.findings ?? []).filter((f: any) => f.type === "BackupOutcome");
                let r = runDrift(REPO, t.name);
                assert.deepEqual(outcome(r.json), [], r.text);
                const writeTest = path.join(app.vendorPaths.mountPoint, "write_test");
                const old = new Date(Date.now() - 200 * 3_600_000);
                fs.utimesSync(writeTest, old, old);
                r = runDrift(REPO, t.name);
                assert.equal(r.code, 2, r.text);
                const found = outcome(r.json);
                assert.deepEqual(found.map((f: any) => [f.field, f.cause]), [["writeTest", "outside-pulumi"]], r.text);
                assert.match(found[0].message, /the remote partition's write_test is 8\.3 days old, older than 168 h \(maxWriteTestAgeHours\)/);
                const remount = pinnedSsh(app, `sudo -n orbit partition --local=${app.vendorPaths.mountPoint} --remount --force`);
                assert.equal(remount.code, 0, remount.stdout + remount.stderr);
                r = runDrift(REPO, t.name);
                assert.deepEqual(outcome(r.json), [], r.text);
            });

            it("destroy deletes the partition (orbit partition --delete) and the credentials file", async () => {
                await t.stack.destroy({ onOutput: (l) => t.output.push(l) });
                assert.equal(fstabEntry(), undefined);
                assert.equal(mounted(), false);
                assert.equal(fs.existsSync(app.vendorPaths.cifsCredentials), false);
            });
        });
    }

    // A suite of its own, so that it runs after both protocols' (mocha runs a suite's own tests first).
    describe("afterwards", () => {
        it("the appliance saw only documented orbit commands and flags", () => {
            const used = audit().slice(auditFrom).filter((e) => e.mode === "vendor").map((e) => e.argv.join(" "));
            assert.ok(used.some((l) => l.startsWith("partition ")), "no partition command was audited");
            assert.deepEqual(used.filter((l) => !DOCUMENTED_PARTITION.some((re) => re.test(l))), []);
        });
    });
});
