// A fleet in one stack, end to end: the root program (index.ts) with
// `labAppliances: 3` drives the lab's first three appliances through the real
// engine. One `up` configures all three; a `preview --refresh` is a no-op; an hour
// changed by hand on appliance-1 is drift that scripts/drift names (that appliance's
// BackupPolicy, nothing of the other two) and `up --refresh` repairs; `destroy`
// undoes all three.
//
// The lab runs one appliance by default: this file starts three (bash lab/start
// --appliances 3, which keeps the running ones) and goes back to one afterwards,
// with every appliance's orbit config and the backup server's authorized_keys put
// back as they were.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO, TEST_BACKEND_DIR, TEST_PASSPHRASE, type TestStack, createTestStack, recorded } from "../support/engine";
import { type LabAppliance, type LabDescription, type LabSnapshot, labFile, loadLab, orbitOk, restoreLab, snapshotLab } from "../support/lab";

const FLEET_SIZE = 3;
const HOUR = 3;

/** lab/start with `args`, which must succeed; its output only on failure. */
function labStart(...args: string[]): void {
    const r = spawnSync("bash", [path.join(REPO, "lab", "start"), ...args], { encoding: "utf8", timeout: 300_000 });
    assert.equal(r.status, 0, `lab/start ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
}

describe("a fleet of three lab appliances in one stack: up, a no-op preview, drift on one, destroy", function () {
    this.timeout(300_000);
    let lab: LabDescription;
    let fleet: LabAppliance[] = [];
    let t: TestStack | undefined;
    const snapshots: LabSnapshot[] = [];

    const config = (a: LabAppliance) => orbitOk(a, ["backup", "config", "show"]);
    /** The lines of authorized_keys that hold one of the fleet's root keys. */
    const fleetKeyLines = () => {
        const text = fs.existsSync(lab.rsyncServer.authorizedKeysPath) ? fs.readFileSync(lab.rsyncServer.authorizedKeysPath, "latin1") : "";
        const blobs = fleet.map((a) => config(a).rootKey.publicKey.split(" ")[1]);
        return text.split("\n").filter((line) => blobs.some((blob) => line.includes(blob)));
    };
    function drift(...args: string[]) {
        const r = spawnSync("bash", [path.join(REPO, "scripts", "drift"), "--stack", t!.name, "--cwd", REPO, ...args], {
            env: { ...process.env, PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE },
            encoding: "utf8", timeout: 180_000,
        });
        if (r.error) throw new Error(`scripts/drift did not run: ${r.error.message}`);
        return r;
    }

    before(async function () {
        this.timeout(360_000);
        labStart("--appliances", String(FLEET_SIZE));
        lab = loadLab();
        fleet = lab.appliances.slice(0, FLEET_SIZE);
        assert.equal(fleet.length, FLEET_SIZE, "lab.json lists the three appliances lab/start started");
        for (const a of fleet) assert.match(a.host, /^127\./, `the lab must stay on 127.0.0.0/8, but lab.json names ${a.host}`);
        snapshots.push(...fleet.map((a) => snapshotLab(lab, a)));
        t = await createTestStack(REPO, {
            labFile: { value: labFile() },
            labAppliances: { value: String(FLEET_SIZE) },
            hour: { value: String(HOUR) },
            // The verification backup is tested elsewhere; three of them would only slow this file.
            verify: { value: "false" },
        });
    });

    after(async function () {
        this.timeout(360_000);
        try {
            if (t) await t.destroyAndRemove();
        } finally {
            // authorized_keys is one file: put back the first snapshot's copy last.
            for (const s of [...snapshots].reverse()) restoreLab(s);
            labStart("--appliances", "1");
        }
    });

    it("one up configures all three appliances, each with its own key line on the shared backup server", async () => {
        const result = await t!.stack.up(recorded(t!));
        assert.equal(result.summary.result, "succeeded");
        assert.deepEqual(result.summary.resourceChanges, { create: 1 + FLEET_SIZE * 5 }, "the stack, and per appliance the component, root key, key line, rsync target and policy");
        for (const a of fleet) {
            const backup = config(a).backup;
            assert.deepEqual([a.name, backup.hour, backup.destination.mode], [a.name, HOUR, "rsync"]);
        }
        assert.equal(fleetKeyLines().length, FLEET_SIZE);
        const summary = result.outputs.summary.value as string[];
        assert.deepEqual(summary.map((line) => line.split(" ")[1]), fleet.map((a) => `${a.host}:${a.port}`));
        assert.deepEqual(Object.keys(result.outputs.destinationUrl.value), fleet.map((a) => a.name));
    });

    it("a preview with refresh is a no-op", async () => {
        const preview = await t!.stack.preview({ refresh: true, expectNoChanges: true, ...recorded(t!) });
        assert.deepEqual(Object.keys(preview.changeSummary), ["same"]);
    });

    it("an hour changed on appliance-1 is drift in its policy alone, named by scripts/drift, and up --refresh repairs it", async () => {
        const [, drifted] = fleet;
        orbitOk(drifted, ["backup", "time", "--hour", "9"]);
        const r = drift("--json", "--no-backup-age");
        assert.equal(r.status, 2, `exit code\n${r.stderr}`);
        const report = JSON.parse(r.stdout);
        assert.deepEqual(report.findings.map((f: any) => f.message), [
            `BackupPolicy ${drifted.name}-policy on ${drifted.host}:${drifted.port}: hour changed from ${HOUR} to 9; up will set it back`,
        ]);
        assert.equal(report.resourcesChecked, FLEET_SIZE * 5, "per appliance the component and its four resources");

        const repaired = await t!.stack.up({ refresh: true, ...recorded(t!) });
        assert.deepEqual(repaired.summary.resourceChanges, { same: 1 + FLEET_SIZE * 5 - 1, update: 1 });
        assert.equal(config(drifted).backup.hour, HOUR);
        assert.equal(drift("--no-backup-age").status, 0);
    });

    it("destroy turns every appliance's backups off and removes the three key lines, keeping the others", async () => {
        const others = () => fs.readFileSync(lab.rsyncServer.authorizedKeysPath, "latin1").split("\n").filter((l) => l.trim() !== "" && !fleetKeyLines().includes(l));
        const before = others();
        const result = await t!.stack.destroy(recorded(t!));
        assert.equal(result.summary.result, "succeeded");
        assert.deepEqual(result.summary.resourceChanges, { delete: 1 + FLEET_SIZE * 5 });
        for (const a of fleet) assert.equal(config(a).backup.destination.mode, "none", a.name);
        assert.deepEqual(fleetKeyLines(), []);
        assert.deepEqual(others(), before);
    });
});
