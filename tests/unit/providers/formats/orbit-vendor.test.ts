// The parsers of a real appliance's orbit answers (providers/formats/orbit-vendor.ts)
// and of its fstab and mount table (providers/formats/mount-table.ts), against the
// vendor's documented samples (../shared/vendor-docs/, restated here in the shape the
// vendor prints them) and against variations a real appliance may show.
import { strict as assert } from "assert";
import {
    UnexpectedAnswer, logTimeToIso, parseBackupHistory, parseBackupRun, parseBackupTimeShow, parseMountOptions, parseOrbitVersion,
    parsePartitionAnswer,
} from "../../../../providers/formats/orbit-vendor";
import { entryFor, optionValue, parseMountTable, remoteShare } from "../../../../providers/formats/mount-table";

const VERSION_SAMPLE = [
    "[sudo] password for mt4adm:",
    "senhasegura Orbit Command-Line Interface",
    "Version 3.31.1-4",
    "+--------------------+--------+",
    "| APPLICATION PACKAGES | VERSION |",
    "+--------------------+--------+",
    "| orbini-fwk | 3.31.1-9 |",
    "| senhasegura-pam | 3.31.1-5 |",
    "+--------------------+--------+",
].join("\n");

const BACKUP_SAMPLE = [
    "Are you sure you want to perform a data backup now: y",
    "Orbini Backup 1.1.0.2",
    "[2024-02-28 15:16:49]: BACKUP INFO Using configuration file '/var/senhasegura/orbinibkp.conf'",
    "[2024-02-28 15:16:49]: senhasegura DB INFO Starting database backup to /var/orbini/backup/senhasegura/senhasegura-db-2024-02-28_151649mt4.sql.gz",
    "[2024-02-28 15:16:50]: senhasegura DB INFO Starting database backup to /var/orbini/backup/senhasegura/senhasegura-db-2024-02-28_151650senhasegura.sql.gz",
    "[2024-02-28 15:17:08]: senhasegura DB INFO Database backup performed successfully",
    "[2024-02-28 15:17:08]: senhasegura DB INFO Cleaning up old backup files",
    "[2024-02-28 15:17:08]: senhasegura FILE INFO Starting db backup files via rsync from the /var/orbini/backup/senhasegura/ with delete source",
    "[2024-02-28 15:17:08]: senhasegura FILE INFO /var/orbini/backup/senhasegura/ backup successfully performed",
    "Duration: 18.402217738s",
].join("\n");

function throwsUnexpected(fn: () => unknown, answerPart: string): void {
    assert.throws(fn, (err: unknown) => {
        assert.ok(err instanceof UnexpectedAnswer, `not an UnexpectedAnswer: ${String(err)}`);
        assert.ok(err.message.includes(answerPart), `the message does not quote the answer (${answerPart}): ${err.message}`);
        return true;
    });
}

describe("orbit vendor answers: orbit version", () => {
    it("reads the documented sample: version and package table, sudo's prompt ignored", () => {
        assert.deepEqual(parseOrbitVersion(VERSION_SAMPLE), {
            version: "3.31.1-4", packages: { "orbini-fwk": "3.31.1-9", "senhasegura-pam": "3.31.1-5" },
        });
    });
    it("tolerates CRLF, blank lines, aligned tables and a newer version string", () => {
        const text = "\r\nsenhasegura Orbit Command-Line Interface\r\nVersion 4.0.12-1\r\n\r\n+----------------------+----------+\r\n| APPLICATION PACKAGES | VERSION  |\r\n+----------------------+----------+\r\n| orbini-fwk           | 4.0.12-3 |\r\n| senhasegura-pam      | 4.0.12-2 |\r\n+----------------------+----------+\r\n\r\n";
        const v = parseOrbitVersion(text);
        assert.equal(v.version, "4.0.12-1");
        assert.equal(v.packages["senhasegura-pam"], "4.0.12-2");
    });
    it("fails closed, quoting the answer: not root, no header, a contract answer, a broken table", () => {
        throwsUnexpected(() => parseOrbitVersion("This program must be run with root permissions!"), "root permissions");
        throwsUnexpected(() => parseOrbitVersion('{"ok":true,"contract":2}'), '{"ok":true,"contract":2}');
        throwsUnexpected(() => parseOrbitVersion("senhasegura Orbit Command-Line Interface\nversion unknown"), "version unknown");
        throwsUnexpected(() => parseOrbitVersion(`${VERSION_SAMPLE}\nsomething else`), "something else");
        throwsUnexpected(() => parseOrbitVersion("senhasegura Orbit Command-Line Interface\nVersion 3.31.1-4"), "Version 3.31.1-4");
    });
});

describe("orbit vendor answers: orbit backup time --show (an assumption)", () => {
    for (const [text, hour] of [["5", 5], ["Backup daily time: 5\n", 5], ["05:00", 5], ["\r\n17\r\n", 17], ["24", 0], ["0", 0]] as const) {
        it(`reads ${JSON.stringify(text)} as ${hour}`, () => assert.equal(parseBackupTimeShow(text), hour));
    }
    it("fails closed on no hour, two numbers, or a number that is no hour", () => {
        throwsUnexpected(() => parseBackupTimeShow("not configured"), "not configured");
        throwsUnexpected(() => parseBackupTimeShow("between 3 and 5"), "between 3 and 5");
        throwsUnexpected(() => parseBackupTimeShow("hour 99"), "hour 99");
        throwsUnexpected(() => parseBackupTimeShow(""), "(nothing)");
    });
});

describe("orbit vendor answers: orbit partition", () => {
    it("reads Done! / No errors reported after the prompt, on one line or two", () => {
        assert.deepEqual(parsePartitionAnswer("Are you sure you want to proceed: y\nDone!\nNo errors reported\n"), { kind: "done" });
        assert.deepEqual(parsePartitionAnswer("Are you sure you want to proceed: Done!\r\nNo errors reported\r\n"), { kind: "done" });
        assert.deepEqual(parsePartitionAnswer("Done!\n\nNo errors reported"), { kind: "done" });
    });
    it("reads the documented remount answer, with its wrapped options and the password masked", () => {
        const text = "Are you sure you want to proceed: y\nPartition remounted successfully\n- domain=sandbox.local\nmount.cifs kernel mount options: ip=192.168.214.37,\nunc=\\\\192.168.214.37\\backup,file_mode=0750,dir_mode=0750,\nuid=1001,gid=1001,user=senhasegura,domain=sandbox.local,pass=*******\n";
        const answer = parsePartitionAnswer(text);
        assert.equal(answer.kind, "remounted");
        assert.ok(answer.kind === "remounted");
        assert.equal(answer.options.unc, "\\\\192.168.214.37\\backup");
        assert.equal(answer.options.user, "senhasegura");
        assert.equal(answer.options.file_mode, "0750");
        assert.ok(!("pass" in answer.options), "the masked password is dropped");
        assert.deepEqual(parseMountOptions("mount.cifs kernel mount options: ip=1.2.3.4,password=x,vers=3.0"), { ip: "1.2.3.4", vers: "3.0" });
    });
    it("fails closed on an error, a refusal or nothing", () => {
        throwsUnexpected(() => parsePartitionAnswer("Are you sure you want to proceed: y\nmount error(13): Permission denied"), "Permission denied");
        throwsUnexpected(() => parsePartitionAnswer("Done!\nNo errors reported\nmount error(2)"), "mount error(2)");
        throwsUnexpected(() => parsePartitionAnswer("This program must be run with root permissions!"), "root permissions");
        throwsUnexpected(() => parsePartitionAnswer(""), "(nothing)");
    });
});

describe("orbit vendor answers: orbit backup create and the backup log", () => {
    it("reads the documented run: success, the two dumps, the duration", () => {
        const run = parseBackupRun(BACKUP_SAMPLE);
        assert.equal(run.succeeded, true);
        assert.deepEqual(run.errors, []);
        assert.deepEqual(run.files, [
            "/var/orbini/backup/senhasegura/senhasegura-db-2024-02-28_151649mt4.sql.gz",
            "/var/orbini/backup/senhasegura/senhasegura-db-2024-02-28_151650senhasegura.sql.gz",
        ]);
        assert.equal(run.durationSec, 18.402217738);
        assert.deepEqual(run.lines[0], { time: "2024-02-28 15:16:49", component: "BACKUP", level: "INFO", message: "Using configuration file '/var/senhasegura/orbinibkp.conf'" });
        assert.equal(run.lines[6].component, "senhasegura FILE");
    });
    it("sees an ERROR line, and a run without the success line, with CRLF", () => {
        const failed = parseBackupRun(`${BACKUP_SAMPLE.split("\n").slice(0, 4).join("\r\n")}\r\n[2024-02-28 15:16:51]: senhasegura FILE ERROR rsync: connection unexpectedly closed\r\n`);
        assert.equal(failed.succeeded, false);
        assert.equal(failed.errors.length, 1);
        assert.match(failed.errors[0].message, /connection unexpectedly closed/);
    });
});

describe("orbit vendor answers: the backup log's history", () => {
    const log = [
        "[2026-12-06 05:00:01]: BACKUP INFO Using configuration file '/var/senhasegura/orbinibkp.conf'",
        "[2026-12-06 05:00:09]: senhasegura FILE INFO /var/orbini/backup/senhasegura/ backup successfully performed",
        "[2026-12-06 09:00:03]: senhasegura FILE ERROR rsync to senhauser@10.0.0.9:/backup failed: Connection refused",
        "[2026-12-07 05:00:01]: BACKUP INFO Using configuration file '/var/senhasegura/orbinibkp.conf'",
        "[2026-12-07 05:00:09]: senhasegura FILE INFO /var/orbini/backup/senhasegura/ backup successfully performed",
        "[2026-12-07 06:10:00]: senhasegura FILE ERROR the remote partition is not mounted",
        "a line of another shape",
    ].join("\n");

    it("finds the last successful run and only the ERROR lines after it", () => {
        const h = parseBackupHistory(log);
        assert.equal(h.lastSuccess?.time, "2026-12-07 05:00:09");
        assert.deepEqual(h.errorsAfter.map((l) => l.message), ["the remote partition is not mounted"]);
    });

    it("with no success, every ERROR line counts; an empty log has neither", () => {
        const h = parseBackupHistory(log.split("\n").filter((l) => !/successfully/.test(l)).join("\n"));
        assert.equal(h.lastSuccess, undefined);
        assert.equal(h.errorsAfter.length, 2);
        assert.deepEqual(parseBackupHistory(""), { errorsAfter: [] });
    });

    it("reads a log time in the appliance's zone, given as date +%z prints it", () => {
        assert.equal(logTimeToIso("2026-12-07 05:00:09", "+0000"), "2026-12-07T05:00:09.000Z");
        assert.equal(logTimeToIso("2026-12-07 05:00:09", "-0300"), "2026-12-07T08:00:09.000Z");
        assert.equal(logTimeToIso("2026-12-07 05:00:09", "UTC"), undefined);
    });
});

describe("fstab and the mount table", () => {
    const FSTAB = [
        "# /etc/fstab: static file system information.",
        "UUID=1234 / ext4 errors=remount-ro 0 1",
        "",
        "//192.168.214.37/backup /srv/backup_remoto cifs credentials=/root/.senhasegura-backup/cifs-credentials,domain=sandbox.local,_netdev 0 0",
        "files.example.com:/exports/senhasegura /srv/backup\\040nfs nfs4 port=2049,_netdev 0 0",
    ].join("\n");
    it("finds the entry for a mount point and reads its remote end", () => {
        const entries = parseMountTable(FSTAB);
        const cifs = entryFor(entries, "/srv/backup_remoto/");
        assert.ok(cifs);
        assert.deepEqual(remoteShare(cifs), { protocol: "cifs", host: "192.168.214.37", path: "/backup", port: undefined });
        assert.equal(optionValue(cifs, "domain"), "sandbox.local");
        assert.equal(optionValue(cifs, "_netdev"), true);
        assert.equal(optionValue(cifs, "user"), undefined);
        const nfs = entryFor(entries, "/srv/backup nfs");
        assert.ok(nfs, "\\040 is a space");
        assert.deepEqual(remoteShare(nfs), { protocol: "nfs", host: "files.example.com", path: "/exports/senhasegura", port: 2049 });
        assert.equal(entryFor(entries, "/srv/other"), undefined);
    });
    it("names why an entry is not a share", () => {
        const [root] = parseMountTable("UUID=1234 / ext4 defaults 0 1");
        assert.match(String(remoteShare(root)), /not cifs or nfs/);
        const [bad] = parseMountTable("backup /srv/backup_remoto cifs defaults 0 0");
        assert.match(String(remoteShare(bad)), /not \/\/host\/share/);
    });
});
