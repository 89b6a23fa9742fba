// The policy pack's rules (policy/rules.ts) and its secret-input detection
// (policy/secret-inputs.ts), without the engine. tests/e2e/policy.test.ts runs
// the pack in a real preview.
import { strict as assert } from "assert";
import { runtime } from "@pulumi/pulumi";
import { REMOTE_COMMAND_TYPE, RULES, type ResourceInput, TYPES, TYPE_PREFIX, isHostKeyPin, keyRestriction, splitOptions } from "../../../policy/rules";
import { SUPPORTED_POLICY_VERSION, secretPathsIn, secretPathsOfProps } from "../../../policy/secret-inputs";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBboaiRAcgF4VTpU/bSNrdrxhHwqX2FEuHUZeyoom/k3";
const appliance = { host: "127.0.0.1", port: 59022, user: "mt4adm", hostKey: HOST_KEY, privateKey: "k" };
const server = { host: "127.0.0.1", port: 2222, user: "bkpadmin", hostKey: HOST_KEY, privateKey: "k" };

function run(type: string, props: Record<string, any>, secrets: string[] = [], name = "appliance-0-x"): Record<string, string[]> {
    const input: ResourceInput = { type, name, props, isSecret: (p) => secrets.includes(p) };
    const out: Record<string, string[]> = {};
    for (const rule of RULES) {
        const messages = rule.check(input);
        if (messages.length) out[rule.name] = messages;
    }
    return out;
}

describe("policy rules: backup compliance", () => {
    it("pass a compliant policy, key, partition and verification", () => {
        assert.deepEqual(run(TYPES.BackupPolicy, { connection: appliance, system: true, secrets: true, video: true, masterPassword: "m" }, ["masterPassword", "connection.privateKey"]), {});
        assert.deepEqual(run(TYPES.AuthorizedKey, { connection: server, restrictTo: "/files/backup/senhasegura" }), {});
        assert.deepEqual(run(TYPES.AuthorizedKey, { connection: server, effectiveOptions: 'restrict,command="rrsync -wo -no-lock -absolute /files/backup/senhasegura"' }), {});
        assert.deepEqual(run(TYPES.RemotePartition, { connection: appliance, protocol: "cifs", user: "u", password: "p" }, ["password"]), {});
        assert.deepEqual(run(TYPES.RemotePartition, { connection: appliance, protocol: "nfs" }), {});
        assert.deepEqual(run(TYPES.BackupVerification, { connection: appliance, destination: { type: "rsync", server } }), {});
    });

    it("want the secrets and the video backups on", () => {
        const v = run(TYPES.BackupPolicy, { connection: appliance, system: true, secrets: false, video: false }, [], "appliance-0-policy");
        assert.deepEqual(Object.keys(v).sort(), ["secrets-backup-on", "video-backup-on"]);
        assert.match(v["secrets-backup-on"][0], /^BackupPolicy appliance-0-policy: the secrets backup \("break the glass"\) is off \(secrets is false\)\./);
        assert.match(v["video-backup-on"][0], /^BackupPolicy appliance-0-policy: the video backup of proxy sessions is off \(video is false\)\. Set video: true\.$/);
        // Unchecked inputs (an unknown elsewhere in the bag) may lack the defaults: absent is off.
        assert.deepEqual(Object.keys(run(TYPES.BackupPolicy, { connection: appliance })).sort(), ["secrets-backup-on", "video-backup-on"]);
    });

    it("want every connection's host key pinned, naming the field and the host", () => {
        const { hostKey: _omitted, ...unpinned } = server;
        assert.deepEqual(run(TYPES.AuthorizedKey, { connection: unpinned, restrictTo: "/b" }, [], "appliance-0-appliance-key")["host-keys-pinned"], [
            "AuthorizedKey appliance-0-appliance-key: connection.hostKey is not set, so the SSH host key of 127.0.0.1:2222 is not pinned. Set it to the server's host key line (ssh-keyscan) or its SHA256 fingerprint.",
        ]);
        assert.match(run(`${TYPE_PREFIX}RsyncTarget`, { connection: { ...appliance, hostKey: "yes" } })["host-keys-pinned"][0], /connection\.hostKey is neither a host key line nor a SHA256 fingerprint/);
        assert.match(run(TYPES.BackupVerification, { connection: appliance, destination: { type: "rsync", server: unpinned } })["host-keys-pinned"][0], /destination\.server\.hostKey is not set/);
        assert.ok(isHostKeyPin("SHA256:R/06t606xQ8utO5y7NsI4LIWmMyqR5z9Oqj+eed7tSQ"));
        assert.ok(isHostKeyPin(`${HOST_KEY} comment`));
        assert.ok(!isHostKeyPin("127.0.0.1"));
        // @pulumi/command connects unpinned without a hostKey, and takes no fingerprint.
        const command = { host: "127.0.0.1", port: 59022, user: "mt4adm", privateKey: "k" };
        assert.deepEqual(run(REMOTE_COMMAND_TYPE, { connection: { ...command, hostKey: HOST_KEY }, create: "true" }), {});
        assert.deepEqual(run(REMOTE_COMMAND_TYPE, { connection: command, create: "true" }, [], "appliance-0-verification-backup")["host-keys-pinned"], [
            "Command appliance-0-verification-backup: connection.hostKey is not set, so pulumi-command accepts any SSH host key of 127.0.0.1:59022. Set it to the server's host key line (ssh-keyscan); with only a SHA256 fingerprint, ApplianceHostKey.keyLine gives the line checked against it.",
        ]);
        assert.match(run(REMOTE_COMMAND_TYPE, { connection: { ...command, hostKey: "SHA256:R/06t606xQ8utO5y7NsI4LIWmMyqR5z9Oqj+eed7tSQ" } })["host-keys-pinned"][0],
            /connection\.hostKey is not a host key line \('<type> <base64>'\), which is the only pin pulumi-command takes/);
        assert.match(run(REMOTE_COMMAND_TYPE, { connection: { ...command, hostKey: HOST_KEY, proxy: { host: "10.0.0.1", user: "jump" } } })["host-keys-pinned"][0],
            /connection\.proxy\.hostKey is not set, so pulumi-command accepts any SSH host key of 10\.0\.0\.1:22/);
        // Other providers' resources are not ours to judge.
        assert.deepEqual(run("aws:s3/bucket:Bucket", { connection: { host: "x" } }), {});
    });

    it("want the appliance key restricted: restrict and a forced command", () => {
        const cases: Array<[Record<string, any>, string]> = [
            [{ unrestricted: true }, "its options (none (unrestricted: true)) lack restrict and a forced command=\"…\""],
            [{ options: { restrict: true } }, "its options (options {restrict}) lack a forced command=\"…\""],
            [{ options: { noPty: true, command: "rrsync -wo /b" } }, "its options (options {command, noPty}) lack restrict"],
            [{ effectiveOptions: "no-pty" }, "its options (no-pty) lack restrict and a forced command=\"…\""],
            [{ effectiveOptions: "" }, "its options (none) lack restrict and a forced command=\"…\""],
            [{ effectiveOptions: 'command="",restrict' }, "lack a forced command"],
        ];
        for (const [props, expected] of cases) {
            const [message] = run(TYPES.AuthorizedKey, { connection: server, ...props }, [], "appliance-0-appliance-key")["appliance-keys-restricted"] ?? [""];
            assert.ok(message.startsWith("AuthorizedKey appliance-0-appliance-key: the appliance key on 127.0.0.1:2222 is not restricted: "), message);
            assert.ok(message.includes(expected), `${JSON.stringify(props)}: ${message}`);
        }
        assert.deepEqual(keyRestriction({ effectiveOptions: 'from="10.0.0.1,10.0.0.2",RESTRICT,command="rrsync -wo \\"/b\\""' }), {
            restrict: true, command: true, shown: 'from="10.0.0.1,10.0.0.2",RESTRICT,command="rrsync -wo \\"/b\\""',
        });
        assert.deepEqual(splitOptions('a,b="x,y",c'), ["a", 'b="x,y"', "c"]);
    });

    it("want a CIFS password to be a secret, and never print it", () => {
        const v = run(TYPES.RemotePartition, { connection: appliance, protocol: "cifs", user: "senhabkp", password: "hunter2-plain" }, ["connection.privateKey"], "appliance-0-cifs");
        assert.deepEqual(v["cifs-credentials-secret"], [
            "RemotePartition appliance-0-cifs: password (the CIFS password of senhabkp) is a plain value, so it sits unencrypted in config or code. Pass it as a secret: pulumi config set --secret cifsPassword …, or pulumi.secret(…).",
        ]);
        const verification = run(TYPES.BackupVerification, { connection: appliance, destination: { type: "cifs", user: "u", password: "hunter2-plain" } });
        assert.match(verification["cifs-credentials-secret"][0], /destination\.password \(the CIFS password\) is a plain value/);
        assert.ok(!JSON.stringify([v, verification]).includes("hunter2"));
    });
});

describe("policy secret inputs: which inputs the engine sent as secrets", () => {
    const secret = (value: unknown) => ({ [runtime.specialSigKey]: runtime.specialSecretSig, value });

    it("finds the secret paths of a raw property bag", () => {
        assert.deepEqual([...secretPathsIn({ a: 1, password: secret("x"), connection: { host: "h", privateKey: secret("k") }, list: [secret("y")] })].sort(),
            ["connection.privateKey", "password"]);
    });

    it("hooks @pulumi/policy 1.21.0's deserializer: properties stay unwrapped, secret paths are known", () => {
        const installed = require("@pulumi/policy/package.json").version.replace(/^v/, "");
        assert.equal(installed, SUPPORTED_POLICY_VERSION, "package.json pins @pulumi/policy to the version secret-inputs.ts supports");
        const deserialize = require("@pulumi/policy/deserialize");
        const proxy = require("@pulumi/policy/proxy");
        const raw = { user: "u", password: secret("hunter2"), connection: { host: "h", privateKey: secret("k") } };
        const props = deserialize.deserializeProperties({ toJavaScript: () => raw }, false);
        assert.equal(props.password, "hunter2", "policies still see the plain value");
        assert.deepEqual([...secretPathsOfProps(props)!].sort(), ["connection.privateKey", "password"]);
        // As @pulumi/policy hands them to validateResource: wrapped in its unknown-checking proxy.
        assert.deepEqual([...secretPathsOfProps(proxy.unknownCheckingProxy(props))!].sort(), ["connection.privateKey", "password"]);
        assert.equal(secretPathsOfProps({ password: "p" }), undefined, "properties that did not come through the deserializer are unknown, not plain");
    });
});
