// The drift report (scripts/drift-report.ts) and the drift command's arguments
// (cli/drift/run.ts), from engine events shaped as engine v3.248.0 sends them.
// No engine, no lab: tests/e2e/drift.test.ts runs the real thing.
import { strict as assert } from "assert";
import { runtime } from "@pulumi/pulumi";
import type { EngineEvent, OpType, StepEventMetadata, StepEventStateMetadata } from "@pulumi/pulumi/automation";
import {
    EXIT, buildDriftReport, changedPaths, formatJson, formatText, hostOf, redact, show, valueAt,
} from "../../../../cli/drift/plan";
import { parseArgs, parseMaxAge } from "../../../../cli/drift/plan";
import { UsageError } from "../../../../cli/shared/args";

const blinded = () => ({ [runtime.specialSigKey]: runtime.specialSecretSig, ciphertext: "[secret]" });
const STACK = "urn:pulumi:dev::senhasegura-backup::pulumi:pulumi:Stack::senhasegura-backup-dev";
const urn = (type: string, name: string) => `urn:pulumi:dev::senhasegura-backup::pulumi-nodejs:dynamic/senhasegura:${type}::${name}`;
const PROVIDER = "urn:pulumi:dev::senhasegura-backup::pulumi:providers:pulumi-nodejs::default::1";

const serverConnection = { host: "127.0.0.1", port: 2222, user: "bkpadmin", hostKey: "ssh-ed25519 AAAA", privateKey: blinded() };
const applianceConnection = { host: "127.0.0.1", port: 59022, user: "mt4adm", hostKey: "ssh-ed25519 BBBB", privateKey: blinded() };
const KEY_OPTIONS = 'restrict,command="rrsync -wo -no-lock -absolute /files/backup/senhasegura"';

let seq = 0;
function state(type: string, name: string, inputs: Record<string, unknown>, id = ""): StepEventStateMetadata {
    return { type: `pulumi-nodejs:dynamic/senhasegura:${type}`, urn: urn(type, name), id, parent: STACK, provider: PROVIDER, inputs: { __provider: "exports.handler = …", ...inputs }, outputs: {} };
}
function md(op: string, type: string, name: string, old?: StepEventStateMetadata, nu?: StepEventStateMetadata, extra: Partial<StepEventMetadata> = {}): StepEventMetadata {
    return { op: op as OpType, urn: urn(type, name), type: `pulumi-nodejs:dynamic/senhasegura:${type}`, old, new: nu, provider: PROVIDER, ...extra };
}
const pre = (m: StepEventMetadata): EngineEvent => ({ sequence: seq++, timestamp: 0, resourcePreEvent: { metadata: m } });
const outs = (m: StepEventMetadata): EngineEvent => ({ sequence: seq++, timestamp: 0, resOutputsEvent: { metadata: m } });

/** A refresh that read `live` where the state held `was`, followed by the preview step towards `want`. */
function drifted(type: string, name: string, was: Record<string, unknown>, live: Record<string, unknown> | undefined, want: Record<string, unknown>, id: string): EngineEvent[] {
    const before = state(type, name, was, id);
    const after = live ? state(type, name, live, id) : undefined;
    const events = [pre(md("refresh", type, name, before, before)), outs(md("refresh", type, name, before, after))];
    if (!after) return [...events, pre(md("create", type, name, undefined, state(type, name, want)))];
    const same = JSON.stringify(live) === JSON.stringify(want);
    return [...events, pre(md(same ? "same" : "update", type, name, after, state(type, name, want, id)))];
}

const keyInputs = { connection: serverConnection, targetUser: "senhauser", restrictTo: "/files/backup/senhasegura", effectiveOptions: KEY_OPTIONS, fileMode: "600", dirMode: "700" };
const policyInputs = { connection: applianceConnection, system: true, secrets: true, masterPassword: blinded(), video: true, hour: 4, notifications: { email: true, siem: true }, destination: { type: "rsync" } };

describe("drift report: from engine events to plain findings", () => {
    it("names the resource, its host and the field, with the program's value and the host's", () => {
        const events = drifted("AuthorizedKey", "appliance-0-appliance-key", keyInputs, { ...keyInputs, effectiveOptions: "no-pty", fileMode: "644" }, keyInputs, "127.0.0.1:2222/senhauser/ssh-rsa/abc");
        const report = buildDriftReport(events);
        assert.equal(report.drift, true);
        assert.deepEqual(report.findings.map((f) => f.message), [
            `AuthorizedKey appliance-0-appliance-key on 127.0.0.1:2222: effectiveOptions changed from ${JSON.stringify(KEY_OPTIONS)} to "no-pty"; up will set it back`,
            'AuthorizedKey appliance-0-appliance-key on 127.0.0.1:2222: fileMode changed from "600" to "644"; up will set it back',
        ]);
        const f = report.findings[0];
        assert.deepEqual({ type: f.type, name: f.name, host: f.host, field: f.field, expected: f.expected, actual: f.actual, cause: f.cause, change: f.change, op: f.op },
            { type: "AuthorizedKey", name: "appliance-0-appliance-key", host: "127.0.0.1:2222", field: "effectiveOptions", expected: KEY_OPTIONS, actual: "no-pty", cause: "outside-pulumi", change: "changed", op: "update" });
    });

    it("reports a resource removed outside Pulumi (op create after refresh) as such", () => {
        const nfs = { connection: applianceConnection, partitionId: "nfs-backup", protocol: "nfs", host: "127.0.0.1", port: 20490, path: "/senhasegura", mounted: true };
        const report = buildDriftReport(drifted("RemotePartition", "appliance-0-nfs", nfs, undefined, nfs, "127.0.0.1:59022/partition/nfs-backup"));
        assert.deepEqual(report.findings.map((f) => [f.message, f.change, f.cause]), [
            ["RemotePartition appliance-0-nfs on 127.0.0.1:59022: removed outside Pulumi; up will recreate it", "removed", "outside-pulumi"],
        ]);
    });

    it("descends into nested fields and prints numbers and booleans bare", () => {
        const live = { ...policyInputs, hour: 9, video: false, notifications: { email: false, siem: true } };
        const report = buildDriftReport(drifted("BackupPolicy", "appliance-0-policy", policyInputs, live, policyInputs, "127.0.0.1:59022/backup-policy"));
        assert.deepEqual(report.findings.map((f) => f.message), [
            "BackupPolicy appliance-0-policy on 127.0.0.1:59022: hour changed from 4 to 9; up will set it back",
            "BackupPolicy appliance-0-policy on 127.0.0.1:59022: notifications.email changed from true to false; up will set it back",
            "BackupPolicy appliance-0-policy on 127.0.0.1:59022: video changed from true to false; up will set it back",
        ]);
    });

    it("tells a change made outside Pulumi from a program change not applied yet", () => {
        // The host still has hour 4 (refresh saw nothing), but the program now wants 6.
        const report = buildDriftReport(drifted("BackupPolicy", "appliance-0-policy", policyInputs, policyInputs, { ...policyInputs, hour: 6 }, "127.0.0.1:59022/backup-policy"));
        assert.deepEqual(report.findings.map((f) => [f.message, f.cause]), [
            ["BackupPolicy appliance-0-policy on 127.0.0.1:59022: hour is 4, the program wants 6 (not applied yet); up will apply it", "program"],
        ]);
        assert.equal(report.drift, true, "up would change the host, so the exit code is the drift code");
    });

    it("prints secrets as [secret], whatever the event carries under the secret marker", () => {
        const leaky = { [runtime.specialSigKey]: runtime.specialSecretSig, plaintext: "\"hunter2-plaintext\"" };
        assert.equal(show(leaky), "[secret]");
        assert.equal(show({ user: "a", password: leaky }), '{"user":"a","password":"[secret]"}');
        assert.deepEqual(redact([leaky, { x: leaky }]), ["[secret]", { x: "[secret]" }]);
        const live = { ...policyInputs, masterPassword: leaky, hour: 7 };
        const report = buildDriftReport(drifted("BackupPolicy", "p", { ...policyInputs, masterPassword: leaky }, live, { ...policyInputs, masterPassword: leaky }, "127.0.0.1:59022/backup-policy"));
        const all = formatText(report, "dev") + formatJson(report, "dev");
        assert.ok(!all.includes("hunter2"), all);
    });

    it("says so when only a secret can differ, naming the secret fields and not their values", () => {
        const events = [pre(md("update", "BackupPolicy", "appliance-0-policy", state("BackupPolicy", "appliance-0-policy", policyInputs, "127.0.0.1:59022/backup-policy"), state("BackupPolicy", "appliance-0-policy", policyInputs)))];
        const [f] = buildDriftReport(events).findings;
        assert.equal(f.message, "BackupPolicy appliance-0-policy on 127.0.0.1:59022: up will update it; no visible field differs, so a secret value does (not shown: connection.privateKey, masterPassword)");
    });

    it("uses the engine's detailedDiff paths and diffs keys when a provider reports them", () => {
        const old = state("AuthorizedKey", "k", keyInputs, "127.0.0.1:2222/x");
        const nu = state("AuthorizedKey", "k", { ...keyInputs, fileMode: "600", comment: "new" });
        const viaDetailed = buildDriftReport([pre(md("update", "AuthorizedKey", "k", old, nu, { detailedDiff: { comment: { diffKind: "update" as never, inputDiff: true } } }))]);
        assert.deepEqual(viaDetailed.findings.map((f) => f.field), ["comment"]);
        const viaDiffs = buildDriftReport([pre(md("update", "AuthorizedKey", "k", old, nu, { diffs: ["comment"] }))]);
        assert.deepEqual(viaDiffs.findings.map((f) => [f.field, f.cause]), [["comment", "unknown"]]);
        assert.match(viaDiffs.findings[0].message, /^AuthorizedKey k on 127\.0\.0\.1:2222: comment changed from "new" to \(not set\); up will set it back$/);
    });

    it("reports replacements, deletions and resources not created yet, once each", () => {
        const part = { connection: applianceConnection, partitionId: "a", protocol: "nfs", host: "127.0.0.1", port: 2049, path: "/x", mounted: true };
        const events = [
            pre(md("replace", "RemotePartition", "p1", state("RemotePartition", "p1", part, "127.0.0.1:59022/partition/a"), state("RemotePartition", "p1", { ...part, partitionId: "b" }))),
            pre(md("create-replacement", "RemotePartition", "p1", undefined, state("RemotePartition", "p1", { ...part, partitionId: "b" }))),
            pre(md("delete-replaced", "RemotePartition", "p1", state("RemotePartition", "p1", part), undefined)),
            pre(md("delete", "RemotePartition", "gone", state("RemotePartition", "gone", part, "127.0.0.1:59022/partition/g"), undefined)),
            pre(md("create", "RemotePartition", "fresh", undefined, state("RemotePartition", "fresh", part))),
        ];
        assert.deepEqual(buildDriftReport(events).findings.map((f) => f.message), [
            'RemotePartition p1 on 127.0.0.1:59022: partitionId changed from "b" to "a"; up will replace it',
            "RemotePartition gone on 127.0.0.1:59022: no longer in the program; up will delete it",
            "RemotePartition fresh on 127.0.0.1:59022: in the program but not created yet; up will create it",
        ]);
    });

    it("finds no drift when every step is same, ignores the stack and providers, and counts what it checked", () => {
        const k = state("AuthorizedKey", "k", keyInputs, "127.0.0.1:2222/x");
        const events: EngineEvent[] = [
            pre({ op: "same" as OpType, urn: STACK, type: "pulumi:pulumi:Stack", provider: "" }),
            pre({ op: "same" as OpType, urn: PROVIDER, type: "pulumi:providers:pulumi-nodejs", provider: "" }),
            ...drifted("AuthorizedKey", "k", keyInputs, keyInputs, keyInputs, "127.0.0.1:2222/x"),
            pre(md("same", "RsyncTarget", "r", k, k)),
        ];
        const report = buildDriftReport(events);
        assert.equal(report.drift, false);
        assert.equal(report.resourcesChecked, 2);
        assert.equal(formatText(report, "dev"), "No drift: stack dev matches the hosts (2 resources checked).\n");
        assert.equal(JSON.parse(formatJson(report, "dev")).exitCode, EXIT.noDrift);
    });

    it("keeps provider warnings about a resource, and formats text and JSON from the same findings", () => {
        const events = [
            ...drifted("RsyncTarget", "appliance-0-rsync", { connection: applianceConnection, path: "/a" }, { connection: applianceConnection, path: "/b" }, { connection: applianceConnection, path: "/a" }, "127.0.0.1:59022/rsync"),
            { sequence: seq++, timestamp: 0, diagnosticEvent: { urn: urn("RsyncTarget", "appliance-0-rsync"), message: "\u001b[33mthe appliance cannot reach it\u001b[0m\n", color: "raw", severity: "warning" as const } },
            { sequence: seq++, timestamp: 0, diagnosticEvent: { urn: STACK, message: "stack-level noise", color: "raw", severity: "warning" as const } },
        ];
        const report = buildDriftReport(events);
        assert.deepEqual(report.warnings.map((w) => [w.name, w.message]), [["appliance-0-rsync", "the appliance cannot reach it"]]);
        const text = formatText(report, "dev").split("\n");
        assert.deepEqual(text, [
            "Drift in stack dev: 1 of 1 resources, 1 change.",
            '  RsyncTarget appliance-0-rsync on 127.0.0.1:59022: path changed from "/a" to "/b"; up will set it back',
            "Warnings from the providers:",
            "  appliance-0-rsync: the appliance cannot reach it",
            "To converge: pulumi up --refresh --stack dev",
            "",
        ]);
        const json = JSON.parse(formatJson(report, "dev"));
        assert.equal(json.exitCode, EXIT.drift);
        assert.deepEqual(json.findings.map((f: { message: string }) => `  ${f.message}`), [text[1]]);
    });
});

describe("drift report: helpers", () => {
    it("compares nested bags by path, skipping __ keys and never comparing two secrets by value", () => {
        assert.deepEqual(changedPaths({ a: 1, b: { c: 2, d: 3 }, __provider: "x" }, { a: 1, b: { c: 5, d: 3 }, __provider: "y" }), ["b.c"]);
        assert.deepEqual(changedPaths({ s: blinded() }, { s: blinded() }), []);
        assert.deepEqual(changedPaths({ l: [1, 2] }, { l: [1, 3] }), ["l"]);
        assert.deepEqual(changedPaths({}, { n: null }), ["n"]);
    });

    it("reads values at engine paths and finds the host from the connection or the id", () => {
        assert.equal(valueAt({ a: { b: [10, 20] } }, "a.b[1]"), 20);
        assert.equal(valueAt({ a: { "x.y": 1 } }, 'a["x.y"]'), undefined, "dotted keys are not supported (none of ours have one)");
        const s = (inputs: Record<string, unknown>, id = "") => state("RsyncTarget", "r", inputs, id);
        assert.equal(hostOf(s({ connection: applianceConnection })), "127.0.0.1:59022");
        assert.equal(hostOf(s({ connection: blinded() }, "10.0.0.5:59022/rsync")), "10.0.0.5:59022");
        assert.equal(hostOf(s({}, "opaque-id")), undefined);
        assert.equal(show(undefined), "(not set)");
        assert.equal(show(runtime.unknownValue), "(known after up)");
    });
});

describe("drift command: arguments", () => {
    it("defaults to the dev stack in the repository, text output", () => {
        assert.deepEqual(parseArgs([], "/repo"), { stack: "dev", cwd: "/repo", json: false, backupAge: true });
    });

    it("takes --stack, --cwd and --json in either form", () => {
        assert.deepEqual(parseArgs(["--stack", "prod", "--json", "--cwd=/tmp/p"], "/repo"), { stack: "prod", cwd: "/tmp/p", json: true, backupAge: true });
        assert.deepEqual(parseArgs(["-s", "x", "-C", "/a"], "/repo"), { stack: "x", cwd: "/a", json: false, backupAge: true });
        assert.equal(parseArgs(["--help"], "/repo"), "help");
    });

    it("takes the allowed backup age, or skips the check, and refuses an age out of 1-8760 hours", () => {
        assert.deepEqual(parseArgs(["--max-backup-age-hours", "50"], "/repo"), { stack: "dev", cwd: "/repo", json: false, backupAge: true, maxBackupAgeHours: 50 });
        assert.equal((parseArgs(["--no-backup-age"], "/repo") as { backupAge: boolean }).backupAge, false);
        for (const bad of ["0", "8761", "1.5", "x"]) {
            assert.throws(() => parseArgs([`--max-backup-age-hours=${bad}`], "/repo"), (e: Error) => e instanceof UsageError && e.message.includes(`--max-backup-age-hours must be a whole number of hours from 1 to 8760, but "${bad}" was provided`));
        }
        assert.equal(parseMaxAge(" 26 ", "x"), 26);
    });

    it("refuses unknown arguments and missing values, naming them", () => {
        assert.throws(() => parseArgs(["--passphrase", "x"], "/repo"), (e: Error) => e instanceof UsageError && /unknown argument "--passphrase"/.test(e.message));
        assert.throws(() => parseArgs(["--stack"], "/repo"), /--stack needs a value/);
    });
});
