// Secrets: every secret value one stack uses must be found nowhere it could leak.
//
// The stack: the appliance's and the backup server's private keys (as secret config
// values, `privateKey`), the key authorized on the backup server, an rsync target, a
// CIFS partition with its password, a policy with the secrets backup and its master
// password (changed once, so it travels twice), and a verification backup over CIFS
// (whose password also travels to a local smbclient).
//
// Searched, for each secret (the whole password, or each base64 line of a key):
//   - `pulumi stack export` without --show-secrets, after each run, and every file the
//     file backend keeps for the stack (checkpoints, history, backups);
//   - the CLI output of preview (with --diff), up, refresh, preview --refresh, destroy,
//     and the engine events;
//   - the engine's log at -v=5, flowed to the plugins, of an up and a preview --refresh;
//   - the @pulumi/command verification backup's stored stdout and stderr (and its whole
//     state, in the exports above);
//   - the provider's log (SSB_PROVIDER_LOG);
//   - the argv of every process, sampled every few ms while the runs go on;
//   - the lab: both sshd logs (auth), a sudo log (a temporary sudoers drop-in sends
//     sudo's log to a file for mt4adm and bkpadmin), orbit's audit and backup logs,
//     the notification logs, and Samba's logs;
//   - leftovers of the verification's smbclient auth file in the temp directory.
// The count of hits must be 0. (orbinibkp.conf holds the CIFS and master passwords by
// design, as the appliance must; it is root-only, 0600, and is not searched.)
import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { type TestStack, TEST_BACKEND_DIR, createTestStack, exportState } from "../support/engine";
import {
    LabGuard, type SecretHit, ensureLab, filesUnder, findSecrets, hardeningFile, labLogFiles, privateKeyFragments,
    recordFigures, startArgvSampler, withSudoersDropIn,
} from "../support/hardening";
import type { LabAppliance, LabDescription } from "../support/lab";

const PROGRAM = path.join(__dirname, "programs", "hardening");
const CIFS_ID = "hz-secrets-cifs";
const ENGINE_LOG = { logVerbosity: 5, logToStdErr: true, logFlow: true } as const;

function masterPassword(): string {
    // Shell syntax inside, to prove it travels as data on stdin.
    return `Mp-${crypto.randomBytes(12).toString("base64url")}-$(id)\`id\`;'"`;
}

describe("secrets: no secret value in state, CLI output, provider log, argv or the lab's logs", function () {
    this.timeout(600_000);
    let lab: LabDescription;
    let app: LabAppliance;
    let guard: LabGuard;
    let t: TestStack | undefined;
    let providerLog: string;
    let sudoLog: string;
    let secrets: Record<string, string[]>;
    const masterPasswords = [masterPassword(), masterPassword()];
    const exports: string[] = [];
    const engineLog: string[] = [];
    /** stdout and stderr of every verification command, as state keeps them. */
    const commandOutputs: string[] = [];
    const sampled: string[] = [];
    let samples = 0;
    const tmpBefore = new Set(fs.readdirSync(os.tmpdir()));
    const figures = { secrets: 0, valuesSearched: 0, placesSearched: 0, argvSamples: 0, distinctArgv: 0, hits: 0 };

    function resources(master: string) {
        const appliance = { host: app.host, port: app.port, user: app.user, hostKey: app.hostKey, privateKey: { $secret: "applianceKey" } };
        const server = { host: lab.rsyncServer.host, port: lab.rsyncServer.port, user: lab.rsyncServer.adminUser, hostKey: lab.rsyncServer.hostKey, privateKey: { $secret: "serverKey" } };
        return [
            { kind: "ApplianceRootKey", name: "root-key", args: { connection: appliance } },
            { kind: "AuthorizedKey", name: "appliance-key", args: { connection: server, targetUser: lab.rsyncServer.backupUser, publicKey: { $output: "root-key.publicKey" }, restrictTo: lab.rsyncServer.backupPath } },
            { kind: "RsyncTarget", name: "rsync", dependsOn: ["appliance-key"], args: { connection: appliance, user: lab.rsyncServer.backupUser, host: lab.rsyncServer.host, port: lab.rsyncServer.port, path: lab.rsyncServer.backupPath } },
            { kind: "RemotePartition", name: "cifs", args: { connection: appliance, partitionId: CIFS_ID, protocol: "cifs", host: lab.cifs.host, port: lab.cifs.port, path: lab.cifs.remotePath, user: lab.cifs.user, password: { $secret: "cifsPassword" } } },
            { kind: "BackupPolicy", name: "policy", dependsOn: ["rsync", "cifs"], args: { connection: appliance, system: true, video: true, secrets: true, masterPassword: { $secret: master }, hour: 2, destination: { type: "partition", partitionId: CIFS_ID } } },
            { kind: "ApplianceHostKey", name: "host-key", args: { connection: appliance } },
            // The @pulumi/command remote.Command: its state holds the appliance key (encrypted) and the report.
            { kind: "VerificationBackup", name: "backup-run", dependsOn: ["policy"], args: { appliance, hostKeyLine: { $output: "host-key.keyLine" }, triggers: [master], timeoutSec: 120 } },
            { kind: "BackupVerification", name: "verify", args: { report: { $output: "backup-run.stdout" }, destination: { type: "cifs", host: lab.cifs.host, port: lab.cifs.port, path: lab.cifs.remotePath, user: lab.cifs.user, password: { $secret: "cifsPassword" } } } },
        ];
    }

    /** Runs one engine operation with the argv sampler on, and keeps a `stack export` after it. */
    async function sampled_<T>(run: () => Promise<T>): Promise<T> {
        const sampler = startArgvSampler(8);
        try {
            return await run();
        } finally {
            const s = await sampler.stop();
            samples += s.samples;
            sampled.push(...s.cmdlines);
            const state = exportState(t!);
            exports.push(JSON.stringify(state));
            for (const r of state.deployment?.resources ?? []) {
                if (r.type === "command:remote:Command" && r.outputs?.stdout !== undefined) commandOutputs.push(`${r.outputs.stdout}\n${r.outputs.stderr}`);
            }
        }
    }

    const opts = () => ({ onOutput: (l: string) => t!.output.push(l), onEvent: (e: any) => t!.events.push(e) });

    before(async () => {
        lab = ensureLab();
        app = lab.appliances[0];
        guard = new LabGuard(lab, app);
        const applianceKey = fs.readFileSync(app.privateKeyPath, "utf8");
        const serverKey = fs.readFileSync(lab.rsyncServer.adminPrivateKeyPath, "utf8");
        const cifsPassword = fs.readFileSync(lab.cifs.passwordPath, "utf8").trim();
        secrets = {
            "appliance private key": privateKeyFragments(applianceKey),
            "backup server private key": privateKeyFragments(serverKey),
            "CIFS password": [cifsPassword],
            "master password (first)": [masterPasswords[0]],
            "master password (second)": [masterPasswords[1]],
        };
        figures.secrets = Object.keys(secrets).length;
        figures.valuesSearched = Object.values(secrets).flat().length;
        assert.ok(Object.values(secrets).every((v) => v.length > 0 && v.every((x) => x.length >= 8)));
        providerLog = hardeningFile("secrets-provider");
        sudoLog = hardeningFile("sudo");
        t = await createTestStack(PROGRAM, {
            resources: { value: JSON.stringify(resources("master0")) },
            applianceKey: { value: applianceKey, secret: true },
            serverKey: { value: serverKey, secret: true },
            cifsPassword: { value: cifsPassword, secret: true },
            master0: { value: masterPasswords[0], secret: true },
            master1: { value: masterPasswords[1], secret: true },
        }, { SSB_PROVIDER_LOG: providerLog });
    });

    after(async () => {
        try {
            if (t) await t.destroyAndRemove().catch((err) => console.error(`destroy failed: ${err.message}`));
        } finally {
            guard?.restore();
            recordFigures("secrets", figures);
        }
    });

    it("runs preview --diff, up, refresh, a master-password change, preview --refresh --diff and destroy, with sudo logging to a file", async () => {
        const logLine = `Defaults:${app.user} logfile=${sudoLog}\nDefaults:${lab.rsyncServer.adminUser} logfile=${sudoLog}\n`;
        await withSudoersDropIn("zz-ssb-hardening-secrets", logLine, async () => {
            await sampled_(() => t!.stack.preview({ ...opts(), diff: true }));
            const first = await sampled_(() => t!.stack.up(opts()));
            assert.equal(first.summary.result, "succeeded");
            await sampled_(() => t!.stack.refresh(opts()));
            await t!.stack.setConfig("resources", { value: JSON.stringify(resources("master1")) });
            await sampled_(() => t!.stack.preview({ ...opts(), diff: true }));
            // The engine's own log, flowed to the plugins, at the most verbose level the CLI keeps
            // secrets out of (-v=7 and above log resource inputs line by line: docs/security.md).
            const second = await sampled_(() => t!.stack.up({ ...opts(), diff: true, ...ENGINE_LOG }));
            assert.equal(second.summary.result, "succeeded");
            engineLog.push(second.stderr);
            assert.ok((second.summary.resourceChanges?.update ?? 0) >= 2, "the policy and the verification must update with the new master password");
            engineLog.push((await sampled_(() => t!.stack.preview({ ...opts(), refresh: true, diff: true, expectNoChanges: true, ...ENGINE_LOG }))).stderr);
            await sampled_(() => t!.stack.destroy(opts()));
        });
        assert.ok(fs.statSync(sudoLog).size > 0, "sudo wrote no log: the drop-in did not take effect");
    });

    it("finds none of them anywhere", () => {
        const places: Array<{ where: string; text: string }> = [
            ...exports.map((text, i) => ({ where: `pulumi stack export #${i + 1}`, text })),
            ...filesUnder(TEST_BACKEND_DIR, (f) => f.includes(t!.name)).map((x) => ({ ...x, where: `state backend ${x.where}` })),
            { where: "CLI output", text: t!.output.join("") },
            { where: "engine events", text: JSON.stringify(t!.events) },
            { where: `engine log (-v=${ENGINE_LOG.logVerbosity}, flowed to plugins)`, text: engineLog.join("") },
            { where: "the command:remote:Command's stored stdout and stderr", text: commandOutputs.join("\n") },
            { where: "provider log", text: fs.readFileSync(providerLog, "latin1") },
            ...sampled.map((text) => ({ where: `argv: ${text.slice(0, 80)}`, text })),
            { where: "sudo log", text: fs.readFileSync(sudoLog, "latin1") },
            ...labLogFiles(lab).map((f) => ({ where: f, text: fs.existsSync(f) ? fs.readFileSync(f, "latin1") : "" })),
            ...filesUnder(path.join(lab.root, "logs", "samba")).map((x) => ({ ...x, where: `samba log ${x.where}` })),
            ...filesUnder("/var/log/samba").map((x) => ({ ...x, where: `samba log ${x.where}` })),
        ];
        figures.placesSearched = places.length;
        figures.argvSamples = samples;
        figures.distinctArgv = sampled.length;
        const hits: SecretHit[] = findSecrets(secrets, places);
        figures.hits = hits.length;
        assert.ok(exports.length >= 7 && samples > 100 && sampled.length > 20, `too little was searched: ${exports.length} exports, ${samples} samples, ${sampled.length} argv`);
        assert.ok(engineLog.join("").length > 20_000 && engineLog.join("").includes("RegisterResource"), "the engine log holds too little to prove anything");
        assert.ok(commandOutputs.length >= 2 && commandOutputs.every((o) => o.includes('"ok":true')), `the command's report was not captured from state: ${commandOutputs.length}`);
        assert.ok(t!.output.join("").includes("[secret]") || exports.some((e) => e.includes("ciphertext")), "the secrets should show up as [secret] / ciphertext");
        assert.deepEqual(hits, []);
        const leftovers = fs.readdirSync(os.tmpdir()).filter((f) => !tmpBefore.has(f) && f.startsWith("ssb-smb-"));
        assert.deepEqual(leftovers, [], "the verification left its smbclient auth file behind");
    });
});
