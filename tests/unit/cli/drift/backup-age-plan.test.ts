// Stale backups as drift (scripts/backup-health.ts): the decisions, with a fixed clock.
// No engine, no lab: tests/e2e/drift.test.ts ages a real lab backup.
import { strict as assert } from "assert";
import { type BackupFacts, DEFAULT_MAX_BACKUP_AGE_HOURS, DEFAULT_OUTCOME_LIMITS, type OutcomeFacts, backupFindings, withBackupFindings } from "../../../../cli/drift/backup-age-plan";
import { EXIT, formatJson, formatText } from "../../../../cli/drift/plan";

const NOW = new Date("2026-12-01T12:00:00.000Z");
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();
const URN = "urn:pulumi:dev::p::senhasegura:index:ApplianceBackup$pulumi-nodejs:dynamic/senhasegura:BackupPolicy::appliance-0-policy";

function facts(over: Partial<BackupFacts> = {}): BackupFacts {
    return {
        appliance: "appliance-0", urn: URN, host: "mt4adm@127.0.0.1:59022",
        lastBackup: { id: "20261201T070000Z-1a2b", startedAt: hoursAgo(5) },
        lastFailure: null, events: [],
        newestAtDestination: { id: "20261201T070000Z-1a2b", createdAt: hoursAgo(5), where: "bkpadmin@127.0.0.1:2222:/files/backup/senhasegura" },
        ...over,
    };
}

describe("backup age: stale backups are drift", () => {
    it("a vendor appliance: an ERROR in its log after the last good backup is a finding, though that backup is young", () => {
        const vendor = facts({ flavor: "vendor", failuresSinceLastBackup: 2, lastFailure: { time: "2026-12-01 11:00:00", code: "senhasegura FILE", message: "the remote partition is not mounted" } });
        const { findings } = backupFindings(vendor, NOW, 26);
        assert.deepEqual(findings.map((f) => [f.field, f.cause]), [["backupLog", "outside-pulumi"]]);
        assert.match(findings[0].message, /has 2 ERROR lines after its last successful backup, the last at 2026-12-01 11:00:00: senhasegura FILE: the remote partition is not mounted; fix what it names/);
        assert.deepEqual(backupFindings({ ...vendor, failuresSinceLastBackup: 0 }, NOW, 26).findings, []);
        const none = backupFindings(facts({ flavor: "vendor", failuresSinceLastBackup: 0, newestAtDestination: null }), NOW, 26).findings;
        assert.match(none[0].message, /the destination holds no backup \(no database dump in backup\/system\/db\)/);
    });

    it("finds nothing for a backup younger than maxBackupAgeHours, which defaults to a day plus slack", () => {
        assert.equal(DEFAULT_MAX_BACKUP_AGE_HOURS, 26);
        assert.deepEqual(backupFindings(facts(), NOW, 26), { findings: [], warnings: [] });
        assert.deepEqual(backupFindings(facts({ lastBackup: { id: "x", startedAt: hoursAgo(26) }, newestAtDestination: undefined }), NOW, 26).findings, []);
    });

    it("reports a last successful backup older than the limit, naming the appliance, its age, the id and the last failure", () => {
        const { findings } = backupFindings(facts({
            lastBackup: { id: "20261127T050000Z-0001", startedAt: hoursAgo(31) },
            lastFailure: { time: hoursAgo(7), code: "unreachable", message: "rsync://… could not be reached" },
        }), NOW, 26);
        assert.equal(findings.length, 1);
        const [f] = findings;
        assert.equal(f.cause, "outside-pulumi");
        assert.equal(f.field, "lastBackup");
        assert.equal(f.urn, URN);
        assert.match(f.message, /^Backups of appliance-0 on mt4adm@127\.0\.0\.1:59022: the last successful backup is 31\.0 h old \(20261127T050000Z-0001\), older than 26 h; the last failure, at .*: unreachable: rsync:\/\/… could not be reached; check the appliance's backup log/);
    });

    it("reports the newest backup at the destination separately, since files can vanish there while the appliance thinks all is well", () => {
        const { findings } = backupFindings(facts({ newestAtDestination: { id: "20261120T050000Z-0001", createdAt: hoursAgo(24 * 11), where: "nfs://127.0.0.1:20490/senhasegura" } }), NOW, 26);
        assert.deepEqual(findings.map((f) => f.field), ["destination"]);
        assert.match(findings[0].message, /the newest backup at nfs:\/\/127\.0\.0\.1:20490\/senhasegura is 11\.0 days old \(20261120T050000Z-0001\)/);
        const none = backupFindings(facts({ newestAtDestination: null }), NOW, 26).findings;
        assert.match(none[0].message, /the destination holds no backup manifest/);
    });

    it("reports an appliance that never made a backup, and keeps an unreadable destination as a warning, not a verdict", () => {
        const r = backupFindings(facts({ lastBackup: null, newestAtDestination: "smbclient: NT_STATUS_LOGON_FAILURE" }), NOW, 26);
        assert.deepEqual(r.findings.map((f) => f.actual), ["never"]);
        assert.match(r.warnings[0], /the newest backup at the destination is unknown: smbclient: NT_STATUS_LOGON_FAILURE/);
    });

    it("treats a lost remote directory after the last good backup as drift, and one followed by a good backup as a warning", () => {
        const lost = (h: number) => ({ time: hoursAgo(h), kind: "remote_directory_lost", destination: "cifs://127.0.0.1:4450/backup", error: "NT_STATUS_BAD_NETWORK_NAME" });
        const open = backupFindings(facts({ events: [lost(10), lost(2), lost(1)] }), NOW, 26);
        assert.deepEqual(open.findings.map((f) => [f.type, f.field]), [["Notification", "events"]]);
        assert.match(open.findings[0].message, /lost its remote directory 2 times since its last successful backup, the last at .* \(cifs:\/\/127\.0\.0\.1:4450\/backup: NT_STATUS_BAD_NETWORK_NAME\)/);
        const closed = backupFindings(facts({ events: [lost(10)] }), NOW, 26);
        assert.deepEqual(closed.findings, []);
        assert.match(closed.warnings[0], /1 remote_directory_lost notification in the last 7 days, the last at .*, followed by a successful backup/);
    });

    it("makes the drift report drift (exit 2) and prints the findings in text and JSON", () => {
        const clean = { drift: false, resourcesChecked: 7, resourcesDrifted: 0, findings: [], warnings: [] };
        const report = withBackupFindings(clean, [facts({ lastBackup: { id: "20261127T050000Z-0001", startedAt: hoursAgo(40) } })], [], NOW, 26);
        assert.equal(report.drift, true);
        assert.equal(report.resourcesDrifted, 1);
        assert.match(formatText(report, "dev"), /Drift in stack dev: 1 of 7 resources, 1 change\.\n {2}Backups of appliance-0 .*40\.0 h old/);
        const json = JSON.parse(formatJson(report, "dev"));
        assert.equal(json.exitCode, EXIT.drift);
        assert.equal(json.findings[0].type, "BackupAge");
        assert.equal(withBackupFindings(clean, [facts()], [], NOW, 26).drift, false);
    });
});

describe("checks by outcome of what Orbit Web alone sets (a vendor appliance)", () => {
    const GIB = 2 ** 30;
    const where = "bkpadmin@127.0.0.1:2222:/files/backup/senhasegura";
    function outcome(over: Partial<OutcomeFacts> = {}, declared: Partial<OutcomeFacts["declared"]> = {}): BackupFacts {
        return facts({
            flavor: "vendor", failuresSinceLastBackup: 0,
            outcome: {
                declared: { system: true, video: true, secrets: true, partition: false, ...declared },
                video: { files: 4, newestAt: hoursAgo(6), where: `${where}/backup/system/arz/2026/1201` },
                secrets: { files: 3, newestAt: hoursAgo(6), where: `${where}/backup/secrets` },
                sets: 5, newestBytes: GIB, space: { totalBytes: 100 * GIB, freeBytes: 50 * GIB }, varSpace: { totalBytes: 20 * GIB, freeBytes: 5 * GIB },
                writeTest: { modifiedAt: hoursAgo(24) },
                ...over,
            },
        });
    }
    const fields = (f: BackupFacts, limits = DEFAULT_OUTCOME_LIMITS) => backupFindings(f, NOW, 26, limits).findings.map((x) => x.field);

    it("a destination that shows every declared kind fresh, with room, finds nothing", () => {
        assert.deepEqual(backupFindings(outcome(), NOW, 26), { findings: [], warnings: [] });
    });

    it("a declared kind with no files is drift, naming the kind and the Orbit Web field that turns it on", () => {
        const r = backupFindings(outcome({ video: null, secrets: null }), NOW, 26).findings;
        assert.deepEqual(r.map((f) => [f.type, f.field, f.cause]), [["BackupOutcome", "video", "outside-pulumi"], ["BackupOutcome", "secrets", "outside-pulumi"]]);
        assert.match(r[0].message, /declares the video backup on, but the destination has no session files in backup\/system\/arz for the last 3 days; set Orbit Config Manager ➔ Settings ➔ Backup: "Enable sessions file backup\?" = Yes \(video\)/);
        assert.match(r[1].message, /no item in backup\/secrets; set .*➔ Servers: Enabled/);
        assert.deepEqual(fields(outcome({ video: null, secrets: null }, { video: false, secrets: false })), [], "a kind declared off is not looked for");
    });

    it("a declared kind whose newest file is older than maxBackupAgeHours is drift; over NFS (no times) a warning says its age is unknown", () => {
        assert.deepEqual(fields(outcome({ video: { files: 1, newestAt: hoursAgo(30), where } })), ["video"]);
        const nfs = backupFindings(outcome({ secrets: { files: 3, where: "nfs://127.0.0.1:20490/senhasegura/backup/secrets" } }), NOW, 26);
        assert.deepEqual(nfs.findings, []);
        assert.match(nfs.warnings[0], /the secrets backup has 3 files at nfs:.*whose age is unknown \(the NFS client shows no times\)/);
    });

    it("more backup sets than the declared totalBackups is drift; fewer is a young history; undeclared is not counted", () => {
        const r = backupFindings(outcome({ sets: 9 }, { totalBackups: 7 }), NOW, 26).findings;
        assert.deepEqual(r.map((f) => [f.field, f.actual]), [["totalBackups", "9 sets"]]);
        assert.match(r[0].message, /"Total of backups" = 7 \(totalBackups\)/);
        assert.deepEqual(fields(outcome({ sets: 3 }, { totalBackups: 7 })), []);
        assert.deepEqual(fields(outcome({ sets: 90 })), []);
    });

    it("free space below freeSpaceMultiple × the newest backup is drift; the multiple is the stack's", () => {
        const tight = outcome({ space: { totalBytes: 100 * GIB, freeBytes: 2.5 * GIB } });
        const r = backupFindings(tight, NOW, 26).findings;
        assert.deepEqual(r.map((f) => f.field), ["freeSpace"]);
        assert.equal(r[0].actual, "2.5 GiB free of 100.0 GiB");
        assert.match(r[0].message, /less than 3 times the newest backup \(1\.0 GiB\)/);
        assert.deepEqual(fields(tight, { ...DEFAULT_OUTCOME_LIMITS, freeSpaceMultiple: 2 }), []);
    });

    it("a destination under 150 % of the appliance's /var is drift (the vendor's sizing rule)", () => {
        const r = backupFindings(outcome({ space: { totalBytes: 29 * GIB, freeBytes: 20 * GIB } }), NOW, 26).findings;
        assert.deepEqual(r.map((f) => [f.field, f.expected, f.actual]), [["destinationSize", "at least 150 % of the appliance's /var (20.0 GiB): 30.0 GiB", "29.0 GiB"]]);
        const unread = backupFindings(outcome({ varSpace: "df exited 1" }), NOW, 26);
        assert.deepEqual([unread.findings, unread.warnings.length], [[], 1], "an unread /var is a warning, not a guess");
    });

    it("a partition's write_test older than maxWriteTestAgeHours, or none, is drift; only with a partition destination", () => {
        assert.deepEqual(fields(outcome({ writeTest: { modifiedAt: hoursAgo(200) } }, { partition: true })), ["writeTest"]);
        assert.deepEqual(fields(outcome({ writeTest: null }, { partition: true })), ["writeTest"]);
        assert.deepEqual(fields(outcome({ writeTest: { modifiedAt: hoursAgo(200) } }, { partition: true }), { ...DEFAULT_OUTCOME_LIMITS, maxWriteTestAgeHours: 240 }), []);
        assert.deepEqual(fields(outcome({ writeTest: null })), [], "an rsync destination has no write_test");
    });

    it("what could not be read is a warning each, never a finding", () => {
        const r = backupFindings(outcome({ video: "smbclient: NT_STATUS_ACCESS_DENIED", sets: "x", space: "y" }, { totalBackups: 2 }), NOW, 26);
        assert.deepEqual(r.findings, []);
        assert.equal(r.warnings.length, 3);
    });
});

describe("backup age: what to read, from the stack's state", () => {
    const { runtime } = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const { backupSources } = require("../../../../cli/drift/backup-age-run") as typeof import("../../../../cli/drift/backup-age-run");
    const secret = (v: unknown) => ({ [runtime.specialSigKey]: runtime.specialSecretSig, plaintext: JSON.stringify(v) });
    const component = (n: string) => `urn:pulumi:dev::p::senhasegura:backup:ApplianceBackup::${n}`;
    const child = (type: string, n: string, parentName: string) => `urn:pulumi:dev::p::senhasegura:backup:ApplianceBackup$pulumi-nodejs:dynamic/senhasegura:${type}::${n}-${parentName}`;
    const connection = (port: number) => ({ host: "127.0.0.1", port, user: "mt4adm", hostKey: "SHA256:x", privateKey: secret("-----BEGIN KEY-----\nkey material\n-----END KEY-----") });
    const side = { type: "nfs", host: "127.0.0.1", port: 20490, path: "/senhasegura" };
    const deployment = {
        deployment: {
            resources: [
                { urn: component("a"), type: "senhasegura:backup:ApplianceBackup" },
                { urn: child("BackupPolicy", "a", "policy"), type: "pulumi-nodejs:dynamic/senhasegura:BackupPolicy", parent: component("a"), inputs: { connection: connection(59022), masterPassword: secret("master password 1") } },
                { urn: child("BackupVerification", "a", "verification"), type: "pulumi-nodejs:dynamic/senhasegura:BackupVerification", parent: component("a"), inputs: { appliance: "mt4adm@127.0.0.1:59022", destination: side } },
                { urn: component("b"), type: "senhasegura:backup:ApplianceBackup" },
                { urn: child("BackupPolicy", "b", "policy"), type: "pulumi-nodejs:dynamic/senhasegura:BackupPolicy", parent: component("b"), inputs: { connection: connection(59023) } },
                { urn: child("BackupPolicy", "c", "policy"), type: "pulumi-nodejs:dynamic/senhasegura:BackupPolicy", parent: component("b"), delete: true, inputs: {} },
            ],
        },
    };

    it("finds each BackupPolicy with its appliance's connection, and its destination when a verification says how to read it", () => {
        const secrets = new Set<string>();
        const sources = backupSources(deployment, secrets);
        assert.deepEqual(sources.map((s) => [s.appliance, (s.connection as { port: number }).port, s.destination]), [["a", 59022, side], ["b", 59023, undefined]]);
        assert.deepEqual(sources[0].declared, { system: true, video: false, secrets: false, partition: false }, "the schema's defaults where the state has no value");
        assert.equal((sources[0].connection as { privateKey: string }).privateKey.includes("key material"), true, "the key is revealed in memory to log in");
        assert.ok(secrets.has("master password 1"), "every revealed secret is known, to scrub from messages");
    });
});
