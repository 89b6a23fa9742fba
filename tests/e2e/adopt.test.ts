// Adoption end to end: lab appliance-0 is set up by hand with orbit commands (as
// an operator would in the web UI), and the root key pasted into the backup
// server's authorized_keys by hand. Then scripts/adopt (the real entry point) reads
// it and writes the stack config, and the dev program (index.ts) runs through the
// real engine:
//   rsync, the key line as this project writes it:
//     adopt --set; up writes nothing on any host (orbit's audit log holds reads
//     only, orbinibkp.conf and authorized_keys keep their bytes and inode, no
//     backup, Samba and NFS untouched); preview --refresh --expect-no-changes;
//     an hour changed by hand is found by scripts/drift (exit 2); destroy retains
//     everything: the backups stay on and the key line stays.
//   rsync, a weak key line (no options, file mode 644):
//     adopt names it; up writes nothing and warns; the preview shows the
//     AuthorizedKey update; up applies it, every other line kept.
//   CIFS: adopt prints YAML with cifsPassword and masterPassword to set; up writes
//     nothing (Samba's files keep their bytes and times); preview --refresh
//     --expect-no-changes; destroy leaves the partition and the destination.
// Also: a wrong host-key pin, for the appliance and for the backup server, fails
// before any login; no secret appears in any output. The lab is put back as it was.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import {
    REPO, TEST_BACKEND_DIR, TEST_PASSPHRASE, type TestStack, createTestStack, exportState, plannedChanges, plannedFieldChanges, recorded,
} from "../support/engine";
import { type FileMark, LabGuard, appendedSince, ensureLab, markFiles, privateKeyFragments, throwawayPublicKey } from "../support/hardening";
import { type FileSnapshot, type LabAppliance, type LabDescription, labCredentials, orbitOk, snapshotFile } from "../support/lab";

const NS = "senhasegura-backup";
const MASTER_PASSWORD = `adopt-master-${crypto.randomBytes(9).toString("base64url")}`;
const CIFS_ID = "adopt-cifs";
/** What an adopting up may ask orbit: the reads, and the rsync test (a dry run that writes nothing). */
// `version` is how the auto driver tells a contract appliance from a vendor one.
const READS = new Set(["version", "backup config show", "root-key show", "rsync test"]);
// js-yaml comes with @pulumi/pulumi; it has no types of its own here.
const yaml: { load(text: string): any } = require("js-yaml");

interface CliRun { code: number | null; stdout: string; stderr: string }

/** Every file under dir with its size, mode and modification time: a write shows, even one that keeps the bytes. */
function tree(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const p = path.join(d, e.name);
            const st = fs.lstatSync(p);
            out[p] = `${st.size} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}`;
            if (e.isDirectory()) walk(p);
        }
    };
    walk(dir);
    return out;
}

describe("adopt: a hand-configured appliance taken over without a write, and never turned off by a destroy", function () {
    this.timeout(600_000);
    let lab: LabDescription;
    let app: LabAppliance;
    let guard: LabGuard | undefined;
    let akPath: string;
    let rootKeyLine: string;
    let restricted: string;
    let secrets: string[];
    const outputs: string[] = [];
    const stacks: TestStack[] = [];

    const show = () => orbitOk(app, ["backup", "config", "show"]);
    const orbitConf = () => path.join(app.orbitRoot, "orbinibkp.conf");
    const auditLog = () => path.join(app.orbitRoot, "log", "orbit-audit.log");
    const env = () => ({ ...process.env, PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE });

    function adopt(args: string[]): CliRun {
        const r = spawnSync("bash", [path.join(REPO, "scripts", "adopt"), ...args], { env: env(), encoding: "utf8", timeout: 120_000 });
        if (r.error) throw new Error(`scripts/adopt did not run: ${r.error.message}`);
        outputs.push(r.stdout, r.stderr);
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    function applianceArgs(hostKey = app.hostKey): string[] {
        return ["--host", app.host, "--port", String(app.port), "--user", app.user, "--host-key", hostKey, "--private-key-file", app.privateKeyPath];
    }

    function serverArgs(hostKey = lab.rsyncServer.hostKey): string[] {
        const s = lab.rsyncServer;
        return ["--backup-server-user", s.adminUser, "--backup-server-host-key", hostKey, "--backup-server-private-key-file", s.adminPrivateKeyPath];
    }

    /** The stack config adopt printed, as the Automation API sets it: objects as JSON text, which index.ts reads. */
    function configOf(printed: string): Record<string, { value: string; secret?: boolean }> {
        const doc = yaml.load(printed);
        assert.ok(doc?.config, `adopt printed no config mapping:\n${printed}`);
        return Object.fromEntries(Object.entries(doc.config as Record<string, unknown>).map(([key, value]) => {
            assert.ok(key.startsWith(`${NS}:`), `a key outside the program's namespace: ${key}`);
            return [key.slice(NS.length + 1), { value: typeof value === "string" ? value : JSON.stringify(value) }];
        }));
    }

    /** What one operation does on the hosts: everything that could change, marked before it. */
    interface Marks { logs: Map<string, FileMark>; conf: Buffer; keys: FileSnapshot; sshDir: FileSnapshot; trees: Record<string, string> }
    function mark(): Marks {
        const a = app.orbitRoot;
        return {
            logs: markFiles([auditLog(), path.join(a, "log", "orbinibkp.log"), path.join(a, "notifications", "email.log"), path.join(a, "notifications", "siem.log")]),
            conf: fs.readFileSync(orbitConf()),
            keys: snapshotFile(akPath),
            sshDir: snapshotFile(path.dirname(akPath)),
            trees: { ...tree(lab.rsyncServer.backupPath), ...tree(lab.cifs.localPath), ...tree(lab.nfs.localPath) },
        };
    }

    /** Fails unless nothing changed on any host since `m`, and orbit was asked only to read; returns the orbit calls. */
    function assertNothingWritten(m: Marks, label: string): string[] {
        const appended = appendedSince(m.logs);
        const audit = (appended.get(auditLog()) ?? "").split("\n").filter(Boolean).map((line) => JSON.parse(line));
        const calls = audit.map((e: { argv: string[] }) => e.argv.filter((a) => !a.startsWith("--")).join(" "));
        assert.ok(calls.length > 0, `${label}: orbit was never asked, so nothing was adopted`);
        assert.deepEqual(calls.filter((c: string) => !READS.has(c)), [], `${label}: orbit was asked to change something`);
        for (const [file, text] of appended) {
            if (file !== auditLog()) assert.fail(`${label}: ${file} gained lines: ${text}`);
        }
        assert.ok(fs.readFileSync(orbitConf()).equals(m.conf), `${label}: the appliance's orbinibkp.conf changed`);
        const keys = snapshotFile(akPath);
        assert.ok(keys.bytes.equals(m.keys.bytes), `${label}: authorized_keys changed`);
        assert.deepEqual([keys.mode, keys.uid, keys.ino], [m.keys.mode, m.keys.uid, m.keys.ino], `${label}: authorized_keys' mode, owner or inode changed`);
        assert.equal(snapshotFile(path.dirname(akPath)).mode, m.sshDir.mode, `${label}: the .ssh directory's mode changed`);
        assert.deepEqual({ ...tree(lab.rsyncServer.backupPath), ...tree(lab.cifs.localPath), ...tree(lab.nfs.localPath) }, m.trees, `${label}: a file changed on the backup server, the Samba share or the NFS export`);
        return calls;
    }

    /**
     * Messages of one severity from an operation, but for the runtime's note that an unset
     * output (lastVerification, with verify false) is not shown. The providers' messages
     * carry no URN: the dynamic-provider API does not hand create one.
     */
    function diagnostics(events: readonly EngineEvent[], severity: string): string[] {
        return events.flatMap((e) => {
            const d = e.diagnosticEvent;
            return d?.severity === severity && !/^Undefined value \(\w+\) will not show as a stack output/.test(d.message.trim()) ? [d.message.trim()] : [];
        });
    }

    async function newStack(config: Record<string, { value: string; secret?: boolean }>): Promise<TestStack> {
        const t = await createTestStack(REPO, config);
        stacks.push(t);
        return t;
    }

    /** Writes authorized_keys as an administrator pasting by hand would leave it. */
    function pasteKeys(lines: string[], mode: number): void {
        const s = fs.statSync(path.dirname(akPath));
        fs.writeFileSync(akPath, lines.join("\n") + "\n");
        fs.chownSync(akPath, s.uid, s.gid);
        fs.chmodSync(akPath, mode);
        fs.chmodSync(path.dirname(akPath), 0o700);
    }

    before(function () {
        this.timeout(120_000);
        lab = ensureLab();
        app = lab.appliances[0];
        if (!app) throw new Error("lab.json lists no appliance: run 'bash lab/start'");
        akPath = lab.rsyncServer.authorizedKeysPath;
        rootKeyLine = app.rootPublicKey.trim();
        restricted = `restrict,command="rrsync -wo -no-lock -absolute ${lab.rsyncServer.backupPath}"`;
        const { applianceKey, adminKey, cifsPassword } = labCredentials(lab, app);
        secrets = [MASTER_PASSWORD, cifsPassword, ...privateKeyFragments(applianceKey), ...privateKeyFragments(adminKey)];
        guard = new LabGuard(lab, app);

        // By hand, as an operator would: the rsync target, the kinds, the hour, the notifications.
        const s = lab.rsyncServer;
        orbitOk(app, ["rsync", "set", "--user", s.backupUser, "--host", s.host, "--port", String(s.port), "--path", s.backupPath]);
        orbitOk(app, ["backup", "destination", "rsync"]);
        orbitOk(app, ["partition", "remove", "--id", CIFS_ID]);
        orbitOk(app, ["backup", "kind", "enable", "system"]);
        orbitOk(app, ["backup", "kind", "enable", "video"]);
        orbitOk(app, ["backup", "kind", "enable", "secrets"], `${MASTER_PASSWORD}\n`);
        orbitOk(app, ["backup", "time", "--hour", "3"]);
        orbitOk(app, ["backup", "notify", "--email", "on", "--siem", "off", "--email-to", "backup-alerts@example.com"]);
        // The root key pasted with the options this project writes, among lines it must never touch.
        pasteKeys(["# keys of the backup server's users: edit with care", throwawayPublicKey("operator@laptop"), "", `${restricted} ${rootKeyLine}`], 0o600);
    });

    after(async function () {
        this.timeout(120_000);
        try {
            for (const t of stacks) await t.stack.workspace.removeStack(t.name, { force: true }).catch(() => undefined);
        } finally {
            guard?.restore();
        }
    });

    it("refuses a wrong host-key pin before it logs in, on the appliance and on the backup server", () => {
        for (const [label, sshdLog, args] of [
            ["appliance", app.sshdLog, [...applianceArgs(throwawayPublicKey("not-the-appliance")), ...serverArgs()]],
            ["backup server", lab.rsyncServer.sshdLog, [...applianceArgs(), ...serverArgs(throwawayPublicKey("not-the-server"))]],
        ] as const) {
            const logs = markFiles([sshdLog]);
            const r = adopt([...args]);
            assert.equal(r.code, 1, `${label}: exit code; stderr:\n${r.stderr}`);
            assert.equal(r.stdout, "", `${label}: adopt printed a config`);
            assert.match(r.stderr, /^adopt: connect over SSH on \S+@127\.0\.0\.1:\d+ failed: the server's host key does not match the pinned one: it presented a ssh-ed25519 key with fingerprint SHA256:/);
            assert.match(r.stderr, /what to do: verify SHA256:\S+ out of band/);
            const seen = appendedSince(logs).get(sshdLog) ?? "";
            assert.match(seen, /Connection from 127\.0\.0\.1/, `${label}: the connection never reached sshd, so the test proves nothing`);
            assert.doesNotMatch(seen, /Accepted publickey|Starting session|Postponed/, `${label}: adopt logged in with a wrong pin`);
        }
    });

    let rsyncStack: TestStack;

    it("rsync: adopt --set writes the config of what it found, and lists the master password to set with --secret", async () => {
        rsyncStack = await newStack({});
        const r = adopt([...applianceArgs(), ...serverArgs(), "--set", "--stack", rsyncStack.name, "--cwd", REPO]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`pulumi config set --secret masterPassword --stack ${rsyncStack.name}`));
        assert.match(r.stderr, new RegExp(`^adopt: set \\d+ keys of stack ${rsyncStack.name} .*pulumi config set --secret masterPassword --stack ${rsyncStack.name}`));
        const config = await rsyncStack.stack.getAllConfig();
        const value = (key: string) => config[`${NS}:${key}`]?.value;
        const s = lab.rsyncServer;
        assert.deepEqual(JSON.parse(value("backupServer")), {
            host: s.host, port: s.port, user: s.adminUser, hostKey: s.hostKey, privateKeyPath: s.adminPrivateKeyPath, backupUser: s.backupUser, path: s.backupPath,
        });
        assert.deepEqual(JSON.parse(value("appliance")), { host: app.host, port: app.port, user: app.user, hostKey: app.hostKey, privateKeyPath: app.privateKeyPath });
        assert.deepEqual(
            ["name", "adopted", "verify", "destination", "systemBackup", "videoBackup", "secretsBackup", "hour", "notifyEmail", "notifySiem", "notifyEmailTo"].map(value),
            [app.name, "true", "false", "rsync", "true", "true", "true", "3", "true", "false", "backup-alerts@example.com"]);
        // Unset: the CLI lists Pulumi.yaml's default, "".
        assert.ok(!value("masterPassword") && !config[`${NS}:masterPassword`]?.secret, "adopt set a secret");
        await rsyncStack.stack.setConfig("masterPassword", { value: MASTER_PASSWORD, secret: true });
    });

    it("rsync: the first up writes nothing on any host, retains every resource, and says so", async () => {
        const m = mark();
        const events: EngineEvent[] = [];
        const result = await rsyncStack.stack.up({ ...recorded(rsyncStack), onEvent: (e) => { events.push(e); rsyncStack.events.push(e); } });
        assert.equal(result.summary.result, "succeeded");
        const calls = assertNothingWritten(m, "the adopting up");
        // A contract-2 appliance hands its root key over with config show: no root-key show is needed.
        assert.ok(calls.includes("backup config show"), `orbit calls: ${calls.join(", ")}`);
        const infos = diagnostics(events, "info");
        assert.ok(infos.some((i) => /: adopted \(docs\/adopt\.md\)/.test(i)), `no adoption message: ${infos.join(" | ")}`);
        assert.ok(infos.some((i) => /resources are retained on delete: a destroy, or removing .* leaves the appliance's backups and the backup server's key line as they are/.test(i)), `no retain message: ${infos.join(" | ")}`);
        for (const type of ["AuthorizedKey", "RsyncTarget", "BackupPolicy"]) {
            assert.ok(infos.some((i) => new RegExp(`^${type} .*: adopted as the host holds it; nothing was written$`).test(i)), `${type} did not say it adopted: ${infos.join(" | ")}`);
        }
        assert.deepEqual(diagnostics(events, "warning"), [], "the live state matched the config, so nothing differs");
        const resources = exportState(rsyncStack).deployment.resources.filter((r: any) => r.custom && !r.type.startsWith("pulumi:providers:"));
        assert.deepEqual(resources.map((r: any) => r.type.split(":").pop()).sort(), ["ApplianceRootKey", "AuthorizedKey", "BackupPolicy", "RsyncTarget"]);
        for (const r of resources) assert.equal(r.retainOnDelete, true, `${r.urn} is not retained on delete`);
        assert.match(result.outputs.summary.value, /backs up to rsync:\/\/senhauser@127\.0\.0\.1:2222\/files\/backup\/senhasegura daily at 3:00 \(system true, secrets true, video true\)/);
    });

    it("rsync: preview --refresh --expect-no-changes passes", async () => {
        const events: EngineEvent[] = [];
        await rsyncStack.stack.preview({ refresh: true, expectNoChanges: true, ...recorded(rsyncStack), onEvent: (e) => events.push(e) });
        assert.deepEqual(plannedChanges(events), []);
    });

    it("rsync: a later change by hand is drift: scripts/drift names it and exits 2", () => {
        orbitOk(app, ["backup", "time", "--hour", "7"]);
        try {
            const r = spawnSync("bash", [path.join(REPO, "scripts", "drift"), "--stack", rsyncStack.name, "--cwd", REPO, "--json"], { env: env(), encoding: "utf8", timeout: 180_000 });
            outputs.push(r.stdout, r.stderr);
            assert.equal(r.status, 2, `exit code; stderr:\n${r.stderr}`);
            // Only the resources' findings: the report also judges the appliance's backups and notifications, which this test does not set up.
            const resources = new Set(["ApplianceRootKey", "AuthorizedKey", "RsyncTarget", "BackupPolicy"]);
            const findings = JSON.parse(r.stdout).findings.filter((f: any) => resources.has(f.type))
                .map((f: any) => [f.type, f.field, f.expected, f.actual, f.cause]);
            assert.deepEqual(findings, [["BackupPolicy", "hour", 3, 7, "outside-pulumi"]]);
        } finally {
            orbitOk(app, ["backup", "time", "--hour", "3"]);
        }
    });

    it("rsync: destroy leaves the backups on and the key line in place", async () => {
        const m = mark();
        const events: EngineEvent[] = [];
        const result = await rsyncStack.stack.destroy({ ...recorded(rsyncStack), onEvent: (e) => events.push(e) });
        assert.equal(result.summary.result, "succeeded");
        const steps = events.flatMap((e) => (e.resourcePreEvent ? [e.resourcePreEvent.metadata] : []));
        // The engine plans a retained resource's delete as a discard: it forgets the resource and runs no delete.
        const deletes = steps.filter((d) => d.type.startsWith("pulumi-nodejs:dynamic/") && (d.op === "delete" || d.op === "discard"));
        assert.equal(deletes.length, 4, `steps: ${steps.map((d) => `${d.op} ${d.urn}`).join(", ")}`);
        for (const d of deletes) assert.equal(d.old?.retainOnDelete, true, `${d.urn} was deleted without retain`);
        assert.match(result.stdout, /\[retain\]/, "the destroy's display does not mark the resources retained");
        assert.ok(fs.readFileSync(orbitConf()).equals(m.conf), "destroy changed the appliance's configuration");
        assert.ok(snapshotFile(akPath).bytes.equals(m.keys.bytes), "destroy changed authorized_keys");
        const live = show();
        assert.deepEqual([live.backup.system, live.backup.secrets, live.backup.video, live.backup.destination.mode, live.rsync?.path], [true, true, true, "rsync", lab.rsyncServer.backupPath]);
        assert.ok(fs.readFileSync(akPath, "latin1").includes(`${restricted} ${rootKeyLine}\n`), "the key line is gone");
    });

    let weakStack: TestStack;
    let otherLines: string[];

    it("a weak key line: adopt names it, and the first up still writes nothing but warns of the update to come", async () => {
        otherLines = ["# keys of the backup server's users: edit with care", throwawayPublicKey("operator@laptop")];
        pasteKeys([otherLines[0], rootKeyLine, otherLines[1]], 0o644);
        const r = adopt([...applianceArgs(), ...serverArgs()]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout.replace(/\n#\s+/g, " "), /options none; .*file mode 644.*That is weaker than this project's rules: the key has no options: it can log in to a shell/);
        assert.match(r.stdout.replace(/\n#\s+/g, " "), /the next preview shows the update that sets its options to restrict,command="rrsync -wo -no-lock -absolute \/files\/backup\/senhasegura", file mode to 600/);
        weakStack = await newStack({ ...configOf(r.stdout), masterPassword: { value: MASTER_PASSWORD, secret: true } });
        const m = mark();
        const events: EngineEvent[] = [];
        const result = await weakStack.stack.up({ ...recorded(weakStack), onEvent: (e) => events.push(e) });
        assert.equal(result.summary.result, "succeeded");
        assertNothingWritten(m, "the adopting up of a weak key line");
        const warnings = diagnostics(events, "warning");
        assert.equal(warnings.length, 1, `warnings: ${warnings.join(" | ")}`);
        assert.match(warnings[0], /^AuthorizedKey for senhauser on 127\.0\.0\.1:2222: adopted as the host holds it, and nothing was written\. It differs from the program in effectiveOptions: "" on the host, "restrict,command=\\"rrsync .*\\"" in the program; fileMode: "644" on the host, "600" in the program\. The next `pulumi up` changes the host/);
    });

    it("a weak key line: the preview shows the tightening update, and up applies it, keeping every other line", async () => {
        const events: EngineEvent[] = [];
        const preview = await weakStack.stack.preview({ refresh: true, diff: true, ...recorded(weakStack), onEvent: (e) => events.push(e) });
        assert.deepEqual(plannedFieldChanges(events).map((c) => [c.type.split(":").pop(), c.op, c.keys]), [["AuthorizedKey", "update", ["effectiveOptions", "fileMode"]]]);
        assert.match(preview.stdout, /[+~] effectiveOptions\s*:\s*(""\s*=>\s*)?"restrict,command=\\"rrsync -wo -no-lock -absolute \/files\/backup\/senhasegura\\""/);
        const result = await weakStack.stack.up(recorded(weakStack));
        assert.equal(result.summary.result, "succeeded");
        assert.equal(fs.readFileSync(akPath, "latin1"), `${otherLines[0]}\n${restricted} ${rootKeyLine}\n${otherLines[1]}\n`);
        assert.equal(snapshotFile(akPath).mode, 0o600);
        await weakStack.stack.preview({ refresh: true, expectNoChanges: true, ...recorded(weakStack) });
    });

    let cifsStack: TestStack;
    let cifsMarks: Marks;

    it("CIFS: adopt prints the stack config, with cifsPassword and masterPassword to set with --secret", async () => {
        const c = lab.cifs;
        orbitOk(app, ["partition", "add", "--id", CIFS_ID, "--protocol", "cifs", "--host", c.host, "--port", String(c.port), "--path", c.remotePath, "--user", c.user, "--password-stdin"],
            `${labCredentials(lab, app).cifsPassword}\n`);
        orbitOk(app, ["backup", "destination", "partition", "--partition", CIFS_ID]);
        const r = adopt(applianceArgs());
        assert.equal(r.code, 0, r.stderr);
        const config = configOf(r.stdout);
        assert.deepEqual([config.destination.value, config.partitionId.value, JSON.parse(config.cifs.value)],
            ["cifs", CIFS_ID, { host: c.host, port: c.port, path: c.remotePath, user: c.user }]);
        assert.equal(config.backupServer, undefined);
        for (const key of ["cifsPassword", "masterPassword"]) assert.match(r.stdout, new RegExp(`^#   pulumi config set --secret ${key}\n#     \\(`, "m"));
        assert.match(r.stdout.replace(/\n#\s+/g, " "), /Not adopted, and left as it is: the rsync target senhauser@127\.0\.0\.1:2222\/files\/backup\/senhasegura, which no backup uses/);
        cifsStack = await newStack({
            ...config,
            cifsPassword: { value: labCredentials(lab, app).cifsPassword, secret: true },
            masterPassword: { value: MASTER_PASSWORD, secret: true },
        });
        cifsMarks = mark();
    });

    it("CIFS: the first up writes nothing, Samba and NFS untouched, and preview --refresh --expect-no-changes passes", async () => {
        const result = await cifsStack.stack.up(recorded(cifsStack));
        assert.equal(result.summary.result, "succeeded");
        const calls = assertNothingWritten(cifsMarks, "the adopting up of a CIFS partition");
        // The auto driver asks `orbit version` once (detection), then reads the configuration.
        assert.deepEqual([...new Set(calls)], ["version", "backup config show"]);
        const events: EngineEvent[] = [];
        await cifsStack.stack.preview({ refresh: true, expectNoChanges: true, ...recorded(cifsStack), onEvent: (e) => events.push(e) });
        assert.deepEqual(plannedChanges(events), []);
    });

    it("CIFS: destroy leaves the partition mounted and the backups going to it", async () => {
        const m = mark();
        const result = await cifsStack.stack.destroy(recorded(cifsStack));
        assert.equal(result.summary.result, "succeeded");
        assert.ok(fs.readFileSync(orbitConf()).equals(m.conf), "destroy changed the appliance's configuration");
        const live = show();
        assert.deepEqual([live.backup.destination.mode, live.backup.destination.partitionId, live.partitions.find((p: any) => p.id === CIFS_ID)?.mounted], ["partition", CIFS_ID, true]);
    });

    it("prints no secret: no password and no private key line in adopt's output or the engine's", () => {
        const all = [...outputs, ...stacks.flatMap((t) => t.output)].join("\n");
        assert.ok(outputs.join("").length > 2000, "adopt printed its config");
        for (const s of secrets) assert.ok(!all.includes(s), "a secret value is in adopt's or the engine's output");
    });
});
