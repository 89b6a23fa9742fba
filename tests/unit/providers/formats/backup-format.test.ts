// The backup format of orbit contract 2 (providers/formats/backup-format.ts): manifests,
// backup ownership, and the encryption envelope, checked against an envelope sealed
// by tests/support/envelope.ts from the contract (docs/appliance-contract.md).
import { strict as assert } from "assert";
import {
    BackupId, ENVELOPE_HEADER_BYTES, Manifest, RelativeFile, backupIdTime, belongsTo, envelopeDecipher, manifestPath,
    newestBackupId, openEnvelope, parseEnvelopeHeader,
} from "../../../../providers/formats/backup-format";
import { seal } from "../../../support/envelope";

const PASSWORD = "correct horse battery staple";

describe("backup format: the envelope", () => {
    it("opens what the appliance sealed, in memory and streaming", () => {
        const plain = Buffer.from('{"secrets":[{"id":1},{"id":2}]}');
        const sealed = seal(plain, PASSWORD);
        assert.deepEqual(openEnvelope(sealed, PASSWORD), plain);
        const header = parseEnvelopeHeader(sealed.subarray(0, ENVELOPE_HEADER_BYTES));
        assert.ok(typeof header !== "string");
        const d = envelopeDecipher(header, PASSWORD);
        const body = sealed.subarray(ENVELOPE_HEADER_BYTES);
        const out = Buffer.concat([d.update(body.subarray(0, 5)), d.update(body.subarray(5)), d.final()]);
        assert.deepEqual(out, plain);
    });

    it("refuses a wrong password and a flipped byte with the same reason, without the password", () => {
        const sealed = seal(Buffer.from("x".repeat(100)), PASSWORD);
        assert.throws(() => openEnvelope(sealed, "not the password at all"), (e: Error) => /does not decrypt with the master password/.test(e.message) && !e.message.includes("not the password"));
        const flipped = Buffer.from(sealed);
        flipped[flipped.length - 3] ^= 0x01;
        assert.throws(() => openEnvelope(flipped, PASSWORD), /AES-256-GCM authentication failed/);
    });

    it("says why a file is not an envelope", () => {
        assert.match(String(parseEnvelopeHeader(Buffer.alloc(10))), /shorter than the 49-byte envelope header/);
        assert.match(String(parseEnvelopeHeader(Buffer.alloc(60))), /magic "OSEC"/);
        const v2 = seal(Buffer.from("a"), PASSWORD);
        v2[4] = 2;
        assert.match(String(parseEnvelopeHeader(v2)), /envelope version 2/);
    });
});

describe("backup format: manifests and ownership", () => {
    it("finds the newest backup among manifest names, ignoring what is not a manifest", () => {
        assert.equal(newestBackupId([
            "backup/manifests/20261129T050000Z-aaaa.json", "backup/manifests/20261130T050000Z-0bcd.json",
            "backup/manifests/notes.txt", "backup/manifests/write_test", "backup/manifests/latest.json",
        ]), "20261130T050000Z-0bcd");
        assert.equal(newestBackupId([]), undefined);
        assert.equal(manifestPath("20261130T050000Z-0bcd"), "backup/manifests/20261130T050000Z-0bcd.json");
        assert.equal(backupIdTime("20261130T050102Z-0bcd").toISOString(), "2026-11-30T05:01:02.000Z");
        assert.equal(BackupId.safeParse("../etc").success, false);
    });

    it("tells the files of a backup by the id in their path", () => {
        const id = "20261130T050000Z-0bcd";
        assert.ok(belongsTo(`backup/system/db/${id}/senhasegura-db.tar.gz.enc`, id));
        assert.ok(belongsTo(`backup/system/arz/2026/1130/${id}-sessions.tar.gz.enc`, id));
        assert.ok(belongsTo(`backup/secrets/${id}.secrets.enc`, id));
        assert.ok(!belongsTo("backup/secrets/20261129T050000Z-aaaa.secrets.enc", id));
        assert.ok(!belongsTo("backup/system/arz/2026/1130/write_test", id));
    });

    it("refuses manifest paths that leave the backup directory", () => {
        for (const bad of ["/etc/passwd", "backup/../../etc", "backup//x", "backup/$(id)"]) assert.equal(RelativeFile.safeParse(bad).success, false, bad);
        const m = Manifest.safeParse({
            format: "orbit-backup-manifest", version: 1, id: "20261130T050000Z-0bcd", hostname: "appliance-0", createdAt: "2026-11-30T05:00:00.000Z", kinds: ["secrets"],
            files: [{ path: "backup/secrets/20261130T050000Z-0bcd.secrets.enc", kind: "secrets", role: "secrets", size: 10, sha256: "a".repeat(64), encrypted: true, entries: 2 }],
        });
        assert.ok(m.success, JSON.stringify(m.error?.issues));
    });
});
