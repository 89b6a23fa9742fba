// What the restore drill checks, found in a stack's state (scripts/stack-targets.ts):
// state shaped as `pulumi stack export --show-secrets` prints it (engine v3.248.0),
// grouped by parent URN, with a clear error for an appliance the drill cannot check,
// and every revealed secret collected for scrubbing.
import { strict as assert } from "assert";
import { runtime } from "@pulumi/pulumi";
import { ed25519PublicKey, sshKeyPair } from "../../../support/keys";
import { type ContractTarget, type DrillTarget, type TargetProblem, TYPES, type VendorTarget, reportFlavor, isProblem, reportedBackup, revealSecrets, selectTargets, stackTargets } from "../../../../cli/shared/stack-targets";

const MASTER = "the lab master password 1";
const CIFS_PASSWORD = "cifs-Pa55word";
const ADMIN_KEY = sshKeyPair("ed25519").private;
const HOST_KEY = ed25519PublicKey();

const shown = (v: unknown) => ({ [runtime.specialSigKey]: runtime.specialSecretSig, plaintext: JSON.stringify(v) });
const hidden = () => ({ [runtime.specialSigKey]: runtime.specialSecretSig, ciphertext: "AAAAEKkJ…" });

const MANIFEST = { path: "backup/manifests/20261126T080000Z-1a2b.json", size: 812, sha256: "e".repeat(64) };
const REPORT = JSON.stringify({ ok: true, contract: 2, id: "20261126T080000Z-1a2b", destination: "rsync://…", kinds: ["system"], files: [], bytes: 1, durationMs: 1, startedAt: "2026-11-26T08:00:00.000Z", manifest: { ...MANIFEST, files: [] } });

const PREFIX = "urn:pulumi:prod::backups::";
const STACK = `${PREFIX}pulumi:pulumi:Stack::backups-prod`;
const componentUrn = (name: string) => `${PREFIX}senhasegura:backup:ApplianceBackup::${name}`;
const childUrn = (type: string, name: string, parent = "senhasegura:backup:ApplianceBackup$") => `${PREFIX}${parent}${type}::${name}`;

const applianceConnection = (port = 59022) => ({ host: "10.0.0.5", port, user: "mt4adm", hostKey: "SHA256:abc", privateKey: shown("appliance key") });
const rsyncSide = { type: "rsync", server: { host: "10.0.0.9", port: 22, user: "bkpadmin", hostKey: HOST_KEY, privateKey: shown(ADMIN_KEY) }, path: "/files/backup/senhasegura", useSudo: true };

function applianceBackup(name: string, opts: { verification?: boolean; masterPassword?: unknown; destination?: unknown; port?: number } = {}): any[] {
    const urn = componentUrn(name);
    const out: any[] = [{ urn, type: TYPES.component, parent: STACK, custom: false }];
    out.push({
        urn: childUrn(TYPES.policy, `${name}-policy`), type: TYPES.policy, parent: urn, custom: true,
        inputs: { __provider: "exports.handler = …", connection: applianceConnection(opts.port), system: true, secrets: true, video: true, destination: { type: "rsync" },
            ...(opts.masterPassword === undefined ? {} : { masterPassword: opts.masterPassword }) },
        outputs: {},
    });
    if (opts.verification !== false) {
        out.push({
            urn: childUrn(TYPES.verification, `${name}-verification`), type: TYPES.verification, parent: urn, custom: true,
            inputs: { __provider: "exports.handler = …", report: REPORT, appliance: `mt4adm@10.0.0.5:${opts.port ?? 59022}`, destination: opts.destination ?? rsyncSide },
            outputs: {},
        });
    }
    return out;
}

const deployment = (resources: any[]) => ({ version: 3, deployment: { manifest: {}, resources: [{ urn: STACK, type: "pulumi:pulumi:Stack" }, ...resources] } });
const targetsOf = (resources: any[]) => stackTargets(deployment(resources)).targets;
const ok = (t: DrillTarget | TargetProblem): ContractTarget => {
    assert.ok(!isProblem(t), (t as TargetProblem).error);
    assert.equal((t as DrillTarget).flavor, "contract");
    return t as ContractTarget;
};

describe("restore drill: what to check, from the stack's state", () => {
    const VENDOR_REPORT = "Orbini Backup 1.1.0.2\n[2026-12-07 05:00:01]: BACKUP INFO Using configuration file '/var/senhasegura/orbinibkp.conf'\n"
        + "[2026-12-07 05:00:09]: senhasegura FILE INFO /var/orbini/backup/senhasegura/ backup successfully performed\nDuration: 8.1s\n";

    it("tells a vendor appliance's report (orbit's log lines) from contract 2's JSON", () => {
        assert.equal(reportFlavor(VENDOR_REPORT), "vendor");
        assert.equal(reportFlavor(REPORT), "contract");
        assert.equal(reportFlavor(undefined), "contract");
        assert.equal(reportFlavor("no log line here"), "contract");
    });

    it("a vendor appliance needs no master password: it takes the verification's master key and the kinds the policy declares", () => {
        const resources = applianceBackup("appliance-0");
        const verification = resources.find((r) => r.type === TYPES.verification);
        verification.inputs = { ...verification.inputs, report: VENDOR_REPORT, masterKey: shown("0f3a-77c1-9e2b") };
        const found = stackTargets(deployment(resources));
        const t = found.targets[0] as VendorTarget;
        assert.ok(!isProblem(t), (t as unknown as TargetProblem).error);
        assert.equal(t.flavor, "vendor");
        assert.equal(t.masterKey, "0f3a-77c1-9e2b");
        assert.deepEqual(t.declared, { secrets: true, video: true });
        assert.ok(found.secrets.includes("0f3a-77c1-9e2b"), "the master key is collected for scrubbing");
        delete verification.inputs.masterKey;
        assert.equal((stackTargets(deployment(resources)).targets[0] as VendorTarget).masterKey, undefined, "no key: the drill says so when a file needs one");
    });
    it("finds each ApplianceBackup's destination, appliance and master password", () => {
        const found = stackTargets(deployment([...applianceBackup("appliance-0", { masterPassword: shown(MASTER) }), ...applianceBackup("appliance-1", { masterPassword: shown("second master pass"), port: 59023 })]));
        assert.equal(found.targets.length, 2);
        const t = ok(found.targets[0]);
        assert.equal(t.name, "appliance-0");
        assert.equal(t.urn, componentUrn("appliance-0"));
        assert.equal(t.appliance, "mt4adm@10.0.0.5:59022");
        assert.equal(t.masterPassword, MASTER);
        assert.equal(t.destination.type, "rsync");
        assert.equal((t.destination as any).server.privateKey, ADMIN_KEY, "the secret key of the backup server is revealed for the connection");
        assert.equal(ok(found.targets[1]).masterPassword, "second master pass");
        assert.deepEqual(t.reported, { backupId: "20261126T080000Z-1a2b", manifest: MANIFEST }, "the manifest digest orbit reported at pulumi up");
        for (const s of [MASTER, ADMIN_KEY, "appliance key", "second master pass"]) assert.ok(found.secrets.includes(s), `${s} is collected for scrubbing`);
    });

    it("reads a CIFS destination, its password revealed and collected, and an NFS one with its default port", () => {
        const cifs = { type: "cifs", host: "10.0.0.7", port: 445, path: "/backup/senhasegura", user: "senhabkp", password: shown(CIFS_PASSWORD) };
        const found = stackTargets(deployment([
            ...applianceBackup("a-cifs", { masterPassword: shown(MASTER), destination: cifs }),
            ...applianceBackup("a-nfs", { masterPassword: shown(MASTER), destination: { type: "nfs", host: "10.0.0.8", path: "/exports/senhasegura" } }),
        ]));
        assert.equal((ok(found.targets[0]).destination as any).password, CIFS_PASSWORD);
        assert.ok(found.secrets.includes(CIFS_PASSWORD));
        assert.deepEqual(ok(found.targets[1]).destination, { type: "nfs", host: "10.0.0.8", port: 2049, path: "/exports/senhasegura" });
    });

    it("gives a clear error for an ApplianceBackup without a verification, and for one without a master password", () => {
        const [noVerify, noMaster] = targetsOf([
            ...applianceBackup("no-verify", { verification: false, masterPassword: shown(MASTER) }),
            ...applianceBackup("no-master"),
        ]);
        assert.ok(isProblem(noVerify) && isProblem(noMaster));
        assert.equal(noVerify.appliance, "mt4adm@10.0.0.5:59022");
        assert.match(noVerify.error, /^ApplianceBackup no-verify has no BackupVerification child \(verify: false, or a CIFS share reached with a credential registered on the appliance/);
        assert.match(noMaster.error, /^ApplianceBackup no-master: its BackupPolicy no-master-policy has no masterPassword, so the secrets backup is off .* set policy\.masterPassword \(a secret/);
    });

    it("says the secrets are encrypted when the state was exported without --show-secrets", () => {
        const [t] = targetsOf(applianceBackup("appliance-0", { masterPassword: hidden(), destination: { ...rsyncSide, server: { ...rsyncSide.server, privateKey: hidden() } } }));
        assert.ok(isProblem(t));
        assert.match(t.error, /the state's secrets are encrypted: export the state with --show-secrets/);
    });

    it("names the field of a destination it cannot read, without its value", () => {
        const [t] = targetsOf(applianceBackup("appliance-0", { masterPassword: shown(MASTER), destination: { type: "ftp", host: "x" } }));
        assert.ok(isProblem(t));
        assert.match(t.error, /^ApplianceBackup appliance-0: its BackupVerification's destination in the state is not one the drill can read \(destination\.type /);
    });

    it("pairs verifications and policies declared without the component by their appliance", () => {
        const flat = (name: string, port: number, master: string) => {
            const [, policy, verification] = applianceBackup(name, { masterPassword: shown(master), port });
            return [{ ...policy, parent: STACK, urn: childUrn(TYPES.policy, `${name}-policy`, "") }, { ...verification, parent: STACK, urn: childUrn(TYPES.verification, `${name}-verification`, "") }];
        };
        const targets = targetsOf([...flat("a", 59022, "password of a 1"), ...flat("b", 59023, "password of b 2")]);
        assert.deepEqual(targets.map((t) => [t.name, ok(t).masterPassword]), [["a-verification", "password of a 1"], ["b-verification", "password of b 2"]]);
    });

    it("leaves out resources pending deletion, and finds nothing in an empty stack", () => {
        const old = applianceBackup("appliance-0", { masterPassword: shown("old master password") }).map((r) => ({ ...r, delete: true }));
        const targets = targetsOf([...old, ...applianceBackup("appliance-0", { masterPassword: shown(MASTER) })]);
        assert.equal(targets.length, 1);
        assert.equal(ok(targets[0]).masterPassword, MASTER);
        assert.deepEqual(stackTargets(deployment([])).targets, []);
        assert.deepEqual(stackTargets({}).targets, []);
    });

    it("picks the appliance --appliance names, or says which there are", () => {
        const targets = targetsOf([...applianceBackup("appliance-0", { masterPassword: shown(MASTER) }), ...applianceBackup("appliance-1")]);
        assert.deepEqual(selectTargets(targets, "appliance-1").map((t) => t.name), ["appliance-1"]);
        assert.equal(selectTargets(targets, undefined).length, 2);
        assert.throws(() => selectTargets(targets, "appliance-9"), /^Error: the stack has no appliance named "appliance-9": its ApplianceBackups are appliance-0, appliance-1$/);
    });

    it("reads the verified backup's id and manifest digest from orbit's report, and nothing from what is not one", () => {
        assert.deepEqual(reportedBackup(JSON.stringify({ ok: true, id: "20261126T080000Z-1a2b", files: [] })), { backupId: "20261126T080000Z-1a2b" });
        assert.equal(reportedBackup("not json"), undefined);
        assert.equal(reportedBackup(JSON.stringify({ id: "../etc" })), undefined);
        assert.equal(reportedBackup(undefined), undefined);
    });

    it("reveals nested secrets, and collects a whole secret object's password and key fields but not its host or user", () => {
        const found = new Set<string>();
        const out = revealSecrets({ a: shown({ host: "10.0.0.5", user: "mt4adm", password: "pw-in-object", privateKey: "k-in-object" }), b: [shown("in a list")] }, found);
        assert.deepEqual(out, { a: { host: "10.0.0.5", user: "mt4adm", password: "pw-in-object", privateKey: "k-in-object" }, b: ["in a list"] });
        assert.deepEqual([...found].sort(), ["in a list", "k-in-object", "pw-in-object"]);
    });
});
