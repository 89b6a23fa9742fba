// Hostile input through the real engine: each resource kind is declared with bad
// values (several of them secrets), and `pulumi preview` must fail at check with a
// message that names the resource and the field, without showing any secret. Then a
// `pulumi up` of all of them together (and a valid resource that depends on them)
// must fail the same way. The lab's logs prove that nothing ran on any host: no new
// connection in either sshd log, no orbit call in the audit log, no change to the
// orbit configuration or to authorized_keys, and no command injected.
//
// tests/unit/hostile-input.test.ts runs the full table of cases through the same
// check functions; this file proves the engine path.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { type TestStack, createTestStack, exportState } from "../support/engine";
import {
    SSHD_CONNECTION_LINE, appendedSince, ensureLab, hardeningFile, labLogFiles, markFiles, privateKeyFragments,
    recordFigures, throwawayPublicKey,
} from "../support/hardening";
import type { LabDescription } from "../support/lab";

const PROGRAM = path.join(__dirname, "programs", "hardening");
const SENTINEL = "/tmp/ssb-pwned";
const BAD_CIFS_PASSWORD = `Cifs&Secret-${Date.now().toString(36)}`;
const SHORT_MASTER_PASSWORD = `Mst-${Date.now().toString(36).slice(-7)}`;
const BAD_VERIFY_PASSWORD = `Verify\\Secret-${Date.now().toString(36)}`;
/** A well-formed report of `orbit backup create --json`: only the destination is hostile in that case. */
const REPORT = JSON.stringify({
    ok: true, id: "20261126T080000Z-1a2b", destination: "cifs://127.0.0.1:4450/backup", kinds: ["system"],
    files: ["backup/system/20261126T080000Z-1a2b/system.tar.gz"], bytes: 1, durationMs: 1, startedAt: "2026-11-26T08:00:00.000Z",
});

interface Expected { resource: string; kind: string; field: string; rule: RegExp; secrets?: string[] }

describe("hostile input through the engine: preview fails at check, and nothing runs on any host", function () {
    this.timeout(300_000);
    let lab: LabDescription;
    let watched: string[];
    let marks: ReturnType<typeof markFiles>;
    let applianceKey: string;
    let serverKey: string;
    const stacks: TestStack[] = [];
    const figures = { enginePreviews: 0, engineUps: 0, rejected: 0, hostsTouched: 0, secretsShown: 0 };

    before(() => {
        lab = ensureLab();
        applianceKey = fs.readFileSync(lab.appliances[0].privateKeyPath, "utf8");
        serverKey = fs.readFileSync(lab.rsyncServer.adminPrivateKeyPath, "utf8");
        fs.rmSync(SENTINEL, { force: true });
        const a = lab.appliances[0];
        watched = [
            ...labLogFiles(lab),
            ...lab.appliances.map((x) => path.join(x.orbitRoot, "orbinibkp.conf")),
            lab.rsyncServer.authorizedKeysPath,
            path.join(a.orbitRoot, "orbinibkp.conf.lock"),
        ];
        marks = markFiles(watched);
    });

    after(async () => {
        for (const t of stacks) await t.destroyAndRemove().catch(() => undefined);
        recordFigures("hostile-input-engine", figures);
    });

    function declared() {
        const a = lab.appliances[0];
        const appliance = { host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKey: { $secret: "applianceKey" } };
        const server = { host: lab.rsyncServer.host, port: lab.rsyncServer.port, user: lab.rsyncServer.adminUser, hostKey: lab.rsyncServer.hostKey, privateKey: { $secret: "serverKey" } };
        const cases: Array<{ resource: any; expected: Expected[] }> = [
            {
                resource: { kind: "ApplianceRootKey", name: "bad-root-key", args: { connection: { ...appliance, host: `$(touch ${SENTINEL})` } } },
                expected: [{ resource: "bad-root-key", kind: "ApplianceRootKey", field: "connection.host", rule: /IPv4 address or a DNS name/, secrets: privateKeyFragments(applianceKey) }],
            },
            {
                resource: { kind: "RsyncTarget", name: "bad-rsync", args: { connection: { ...appliance, privateKeyPath: a.privateKeyPath }, user: `senhauser;touch ${SENTINEL}`, host: lab.rsyncServer.host, port: 70000, path: "/files/../../etc" } },
                expected: [
                    { resource: "bad-rsync", kind: "RsyncTarget", field: "user", rule: /must start with a letter/ },
                    { resource: "bad-rsync", kind: "RsyncTarget", field: "port", rule: /1 to 65535/ },
                    { resource: "bad-rsync", kind: "RsyncTarget", field: "path", rule: /'\.\.' segments/ },
                    { resource: "bad-rsync", kind: "RsyncTarget", field: "connection.privateKey", rule: /exactly one of privateKey/, secrets: privateKeyFragments(applianceKey) },
                ],
            },
            {
                resource: { kind: "RemotePartition", name: "bad-cifs", args: { connection: appliance, partitionId: "hz-hostile", protocol: "cifs", host: lab.cifs.host, port: lab.cifs.port, path: `${lab.cifs.remotePath}/x\`touch ${SENTINEL}\``, user: lab.cifs.user, password: { $secret: "badCifsPassword" } } },
                expected: [
                    { resource: "bad-cifs", kind: "RemotePartition", field: "password", rule: /senhasegura refuses \\, & and !/, secrets: [BAD_CIFS_PASSWORD] },
                    { resource: "bad-cifs", kind: "RemotePartition", field: "path", rule: /may only contain/ },
                ],
            },
            {
                resource: { kind: "AuthorizedKey", name: "bad-key", args: { connection: server, targetUser: lab.rsyncServer.backupUser, publicKey: `command="/bin/sh" ${throwawayPublicKey("smuggled@lab")}`, restrictTo: lab.rsyncServer.backupPath, comment: "root@appliance\ncommand=\"/bin/sh\"" } },
                expected: [
                    { resource: "bad-key", kind: "AuthorizedKey", field: "publicKey", rule: /starts with authorized_keys options/, secrets: privateKeyFragments(serverKey) },
                    { resource: "bad-key", kind: "AuthorizedKey", field: "comment", rule: /printable ASCII on one line/ },
                ],
            },
            {
                resource: { kind: "BackupPolicy", name: "bad-policy", args: { connection: appliance, secrets: true, masterPassword: { $secret: "shortMasterPassword" }, hour: 24, notifications: { emailTo: "ops@example.com\r\nBcc: x@evil.example" }, destination: { type: "partition", partitionId: "$(reboot)" } } },
                expected: [
                    { resource: "bad-policy", kind: "BackupPolicy", field: "masterPassword", rule: /12-128 characters/, secrets: [SHORT_MASTER_PASSWORD] },
                    { resource: "bad-policy", kind: "BackupPolicy", field: "hour", rule: /0 to 23/ },
                    { resource: "bad-policy", kind: "BackupPolicy", field: "notifications.emailTo", rule: /one e-mail address/ },
                    { resource: "bad-policy", kind: "BackupPolicy", field: "destination.partitionId", rule: /1-63 lowercase/ },
                ],
            },
            {
                resource: { kind: "BackupVerification", name: "bad-verify", args: { report: REPORT, destination: { type: "cifs", host: `${lab.cifs.host};id`, port: lab.cifs.port, path: lab.cifs.remotePath, user: lab.cifs.user, password: { $secret: "badVerifyPassword" } } } },
                expected: [
                    { resource: "bad-verify", kind: "BackupVerification", field: "destination.password", rule: /senhasegura refuses/, secrets: [BAD_VERIFY_PASSWORD] },
                    { resource: "bad-verify", kind: "BackupVerification", field: "destination.host", rule: /IPv4 address or a DNS name/ },
                ],
            },
        ];
        return cases;
    }

    async function stackWith(resources: unknown[]): Promise<TestStack> {
        const t = await createTestStack(PROGRAM, {
            resources: { value: JSON.stringify(resources) },
            applianceKey: { value: applianceKey, secret: true },
            serverKey: { value: serverKey, secret: true },
            badCifsPassword: { value: BAD_CIFS_PASSWORD, secret: true },
            shortMasterPassword: { value: SHORT_MASTER_PASSWORD, secret: true },
            badVerifyPassword: { value: BAD_VERIFY_PASSWORD, secret: true },
        }, { SSB_PROVIDER_LOG: hardeningFile("hardening-provider") });
        stacks.push(t);
        return t;
    }

    /** The engine's error diagnostics of one run. */
    function errors(events: EngineEvent[]): string[] {
        return events.flatMap((e) => (e.diagnosticEvent?.severity === "error" ? [e.diagnosticEvent.message] : []));
    }

    /** Each expected failure is one of the engine's error diagnostics (a hostile value may span lines in it). */
    function assertNamed(diagnostics: string[], expected: Expected[]): void {
        for (const x of expected) {
            const found = diagnostics.find((d) => d.includes(`resource '${x.resource}'`) && d.includes(`property ${x.field} `) && x.rule.test(d));
            assert.ok(found, `no check failure names ${x.kind} '${x.resource}' field ${x.field} with ${x.rule}:\n${diagnostics.join("\n").slice(0, 4000)}`);
            figures.rejected++;
        }
    }

    function assertNoSecret(text: string, expected: Expected[]): void {
        for (const secret of expected.flatMap((x) => x.secrets ?? [])) {
            if (text.includes(secret)) figures.secretsShown++;
            assert.ok(!text.includes(secret), `a secret is shown: ${secret.slice(0, 6)}…`);
        }
    }

    for (const [i, kind] of ["ApplianceRootKey", "RsyncTarget", "RemotePartition", "AuthorizedKey", "BackupPolicy", "BackupVerification"].entries()) {
        it(`preview of a hostile ${kind} fails at check, naming each bad field, showing no secret`, async () => {
            const c = declared()[i];
            const t = await stackWith([c.resource]);
            const events: EngineEvent[] = [];
            const output: string[] = [];
            await assert.rejects(t.stack.preview({ onEvent: (e) => events.push(e), onOutput: (l) => output.push(l) }));
            figures.enginePreviews++;
            assertNamed(errors(events), c.expected);
            assertNoSecret([...errors(events), output.join("")].join("\n"), c.expected);
        });
    }

    it("up of all of them, with a valid resource that depends on them, fails at check and creates nothing", async () => {
        const cases = declared();
        const a = lab.appliances[0];
        const good = { kind: "ApplianceRootKey", name: "good-but-dependent", dependsOn: cases.map((c) => c.resource.name), args: { connection: { host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKey: { $secret: "applianceKey" } } } };
        const t = await stackWith([...cases.map((c) => c.resource), good]);
        const events: EngineEvent[] = [];
        const output: string[] = [];
        await assert.rejects(t.stack.up({ onEvent: (e) => events.push(e), onOutput: (l) => output.push(l) }));
        figures.engineUps++;
        const text = [...errors(events), output.join("")].join("\n");
        assert.match(text, /has a problem: /);
        assertNoSecret(text, cases.flatMap((c) => c.expected));
        const resources = (exportState(t).deployment.resources ?? []).filter((r: any) => r.type !== "pulumi:pulumi:Stack" && !String(r.type).startsWith("pulumi:providers:"));
        assert.deepEqual(resources.map((r: any) => r.urn), [], "a resource was created");
    });

    it("up --skip-preview of a hostile ApplianceBackup fails before any child, naming the component's fields", async () => {
        const a = lab.appliances[0];
        const r = lab.rsyncServer;
        const component = {
            kind: "ApplianceBackup", name: "bad-backup", args: {
                appliance: { host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKey: { $secret: "applianceKey" } },
                destination: {
                    type: "rsync", server: { host: r.host, port: r.port, user: r.adminUser, hostKey: r.hostKey, privateKey: { $secret: "serverKey" } },
                    backupUser: r.backupUser, path: "/files/backup/../../etc",
                },
                policy: { hour: 25, secrets: true, masterPassword: { $secret: "shortMasterPassword" } },
            },
        };
        const t = await stackWith([component]);
        const events: EngineEvent[] = [];
        const output: string[] = [];
        // No preview: before the component checked its own arguments, this created the
        // read-only ApplianceRootKey first, which ran orbit on the appliance.
        await assert.rejects(t.stack.up({ onEvent: (e) => events.push(e), onOutput: (l) => output.push(l) }), /failed/);
        figures.engineUps++;
        const text = [...errors(events), output.join("")].join("\n");
        assert.match(text, /ApplianceBackup bad-backup has 3 invalid arguments; nothing was created and nothing ran on any host/);
        assert.match(text, /- destination\.path: /);
        assert.match(text, /- policy\.hour: .*0 to 23/);
        assert.match(text, /- policy\.masterPassword: .*12-128 characters/);
        assert.doesNotMatch(text, /restrictTo|property path |error serializing property/, "the error names a child's field, not the user's");
        assert.equal(errors(events).filter((e) => e.includes("invalid arguments")).length, 1, "the component's error is reported once");
        assertNoSecret(text, [{ resource: "bad-backup", kind: "ApplianceBackup", field: "policy.masterPassword", rule: /./, secrets: [SHORT_MASTER_PASSWORD] }]);
        const resources = (exportState(t).deployment.resources ?? []).filter((x: any) => x.custom && !String(x.type).startsWith("pulumi:providers:"));
        assert.deepEqual(resources.map((x: any) => x.urn), [], "a child was created");
    });

    it("nothing ran on any host: no connection, no orbit call, no file changed, nothing injected", () => {
        const changed = appendedSince(marks);
        const touched: string[] = [];
        for (const [file, text] of changed) {
            // sshd logs: only a connection attempt counts (a stray line of an earlier client closing does not).
            if (file.endsWith(".log") && /sshd-/.test(path.basename(file)) && !SSHD_CONNECTION_LINE.test(text)) continue;
            touched.push(`${file}: ${text.slice(0, 200)}`);
        }
        figures.hostsTouched = touched.length;
        assert.deepEqual(touched, [], "a host was touched during the hostile runs");
        assert.ok(!fs.existsSync(SENTINEL), `${SENTINEL} exists: an injected command ran`);
        assert.ok(watched.length >= 8);
    });
});
