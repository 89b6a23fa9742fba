// scripts/fleet end to end: `bash scripts/fleet drift` over two stacks (the real
// entry point, the real engine, two scripts/drift runs at once), with drift in one.
//
// Both stacks run programs/drift against lab appliance-0 and the lab's backup
// server. They declare the same root key, key line, rsync target and backup policy,
// with the same values, so neither sees the other's writes as drift; each has CIFS
// and NFS partitions of its own (distinct partition ids). Removing stack b's NFS
// partition by hand is drift in b only: exit 2, the summary names b (drift, its
// finding) and a (no drift). The backup-age check is passed --no-backup-age after
// `--`: the lab's appliance has made no backup in this file, and that is not what
// this test is about. The lab's files are put back as they were afterwards.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as path from "path";
import { REPO, TEST_BACKEND_DIR, TEST_PASSPHRASE, type TestStack, createTestStack } from "../support/engine";
import { type LabAppliance, type LabSnapshot, labCredentials, loadLab, orbitOk, resourceProgramConfig, restoreLab, snapshotLab } from "../support/lab";

const PROGRAM = path.join(__dirname, "programs", "drift");
const MASTER_PASSWORD = `fleet-master-${crypto.randomBytes(9).toString("base64url")}`;
const IDS = { a: { cifs: "fleet-a-cifs", nfs: "fleet-a-nfs" }, b: { cifs: "fleet-b-cifs", nfs: "fleet-b-nfs" } };

describe("scripts/fleet drift over two stacks, with drift in one", function () {
    this.timeout(240_000);
    let app: LabAppliance;
    let original: LabSnapshot | undefined;
    const stacks: { a?: TestStack; b?: TestStack } = {};
    let secrets: string[] = [];

    const removePartitions = () => {
        for (const id of [...Object.values(IDS.a), ...Object.values(IDS.b)]) {
            const show = orbitOk(app, ["backup", "config", "show"]);
            if (show.backup.destination.partitionId === id) orbitOk(app, ["backup", "destination", "none"]);
            orbitOk(app, ["partition", "remove", "--id", id]);
        }
    };

    before(async function () {
        this.timeout(150_000);
        const lab = loadLab();
        app = lab.appliances[0];
        if (!app) throw new Error("lab.json lists no appliance: run 'bash lab/start'");
        for (const host of [app.host, lab.rsyncServer.host, lab.cifs.host, lab.nfs.host]) {
            assert.match(host, /^127\./, `the lab must stay on 127.0.0.0/8, but lab.json names ${host}`);
        }
        const credentials = labCredentials(lab, app);
        secrets = [credentials.cifsPassword, MASTER_PASSWORD, ...[credentials.applianceKey, credentials.adminKey].flatMap((k) => k.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----")))];
        original = snapshotLab(lab, app);
        removePartitions();
        for (const s of ["a", "b"] as const) {
            const t = await createTestStack(PROGRAM, resourceProgramConfig(lab, app, credentials, {
                cifsPartitionId: IDS[s].cifs, nfsPartitionId: IDS[s].nfs, hour: 4, masterPassword: MASTER_PASSWORD,
            }));
            stacks[s] = t;
            // One after the other: the two stacks' first writes to the same hosts must not race.
            await t.stack.up({ onOutput: (l) => t.output.push(l) });
        }
    });

    after(async function () {
        this.timeout(180_000);
        try {
            for (const t of [stacks.b, stacks.a]) {
                if (!t) continue;
                try {
                    await t.destroyAndRemove();
                } catch (err) {
                    // The lab is put back below either way; the stack must not be left behind.
                    await t.stack.workspace.removeStack(t.name, { force: true }).catch(() => undefined);
                    throw err;
                }
            }
        } finally {
            if (app) removePartitions();
            if (original) restoreLab(original);
        }
    });

    it("exits 2, and the summary names the drifted stack, its finding, and the clean one", () => {
        const [a, b] = [stacks.a!.name, stacks.b!.name];
        orbitOk(app, ["partition", "remove", "--id", IDS.b.nfs]);
        const started = Date.now();
        const r = spawnSync("bash", [path.join(REPO, "scripts", "fleet"), "drift", "--stacks", `${a},${b}`, "--cwd", PROGRAM, "--json", "--", "--no-backup-age"], {
            env: { ...process.env, PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE },
            encoding: "utf8", timeout: 180_000,
        });
        if (r.error) throw new Error(`scripts/fleet did not run: ${r.error.message}`);
        const seconds = (Date.now() - started) / 1000;
        assert.equal(r.status, 2, `exit code\n${r.stderr}\n${r.stdout}`);

        const summary = JSON.parse(r.stdout);
        assert.equal(summary.command, "drift");
        assert.equal(summary.exitCode, 2);
        const byName = Object.fromEntries(summary.stacks.map((s: any) => [s.stack, s]));
        assert.deepEqual(summary.stacks.map((s: any) => s.stack), [a, b], "the stacks in the order given");
        assert.deepEqual([byName[a].exitCode, byName[a].result, byName[a].findings, byName[a].appliances], [0, "no drift", 0, 1]);
        assert.deepEqual([byName[b].exitCode, byName[b].result, byName[b].appliances], [2, "drift", 1]);
        assert.ok(byName[b].findings >= 1);
        const messages: string[] = byName[b].report.findings.map((f: any) => f.message);
        assert.ok(messages.some((m) => m.includes(`RemotePartition appliance-0-nfs`) && /removed outside Pulumi/.test(m)), messages.join("\n"));

        // The table (stderr with --json) has one row per stack, and the progress lines.
        assert.match(r.stderr, new RegExp(`^${b}\\s+1\\s+drift\\s+\\d+\\s+[\\d.]+ s$`, "m"), r.stderr);
        assert.match(r.stderr, new RegExp(`^${a}\\s+1\\s+no drift\\s+0\\s+[\\d.]+ s$`, "m"), r.stderr);
        assert.match(r.stderr, /drift of 2 stack\(s\), 2 at a time/);
        for (const s of [a, b]) {
            assert.match(r.stderr, new RegExp(`fleet: \\[${s}\\] started`));
            assert.match(r.stderr, new RegExp(`fleet: \\[${s}\\] finished in [\\d.]+ s`));
        }
        assert.match(r.stderr, /1 ok, 1 drifted, 0 failed; exit 2/);
        for (const secret of secrets) assert.ok(!`${r.stdout}${r.stderr}`.includes(secret), "no secret in the output");
        console.log(`      scripts/fleet drift over 2 stacks, 2 at a time: ${seconds.toFixed(1)} s`);
    });
});
