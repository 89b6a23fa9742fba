// Drift detection end to end: changes made outside Pulumi on the lab hosts, found
// by the drift command (bash scripts/drift, the real entry point, through the real
// engine), then repaired by `pulumi up --refresh`.
//
// One stack (programs/drift: the rsync setup of one appliance, as the component
// lays it out, plus a CIFS and an NFS partition) on lab appliance-0 and the lab's
// backup server. The cases are batched into two rounds, since a removed key and
// changed options on the same authorized_keys line cannot be made at once:
//   round 1, seven changes at once, one drift run (--json):
//     AuthorizedKey    the key line's options edited            -> effectiveOptions
//                      authorized_keys chmod 644                 -> fileMode
//     RemotePartition  NFS removed (orbit partition remove)      -> removed outside Pulumi
//                      CIFS unmounted (orbit partition unmount)  -> mounted
//     RsyncTarget      the path changed (orbit rsync set)        -> path
//     BackupPolicy     the video backup disabled (orbit)         -> video
//                      the daily hour changed (orbit)            -> hour
//   up --refresh, the hosts checked, drift exits 0;
//   round 2: the key line removed -> removed outside Pulumi; up --refresh; drift exits 0.
// Also: exit code 1 on an error, and no secret in any output. The lab's files are
// put back as they were afterwards.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { REPO, TEST_BACKEND_DIR, TEST_PASSPHRASE, type TestStack, createTestStack, recorded } from "../support/engine";
import { type LabAppliance, type LabDescription, type LabSnapshot, labCredentials, loadLab, orbitOk, resourceProgramConfig, restoreLab, snapshotFile, snapshotLab } from "../support/lab";

const PROGRAM = path.join(__dirname, "programs", "drift");
const CIFS_ID = "drift-cifs";
const NFS_ID = "drift-nfs";
const HOUR = 4;
const MASTER_PASSWORD = `drift-master-${crypto.randomBytes(9).toString("base64url")}`;
const EXIT = { noDrift: 0, error: 1, drift: 2 };

interface DriftRun { code: number | null; stdout: string; stderr: string }

describe("drift: changes made outside Pulumi, named by scripts/drift and repaired by pulumi up", function () {
    this.timeout(240_000);
    let lab: LabDescription;
    let app: LabAppliance;
    let t: TestStack | undefined;
    let akPath: string;
    let keyOptions: string;
    let secrets: string[] = [];
    const outputs: string[] = [];
    let original: LabSnapshot | undefined;

    const show = () => orbitOk(app, ["backup", "config", "show"]);
    const subject = (type: string, suffix: string, host: string) => `${type} ${app.name}-${suffix} on ${host}`;

    function drift(...args: string[]): DriftRun {
        const r = spawnSync("bash", [path.join(REPO, "scripts", "drift"), "--stack", t!.name, "--cwd", PROGRAM, ...args], {
            env: { ...process.env, PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE },
            encoding: "utf8", timeout: 180_000,
        });
        if (r.error) throw new Error(`scripts/drift did not run: ${r.error.message}`);
        outputs.push(r.stdout, r.stderr);
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    /** The managed line's text in authorized_keys, or undefined. */
    function keyLine(): string | undefined {
        const blob = app.rootPublicKey.trim().split(" ")[1];
        return fs.readFileSync(akPath, "latin1").split("\n").find((l) => l.includes(blob));
    }

    /** Writes authorized_keys in place as root (same inode, mode and owner), as a hand edit would. */
    function editAuthorizedKeys(edit: (text: string) => string): void {
        fs.writeFileSync(akPath, edit(fs.readFileSync(akPath, "latin1")), "latin1");
    }

    function assertConverged(label: string): void {
        assert.equal(keyLine(), `${keyOptions} ${app.rootPublicKey.trim()}`, `${label}: the managed key line`);
        assert.equal(snapshotFile(akPath).mode, 0o600, `${label}: authorized_keys mode`);
        const config = show();
        assert.deepEqual(config.rsync, { user: lab.rsyncServer.backupUser, host: lab.rsyncServer.host, port: lab.rsyncServer.port, path: lab.rsyncServer.backupPath }, `${label}: rsync target`);
        for (const id of [CIFS_ID, NFS_ID]) {
            const p = config.partitions.find((x: any) => x.id === id);
            assert.ok(p, `${label}: partition ${id} exists`);
            assert.equal(p.mounted, true, `${label}: partition ${id} is mounted`);
        }
        assert.deepEqual({ video: config.backup.video, hour: config.backup.hour, secrets: config.backup.secrets, system: config.backup.system, destination: config.backup.destination.mode },
            { video: true, hour: HOUR, secrets: true, system: true, destination: "rsync" }, `${label}: backup policy`);
    }

    before(async function () {
        this.timeout(60_000);
        lab = loadLab();
        app = lab.appliances[0];
        if (!app) throw new Error("lab.json lists no appliance: run 'bash lab/start'");
        for (const host of [app.host, lab.rsyncServer.host, lab.cifs.host, lab.nfs.host]) {
            assert.match(host, /^127\./, `the lab must stay on 127.0.0.0/8, but lab.json names ${host}`);
        }
        akPath = lab.rsyncServer.authorizedKeysPath;
        keyOptions = `restrict,command="rrsync -wo -no-lock -absolute ${lab.rsyncServer.backupPath}"`;
        const credentials = labCredentials(lab, app);
        const { cifsPassword, applianceKey, adminKey } = credentials;
        secrets = [cifsPassword, MASTER_PASSWORD, ...[applianceKey, adminKey].flatMap((k) => k.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----")))];

        original = snapshotLab(lab, app);
        // Our partition ids start absent; the rest of the appliance is taken as it is.
        for (const id of [CIFS_ID, NFS_ID]) {
            if (show().backup.destination.partitionId === id) orbitOk(app, ["backup", "destination", "none"]);
            orbitOk(app, ["partition", "remove", "--id", id]);
        }

        t = await createTestStack(PROGRAM, resourceProgramConfig(lab, app, credentials, { cifsPartitionId: CIFS_ID, nfsPartitionId: NFS_ID, hour: HOUR, masterPassword: MASTER_PASSWORD }));
    });

    after(async function () {
        this.timeout(120_000);
        try {
            if (t) await t.destroyAndRemove();
        } finally {
            // Put the lab's files back as they were before this file ran.
            if (original) restoreLab(original);
        }
    });

    /** A lab helper (lab/age-backup, lab/notify-lost), run as root on this machine. */
    function labHelper(name: string, ...args: string[]): string {
        const r = spawnSync("bash", [path.join(REPO, "lab", name), ...args], { encoding: "utf8", timeout: 60_000 });
        assert.equal(r.status, 0, `lab/${name} ${args.join(" ")}: ${r.stderr}`);
        return r.stdout;
    }

    it("sets up the appliance's backups with pulumi up, and the appliance makes its daily backup", async () => {
        const result = await t!.stack.up(recorded(t!));
        assert.equal(result.summary.result, "succeeded");
        assertConverged("after up");
        // The program has no verification backup: this is the backup the appliance makes at its hour.
        orbitOk(app, ["backup", "create"]);
    });

    it("round 1: names seven changes made on the hosts at once, each resource and field, and exits 2 (--json)", () => {
        editAuthorizedKeys((text) => text.replace(`${keyOptions} ${app.rootPublicKey.trim()}`, `no-pty ${app.rootPublicKey.trim()}`));
        fs.chmodSync(akPath, 0o644);
        orbitOk(app, ["partition", "remove", "--id", NFS_ID]);
        orbitOk(app, ["partition", "unmount", "--id", CIFS_ID]);
        orbitOk(app, ["rsync", "set", "--user", lab.rsyncServer.backupUser, "--host", lab.rsyncServer.host, "--port", String(lab.rsyncServer.port), "--path", "/files/backup/drift-elsewhere"]);
        orbitOk(app, ["backup", "kind", "disable", "video"]);
        orbitOk(app, ["backup", "time", "--hour", "9"]);

        const r = drift("--json");
        assert.equal(r.code, EXIT.drift, `exit code; stderr:\n${r.stderr}`);
        const report = JSON.parse(r.stdout);
        const server = `${lab.rsyncServer.host}:${lab.rsyncServer.port}`;
        const appliance = `${app.host}:${app.port}`;
        assert.deepEqual(report.findings.map((f: any) => f.message).sort(), [
            `${subject("AuthorizedKey", "appliance-key", server)}: effectiveOptions changed from ${JSON.stringify(keyOptions)} to "no-pty"; up will set it back`,
            `${subject("AuthorizedKey", "appliance-key", server)}: fileMode changed from "600" to "644"; up will set it back`,
            `${subject("BackupPolicy", "policy", appliance)}: hour changed from ${HOUR} to 9; up will set it back`,
            `${subject("BackupPolicy", "policy", appliance)}: video changed from true to false; up will set it back`,
            `${subject("RemotePartition", "cifs", appliance)}: mounted changed from true to false; up will set it back`,
            `${subject("RemotePartition", "nfs", appliance)}: removed outside Pulumi; up will recreate it`,
            `${subject("RsyncTarget", "rsync", appliance)}: path changed from ${JSON.stringify(lab.rsyncServer.backupPath)} to "/files/backup/drift-elsewhere"; up will set it back`,
        ].sort());
        assert.deepEqual(report.findings.map((f: any) => [f.type, f.field ?? f.change, f.cause]).sort(), [
            ["AuthorizedKey", "effectiveOptions", "outside-pulumi"], ["AuthorizedKey", "fileMode", "outside-pulumi"],
            ["BackupPolicy", "hour", "outside-pulumi"], ["BackupPolicy", "video", "outside-pulumi"],
            ["RemotePartition", "mounted", "outside-pulumi"], ["RemotePartition", "removed", "outside-pulumi"],
            ["RsyncTarget", "path", "outside-pulumi"],
        ]);
        const hour = report.findings.find((f: any) => f.field === "hour");
        assert.deepEqual([hour.expected, hour.actual], [HOUR, 9], "JSON keeps values typed");
        assert.equal(report.exitCode, EXIT.drift);
        assert.equal(report.resourcesChecked, 6);
        assert.equal(report.resourcesDrifted, 5);
    });

    it("round 1: pulumi up --refresh converges every change, and drift then exits 0", async () => {
        const result = await t!.stack.up({ refresh: true, ...recorded(t!) });
        assert.equal(result.summary.result, "succeeded");
        assertConverged("after round 1");
        const r = drift();
        assert.equal(r.code, EXIT.noDrift, `exit code; output:\n${r.stdout}\n${r.stderr}`);
        assert.equal(r.stdout, `No drift: stack ${t!.name} matches the hosts (6 resources checked).\n`);
    });

    it("round 2: names the key removed from authorized_keys as removed outside Pulumi, and exits 2 (text)", () => {
        const line = keyLine();
        assert.ok(line, "the key line is there before the edit");
        editAuthorizedKeys((text) => text.split("\n").filter((l) => l !== line).join("\n"));
        assert.equal(keyLine(), undefined);
        const r = drift();
        assert.equal(r.code, EXIT.drift, `exit code; stderr:\n${r.stderr}`);
        const lines = r.stdout.split("\n");
        assert.equal(lines[0], `Drift in stack ${t!.name}: 1 of 6 resources, 1 change.`);
        assert.equal(lines[1], `  ${subject("AuthorizedKey", "appliance-key", `${lab.rsyncServer.host}:${lab.rsyncServer.port}`)}: removed outside Pulumi; up will recreate it`);
        assert.equal(lines[lines.length - 2], `To converge: pulumi up --refresh --stack ${t!.name}`);
    });

    it("round 2: pulumi up --refresh puts the key back, and drift then exits 0", async () => {
        const result = await t!.stack.up({ refresh: true, ...recorded(t!) });
        assert.equal(result.summary.result, "succeeded");
        assertConverged("after round 2");
        const r = drift();
        assert.equal(r.code, EXIT.noDrift, `exit code; output:\n${r.stdout}\n${r.stderr}`);
    });

    it("round 3: a backup older than maxBackupAgeHours is drift (exit 2), and a fresh backup clears it", () => {
        const before = show().backup;
        labHelper("age-backup", "--appliance", "0", "--hours", "30");
        const r = drift("--json");
        assert.equal(r.code, EXIT.drift, `exit code; output:\n${r.stdout}\n${r.stderr}`);
        const report = JSON.parse(r.stdout);
        // Lost-directory notifications other suites caused in the last 30 h now count as
        // after the (aged) last backup: only the age finding is this round's.
        const aged = report.findings.filter((f: any) => f.type === "BackupAge");
        assert.deepEqual(aged.map((f: any) => [f.type, f.name, f.field, f.cause]), [["BackupAge", `${app.name}-policy`, "lastBackup", "outside-pulumi"]]);
        assert.deepEqual(report.findings.filter((f: any) => f.type !== "BackupAge").map((f: any) => f.type), report.findings.filter((f: any) => f.type === "Notification").map(() => "Notification"));
        assert.match(aged[0].message, new RegExp(`^Backups of ${app.name}-policy on ${app.user}@${app.host.replace(/\./g, "\\.")}:${app.port}: the last successful backup is 30\\.\\d h old \\(\\d{8}T\\d{6}Z-[0-9a-f]+\\), older than 26 h; check the appliance's backup log`));
        assert.equal(report.resourcesDrifted, 1, "the findings are tied to the BackupPolicy");
        // The allowed age is the stack's to set: 48 h lets this one pass.
        const lenient = JSON.parse(drift("--json", "--max-backup-age-hours", "48").stdout);
        assert.deepEqual(lenient.findings.filter((f: any) => f.type === "BackupAge"), []);
        orbitOk(app, ["backup", "create"]);
        const fresh = drift();
        assert.equal(fresh.code, EXIT.noDrift, `exit code after a fresh backup; output:\n${fresh.stdout}\n${fresh.stderr}`);
        assert.equal(show().backup.hour, before.hour, "the check changed nothing on the appliance");
    });

    it("round 3: a lost remote directory since the last backup is drift, and the next good backup turns it into a warning", () => {
        labHelper("notify-lost", "--appliance", "0");
        const r = drift("--json");
        assert.equal(r.code, EXIT.drift, `exit code; output:\n${r.stdout}\n${r.stderr}`);
        const report = JSON.parse(r.stdout);
        assert.deepEqual(report.findings.map((f: any) => [f.type, f.field]), [["Notification", "events"]]);
        assert.match(report.findings[0].message, /lost its remote directory 1 time since its last successful backup/);
        orbitOk(app, ["backup", "create"]);
        const after = drift("--json");
        assert.equal(after.code, EXIT.noDrift, `exit code; output:\n${after.stdout}\n${after.stderr}`);
        assert.ok(JSON.parse(after.stdout).warnings.some((w: any) => /remote_directory_lost notification.*followed by a successful backup/.test(w.message)));
    });

    it("exits 1 when the preview cannot run, and on a bad argument", () => {
        const missing = spawnSync("bash", [path.join(REPO, "scripts", "drift"), "--stack", "no-such-stack-for-drift", "--cwd", PROGRAM], {
            env: { ...process.env, PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE }, encoding: "utf8", timeout: 120_000,
        });
        outputs.push(missing.stdout, missing.stderr);
        assert.equal(missing.status, EXIT.error, missing.stderr);
        assert.match(missing.stderr, /^drift: the preview of stack no-such-stack-for-drift failed, so drift is unknown:/);
        const bad = spawnSync("bash", [path.join(REPO, "scripts", "drift"), "--passphrase", "x"], { encoding: "utf8", timeout: 60_000 });
        assert.equal(bad.status, EXIT.error);
        assert.match(bad.stderr, /unknown argument "--passphrase"/);
    });

    it("prints no secret: no password, no private key line, in any drift output or CLI output", () => {
        const all = [...outputs, ...t!.output].join("\n");
        assert.ok(outputs.join("").length > 500, "the drift runs printed their reports");
        for (const s of secrets) assert.ok(!all.includes(s), "a secret value is in the drift or CLI output");
    });
});
