// The resources, end to end: one stack holds an ApplianceRootKey, an AuthorizedKey,
// an RsyncTarget, a CIFS and an NFS RemotePartition and a BackupPolicy, on lab
// appliance-0 and the lab's backup server, driven by the real engine
// (programs/resources). A few engine runs cover the whole life cycle:
//   up -> preview -> preview --refresh -> drift -> preview --refresh -> up --refresh
//   -> preview --refresh -> second drift -> preview --refresh -> up --refresh
//   -> up with new connection settings only -> destroy.
//
// Drift cases covered (each made on the hosts outside Pulumi, and each named by
// `preview --refresh` with its resource and field, then converged by `up`):
//   AuthorizedKey  - the key line's options edited           -> effectiveOptions
//                  - authorized_keys chmod 644               -> fileMode
//                  - authorized_keys chown root              -> fileOwner
//                  - ~/.ssh chmod 755                        -> dirMode
//                  - the key line removed (second round)     -> op create
//   RsyncTarget    - the remote path changed (orbit rsync set)      -> path
//   RemotePartition- CIFS unmounted (orbit partition unmount)       -> mounted
//                  - NFS removed (orbit partition remove)           -> op create
//   BackupPolicy   - the daily hour changed (orbit backup time)     -> hour
//                  - the video backup disabled (orbit backup kind)  -> video
// Also: a change of connection settings alone (key material moved from a secret to
// a key file on the appliance connection, a dial timeout on the server connection)
// updates every resource in place and runs no change on either host; destroy leaves
// authorized_keys byte for byte (with its ugly unrelated lines) and the appliance's
// partitions and rsync target as they were; no secret reaches state or CLI output.
//
// The test prepares a known starting point (the resources absent) and restores the
// lab's previous files afterwards.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { type TestStack, createTestStack, exportState, plannedChanges, plannedFieldChanges, recorded } from "../support/engine";
import { type FileSnapshot, type LabAppliance, type LabDescription, type LabSnapshot, type LabCredentials, assertLabServersAnswer, labCredentials, loadLab, orbitOk, resourceProgramConfig, restoreLab, snapshotFile, snapshotLab } from "../support/lab";
import { ed25519PublicKey } from "../support/keys";

const CIFS_ID = "e2e-cifs";
const NFS_ID = "e2e-nfs";
const HOUR = 3;
const MASTER_PASSWORD = `e2e-master-${crypto.randomBytes(9).toString("base64url")}`;

const throwawayKey = ed25519PublicKey;

// Unrelated lines people keep in the file: comments, a blank line, an indented
// comment with trailing blanks, options with a quoted comma, a CRLF ending, and a
// last line without a final newline. They must survive every edit byte for byte.
const UGLY_LINES = [
    "# senhauser: keys added by hand (the e2e test proves these lines survive)\n",
    "\n",
    "   # an indented comment with trailing blanks   \n",
    `command="echo \\"hello, world\\"",no-pty ${throwawayKey("ops@lab")}\r\n`,
    `from="127.0.0.1,::1",no-agent-forwarding ${throwawayKey("operator@lab")}`,
].join("");

/** Writes a file in place as root (keeps inode, mode and owner), as a hand edit would. */
function editInPlace(file: string, content: Buffer | string): void {
    fs.writeFileSync(file, content);
}

/** Every resource the events planned to change, with the fields that changed. */
function planned(events: EngineEvent[]) {
    return plannedFieldChanges(events).map((c) => ({ name: c.name, op: c.op, keys: c.keys }))
        .sort((a, b) => a.name.localeCompare(b.name));
}

describe("the backup resources through the real engine, against the lab", function () {
    this.timeout(120_000);
    let lab: LabDescription;
    let app: LabAppliance;
    let t: TestStack | undefined;
    let destroyed = false;
    let akPath: string;
    let cifsPassword: string;
    let applianceKey: string;
    let adminKey: string;
    let credentials: LabCredentials;
    // What the lab held before this file ran, put back in after().
    let original: LabSnapshot | undefined;
    // The starting point of the test: the hosts without our resources.
    let baseline: { authorizedKeys: FileSnapshot; sshDir: FileSnapshot; config: any };
    let afterCreate: FileSnapshot;
    let stateAfterCreate = "";
    let createOutputs: Record<string, { value: unknown }> | undefined;
    let keyLine: string;

    const show = () => orbitOk(app, ["backup", "config", "show"]);
    const partition = (config: any, id: string) => config.partitions.find((p: any) => p.id === id);

    function assertConverged(label: string): void {
        const ak = snapshotFile(akPath);
        const text = ak.bytes.toString("latin1");
        // The unrelated lines byte for byte, then the managed line. The unterminated last
        // line needs a newline for a line to follow it; whether the managed line then ends
        // the file with or without one is the provider's choice.
        assert.ok([`${UGLY_LINES}\n${keyLine}\n`, `${UGLY_LINES}\n${keyLine}`].includes(text),
            `${label}: authorized_keys must hold exactly the unrelated lines and the managed line, but holds ${JSON.stringify(text)}`);
        assert.equal(ak.mode, 0o600, `${label}: authorized_keys mode`);
        assert.equal(ak.uid, baseline.authorizedKeys.uid, `${label}: authorized_keys owner`);
        assert.equal(ak.gid, baseline.authorizedKeys.gid, `${label}: authorized_keys group`);
        const dir = snapshotFile(path.dirname(akPath));
        assert.equal(dir.mode, 0o700, `${label}: ~/.ssh mode`);
        assert.equal(dir.uid, baseline.sshDir.uid, `${label}: ~/.ssh owner`);

        const config = show();
        assert.deepEqual(config.rsync, { user: lab.rsyncServer.backupUser, host: lab.rsyncServer.host, port: lab.rsyncServer.port, path: lab.rsyncServer.backupPath });
        const cifs = partition(config, CIFS_ID);
        assert.ok(cifs, `${label}: partition ${CIFS_ID} exists`);
        assert.deepEqual({ ...cifs, mountedAt: typeof cifs.mountedAt }, {
            id: CIFS_ID, protocol: "cifs", host: lab.cifs.host, port: lab.cifs.port, path: lab.cifs.remotePath, user: lab.cifs.user,
            domain: null, credentialId: null, passwordSet: true, mounted: true, mountedAt: "string",
        });
        const nfs = partition(config, NFS_ID);
        assert.ok(nfs, `${label}: partition ${NFS_ID} exists`);
        assert.deepEqual({ ...nfs, mountedAt: typeof nfs.mountedAt }, {
            id: NFS_ID, protocol: "nfs", host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath, user: null,
            domain: null, credentialId: null, passwordSet: false, mounted: true, mountedAt: "string",
        });
        assert.deepEqual(config.backup, {
            system: true, secrets: true, video: true, masterPasswordSet: true, hour: HOUR,
            destination: { mode: "rsync", partitionId: null }, notifications: baseline.config.backup.notifications,
        });
        // The root key really is authorized: the appliance reaches the target through rrsync.
        const test = orbitOk(app, ["rsync", "test"]);
        assert.equal(test.reachable, true, `${label}: the appliance must reach the rsync target: ${JSON.stringify(test)}`);
    }

    before(async function () {
        this.timeout(60_000);
        lab = loadLab();
        app = lab.appliances[0];
        if (!app) throw new Error("lab.json lists no appliance: run 'bash lab/start'");
        await assertLabServersAnswer([[`${app.name} sshd`, app.port], ["rsync sshd", lab.rsyncServer.port], ["smbd", lab.cifs.port], ["ganesha", lab.nfs.port]]);
        for (const host of [app.host, lab.rsyncServer.host, lab.cifs.host, lab.nfs.host]) {
            assert.match(host, /^127\./, `the lab must stay on 127.0.0.0/8, but lab.json names ${host}`);
        }

        akPath = lab.rsyncServer.authorizedKeysPath;
        credentials = labCredentials(lab, app);
        ({ cifsPassword, applianceKey, adminKey } = credentials);
        keyLine = `restrict,command="rrsync -wo -no-lock -absolute ${lab.rsyncServer.backupPath}" ${app.rootPublicKey.trim()}`;

        original = snapshotLab(lab, app);

        // The starting point: authorized_keys with only the ugly unrelated lines (the root
        // key not authorized), and an appliance with no rsync target and none of our partitions.
        editInPlace(akPath, UGLY_LINES);
        fs.chmodSync(akPath, 0o600);
        fs.chmodSync(path.dirname(akPath), 0o700);
        const config = show();
        if (config.backup.destination.mode !== "none") orbitOk(app, ["backup", "destination", "none"]);
        for (const id of [CIFS_ID, NFS_ID]) orbitOk(app, ["partition", "remove", "--id", id]);
        orbitOk(app, ["rsync", "clear"]);
        baseline = { authorizedKeys: snapshotFile(akPath), sshDir: snapshotFile(path.dirname(akPath)), config: show() };
        assert.equal(baseline.config.rsync, null);

        t = await createTestStack(path.join(__dirname, "programs", "resources"),
            resourceProgramConfig(lab, app, credentials, { cifsPartitionId: CIFS_ID, nfsPartitionId: NFS_ID, hour: HOUR, masterPassword: MASTER_PASSWORD, video: true }));
    });

    after(async function () {
        this.timeout(120_000);
        try {
            if (t && !destroyed) await t.destroyAndRemove();
            else if (t) await t.stack.workspace.removeStack(t.name);
        } finally {
            // Put back the lab's files as they were before this file ran.
            if (original) restoreLab(original);
        }
    });

    it("creates the root key, the authorized key, the rsync target, both partitions and the policy in one pulumi up", async () => {
        const result = await t!.stack.up(recorded(t!));
        assert.equal(result.summary.result, "succeeded");
        assert.equal(result.summary.resourceChanges?.create, 7, JSON.stringify(result.summary.resourceChanges)); // 6 resources and the stack
        afterCreate = snapshotFile(akPath);
        stateAfterCreate = JSON.stringify(exportState(t!));
        createOutputs = result.outputs;
        const out = (k: string) => result.outputs[k]?.value;
        assert.equal(out("rootPublicKey"), app.rootPublicKey.trim());
        assert.match(String(out("rootFingerprint")), /^SHA256:[A-Za-z0-9+/]{43}$/);
        assert.equal(out("applianceHostname"), app.name);
        assert.equal(out("rsyncUrl"), `${lab.rsyncServer.backupUser}@${lab.rsyncServer.host}:${lab.rsyncServer.port}${lab.rsyncServer.backupPath}`);
        assert.equal(out("rsyncReachable"), true, "the key was authorized before the target was set (dependsOn)");
        assert.equal(out("cifsPort"), lab.cifs.port);
        assert.ok(!Number.isNaN(Date.parse(String(out("cifsMountedAt")))), "mountedAt is a time");
        assert.deepEqual(out("policySummary"), { system: true, secrets: true, video: true, hour: HOUR, destination: { type: "rsync" } });
        assertConverged("after create");
    });

    it("exports every declared output, also those the program leaves to their defaults (fingerprint, effectiveOptions, mounted)", () => {
        const out = (k: string) => createOutputs?.[k]?.value;
        assert.ok(createOutputs, "the first up produced outputs");
        assert.equal(out("cifsMounted"), true, "RemotePartition.mounted (default true)");
        assert.equal(out("nfsMounted"), true, "RemotePartition.mounted (default true)");
        assert.equal(out("keyTargetUser"), lab.rsyncServer.backupUser);
        assert.equal(out("keyFingerprint"), out("rootFingerprint"), "AuthorizedKey.fingerprint is the root key's fingerprint");
        assert.equal(out("keyOptions"), `restrict,command="rrsync -wo -no-lock -absolute ${lab.rsyncServer.backupPath}"`, "AuthorizedKey.effectiveOptions");
    });

    it("shows no changes on a second preview, nor on preview --refresh", async () => {
        const events: EngineEvent[] = [];
        const preview = await t!.stack.preview({ ...recorded(t!), onEvent: (e) => { events.push(e); t!.events.push(e); } });
        assert.deepEqual(plannedChanges(events), []);
        assert.equal(preview.changeSummary.same, 7);
        const refreshed: EngineEvent[] = [];
        await t!.stack.preview({ refresh: true, ...recorded(t!), onEvent: (e) => { refreshed.push(e); t!.events.push(e); } });
        assert.deepEqual(plannedChanges(refreshed), []);
    });

    it("names every drifted resource and field in one preview --refresh after ten changes made on the hosts", async () => {
        // The backup server: the options widened, the file and directory opened up, the file given away.
        const text = fs.readFileSync(akPath, "latin1");
        assert.ok(text.includes(keyLine));
        editInPlace(akPath, Buffer.from(text.replace(keyLine, `no-pty,command="rrsync -absolute /files" ${app.rootPublicKey.trim()}`), "latin1"));
        fs.chmodSync(akPath, 0o644);
        fs.chownSync(akPath, 0, 0);
        fs.chmodSync(path.dirname(akPath), 0o755);
        // The appliance, through orbit as an operator would.
        orbitOk(app, ["rsync", "set", "--user", lab.rsyncServer.backupUser, "--host", lab.rsyncServer.host, "--port", String(lab.rsyncServer.port), "--path", "/files/backup/elsewhere"]);
        orbitOk(app, ["partition", "unmount", "--id", CIFS_ID]);
        orbitOk(app, ["partition", "remove", "--id", NFS_ID]);
        orbitOk(app, ["backup", "time", "--hour", String((HOUR + 4) % 24)]);
        orbitOk(app, ["backup", "kind", "disable", "video"]);

        const events: EngineEvent[] = [];
        await t!.stack.preview({ refresh: true, ...recorded(t!), onEvent: (e) => { events.push(e); t!.events.push(e); } });
        assert.deepEqual(planned(events), [
            { name: "appliance-key", op: "update", keys: ["dirMode", "effectiveOptions", "fileMode", "fileOwner"] },
            { name: "cifs", op: "update", keys: ["mounted"] },
            { name: "nfs", op: "create", keys: [] },
            { name: "policy", op: "update", keys: ["hour", "video"] },
            { name: "rsync", op: "update", keys: ["path"] },
        ]);
    });

    it("converges every drift with pulumi up --refresh, after which preview --refresh shows no changes", async () => {
        const result = await t!.stack.up({ refresh: true, ...recorded(t!) });
        assert.equal(result.summary.result, "succeeded");
        assert.deepEqual({ update: result.summary.resourceChanges?.update, create: result.summary.resourceChanges?.create }, { update: 4, create: 1 });
        assertConverged("after converging the drift");
        const events: EngineEvent[] = [];
        await t!.stack.preview({ refresh: true, ...recorded(t!), onEvent: (e) => { events.push(e); t!.events.push(e); } });
        assert.deepEqual(planned(events), []);
    });

    it("plans to create the authorized key again when its line is removed, and pulumi up --refresh restores it", async () => {
        // Delete the line as an editor would: the line and its newline, if it has one.
        const blob = app.rootPublicKey.split(" ")[1];
        const lines = fs.readFileSync(akPath, "latin1").split("\n");
        assert.equal(lines.filter((l) => l.includes(blob)).length, 1);
        editInPlace(akPath, Buffer.from(lines.filter((l) => !l.includes(blob)).join("\n"), "latin1"));
        assert.ok(!fs.readFileSync(akPath, "latin1").includes(blob));

        const events: EngineEvent[] = [];
        await t!.stack.preview({ refresh: true, ...recorded(t!), onEvent: (e) => { events.push(e); t!.events.push(e); } });
        assert.deepEqual(planned(events), [{ name: "appliance-key", op: "create", keys: [] }]);

        const result = await t!.stack.up({ refresh: true, ...recorded(t!) });
        assert.equal(result.summary.result, "succeeded");
        assert.equal(result.summary.resourceChanges?.create, 1, JSON.stringify(result.summary.resourceChanges));
        assert.ok(snapshotFile(akPath).bytes.equals(afterCreate.bytes), "the file is byte for byte what the first up wrote");
        assertConverged("after restoring the key line");
    });

    it("updates in place, never replaces, when only connection settings change, and changes nothing on the hosts", async () => {
        await t!.stack.setConfig("applianceKeyMode", { value: "path" });
        await t!.stack.setConfig("appliancePrivateKeyPath", { value: app.privateKeyPath });
        await t!.stack.setConfig("serverDialTimeoutSec", { value: "20" });
        const audit = path.join(app.orbitRoot, "log", "orbit-audit.log");
        const auditBefore = fs.statSync(audit).size;
        const akBefore = snapshotFile(akPath);

        const events: EngineEvent[] = [];
        const result = await t!.stack.up({ ...recorded(t!), onEvent: (e) => { events.push(e); t!.events.push(e); } });
        assert.equal(result.summary.result, "succeeded");
        const ops = planned(events).map((c) => `${c.name}:${c.op}`).sort();
        assert.deepEqual(ops, ["appliance-key:update", "cifs:update", "nfs:update", "policy:update", "root-key:update", "rsync:update"]);
        assert.deepEqual(result.summary.resourceChanges, { update: 6, same: 1 });

        // No orbit call that changes anything, and authorized_keys not even rewritten.
        const calls = fs.readFileSync(audit, "utf8").slice(auditBefore).split("\n").filter(Boolean).map((l) => JSON.parse(l).argv.filter((a: string) => a !== "--json").join(" "));
        const changing = calls.filter((c) => !["backup config show", "rsync test", "root-key show", "version"].includes(c));
        assert.deepEqual(changing, [], `orbit calls during a connection-only update: ${calls.join("; ")}`);
        const akAfter = snapshotFile(akPath);
        assert.ok(akAfter.bytes.equals(akBefore.bytes));
        assert.equal(akAfter.ino, akBefore.ino, "authorized_keys was rewritten");
    });

    it("keeps the private keys, the CIFS password and the master password out of the exported state and the CLI output", async () => {
        const secrets: Array<[string, string]> = [["the CIFS password", cifsPassword], ["the master password", MASTER_PASSWORD]];
        for (const [who, key] of [["the appliance key", applianceKey], ["the backup server admin key", adminKey]]) {
            const lines = key.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"));
            assert.ok(lines.length > 0);
            lines.forEach((l, i) => secrets.push([`line ${i + 1} of ${who}`, l]));
        }
        assert.ok(cifsPassword.length >= 8 && MASTER_PASSWORD.length >= 12);
        const stateNow = JSON.stringify(exportState(t!));
        const output = t!.output.join("\n");
        const events = JSON.stringify(t!.events);
        assert.ok(output.length > 1000, "the CLI output was collected");
        for (const [what, secret] of secrets) {
            assert.ok(!stateAfterCreate.includes(secret), `${what} is in the state exported after create`);
            assert.ok(!stateNow.includes(secret), `${what} is in the exported state`);
            assert.ok(!output.includes(secret), `${what} is in the CLI output`);
            assert.ok(!events.includes(secret), `${what} is in the engine events`);
        }
        for (const state of [stateAfterCreate, stateNow]) assert.ok(state.includes("ciphertext"), "secrets are stored encrypted");
    });

    it("leaves the hosts as they were before after pulumi destroy", async () => {
        const result = await t!.stack.destroy(recorded(t!));
        assert.equal(result.summary.result, "succeeded");
        assert.equal(result.summary.resourceChanges?.delete, 7, JSON.stringify(result.summary.resourceChanges));
        destroyed = true;

        const config = show();
        // Restored exactly: the partitions (ours gone, the others untouched), the rsync
        // target (none), the registered credentials, the destination (none) and the notifications.
        assert.deepEqual(config.partitions, baseline.config.partitions);
        assert.deepEqual(config.rsync, baseline.config.rsync);
        assert.deepEqual(config.credentials, baseline.config.credentials);
        assert.deepEqual(config.backup.destination, baseline.config.backup.destination);
        assert.deepEqual(config.backup.notifications, baseline.config.backup.notifications);
        // Different by design (BackupPolicy's documented delete): every backup kind is
        // off and the master password forgotten, whatever they were before; the daily
        // hour stays as the policy last set it, since "off" has no hour to go back to.
        assert.deepEqual(
            { system: config.backup.system, secrets: config.backup.secrets, video: config.backup.video, masterPasswordSet: config.backup.masterPasswordSet, hour: config.backup.hour },
            { system: false, secrets: false, video: false, masterPasswordSet: false, hour: HOUR });

        // The backup server, last: authorized_keys byte for byte (the ugly unrelated lines
        // included, the unterminated last line still unterminated), with its mode and owner.
        const ak = snapshotFile(akPath);
        assert.deepEqual({ mode: ak.mode, uid: ak.uid, gid: ak.gid }, { mode: baseline.authorizedKeys.mode, uid: baseline.authorizedKeys.uid, gid: baseline.authorizedKeys.gid });
        const dir = snapshotFile(path.dirname(akPath));
        assert.deepEqual({ mode: dir.mode, uid: dir.uid, gid: dir.gid }, { mode: baseline.sshDir.mode, uid: baseline.sshDir.uid, gid: baseline.sshDir.gid });
        assert.equal(ak.bytes.toString("latin1"), baseline.authorizedKeys.bytes.toString("latin1"), "authorized_keys is byte for byte as before");
    });
});
