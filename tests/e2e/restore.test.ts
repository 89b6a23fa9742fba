// The restore drill (scripts/restore-drill) end to end: a stack whose ApplianceBackup
// (tests/e2e/programs/restore) backs one lab appliance up to the rsync server with
// every kind and a master password, through the real engine; then the drill, run as a
// user runs it, against what landed:
//   - the fresh backup is restorable (exit 0), in JSON and in text;
//   - a file truncated, a byte flipped, a file deleted and a file of the backup the
//     manifest does not list are each found, naming the file (exit 2); the pristine
//     bytes are kept in memory and put back between cases;
//   - a new master password (config change and up: the appliance has it, the newest
//     backup was made with the old one) fails with a clear message, and neither
//     password appears anywhere;
//   - the same stack moved to a CIFS share: restorable, and a flipped byte found there;
//     then to an NFS export: restorable.
// In every run the master password is looked for in the drill's stdout and stderr, the
// servers' logs, and /proc/<pid>/cmdline and environ of the drill and every process
// it starts (pulumi, smbclient, nfs-cat), sampled every 5 ms while it runs.
import { strict as assert } from "assert";
import { spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { FarSide } from "../../providers/transport/far-side";
import { buildReport } from "../../cli/restore-drill/plan";
import { drillOne } from "../../cli/restore-drill/run";
import { REPO, type TestStack, createTestStack, recorded } from "../support/engine";
import { type DrillRun, assertNoLeak, explain, runDrill, sample } from "../support/drill-run";
import {
    type FileSnapshot, type LabDescription, type LabSnapshot, labCredentials, loadLab, resourceProgramConfig, restoreLab, snapshotFile, snapshotLab,
} from "../support/lab";

const PROGRAM = path.join(REPO, "tests", "e2e", "programs", "restore");
const MASTER = `restore-drill master ${process.pid} ${Date.now().toString(36)}`;
const NEW_MASTER = `a newer master password ${Date.now().toString(36)}`;

const drill = (stack: string, args: string[], needles: readonly string[]) => runDrill(PROGRAM, stack, args, needles);

/** Every file under dir (relative), for putting the lab back. */
function walk(dir: string, base = dir): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const full = path.join(dir, e.name);
        return e.isDirectory() ? [`${path.relative(base, full)}/`, ...walk(full, base)] : [path.relative(base, full)];
    });
}

/** Removes what appeared under root since `before` (files, then the directories left empty). */
function removeNew(root: string, before: Set<string>): void {
    const now = walk(root).filter((p) => !before.has(p));
    for (const f of now.filter((p) => !p.endsWith("/"))) fs.rmSync(path.join(root, f), { force: true });
    for (const d of now.filter((p) => p.endsWith("/")).sort((a, b) => b.length - a.length)) {
        try { fs.rmdirSync(path.join(root, d)); } catch { /* not empty: something else wrote there */ }
    }
}

/** Puts a file back as it was: bytes, mode and owner. */
function putBack(file: string, snap: FileSnapshot): void {
    fs.writeFileSync(file, snap.bytes);
    fs.chownSync(file, snap.uid, snap.gid);
    fs.chmodSync(file, snap.mode);
}

function logSizes(lab: LabDescription): Map<string, number> {
    const logs = [lab.rsyncServer.sshdLog, lab.appliances[0].sshdLog, path.join(lab.appliances[0].orbitRoot, "log", "orbit-audit.log")];
    return new Map(logs.filter((f) => fs.existsSync(f)).map((f) => [f, fs.statSync(f).size]));
}

/** What the lab's logs gained since `sizes`. */
function logsSince(sizes: Map<string, number>): string {
    let out = "";
    for (const [file, size] of sizes) {
        const fd = fs.openSync(file, "r");
        try {
            const now = fs.fstatSync(fd).size;
            const buf = Buffer.alloc(Math.max(0, now - size));
            fs.readSync(fd, buf, 0, buf.length, size);
            out += buf.toString("latin1");
        } finally {
            fs.closeSync(fd);
        }
    }
    return out;
}

describe("restore drill: the secret scan", () => {
    it("samples for real: a secret in a child's argv and environment is found", async () => {
        const canary = `canary-${process.pid}-${Date.now()}`;
        // sh's $0 is the canary: it sits in argv while sh waits for sleep.
        const child = spawn("sh", ["-c", "sleep 5; :", canary], { env: { PATH: process.env.PATH, SSB_CANARY: canary } });
        try {
            await new Promise((resolve) => setTimeout(resolve, 200));
            const run = { sampled: new Set<string>(), leaks: [] as string[] };
            sample(process.pid, [canary], run);
            assert.ok(run.sampled.has("sh") && run.sampled.has("sleep"), [...run.sampled].join(","));
            assert.deepEqual(run.leaks.filter((l) => l.startsWith("sh ")).sort(), [`sh ${child.pid} cmdline`, `sh ${child.pid} environ`]);
            assert.ok(run.leaks.some((l) => /^sleep \d+ environ$/.test(l)), "a grandchild's environment is read too");
        } finally {
            child.kill();
        }
    });
});

describe("restore drill: scripts/restore-drill against the lab", function () {
    this.timeout(900_000);
    let lab: LabDescription;
    let snapshot: LabSnapshot;
    let t: TestStack | undefined;
    let rsyncRoot: string;
    let cifsRoot: string;
    const existing = { rsync: new Set<string>(), cifs: new Set<string>() };
    let needles: string[];
    let logs: Map<string, number>;

    before(async () => {
        lab = loadLab();
        const appliance = lab.appliances[0];
        snapshot = snapshotLab(lab, appliance);
        rsyncRoot = lab.rsyncServer.backupPath;
        cifsRoot = lab.cifs.localPath;
        existing.rsync = new Set(walk(rsyncRoot));
        existing.cifs = new Set(walk(cifsRoot));
        const credentials = labCredentials(lab, appliance);
        needles = [MASTER, NEW_MASTER, credentials.cifsPassword];
        logs = logSizes(lab);
        t = await createTestStack(PROGRAM, {
            ...resourceProgramConfig(lab, appliance, credentials, { cifsPartitionId: "restore-cifs", nfsPartitionId: "restore-nfs", hour: 4, masterPassword: MASTER }),
            destination: { value: "rsync" },
            name: { value: "restore-0" },
        });
        const up = await t.stack.up(recorded(t));
        assert.equal(up.summary.result, "succeeded");
    });

    after(async () => {
        try {
            if (t) await t.destroyAndRemove();
        } finally {
            restoreLab(snapshot);
            removeNew(rsyncRoot, existing.rsync);
            removeNew(cifsRoot, existing.cifs);
        }
        // What the servers logged while the drill and the stack ran holds no master password.
        const logged = logsSince(logs);
        for (const needle of [MASTER, NEW_MASTER]) assert.ok(!logged.includes(needle), "a master password in the lab's logs");
    });

    let report: any;
    const pristine = new Map<string, FileSnapshot>();
    const fileOf = (role: string) => report.appliances[0].files.find((f: any) => f.role === role).path as string;

    it("proves the fresh rsync backup restorable: every file intact, the secrets open, every archive lists (exit 0)", async () => {
        const run = await drill(t!.name, ["--json"], needles);
        assert.equal(run.code, 0, explain(run));
        assertNoLeak(run, needles);
        report = run.json;
        assert.equal(report.exitCode, 0);
        assert.equal(report.restorable, true);
        const [a] = report.appliances;
        assert.equal(a.name, "restore-0");
        assert.equal(a.verdict, "restorable");
        assert.equal(a.appliance, `${lab.appliances[0].user}@${lab.appliances[0].host}:${lab.appliances[0].port}`);
        assert.equal(a.backupId, (await t!.stack.outputs()).lastVerification.value.backupId, "the newest backup is the one the up made");
        assert.deepEqual(a.problems, []);
        assert.equal(a.manifestMatchesReport, true, "the manifest is the one orbit reported to the up");
        const roles = a.files.map((f: any) => f.role).sort();
        assert.ok(roles.filter((r: string) => r === "db").length >= 2 && roles.includes("arz") && roles.includes("secrets"), JSON.stringify(roles));
        for (const f of a.files) {
            assert.equal(f.ok, true, `${f.path}: ${f.detail}`);
            assert.match(f.detail, f.role === "secrets" ? /^decrypts with the master password, \d+ secrets? as the manifest counts$/ : /^decrypts with the master password, gunzips, \d+ tar members? as the manifest counts$/);
        }
        assert.ok(run.sampled.has("node") && run.sampled.has("pulumi"), `the sampler saw the drill and its pulumi: ${[...run.sampled]}`);
        assert.match(run.stderr, /restore-drill: reading the state of stack .* \(pulumi stack export --show-secrets, kept in memory\)/);
        for (const f of [...a.files.map((x: any) => x.path), `backup/manifests/${a.backupId}.json`]) pristine.set(f, snapshotFile(path.join(rsyncRoot, f)));
    });

    it("prints the same as text", async () => {
        const run = await drill(t!.name, ["--appliance", "restore-0"], needles);
        assert.equal(run.code, 0, explain(run));
        assertNoLeak(run, needles);
        assert.match(run.stdout, /^Restore drill of stack test-\w+: 1 appliance, 1 restorable\.$/m);
        assert.match(run.stdout, new RegExp(`^restore-0 \\(mt4adm@127\\.0\\.0\\.1:${lab.appliances[0].port}\\): the newest backup ${report.appliances[0].backupId} .* is restorable: ${report.appliances[0].files.length} files, `, "m"));
        const wrong = await drill(t!.name, ["--appliance", "restore-9"], needles);
        assert.equal(wrong.code, 1);
        assert.match(wrong.stderr, /the stack has no appliance named "restore-9": its ApplianceBackups are restore-0/);
    });

    const cases: Array<{ title: string; role: string; change: (file: string, id: string) => string; reason: RegExp }> = [
        {
            title: "a landed file truncated", role: "db", reason: /^is truncated: .*, the manifest says /,
            change: (file) => { fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2)); return file; },
        },
        {
            title: "one byte flipped", role: "arz", reason: /^is changed: its SHA-256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64} \(same size, other bytes\)$/,
            change: (file) => { const b = fs.readFileSync(file); b[Math.floor(b.length / 2)] ^= 0x01; fs.writeFileSync(file, b); return file; },
        },
        {
            title: "a file deleted", role: "secrets", reason: /^is missing: the manifest lists it \(.*\), the destination has no such file$/,
            change: (file) => { fs.rmSync(file); return file; },
        },
        {
            title: "a file of the backup that is not in its manifest", role: "extra", reason: /^belongs to backup \S+ \(its path carries the id\) but is not in the manifest/,
            change: (_file, id) => {
                const extra = path.join(rsyncRoot, "backup", "secrets", `${id}.secrets.enc.old`);
                fs.writeFileSync(extra, "left behind");
                return extra;
            },
        },
    ];
    for (const c of cases) {
        it(`finds ${c.title}, names the file and exits 2`, async () => {
            const id = report.appliances[0].backupId as string;
            const target = c.role === "extra" ? "" : path.join(rsyncRoot, fileOf(c.role));
            const changed = c.change(target, id);
            let run: DrillRun;
            try {
                run = await drill(t!.name, ["--json"], needles);
            } finally {
                if (c.role === "extra") fs.rmSync(changed, { force: true });
                else putBack(changed, pristine.get(path.relative(rsyncRoot, changed))!);
            }
            assert.equal(run.code, 2, explain(run));
            assertNoLeak(run, needles);
            const [a] = run.json.appliances;
            assert.equal(a.verdict, "not-restorable");
            assert.deepEqual(a.problems.map((p: any) => p.file), [path.relative(rsyncRoot, changed)]);
            assert.match(a.problems[0].reason, c.reason);
            assert.equal(a.files.filter((f: any) => f.ok).length, a.files.length - (c.role === "extra" ? 0 : 1), "every other file was still opened");
        });
    }

    it("finds a manifest rewritten to vouch for a changed file, by the digest orbit reported at pulumi up", async () => {
        const id = report.appliances[0].backupId as string;
        const secrets = fileOf("secrets");
        const manifestFile = `backup/manifests/${id}.json`;
        const changed = Buffer.from(pristine.get(secrets)!.bytes);
        changed[changed.length - 1] ^= 0x01;
        const manifest = JSON.parse(pristine.get(manifestFile)!.bytes.toString("utf8"));
        manifest.files.find((f: any) => f.path === secrets).sha256 = createHash("sha256").update(changed).digest("hex");
        fs.writeFileSync(path.join(rsyncRoot, secrets), changed);
        fs.writeFileSync(path.join(rsyncRoot, manifestFile), JSON.stringify(manifest));
        let run: DrillRun;
        try {
            run = await drill(t!.name, ["--json"], needles);
        } finally {
            putBack(path.join(rsyncRoot, secrets), pristine.get(secrets)!);
            putBack(path.join(rsyncRoot, manifestFile), pristine.get(manifestFile)!);
        }
        assert.equal(run.code, 2, explain(run));
        const [a] = run.json.appliances;
        assert.equal(a.manifestMatchesReport, false);
        assert.deepEqual(a.problems.map((p: any) => p.file), [manifestFile, secrets]);
        assert.match(a.problems[0].reason, /^is not the manifest orbit reported when pulumi up verified backup .*: the manifest was rewritten$/);
        assert.match(a.problems[1].reason, /AES-256-GCM authentication failed\): the password is wrong, or the file was changed$/);
    });

    it("exits 1, no backup found, when the destination holds no manifest", async () => {
        const manifests = path.join(rsyncRoot, "backup", "manifests");
        const aside = `${manifests}.aside-${process.pid}`;
        fs.renameSync(manifests, aside);
        let run: DrillRun;
        try {
            run = await drill(t!.name, ["--json"], needles);
        } finally {
            fs.renameSync(aside, manifests);
        }
        assert.equal(run.code, 1, explain(run));
        assertNoLeak(run, needles);
        assert.equal(run.json.appliances[0].verdict, "error");
        assert.match(run.json.appliances[0].error, /^no backup found: bkpadmin@127\.0\.0\.1:\d+:\/files\/backup\/senhasegura holds no manifest in backup\/manifests /);
    });

    it("exits 1 on a bad argument, before reading anything", async () => {
        const run = await drill(t!.name, ["--stakc", "x"], needles);
        assert.equal(run.code, 1);
        assert.match(run.stderr, /^restore-drill: unknown argument "--stakc"\nusage: senhasegura-backup restore-drill /);
        assert.ok(!run.sampled.has("pulumi"), "nothing was read");
    });

    it("reports an unreachable backup server as an error naming the host and what to do, without the password", async () => {
        const server = { host: "127.0.0.1", port: 1, user: "bkpadmin", hostKey: lab.rsyncServer.hostKey, privateKeyPath: lab.rsyncServer.adminPrivateKeyPath, dialAttempts: 2 };
        const r = await drillOne({ name: "down", urn: "urn:x", flavor: "contract", masterPassword: MASTER, destination: FarSide.parse({ type: "rsync", server, path: rsyncRoot }) }, () => undefined);
        assert.equal(r.verdict, "error");
        assert.match(r.error!, /bkpadmin@127\.0\.0\.1:1 failed: .*ECONNREFUSED[\s\S]*what to do: check that sshd listens on 127\.0\.0\.1:1/);
        assert.ok(!r.error!.includes(MASTER));
        assert.equal(buildReport("s", [r]).exitCode, 1);
    });

    it("is restorable again once the files are back", async () => {
        const run = await drill(t!.name, ["--json"], needles);
        assert.equal(run.code, 0, explain(run));
    });

    it("fails with a clear message, exit 2 and no password shown, when the backup was made with another master password", async () => {
        const id = report.appliances[0].backupId;
        await t!.stack.setConfig("masterPassword", { value: NEW_MASTER, secret: true });
        const up = await t!.stack.up(recorded(t!));
        assert.equal(up.summary.result, "succeeded");
        assert.equal(up.outputs.lastVerification.value.backupId, id, "a new master password must not make a new backup, or this case proves nothing");
        const run = await drill(t!.name, [], needles);
        assert.equal(run.code, 2, explain(run));
        assertNoLeak(run, needles);
        const secrets = fileOf("secrets");
        assert.match(run.stdout, new RegExp(`^  BAD ${secrets.replace(/\./g, "\\.")}: does not decrypt with the stack's master password \\(AES-256-GCM authentication failed\\), although its size and SHA-256 match the manifest: the appliance made this backup with another master password$`, "m"));
        assert.match(run.stdout, /What to do: The stack's masterPassword is not the one this backup was made with/);
        assert.match(run.stdout, /is NOT restorable/);
    });

    it("moves the stack to a CIFS share: the new backup there is restorable, read through smbclient, and a flipped byte is found", async () => {
        await t!.stack.setConfig("destination", { value: "cifs" });
        const up = await t!.stack.up(recorded(t!));
        assert.equal(up.summary.result, "succeeded");
        const run = await drill(t!.name, ["--json"], needles);
        assert.equal(run.code, 0, explain(run));
        assertNoLeak(run, needles);
        assert.ok(run.sampled.has("smbclient"), `the sampler saw smbclient: ${[...run.sampled]}`);
        const [a] = run.json.appliances;
        assert.equal(a.backupId, up.outputs.lastVerification.value.backupId);
        assert.match(a.destination, /^cifs:\/\/127\.0\.0\.1:\d+\/backup/);

        const db = path.join(cifsRoot, a.files.find((f: any) => f.role === "db").path);
        const original = snapshotFile(db);
        const flipped = Buffer.from(original.bytes);
        flipped[flipped.length - 1] ^= 0x80;
        fs.writeFileSync(db, flipped);
        let bad: DrillRun;
        try {
            bad = await drill(t!.name, ["--json"], needles);
        } finally {
            putBack(db, original);
        }
        assert.equal(bad.code, 2, explain(bad));
        assertNoLeak(bad, needles);
        assert.deepEqual(bad.json.appliances[0].problems.map((p: any) => p.file), [path.relative(cifsRoot, db)]);
        assert.match(bad.json.appliances[0].problems[0].reason, /^is changed: its SHA-256 is /);
    });

    // Over NFS only the good case: nfs-ganesha keeps serving a file changed on disk
    // behind its back from its cache, and the lab cannot delete from its export
    // (tests/support/lab.ts restoreLab), so this backup stays there.
    it("moves the stack to an NFS export: the new backup there is restorable, read through nfs-ls and nfs-cat", async () => {
        await t!.stack.setConfig("destination", { value: "nfs" });
        const up = await t!.stack.up(recorded(t!));
        assert.equal(up.summary.result, "succeeded");
        const run = await drill(t!.name, ["--json"], needles);
        assert.equal(run.code, 0, explain(run));
        assertNoLeak(run, needles);
        assert.ok(run.sampled.has("nfs-cat"), `the sampler saw nfs-cat: ${[...run.sampled]}`);
        const [a] = run.json.appliances;
        assert.equal(a.backupId, up.outputs.lastVerification.value.backupId);
        assert.match(a.destination, /^nfs:\/\/127\.0\.0\.1:\d+\/senhasegura$/);
        assert.ok(a.files.every((f: any) => f.ok));
    });
});
