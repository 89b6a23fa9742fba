// The lab appliance's vendor mode (lab/appliance/orbit-vendor.js) against the vendor's
// documented samples, over real ssh and sudo: its answers parse with the driver's own
// parsers, anything undocumented is a usage error, the prompts wait for stdin, and the
// audit log masks a password. It switches appliance-0 to vendor mode and back.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { parseBackupRun, parseBackupTimeShow, parseOrbitVersion } from "../../providers/formats/orbit-vendor";
import { type LabAppliance, type LabDescription, orbitWeb, pinnedSsh, setOrbitMode, shellQuote } from "../support/lab";

describe("lab: vendor mode answers as the vendor documents", function () {
    this.timeout(120_000);
    let lab: LabDescription;
    let app: LabAppliance;
    const sudo = (args: string, input = "") => pinnedSsh(app, `sudo -n orbit ${args}`, input);

    before(() => {
        lab = setOrbitMode("vendor");
        app = lab.appliances[0];
    });
    after(() => { setOrbitMode("contract"); });

    it("refuses to run without root, with the documented message", () => {
        const r = pinnedSsh(app, "orbit version");
        assert.equal(r.stdout.trim(), "This program must be run with root permissions!");
        assert.notEqual(r.code, 0);
    });

    it("prints the version table and the backup hour in forms the driver's parsers read", () => {
        const v = sudo("version");
        assert.equal(v.code, 0);
        assert.equal(parseOrbitVersion(v.stdout).version, "3.31.1-4");
        assert.equal(sudo("backup time --hour=7 --force").code, 0);
        assert.equal(parseBackupTimeShow(sudo("backup time --show").stdout), 7);
        assert.equal(sudo("backup time --hour 5 --force").code, 0, "--flag value works as --flag=value");
        assert.notEqual(sudo("backup time --hour=25 --force").code, 0, "0 to 24 only");
    });

    it("answers anything undocumented as a usage error (exit 80): --json, contract commands, unknown flags", () => {
        for (const args of ["version --json", "backup config show", "rsync set --user x", "backup create --force", "partition add --id x", "backup time --lock-timeout-sec 3"]) {
            const r = sudo(args);
            assert.equal(r.code, 80, `${args}: ${r.stdout} ${r.stderr}`);
            assert.match(r.stderr, /^orbit: error: /, args);
        }
    });

    it("backup create waits for its prompt: n aborts, y backs up in the vendor's log format", () => {
        orbitWeb(app, { applicationBackup: "yes", remotePartition: "no" });
        const no = sudo("backup create", "n\n");
        assert.match(no.stdout, /^Are you sure you want to perform a data backup now: /);
        assert.notEqual(no.code, 0);
        const yes = sudo("backup create", "y\n");
        assert.equal(yes.code, 0, yes.stderr);
        const run = parseBackupRun(yes.stdout);
        assert.equal(run.files.length, 2);
        assert.ok(run.files.every((f) => f.startsWith("/var/orbini/backup/senhasegura/senhasegura-db-")));
        assert.equal(run.succeeded, false, "no remote partition: the backup stays on the appliance, without the success line");
        assert.ok(run.durationSec !== undefined);
        const log = fs.readFileSync(app.vendorPaths.backupLog, "utf8");
        assert.match(log, /BACKUP INFO Using configuration file '\/var\/senhasegura\/orbinibkp\.conf'/);
        for (const f of run.files) assert.ok(fs.existsSync(path.join(app.vendorPaths.localBackupDir, path.basename(f))), f);
    });

    it("the audit log records every call with its mode, and masks a password given on argv", () => {
        const r = sudo(`partition --password=${shellQuote("Hunter2-secret")} --remote-host h`);
        assert.ok(!`${r.stdout}${r.stderr}`.includes("Hunter2-secret"), "orbit's answer echoes no password");
        const audit = fs.readFileSync(path.join(app.orbitRoot, "log", "orbit-audit.log"), "utf8");
        assert.ok(!audit.includes("Hunter2-secret"));
        assert.match(audit, /"mode":"vendor"/);
        assert.match(audit, /--password=<redacted>/);
    });
});
