// The dev program's stack config (index.ts), run in-process under Pulumi's mocks with
// the config the engine would hand it: every wrong or missing key fails the run with a
// pulumi.RunError that names the key, the rule and the value (never a secret's), says
// how to fix it, and declares no resource. A good config declares the backup with its
// values and keeps secrets secret; the lab wiring (program/lab-config.ts) fills only what
// the stack leaves unset, and is never loaded without labFile. Pulumi.yaml declares
// exactly the program's keys, with its defaults, and docs/configuration.md lists them.
import { fixtureAppliance } from "../../support/lab-fixture";
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ed25519PublicKey, sshKeyPair } from "../../support/keys";

const REPO = path.resolve(__dirname, "..", "..", "..");
const PROGRAM = path.join(REPO, "index.ts");
const LAB_HELPER = path.join(REPO, "program", "lab-config.ts");
const NS = "senhasegura-backup";
const SECRET_KEYS = ["appliancePrivateKey", "backupServerPrivateKey", "cifsPassword", "masterPassword"];
// js-yaml comes with @pulumi/pulumi; it has no types of its own here.
const yaml: { load(text: string): unknown } = require("js-yaml");

interface Declared { type: string; name: string; inputs: Record<string, any> }
interface Run { error?: Error; resources: Declared[]; outputs?: Record<string, unknown> }

/** A value the mocks got as a secret, unwrapped; fails when it is not one. */
function secretValue(value: any): unknown {
    assert.equal(value?.[pulumi.runtime.specialSigKey], pulumi.runtime.specialSecretSig, `not a secret: ${JSON.stringify(value)?.slice(0, 80)}`);
    return value.value;
}

/** Waits until no resource has been declared for a while: the program's registrations are async. */
async function settled(resources: Declared[]): Promise<void> {
    let seen = -1;
    while (seen !== resources.length) {
        seen = resources.length;
        await new Promise((resolve) => setTimeout(resolve, 30));
    }
}

/** Runs index.ts once, with `config` (keys without the namespace) as the engine would hand it. */
async function run(config: Record<string, string>): Promise<Run> {
    const resources: Declared[] = [];
    await pulumi.runtime.setMocks({
        newResource: (args) => {
            resources.push({ type: args.type, name: args.name, inputs: args.inputs });
            return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
    }, NS, "unit", false);
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(config).map(([key, value]) => [`${NS}:${key}`, value])),
        SECRET_KEYS.filter((key) => key in config).map((key) => `${NS}:${key}`),
    );
    delete require.cache[PROGRAM];
    delete require.cache[LAB_HELPER];
    let program: Record<string, pulumi.Output<unknown>>;
    try {
        program = require(PROGRAM);
    } catch (error) {
        await settled(resources);
        return { error: error as Error, resources };
    }
    const outputs: Record<string, unknown> = {};
    for (const [name, output] of Object.entries(program)) outputs[name] = await new Promise((resolve) => output.apply(resolve));
    await settled(resources);
    return { resources, outputs };
}

/** The run's error, which must be a RunError (a clean message, no stack) with nothing declared. */
function configError(r: Run): string {
    assert.ok(r.error, `the run did not fail; it declared ${r.resources.map((d) => d.name).join(", ")}`);
    assert.ok(pulumi.RunError.isInstance(r.error), `not a RunError but ${r.error.name}: ${r.error.message}`);
    assert.deepEqual(r.resources.map((d) => d.name), [], "a bad config must declare nothing");
    assert.match(r.error.message, /nothing was declared and nothing ran on any host/);
    return r.error.message;
}

/** The error's lines about one key: its message and its fix. */
function problemAbout(message: string, key: string): string {
    const at = message.indexOf(`  - ${NS}:${key} `);
    assert.ok(at >= 0, `the error does not name ${NS}:${key}:\n${message}`);
    const next = message.indexOf("\n  - ", at + 1);
    const text = message.slice(at, next < 0 ? undefined : next);
    assert.match(text, /\n {4}To fix: \S/, `no fix for ${key}:\n${text}`);
    return text;
}

// ------------------------------------------------------------------ fixtures

const applianceHostKey = ed25519PublicKey();
const serverHostKey = ed25519PublicKey();
const applianceKey = sshKeyPair("ed25519").private;
const fingerprint = (keyLine: string) =>
    "SHA256:" + createHash("sha256").update(Buffer.from(keyLine.split(" ")[1], "base64")).digest("base64").replace(/=+$/, "");

const APPLIANCE = { host: "10.0.0.5", hostKey: applianceHostKey };
const BACKUP_SERVER = {
    host: "backup.example.com", user: "bkpadmin", hostKey: fingerprint(serverHostKey),
    privateKeyPath: "/home/ci/.ssh/bkpadmin_ed25519", backupUser: "senhauser", path: "/files/backup/senhasegura",
};
/** A stack for a real appliance backing up over rsync, as the README sets one up. */
const PRODUCTION: Record<string, string> = {
    appliance: JSON.stringify(APPLIANCE),
    appliancePrivateKey: applianceKey,
    backupServer: JSON.stringify(BACKUP_SERVER),
};
const withConfig = (changes: Record<string, string | undefined>, base = PRODUCTION) => {
    const config = { ...base, ...changes };
    for (const [key, value] of Object.entries(changes)) if (value === undefined) delete config[key];
    return config as Record<string, string>;
};
const withField = (key: string, field: string, value: unknown, base: Record<string, unknown> = key === "appliance" ? APPLIANCE : BACKUP_SERVER) =>
    withConfig({ [key]: JSON.stringify({ ...base, [field]: value }) });

/** The config the CLI hands a program for a stack that sets `stack`: Pulumi.yaml's defaults under it. */
function projectConfig(): Record<string, { type?: string; description?: string; default?: unknown }> {
    const project = yaml.load(fs.readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8")) as { config: Record<string, any> };
    return Object.fromEntries(Object.entries(project.config).map(([key, declared]) => [key.replace(`${NS}:`, ""), declared]));
}
function withProjectDefaults(stack: Record<string, string>): Record<string, string> {
    const defaults = Object.entries(projectConfig()).map(([key, declared]) =>
        [key, typeof declared.default === "object" ? JSON.stringify(declared.default) : String(declared.default)]);
    return { ...Object.fromEntries(defaults), ...stack };
}

let labDir: string;
let labFile: string;
const labCifsPassword = "lab-cifs-Password-1";
const labSudoPassword = "lab-sudo-Password-1";
/** A description as lab/start writes it (lab/description.ts checks every field). */
const LAB = {
    version: 1,
    root: "/var/lib/senhasegura-lab",
    privileged: true,
    appliances: [{
        name: "appliance-0", host: "127.0.0.1", port: 59022, user: "mt4adm", privateKeyPath: "/var/lib/senhasegura-lab/keys/mt4adm_ed25519", hostKey: applianceHostKey,
        hostKeyFingerprint: "SHA256:appliance", orbitRoot: "/var/lib/senhasegura-lab/appliances/appliance-0", rootPublicKey: ed25519PublicKey("root@appliance-0"), sshdLog: "/var/lib/senhasegura-lab/logs/sshd-appliance-0.log",
        orbit: "vendor", sudoPasswordPath: fixtureAppliance(0).sudoPasswordPath, masterKeyPath: fixtureAppliance(0).masterKeyPath, vendorPaths: fixtureAppliance(0).vendorPaths,
    }],
    rsyncServer: {
        host: "127.0.0.1", port: 2222, hostKey: serverHostKey, hostKeyFingerprint: "SHA256:server", backupUser: "senhauser", backupPath: "/files/backup/senhasegura",
        authorizedKeysPath: "/var/lib/senhasegura-lab/home/senhauser/.ssh/authorized_keys", sshdLog: "/var/lib/senhasegura-lab/logs/sshd-rsync.log",
        adminUser: "bkpadmin", adminPrivateKeyPath: "/var/lib/senhasegura-lab/keys/bkpadmin_ed25519", operatorPrivateKeyPath: "/var/lib/senhasegura-lab/keys/operator_ed25519",
    },
    cifs: { available: true, host: "127.0.0.1", port: 4445, share: "backup", remotePath: "/backup", user: "senhacifs", passwordPath: "", localPath: "/var/lib/senhasegura-lab/cifs", credentialId: "lab-cifs" },
    nfs: { available: true, host: "127.0.0.1", port: 2049, remotePath: "/exports/senhasegura", localPath: "/var/lib/senhasegura-lab/nfs" },
    skipped: [],
};
function writeLab(description: unknown, name = "lab.json"): string {
    const file = path.join(labDir, name);
    fs.writeFileSync(file, typeof description === "string" ? description : JSON.stringify(description));
    return file;
}

before(() => {
    labDir = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-stack-config-"));
    const passwordPath = path.join(labDir, "cifs-password");
    fs.writeFileSync(passwordPath, `${labCifsPassword}\n`);
    LAB.cifs.passwordPath = passwordPath;
    // The verification backup reads the appliance key file at declaration: a file of
    // this test's own, so the test needs no running lab.
    const keyPath = path.join(labDir, "mt4adm_ed25519");
    fs.writeFileSync(keyPath, applianceKey, { mode: 0o600 });
    LAB.appliances[0].privateKeyPath = keyPath;
    const sudoPath = path.join(labDir, "mt4adm-sudo-password");
    fs.writeFileSync(sudoPath, `${labSudoPassword}\n`, { mode: 0o600 });
    LAB.appliances[0].sudoPasswordPath = sudoPath;
    labFile = writeLab(LAB);
});
after(() => fs.rmSync(labDir, { recursive: true, force: true }));

// ------------------------------------------------------------------ tests

describe("stack config: each wrong or missing key names the key, the rule and the value", function () {
    this.timeout(60_000);

    const cases: Array<{ title: string; config: Record<string, string>; key: string; rule: RegExp; value?: string }> = [
        { title: "a destination other than rsync, cifs or nfs", config: withConfig({ destination: "ftp" }), key: "destination", rule: /must be rsync, cifs or nfs/, value: '"ftp"' },
        { title: "an hour past 23", config: withConfig({ hour: "25" }), key: "hour", rule: /must be a whole hour from 0 to 23/, value: "25" },
        { title: "an hour that is not a whole number", config: withConfig({ hour: "5.5" }), key: "hour", rule: /must be a whole number/, value: '"5.5"' },
        { title: "a flag that is not true or false", config: withConfig({ systemBackup: "yes" }), key: "systemBackup", rule: /must be true or false/, value: '"yes"' },
        { title: "a partition id with capitals", config: withConfig({ partitionId: "Backup_1" }), key: "partitionId", rule: /must be 1-63 lowercase letters, digits or '-'/, value: '"Backup_1"' },
        { title: "a name on two lines", config: withConfig({ name: "app\nliance" }), key: "name", rule: /must be printable ASCII on one line/, value: '"app\\u000aliance"' },
        { title: "no appliance", config: withConfig({ appliance: undefined }), key: "appliance", rule: /is required: how to reach the appliance/ },
        { title: "an appliance host that is no host name", config: withField("appliance", "host", "bad host!"), key: "appliance.host", rule: /must be an IPv4 address or a DNS name/, value: '"bad host!"' },
        { title: "an appliance port out of range", config: withField("appliance", "port", 70000), key: "appliance.port", rule: /must be a whole number from 1 to 65535/, value: "70000" },
        { title: "an appliance port given as text", config: withField("appliance", "port", "59022"), key: "appliance.port", rule: /must be a number/, value: '"59022"' },
        { title: "an appliance host key that is no pin", config: withField("appliance", "hostKey", "AAAA-not-a-key"), key: "appliance.hostKey", rule: /is not a valid host key pin/, value: '"AAAA-not-a-key"' },
        { title: "a misspelt appliance field", config: withField("appliance", "hostkey", "x"), key: "appliance", rule: /has no field "hostkey": its fields are host, port, user, hostKey, privateKeyPath/ },
        { title: "a relative appliance key path", config: withConfig({ appliance: JSON.stringify({ ...APPLIANCE, privateKeyPath: "keys/id" }), appliancePrivateKey: undefined }), key: "appliance.privateKeyPath", rule: /must be an absolute path/, value: '"keys/id"' },
        { title: "no appliance key at all", config: withConfig({ appliancePrivateKey: undefined }), key: "appliancePrivateKey", rule: /is required, or appliance\.privateKeyPath/ },
        { title: "an appliance given as text, not an object", config: withConfig({ appliance: "10.0.0.5" }), key: "appliance", rule: /must be an object/, value: '"10.0.0.5"' },
        { title: "no backup server for rsync", config: withConfig({ backupServer: undefined }), key: "backupServer", rule: /is required for the rsync destination/ },
        { title: "the backup directory '/'", config: withField("backupServer", "path", "/"), key: "backupServer.path", rule: /must not be '\/': name the backup directory itself/, value: '"/"' },
        { title: "a relative backup directory", config: withField("backupServer", "path", "files/backup"), key: "backupServer.path", rule: /must be absolute/, value: '"files/backup"' },
        { title: "no backup server user", config: withField("backupServer", "user", undefined), key: "backupServer.user", rule: /is required/ },
        { title: "a backup user that is no Unix user", config: withField("backupServer", "backupUser", "root;id"), key: "backupServer.backupUser", rule: /must start with a letter or '_'/, value: '"root;id"' },
        { title: "no key for the backup server", config: withField("backupServer", "privateKeyPath", undefined), key: "backupServerPrivateKey", rule: /is required, or backupServer\.privateKeyPath/ },
        { title: "no share for cifs", config: withConfig({ destination: "cifs" }), key: "cifs", rule: /is required for the cifs destination/ },
        { title: "a share with neither user nor credential", config: withConfig({ destination: "cifs", cifs: JSON.stringify({ host: "files.example.com", path: "/backup" }) }), key: "cifs.user", rule: /or cifs\.credentialId is required, not both: .* but neither were provided/ },
        { title: "a share user without cifsPassword", config: withConfig({ destination: "cifs", cifs: JSON.stringify({ host: "files.example.com", path: "/backup", user: "senhacifs" }) }), key: "cifsPassword", rule: /is required with cifs\.user/ },
        { title: "a bad CIFS domain", config: withConfig({ destination: "cifs", cifs: JSON.stringify({ host: "files.example.com", path: "/backup", credentialId: "corp", domain: "-bad domain" }) }), key: "cifs.domain", rule: /must be letters, digits, '\.' or '-'/, value: '"-bad domain"' },
        { title: "no export for nfs", config: withConfig({ destination: "nfs" }), key: "nfs", rule: /is required for the nfs destination/ },
        { title: "a relative NFS path", config: withConfig({ destination: "nfs", nfs: JSON.stringify({ host: "nfs.example.com", path: "exports" }) }), key: "nfs.path", rule: /must be absolute/, value: '"exports"' },
        { title: "a misspelt key", config: withConfig({ hours: "4" }), key: "hours", rule: /is not a key of this program; did you mean hour\?/ },
        { title: "a backup age of 0 hours", config: withConfig({ maxBackupAgeHours: "0" }), key: "maxBackupAgeHours", rule: /must be from 1 to 8760 hours/, value: "0" },
        { title: "a backup age past a year", config: withConfig({ maxBackupAgeHours: "9000" }), key: "maxBackupAgeHours", rule: /must be from 1 to 8760 hours/, value: "9000" },
        { title: "a backup age that is not a whole number", config: withConfig({ maxBackupAgeHours: "26.5" }), key: "maxBackupAgeHours", rule: /must be a whole number/, value: '"26.5"' },
        { title: "a notification address that is no address", config: withConfig({ notifyEmailTo: "ops at example" }), key: "notifyEmailTo", rule: /must be one e-mail address/, value: '"ops at example"' },
        { title: "adopted that is not a flag", config: withConfig({ adopted: "yes" }), key: "adopted", rule: /must be true or false/, value: '"yes"' },
        { title: "retainOnDelete that is not a flag", config: withConfig({ retainOnDelete: "always" }), key: "retainOnDelete", rule: /must be true or false/, value: '"always"' },
        { title: "the secrets backup on without its master password", config: withConfig({ secretsBackup: "true" }), key: "masterPassword", rule: /is required with secretsBackup true: .* cannot be left out or guessed/ },
        { title: "the secrets backup off with a master password", config: withConfig({ secretsBackup: "false", masterPassword: "correct horse battery staple" }), key: "secretsBackup", rule: /is false, but masterPassword is set/ },
    ];
    for (const c of cases) {
        it(`${c.title}: ${NS}:${c.key}`, async () => {
            const problem = problemAbout(configError(await run(c.config)), c.key);
            assert.match(problem, c.rule);
            if (c.value !== undefined) assert.ok(problem.includes(`but ${c.value} was provided`) || problem.includes(`; got ${c.value}`), `the value ${c.value} is not in:\n${problem}`);
        });
    }

    const secretCases: Array<{ title: string; key: string; value: string; config?: Record<string, string>; rule: RegExp }> = [
        { title: "a master password too short", key: "masterPassword", value: "Short-Pw-9", rule: /must be 12-128 characters, but one of 10 characters was provided/ },
        { title: "a CIFS password with '!' and '&'", key: "cifsPassword", value: "Pass!word&Secret",
            config: { destination: "cifs", cifs: JSON.stringify({ host: "files.example.com", path: "/backup", user: "senhacifs" }) }, rule: /must not contain '&', '!'/ },
        { title: "an appliance key that is no key", key: "appliancePrivateKey", value: "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWJ1dC1icm9rZW4=\n-----END OPENSSH PRIVATE KEY-----", rule: /is not an unencrypted private key/ },
        { title: "a backup server key that is no key", key: "backupServerPrivateKey", value: "hunter2-hunter2", rule: /is not an unencrypted private key/ },
    ];
    for (const c of secretCases) {
        it(`${c.title}: ${NS}:${c.key}, and never its value`, async () => {
            const message = configError(await run(withConfig({ ...c.config, [c.key]: c.value })));
            const problem = problemAbout(message, c.key);
            assert.match(problem, c.rule);
            assert.match(problem, new RegExp(`To fix: pulumi config set --secret ${c.key}`));
            for (const part of [c.value, ...c.value.split("\n").filter((line) => line.length > 8 && !line.startsWith("-----"))]) {
                assert.ok(!message.includes(part), `the secret leaked into the message:\n${message}`);
            }
        });
    }

    it("tells every problem at once, and counts them", async () => {
        const message = configError(await run(withConfig({ hour: "24", destination: "nfs", masterPassword: "x", verify: "maybe" })));
        assert.match(message, new RegExp(`^the config of stack unit has 4 problems, so nothing was declared and nothing ran on any host:`));
        for (const key of ["hour", "nfs", "masterPassword", "verify"]) problemAbout(message, key);
        assert.match(message, /docs\/configuration\.md describes every key\.$/);
    });
});

describe("stack config: a good config", function () {
    this.timeout(60_000);

    it("declares the backup with its values and defaults, and keeps the private key secret", async () => {
        const r = await run(PRODUCTION);
        assert.equal(r.error, undefined);
        const byType = (suffix: string) => {
            const found = r.resources.find((d) => d.type.endsWith(suffix));
            assert.ok(found, `no ${suffix} among ${r.resources.map((d) => d.type).join(", ")}`);
            return found;
        };
        assert.equal(byType(":ApplianceBackup").name, "appliance");
        const policy = byType(":BackupPolicy").inputs;
        assert.deepEqual([policy.hour, policy.system, policy.video, policy.secrets, policy.notifications], [5, true, true, false, { email: true, siem: true }]);
        assert.deepEqual(secretValue(policy.connection), { ...APPLIANCE, privateKey: applianceKey });
        const authorized = byType(":AuthorizedKey").inputs;
        assert.deepEqual([authorized.connection, authorized.targetUser, authorized.restrictTo],
            [{ host: BACKUP_SERVER.host, user: BACKUP_SERVER.user, hostKey: BACKUP_SERVER.hostKey, privateKeyPath: BACKUP_SERVER.privateKeyPath }, "senhauser", BACKUP_SERVER.path]);
        assert.ok(r.resources.some((d) => d.type === "command:remote:Command"), "verify defaults to true: the verification backup is declared");
        assert.match(String(r.outputs?.summary), /^appliance 10\.0\.0\.5:59022 backs up to rsync:\/\/senhauser@backup\.example\.com:22\/files\/backup\/senhasegura daily at 5:00/);
    });

    it("turns the secrets backup on with masterPassword, kept secret, and takes the other keys", async () => {
        const masterPassword = "correct horse battery staple";
        const r = await run(withConfig({ masterPassword, hour: "23", videoBackup: "false", notifySiem: "false", verify: "false", name: "core-pam" }));
        assert.equal(r.error, undefined);
        const policy = r.resources.find((d) => d.type.endsWith(":BackupPolicy"));
        assert.equal(policy?.name, "core-pam-policy");
        assert.deepEqual([policy.inputs.hour, policy.inputs.video, policy.inputs.secrets, policy.inputs.notifications.siem], [23, false, true, false]);
        assert.equal(secretValue(policy.inputs.masterPassword), masterPassword);
        assert.ok(!r.resources.some((d) => d.type === "command:remote:Command"), "verify false declares no verification backup");
    });

    it("builds CIFS and NFS destinations, with the partition id's default", async () => {
        const cifs = await run(withConfig({ destination: "cifs", cifs: JSON.stringify({ host: "files.example.com", path: "/backup/senhasegura", credentialId: "corp-backup" }) }));
        const partition = cifs.resources.find((d) => d.type.endsWith(":RemotePartition"))?.inputs;
        assert.deepEqual([partition?.partitionId, partition?.protocol, partition?.host, partition?.path, partition?.credentialId, partition?.password],
            ["cifs-backup", "cifs", "files.example.com", "/backup/senhasegura", "corp-backup", undefined]);
        const nfs = await run(withConfig({ destination: "nfs", partitionId: "nfs-main", nfs: JSON.stringify({ host: "nfs.example.com", port: 2050, path: "/exports/senhasegura" }) }));
        const exported = nfs.resources.find((d) => d.type.endsWith(":RemotePartition"))?.inputs;
        assert.deepEqual([exported?.partitionId, exported?.protocol, exported?.port, exported?.path], ["nfs-main", "nfs", 2050, "/exports/senhasegura"]);
    });

    it("adopts with adopted true: every child that writes takes adopt: true; without it no child carries the input", async () => {
        const writers = [":AuthorizedKey", ":RsyncTarget", ":BackupPolicy"];
        const adopted = await run(withConfig({ adopted: "true", verify: "false" }));
        assert.equal(adopted.error, undefined);
        for (const suffix of writers) assert.equal(adopted.resources.find((d) => d.type.endsWith(suffix))?.inputs.adopt, true, suffix);
        const partition = await run(withConfig({ adopted: "true", destination: "cifs", cifs: JSON.stringify({ host: "files.example.com", path: "/backup", credentialId: "corp" }) }));
        assert.equal(partition.resources.find((d) => d.type.endsWith(":RemotePartition"))?.inputs.adopt, true);
        const plain = await run(PRODUCTION);
        for (const d of plain.resources) assert.ok(!("adopt" in (d.inputs ?? {})), `${d.name} carries adopt without adopted`);
    });

    it("takes secretsBackup, notifyEmailTo and maxBackupAgeHours", async () => {
        const masterPassword = "correct horse battery staple";
        const r = await run(withConfig({ secretsBackup: "true", masterPassword, notifyEmailTo: "backup-alerts@example.com", maxBackupAgeHours: "48" }));
        assert.equal(r.error, undefined);
        const policy = r.resources.find((d) => d.type.endsWith(":BackupPolicy"))?.inputs;
        assert.deepEqual([policy?.secrets, policy?.notifications], [true, { email: true, siem: true, emailTo: "backup-alerts@example.com" }]);
        const off = await run(withConfig({ secretsBackup: "false" }));
        assert.equal(off.resources.find((d) => d.type.endsWith(":BackupPolicy"))?.inputs.secrets, false);
    });

    it("never loads the lab wiring without labFile", async () => {
        const r = await run(PRODUCTION);
        assert.equal(r.error, undefined);
        assert.equal(require.cache[LAB_HELPER], undefined, "program/lab-config.ts was loaded by a stack without labFile");
    });
});

describe("stack config: the dev stack's lab (labFile)", function () {
    this.timeout(60_000);

    it("fills every key the stack leaves unset from the lab", async () => {
        const r = await run({ labFile });
        assert.equal(r.error, undefined);
        assert.equal(r.resources.find((d) => d.type.endsWith(":ApplianceBackup"))?.name, "appliance-0");
        const lab = LAB.appliances[0];
        // The lab's sudo password is a secret, which makes the connection that holds it one as a whole.
        const { sudoPassword, ...connection } = secretValue(r.resources.find((d) => d.type.endsWith(":BackupPolicy"))?.inputs.connection) as Record<string, unknown>;
        assert.deepEqual(connection, { host: lab.host, port: lab.port, user: lab.user, hostKey: lab.hostKey, privateKeyPath: lab.privateKeyPath, paths: lab.vendorPaths });
        assert.equal(sudoPassword, labSudoPassword);
        assert.equal(r.resources.find((d) => d.type.endsWith(":RsyncTarget"))?.inputs.portInApplianceSshConfig, true);
        const authorized = r.resources.find((d) => d.type.endsWith(":AuthorizedKey"))?.inputs;
        assert.deepEqual([authorized?.connection.user, authorized?.connection.port, authorized?.targetUser, authorized?.restrictTo], ["bkpadmin", 2222, "senhauser", "/files/backup/senhasegura"]);
        assert.match(String(r.outputs?.summary), /^appliance 127\.0\.0\.1:59022 backs up to rsync:\/\/senhauser@127\.0\.0\.1:2222\/files\/backup\/senhasegura/);
    });

    it("keeps what the stack sets: a key the stack sets replaces the lab's", async () => {
        const r = await run({ labFile, name: "mine", backupServer: JSON.stringify({ ...BACKUP_SERVER, path: "/files/backup/alt" }) });
        assert.equal(r.error, undefined);
        assert.ok(r.resources.some((d) => d.name === "mine-policy"));
        const authorized = r.resources.find((d) => d.type.endsWith(":AuthorizedKey"))?.inputs;
        assert.deepEqual([authorized?.connection.host, authorized?.restrictTo], [BACKUP_SERVER.host, "/files/backup/alt"]);
    });

    it("reads the lab's CIFS password only for a CIFS destination, and keeps it secret", async () => {
        const r = await run({ labFile, destination: "cifs" });
        assert.equal(r.error, undefined);
        const partition = r.resources.find((d) => d.type.endsWith(":RemotePartition"))?.inputs;
        assert.deepEqual([partition?.host, partition?.port, partition?.path, partition?.user], ["127.0.0.1", 4445, "/backup", "senhacifs"]);
        assert.equal(secretValue(partition?.password), labCifsPassword);
        // Without Samba the file is missing: an rsync or NFS stack must not need it.
        const noSamba = writeLab({ ...LAB, cifs: { ...LAB.cifs, passwordPath: path.join(labDir, "absent") } }, "no-samba.json");
        for (const destination of ["rsync", "nfs"]) assert.equal((await run({ labFile: noSamba, destination })).error, undefined, destination);
        const message = configErrorOrLab(await run({ labFile: noSamba, destination: "cifs" }));
        assert.match(message, /the lab's CIFS password file .*absent .* cannot be read \(ENOENT\)/);
        assert.match(message, /pulumi config set --secret cifsPassword/);
    });

    it("names labFile when the file is missing or is not the lab's description", async () => {
        const missing = configErrorOrLab(await run({ labFile: path.join(labDir, "nope.json") }));
        assert.match(missing, new RegExp(`^${NS}:labFile names ".*nope\\.json", which cannot be read \\(ENOENT\\): start the lab with bash lab/start`));
        const notJson = configErrorOrLab(await run({ labFile: writeLab("{", "broken.json") }));
        assert.match(notJson, new RegExp(`^${NS}:labFile names ".*broken\\.json", which is not JSON`));
        const empty = configErrorOrLab(await run({ labFile: writeLab({ ...LAB, appliances: [] }, "empty.json") }));
        assert.match(empty, new RegExp(`^${NS}:labFile names ".*empty\\.json", which is not the description lab/start writes \\(appliances holds no appliance\\)`));
    });

    it("names labAppliance when the lab has no such appliance", async () => {
        const message = configErrorOrLab(await run({ labFile, labAppliance: "3" }));
        assert.match(message, new RegExp(`^${NS}:labAppliance must be the index of one of the lab's 1 appliance, 0 to 0, but "3" was provided`));
    });

    it("says when a bad value comes from the lab, and when a key the stack sets hides the lab's", async () => {
        const badLab = writeLab({ ...LAB, rsyncServer: { ...LAB.rsyncServer, hostKey: "garbage" } }, "bad-host-key.json");
        const fromLab = problemAbout(configError(await run({ labFile: badLab })), "backupServer.hostKey");
        assert.match(fromLab, /is not a valid host key pin/);
        assert.match(fromLab, /To fix: the value comes from the lab \(labFile .*bad-host-key\.json\): restart it with bash lab\/start/);
        const partly = problemAbout(configError(await run({ labFile, backupServer: JSON.stringify({ path: "/files/backup/alt" }) })), "backupServer.host");
        assert.match(partly, /is required/);
        assert.match(partly, /the stack sets backupServer, which replaces the lab's whole backupServer: set its every field, or pulumi config rm backupServer to use the lab's/);
    });
});

describe("stack config: a fleet in one stack (appliances)", function () {
    this.timeout(60_000);

    const hostKeys = [ed25519PublicKey(), ed25519PublicKey(), ed25519PublicKey()];
    const ITEMS = [
        { name: "primary", host: "10.0.0.5", hostKey: hostKeys[0], privateKeyPath: "/etc/ssb/mt4adm_ed25519" },
        { name: "contingency", host: "10.0.0.6", hostKey: fingerprint(hostKeys[1]), privateKeyPath: "/etc/ssb/mt4adm_ed25519", hour: 6, videoBackup: false },
        { name: "site-b", host: "10.0.1.5", port: 60022, hostKey: hostKeys[2], privateKeyPath: "/etc/ssb/mt4adm_ed25519", verify: false },
    ];
    /** A fleet stack: the production stack's destination, `items` instead of appliance. */
    const fleetConfig = (items: unknown[], changes: Record<string, string | undefined> = {}) =>
        withConfig({ appliance: undefined, appliancePrivateKey: undefined, appliances: JSON.stringify(items), ...changes });
    /** ITEMS with one field of item `index` set (or removed, with undefined). */
    const withItem = (index: number, field: string, value: unknown) =>
        ITEMS.map((item, i) => i !== index ? item : Object.fromEntries(Object.entries({ ...item, [field]: value }).filter(([, v]) => v !== undefined)));

    const cases: Array<{ title: string; config: Record<string, string>; key: string; rule: RegExp; value?: string; fix?: string }> = [
        { title: "an hour past 23 on the second appliance", config: fleetConfig(withItem(1, "hour", 25)), key: "appliances[1].hour", rule: /must be a whole hour from 0 to 23/, value: "25",
            fix: "pulumi config set --path 'appliances[1].hour' <value>" },
        { title: "a host key that is no pin on the third", config: fleetConfig(withItem(2, "hostKey", "AAAA-not-a-key")), key: "appliances[2].hostKey", rule: /is not a valid host key pin/, value: '"AAAA-not-a-key"' },
        { title: "a host that is no host name", config: fleetConfig(withItem(0, "host", "bad host!")), key: "appliances[0].host", rule: /must be an IPv4 address or a DNS name/, value: '"bad host!"' },
        { title: "a flag that is not a boolean", config: fleetConfig(withItem(2, "verify", "yes")), key: "appliances[2].verify", rule: /must be true or false, but "yes" was provided/ },
        { title: "a name with capitals", config: fleetConfig(withItem(1, "name", "Contingency")), key: "appliances[1].name", rule: /must be 1-63 lowercase letters, digits or '-'/, value: '"Contingency"' },
        { title: "no name", config: fleetConfig(withItem(0, "name", undefined)), key: "appliances[0].name", rule: /is required/ },
        { title: "a misspelt field", config: fleetConfig(withItem(1, "hours", 6)), key: "appliances[1]", rule: /has no field "hours": its fields are name, host, port, user, hostKey, privateKeyPath, privateKey, driver, paths, systemBackup/ },
        { title: "two appliances with one name", config: fleetConfig(withItem(2, "name", "primary")), key: "appliances[2].name", rule: /is "primary", the name of appliances\[0\] too: each appliance needs its own name/ },
        { title: "two items for one appliance", config: fleetConfig(withItem(2, "host", "10.0.0.6").map((item, i) => i === 2 ? { ...item, port: 59022 } : item)), key: "appliances[2].host",
            rule: /and port reach 10\.0\.0\.6:59022, as appliances\[1\] does/ },
        { title: "an appliance without a key", config: fleetConfig(withItem(1, "privateKeyPath", undefined)), key: "appliances[1].privateKeyPath",
            rule: /is required, or appliances\[1\]\.privateKey, or appliancePrivateKey for every appliance: the private key of mt4adm on "contingency"/ },
        { title: "appliance and appliances both", config: fleetConfig(ITEMS, { appliance: JSON.stringify(APPLIANCE) }), key: "appliances", rule: /is set, and so is appliance: a stack declares one appliance \(appliance\) or a fleet/ },
        { title: "name beside appliances", config: fleetConfig(ITEMS, { name: "core" }), key: "name", rule: /is set, but the stack declares a fleet \(appliances\), where each appliance has its own name/ },
        { title: "appliances that is an object, not a list", config: fleetConfig([], { appliances: JSON.stringify({ name: "primary" }) }), key: "appliances", rule: /must be a list of appliances, \[\{name, host, hostKey, \.\.\.\}\], but an object was provided/ },
        { title: "an empty list, which is unset", config: fleetConfig([]), key: "appliance", rule: /is required: how to reach the appliance, .* or appliances for a fleet/ },
    ];
    for (const c of cases) {
        it(`${c.title}: ${NS}:${c.key}`, async () => {
            const problem = problemAbout(configError(await run(c.config)), c.key);
            assert.match(problem, c.rule);
            if (c.value !== undefined) assert.ok(problem.includes(`but ${c.value} was provided`) || problem.includes(`; got ${c.value}`), `the value ${c.value} is not in:\n${problem}`);
            if (c.fix !== undefined) assert.ok(problem.includes(`To fix: ${c.fix}`), `the fix ${c.fix} is not in:\n${problem}`);
        });
    }

    it("names every broken item at once, each by its index", async () => {
        const items = withItem(0, "hour", 24).map((item, i) => i === 2 ? { ...item, port: 0 } : item);
        const message = configError(await run(fleetConfig(items)));
        assert.match(message, /has 2 problems/);
        problemAbout(message, "appliances[0].hour");
        problemAbout(message, "appliances[2].port");
    });

    it("never shows an item's private key, and says to set it with --secret --path", async () => {
        const broken = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWJ1dC1icm9rZW4tZmxlZXQ=\n-----END OPENSSH PRIVATE KEY-----";
        const message = configError(await run(fleetConfig(withItem(1, "privateKey", broken))));
        const problem = problemAbout(message, "appliances[1].privateKey");
        assert.match(problem, /is not an unencrypted private key/);
        assert.ok(problem.includes("To fix: pulumi config set --secret --path 'appliances[1].privateKey' <value>"), problem);
        assert.ok(!message.includes("c2VjcmV0LWJ1dC1icm9rZW4tZmxlZXQ="), `the key leaked:\n${message}`);
    });

    it("declares one ApplianceBackup per item, the shared policy with each item's overrides, and outputs by name", async () => {
        // The key comes from appliancePrivateKey: the verification backup reads a privateKeyPath's file, which is not here.
        const items = ITEMS.map(({ privateKeyPath: _, ...item }) => item);
        const r = await run(fleetConfig(items, { hour: "4", masterPassword: "correct horse battery staple", appliancePrivateKey: applianceKey }));
        assert.equal(r.error, undefined, r.error?.message);
        assert.deepEqual(r.resources.filter((d) => d.type.endsWith(":ApplianceBackup")).map((d) => d.name), ["primary", "contingency", "site-b"]);
        const policy = (name: string) => r.resources.find((d) => d.name === `${name}-policy`)?.inputs;
        assert.deepEqual(["primary", "contingency", "site-b"].map((name) => [policy(name)?.hour, policy(name)?.video, policy(name)?.secrets]),
            [[4, true, true], [6, false, true], [4, true, true]]);
        assert.deepEqual(secretValue(policy("site-b")?.connection), { host: "10.0.1.5", port: 60022, hostKey: hostKeys[2], privateKey: applianceKey });
        assert.equal(secretValue(policy("contingency")?.masterPassword), "correct horse battery staple");
        // verify is the stack's (true) but for site-b, which turns it off.
        const verifications = r.resources.filter((d) => d.type === "command:remote:Command").map((d) => d.name);
        assert.equal(verifications.length, 2, verifications.join(", "));
        assert.ok(verifications.every((name) => !name.startsWith("site-b")), verifications.join(", "));
        // Every appliance's key goes to the one backup server, restricted to the one directory.
        const keys = r.resources.filter((d) => d.type.endsWith(":AuthorizedKey")).map((d) => [d.name, d.inputs.connection.host, d.inputs.restrictTo]);
        assert.deepEqual(keys, ["primary", "contingency", "site-b"].map((name) => [`${name}-appliance-key`, BACKUP_SERVER.host, BACKUP_SERVER.path]));
        const summary = r.outputs?.summary as string[];
        assert.equal(summary.length, 3);
        assert.match(summary[1], /^appliance 10\.0\.0\.6:59022 backs up to rsync:\/\/senhauser@backup\.example\.com:22\/files\/backup\/senhasegura daily at 6:00 \(system true, secrets true, video false\)$/);
        assert.deepEqual(Object.keys(r.outputs?.destinationUrl as object), ["primary", "contingency", "site-b"]);
    });

    it("takes an item's own private key as a secret, and appliancePrivateKey for the items without one", async () => {
        const own = sshKeyPair("ed25519").private;
        const items = [withItem(0, "privateKeyPath", undefined)[0], { ...withItem(1, "privateKeyPath", undefined)[1], privateKey: own }];
        const r = await run(fleetConfig(items, { appliancePrivateKey: applianceKey }));
        assert.equal(r.error, undefined, r.error?.message);
        const connection = (name: string) => secretValue(r.resources.find((d) => d.name === `${name}-policy`)?.inputs.connection) as Record<string, unknown>;
        assert.equal(connection("primary").privateKey, applianceKey);
        assert.equal(connection("contingency").privateKey, own);
    });

    it("the lab supplies its first N appliances with labAppliances, keeping appliance-0's names", async () => {
        const twoAppliances = writeLab({ ...LAB, appliances: [LAB.appliances[0], { ...LAB.appliances[0], name: "appliance-1", port: 59023, hostKey: ed25519PublicKey() }] }, "two.json");
        const r = await run({ labFile: twoAppliances, labAppliances: "2" });
        assert.equal(r.error, undefined, r.error?.message);
        assert.deepEqual(r.resources.filter((d) => d.type.endsWith(":ApplianceBackup")).map((d) => d.name), ["appliance-0", "appliance-1"]);
        // The lab's sudo password makes each connection a secret as a whole.
        assert.equal((secretValue(r.resources.find((d) => d.name === "appliance-1-policy")?.inputs.connection) as { port: number }).port, 59023);
        const single = await run({ labFile: twoAppliances });
        assert.deepEqual(single.resources.filter((d) => d.type.endsWith(":ApplianceBackup")).map((d) => d.name), ["appliance-0"]);
        const tooMany = configErrorOrLab(await run({ labFile: twoAppliances, labAppliances: "3" }));
        assert.match(tooMany, new RegExp(`^${NS}:labAppliances must be how many of the lab's 2 appliances to drive as a fleet, 1 to 2 .* but "3" was provided: start the lab with more, bash lab/start --appliances 3`));
    });
});

/** A lab problem's message: a RunError too, with nothing declared. */
function configErrorOrLab(r: Run): string {
    assert.ok(r.error, "the run did not fail");
    assert.ok(pulumi.RunError.isInstance(r.error), `not a RunError but ${r.error.name}: ${r.error.message}`);
    assert.deepEqual(r.resources.map((d) => d.name), []);
    return r.error.message;
}

describe("stack config: Pulumi.yaml and docs/configuration.md declare the program's keys", function () {
    this.timeout(60_000);

    /** The keys the program knows, as its error for an unknown key lists them. */
    async function programKeys(): Promise<string[]> {
        const message = configError(await run(withConfig({ "no-such-key": "x" })));
        const listed = /Its keys are ([^.]+)\./.exec(message);
        assert.ok(listed, message);
        return listed[1].split(", ").sort();
    }

    it("Pulumi.yaml declares every key with a type, a description and a default, and no other", async () => {
        const declared = projectConfig();
        assert.deepEqual(Object.keys(declared).sort(), await programKeys());
        for (const [key, d] of Object.entries(declared)) {
            // An object key has no type: `type: object` makes the CLI refuse an object stored as JSON text.
            if (d.type === undefined) assert.match(String(d.description), /^(An object, set field by field|A list, set item field by item field) with --path .*or as JSON text\. /, key);
            else assert.ok(["string", "integer", "boolean"].includes(d.type), `${key}: type ${d.type}`);
            assert.ok(typeof d.description === "string" && d.description.length > 20, `${key}: no description`);
            // A declared key without a default is required in every stack (Pulumi's rule).
            assert.notEqual(d.default, undefined, `${key}: no default, so Pulumi would require it`);
        }
        for (const key of SECRET_KEYS) assert.match(String(declared[key].description), /^Secret \(set it with --secret\)/, key);
    });

    it("Pulumi.yaml's defaults are the program's: the same resources with them as without them", async () => {
        for (const stack of [PRODUCTION, { labFile }]) {
            const without = await run(stack);
            const withDefaults = await run(withProjectDefaults(stack));
            assert.equal(without.error, undefined);
            assert.equal(withDefaults.error, undefined, withDefaults.error?.message);
            assert.ok(without.resources.length >= 6);
            assert.deepEqual(withDefaults.resources, without.resources);
            assert.deepEqual(withDefaults.outputs, without.outputs);
        }
    });

    it("docs/configuration.md has a row for every key", async () => {
        const docs = fs.readFileSync(path.join(REPO, "docs", "configuration.md"), "utf8");
        for (const key of await programKeys()) assert.match(docs, new RegExp(`^\\| \`${key}\``, "m"), `no row for ${key}`);
    });
});
