// Pure decisions: input rules, host-key pins, diffs and change plans. No I/O.
import { strict as assert } from "assert";
import { runtime } from "@pulumi/pulumi";
import { AuthorizedKeyArgs, authorizedKeyProvider, parseReadAnswer } from "../../../../providers/resources/authorized-key";
import { BackupPolicyArgs, liveInputs as policyLiveInputs, planPolicy } from "../../../../providers/resources/backup-policy";
import { checkInputs, decideDiff, connectionIdentity } from "../../../../providers/scaffolding/check";
import { sha256Fingerprint } from "../../../../providers/formats/authorized-keys/key";
import { parseHostKeyPin, verifyHostKey } from "../../../../providers/transport/connection";
import { ApplianceConnection } from "../../../../providers/appliance/connection";
import { partitionArgs, policyStepArgs, rsyncSetArgs } from "../../../../providers/appliance/contract-driver";
import type { BackupSettingsView, PartitionView } from "../../../../providers/appliance/driver";
import { redact } from "../../../../providers/transport/errors";
import { RemotePartitionArgs, partitionSpec, planPartition } from "../../../../providers/resources/remote-partition";
import { RsyncTargetArgs, sameTarget } from "../../../../providers/resources/rsync-target";
import { applianceRootKeyProvider } from "../../../../providers/resources/appliance-root-key";
import { shown } from "../../../../providers/formats/rules";
import { shellJoin, shellQuote, sudoArgv, sudoRefusal } from "../../../../providers/transport/shell";
import { ed25519PublicKey, sshKeyPair } from "../../../support/keys";


const HOST_KEY = ed25519PublicKey();
const appliance = { host: "127.0.0.1", hostKey: HOST_KEY, privateKeyPath: "/keys/mt4adm" };

function failures(schema: Parameters<typeof checkInputs>[0], input: Record<string, unknown>) {
    return checkInputs(schema, input).failures;
}

describe("connection settings", () => {
    it("default to port 59022 and user mt4adm for the appliance", () => {
        const parsed = ApplianceConnection.parse(appliance);
        assert.equal(parsed.port, 59022);
        assert.equal(parsed.user, "mt4adm");
        assert.equal(parsed.dialAttempts, 6);
    });

    it("require a host key pin", () => {
        const result = failures(RsyncTargetArgs, { connection: { host: "127.0.0.1", privateKeyPath: "/k" }, user: "u", host: "h", path: "/p" });
        assert.ok(result.some((f) => f.property === "connection.hostKey"), JSON.stringify(result));
    });

    it("require exactly one way to authenticate", () => {
        const privateKey = sshKeyPair("ed25519").private;
        const both = failures(RsyncTargetArgs, { connection: { ...appliance, privateKey }, user: "u", host: "h", path: "/p" });
        assert.deepEqual(both.map((f) => f.property), ["connection.privateKey"]);
        assert.match(both[0].reason, /exactly one of privateKey \(secret\), privateKeyPath or agentSocket, but 2 were provided/);
    });

    it("never echo a private key in a failure", () => {
        const secret = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n-----END";
        const result = failures(RsyncTargetArgs, { connection: { ...appliance, privateKey: secret, port: 0 }, user: "u", host: "h", path: "/p" });
        assert.ok(result.length > 0);
        assert.ok(!JSON.stringify(result).includes("b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"));
    });
});

describe("host key pins", () => {
    const blob = Buffer.from(HOST_KEY.split(" ")[1], "base64");

    it("accept the server's key line and its SHA256 fingerprint", () => {
        const byKey = parseHostKeyPin(HOST_KEY);
        const byFingerprint = parseHostKeyPin(sha256Fingerprint(blob));
        assert.ok(typeof byKey !== "string" && typeof byFingerprint !== "string");
        assert.deepEqual(verifyHostKey(byKey, blob), { ok: true });
        assert.deepEqual(verifyHostKey(byFingerprint, blob), { ok: true });
    });

    it("report the fingerprint seen when another key is presented", () => {
        const other = Buffer.from(ed25519PublicKey().split(" ")[1], "base64");
        const pin = parseHostKeyPin(HOST_KEY);
        assert.ok(typeof pin !== "string");
        const verdict = verifyHostKey(pin, other);
        assert.equal(verdict.ok, false);
        if (!verdict.ok) {
            assert.equal(verdict.seenFingerprint, sha256Fingerprint(other));
            assert.equal(verdict.seenType, "ssh-ed25519");
            assert.equal(verdict.pinnedFingerprint, sha256Fingerprint(blob));
        }
    });

    for (const bad of ["", "SHA256:short", "MD5:aa:bb", "ssh-ed25519 bm90IGEga2V5", `ssh-rsa ${HOST_KEY.split(" ")[1]}`, "ssh-ed25519 AAAA$(reboot)"]) {
        it(`refuse the pin ${JSON.stringify(bad.slice(0, 30))}`, () => {
            assert.equal(typeof parseHostKeyPin(bad), "string");
        });
    }
});

describe("value rules", () => {
    const base = { connection: appliance, user: "senhauser", host: "backup.example.com", path: "/files/backup/senhasegura" };

    it("accept a valid rsync target and default its port to 22", () => {
        const result = checkInputs(RsyncTargetArgs, base);
        assert.deepEqual(result.failures, []);
        assert.equal((result.inputs as any).port, 22);
    });

    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
        ["shell injection in the path", { path: "/files/$(reboot)" }, "path", /may only contain/],
        ["a relative path", { path: "files/backup" }, "path", /must be absolute/],
        ["path traversal", { path: "/files/../etc" }, "path", /'\.\.' segments/],
        ["a newline in the user", { user: "senha\nuser" }, "user", /but "senha\\u000auser" was provided/],
        ["a host with a semicolon", { host: "backup;rm -rf /" }, "host", /IPv4 address or a DNS name/],
        ["an out-of-range IPv4 octet", { host: "10.0.0.256" }, "host", /IPv4 address or a DNS name/],
        ["port zero", { port: 0 }, "port", /1 to 65535/],
        ["a port as text", { port: "22" }, "port", /1 to 65535/],
        ["a typo in a field name", { pth: "/x" }, "(arguments)", /pth/],
    ];
    for (const [what, change, property, reason] of cases) {
        it(`reject ${what}, naming ${property}`, () => {
            const result = failures(RsyncTargetArgs, { ...base, ...change });
            const failure = result.find((f) => f.property === property);
            assert.ok(failure, `no failure on ${property}: ${JSON.stringify(result)}`);
            assert.match(failure.reason, reason);
        });
    }

    it("show a bad value on one quoted line that it cannot forge: quotes, backslashes and non-ASCII escaped, long values cut", () => {
        assert.equal(shown('a"b\\c'), '"a\\"b\\\\c"');
        assert.equal(shown("root@\u202eeoj\n"), '"root@\\u202eeoj\\u000a"');
        assert.equal(shown("x".repeat(100)), `"${"x".repeat(57)}..." (100 characters)`);
        assert.equal(shown(5), "5");
        assert.equal(shown(false), "false");
        assert.equal(shown(undefined), "(not set)");
    });

    it("show an object by its type, since it may hold a key, and as JSON (escaped, cut) only when asked", () => {
        const setting = { privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----", host: "h\u202e" };
        assert.equal(shown(setting), "a value of type object");
        assert.equal(shown({ host: "h\u202e" }, { json: true }), '{"host":"h\\u202e"}');
        assert.equal(shown({ list: "y".repeat(200) }, { json: true, maxLength: 40 }), `{"list":"${"y".repeat(28)}...`);
        assert.equal(shown(10n, { json: true }), "a value of type bigint");
    });

    it("leave values that are unknown during preview for later", () => {
        const result = checkInputs(RsyncTargetArgs, { ...base, host: runtime.unknownValue });
        assert.deepEqual(result.failures, []);
    });
});

describe("remote partition rules", () => {
    const cifs = { connection: appliance, partitionId: "cifs-share", protocol: "cifs", host: "127.0.0.1", path: "/backup", user: "senhabkp", password: "s3cret-Pass" };

    it("default the port by protocol", () => {
        assert.equal((checkInputs(RemotePartitionArgs, cifs).inputs as any).port, 445);
        assert.equal((checkInputs(RemotePartitionArgs, { connection: appliance, partitionId: "n", protocol: "nfs", host: "h", path: "/e" }).inputs as any).port, 2049);
    });

    for (const c of ["\\", "&", "!"]) {
        it(`refuse ${c} in a CIFS password without echoing the password`, () => {
            const password = `abc${c}defSecret`;
            const result = failures(RemotePartitionArgs, { ...cifs, password });
            assert.equal(result[0].property, "password");
            assert.match(result[0].reason, /senhasegura refuses/);
            assert.ok(!JSON.stringify(result).includes("defSecret"));
        });
    }

    it("need either user and password or a credentialId for CIFS", () => {
        assert.match(failures(RemotePartitionArgs, { ...cifs, user: undefined, password: undefined })[0].reason, /but neither were provided/);
        assert.match(failures(RemotePartitionArgs, { ...cifs, credentialId: "lab-cifs" })[0].reason, /but both were provided/);
    });

    it("refuse credentials on NFS", () => {
        const result = failures(RemotePartitionArgs, { ...cifs, protocol: "nfs", password: undefined, user: undefined, domain: "CORP" });
        assert.ok(result.some((f) => f.property === "protocol" && /NFS authorizes the appliance by its IP/.test(f.reason)), JSON.stringify(result));
    });

    it("send the password on stdin, never as an argument", () => {
        const inputs = checkInputs(RemotePartitionArgs, cifs).inputs as any;
        const args = partitionArgs("add", partitionSpec(inputs));
        assert.ok(args.includes("--password-stdin"));
        assert.ok(!args.join(" ").includes("s3cret-Pass"));
    });

    const live: PartitionView = { id: "cifs-share", protocol: "cifs", host: "127.0.0.1", port: 445, path: "/backup", user: "senhabkp", domain: null, credentialId: null, passwordSet: true, mounted: true, mountedAt: null };
    it("plan nothing when the live partition matches", () => {
        assert.equal(planPartition(live, checkInputs(RemotePartitionArgs, cifs).inputs as any, false), "none");
    });
    it("plan a remount when only the mount was lost", () => {
        assert.equal(planPartition({ ...live, mounted: false }, checkInputs(RemotePartitionArgs, cifs).inputs as any, false), "mount");
    });
    it("plan an update when a field or the password changed", () => {
        const desired = checkInputs(RemotePartitionArgs, cifs).inputs as any;
        assert.equal(planPartition({ ...live, path: "/other" }, desired, false), "update");
        assert.equal(planPartition(live, desired, true), "update");
        assert.equal(planPartition(undefined, desired, false), "add");
    });
});

describe("diff decisions", () => {
    const olds = { connection: { host: "a", port: 59022, privateKeyPath: "/k1" }, user: "u", path: "/p" };

    it("see no change when nothing changed", () => {
        assert.deepEqual(decideDiff(olds, structuredClone(olds), { identity: ["connection"], identityProjection: { connection: connectionIdentity } }).changes, false);
    });

    it("update in place, never replace, when only the key or host-key pin changed", () => {
        const news = { ...olds, connection: { ...olds.connection, privateKeyPath: "/k2" } };
        const d = decideDiff(olds, news, { identity: ["connection"], identityProjection: { connection: connectionIdentity } });
        assert.deepEqual([d.changes, d.changed, d.replaces], [true, ["connection"], []]);
    });

    it("replace when the appliance itself changed", () => {
        const news = { ...olds, connection: { ...olds.connection, host: "b" } };
        assert.deepEqual(decideDiff(olds, news, { identity: ["connection"], identityProjection: { connection: connectionIdentity } }).replaces, ["connection"]);
    });

    it("ignore the dynamic provider's own keys and listed outputs", () => {
        const d = decideDiff({ ...olds, __provider: "a", reachable: true }, { ...olds, __provider: "b" }, { identity: [], ignore: ["reachable"] });
        assert.equal(d.changes, false);
    });

    it("update a root key in place when only the rsync target its refresh proves changed, and ignore what was read", async () => {
        const key = { connection: olds.connection, rsyncProof: { user: "senhauser", host: "backup", path: "/files/backup" } };
        const stored = { ...key, publicKey: "ssh-ed25519 AAAA", fingerprint: "SHA256:x", hostname: "a", driver: "vendor" };
        assert.deepEqual(await applianceRootKeyProvider.diff("id", stored, key), { changes: false, replaces: [] });
        assert.deepEqual(await applianceRootKeyProvider.diff("id", stored, { ...key, rsyncProof: { ...key.rsyncProof, path: "/elsewhere" } }), { changes: true, replaces: [] });
        // State from before the input existed: the first up records it, in place.
        const { rsyncProof: _p, ...older } = stored;
        assert.deepEqual(await applianceRootKeyProvider.diff("id", older, key), { changes: true, replaces: [] });
        assert.deepEqual(await applianceRootKeyProvider.diff("id", stored, { ...key, connection: { ...olds.connection, host: "b" } }), { changes: true, replaces: ["connection"] });
    });

    it("reject a root key's rsync target that breaks the target's rules, naming the field", async () => {
        const checked = await applianceRootKeyProvider.check({}, { connection: appliance, rsyncProof: { user: "senhauser", host: "backup", path: "relative/dir" } });
        assert.deepEqual(checked.failures?.map((f) => f.property), ["rsyncProof.path"]);
    });
});

describe("backup policy", () => {
    const liveBackup: BackupSettingsView = {
        kinds: { system: true, secrets: false, video: false, masterPasswordSet: false }, hour: 5,
        destination: { type: "none" }, notifications: { email: true, siem: true, emailTo: null },
    };
    const desired = (extra: Record<string, unknown>) => checkInputs(BackupPolicyArgs, { connection: appliance, destination: { type: "rsync" }, ...extra }).inputs as any;

    it("requires a master password exactly when the secrets backup is on", () => {
        assert.match(failures(BackupPolicyArgs, { connection: appliance, destination: { type: "rsync" }, secrets: true })[0].reason, /set masterPassword/);
        assert.match(failures(BackupPolicyArgs, { connection: appliance, destination: { type: "rsync" }, masterPassword: "long-enough-pass" })[0].reason, /only used by the secrets backup/);
    });

    it("rejects an hour outside 0-23 and an unknown destination", () => {
        assert.equal(failures(BackupPolicyArgs, { connection: appliance, destination: { type: "rsync" }, hour: 24 })[0].property, "hour");
        assert.equal(failures(BackupPolicyArgs, { connection: appliance, destination: { type: "ftp" } })[0].property, "destination.type");
    });

    it("plans only what differs, with the master password on stdin", () => {
        const steps = planPolicy(liveBackup, desired({ secrets: true, masterPassword: "correct horse battery", video: true, hour: 3 }), true).map(policyStepArgs);
        assert.deepEqual(steps.map((s) => s.args.join(" ")), [
            "backup kind enable video", "backup kind enable secrets", "backup time --hour 3", "backup destination rsync",
        ]);
        assert.equal(steps[1].stdin, "correct horse battery");
        assert.ok(steps.every((s) => !s.args.join(" ").includes("correct horse")));
    });

    it("plans only the hour where the driver reads only the hour (a vendor appliance)", () => {
        const steps = planPolicy({ hour: 5 }, desired({ secrets: true, masterPassword: "correct horse battery", video: true, hour: 3 }), true);
        assert.deepEqual(steps, [{ set: "hour", hour: 3 }]);
        const want = desired({ video: true, hour: 3 });
        assert.deepEqual(policyLiveInputs({ hour: 4 }, want), { ...want, hour: 4 }, "what cannot be read is carried over; the hour is read");
    });

    it("plans nothing once the live settings match", () => {
        const want = desired({ secrets: true, masterPassword: "correct horse battery" });
        const live: BackupSettingsView = { ...liveBackup, kinds: { ...liveBackup.kinds!, secrets: true, masterPasswordSet: true }, destination: { type: "rsync" } };
        assert.deepEqual(planPolicy(live, want, false), []);
        assert.deepEqual(policyLiveInputs(live, want), want);
    });
});

describe("authorized key arguments", () => {
    const key = ed25519PublicKey();
    const server = { host: "127.0.0.1", port: 2222, user: "bkpadmin", hostKey: HOST_KEY, privateKeyPath: "/k" };

    it("default to a key restricted to rrsync writes into the backup directory, through sudo for another user", () => {
        const inputs = checkInputs(AuthorizedKeyArgs, { connection: server, targetUser: "senhauser", publicKey: `${key} root@appliance-0\n`, restrictTo: "/files/backup/senhasegura" }).inputs as any;
        assert.equal(inputs.effectiveOptions, 'restrict,command="rrsync -wo -no-lock -absolute /files/backup/senhasegura"');
        assert.equal(inputs.useSudo, true);
        assert.equal(inputs.comment, "root@appliance-0");
        assert.equal(inputs.publicKey, key);
    });

    it("demand an explicit choice between restrictTo, options and unrestricted", () => {
        const none = failures(AuthorizedKeyArgs, { connection: server, publicKey: key });
        assert.match(none[0].reason, /exactly one of restrictTo .* but none were provided/);
        const open = checkInputs(AuthorizedKeyArgs, { connection: server, publicKey: key, unrestricted: true }).inputs as any;
        assert.equal(open.effectiveOptions, "");
    });

    it("reject a DSA key and options that smuggle a second command", async () => {
        const dss = await authorizedKeyProvider.check!({}, { connection: server, publicKey: "ssh-dss AAAAB3NzaC1kc3MAAACBAP8=", restrictTo: "/b" });
        assert.equal(dss.failures![0].property, "publicKey");
        const smuggled = await authorizedKeyProvider.check!({}, { connection: server, publicKey: key, options: { restrict: true, command: 'true",command="/bin/sh' } });
        assert.ok((smuggled.failures ?? []).length > 0 || !String((smuggled.inputs as any)?.effectiveOptions).includes('command="/bin/sh"'));
    });

    it("parse the server's answer, keeping CRLF bytes", () => {
        const content = "ssh-ed25519 AAAA x\r\n# note\n";
        const answer = `file=/h/.ssh/authorized_keys\ndir=present\ndirmode=700\ndirowner=u\nstate=present\nfilemode=600\nfileowner=u\nsha=abc\n---\n${Buffer.from(content).toString("base64")}\n`;
        const parsed = parseReadAnswer(answer);
        assert.equal(parsed.content, content);
        assert.deepEqual([parsed.fileMode, parsed.dirMode, parsed.fileOwner, parsed.sha], ["600", "700", "u", "abc"]);
    });
});

describe("remote commands", () => {
    it("quote every argument for the remote shell", () => {
        assert.equal(shellQuote("plain-arg_1.0"), "plain-arg_1.0");
        assert.equal(shellQuote("it's; rm -rf /"), `'it'\\''s; rm -rf /'`);
        assert.equal(shellQuote(""), "''");
        assert.equal(shellJoin(["orbit", "rsync", "set", "--path", "/a b"]), "orbit rsync set --path '/a b'");
        assert.throws(() => shellQuote("a\0b"), /NUL/);
    });

    it("build the rsync target arguments and compare live targets", () => {
        const t = { user: "senhauser", host: "h", port: 22, path: "/p" };
        assert.deepEqual(rsyncSetArgs(t), ["rsync", "set", "--user", "senhauser", "--host", "h", "--port", "22", "--path", "/p"]);
        assert.equal(sameTarget(t, t), true);
        assert.equal(sameTarget(null, t), false);
        assert.equal(sameTarget({ ...t, port: 2222 }, t), false);
    });

    it("run as root through sudo -n --, and tell a password prompt from a refusal", () => {
        assert.equal(shellJoin(sudoArgv(["orbit", "-x"])), "sudo -n -- orbit -x");
        assert.equal(sudoRefusal("sudo: a password is required\n"), "password");
        assert.equal(sudoRefusal("sudo: a terminal is required to read the password"), "password");
        assert.equal(sudoRefusal("Sorry, user mt4adm is not allowed to execute '/usr/bin/orbit' as root"), "forbidden");
        assert.equal(sudoRefusal("orbit: the lock is held"), undefined);
    });

    it("redact secrets from anything a host echoes back", () => {
        assert.equal(redact("mount failed for pass=hunter2-long", ["hunter2-long"]), "mount failed for pass=[secret]");
    });
});
