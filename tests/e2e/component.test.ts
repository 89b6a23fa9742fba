// The main program (index.ts) end to end against the lab: the ApplianceBackup
// component creates everything, its verification backup (a real @pulumi/command
// remote.Command, pinned) lands for each of rsync, CIFS and NFS, a second up changes
// nothing and runs no backup, a SHA256 fingerprint pin works for the command too, a
// failing backup fails the up with orbit's message and the next up retries it, a new
// remote path runs the verification again, and destroy cleans up.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { runtime } from "@pulumi/pulumi";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { REPO, type TestStack, createTestStack, exportState, plannedChanges, recorded } from "../support/engine";
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

/** A value Pulumi keeps encrypted in state. */
function isSecret(value: any): boolean {
    return value?.[runtime.specialSigKey] === runtime.specialSecretSig && typeof value.ciphertext === "string";
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

    it("runs the backup in a pinned command:remote:Command whose connection, key included, is encrypted in state", () => {
        const state = exportState(t);
        const command = state.deployment.resources.find((r: any) => r.type === "command:remote:Command");
        assert.ok(command, "ApplianceBackup declared no command:remote:Command");
        assert.match(command.urn, /ApplianceBackup\$command:remote:Command::appliance-0-verification-backup$/);
        assert.match(command.outputs.create, /^timeout -k 30 900 sudo -n -- orbit backup create --json /);
        assert.equal(command.outputs.logging, "none");
        assert.ok(isSecret(command.inputs.connection) && isSecret(command.outputs.connection), "the command's connection is not a secret in state");
        const report = JSON.parse(command.outputs.stdout);
        assert.equal(report.ok, true);
        assert.equal(report.id, state.deployment.resources.find((r: any) => r.type.endsWith(":BackupVerification")).outputs.backupId);
        const hostKey = state.deployment.resources.find((r: any) => r.type.endsWith(":ApplianceHostKey"));
        assert.equal(hostKey.outputs.keyLine, lab.appliances[0].hostKey, "the key line handed to the command is not the appliance's");
    });

    it("accepts a SHA256 fingerprint pin: the command gets the checked key line and runs no new backup", async () => {
        const a = lab.appliances[0];
        const before = backupLogLines(lab);
        await t.stack.setConfig("appliance", { value: JSON.stringify({ host: a.host, port: a.port, user: a.user, hostKey: a.hostKeyFingerprint, privateKeyPath: a.privateKeyPath }) });
        const result = await t.stack.up(recorded(t));
        assert.equal(result.summary.result, "succeeded");
        assert.equal(result.summary.resourceChanges?.create ?? 0, 0);
        assert.equal(result.summary.resourceChanges?.replace ?? 0, 0);
        assert.equal(backupLogLines(lab), before, "a pin given another way must not run a backup");
        const hostKey = exportState(t).deployment.resources.find((r: any) => r.type.endsWith(":ApplianceHostKey"));
        assert.equal(hostKey.outputs.keyLine, a.hostKey);
        assert.equal(hostKey.outputs.fingerprint, a.hostKeyFingerprint);
    });

    it("a failing backup (the backup directory gone) fails the up with orbit's message, and the next up retries it", async () => {
        const dir = lab.rsyncServer.backupPath;
        const aside = `${dir}.aside-${process.pid}`;
        const previous = (await t.stack.outputs()).lastVerification.value.backupId;
        fs.renameSync(dir, aside);
        const events: EngineEvent[] = [];
        try {
            // Turning video off changes the command's triggers: a new verification backup.
            await t.stack.setConfig("videoBackup", { value: "false" });
            await assert.rejects(t.stack.up({ ...recorded(t), onEvent: (e) => { events.push(e); t.events.push(e); } }));
        } finally {
            fs.renameSync(aside, dir);
        }
        const failures = events.flatMap((e) => e.diagnosticEvent?.severity === "error" && e.diagnosticEvent.urn?.endsWith("verification-backup") ? [e.diagnosticEvent.message] : []);
        assert.equal(failures.length, 1, `expected one error on the command: ${JSON.stringify(events.filter((e) => e.diagnosticEvent?.severity === "error"))}`);
        assert.match(failures[0], /Process exited with status [1-9]/);
        assert.match(failures[0], /"ok":false,"error":\{"code":"(unreachable|backup_failed)"/, `orbit's own answer is not in the message: ${failures[0]}`);
        assert.match(failures[0], /orbit: /, "orbit's stderr is not in the message");
        assert.match(failures[0], new RegExp(`verification backup on ${lab.appliances[0].user}@${lab.appliances[0].host}:${lab.appliances[0].port} failed .*what to do: read /var/log/orbinibkp.log`));

        // The directory is back, the change is still wanted: the next up runs the backup again.
        const logBefore = backupLogLines(lab);
        const retried = await t.stack.up(recorded(t));
        assert.equal(retried.summary.result, "succeeded");
        assert.equal(backupLogLines(lab), logBefore + 1, "the next up must run the backup once");
        const v = retried.outputs.lastVerification.value;
        assert.notEqual(v.backupId, previous);
        // contract 2: the system kind's database dumps, then the manifest; no backup/system/arz (video)
        assert.ok(v.files.some((f: string) => f.startsWith("backup/system/db/")), `no database dump: ${v.files}`);
        assert.ok(v.files.every((f: string) => /^backup\/(system\/db|manifests)\//.test(f)), `video is off now: ${v.files}`);
        for (const f of v.files) assert.ok(fs.statSync(path.join(dir, f)).size > 0, `${f} did not land`);
        const preview: EngineEvent[] = [];
        await t.stack.preview({ refresh: true, expectNoChanges: true, onEvent: (e) => preview.push(e) });
        assert.deepEqual(plannedChanges(preview), []);
        await t.stack.removeConfig("videoBackup");
    });

    it("runs the verification again when the remote path changes", async () => {
        const previous = (await t.stack.outputs()).lastVerification.value.backupId;
        await t.stack.removeConfig("appliance");
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
