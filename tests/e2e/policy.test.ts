// The backup-compliance policy pack (policy/) in a real `pulumi preview
// --policy-pack policy/`, offline, through engine v3.248.0 and the analyzer
// plugin scripts/toolchain installs. A stack that breaks every rule fails the
// preview with each rule's message; the same stack made compliant passes.
// Previews of a new stack only run the providers' checks, so this file needs
// no lab: the hosts and keys below are made up (the keys are real, throwaway
// ones, since check parses them) and never dialled.
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { REPO, type TestStack, createTestStack } from "../support/engine";
import { ed25519PublicKey, sshKeyPair } from "../support/keys";

const POLICY_PACK = path.join(REPO, "policy");
const PROGRAM = path.join(__dirname, "programs", "drift");

const hostKeyLine = (): string => ed25519PublicKey();

/** A throwaway private key in OpenSSH format: the providers' check wants a real key, and nothing dials with it. */
const throwawayPrivateKey = () => sshKeyPair("ed25519").private;

const CIFS_PASSWORD = `policy-cifs-${crypto.randomBytes(9).toString("base64url")}`;
const MASTER_PASSWORD = `policy-master-${crypto.randomBytes(9).toString("base64url")}`;

const EXPECTED_VIOLATIONS: Record<string, string> = {
    "secrets-backup-on": 'BackupPolicy appliance-0-policy: the secrets backup ("break the glass") is off (secrets is false).',
    "video-backup-on": "BackupPolicy appliance-0-policy: the video backup of proxy sessions is off (video is false). Set video: true.",
    "host-keys-pinned": "AuthorizedKey appliance-0-appliance-key: connection.hostKey is not set, so the SSH host key of 127.0.0.1:2222 is not pinned.",
    "appliance-keys-restricted": "AuthorizedKey appliance-0-appliance-key: the appliance key on 127.0.0.1:2222 is not restricted: its options (none (unrestricted: true)) lack restrict and a forced command=\"…\".",
    "cifs-credentials-secret": "RemotePartition appliance-0-cifs: password (the CIFS password of senhabkp) is a plain value, so it sits unencrypted in config or code.",
};

describe("policy pack: backup compliance in pulumi preview --policy-pack policy/", function () {
    this.timeout(180_000);
    let t: TestStack;

    before(async () => {
        t = await createTestStack(PROGRAM, {
            applianceHost: { value: "127.0.0.1" }, appliancePort: { value: "59022" }, applianceUser: { value: "mt4adm" },
            applianceHostKey: { value: hostKeyLine() }, appliancePrivateKey: { value: throwawayPrivateKey(), secret: true },
            serverHost: { value: "127.0.0.1" }, serverPort: { value: "2222" }, serverAdminUser: { value: "bkpadmin" },
            serverHostKey: { value: hostKeyLine() }, serverAdminPrivateKey: { value: throwawayPrivateKey(), secret: true },
            backupUser: { value: "senhauser" }, backupPath: { value: "/files/backup/senhasegura" },
            rsyncHost: { value: "127.0.0.1" }, rsyncPort: { value: "2222" },
            cifsPartitionId: { value: "policy-cifs" }, cifsHost: { value: "127.0.0.1" }, cifsPort: { value: "4450" }, cifsPath: { value: "/backup" },
            cifsUser: { value: "senhabkp" }, cifsPassword: { value: CIFS_PASSWORD, secret: true },
            nfsPartitionId: { value: "policy-nfs" }, nfsHost: { value: "127.0.0.1" }, nfsPort: { value: "20490" }, nfsPath: { value: "/senhasegura" },
            // Every rule broken at once: video off, no master password (secrets off), the key
            // unrestricted, the backup server's host key left out, the CIFS password plain.
            video: { value: "false" }, keyRestriction: { value: "none" }, omitServerHostKey: { value: "true" }, plainCifsPassword: { value: "true" },
        });
    });

    after(async () => {
        if (t) await t.stack.workspace.removeStack(t.name);
    });

    it("fails the preview of a violating stack with every rule's message", async () => {
        const events: EngineEvent[] = [];
        const output: string[] = [];
        let failure: any;
        try {
            await t.stack.preview({ policyPacks: [POLICY_PACK], color: "never", onEvent: (e) => events.push(e), onOutput: (l) => output.push(l) });
        } catch (err) {
            failure = err;
        }
        const text = `${output.join("")}\n${failure?.message ?? ""}`;
        assert.ok(failure, `the preview must fail on mandatory violations:\n${text}`);
        const violations = events.filter((e) => e.policyEvent).map((e) => e.policyEvent!);
        assert.deepEqual([...new Set(violations.map((v) => v.policyName))].sort(), Object.keys(EXPECTED_VIOLATIONS).sort(),
            `each rule reports once:\n${violations.map((v) => `${v.policyName}: ${v.message}`).join("\n")}`);
        for (const v of violations) {
            assert.equal(v.policyPackName, "senhasegura-backup-compliance");
            assert.equal(v.enforcementLevel, "mandatory");
            assert.ok(v.message.includes(EXPECTED_VIOLATIONS[v.policyName]), `${v.policyName}: ${v.message}`);
            assert.ok(text.includes(EXPECTED_VIOLATIONS[v.policyName]), `the CLI output shows the ${v.policyName} message`);
        }
        assert.ok(!text.includes(CIFS_PASSWORD), "the plain CIFS password must not be printed, even by the rule that catches it");
        assert.ok(!JSON.stringify(events).includes(CIFS_PASSWORD), "nor appear in the engine events");
    });

    it("takes each rule's enforcement level from --policy-pack-config: advisory reports without failing, disabled is silent", async () => {
        const levels = Object.fromEntries(Object.keys(EXPECTED_VIOLATIONS).map((rule) => [rule, rule === "cifs-credentials-secret" ? "disabled" : "advisory"]));
        const configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ssb-policy-config-")), "policy-config.json");
        fs.writeFileSync(configFile, JSON.stringify(levels));
        const events: EngineEvent[] = [];
        const result = await t.stack.preview({ policyPacks: [POLICY_PACK], policyPackConfigs: [configFile], color: "never", onEvent: (e) => events.push(e) });
        const violations = events.filter((e) => e.policyEvent).map((e) => e.policyEvent!);
        assert.deepEqual(violations.map((v) => v.policyName).sort(), Object.keys(EXPECTED_VIOLATIONS).filter((r) => r !== "cifs-credentials-secret").sort());
        // The SDK types enforcementLevel as "warning" | "mandatory"; the engine sends "advisory".
        assert.ok(violations.every((v) => (v.enforcementLevel as string) === "advisory"), violations.map((v) => `${v.policyName}: ${v.enforcementLevel}`).join(", "));
        assert.equal(result.changeSummary.create, 7, "an advisory violation does not stop the preview");
        fs.rmSync(path.dirname(configFile), { recursive: true, force: true });
    });

    it("passes the preview of the same stack made compliant", async () => {
        await t.stack.removeAllConfig(["video", "keyRestriction", "omitServerHostKey", "plainCifsPassword"]);
        await t.stack.setConfig("masterPassword", { value: MASTER_PASSWORD, secret: true });
        const events: EngineEvent[] = [];
        const result = await t.stack.preview({ policyPacks: [POLICY_PACK], color: "never", onEvent: (e) => events.push(e) });
        assert.deepEqual(events.filter((e) => e.policyEvent).map((e) => e.policyEvent!.message), []);
        assert.match(result.stdout, /senhasegura-backup-compliance@v1\.0\.0 \(local: /, "the pack ran");
        assert.equal(result.changeSummary.create, 7);
        assert.ok(!result.stdout.includes(MASTER_PASSWORD) && !result.stdout.includes(CIFS_PASSWORD));
    });
});
