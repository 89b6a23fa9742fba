// The probe's report (cli/probe/plan.ts) from the vendor driver's reads: what is as
// expected, what differs (with the appliance's answer, passwords masked), and the exit code.
import { strict as assert } from "assert";
import { exitCode, masked, probeReport, reportText } from "../../../../cli/probe/plan";
import { resolvedPaths } from "../../../../providers/appliance/connection";
import type { ItemAnswer, ReadItem } from "../../../../providers/appliance/vendor-reads";
import { ed25519PublicKey } from "../../../support/keys";

const VERSION = "senhasegura Orbit Command-Line Interface\nVersion 3.31.1-4\n+--+\n| orbini-fwk | 3.31.1-9 |\n| senhasegura-pam | 3.31.1-5 |\n+--+";
const ok = (output: string): ItemAnswer => ({ output, code: 0 });

function reads(over: Partial<Record<ReadItem, ItemAnswer>> = {}): Record<ReadItem, ItemAnswer> {
    return {
        version: ok(VERSION), hour: ok("Backup daily time: 5"), rootKey: ok(ed25519PublicKey("root@a")), hostname: ok("appliance-0"),
        fstab: ok("UUID=1 / ext4 defaults 0 1"), mounts: ok("/dev/sda1 / ext4 rw 0 0"),
        writeTest: { output: "stat: cannot statx '/srv/backup_remoto/write_test': No such file or directory", code: 1 },
        ...over,
    };
}
const paths = resolvedPaths(undefined);

describe("probe: the report", () => {
    it("says ok for every capability of an appliance that answers as documented, and exits 0", () => {
        const r = probeReport("mt4adm@a:59022", reads(), paths);
        assert.deepEqual(r.findings.filter((f) => f.status === "differs"), []);
        assert.match(reportText(r), /ok +version +Version 3\.31\.1-4 \(orbini-fwk 3\.31\.1-9, senhasegura-pam 3\.31\.1-5\)/);
        assert.match(reportText(r), /info +write_test +absent/);
        assert.equal(exitCode([r], 0), 0);
    });

    it("lists each difference with the appliance's answer: a contract appliance, an unknown --show format", () => {
        const r = probeReport("mt4adm@a:59022", reads({
            version: ok("senhasegura Orbit (lab simulator), contract 2, appliance appliance-0"),
            hour: { output: "orbit: error: unknown flag --show", code: 80 },
        }), paths);
        const differs = r.findings.filter((f) => f.status === "differs");
        assert.deepEqual(differs.map((f) => f.capability), ["version", "backup hour"]);
        assert.match(differs[0].answer!, /contract 2/);
        assert.match(differs[1].answer!, /unknown flag --show/);
        assert.equal(exitCode([r], 0), 2);
    });

    it("exits 1 for a host without orbit, and for one it could not reach", () => {
        const r = probeReport("root@backup:22", reads({ version: { output: "sh: 1: orbit: not found", code: 127 } }), paths);
        assert.equal(r.senhasegura, false);
        assert.equal(exitCode([r], 0), 1);
        assert.equal(exitCode([], 1), 1);
        const other = probeReport("u@h:22", reads({ version: { output: "orbit: some other tool's error", code: 1 } }), paths);
        assert.equal(other.senhasegura, false, "an orbit that is not senhasegura's");
        const newer = probeReport("u@h:22", reads({ version: ok("senhasegura Orbit CLI v5 (a format not seen yet)") }), paths);
        assert.equal(newer.senhasegura, true, "a senhasegura that answers in a new format differs, exit 2");
        assert.equal(exitCode([newer], 0), 2);
    });

    it("reads the backup log as drift does: the last success in the appliance's zone, ERROR lines after it; unreadable differs", () => {
        const line = (time: string, level: string, message: string) => ({ time, component: "senhasegura FILE", level, message });
        const good = probeReport("a", reads(), paths, { offset: "-0300", history: { lastSuccess: line("2026-12-07 05:00:09", "INFO", "x backup successfully performed"), errorsAfter: [line("2026-12-07 06:00:00", "ERROR", "y")] }, varSpace: { totalBytes: 20 * 2 ** 30, freeBytes: 5 * 2 ** 30 } });
        const log = good.findings.find((f) => f.capability === "backup log")!;
        assert.equal(log.status, "ok");
        assert.equal(log.detail, "last success 2026-12-07T08:00:09.000Z, 1 ERROR line(s) after it (zone -0300)");
        assert.match(log.command, /^date \+%z; tail -n 500 \/var\/log\/orbinibkp\.log$/);
        const space = good.findings.find((f) => f.capability === "var space")!;
        assert.deepEqual([space.status, space.detail, space.command], ["ok", "20.0 GiB, 5.0 GiB free", "df -P -k /var"]);
        const noVar = probeReport("a", reads(), paths, { offset: "+0000", history: { errorsAfter: [] }, varSpace: "it is not `df -P -k` output" });
        const none = noVar.findings.find((f) => f.capability === "backup log")!;
        assert.equal(none.status, "info");
        assert.equal(noVar.findings.find((f) => f.capability === "var space")!.status, "differs", "a df answer not understood differs");
        const unreadable = probeReport("a", reads(), paths, { error: "read the backup log failed: tail: cannot open" });
        assert.equal(unreadable.findings.find((f) => f.capability === "backup log")!.status, "differs");
        assert.equal(exitCode([unreadable], 0), 2);
        assert.equal(probeReport("a", reads(), paths).findings.find((f) => f.capability === "backup log"), undefined, "not read: no line");
    });

    it("masks a password an fstab entry holds", () => {
        const r = probeReport("a", reads({ fstab: ok("//h/share /srv/backup_remoto ext4 username=u,password=S3cret!,vers=3.0 0 0") }), paths);
        const fstab = r.findings.find((f) => f.capability === "fstab")!;
        assert.equal(fstab.status, "differs");
        assert.ok(!fstab.answer!.includes("S3cret"), fstab.answer);
        assert.equal(masked("pass=abc,user=x"), "pass=*******,user=x");
    });
});
