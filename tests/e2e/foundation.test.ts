// Foundation: a real engine runs a program whose dynamic provider uses ssh2 and
// zod, through up, preview, refresh, preview --refresh and destroy.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { type TestStack, createTestStack, exportState, plannedChanges, recorded } from "../support/engine";
import { type LabDescription, acceptedLogins, loadLab } from "../support/lab";

describe("foundation: the real engine runs our dynamic providers", function () {
    this.timeout(240_000);
    let lab: LabDescription;
    let t: TestStack;
    let privateKey: string;

    before(async () => {
        lab = loadLab();
        const a = lab.appliances[0];
        privateKey = fs.readFileSync(a.privateKeyPath, "utf8");
        t = await createTestStack(path.join(__dirname, "programs", "probe"), {
            host: { value: a.host }, port: { value: String(a.port) }, user: { value: a.user },
            hostKey: { value: a.hostKey }, privateKey: { value: privateKey, secret: true },
        });
    });

    after(async () => {
        if (t) await t.destroyAndRemove();
    });

    it("creates both resources with pulumi up, over a single SSH connection", async () => {
        const before = acceptedLogins(lab.appliances[0].sshdLog);
        const result = await t.stack.up(recorded(t));
        assert.equal(result.summary.result, "succeeded");
        assert.equal(result.outputs.publicKey.value, lab.appliances[0].rootPublicKey.trim());
        assert.match(String(result.outputs.fingerprint.value), /^SHA256:[A-Za-z0-9+/]{43}$/);
        assert.equal(result.outputs.sameKey.value, true);
        assert.equal(acceptedLogins(lab.appliances[0].sshdLog) - before, 1, "two resources in one engine run must share one SSH handshake");
    });

    it("shows no changes on a second preview", async () => {
        const events: any[] = [];
        const preview = await t.stack.preview({ ...recorded(t), onEvent: (e) => events.push(e) });
        assert.deepEqual(plannedChanges(events), []);
        assert.equal(preview.changeSummary.same, 3);
    });

    it("refreshes without drift, and preview --refresh still shows no changes", async () => {
        const refresh = await t.stack.refresh(recorded(t));
        assert.equal(refresh.summary.result, "succeeded");
        const events: any[] = [];
        await t.stack.preview({ refresh: true, expectNoChanges: true, ...recorded(t), onEvent: (e) => events.push(e) });
        assert.deepEqual(plannedChanges(events), []);
    });

    it("keeps the private key encrypted in state and out of the CLI output", async () => {
        const state = JSON.stringify(exportState(t));
        const keyBody = privateKey.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
        assert.ok(keyBody.length > 40);
        for (const line of privateKey.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"))) {
            assert.ok(!state.includes(line), "a line of the private key is in the exported state");
            assert.ok(!t.output.join("\n").includes(line), "a line of the private key is in the CLI output");
        }
        assert.ok(state.includes("ciphertext"), "the connection should be stored as a secret");
    });

    it("records each provider as the package entry by name: no file path, no code, at most 1 KB", async () => {
        const deployment = exportState(t).deployment;
        const dynamic = deployment.resources.filter((r: any) => String(r.type).startsWith("pulumi-nodejs:dynamic/senhasegura:"));
        assert.equal(dynamic.length, 2);
        for (const r of dynamic) {
            const source = String(r.inputs.__provider);
            assert.equal(source, 'exports.handler = () => require("senhasegura-backup/provider").applianceRootKey;\n');
            assert.ok(Buffer.byteLength(source) <= 1024, `__provider of ${r.urn} is ${Buffer.byteLength(source)} bytes`);
        }
        fs.mkdirSync(path.join(__dirname, "..", "..", ".test-results"), { recursive: true });
        fs.writeFileSync(path.join(__dirname, "..", "..", ".test-results", "provider-size.json"),
            JSON.stringify(dynamic.map((r: any) => ({ urn: r.urn, bytes: Buffer.byteLength(String(r.inputs.__provider)) }))));
    });

    it("destroys the stack", async () => {
        const result = await t.stack.destroy(recorded(t));
        assert.equal(result.summary.result, "succeeded");
        assert.equal((exportState(t).deployment.resources ?? []).length, 0);
    });
});
