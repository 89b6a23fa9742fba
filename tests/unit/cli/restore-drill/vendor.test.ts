// The restore drill's vendor parts without a host: the vendor layout's names
// (providers/formats/vendor-layout.ts), the openers fed made-up dumps and items in
// chunks (cli/restore-drill/vendor-open.ts), and the decisions (vendor-plan.ts).
import { strict as assert } from "assert";
import * as zlib from "zlib";
import { encryptAesCrypt } from "../../../../providers/formats/aescrypt";
import { arzDaysBefore, dumpCompleted, dumpSets, newestDumpSet, parseDumpName, stampTime } from "../../../../providers/formats/vendor-layout";
import { DumpOpener, ItemOpener, type VendorOpened } from "../../../../cli/restore-drill/vendor-open";
import { missingDumps, noMasterKeyError, noSecretsProblem, openedResult, secretItems } from "../../../../cli/restore-drill/vendor-plan";
import { whatToDo } from "../../../../cli/restore-drill/plan";

const KEY = "0f3a77c1-9e2b41d8-aa01bc02-5e6f7081";
const dump = (db: string, completed = true) => zlib.gzipSync(Buffer.from(
    `-- MariaDB dump 10.19\n-- Host: localhost    Database: ${db}\nCREATE TABLE t (x TEXT);\n${"INSERT INTO t VALUES ('row');\n".repeat(2000)}`
    + (completed ? "-- Dump completed on 2026-12-07  5:00:03\n" : "")));

/** Feeds `bytes` to an opener in chunks of `size`, as a transfer hands them over. */
function feed(opener: { push(c: Buffer): void; finish(): VendorOpened }, bytes: Buffer, size = 1000): VendorOpened {
    for (let at = 0; at < bytes.length; at += size) opener.push(bytes.subarray(at, at + size));
    return opener.finish();
}

describe("the vendor layout at the destination", () => {
    it("reads a dump's name: its run's stamp, its database, and whether it is AES Crypt", () => {
        assert.deepEqual(parseDumpName("senhasegura-db-2026-12-07_050001mt4.sql.gz.aes"), { name: "senhasegura-db-2026-12-07_050001mt4.sql.gz.aes", stamp: "2026-12-07_050001", db: "mt4", encrypted: true });
        assert.equal(parseDumpName("senhasegura-db-2026-12-07_050001senhasegura.sql.gz")?.encrypted, false);
        for (const bad of ["senhasegura-db-2026-12-07mt4.sql.gz", "other.sql.gz", "senhasegura-db-2026-12-07_050001mt4.sql"]) assert.equal(parseDumpName(bad), undefined, bad);
        assert.equal(stampTime("2026-12-07_050001"), "2026-12-07T05:00:01");
    });

    it("takes the newest run: its mt4 dump and the dumps after it, though their stamps differ by seconds", () => {
        const set = newestDumpSet([
            "senhasegura-db-2026-12-06_050000mt4.sql.gz.aes", "senhasegura-db-2026-12-06_050002senhasegura.sql.gz.aes",
            "senhasegura-db-2026-12-07_050001mt4.sql.gz.aes", "senhasegura-db-2026-12-07_050004senhasegura.sql.gz.aes", "README",
        ]);
        assert.equal(set?.stamp, "2026-12-07_050001");
        assert.deepEqual(set?.dumps.map((d) => d.db), ["mt4", "senhasegura"]);
        assert.equal(newestDumpSet(["notes.txt"]), undefined);
    });

    it("dumpSets: the runs, oldest first; a run cut short is its own set; other names left out", () => {
        const sets = dumpSets([
            "senhasegura-db-2026-12-05_050001mt4.sql.gz.aes", "senhasegura-db-2026-12-05_050009senhasegura.sql.gz.aes",
            "senhasegura-db-2026-12-06_050002mt4.sql.gz.aes",
            "senhasegura-db-2026-12-07_050000mt4.sql.gz.aes", "senhasegura-db-2026-12-07_050003senhasegura.sql.gz.aes", "write_test",
        ]);
        assert.deepEqual(sets.map((s) => [s.stamp, s.dumps.map((d) => d.db)]), [
            ["2026-12-05_050001", ["mt4", "senhasegura"]], ["2026-12-06_050002", ["mt4"]], ["2026-12-07_050000", ["mt4", "senhasegura"]],
        ]);
        assert.deepEqual(dumpSets([]), []);
        assert.equal(newestDumpSet(sets.flatMap((s) => s.dumps.map((d) => d.name)))?.stamp, "2026-12-07_050000");
    });

    it("names a database the newest run lacks, as the file it would be", () => {
        const set = newestDumpSet(["senhasegura-db-2026-12-06_050000mt4.sql.gz.aes", "senhasegura-db-2026-12-07_050004senhasegura.sql.gz.aes"])!;
        assert.deepEqual(set.dumps.map((d) => d.db), ["senhasegura"], "an older run's mt4 dump is not this run's");
        const problems = missingDumps(set.stamp, set.dumps);
        assert.deepEqual(problems.map((p) => p.file), ["backup/system/db/senhasegura-db-2026-12-07_050004mt4.sql.gz.aes"]);
        assert.match(problems[0].reason, /^is missing: the newest backup .* has no dump of the mt4 database/);
    });

    it("knows mysqldump's completion line, and a dump without it", () => {
        assert.ok(dumpCompleted("INSERT ...;\n-- Dump completed on 2026-12-07 16:25:21\n"));
        assert.ok(dumpCompleted("...\n-- Dump completed on 2026-12-07  5:00:03\n"));
        assert.ok(!dumpCompleted("INSERT INTO t VALUES ('row');\n"));
        assert.ok(!dumpCompleted("-- Dump completed on 2026-12-07 16:25:21\nINSERT INTO t VALUES (1);\n"), "the line must be last");
    });

    it("looks for the newest day of session files from the run's day back", () => {
        assert.deepEqual(arzDaysBefore("2026-03-01_050000", 3), ["backup/system/arz/2026/0301", "backup/system/arz/2026/0228", "backup/system/arz/2026/0227"]);
    });
});

describe("opening a vendor appliance's files in memory", () => {
    it("a dump: decrypts with both HMACs valid, gunzips, and ends with the completion line, in any chunking", () => {
        const sealed = encryptAesCrypt(dump("mt4"), KEY, { version: 2 });
        for (const size of [1, 17, 4096, sealed.length]) {
            const opened = feed(new DumpOpener(true, KEY), sealed, size);
            assert.ok(opened.ok, JSON.stringify(opened));
            assert.match(opened.detail, /^decrypts with the master key, both HMACs valid, gunzips, \d+ bytes of SQL ending with mysqldump's completion line$/);
        }
        const plain = feed(new DumpOpener(false), dump("senhasegura"));
        assert.ok(plain.ok && /^not encrypted, gunzips/.test(plain.detail));
    });

    it("a dump cut short (no completion line) is named as such", () => {
        const opened = feed(new DumpOpener(true, KEY), encryptAesCrypt(dump("mt4", false), KEY, { version: 2 }));
        assert.ok(!opened.ok);
        assert.match(opened.reason, /does not end with mysqldump's completion line .*: the dump was cut short$/);
        assert.equal(opened.wrongKey, false);
    });

    it("another ceremony's key is reported as such, not as corruption, and the key is not in the reason", () => {
        const opened = feed(new DumpOpener(true, `${KEY}-old`), encryptAesCrypt(dump("mt4"), KEY, { version: 2 }));
        assert.ok(!opened.ok);
        assert.equal(opened.wrongKey, true);
        assert.match(opened.reason, /made under another master key, an earlier ceremony's .*this is not corruption$/);
        assert.ok(!opened.reason.includes(KEY));
    });

    it("a flipped byte fails the ciphertext's HMAC, which is the reason over whatever gunzip said", () => {
        const sealed = encryptAesCrypt(dump("mt4"), KEY, { version: 3, iterations: 1000 });
        const flipped = Buffer.from(sealed);
        flipped[Math.floor(flipped.length / 2)] ^= 0x40;
        const opened = feed(new DumpOpener(true, KEY), flipped);
        assert.ok(!opened.ok);
        assert.match(opened.reason, /^is not a sound AES Crypt file \(altered\): the HMAC of its ciphertext differs/);
    });

    it("a secrets item opens and holds JSON; one that is not JSON is named", () => {
        const item = feed(new ItemOpener(true, KEY), encryptAesCrypt(Buffer.from('{"type":"credential"}\n'), KEY, { version: 2 }), 7);
        assert.ok(item.ok && /bytes of JSON$/.test(item.detail), JSON.stringify(item));
        const notJson = feed(new ItemOpener(true, KEY), encryptAesCrypt(Buffer.from("plain words"), KEY, { version: 2 }));
        assert.ok(!notJson.ok && /what it holds is not JSON$/.test(notJson.reason));
    });
});

describe("the vendor drill's decisions", () => {
    it("reports each file by its kind, and a problem for one that did not open", () => {
        const okFile = openedResult("backup/system/db/senhasegura-db-2026-12-07_050001mt4.sql.gz.aes", 900, { ok: true, detail: "fine", plaintextBytes: 1 });
        assert.deepEqual([okFile.result.kind, okFile.result.role, okFile.result.encrypted, okFile.problem], ["system", "db", true, undefined]);
        const bad = openedResult("backup/secrets/credential-0001.json.aes", 80, { ok: false, reason: "is not a sound AES Crypt file (truncated): x", wrongKey: false });
        assert.deepEqual([bad.result.kind, bad.result.ok, bad.problem?.file], ["secrets", false, "backup/secrets/credential-0001.json.aes"]);
        assert.deepEqual(secretItems(["backup/secrets/a.json.aes", "backup/secrets/README"]), ["backup/secrets/a.json.aes"]);
    });

    it("without a master key, AES Crypt files are an error that says how to give the key, not a verdict", () => {
        assert.match(noMasterKeyError("senhauser@10.0.0.9:22:/files/backup", ["backup/system/db/x.sql.gz.aes", "backup/secrets/y.json.aes"]),
            /^2 files of the newest backup at .* are AES Crypt \(backup\/system\/db\/x\.sql\.gz\.aes\), and the stack holds no master key .*pulumi config set --secret masterKey/);
    });

    it("advises the key of the backup's ceremony for a wrong key, and a new backup for a damaged file", () => {
        const base = { name: "a", verdict: "not-restorable" as const, files: [], durationMs: 1 };
        const wrong = whatToDo({ ...base, problems: [{ file: "x.aes", reason: "does not open with the stack's master key (k): it was made under another master key, an earlier ceremony's if …" }] });
        assert.equal(wrong.length, 1);
        assert.match(wrong[0], /^The stack's masterKey is not the key this backup was made under/);
        const damaged = whatToDo({ ...base, problems: [{ file: "x.aes", reason: "is not a sound AES Crypt file (altered): …" }] });
        assert.match(damaged[0], /^Files at the destination differ/);
        const off = whatToDo({ ...base, problems: [noSecretsProblem()] });
        assert.deepEqual(off.map((a) => a.slice(0, 40)), ["A kind the program declares on has nothi"]);
        // Not declared, but files there that are not the vendor's items: named, and not called a kind turned off.
        const stray = noSecretsProblem(false, ["backup/secrets/20261207T210750Z-fd58.secrets.enc"]);
        assert.match(stray.reason, /^holds 1 file but no secrets item the appliance writes \(backup\/secrets\/20261207T210750Z-fd58\.secrets\.enc\): find out what put it there$/);
    });
});
