// Error messages keep their cause: the dynamic-provider host sends the engine only
// `error.message`, so the command's stderr and every cause must be in it, redacted,
// and said once.
import { strict as assert } from "assert";
import { BackupProviderError } from "../../../../providers/transport/errors";
import { OrbitClient } from "../../../../providers/appliance/orbit";
import { remotePartitionProvider } from "../../../../providers/resources/remote-partition";
import { type CommandResult, type RemoteCommand, sshPool } from "../../../../providers/transport/ssh";
import { ed25519PublicKey } from "../../../support/keys";

const HOST = "mt4adm@10.0.0.5:59022";

function countOf(text: string, part: string): number {
    return text.split(part).length - 1;
}

describe("BackupProviderError's message", () => {
    it("says what failed, on which host, the exit code, the stderr, and ends with what to do", () => {
        const err = new BackupProviderError("the read failed", {
            kind: "command", host: HOST, operation: "read senhauser's authorized_keys", exitCode: 2,
            stderr: "sh: 1: getent: not found\n", hint: "install getent",
        });
        assert.equal(err.message, [
            `read senhauser's authorized_keys on ${HOST} failed: the read failed (exit code 2)`,
            "  stderr: sh: 1: getent: not found",
            "  what to do: install getent",
        ].join("\n"));
        assert.equal(err.reason, "the read failed");
    });

    it("renders the whole chain of causes, each with its own stderr, and only the outermost hint", () => {
        const socket = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
        const orbit = new BackupProviderError("orbit refused: mounting cifs://files:445/backup failed: NT_STATUS_LOGON_FAILURE (field password)", {
            kind: "appliance", host: HOST, operation: "add partition cifs-share", exitCode: 6,
            stderr: "mount error(13): Permission denied\nRefer to the mount.cifs(8) manual page", hint: "the inner hint", cause: socket,
        });
        const err = new BackupProviderError("the appliance saved the partition but could not mount cifs://files:445/backup", {
            kind: "appliance", host: HOST, operation: "mount partition cifs-share", hint: "check the share and the password", cause: orbit,
        });
        assert.equal(err.message, [
            `mount partition cifs-share on ${HOST} failed: the appliance saved the partition but could not mount cifs://files:445/backup`,
            "  cause: add partition cifs-share: orbit refused: mounting cifs://files:445/backup failed: NT_STATUS_LOGON_FAILURE (field password) (exit code 6)",
            "  stderr: mount error(13): Permission denied",
            "          Refer to the mount.cifs(8) manual page",
            "  cause: read ECONNRESET",
            "  what to do: check the share and the password",
        ].join("\n"));
        assert.ok(!err.message.includes("the inner hint"));
        assert.equal(err.cause, orbit);
    });

    it("names the cause's host when it is another one", () => {
        const inner = new BackupProviderError("connect ECONNREFUSED", { kind: "socket", host: "bkpadmin@backup:22", operation: "connect over SSH", hint: "start sshd" });
        const err = new BackupProviderError("cannot verify the backup", { kind: "command", host: HOST, operation: "verify the backup landed", hint: "retry", cause: inner });
        assert.match(err.message, /\n  cause: connect over SSH on bkpadmin@backup:22: connect ECONNREFUSED\n/);
    });

    it("does not repeat text the message already holds: orbit's stderr echo, or a retry's last attempt", () => {
        const refused = new BackupProviderError("orbit refused: the lock is held by pid 42 (field lockTimeoutSec)", {
            kind: "appliance", host: HOST, operation: "set the daily backup hour", exitCode: 5,
            stderr: "orbit: the lock is held by pid 42 (field lockTimeoutSec)\n", hint: "wait",
        });
        assert.equal(countOf(refused.message, "the lock is held by pid 42"), 1, refused.message);
        assert.ok(!refused.message.includes("stderr:"), refused.message);

        const attempt = new BackupProviderError("connect ECONNREFUSED 10.0.0.5:59022", {
            kind: "socket", host: HOST, operation: "connect over SSH", hint: "check sshd", cause: new Error("connect ECONNREFUSED 10.0.0.5:59022"),
        });
        const retried = new BackupProviderError(`after 6 failed attempts: ${attempt.reason}`, {
            kind: "socket", host: HOST, operation: "connect over SSH", hint: attempt.hint, cause: attempt,
        });
        assert.equal(retried.message, [
            `connect over SSH on ${HOST} failed: after 6 failed attempts: connect ECONNREFUSED 10.0.0.5:59022`,
            "  what to do: check sshd",
        ].join("\n"));
    });

    it("never shows a secret, wherever in the chain it appears", () => {
        const secret = "Hunter2-cifs-Secret";
        const leaky = new Error(`mount.cifs: bad option password=${secret}`);
        const inner = new BackupProviderError(`orbit refused: password ${secret} rejected`, {
            kind: "appliance", host: HOST, operation: "add partition p", stderr: `echo ${secret}`, hint: "x", cause: leaky, secrets: [secret],
        });
        const err = new BackupProviderError("could not mount", { kind: "appliance", host: HOST, operation: "mount partition p", hint: "y", cause: inner, secrets: [secret] });
        assert.ok(!err.message.includes(secret), err.message);
        assert.ok(!inner.message.includes(secret) && !inner.reason.includes(secret) && !inner.stderr!.includes(secret));
        assert.match(err.message, /password=\[secret\]/);
        assert.match(err.message, /orbit refused: password \[secret\] rejected/);
    });

    it("stops at a chain that loops, and at a depth of five", () => {
        const a = new Error("the first link");
        const b = new Error("the second link", { cause: a });
        Object.assign(a, { cause: b });
        const err = new BackupProviderError("outer", { kind: "command", host: HOST, operation: "op", hint: "h", cause: b });
        assert.equal(countOf(err.message, "cause: "), 2);

        let deep: Error = new Error("level 0");
        for (let i = 1; i < 10; i++) deep = new Error(`level ${i}`, { cause: deep });
        assert.equal(countOf(new BackupProviderError("outer", { kind: "command", host: HOST, operation: "op", hint: "h", cause: deep }).message, "cause: "), 5);
    });
});

describe("orbit's failures keep orbit's reason", () => {
    const realRun = sshPool.run;
    let answer: CommandResult;
    let sent: RemoteCommand[];
    const connection = {
        host: "10.0.0.5", port: 59022, user: "mt4adm", hostKey: ed25519PublicKey(), privateKeyPath: "/keys/mt4adm",
        dialAttempts: 1, dialTimeoutSec: 15, commandTimeoutSec: 120,
    };

    beforeEach(() => {
        sent = [];
        Object.assign(sshPool, { run: async (_conn: unknown, command: RemoteCommand) => { sent.push(command); return answer; } });
    });
    afterEach(() => { Object.assign(sshPool, { run: realRun }); });

    it("a non-zero exit without a failure in the JSON answer shows what orbit printed on stderr", async () => {
        answer = { code: 3, stdout: "{\"ok\":true}", stderr: "orbit: /var/senhasegura/orbinibkp.conf: Read-only file system\n" };
        await assert.rejects(new OrbitClient(connection).showConfig(), (err: Error) => {
            assert.equal(err.message, [
                `read the backup configuration on ${HOST} failed: orbit failed, and its JSON answer gives no reason (exit code 3)`,
                "  stderr: orbit: /var/senhasegura/orbinibkp.conf: Read-only file system",
                "  what to do: read the appliance's orbit audit log; run `pulumi up` again once fixed",
            ].join("\n"));
            return true;
        });
    });

    it("a refusal keeps stderr that adds to orbit's JSON message, and redacts what went on stdin", async () => {
        const masterPassword = "correct horse battery staple";
        answer = {
            code: 3,
            stdout: JSON.stringify({ ok: false, error: { code: "invalid", message: "the master password is too weak", field: "masterPassword" } }),
            stderr: `warning: entropy check read '${masterPassword}'\norbit: the master password is too weak (field masterPassword)\n`,
        };
        await assert.rejects(new OrbitClient(connection).change(["backup", "kind", "enable", "secrets"], "enable the secrets backup", masterPassword), (err: Error) => {
            assert.ok(!err.message.includes(masterPassword), err.message);
            assert.equal(err.message, [
                `enable the secrets backup on ${HOST} failed: orbit refused: the master password is too weak (field masterPassword) (exit code 3)`,
                "  stderr: warning: entropy check read '[secret]'",
                "  what to do: fix the value the appliance named; the same rule is checked at preview, so report this as a bug if preview passed",
            ].join("\n"));
            return true;
        });
        assert.equal(sent[0].stdin, `${masterPassword}\n`);
    });

    it("a failed mount says what failed (the mount), orbit's reason, and the mount's own output, without the password", async () => {
        const password = "Wrong-cifs-pass-99";
        const orbitMessage = "mounting cifs://files.example.com:445/backup failed: NT_STATUS_LOGON_FAILURE";
        Object.assign(sshPool, {
            run: async (_conn: unknown, command: RemoteCommand): Promise<CommandResult> => {
                if (command.argv[1] === "backup") return { code: 0, stdout: JSON.stringify(emptyConfig()), stderr: "" };
                return {
                    code: 6,
                    stdout: JSON.stringify({ ok: false, error: { code: "unreachable", message: orbitMessage, field: "host" } }),
                    stderr: `mount.cifs: tried user svc-senhasegura with password ${password}\norbit: ${orbitMessage} (field host)\n`,
                };
            },
        });
        const checked = await remotePartitionProvider.check!({}, {
            connection: { host: "10.0.0.5", hostKey: connection.hostKey, privateKeyPath: "/keys/mt4adm", driver: "contract" },
            partitionId: "cifs-share", protocol: "cifs", host: "files.example.com", path: "/backup", user: "svc-senhasegura", password,
        });
        assert.deepEqual(checked.failures, []);
        await assert.rejects(remotePartitionProvider.create(checked.inputs!), (err: Error) => {
            assert.equal(err.message, [
                `mount partition cifs-share on ${HOST} failed: the appliance saved the partition but could not mount cifs://files.example.com:445/backup`,
                `  cause: add partition cifs-share: orbit refused: ${orbitMessage} (field host) (exit code 6)`,
                "  stderr: mount.cifs: tried user svc-senhasegura with password [secret]",
                "  what to do: check the share exists, the user has write rights, and the password or credential is right; then run `pulumi up` again",
            ].join("\n"));
            return true;
        });
    });

    function emptyConfig() {
        return {
            ok: true, contract: 1, hostname: "appliance-0",
            backup: {
                system: true, secrets: false, video: false, masterPasswordSet: false, hour: 5,
                destination: { mode: "none", partitionId: null }, notifications: { email: true, siem: true, emailTo: null },
            },
            partitions: [], credentials: [], rsync: null, lastBackup: null,
        };
    }
});
