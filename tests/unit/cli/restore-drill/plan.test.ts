// The restore drill's decisions (cli/restore-drill/plan.ts): its arguments, which
// directories it lists, what a size, a digest, a listing or an opened file says, the
// verdicts, the exit code and the report. No host: tests/e2e/restore.test.ts runs the
// drill against the lab.
import { strict as assert } from "assert";
import type { Manifest, ManifestFile } from "../../../../providers/formats/backup-format";
import {
    type ApplianceResult, EXIT, applianceResult, buildReport, bytes, checkDigests, checkManifestDigest, checkOpened, countSecrets, directoriesToList, exitCodeOf,
    extraFiles, fileResults, formatJson, formatText, openedDetail, parseArgs, parseManifest, whatToDo, wrongKeyReason,
} from "../../../../cli/restore-drill/plan";
import { UsageError } from "../../../../cli/shared/args";

const ID = "20261126T080000Z-1a2b";
const sha = (c: string) => c.repeat(64);
const file = (path: string, role: ManifestFile["role"], extra: Partial<ManifestFile> = {}): ManifestFile => ({
    path, role, kind: role === "db" ? "system" : role === "arz" ? "video" : "secrets", size: 1000, sha256: sha("a"), encrypted: true, entries: 3, ...extra,
});
const DB = `backup/system/db/${ID}/senhasegura-db.tar.gz.enc`;
const CONFIG = `backup/system/db/${ID}/orbit-config.tar.gz.enc`;
const ARZ = `backup/system/arz/2026/1126/${ID}-sessions.tar.gz.enc`;
const SECRETS = `backup/secrets/${ID}.secrets.enc`;
const MANIFEST_FILE = `backup/manifests/${ID}.json`;
const manifest: Manifest = {
    format: "orbit-backup-manifest", version: 1, id: ID, hostname: "appliance-0", createdAt: "2026-11-26T08:00:00.000Z",
    kinds: ["system", "secrets", "video"],
    files: [file(DB, "db", { sha256: sha("1") }), file(CONFIG, "db", { sha256: sha("2"), size: 500 }), file(ARZ, "arz", { sha256: sha("3"), entries: 2 }), file(SECRETS, "secrets", { sha256: sha("4"), entries: 5 })],
};
const intact = () => new Map<string, { size: number; sha256: string } | undefined>(manifest.files.map((f) => [f.path, { size: f.size, sha256: f.sha256 }]));

describe("restore drill: arguments", () => {
    it("defaults to the dev stack in the repository, text report, every appliance", () => {
        assert.deepEqual(parseArgs([], "/repo"), { stack: "dev", cwd: "/repo", json: false });
    });

    it("takes --stack, --cwd, --appliance and --json, with a space or an =", () => {
        assert.deepEqual(parseArgs(["--stack", "prod", "--cwd=/tmp/p", "--appliance", "appliance-1", "--json"], "/repo"),
            { stack: "prod", cwd: "/tmp/p", appliance: "appliance-1", json: true });
        assert.deepEqual(parseArgs(["-s", "x", "-C", "/a", "--appliance=a-0"], "/repo"), { stack: "x", cwd: "/a", appliance: "a-0", json: false });
        assert.equal(parseArgs(["--json", "--help"], "/repo"), "help");
    });

    it("refuses an unknown argument and a flag without its value, naming it", () => {
        assert.throws(() => parseArgs(["--stakc", "prod"], "/repo"), (e: Error) => e instanceof UsageError && /unknown argument "--stakc"/.test(e.message));
        assert.throws(() => parseArgs(["--stack"], "/repo"), /--stack needs a value/);
        assert.throws(() => parseArgs(["--appliance", "--json"], "/repo"), /--appliance needs a value/);
        assert.throws(() => parseArgs(["--cwd="], "/repo"), /--cwd needs a value/);
    });
});

describe("restore drill: the manifest", () => {
    it("accepts a manifest of the backup its name says", () => {
        const m = parseManifest(JSON.stringify(manifest), ID, MANIFEST_FILE);
        assert.ok(!("reason" in m));
        assert.equal(m.files.length, 4);
    });

    it("names the manifest and says why when it is not one", () => {
        assert.deepEqual(parseManifest("{not json", ID, MANIFEST_FILE), { file: MANIFEST_FILE, reason: "is not JSON, so the backup's files and their digests are unknown" });
        assert.match((parseManifest(JSON.stringify({ ...manifest, format: "x" }), ID, MANIFEST_FILE) as any).reason, /^is not a backup manifest: format /);
        assert.match((parseManifest(JSON.stringify({ ...manifest, files: [{ ...manifest.files[0], sha256: "zz" }] }), ID, MANIFEST_FILE) as any).reason, /files\.0\.sha256 must be a SHA-256/);
        assert.match((parseManifest(JSON.stringify({ ...manifest, id: "20261127T080000Z-ffff" }), ID, MANIFEST_FILE) as any).reason, /names backup 20261127T080000Z-ffff, but its file name says 20261126T080000Z-1a2b/);
        assert.match((parseManifest(JSON.stringify({ ...manifest, files: [manifest.files[0], manifest.files[0]] }), ID, MANIFEST_FILE) as any).reason, /lists .*senhasegura-db.tar.gz.enc twice/);
        assert.match((parseManifest(JSON.stringify({ ...manifest, files: [file("backup/system/db/other.tar.gz", "db")] }), ID, MANIFEST_FILE) as any).reason, /does not carry the backup's id/);
    });

    it("refuses a path that climbs out of the destination", () => {
        const r = parseManifest(JSON.stringify({ ...manifest, files: [file(`backup/../../etc/${ID}-passwd`, "db")] }), ID, MANIFEST_FILE);
        assert.match((r as any).reason, /'\.\.' segment/);
    });

    it("lists each directory holding a file of the backup, the one above a directory named after it, and the manifests", () => {
        assert.deepEqual(directoriesToList(manifest), [
            "backup/manifests", "backup/secrets", "backup/system/arz/2026/1126", "backup/system/db", `backup/system/db/${ID}`,
        ]);
    });
});

describe("restore drill: what the destination holds", () => {
    it("finds nothing wrong when every file has its size and digest", () => {
        assert.deepEqual(checkDigests(manifest, intact()), []);
    });

    it("names a missing, a truncated, a grown and a changed file, with the sizes and digests", () => {
        const found = intact();
        found.set(DB, undefined);
        found.set(CONFIG, { size: 200, sha256: sha("9") });
        found.set(ARZ, { size: 1001, sha256: sha("9") });
        found.set(SECRETS, { size: 1000, sha256: sha("9") });
        assert.deepEqual(checkDigests(manifest, found), [
            { file: DB, reason: "is missing: the manifest lists it (1000 bytes), the destination has no such file" },
            { file: CONFIG, reason: "is truncated: 200 bytes, the manifest says 500 bytes" },
            { file: ARZ, reason: "is 1001 bytes, longer than the 1000 bytes the manifest says" },
            { file: SECRETS, reason: `is changed: its SHA-256 is ${sha("9")}, the manifest says ${sha("4")} (same size, other bytes)` },
        ]);
    });

    it("a file absent from the answer counts as missing", () => {
        const found = intact();
        found.delete(ARZ);
        assert.deepEqual(checkDigests(manifest, found).map((p) => p.file), [ARZ]);
    });

    it("names each file of the backup the manifest does not list, and nothing of other backups", () => {
        const listed = [
            ...manifest.files.map((f) => f.path), MANIFEST_FILE,
            `backup/system/db/${ID}/extra.tar.gz.enc`, `backup/secrets/${ID}.secrets.enc.bak`, `backup/system/db/${ID}-old`,
            "backup/secrets/20261125T080000Z-9999.secrets.enc", "backup/manifests/20261125T080000Z-9999.json", "backup/manifests/write_test",
        ];
        const extras = extraFiles(manifest, listed);
        assert.deepEqual(extras.map((p) => p.file), [`backup/secrets/${ID}.secrets.enc.bak`, `backup/system/db/${ID}-old`, `backup/system/db/${ID}/extra.tar.gz.enc`]);
        assert.match(extras[0].reason, /belongs to backup 20261126T080000Z-1a2b \(its path carries the id\) but is not in the manifest/);
        assert.deepEqual(extraFiles(manifest, [...listed.slice(0, 5), ...listed.slice(0, 5)]), [], "a listing's duplicates are nothing extra");
    });
});

describe("restore drill: the manifest against orbit's report at pulumi up", () => {
    const digest = { size: 900, sha256: sha("c") };

    it("matches when the newest backup is the verified one and its manifest is the reported one", () => {
        assert.deepEqual(checkManifestDigest(MANIFEST_FILE, ID, digest, { backupId: ID, manifest: digest }), { matches: true });
    });

    it("names a manifest rewritten since, with both digests", () => {
        const r = checkManifestDigest(MANIFEST_FILE, ID, digest, { backupId: ID, manifest: { size: 901, sha256: sha("d") } });
        assert.equal(r.matches, false);
        assert.equal(r.problem?.file, MANIFEST_FILE);
        assert.equal(r.problem?.reason, `is not the manifest orbit reported when pulumi up verified backup ${ID}: it is 900 bytes with SHA-256 ${sha("c")}, the report said 901 bytes with ${sha("d")}: the manifest was rewritten`);
    });

    it("has nothing to compare with when a later backup is the newest, or the report had no manifest", () => {
        assert.deepEqual(checkManifestDigest(MANIFEST_FILE, ID, digest, { backupId: "20261125T080000Z-0000", manifest: digest }), { matches: null });
        assert.deepEqual(checkManifestDigest(MANIFEST_FILE, ID, digest, { backupId: ID }), { matches: null });
        assert.deepEqual(checkManifestDigest(MANIFEST_FILE, ID, digest, undefined), { matches: null });
    });
});

describe("restore drill: what the files hold", () => {
    it("counts the entries of the secrets document, and says when it is not one", () => {
        assert.deepEqual(countSecrets(Buffer.from('{"secrets":[{"a":1},{"b":2}]}')), { entries: 2 });
        assert.deepEqual(countSecrets(Buffer.from('{"secrets":[]}')), { entries: 0 });
        assert.deepEqual(countSecrets(Buffer.from("\x00\x01garbage")), { failure: "decrypts, but what it holds is not JSON" });
        assert.match((countSecrets(Buffer.from('{"secret":[]}')) as any).failure, /not a secrets document/);
    });

    it("compares what opened with what the manifest counts", () => {
        const db = manifest.files[0];
        assert.equal(checkOpened(db, { entries: 3 }), undefined);
        assert.deepEqual(checkOpened(db, { entries: 2 }), { file: DB, reason: "holds 2 tar members, the manifest counts 3" });
        assert.deepEqual(checkOpened(manifest.files[3], { entries: 4 }), { file: SECRETS, reason: "holds 4 secrets, the manifest counts 5" });
        assert.deepEqual(checkOpened(db, { failure: "is not a valid gzip stream: incorrect header check" }), { file: DB, reason: "is not a valid gzip stream: incorrect header check" });
    });

    it("blames the master password, not the file, when an intact file does not decrypt", () => {
        assert.match(wrongKeyReason(true), /match the manifest: the appliance made this backup with another master password/);
        assert.match(wrongKeyReason(false), /the password is wrong, or the file was changed/);
    });

    it("says what opening proved", () => {
        assert.equal(openedDetail(manifest.files[0], 3), "decrypts with the master password, gunzips, 3 tar members as the manifest counts");
        assert.equal(openedDetail({ ...manifest.files[2], encrypted: false }, 1), "not encrypted, gunzips, 1 tar member as the manifest counts");
        assert.equal(openedDetail(manifest.files[3], 5), "decrypts with the master password, 5 secrets as the manifest counts");
    });
});

function result(verdict: ApplianceResult["verdict"], extra: Partial<ApplianceResult> = {}): ApplianceResult {
    return {
        name: "appliance-0", appliance: "mt4adm@127.0.0.1:59022", destination: "bkpadmin@127.0.0.1:2222:/files/backup/senhasegura",
        backupId: ID, createdAt: manifest.createdAt, hostname: "appliance-0", verdict, files: [], problems: [], durationMs: 1234, ...extra,
    };
}

describe("restore drill: verdicts, exit codes and the report", () => {
    it("exits 0 only when every appliance is restorable; 2 when one is not, even beside an error; 1 for an error or nothing checked", () => {
        assert.equal(exitCodeOf([result("restorable"), result("restorable")]), EXIT.restorable);
        assert.equal(exitCodeOf([result("restorable"), result("not-restorable")]), EXIT.notRestorable);
        assert.equal(exitCodeOf([result("error"), result("not-restorable")]), EXIT.notRestorable);
        assert.equal(exitCodeOf([result("restorable"), result("error")]), EXIT.error);
        assert.equal(exitCodeOf([]), EXIT.error);
        assert.deepEqual([EXIT.restorable, EXIT.error, EXIT.notRestorable], [0, 1, 2]);
    });

    it("lists each manifest file with what was proved, or its problem, or that it was not opened", () => {
        const problems = [{ file: DB, reason: "is truncated: 1 byte, the manifest says 1000 bytes" }];
        const proved = new Map([[CONFIG, "decrypts with the master password, gunzips, 3 tar members as the manifest counts"]]);
        const files = fileResults(manifest, problems, proved);
        assert.deepEqual(files.map((f) => [f.path, f.ok, f.detail]), [
            [DB, false, problems[0].reason],
            [CONFIG, true, proved.get(CONFIG)],
            [ARZ, false, "not opened"],
            [SECRETS, false, "not opened"],
        ]);
    });

    it("prints a restorable backup with each file, its size and what was proved", () => {
        const proved = new Map(manifest.files.map((f) => [f.path, openedDetail(f, f.entries)]));
        const text = formatText(buildReport("dev", [result("restorable", { files: fileResults(manifest, [], proved) })]));
        assert.equal(text.split("\n")[0], "Restore drill of stack dev: 1 appliance, 1 restorable.");
        assert.match(text, /^appliance-0 \(mt4adm@127\.0\.0\.1:59022\): the newest backup 20261126T080000Z-1a2b \(made 2026-11-26T08:00:00\.000Z by appliance-0\) at bkpadmin@127\.0\.0\.1:2222:\/files\/backup\/senhasegura is restorable: 4 files, 3500 bytes, each with its size and SHA-256, nothing extra; checked in 1\.2 s\.$/m);
        const crossChecked = formatText(buildReport("dev", [result("restorable", { manifestMatchesReport: true, files: fileResults(manifest, [], proved) })]));
        assert.match(crossChecked, /nothing extra; the manifest is the one orbit reported to pulumi up; checked in/);
        assert.match(text, new RegExp(`^  ok  ${SECRETS}: decrypts with the master password, 5 secrets as the manifest counts$`, "m"));
    });

    it("prints each problem of a backup that is not restorable, then the intact files and what to do", () => {
        const problems = [{ file: DB, reason: "is truncated: 1 byte, the manifest says 1000 bytes" }, { file: SECRETS, reason: wrongKeyReason(true) }];
        const proved = new Map([[CONFIG, openedDetail(manifest.files[1], 3)]]);
        const r = result("not-restorable", { problems, files: fileResults(manifest, problems, proved) });
        const text = formatText(buildReport("prod", [r, result("error", { name: "appliance-1", error: "list backup/manifests on bkpadmin@10.0.0.9:22 failed: connection refused" })]));
        const lines = text.trimEnd().split("\n");
        assert.equal(lines[0], "Restore drill of stack prod: 2 appliances, 1 NOT restorable, 1 not checked (error).");
        assert.match(lines[1], /^appliance-0 .* is NOT restorable \(2 problems\):$/);
        assert.equal(lines[2], `  BAD ${DB}: is truncated: 1 byte, the manifest says 1000 bytes`);
        assert.match(lines[3], new RegExp(`^  BAD ${SECRETS}: does not decrypt with the stack's master password`));
        assert.match(lines[4], new RegExp(`^  ok  ${CONFIG}: `));
        assert.match(lines[5], /^ {2}What to do: The stack's masterPassword is not the one this backup was made with/);
        assert.match(lines[6], /^ {2}What to do: Files at the destination differ from what the appliance wrote/);
        assert.equal(lines[7], "appliance-1 (mt4adm@127.0.0.1:59022): the drill could not run: list backup/manifests on bkpadmin@10.0.0.9:22 failed: connection refused");
        assert.deepEqual(whatToDo(result("error")), []);
    });

    it("shows sizes to the byte up to 10 KiB, then in KiB, MiB and GiB", () => {
        assert.deepEqual([bytes(1), bytes(10239), bytes(10240), bytes(5 * 1024 * 1024), bytes(1024 ** 3)], ["1 byte", "10239 bytes", "10 KiB", "5.0 MiB", "1.0 GiB"]);
    });

    it("puts the JSON fields in a readable order: who, which backup, the verdict, the problems, then the files", () => {
        const r = applianceResult({ durationMs: 5, verdict: "restorable", name: "a", backupId: ID, files: [] });
        assert.deepEqual(Object.keys(r), ["name", "flavor", "appliance", "destination", "backupId", "createdAt", "hostname", "verdict", "error", "manifestMatchesReport", "problems", "files", "durationMs"]);
    });

    it("prints the same as JSON, with the exit code and the verdict per appliance", () => {
        const report = buildReport("dev", [result("not-restorable", { problems: [{ file: DB, reason: "is missing: …" }] })]);
        const json = JSON.parse(formatJson(report));
        assert.equal(json.exitCode, 2);
        assert.equal(json.restorable, false);
        assert.deepEqual(json.appliances[0].problems, [{ file: DB, reason: "is missing: …" }]);
        assert.equal(json.appliances[0].verdict, "not-restorable");
        assert.equal(buildReport("dev", [result("restorable")]).restorable, true);
    });
});
