// scripts/adopt's pure half (scripts/adopt-plan.ts) and the providers' adoption
// helper (providers/scaffolding/adoption.ts), without a host: the command line and its errors,
// the stack config for each destination as found, what adopt says about a weak or
// missing key line, the YAML it prints, the `pulumi config` calls of --set (never
// a secret), and the differences an adopting create reports.
import { strict as assert } from "assert";
import * as yaml from "js-yaml";
import { adoptionDifferences } from "../../../../providers/scaffolding/adoption";
import type { OrbitConfig } from "../../../../providers/appliance/orbit";
import {
    AdoptError, type ApplianceFindings, type ArgsContext, type KeyLineFinding, NAMESPACE, adoptedStack, configSetCalls, parseArgs, renderYaml, weakerThanRules,
} from "../../../../cli/adopt/plan";
import { ed25519PublicKey } from "../../../support/keys";
import { UsageError } from "../../../../cli/shared/args";


const APPLIANCE_PIN = ed25519PublicKey();
const SERVER_PIN = ed25519PublicKey();
const ROOT_KEY = `${ed25519PublicKey("root@core-pam")}`;
const RESTRICTED = 'restrict,command="rrsync -wo -no-lock -absolute /files/backup/senhasegura"';

const ctx = (files: Record<string, unknown> = {}): ArgsContext => ({
    cwd: "/home/ops", project: "/srv/senhasegura-backup",
    readAppliances: (file) => {
        if (!(file in files)) throw new UsageError(`cannot read ${file}: ENOENT`);
        return files[file];
    },
});
const applianceFlags = ["--host", "10.0.0.5", "--host-key", APPLIANCE_PIN, "--private-key-file", "keys/mt4adm"];
const serverFlags = ["--backup-server-user", "bkpadmin", "--backup-server-host-key", SERVER_PIN, "--backup-server-private-key-file", "/home/ops/keys/bkpadmin"];

function usageError(argv: string[], files?: Record<string, unknown>): string {
    try {
        parseArgs(argv, ctx(files));
    } catch (err) {
        assert.ok(err instanceof UsageError, `not a usage error: ${err}`);
        return err.message;
    }
    assert.fail(`${argv.join(" ")} was accepted`);
}

function liveConfig(change: (c: OrbitConfig) => void = () => undefined): OrbitConfig {
    const c: OrbitConfig = {
        ok: true, contract: 2, hostname: "core-pam",
        backup: {
            system: true, secrets: true, video: false, masterPasswordSet: true, hour: 3,
            destination: { mode: "rsync", partitionId: null },
            notifications: { email: true, siem: false, emailTo: "backup-alerts@example.com" },
        },
        partitions: [],
        credentials: [{ id: "corp-backup" }],
        rsync: { user: "senhauser", host: "backup.example.com", port: 22, path: "/files/backup/senhasegura" },
        lastBackup: { id: "20261126T050000Z-1a2b", startedAt: "2026-11-26T05:00:00.000Z", destination: "rsync://senhauser@backup.example.com:22/files/backup/senhasegura" },
    };
    change(c);
    return c;
}

function findings(config: OrbitConfig, keyLine: KeyLineFinding = {
    present: true, options: RESTRICTED, comment: "root@core-pam", fileMode: "600", dirMode: "700", fileOwner: "senhauser",
}, server: { host?: string; port?: number } = {}): ApplianceFindings {
    const args = parseArgs([...applianceFlags, ...serverFlags, "--stack", "prod"], ctx());
    assert.notEqual(args, "help");
    const target = (args as Exclude<typeof args, "help">).appliances[0];
    return {
        target, config, rootKey: { publicKey: ROOT_KEY, fingerprint: "SHA256:abc" },
        backupServer: config.backup.destination.mode !== "rsync" ? undefined : {
            connection: { host: server.host ?? "backup.example.com", port: server.port ?? 22, user: "bkpadmin", hostKey: SERVER_PIN, privateKeyFile: "/home/ops/keys/bkpadmin" },
            keyLine,
        },
    };
}

const valuesOf = (f: ApplianceFindings) => Object.fromEntries(adoptedStack(f).values.map((v) => [v.key, v.value]));
const notesOf = (f: ApplianceFindings) => adoptedStack(f).notes.join("\n");

describe("scripts/adopt: the command line", () => {
    it("takes one appliance with the vendor's port and user by default, and key files as absolute paths", () => {
        const args = parseArgs([...applianceFlags, ...serverFlags, "--set", "--stack", "prod"], ctx());
        assert.deepEqual(args, {
            set: true, cwd: "/srv/senhasegura-backup",
            appliances: [{
                stack: "prod", host: "10.0.0.5", port: 59022, user: "mt4adm", hostKey: APPLIANCE_PIN, privateKeyFile: "/home/ops/keys/mt4adm",
                backupServer: { user: "bkpadmin", hostKey: SERVER_PIN, privateKeyFile: "/home/ops/keys/bkpadmin" },
            }],
        });
        assert.equal(parseArgs(["--help"], ctx()), "help");
        const withEquals = parseArgs(["--host=10.0.0.6", "--port=2222", `--host-key=${APPLIANCE_PIN}`, "--private-key-file=/k", "--cwd", "../proj"], ctx());
        assert.deepEqual(withEquals !== "help" && [withEquals.appliances[0].port, withEquals.appliances[0].host, withEquals.cwd], [2222, "10.0.0.6", "/home/proj"]);
    });

    it("takes a list of appliances (JSON or YAML, already parsed), key files relative to the list, and the backup server flags as every entry's default", () => {
        const file = "/etc/senhasegura/fleet.yaml";
        const args = parseArgs(["--appliances", file, ...serverFlags, "--set"], ctx({
            [file]: { appliances: [
                { stack: "site-a", host: "10.0.0.5", hostKey: APPLIANCE_PIN, privateKeyFile: "keys/a" },
                { stack: "site-b", host: "10.0.1.5", port: 22, user: "admin", hostKey: APPLIANCE_PIN, privateKeyFile: "/abs/b",
                    backupServer: { host: "backup-b.example.com", hostKey: SERVER_PIN, privateKeyFile: "keys/bkp-b" } },
            ] },
        }));
        assert.ok(args !== "help");
        assert.deepEqual(args.appliances.map((a) => [a.stack, a.port, a.user, a.privateKeyFile, a.backupServer?.host, a.backupServer?.user, a.backupServer?.privateKeyFile]), [
            ["site-a", 59022, "mt4adm", "/etc/senhasegura/keys/a", undefined, "bkpadmin", "/home/ops/keys/bkpadmin"],
            ["site-b", 22, "admin", "/abs/b", "backup-b.example.com", undefined, "/etc/senhasegura/keys/bkp-b"],
        ]);
    });

    const cases: Array<[string, string[], RegExp, Record<string, unknown>?]> = [
        ["no appliance at all", [], /name the appliance with --host, --host-key and --private-key-file, or list appliances with --appliances FILE/],
        ["no host key pin", ["--host", "10.0.0.5", "--private-key-file", "/k"], /^--host-key is required$/],
        ["a pin that is no pin", ["--host", "10.0.0.5", "--host-key", "AAAA", "--private-key-file", "/k"], /^--host-key is not a valid host key pin/],
        ["a host that is no host", ["--host", "bad host!", "--host-key", APPLIANCE_PIN, "--private-key-file", "/k"], /^--host must be an IPv4 address or a DNS name/],
        ["a port that is no number", [...applianceFlags, "--port", "ssh"], /^--port must be a port number, but "ssh" was provided$/],
        ["a port out of range", [...applianceFlags, "--port", "70000"], /^--port must be a whole number from 1 to 65535$/],
        ["a bad backup server pin", [...applianceFlags, "--backup-server-host-key", "nope", "--backup-server-private-key-file", "/k"], /^--backup-server-host-key is not a valid host key pin/],
        ["an unknown flag", [...applianceFlags, "--password", "x"], /^unknown argument "--password"$/],
        ["a flag twice", [...applianceFlags, "--host", "10.0.0.6"], /^--host is given twice$/],
        ["a flag without its value", ["--host"], /^--host needs a value$/],
        ["--set without a stack", [...applianceFlags, "--set"], /^--set needs --stack NAME/],
        ["a stack name with a space", [...applianceFlags, "--stack", "my stack"], /^--stack must be a stack name/],
        ["--appliances with --host", ["--appliances", "/f", "--host", "10.0.0.5"], /^--appliances and --host cannot be combined/, { "/f": [] }],
        ["an empty list", ["--appliances", "/f"], /^\/f must hold a non-empty list of appliances/, { "/f": [] }],
        ["an entry with a bad field", ["--appliances", "/f"], /^\/f: appliance 1: port must be a whole number/, { "/f": [{ host: "a", hostKey: APPLIANCE_PIN, privateKeyFile: "k" }, { host: "b", port: 0, hostKey: APPLIANCE_PIN, privateKeyFile: "k" }] }],
        ["--set with an entry without a stack", ["--appliances", "/f", "--set"], /^--set needs a stack for every appliance; \/f gives none for appliance 1$/, { "/f": [{ stack: "a", host: "a", hostKey: APPLIANCE_PIN, privateKeyFile: "k" }, { host: "b", hostKey: APPLIANCE_PIN, privateKeyFile: "k" }] }],
        ["one stack for two appliances", ["--appliances", "/f", "--set"], /^stack a is named for two appliances/, { "/f": [{ stack: "a", host: "a", hostKey: APPLIANCE_PIN, privateKeyFile: "k" }, { stack: "a", host: "b", hostKey: APPLIANCE_PIN, privateKeyFile: "k" }] }],
    ];
    for (const [title, argv, message, files] of cases) {
        it(`refuses ${title}, naming the flag`, () => assert.match(usageError(argv, files), message));
    }
});

describe("scripts/adopt: the stack config of what it found", () => {
    it("rsync, the key line as this project writes it: every key index.ts reads, the master password left to the user", () => {
        const f = findings(liveConfig());
        const stack = adoptedStack(f);
        assert.deepEqual(valuesOf(f), {
            name: "core-pam", adopted: "true", verify: "false",
            appliance: { host: "10.0.0.5", port: 59022, user: "mt4adm", hostKey: APPLIANCE_PIN, privateKeyPath: "/home/ops/keys/mt4adm" },
            destination: "rsync",
            backupServer: { host: "backup.example.com", port: 22, user: "bkpadmin", hostKey: SERVER_PIN, privateKeyPath: "/home/ops/keys/bkpadmin", backupUser: "senhauser", path: "/files/backup/senhasegura" },
            systemBackup: "true", videoBackup: "false", secretsBackup: "true", hour: "3", notifyEmail: "true", notifySiem: "false", notifyEmailTo: "backup-alerts@example.com",
        });
        assert.deepEqual(stack.secrets.map((s) => s.key), ["masterPassword"]);
        assert.equal(stack.stack, "prod");
        assert.match(notesOf(f), /options restrict,command="rrsync -wo -no-lock -absolute \/files\/backup\/senhasegura"; comment "root@core-pam"; file mode 600/);
        assert.doesNotMatch(notesOf(f), /weaker|next preview shows/);
        assert.match(notesOf(f), /last successful backup: 20261126T050000Z-1a2b/);
    });

    it("a weak key line: says why it is weak, and that the next preview shows the tightening update", () => {
        const notes = notesOf(findings(liveConfig(), { present: true, options: "", comment: "root@core-pam", fileMode: "644", dirMode: "755", fileOwner: "senhauser" }));
        assert.match(notes, /That is weaker than this project's rules: the key has no options: it can log in to a shell/);
        assert.match(notes, /The first up records the line as it is and writes nothing; the next preview shows the update that sets its options to restrict,command="rrsync -wo -no-lock -absolute \/files\/backup\/senhasegura", file mode to 600, directory mode to 700, and the up after applies it/);
    });

    it("a key line that is missing: the first up adds it, a change on the backup server", () => {
        assert.match(notesOf(findings(liveConfig(), { present: false })), /is not in senhauser's authorized_keys on backup\.example\.com:22, so its backups cannot be arriving there\. The first up adds it, restricted/);
    });

    it("a backup server adopt reached under another name: the appliance's name is kept, and the note says Pulumi must reach it", () => {
        const f = findings(liveConfig(), undefined, { host: "10.9.9.9", port: 2222 });
        assert.equal((valuesOf(f).backupServer as Record<string, unknown>).host, "backup.example.com");
        assert.match(notesOf(f), /adopt reached the backup server as 10\.9\.9\.9:2222, and the appliance reaches it as backup\.example\.com:22/);
    });

    it("CIFS as a user: the share, its partition id, and the CIFS password left to the user; other partitions and the rsync target noted, not adopted", () => {
        const f = findings(liveConfig((c) => {
            c.backup.destination = { mode: "partition", partitionId: "share" };
            c.backup.secrets = false;
            c.backup.notifications.emailTo = null;
            c.partitions = [
                { id: "share", protocol: "cifs", host: "files.example.com", port: 445, path: "/backup/pam", user: "svc", domain: "CORP", credentialId: null, passwordSet: true, mounted: false, mountedAt: null },
                { id: "old-nfs", protocol: "nfs", host: "nfs.example.com", port: 2049, path: "/exports/pam", user: null, domain: null, credentialId: null, passwordSet: false, mounted: true },
            ];
        }));
        const stack = adoptedStack(f);
        const values = valuesOf(f);
        assert.deepEqual([values.destination, values.partitionId, values.cifs], ["cifs", "share", { host: "files.example.com", port: 445, path: "/backup/pam", user: "svc", domain: "CORP" }]);
        assert.equal(values.backupServer, undefined);
        assert.equal(values.secretsBackup, undefined, "the secrets backup is off: nothing to require");
        assert.equal(values.notifyEmailTo, undefined);
        assert.deepEqual(stack.secrets.map((s) => s.key), ["cifsPassword"]);
        const notes = stack.notes.join("\n");
        assert.match(notes, /The CIFS password cannot be read back/);
        assert.match(notes, /Partition share is not mounted\. The first up records that; the next preview shows the update that mounts it/);
        assert.match(notes, /Not adopted, and left as they are: partition old-nfs \(nfs:\/\/nfs\.example\.com:2049\/exports\/pam\)/);
        assert.match(notes, /Not adopted, and left as it is: the rsync target senhauser@backup\.example\.com:22\/files\/backup\/senhasegura/);
    });

    it("CIFS with a registered credential, and NFS: no password to set", () => {
        const cifs = adoptedStack(findings(liveConfig((c) => {
            c.backup.destination = { mode: "partition", partitionId: "share" };
            c.backup.secrets = false;
            c.partitions = [{ id: "share", protocol: "cifs", host: "files.example.com", port: 445, path: "/backup", user: null, domain: null, credentialId: "corp-backup", passwordSet: false, mounted: true }];
        })));
        assert.deepEqual(cifs.values.find((v) => v.key === "cifs")?.value, { host: "files.example.com", port: 445, path: "/backup", credentialId: "corp-backup" });
        assert.deepEqual(cifs.secrets, []);
        const nfs = adoptedStack(findings(liveConfig((c) => {
            c.backup.destination = { mode: "partition", partitionId: "nfs-main" };
            c.partitions = [{ id: "nfs-main", protocol: "nfs", host: "nfs.example.com", port: 2049, path: "/exports/pam", user: null, domain: null, credentialId: null, passwordSet: false, mounted: true }];
        })));
        assert.deepEqual(nfs.values.filter((v) => ["destination", "partitionId", "nfs"].includes(v.key)).map((v) => v.value),
            ["nfs", "nfs-main", { host: "nfs.example.com", port: 2049, path: "/exports/pam" }]);
        assert.deepEqual(nfs.secrets.map((s) => s.key), ["masterPassword"]);
    });

    it("refuses what it cannot describe: no destination, or rsync without the backup server's connection", () => {
        assert.throws(() => adoptedStack(findings(liveConfig((c) => { c.backup.destination = { mode: "none", partitionId: null }; }))),
            (err: Error) => err instanceof AdoptError && /sends its backups nowhere \(destination none\), so there is nothing to adopt/.test(err.message));
        const f = { ...findings(liveConfig()), backupServer: undefined };
        assert.throws(() => adoptedStack(f), (err: Error) => err instanceof AdoptError
            && /sends backups over rsync to senhauser@backup\.example\.com:22\/files\/backup\/senhasegura, and adopt reads the root key's line there: give --backup-server-host-key and --backup-server-private-key-file/.test(err.message));
    });
});

describe("scripts/adopt: what it prints and sets", () => {
    it("prints YAML for Pulumi.<stack>.yaml: namespaced keys, text quoted as Pulumi stores it, numbers in objects, notes and secrets as comments", () => {
        const stack = adoptedStack(findings(liveConfig()));
        const text = renderYaml([stack], "2026-11-26T08:00:00.000Z");
        const doc = yaml.load(text) as { config: Record<string, any> };
        assert.equal(doc.config[`${NAMESPACE}:hour`], "3");
        assert.equal(doc.config[`${NAMESPACE}:adopted`], "true");
        assert.equal(doc.config[`${NAMESPACE}:backupServer`].port, 22);
        assert.deepEqual(Object.keys(doc.config), stack.values.map((v) => `${NAMESPACE}:${v.key}`));
        assert.match(text, /^# Pulumi\.prod\.yaml: appliance mt4adm@10\.0\.0\.5:59022 \(core-pam\), as scripts\/adopt found it on 2026-11-26T08:00:00\.000Z\./);
        assert.match(text, /^#   pulumi config set --secret masterPassword --stack prod\n#     \(the secrets backup is on/m);
        for (const line of text.split("\n")) assert.ok(line.length <= 120 || !line.startsWith("#"), `a comment line is too long: ${line}`);
        const two = renderYaml([stack, { ...stack, stack: "dr" }], "now");
        assert.equal(two.split("\n---\n").length, 2, "one YAML document per appliance");
    });

    it("sets objects field by field after removing the old value, numbers as int and the rest as text, and never a secret", () => {
        const calls = configSetCalls(adoptedStack(findings(liveConfig())));
        assert.deepEqual(calls.find((c) => c.key === "hour")?.argv, ["config", "set", "--stack", "prod", "hour", "--", "3"]);
        const backup = calls.filter((c) => c.key.startsWith("backupServer"));
        assert.deepEqual(backup[0].argv, ["config", "rm", "--stack", "prod", "backupServer"]);
        assert.deepEqual(backup.find((c) => c.key === "backupServer.port")?.argv, ["config", "set", "--stack", "prod", "--path", "--type", "int", "backupServer.port", "--", "22"]);
        assert.deepEqual(backup.find((c) => c.key === "backupServer.hostKey")?.argv, ["config", "set", "--stack", "prod", "--path", "--type", "string", "backupServer.hostKey", "--", SERVER_PIN]);
        for (const c of calls) {
            assert.ok(!c.argv.includes("--secret"), `a secret set: ${c.argv.join(" ")}`);
            assert.ok(!/password|privateKey$/i.test(c.key), `a secret key set: ${c.key}`);
        }
    });
});

describe("adoption: how a weak key line and a changed setting are described", () => {
    it("weakerThanRules says what a key line's options let the appliance's key do beyond writing backups", () => {
        const dir = "/files/backup/senhasegura";
        assert.equal(weakerThanRules(RESTRICTED, dir), undefined);
        assert.match(String(weakerThanRules("", dir)), /no options: it can log in to a shell/);
        assert.match(String(weakerThanRules("no-pty", dir)), /lacks restrict .* and an rrsync command/);
        assert.match(String(weakerThanRules('restrict,command="/usr/bin/rrsync /files/backup/senhasegura"', dir)), /lacks rrsync -wo/);
        assert.match(String(weakerThanRules('restrict,command="rrsync -wo /files"', dir)), /lacks rrsync limited to \/files\/backup\/senhasegura/);
        assert.match(String(weakerThanRules('command="rrsync -wo -no-lock -absolute /files/backup/senhasegura"', dir)), /lacks restrict/);
    });

    it("adoptionDifferences names each differing field, never shows a secret, and leaves out the connection and adopt", () => {
        const live = { connection: { host: "a" }, hour: 3, notifications: { email: true }, masterPassword: undefined, adopt: undefined };
        const desired = { connection: { host: "b" }, hour: 5, notifications: { email: true }, masterPassword: "correct horse battery staple", adopt: true };
        const out = adoptionDifferences(live, desired, { secret: ["masterPassword"] });
        assert.deepEqual(out, ["hour: 3 on the host, 5 in the program", "masterPassword: none on the host, one in the program (secret)"]);
        assert.ok(!out.join(" ").includes("correct horse"));
        assert.deepEqual(adoptionDifferences({ hour: 3, adopt: true }, { hour: 3 }), []);
        assert.deepEqual(adoptionDifferences({ effectiveOptions: "" }, { effectiveOptions: RESTRICTED }),
            [`effectiveOptions: "" on the host, ${JSON.stringify(RESTRICTED)} in the program`]);
    });
});
