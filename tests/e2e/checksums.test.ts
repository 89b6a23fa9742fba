// Checksums at the far side, through the engine against the lab: BackupVerification
// hashes every file of a contract 2 backup where it landed (the rsync server over SSH,
// the CIFS share with smbclient, the NFS export with nfs-cat) and compares it with the
// manifest orbit reported.
//
// The reports are real: before the engine runs, the test runs `orbit backup create
// --json` on the appliance over SSH, twice per destination, and gives the stack those
// reports as config. That leaves room between orbit writing the files and the
// verification reading them, where the test corrupts the second backup of each
// destination: one dump truncated, one byte flipped in another, the secrets archive
// deleted, a stray file of the backup added. Three engine runs: a clean up, a no-op up,
// an up that fails naming every corruption on every destination. Between them, the
// far side's reads (providers/transport/far-side.ts, which the restore drill uses too) are called
// directly on each destination and compared with the bytes on disk.
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FarSide, digestFiles, listFiles, readFile, streamFile } from "../../providers/transport/far-side";
import { sshPool } from "../../providers/transport/ssh";
import { REPO, type TestStack, createTestStack, exportState, recorded } from "../support/engine";
import {
    type LabAppliance, type LabDescription, type LabSnapshot, labCredentials, loadLab, orbitOk, restoreLab, snapshotLab,
} from "../support/lab";

const PROGRAM = path.join(REPO, "tests", "e2e", "programs", "checksums");
const MASTER_PASSWORD = "Checksums-e2e-master.42";
const PARTITIONS = { cifs: "ssb-checksums-cifs", nfs: "ssb-checksums-nfs" } as const;
type Side = "rsync" | "cifs" | "nfs";
const SIDES: readonly Side[] = ["rsync", "cifs", "nfs"];

/** orbit's NFS client (REMOVE, and nfs-cp for small files): the export is changed only through NFS, never behind nfs-ganesha's back. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const orbitJs = require(path.join(REPO, "lab", "appliance", "orbit.js")) as {
    nfsRemove(p: NfsTarget, rel: string): Promise<void>;
    nfsCopy(root: string, p: NfsTarget, local: string, rel: string): Promise<{ ok: boolean; error?: string }>;
};
interface NfsTarget { host: string; port: number; path: string }

interface ManifestFile { path: string; role: string; size: number; sha256: string }
interface Report { id: string; files: string[]; manifest: { path: string; size: number; sha256: string; files: ManifestFile[] } }

function sha256(data: Buffer): string {
    return createHash("sha256").update(data).digest("hex");
}

describe("checksums at the far side: BackupVerification hashes what landed on rsync, CIFS and NFS", function () {
    this.timeout(900_000);
    let lab: LabDescription;
    let appliance: LabAppliance;
    let snapshot: LabSnapshot | undefined;
    let t: TestStack | undefined;
    let scratch: string;
    let cifsPassword: string;
    const reports: Record<Side, { raw: string; report: Report }[]> = { rsync: [], cifs: [], nfs: [] };
    /** Files the test added at a destination, to remove afterwards. */
    const strays: Record<Side, string[]> = { rsync: [], cifs: [], nfs: [] };

    const nfsTarget = (): NfsTarget => ({ host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath });
    const localRoot = (side: Side) => side === "rsync" ? lab.rsyncServer.backupPath : side === "cifs" ? lab.cifs.localPath : lab.nfs.localPath;

    /** The far side as the program gives it to BackupVerification. */
    const farSide = (side: Side): unknown => {
        const r = lab.rsyncServer;
        if (side === "rsync") return { type: "rsync", server: { host: r.host, port: r.port, user: r.adminUser, hostKey: r.hostKey, privateKeyPath: r.adminPrivateKeyPath }, path: r.backupPath };
        if (side === "cifs") return { type: "cifs", host: lab.cifs.host, port: lab.cifs.port, path: lab.cifs.remotePath, user: lab.cifs.user, password: cifsPassword };
        return { type: "nfs", host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath };
    };

    /** Writes `bytes` as a new file at `rel`, replacing what is there, the way the destination's server keeps serving it. */
    async function writeAt(side: Side, rel: string, bytes: Buffer): Promise<void> {
        if (side === "nfs") {
            const local = path.join(scratch, path.basename(rel));
            fs.writeFileSync(local, bytes, { mode: 0o600 });
            try {
                await orbitJs.nfsRemove(nfsTarget(), rel);
                const r = await orbitJs.nfsCopy(scratch, nfsTarget(), local, rel);
                if (!r.ok) throw new Error(`writing ${rel} through NFS failed: ${r.error}`);
            } finally {
                fs.rmSync(local, { force: true });
            }
            return;
        }
        const file = path.join(localRoot(side), rel);
        const st = fs.existsSync(file) ? fs.statSync(file) : fs.statSync(path.dirname(file));
        fs.writeFileSync(file, bytes, { mode: 0o640 });
        fs.chownSync(file, st.uid, st.gid);
    }

    async function removeAt(side: Side, rel: string): Promise<void> {
        if (side === "nfs") await orbitJs.nfsRemove(nfsTarget(), rel);
        else fs.rmSync(path.join(localRoot(side), rel), { force: true, recursive: true });
    }

    before(async () => {
        lab = loadLab();
        appliance = lab.appliances[0];
        snapshot = snapshotLab(lab, appliance);
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-checksums-"));
        const credentials = labCredentials(lab, appliance);
        cifsPassword = credentials.cifsPassword;

        // What the providers would set up: the appliance root key authorized for rsync
        // pushes only, an rsync target, a CIFS and an NFS partition, system and secrets on.
        const r = lab.rsyncServer;
        fs.appendFileSync(r.authorizedKeysPath, `restrict,command="rrsync -wo -no-lock -absolute ${r.backupPath}" ${appliance.rootPublicKey}\n`);
        orbitOk(appliance, ["rsync", "set", "--user", r.backupUser, "--host", r.host, "--port", String(r.port), "--path", r.backupPath]);
        orbitOk(appliance, ["partition", "remove", "--id", PARTITIONS.cifs]);
        orbitOk(appliance, ["partition", "remove", "--id", PARTITIONS.nfs]);
        orbitOk(appliance, ["partition", "add", "--id", PARTITIONS.cifs, "--protocol", "cifs", "--host", lab.cifs.host, "--port", String(lab.cifs.port),
            "--path", lab.cifs.remotePath, "--credential-id", lab.cifs.credentialId]);
        orbitOk(appliance, ["partition", "add", "--id", PARTITIONS.nfs, "--protocol", "nfs", "--host", lab.nfs.host, "--port", String(lab.nfs.port), "--path", lab.nfs.remotePath]);
        orbitOk(appliance, ["backup", "kind", "enable", "system"]);
        orbitOk(appliance, ["backup", "kind", "disable", "video"]);
        orbitOk(appliance, ["backup", "kind", "enable", "secrets"], `${MASTER_PASSWORD}\n`);

        for (const side of SIDES) {
            orbitOk(appliance, side === "rsync" ? ["backup", "destination", "rsync"] : ["backup", "destination", "partition", "--partition", PARTITIONS[side]]);
            for (let i = 0; i < 2; i++) {
                const report = orbitOk(appliance, ["backup", "create"]) as Report;
                assert.ok(report.manifest, `orbit speaks contract 2 and reports a manifest (lab/start copies lab/appliance/orbit.js into the lab): ${JSON.stringify(report).slice(0, 200)}`);
                reports[side].push({ raw: JSON.stringify(report), report });
            }
        }

        t = await createTestStack(PROGRAM, {
            appliance: { value: `${appliance.user}@${appliance.host}:${appliance.port}` },
            reportRsync: { value: reports.rsync[0].raw }, reportCifs: { value: reports.cifs[0].raw }, reportNfs: { value: reports.nfs[0].raw },
            serverHost: { value: r.host }, serverPort: { value: String(r.port) }, serverAdminUser: { value: r.adminUser },
            serverHostKey: { value: r.hostKey }, serverAdminPrivateKey: { value: credentials.adminKey, secret: true }, backupPath: { value: r.backupPath },
            cifsHost: { value: lab.cifs.host }, cifsPort: { value: String(lab.cifs.port) }, cifsPath: { value: lab.cifs.remotePath },
            cifsUser: { value: lab.cifs.user }, cifsPassword: { value: cifsPassword, secret: true },
            nfsHost: { value: lab.nfs.host }, nfsPort: { value: String(lab.nfs.port) }, nfsPath: { value: lab.nfs.remotePath },
        });
    });

    after(async () => {
        await sshPool.closeAll();
        if (t) await t.destroyAndRemove().catch(() => undefined);
        if (snapshot) restoreLab(snapshot);
        // The backups this test made, and what it added to them.
        for (const side of SIDES) {
            const files = [...strays[side], ...reports[side].flatMap(({ report }) => [...report.manifest.files.map((f) => f.path), report.manifest.path])];
            for (const rel of files) await removeAt(side, rel).catch(() => undefined);
            for (const { report } of reports[side]) await removeAt(side, `backup/system/db/${report.id}`).catch(() => undefined);
        }
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("a clean backup verifies on each destination: every file's size and SHA-256, and the manifest's own", async () => {
        const result = await t!.stack.up(recorded(t!));
        assert.equal(result.summary.result, "succeeded");
        const proofs = result.outputs.proofs.value;
        for (const side of SIDES) {
            const { report } = reports[side][0];
            assert.deepEqual(proofs[side], { backupId: report.id, checked: "sha256", files: report.files }, side);
        }
        const hashed = t!.events.flatMap((e) => e.diagnosticEvent?.message ?? []).filter((m) => /BackupVerification: hashed \d+ files, .* MiB, at .* in [\d.]+ s/.test(m));
        assert.equal(hashed.length, 3, `one line of figures per destination:\n${hashed.join("")}`);
    });

    it("a second up is a no-op: nothing is hashed again", async () => {
        const before = t!.events.length;
        const result = await t!.stack.up(recorded(t!));
        assert.deepEqual(Object.keys(result.summary.resourceChanges ?? {}), ["same"]);
        assert.ok(!t!.events.slice(before).some((e) => /BackupVerification: hashing/.test(e.diagnosticEvent?.message ?? "")));
    });

    it("the far side reads a landed file the same on each destination: streamFile, readFile, listFiles, digestFiles", async () => {
        for (const name of SIDES) {
            const side = FarSide.parse(farSide(name));
            const { report } = reports[name][0];
            const onDisk = fs.readFileSync(path.join(localRoot(name), report.manifest.path));
            const chunks: Buffer[] = [];
            await streamFile(side, report.manifest.path, (c) => chunks.push(c));
            assert.ok(Buffer.concat(chunks).equals(onDisk), `${name}: streamFile`);
            assert.ok((await readFile(side, report.manifest.path, onDisk.length)).equals(onDisk), `${name}: readFile`);
            await assert.rejects(readFile(side, report.manifest.path, onDisk.length - 1), /larger than the \d+ bytes it may be read into memory/);
            await assert.rejects(streamFile(side, `backup/manifests/${report.id}.missing`, () => undefined), new RegExp(`read backup/manifests/${report.id}\\.missing on .* failed: the file is not there`));
            assert.ok((await listFiles(side, "backup/manifests")).includes(report.manifest.path), `${name}: listFiles`);
            assert.deepEqual(await listFiles(side, "backup/no-such-dir"), [], `${name}: listFiles of a missing directory`);
            const digests = await digestFiles(side, [report.manifest.path, "backup/no-such-file"]);
            assert.deepEqual(digests.get(report.manifest.path), { size: onDisk.length, sha256: sha256(onDisk) });
            assert.equal(digests.get("backup/no-such-file"), undefined);
        }
    });

    it("finds each corruption between orbit writing the files and the check, naming the file, the expected and the found SHA-256", async () => {
        const expected: Record<Side, RegExp[]> = { rsync: [], cifs: [], nfs: [] };
        for (const side of SIDES) {
            const { report } = reports[side][1];
            const [dumpA, dumpB] = report.manifest.files.filter((f) => f.role === "db");
            const secrets = report.manifest.files.find((f) => f.role === "secrets");
            assert.ok(dumpA && dumpB && secrets, `${side}: the backup holds two dumps and a secrets archive`);
            const read = (f: ManifestFile) => fs.readFileSync(path.join(localRoot(side), f.path));

            const truncated = read(dumpA).subarray(0, Math.min(1000, Math.floor(dumpA.size / 2)));
            await writeAt(side, dumpA.path, truncated);
            const flipped = Buffer.from(read(dumpB));
            flipped[Math.floor(flipped.length / 2)] ^= 0x01;
            if (side === "nfs") {
                // In place, same size and inode: nfs-ganesha serves it as changed (a new
                // file under the old name is fine too, but nfs-cp writes no file over ~4 KB).
                const fd = fs.openSync(path.join(localRoot(side), dumpB.path), "r+");
                fs.writeSync(fd, flipped, Math.floor(flipped.length / 2), 1, Math.floor(flipped.length / 2));
                fs.closeSync(fd);
            } else {
                await writeAt(side, dumpB.path, flipped);
            }
            await removeAt(side, secrets.path);
            const stray = `backup/system/db/${report.id}/stray.tar.gz`;
            strays[side].push(stray);
            await writeAt(side, stray, Buffer.from("not written by orbit\n"));

            const q = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
            expected[side] = [
                new RegExp(`${q(dumpA.path)}: shorter than written \\(truncated\\); expected ${dumpA.size} bytes, SHA-256 ${dumpA.sha256}; found ${truncated.length} bytes, SHA-256 ${sha256(truncated)}`),
                new RegExp(`${q(dumpB.path)}: same size, other content; expected ${dumpB.size} bytes, SHA-256 ${dumpB.sha256}; found ${dumpB.size} bytes, SHA-256 ${sha256(flipped)}`),
                new RegExp(`${q(secrets.path)}: missing; expected ${secrets.size} bytes, SHA-256 ${secrets.sha256}`),
                new RegExp(`${q(stray)}: not in the manifest, yet named as a file of backup ${report.id}`),
                new RegExp(`backup ${report.id} from ${q(appliance.user)}@.* does not match its manifest \\(2 changed, 1 missing, 1 not in the manifest\\)`),
            ];
        }
        await t!.stack.setAllConfig({
            reportRsync: { value: reports.rsync[1].raw }, reportCifs: { value: reports.cifs[1].raw }, reportNfs: { value: reports.nfs[1].raw },
        });
        const before = t!.events.length;
        await assert.rejects(t!.stack.up(recorded(t!)), /BackupVerification/);
        const errors = new Map<string, string>();
        for (const e of t!.events.slice(before)) {
            const d = e.diagnosticEvent;
            if (d?.severity !== "error" || !d.urn) continue;
            const name = d.urn.slice(d.urn.lastIndexOf("::") + 2);
            errors.set(name, (errors.get(name) ?? "") + d.message);
        }
        for (const side of SIDES) {
            const message = errors.get(`verify-${side}`);
            assert.ok(message, `verify-${side} failed the up; errors: ${[...errors.keys()].join(", ")}`);
            for (const re of expected[side]) assert.match(message!, re, `${side}`);
            assert.match(message!, new RegExp(`verify the backup's sizes and SHA-256 on ${side === "rsync" ? "bkpadmin@" : `${side}://`}`));
        }
    });

    it("no secret reached the engine's output or the state", () => {
        const output = t!.output.join("");
        const state = JSON.stringify(exportState(t!));
        for (const [name, secret] of [["the CIFS password", cifsPassword], ["the master password", MASTER_PASSWORD]]) {
            assert.ok(!output.includes(secret), `${name} is not in the output`);
            assert.ok(!state.includes(secret), `${name} is not in the state`);
        }
    });
});
