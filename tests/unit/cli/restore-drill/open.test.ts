// Opening backup files in memory (cli/restore-drill/open.ts): tar members counted from
// archives that GNU tar made (ustar, gnu and pax formats, long names, any chunking),
// damaged and cut-short archives refused with the reason, and the envelope: a wrong
// master password blamed as such, never shown.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { gzipSync } from "zlib";
import type { ManifestFile } from "../../../../providers/formats/backup-format";
import { ArchiveOpener, TarMemberCounter, type TarMember, openSecrets, parsePaxRecords } from "../../../../cli/restore-drill/open";
import { seal } from "../../../support/envelope";

const PASSWORD = "lab master password 0001";
const WRONG = "another master password 02";

/** A tar archive of a small tree, made by GNU tar in the given format: 2 directories and 3 files, one with a 120-character name. */
function gnuTar(format: "gnu" | "ustar" | "pax"): Buffer {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-tar-test-"));
    try {
        fs.mkdirSync(path.join(dir, "db", "sub"), { recursive: true });
        fs.writeFileSync(path.join(dir, "db", "dump.sql"), "x".repeat(3000));
        fs.writeFileSync(path.join(dir, "db", "empty"), "");
        // ustar keeps a long name in its prefix field only when it splits at a '/'.
        fs.writeFileSync(path.join(dir, "db", "sub", `${"n".repeat(format === "ustar" ? 90 : 120)}.cast`), "y".repeat(700));
        const r = spawnSync("tar", ["-c", `--format=${format}`, "-f", "-", "-C", dir, "db"], { maxBuffer: 1 << 24 });
        assert.equal(r.status, 0, r.stderr?.toString());
        return r.stdout;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** A ustar header block for a member `name` of `size` bytes. */
function header(name: string, size: number, type = "0"): Buffer {
    const h = Buffer.alloc(512);
    h.write(name, 0, "latin1");
    h.write("0000644\0", 100, "latin1");
    h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "latin1");
    h.write(type, 156, "latin1");
    h.write("ustar\x0000", 257, "latin1");
    return checksum(h);
}

function checksum(h: Buffer): Buffer {
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    return h;
}

const END = Buffer.alloc(1024);

function count(bytes: Buffer, chunk = bytes.length): number {
    const c = new TarMemberCounter();
    for (let i = 0; i < bytes.length; i += chunk) c.push(bytes.subarray(i, i + chunk));
    return c.end();
}

const file = (role: ManifestFile["role"], encrypted: boolean, entries = 5): ManifestFile =>
    ({ path: `backup/system/db/20261126T080000Z-1a2b/x.tar.gz${encrypted ? ".enc" : ""}`, kind: "system", role, size: 0, sha256: "0".repeat(64), encrypted, entries });

function open(bytes: Buffer, f: ManifestFile, password?: string, chunk = 4096) {
    const o = new ArchiveOpener(f, password);
    for (let i = 0; i < bytes.length; i += chunk) o.push(bytes.subarray(i, i + chunk));
    return o.finish();
}

describe("restore drill: tar members", () => {
    for (const format of ["gnu", "ustar", "pax"] as const) {
        it(`counts the members of a ${format} archive as GNU tar lists them, in any chunking`, () => {
            const tar = gnuTar(format);
            const listed = spawnSync("tar", ["-t", "-f", "-"], { input: tar }).stdout.toString().split("\n").filter(Boolean).length;
            assert.equal(listed, 5);
            assert.equal(count(tar), 5);
            assert.equal(count(tar, 1), 5);
            assert.equal(count(tar, 511), 5);
        });
    }

    it("refuses a damaged header, naming the byte", () => {
        const damaged = Buffer.concat([header("a", 10), Buffer.alloc(512, 1), header("b", 0), END]);
        damaged[1024 + 1] ^= 0x01;
        assert.throws(() => count(damaged), /^Error: has a damaged tar header at byte 1024 \(after 1 member\): its checksum does not match$/);
    });

    it("refuses an archive cut inside a member, and one cut before its end-of-archive block", () => {
        const whole = Buffer.concat([header("a", 600), Buffer.alloc(1024, 1), header("b", 0), END]);
        assert.equal(count(whole), 2);
        assert.throws(() => count(whole.subarray(0, 1000)), /^Error: ends inside a tar member at byte 1000: the archive was cut short$/);
        assert.throws(() => count(whole.subarray(0, 1600)), /^Error: ends inside a tar member at byte 1600/);
        assert.throws(() => count(whole.subarray(0, 2048)), /^Error: has no end-of-archive block after 2 members: the archive was cut short$/);
        assert.throws(() => count(Buffer.alloc(0)), /holds no tar archive \(no bytes\)/);
    });

    it("counts pax and GNU long-name headers as part of the member they describe", () => {
        const archive = Buffer.concat([header("././@LongLink", 10, "L"), Buffer.alloc(512, 0x6e), header("x", 0), header("PaxHeader", 20, "x"), Buffer.concat([Buffer.from("20 path=0123456789a\n"), Buffer.alloc(492, 0x31)]), header("y", 0), END]);
        assert.equal(count(archive), 2);
    });

    /** A pax extended header (type x, or g for global) with its records, padded to a block. */
    function pax(records: Record<string, string>, type = "x"): Buffer {
        const body = Buffer.concat(Object.entries(records).map(([k, v]) => {
            const rest = ` ${k}=${v}\n`;
            let n = rest.length + 1;
            while (String(n).length + Buffer.byteLength(rest) !== n) n++;
            return Buffer.from(`${n}${rest}`);
        }));
        return Buffer.concat([header("PaxHeaders/x", body.length, type), body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
    }

    it("honours a pax header's size= over the header's field, and its path=, for the member it describes", () => {
        const seen: TarMember[] = [];
        // The ustar field says 0 bytes; pax says 1000: without size= the data would be read as headers.
        const archive = Buffer.concat([pax({ size: "1000", path: "backup/secrets/credential-0001.aes" }), header("short", 0), Buffer.alloc(1024, 0x41), header("after", 3), Buffer.alloc(512, 0x42), END]);
        const c = new TarMemberCounter((m) => seen.push(m));
        for (let i = 0; i < archive.length; i += 100) c.push(archive.subarray(i, i + 100));
        assert.equal(c.end(), 2);
        assert.deepEqual(seen, [{ path: "backup/secrets/credential-0001.aes", size: 1000, type: "0" }, { path: "after", size: 3, type: "0" }]);
        assert.throws(() => count(Buffer.concat([header("short", 0), Buffer.alloc(1024, 0x41), END])), /damaged tar header at byte 512/, "the same bytes without the pax header");
    });

    it("applies a global pax header to every member after it, and a member's own over it", () => {
        const seen: TarMember[] = [];
        const archive = Buffer.concat([pax({ comment: "made by the lab" }, "g"), pax({ path: "a/long/name" }), header("a", 0), header("b", 0), END]);
        const c = new TarMemberCounter((m) => seen.push(m));
        c.push(archive);
        assert.equal(c.end(), 2);
        assert.deepEqual(seen.map((m) => m.path), ["a/long/name", "b"]);
    });

    it("reads the paths GNU tar writes in pax format, as tar -t lists them", () => {
        const seen: string[] = [];
        const c = new TarMemberCounter((m) => seen.push(m.path.replace(/\/$/, "")));
        c.push(gnuTar("pax"));
        c.end();
        const listed = spawnSync("tar", ["-t", "-f", "-"], { input: gnuTar("pax") }).stdout.toString().split("\n").filter(Boolean).map((p) => p.replace(/\/$/, ""));
        assert.deepEqual(seen.sort(), listed.sort());
        assert.ok(seen.some((p) => p.length > 100), "the 120-character name came from a pax path=");
    });

    it("refuses malformed pax records, naming the byte", () => {
        assert.equal(parsePaxRecords(Buffer.from("13 path=abc\n")), undefined, "a length that does not match");
        assert.deepEqual([...parsePaxRecords(Buffer.from("13 path=abcd\n\0\0"))!], [["path", "abcd"]]);
        const bad = Buffer.concat([header("PaxHeaders/x", 5, "x"), Buffer.from("junk\n"), Buffer.alloc(507), header("a", 0), END]);
        assert.throws(() => count(bad), /^Error: has a pax header at byte 0 whose records are malformed$/);
        assert.throws(() => count(Buffer.concat([pax({ size: "12x" }), header("a", 0), END])), /size= is not a number/);
    });

    it("reads a size in base-256 (GNU, for members of 8 GiB and more)", () => {
        const big = header("big", 0);
        big.fill(0, 124, 136);
        big[124] = 0x80; // base-256: the 11 bytes after it hold the size
        big[135] = 3;
        checksum(big);
        assert.equal(count(Buffer.concat([big, Buffer.alloc(512, 7), END])), 1);
    });
});

describe("restore drill: opening an archive as it streams", () => {
    const tgz = gzipSync(gnuTar("gnu"));

    it("decrypts, gunzips and counts an encrypted archive", async () => {
        assert.deepEqual(await open(seal(tgz, PASSWORD), file("db", true), PASSWORD), { entries: 5 });
        assert.deepEqual(await open(seal(tgz, PASSWORD), file("db", true), PASSWORD, 7), { entries: 5 });
    });

    it("gunzips and counts an archive the appliance did not encrypt", async () => {
        assert.deepEqual(await open(tgz, file("arz", false), undefined, 100), { entries: 5 });
    });

    it("blames the master password when an intact file does not decrypt, and never shows it", async () => {
        const r = await open(seal(tgz, PASSWORD), file("db", true), WRONG);
        assert.ok("failure" in r);
        assert.match(r.failure, /does not decrypt with the stack's master password \(AES-256-GCM authentication failed\).*another master password/);
        assert.ok(!r.failure.includes(WRONG) && !r.failure.includes(PASSWORD));
        const untrusted = new ArchiveOpener(file("db", true), WRONG, false);
        untrusted.push(seal(tgz, PASSWORD));
        assert.match((untrusted.finish() as any).failure, /the password is wrong, or the file was changed$/, "a rewritten manifest vouches for nothing");
    });

    it("says what is wrong with each layer: not an envelope, not gzip, not tar, cut short", async () => {
        assert.match((await open(tgz, file("db", true), PASSWORD) as any).failure, /^is not an encrypted envelope: it does not start with the envelope's magic "OSEC"$/);
        assert.match((await open(Buffer.from("OSEC"), file("db", true), PASSWORD) as any).failure, /^is not an encrypted envelope: it is 4 bytes, shorter than the 49-byte envelope header$/);
        assert.match((await open(seal(Buffer.from("plain text, not gzip"), PASSWORD), file("db", true), PASSWORD) as any).failure, /^decrypts, but is not a valid gzip stream: incorrect header check$/);
        assert.match((await open(gzipSync(Buffer.from("not a tar archive at all".repeat(40))), file("db", false)) as any).failure, /^gunzips, but has a damaged tar header at byte 0/);
        assert.match((await open(tgz.subarray(0, tgz.length - 30), file("db", false)) as any).failure, /^is not a valid gzip stream: unexpected end of file$/);
        assert.match((await open(seal(gzipSync(gnuTar("gnu").subarray(0, 1600)), PASSWORD), file("db", true), PASSWORD) as any).failure, /^decrypts and gunzips, but ends inside a tar member/);
    });
});

describe("restore drill: the secrets archive", () => {
    const doc = Buffer.from(JSON.stringify({ secrets: [{ id: "a" }, { id: "b" }, { id: "c" }] }));
    const secrets = file("secrets", true, 3);

    it("decrypts in memory and counts the entries", () => {
        assert.deepEqual(openSecrets(secrets, seal(doc, PASSWORD), PASSWORD), { entries: 3 });
    });

    it("blames the master password, without it, when it does not decrypt", () => {
        const r = openSecrets(secrets, seal(doc, PASSWORD), WRONG);
        assert.ok("failure" in r && /another master password/.test(r.failure) && !r.failure.includes(WRONG));
    });

    it("says when it is not an envelope or holds no secrets document", () => {
        assert.match((openSecrets(secrets, Buffer.from("{}"), PASSWORD) as any).failure, /is not an encrypted envelope: it is 2 bytes/);
        assert.match((openSecrets(secrets, seal(Buffer.from("[]"), PASSWORD), PASSWORD) as any).failure, /^decrypts with the master password, but what it holds is not a secrets document/);
    });
});
