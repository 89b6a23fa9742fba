// ApplianceBackup's own argument check (components/arguments.ts): the children's
// rules, reported under the fields the user wrote.
import { strict as assert } from "assert";
import { inspect } from "util";
import type * as pulumi from "@pulumi/pulumi";
import { InvalidArgumentsError, type ResolvedApplianceBackupArgs, applianceBackupIssues, describeIssues } from "../../../components/child-arguments";
import { ed25519PublicKey, sshKeyPair } from "../../support/keys";

const HOST_KEY = ed25519PublicKey();
const PRIVATE_KEY = sshKeyPair("ed25519").private;
const appliance = { host: "10.0.0.5", hostKey: HOST_KEY, privateKey: PRIVATE_KEY };
const server = { host: "backup.example.com", user: "bkpadmin", hostKey: HOST_KEY, privateKey: PRIVATE_KEY };
const rsync: ResolvedApplianceBackupArgs = {
    appliance,
    destination: { type: "rsync", server, backupUser: "senhauser", path: "/files/backup/senhasegura" },
    policy: { video: true, secrets: true, masterPassword: "correct horse battery staple", hour: 5 },
};
const cifs: ResolvedApplianceBackupArgs = {
    appliance,
    destination: { type: "cifs", partitionId: "cifs-backup", host: "files.example.com", path: "/backup/senhasegura", user: "svc", password: "Lab-pass#1" },
};

const fields = (a: unknown) => applianceBackupIssues(a as ResolvedApplianceBackupArgs).map((i) => i.field);

describe("ApplianceBackup's argument check", () => {
    it("passes valid rsync, CIFS and NFS arguments", () => {
        assert.deepEqual(applianceBackupIssues(rsync), []);
        assert.deepEqual(applianceBackupIssues(cifs), []);
        assert.deepEqual(applianceBackupIssues({ appliance, destination: { type: "nfs", partitionId: "nfs-backup", host: "nfs.example.com", path: "/exports/x" }, verify: false }), []);
    });

    it("names the user's field, not the child's: destination.path, not restrictTo or path", () => {
        const issues = applianceBackupIssues({ ...rsync, destination: { ...rsync.destination, path: "/" } as any });
        assert.deepEqual([...new Set(issues.map((i) => i.field))], ["destination.path"]);
        assert.match(issues[0].message, /'\/'/);
    });

    it("names policy fields under policy., with the policy's own rules", () => {
        assert.deepEqual(fields({ ...rsync, policy: { hour: 24 } }), ["policy.hour"]);
        assert.deepEqual(fields({ ...rsync, policy: { secrets: true } }), ["policy.masterPassword"]);
        assert.deepEqual(fields({ ...rsync, policy: { vidoe: true } }), ["policy.vidoe"]);
    });

    it("says a problem of the appliance's connection once, though every child has it", () => {
        const issues = applianceBackupIssues({ ...rsync, appliance: { ...appliance, host: "not a host" } });
        assert.deepEqual(issues.map((i) => i.field), ["appliance.host"]);
    });

    it("names the server's fields of an rsync destination, and the host it falls back to", () => {
        assert.deepEqual(fields({ ...rsync, destination: { ...rsync.destination, server: { ...server, hostKey: "yes" } } }), ["destination.server.hostKey"]);
        assert.deepEqual(fields({ ...rsync, destination: { ...rsync.destination, server: { ...server, host: "bad host" } } }), ["destination.server.host"]);
        assert.deepEqual(fields({ ...rsync, destination: { ...rsync.destination, host: "bad host" } }), ["destination.host"]);
    });

    it("applies the partition's cross-field rules to a CIFS destination, and the vendor's password rule", () => {
        assert.deepEqual(fields({ ...cifs, destination: { ...cifs.destination, password: "a&b-Secret" } }), ["destination.password"]);
        const { password: _p, ...noPassword } = cifs.destination as any;
        assert.deepEqual(fields({ ...cifs, destination: noPassword }), ["destination.password"]);
    });

    it("refuses a destination type or field the component does not know", () => {
        assert.deepEqual(fields({ ...rsync, destination: { ...rsync.destination, type: "ftp" } }), ["destination.type"]);
        assert.deepEqual(fields({ ...rsync, destination: { ...rsync.destination, partitionId: "x" } }), ["destination.partitionId"]);
        assert.deepEqual(fields({ ...rsync, verify: "yes", backupTimeoutSec: 5, extra: 1 }).sort(), ["(arguments)", "backupTimeoutSec", "verify"]);
    });

    it("takes the master key, and refuses a key in parts (a control character) without quoting it", () => {
        assert.deepEqual(applianceBackupIssues({ ...rsync, masterKey: "0f3a-77c1-9e2b-41d8" }), []);
        const issues = applianceBackupIssues({ ...rsync, masterKey: "0f3a\n77c1" });
        assert.deepEqual(issues.map((i) => i.field), ["masterKey"]);
        assert.match(issues[0].message, /complete key on one line/);
        assert.ok(!issues[0].message.includes("0f3a"));
        assert.deepEqual(fields({ ...rsync, masterKey: "" }), ["masterKey"]);
    });

    it("describes every issue in one message, without a secret's value", () => {
        const secret = "a&b-Secret-99";
        const issues = applianceBackupIssues({ ...cifs, destination: { ...cifs.destination, password: secret, path: "/../etc" } as any });
        const message = describeIssues("appliance-0", issues);
        assert.match(message, /^ApplianceBackup appliance-0 has 2 invalid arguments; nothing was created and nothing ran on any host:\n  - destination\.path: /);
        assert.match(message, /\n  - destination\.password: /);
        assert.ok(!message.includes(secret));
    });

    it("fails with an error whose stack holds no frames: the runtime inspects it, and frames through node_modules made that take 25 s", () => {
        const message = describeIssues("appliance-0", applianceBackupIssues({ ...rsync, policy: { hour: 24 } }));
        const err = new InvalidArgumentsError(message, {} as pulumi.Resource);
        assert.equal(err.stack, `Error: ${message}`);
        err.message = `error serializing property "connection": ${err.message}`;
        assert.equal(err.message, message, "the runtime's prefixes must not pile up on the message");
        assert.ok(inspect(err, { colors: true }).length < 10_000);
    });
});
