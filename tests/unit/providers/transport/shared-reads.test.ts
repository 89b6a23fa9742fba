// Shared refresh reads: the pure cache, and the providers' reads over a fake
// transport (sshPool.run replaced), counting what each refresh sends to the hosts.
import { strict as assert } from "assert";
import type * as pulumi from "@pulumi/pulumi";
import { applianceRootKeyProvider } from "../../../../providers/resources/appliance-root-key";
import { authorizedKeyProvider } from "../../../../providers/resources/authorized-key";
import { backupPolicyProvider } from "../../../../providers/resources/backup-policy";
import { rsyncTargetProvider } from "../../../../providers/resources/rsync-target";
import { SharedReads, forgetAllSharedReads } from "../../../../providers/transport/shared-reads";
import { type CommandResult, type RemoteCommand, sshPool } from "../../../../providers/transport/ssh";
import { ed25519PublicKey } from "../../../support/keys";

function deferred<T>() {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
}

describe("SharedReads", () => {
    it("gives callers that ask while a read runs the same answer, from one read", async () => {
        const shared = new SharedReads<string>(10_000, () => 0);
        const answer = deferred<string>();
        let reads = 0;
        const read = () => { reads++; return answer.promise; };
        const a = shared.get("k", read);
        const b = shared.get("k", read);
        answer.resolve("config");
        assert.deepEqual(await Promise.all([a, b]), ["config", "config"]);
        assert.equal(reads, 1);
    });

    it("shares a finished read until it is maxAgeMs old, then reads again", async () => {
        let now = 1_000;
        const shared = new SharedReads<number>(10_000, () => now);
        let reads = 0;
        const read = async () => ++reads;
        assert.equal(await shared.get("k", read), 1);
        now += 9_999;
        assert.equal(await shared.get("k", read), 1);
        now += 1;
        assert.equal(await shared.get("k", read), 2);
        assert.equal(reads, 2);
    });

    it("keys reads apart", async () => {
        const shared = new SharedReads<string>(10_000, () => 0);
        assert.equal(await shared.get("a", async () => "A"), "A");
        assert.equal(await shared.get("b", async () => "B"), "B");
        assert.equal(shared.size, 2);
    });

    it("does not keep a failed read: the next caller reads again", async () => {
        const shared = new SharedReads<string>(10_000, () => 0);
        await assert.rejects(shared.get("k", async () => { throw new Error("connection dropped"); }), /connection dropped/);
        assert.equal(await shared.get("k", async () => "second"), "second");
    });

    it("forgetAllSharedReads empties every instance", async () => {
        const a = new SharedReads<string>(10_000, () => 0);
        const b = new SharedReads<string>(10_000, () => 0);
        await a.get("k", async () => "A");
        await b.get("k", async () => "B");
        forgetAllSharedReads();
        assert.deepEqual([a.size, b.size], [0, 0]);
        assert.equal(await a.get("k", async () => "A again"), "A again");
    });

    it("reads again after forget, even while the forgotten read still runs", async () => {
        const shared = new SharedReads<string>(10_000, () => 0);
        const slow = deferred<string>();
        const before = shared.get("k", () => slow.promise);
        shared.forget("k");
        const after = shared.get("k", async () => "after the write");
        slow.resolve("before the write");
        assert.equal(await before, "before the write");
        assert.equal(await after, "after the write");
        assert.equal(await shared.get("k", async () => "third"), "after the write");
    });
});

describe("refresh reads over a fake transport", () => {
    // Called as the dynamic-provider host calls them, with the engine's property bags.
    const rootKeys: pulumi.dynamic.ResourceProvider = applianceRootKeyProvider;
    const rsyncTargets: pulumi.dynamic.ResourceProvider = rsyncTargetProvider;
    const policies: pulumi.dynamic.ResourceProvider = backupPolicyProvider;

    const hostKey = ed25519PublicKey();
    const rootKey = ed25519PublicKey();
    const realRun = sshPool.run;
    let sent: string[];
    let configReads: number;
    let authorizedKeysContent: string;
    /** The ports of appliances that speak contract 2, whose config show carries the root key. */
    const contract2 = new Set<number>();

    function config(hostname: string, hour: number, port: number) {
        return {
            ...(contract2.has(port) ? { contract: 2, rootKey: { publicKey: rootKey, fingerprint: "SHA256:x" }, lastFailure: null, events: [] } : { contract: 1 }),
            ok: true, hostname,
            backup: {
                system: true, secrets: false, video: true, masterPasswordSet: false, hour,
                destination: { mode: "rsync", partitionId: null },
                notifications: { email: true, siem: true, emailTo: null },
            },
            partitions: [], credentials: [],
            rsync: { user: "senhauser", host: "127.0.0.1", port: 2222, path: "/files/backup/senhasegura" },
            lastBackup: null,
        };
    }

    let hour = 5;
    function fakeRun(conn: any, command: RemoteCommand): Promise<CommandResult> {
        const argv = command.argv.join(" ");
        sent.push(`${conn.port} ${argv.startsWith("sh -c") ? `sh ${command.argv[3]}` : argv}`);
        const ok = (body: unknown) => Promise.resolve({ code: 0, stdout: JSON.stringify(body), stderr: "" });
        if (argv === "orbit backup config show --json") { configReads++; return ok(config(`appliance-${conn.port}`, hour, conn.port)); }
        if (argv === "orbit root-key show --json") return ok({ ok: true, publicKey: rootKey, fingerprint: "SHA256:x" });
        if (argv === "orbit rsync test --json") return ok({ ok: true, reachable: true });
        if (argv.startsWith("orbit backup time")) { hour = Number(command.argv[4]); return ok({ ok: true, changed: true }); }
        if (command.argv[3] === "ssb-read-authorized-keys") {
            const stdout = `file=/home/senhauser/.ssh/authorized_keys\ndir=present\ndirmode=700\ndirowner=senhauser\nstate=present\nfilemode=600\nfileowner=senhauser\nsha=abc\n---\n${Buffer.from(authorizedKeysContent).toString("base64")}\n`;
            return Promise.resolve({ code: 0, stdout, stderr: "" });
        }
        return Promise.resolve({ code: 2, stdout: JSON.stringify({ ok: false, error: { code: "usage", message: `unexpected ${argv}` } }), stderr: "" });
    }

    // Each test uses its own ports: the providers' shared reads live for the process.
    let nextPort = 40_000;
    function appliance() {
        return { host: "127.0.0.1", port: nextPort++, user: "mt4adm", hostKey, privateKeyPath: "/keys/mt4adm", driver: "contract", useSudo: true, dialTimeoutSec: 15, commandTimeoutSec: 120, dialAttempts: 3 };
    }

    async function refreshAppliance(connection: object, rsyncExtra: object = {}) {
        const rsync = { connection, user: "senhauser", host: "127.0.0.1", port: 2222, path: "/files/backup/senhasegura", testOnRefresh: false, reachable: true, reachError: null, ...rsyncExtra };
        const policy = { connection, system: true, secrets: false, video: true, hour: 5, notifications: { email: true, siem: true }, destination: { type: "rsync" } };
        return Promise.all([
            rootKeys.read!("k", { connection }),
            rsyncTargets.read!("r", rsync),
            policies.read!("p", policy),
        ]);
    }

    beforeEach(() => {
        sent = [];
        configReads = 0;
        hour = 5;
        (sshPool as any).run = fakeRun;
    });
    afterEach(() => { (sshPool as any).run = realRun; });

    it("an appliance's three resources read its configuration once, and the host name comes from it", async () => {
        const connection = appliance();
        const [key, rsync, policy] = await refreshAppliance(connection);
        assert.equal(configReads, 1, sent.join("\n"));
        assert.deepEqual(sent.map((s) => s.split(" ").slice(1).join(" ")).sort(), ["orbit backup config show --json", "orbit root-key show --json"]);
        assert.equal(key.props!.hostname, `appliance-${connection.port}`);
        assert.equal(rsync.props!.path, "/files/backup/senhasegura");
        assert.equal(policy.props!.hour, 5);
    });

    it("a contract 2 appliance is read with one orbit command: its root key comes with the configuration", async () => {
        const connection = appliance();
        contract2.add(connection.port);
        const [key] = await refreshAppliance(connection);
        assert.deepEqual(sent.map((s) => s.split(" ").slice(1).join(" ")), ["orbit backup config show --json"]);
        assert.equal(key.props!.publicKey, rootKey.trim());
        assert.equal(key.props!.fingerprint, "SHA256:x");
    });

    it("RsyncTarget runs `orbit rsync test` on refresh only with testOnRefresh, and keeps the last answer otherwise", async () => {
        const quiet = await refreshAppliance(appliance(), { reachable: false, reachError: "Permission denied (publickey)" });
        assert.ok(!sent.some((s) => s.includes("rsync test")), sent.join("\n"));
        assert.equal(quiet[1].props!.reachable, false);
        assert.equal(quiet[1].props!.reachError, "Permission denied (publickey)");
        sent = [];
        const tested = await refreshAppliance(appliance(), { testOnRefresh: true, reachable: false, reachError: "old" });
        assert.equal(sent.filter((s) => s.includes("rsync test")).length, 1, sent.join("\n"));
        assert.equal(tested[1].props!.reachable, true);
        assert.equal(tested[1].props!.reachError, null);
        assert.equal(tested[1].inputs!.testOnRefresh, true);
    });

    it("a change forgets the shared configuration: the next read sees it", async () => {
        const connection = appliance();
        await refreshAppliance(connection);
        const desired = { connection, system: true, secrets: false, video: true, hour: 7, notifications: { email: true, siem: true }, destination: { type: "rsync" } };
        await policies.update!("p", { ...desired, hour: 5 }, desired);
        const after = await policies.read!("p", desired);
        assert.equal(after.props!.hour, 7);
        // the refresh read, update's own fresh read, and the read after the change
        assert.equal(configReads, 3, sent.join("\n"));
    });

    it("twenty AuthorizedKeys in one authorized_keys read the file once", async () => {
        const server = { host: "127.0.0.1", port: nextPort++, user: "bkpadmin", hostKey, privateKeyPath: "/keys/bkpadmin", dialTimeoutSec: 15, commandTimeoutSec: 120, dialAttempts: 3 };
        const keys = Array.from({ length: 20 }, () => ed25519PublicKey());
        const options = 'restrict,command="rrsync -wo -no-lock -absolute /files/backup/senhasegura"';
        authorizedKeysContent = keys.map((k, i) => `${options} ${k} appliance-${i}\n`).join("");
        const checked = await Promise.all(keys.map((publicKey) => authorizedKeyProvider.check!({}, { connection: server, targetUser: "senhauser", publicKey, restrictTo: "/files/backup/senhasegura" })));
        checked.forEach((c) => assert.deepEqual(c.failures, []));
        const reads = await Promise.all(checked.map((c) => authorizedKeyProvider.read!("a", c.inputs!)));
        assert.equal(sent.length, 1, sent.join("\n"));
        reads.forEach((r, i) => {
            assert.equal(r.props!.effectiveOptions, options);
            assert.equal(r.props!.comment, `appliance-${i}`);
        });
    });
});
