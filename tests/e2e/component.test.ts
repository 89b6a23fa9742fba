// The main program (index.ts) end to end against the lab: the ApplianceBackup
// component creates everything, its verification backup lands for each of rsync,
// CIFS and NFS, a second up changes nothing and runs no backup, a new remote path
// runs the verification again, and destroy cleans up.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO, type TestStack, createTestStack, plannedChanges, recorded } from "../support/engine";
import { type LabDescription, loadLab } from "../support/lab";

function backupLogLines(lab: LabDescription): number {
    const file = path.join(lab.appliances[0].orbitRoot, "log", "orbinibkp.log");
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;
}

function appliancesConfig(lab: LabDescription): any {
    const a = lab.appliances[0];
    const out = execFileSync("ssh", ["-F", "/dev/null", "-i", a.privateKeyPath, "-p", String(a.port), "-o", "BatchMode=yes",
        "-o", `UserKnownHostsFile=${knownHosts(lab)}`, "-o", "StrictHostKeyChecking=yes", `${a.user}@${a.host}`,
        "sudo", "-n", "orbit", "backup", "config", "show", "--json"]);
    return JSON.parse(out.toString());
}

let knownHostsFile: string | undefined;
function knownHosts(lab: LabDescription): string {
    if (!knownHostsFile) {
        const a = lab.appliances[0];
        knownHostsFile = path.join(REPO, ".test-results", "component-known-hosts");
        fs.mkdirSync(path.dirname(knownHostsFile), { recursive: true });
        fs.writeFileSync(knownHostsFile, `[${a.host}]:${a.port} ${a.hostKey}\n`);
    }
    return knownHostsFile;
}

function assertLanded(localRoot: string, files: string[]): void {
    assert.ok(files.length >= 2, `expected system and video files, got ${JSON.stringify(files)}`);
    for (const f of files) {
        const local = path.join(localRoot, f);
        assert.ok(fs.existsSync(local) && fs.statSync(local).size > 0, `${f} did not land in ${localRoot}`);
    }
}

describe("the dev program: ApplianceBackup with its verification backup", function () {
    this.timeout(600_000);
    let lab: LabDescription;
    let t: TestStack;
    const altPath = "/files/backup/senhasegura-alt";

    before(async () => {
        lab = loadLab();
        // The vendor's prerequisite: a backup directory owned by the rsync user.
        fs.mkdirSync(altPath, { recursive: true, mode: 0o750 });
        execFileSync("chown", [`${lab.rsyncServer.backupUser}:`, altPath]);
        t = await createTestStack(REPO, { labFile: { value: path.join(lab.root, "lab.json") }, destination: { value: "rsync" } });
    });

    after(async () => {
        if (t) await t.destroyAndRemove().catch(() => undefined);
        fs.rmSync(altPath, { recursive: true, force: true });
    });

    it("creates everything on a fresh stack and finds the rsync backup's files on the backup server", async () => {
        const result = await t.stack.up(recorded(t));
        assert.equal(result.summary.result, "succeeded");
        const v = result.outputs.lastVerification.value;
        assert.match(v.backupId, /^\d{8}T\d{6}Z-/);
        assertLanded(lab.rsyncServer.backupPath, v.files);
        assert.ok(v.bytes > 0 && v.durationMs >= 0);
        assert.match(result.outputs.summary.value, /backs up to rsync:\/\/senhauser@127\.0\.0\.1:2222\/files\/backup\/senhasegura daily at 5:00/);
        const live = appliancesConfig(lab);
        assert.equal(live.backup.destination.mode, "rsync");
        assert.deepEqual([live.backup.system, live.backup.video], [true, true]);
    });

    it("changes nothing and runs no new backup on a second up", async () => {
        const before = backupLogLines(lab);
        const events: any[] = [];
        const result = await t.stack.up({ ...recorded(t), onEvent: (e) => events.push(e) });
        assert.deepEqual(plannedChanges(events), []);
        assert.deepEqual(Object.keys(result.summary.resourceChanges ?? {}), ["same"]);
        assert.equal(backupLogLines(lab), before, "a second up must not run a backup");
    });

    it("runs the verification again when the remote path changes", async () => {
        const previous = (await t.stack.outputs()).lastVerification.value.backupId;
        await t.stack.setConfig("backupServer", {
            value: JSON.stringify({
                host: lab.rsyncServer.host, port: lab.rsyncServer.port, user: lab.rsyncServer.adminUser, hostKey: lab.rsyncServer.hostKey,
                privateKeyPath: lab.rsyncServer.adminPrivateKeyPath, backupUser: lab.rsyncServer.backupUser, path: altPath,
            }),
        });
        const result = await t.stack.up(recorded(t));
        const v = result.outputs.lastVerification.value;
        assert.notEqual(v.backupId, previous);
        assertLanded(altPath, v.files);
    });

    it("moves the backups to a CIFS share and verifies them there", async () => {
        await t.stack.removeConfig("backupServer");
        await t.stack.setConfig("destination", { value: "cifs" });
        const result = await t.stack.up(recorded(t));
        const v = result.outputs.lastVerification.value;
        assertLanded(lab.cifs.localPath, v.files);
        const live = appliancesConfig(lab);
        assert.equal(live.backup.destination.mode, "partition");
        assert.equal(live.rsync, null, "the rsync target left with the rsync destination");
    });

    it("moves the backups to an NFS export and verifies them there", async () => {
        await t.stack.setConfig("destination", { value: "nfs" });
        const result = await t.stack.up(recorded(t));
        assertLanded(lab.nfs.localPath, result.outputs.lastVerification.value.files);
    });

    it("cleans up on destroy: backups off, no destination, no partition, no appliance key on the server", async () => {
        const result = await t.stack.destroy(recorded(t));
        assert.equal(result.summary.result, "succeeded");
        const live = appliancesConfig(lab);
        assert.deepEqual([live.backup.system, live.backup.secrets, live.backup.video, live.backup.destination.mode], [false, false, false, "none"]);
        assert.deepEqual(live.partitions.filter((p: any) => p.id.endsWith("-backup")), []);
        assert.equal(live.rsync, null);
        const rootKeyBlob = lab.appliances[0].rootPublicKey.split(" ")[1];
        assert.ok(!fs.readFileSync(lab.rsyncServer.authorizedKeysPath, "utf8").includes(rootKeyBlob));
    });
});
