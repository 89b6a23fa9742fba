// Faults in the middle of a change, through the real engine against the lab. One
// stack holds an appliance's whole rsync set-up (root key, the key authorized on
// the backup server, rsync target, policy and a verification backup), plus a CIFS
// and an NFS partition when a fault needs them. For each fault the test breaks one
// thing, runs `pulumi up`, and checks that
//   - the run fails with an error that says what failed, on which host, and what to do;
//   - nothing is half-written: authorized_keys holds every line it held (no partial
//     file, no lost line), the orbit configuration is whole JSON with no temp file left,
//     and no backup file is left truncated at the destination;
// then repairs the fault and checks that the next `pulumi up` converges.
//
// Faults: a wrong host key; a wrong private key; sudo asking for a password; the
// orbit configuration lock held by a live process; sshd killed in the middle of an
// orbit change; the connection dropped during an authorized_keys write; the backup
// directory unwritable; the backup directory full; a wrong CIFS password; the NFS
// server down; the backup server down when the verification backup runs.
//
// Everything the test breaks is put back in after(), even when a step fails: the
// sudoers file, the directory lock, the mount, the lab's servers (lab/start), the
// orbit configuration, authorized_keys and the backup directory.
import { strict as assert } from "assert";
import { type ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { type TestStack, createTestStack, plannedChanges } from "../support/engine";
import {
    DroppingProxy, LabGuard, alive, ensureLab, appendedSince, hardeningFile, idleProcess, killLabServer, markFiles,
    orbitDirectOk, orbitLeftovers, processes, readOrbitConf, recordFigures, restartLab, sleep, throwawayPrivateKey,
    throwawayPublicKey, waitFor, withSudoers,
} from "../support/hardening";
import type { LabAppliance, LabDescription } from "../support/lab";

const PROGRAM = path.join(__dirname, "programs", "hardening");
const SENTINEL = "/tmp/ssb-pwned";
const CIFS_ID = "hz-fault-cifs";
const NFS_ID = "hz-fault-nfs";
/** A wrong CIFS password that is also full of shell syntax: if it ever reached a shell, SENTINEL would appear. */
const WRONG_CIFS_PASSWORD = `Wrong-'$(touch ${SENTINEL})'\`touch ${SENTINEL}\`;"pw-${Date.now().toString(36)}`;

interface Knobs {
    applianceHostKey: string;
    applianceKey: "applianceKey" | "wrongApplianceKey";
    hour: number;
    /** Changing it reruns the verification backup. */
    trigger: number;
    comment: string;
    cifs?: "cifsPassword" | "wrongCifsPassword";
    nfs?: boolean;
}

/** What one engine run printed and which errors it reported. */
interface Run { ok: boolean; output: string; errors: Array<{ resource: string; message: string }>; events: EngineEvent[]; ms: number }

describe("faults in the middle of a change: a clear error, nothing half-written, and the next up converges", function () {
    this.timeout(600_000);
    let lab: LabDescription;
    let app: LabAppliance;
    let guard: LabGuard;
    let proxy: DroppingProxy;
    let t: TestStack | undefined;
    let knobs: Knobs;
    let akFile: string;
    let providerLog: string;
    const cleanups: Array<() => void | Promise<void>> = [];
    const survived: Array<{ fault: string; failedMs: number; convergedMs: number; message: string }> = [];
    let lastMessage = "";
    const figures = { faultKinds: 0, survived: 0, linesChecked: 0, linesLost: 0, partialFiles: 0 };

    function resources(k: Knobs) {
        const appliance = { host: app.host, port: app.port, user: app.user, hostKey: k.applianceHostKey, privateKey: { $secret: k.applianceKey }, dialAttempts: 2 };
        const server = { host: lab.rsyncServer.host, port: lab.rsyncServer.port, user: lab.rsyncServer.adminUser, hostKey: lab.rsyncServer.hostKey, privateKey: { $secret: "serverKey" }, dialAttempts: 2 };
        // The key is authorized through a proxy that the test can cut.
        const viaProxy = { ...server, port: proxy.port };
        const list: any[] = [
            { kind: "ApplianceRootKey", name: "root-key", args: { connection: appliance } },
            { kind: "AuthorizedKey", name: "appliance-key", args: { connection: viaProxy, targetUser: lab.rsyncServer.backupUser, publicKey: { $output: "root-key.publicKey" }, restrictTo: lab.rsyncServer.backupPath, comment: k.comment } },
            { kind: "RsyncTarget", name: "rsync", dependsOn: ["appliance-key"], args: { connection: appliance, user: lab.rsyncServer.backupUser, host: lab.rsyncServer.host, port: lab.rsyncServer.port, path: lab.rsyncServer.backupPath } },
            { kind: "BackupPolicy", name: "policy", dependsOn: ["rsync"], args: { connection: appliance, system: true, video: false, secrets: false, hour: k.hour, destination: { type: "rsync" } } },
            { kind: "ApplianceHostKey", name: "host-key", args: { connection: appliance } },
            { kind: "VerificationBackup", name: "backup-run", dependsOn: ["policy"], args: { appliance, hostKeyLine: { $output: "host-key.keyLine" }, triggers: [k.trigger], timeoutSec: 90 } },
            { kind: "BackupVerification", name: "verify", args: { report: { $output: "backup-run.stdout" }, appliance: `${app.user}@${app.host}:${app.port}`, destination: { type: "rsync", server, path: lab.rsyncServer.backupPath } } },
        ];
        if (k.cifs) list.push({ kind: "RemotePartition", name: "cifs", args: { connection: appliance, partitionId: CIFS_ID, protocol: "cifs", host: lab.cifs.host, port: lab.cifs.port, path: lab.cifs.remotePath, user: lab.cifs.user, password: { $secret: k.cifs } } });
        if (k.nfs) list.push({ kind: "RemotePartition", name: "nfs", args: { connection: appliance, partitionId: NFS_ID, protocol: "nfs", host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath } });
        return list;
    }

    async function up(k: Knobs): Promise<Run> {
        knobs = k;
        await t!.stack.setConfig("resources", { value: JSON.stringify(resources(k)) });
        const output: string[] = [];
        const events: EngineEvent[] = [];
        const started = Date.now();
        let ok = true;
        try {
            await t!.stack.up({ onOutput: (l) => { output.push(l); t!.output.push(l); }, onEvent: (e) => { events.push(e); t!.events.push(e); } });
        } catch {
            ok = false;
        }
        const errors = events.flatMap((e) => {
            const d = e.diagnosticEvent;
            if (!d || d.severity !== "error" || !d.urn) return [];
            return [{ resource: d.urn.slice(d.urn.lastIndexOf("::") + 2), message: d.message }];
        });
        return { ok, output: output.join(""), errors, events, ms: Date.now() - started };
    }

    /** The run failed, and one of its errors names what failed, the host, and what to do. */
    function assertClearFailure(run: Run, expect: { resource?: string; host: string; what: RegExp; todo: RegExp }): string {
        assert.equal(run.ok, false, "the up should have failed");
        const candidates = run.errors.filter((e) => !expect.resource || e.resource === expect.resource);
        const match = candidates.find((e) => expect.what.test(e.message));
        assert.ok(match, `no error matching ${expect.what}${expect.resource ? ` on ${expect.resource}` : ""}; errors: ${JSON.stringify(run.errors, null, 1).slice(0, 3000)}`);
        assert.ok(match.message.includes(expect.host), `the error does not name the host ${expect.host}: ${match.message}`);
        const todo = /what to do: (.*)/s.exec(match.message);
        assert.ok(todo, `the error does not say what to do: ${match.message}`);
        assert.match(todo[1], expect.todo);
        assert.ok(!run.output.includes(WRONG_CIFS_PASSWORD) && !fs.existsSync(SENTINEL), "a secret leaked or a value ran as a command");
        lastMessage = `${match.resource}: ${match.message.trim()}`;
        return match.message;
    }

    function assertConverged(run: Run, what: string): void {
        assert.ok(run.ok, `${what}: the next up did not converge: ${JSON.stringify(run.errors, null, 1).slice(0, 3000)}`);
    }

    /** authorized_keys still holds every line it held before the fault (and only whole lines). */
    function assertNoLineLost(before: string[], label: string): void {
        const text = fs.readFileSync(akFile, "latin1");
        const now = new Set(text.split("\n"));
        const lost = before.filter((l) => l !== "" && !now.has(l));
        figures.linesChecked += before.length;
        figures.linesLost += lost.length;
        if (!text.endsWith("\n")) figures.partialFiles++;
        assert.equal(lost.length, 0, `${label}: ${lost.length} of ${before.length} lines of authorized_keys were lost (the file has ${Buffer.byteLength(text)} bytes), e.g. ${lost.slice(0, 3).map((l) => `"…${l.slice(-40)}"`).join(", ")}`);
        assert.ok(text.endsWith("\n"), `${label}: authorized_keys ends in the middle of a line`);
    }

    function assertOrbitWhole(label: string): void {
        assert.doesNotThrow(() => readOrbitConf(app), `${label}: orbinibkp.conf is not whole JSON`);
        assert.deepEqual(orbitLeftovers(app), [], `${label}: orbit left temp or stale lock files`);
    }

    /** Regular files under the backup directory: a failed backup must leave none of its own. */
    function backupFiles(): Map<string, number> {
        const out = new Map<string, number>();
        const walk = (d: string) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                const p = path.join(d, e.name);
                if (e.isDirectory()) walk(p);
                else if (e.isFile()) out.set(p, fs.statSync(p).size);
            }
        };
        walk(lab.rsyncServer.backupPath);
        return out;
    }

    /** Unmounts, waiting for the backup server's rsync to let go of the directory. */
    async function unmount(dir: string): Promise<void> {
        for (let i = 0; ; i++) {
            if (!fs.readFileSync("/proc/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === dir)) return;
            try { execFileSync("umount", [dir], { stdio: "pipe" }); return; } catch (err) {
                if (i >= 50) { execFileSync("umount", ["-l", dir]); return; }
                await sleep(200);
            }
        }
    }

    function done(fault: string, failed: Run, converged: Run): void {
        figures.survived++;
        survived.push({ fault, failedMs: failed.ms, convergedMs: converged.ms, message: lastMessage });
    }

    before(async () => {
        lab = ensureLab();
        app = lab.appliances[0];
        akFile = lab.rsyncServer.authorizedKeysPath;
        fs.rmSync(SENTINEL, { force: true });
        guard = new LabGuard(lab, app);
        proxy = new DroppingProxy(lab.rsyncServer.host, lab.rsyncServer.port);
        await proxy.listen();
        providerLog = hardeningFile("faults-provider");
        t = await createTestStack(PROGRAM, {
            resources: { value: "[]" },
            applianceKey: { value: fs.readFileSync(app.privateKeyPath, "utf8"), secret: true },
            wrongApplianceKey: { value: throwawayPrivateKey(), secret: true },
            serverKey: { value: fs.readFileSync(lab.rsyncServer.adminPrivateKeyPath, "utf8"), secret: true },
            cifsPassword: { value: fs.readFileSync(lab.cifs.passwordPath, "utf8").trim(), secret: true },
            wrongCifsPassword: { value: WRONG_CIFS_PASSWORD, secret: true },
        }, { SSB_PROVIDER_LOG: providerLog });
    });

    after(async () => {
        for (const cleanup of cleanups.reverse()) {
            try { await cleanup(); } catch (err) { console.error(`cleanup failed: ${(err as Error).message}`); }
        }
        try {
            restartLab(lab);
            if (t) {
                if (knobs) await t.stack.setConfig("resources", { value: JSON.stringify(resources({ ...knobs, applianceHostKey: app.hostKey, applianceKey: "applianceKey", cifs: knobs.cifs ? "cifsPassword" : undefined })) });
                await t.destroyAndRemove().catch((err) => console.error(`destroy failed: ${err.message}`));
            }
        } finally {
            await proxy?.close();
            guard?.restore();
            fs.rmSync(SENTINEL, { force: true });
            recordFigures("faults", { ...figures, kinds: survived });
        }
    });

    it("starts from a converged stack", async () => {
        const run = await up({ applianceHostKey: app.hostKey, applianceKey: "applianceKey", hour: 3, trigger: 1, comment: "hz-faults-0" });
        assertConverged(run, "the first up");
        const conf = readOrbitConf(app);
        assert.equal(conf.backup.hour, 3);
        assert.equal(conf.backup.destination.mode, "rsync");
        assert.ok(fs.readFileSync(akFile, "utf8").includes("hz-faults-0"));
    });

    it("a wrong host key: refused before any login, with the fingerprint seen", async () => {
        figures.faultKinds++;
        const fake = throwawayPublicKey("fake-host-key");
        const logs = markFiles([app.sshdLog, path.join(app.orbitRoot, "log", "orbit-audit.log")]);
        const failed = await up({ ...knobs, applianceHostKey: fake, hour: 4 });
        const message = assertClearFailure(failed, {
            host: `${app.user}@${app.host}:${app.port}`, what: /host key does not match the pinned one/, todo: /verify .* out of band/,
        });
        assert.ok(message.includes(app.hostKeyFingerprint), `the error should show the fingerprint the server presented (${app.hostKeyFingerprint})`);
        const appended = appendedSince(logs);
        assert.ok(!/Accepted publickey/.test(appended.get(app.sshdLog) ?? ""), "a login happened despite the wrong host key");
        assert.equal(appended.get(path.join(app.orbitRoot, "log", "orbit-audit.log")), undefined, "orbit ran despite the wrong host key");
        assert.equal(readOrbitConf(app).backup.hour, 3);
        const converged = await up({ ...knobs, applianceHostKey: app.hostKey });
        assertConverged(converged, "wrong host key");
        assert.equal(readOrbitConf(app).backup.hour, 4);
        done("wrong host key", failed, converged);
    });

    it("a wrong private key: refused by the server, with what to check", async () => {
        figures.faultKinds++;
        const audit = markFiles([path.join(app.orbitRoot, "log", "orbit-audit.log"), app.sshdLog]);
        const failed = await up({ ...knobs, applianceKey: "wrongApplianceKey", hour: 5 });
        assertClearFailure(failed, {
            host: `${app.user}@${app.host}:${app.port}`, what: /authentication methods failed|authentication/i, todo: /public half of the configured key is in ~mt4adm\/\.ssh\/authorized_keys/,
        });
        const appended = appendedSince(audit);
        assert.equal(appended.get(path.join(app.orbitRoot, "log", "orbit-audit.log")), undefined, "orbit ran with a wrong key");
        assert.ok(!/Accepted publickey/.test(appended.get(app.sshdLog) ?? ""));
        const converged = await up({ ...knobs, applianceKey: "applianceKey" });
        assertConverged(converged, "wrong private key");
        assert.equal(readOrbitConf(app).backup.hour, 5);
        done("wrong private key", failed, converged);
    });

    it("sudo asking for a password: the provider never waits for one", async () => {
        figures.faultKinds++;
        const auditLog = path.join(app.orbitRoot, "log", "orbit-audit.log");
        const failed = await withSudoers((text) => {
            const changed = text.replace(/(mt4adm\s+ALL=\(root\)\s+)NOPASSWD:\s*/, "$1");
            assert.notEqual(changed, text, "the lab's sudoers rule for mt4adm was not found");
            return changed;
        }, async () => {
            const audit = markFiles([auditLog]);
            const run = await up({ ...knobs, hour: 6 });
            assert.equal(appendedSince(audit).get(auditLog), undefined, "orbit ran although sudo wanted a password");
            return run;
        });
        assertClearFailure(failed, { host: `${app.user}@${app.host}:${app.port}`, what: /sudo asks for a password/, todo: /NOPASSWD rule/ });
        assert.ok(failed.ms < 60_000, `the run took ${failed.ms} ms: it must not wait for a password prompt`);
        assert.equal(readOrbitConf(app).backup.hour, 5);
        const converged = await up(knobs);
        assertConverged(converged, "sudo asking for a password");
        assert.equal(readOrbitConf(app).backup.hour, 6);
        done("sudo asks for a password", failed, converged);
    });

    /** Holds orbit's configuration lock with a live process, as another orbit call would. */
    function holdOrbitLock(): ChildProcess {
        const holder = idleProcess();
        fs.writeFileSync(path.join(app.orbitRoot, "orbinibkp.conf.lock"), `${holder.pid}\n`, { mode: 0o600 });
        cleanups.push(() => { holder.kill("SIGKILL"); });
        return holder;
    }

    it("the orbit configuration lock held by another process: 'locked', then a stale lock is broken", async () => {
        figures.faultKinds++;
        const holder = holdOrbitLock();
        const failed = await up({ ...knobs, hour: 7 });
        assertClearFailure(failed, {
            resource: "policy", host: `${app.user}@${app.host}:${app.port}`, what: new RegExp(`lock .*orbinibkp\\.conf\\.lock is held by pid ${holder.pid}`), todo: /another orbit call holds the configuration lock/,
        });
        assertOrbitWhole("lock held");
        assert.equal(readOrbitConf(app).backup.hour, 6);
        // The holder dies and leaves its lock file behind: orbit must break it.
        holder.kill("SIGKILL");
        await waitFor("the lock holder to die", () => !alive(holder.pid!), 5000);
        assert.ok(fs.existsSync(path.join(app.orbitRoot, "orbinibkp.conf.lock")));
        const converged = await up(knobs);
        assertConverged(converged, "lock held");
        assert.equal(readOrbitConf(app).backup.hour, 7);
        assertOrbitWhole("after the stale lock");
        done("orbit config lock held by another process", failed, converged);
    });

    it("sshd killed in the middle of an orbit change: the config stays whole, and a restarted sshd converges", async () => {
        figures.faultKinds++;
        // Keep the change in flight: orbit waits for the lock while we kill sshd under it.
        const holder = holdOrbitLock();
        const running = up({ ...knobs, hour: 8 });
        const inFlight = await waitFor("orbit 'backup time --hour 8' to be running", () =>
            processes((argv) => argv.some((a) => a.endsWith("orbit.js")) && argv.includes("time") && argv.includes("8")).length > 0, 60_000);
        assert.ok(inFlight);
        const killed = await killLabServer(lab, `sshd-${app.name}`, { onlySshd: true });
        cleanups.push(() => restartLab(lab));
        holder.kill("SIGKILL");
        const failed = await running;
        assertClearFailure(failed, {
            resource: "policy", host: `${app.user}@${app.host}:${app.port}`, what: /connection dropped before the command finished|connection closed|ECONNRESET|ECONNREFUSED/, todo: /run `pulumi up` again|sshd listens/,
        });
        assert.ok(killed.length >= 2, "the listener and the session's sshd were killed");
        // orbit itself finishes (or not) on its own: the file is whole either way.
        await waitFor("orbit to finish", () => processes((argv) => argv.some((a) => a.endsWith("orbit.js")) && argv.includes("time")).length === 0, 30_000);
        assertOrbitWhole("sshd killed");
        restartLab(lab);
        const converged = await up(knobs);
        assertConverged(converged, "sshd killed");
        assert.equal(readOrbitConf(app).backup.hour, 8);
        assertOrbitWhole("after sshd came back");
        done("sshd killed mid-update", failed, converged);
    });

    it("the connection dropped during an authorized_keys write: no partial file, no lost line", async () => {
        figures.faultKinds++;
        // A file bigger than a pipe buffer (64 KiB), as on a shared backup server.
        const others = Array.from({ length: 900 }, (_, i) => throwawayPublicKey(`hz-fault-other-${i}@lab`));
        const current = fs.readFileSync(akFile, "latin1");
        fs.writeFileSync(akFile, current + others.join("\n") + "\n");
        // Every line but the managed one (whose comment this change rewrites) must survive.
        const before = fs.readFileSync(akFile, "latin1").split("\n").filter((l) => !l.includes(knobs.comment));
        assert.ok(Buffer.byteLength(before.join("\n")) > 80_000);
        // Another writer holds the directory lock, so the write waits with its content in flight.
        const dir = path.dirname(akFile);
        const locker = spawn("flock", [dir, "sleep", "600"], { stdio: "ignore", detached: true });
        cleanups.push(() => { try { process.kill(-locker.pid!, "SIGKILL"); } catch { /* gone */ } });
        await waitFor("the directory lock to be held", () => processes((argv) => argv[0] === "sleep" && argv[1] === "600").length > 0, 5000);
        const running = up({ ...knobs, comment: "hz-faults-6" });
        await waitFor("the authorized_keys write to start", () => processes((argv) => argv.includes("ssb-write-authorized-keys")).length > 0, 60_000);
        await sleep(700);
        assert.ok(proxy.drop() > 0, "no connection went through the proxy");
        try { process.kill(-locker.pid!, "SIGKILL"); } catch { /* gone */ }
        const failed = await running;
        await waitFor("the remote write script to end", () => processes((argv) => argv.includes("ssb-write-authorized-keys")).length === 0, 30_000);
        assertClearFailure(failed, {
            resource: "appliance-key", host: `${lab.rsyncServer.adminUser}@${lab.rsyncServer.host}:${proxy.port}`, what: /connection dropped before the command finished|ECONNRESET|connection closed/, todo: /run `pulumi up` again/,
        });
        assertNoLineLost(before, "connection dropped");
        assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith(".authorized_keys.")).length, 0, "a temp file was left in ~/.ssh");
        const converged = await up(knobs);
        assertConverged(converged, "connection dropped");
        assertNoLineLost(before, "after the next up");
        assert.ok(fs.readFileSync(akFile, "utf8").includes("hz-faults-6"));
        done("connection dropped during an authorized_keys write", failed, converged);
    });

    it("the backup directory unwritable: the verification says so, leaves no file, and passes once fixed", async () => {
        figures.faultKinds++;
        // Every directory of the backup tree becomes root's and read-only for others, as a
        // mis-owned or read-only share would be (owned by the backup user, rsync would
        // simply chmod its own directories writable again).
        const dirs: Array<[string, fs.Stats]> = [];
        const walk = (d: string) => {
            dirs.push([d, fs.statSync(d)]);
            for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
        };
        walk(lab.rsyncServer.backupPath);
        const restore = () => { for (const [d, st] of dirs) { fs.chownSync(d, st.uid, st.gid); fs.chmodSync(d, st.mode & 0o7777); } };
        cleanups.push(restore);
        const filesBefore = backupFiles();
        for (const [d] of dirs) { fs.chownSync(d, 0, 0); fs.chmodSync(d, 0o755); }
        const failed = await up({ ...knobs, trigger: knobs.trigger + 1 });
        restore();
        assertClearFailure(failed, {
            resource: "backup-run", host: `${app.user}@${app.host}:${app.port}`, what: /did not complete|Permission denied|could not be reached/, todo: /orbinibkp\.log/,
        });
        assert.deepEqual([...backupFiles()].filter(([f]) => !filesBefore.has(f)), [], "a failed backup left files");
        const converged = await up(knobs);
        assertConverged(converged, "unwritable backup directory");
        done("backup directory unwritable", failed, converged);
    });

    it("the backup directory full: no partial backup file, and it passes once there is room", async () => {
        figures.faultKinds++;
        const dir = lab.rsyncServer.backupPath;
        const st = fs.statSync(dir);
        execFileSync("mount", ["-t", "tmpfs", "-o", `size=512k,mode=${(st.mode & 0o777).toString(8)},uid=${st.uid},gid=${st.gid}`, "ssb-full", dir]);
        cleanups.push(() => unmount(dir));
        // Fill it: nothing but a few bytes are left.
        try { execFileSync("dd", ["if=/dev/zero", `of=${path.join(dir, "filler")}`, "bs=4k"], { stdio: "ignore" }); } catch { /* ENOSPC is the point */ }
        const failed = await up({ ...knobs, trigger: knobs.trigger + 1 });
        const left = [...backupFiles()].filter(([f]) => !f.endsWith("/filler"));
        figures.partialFiles += left.length;
        await unmount(dir);
        assertClearFailure(failed, {
            resource: "backup-run", host: `${app.user}@${app.host}:${app.port}`, what: /No space left on device|did not complete/, todo: /orbinibkp\.log/,
        });
        assert.deepEqual(left, [], "a failed backup left a partial file");
        const converged = await up(knobs);
        assertConverged(converged, "full backup directory");
        done("backup directory full", failed, converged);
    });

    it("a wrong CIFS password: the partition is kept unmounted, the password stays secret, and the right one converges", async () => {
        figures.faultKinds++;
        const failed = await up({ ...knobs, cifs: "wrongCifsPassword" });
        assertClearFailure(failed, {
            resource: "cifs", host: `${app.user}@${app.host}:${app.port}`, what: new RegExp(`could not mount cifs://${lab.cifs.host}:${lab.cifs.port}${lab.cifs.remotePath}`), todo: /password or credential is right/,
        });
        const partition = orbitDirectOk(app, ["backup", "config", "show"]).partitions.find((p: any) => p.id === CIFS_ID);
        assert.equal(partition?.mounted, false);
        assertOrbitWhole("wrong CIFS password");
        const converged = await up({ ...knobs, cifs: "cifsPassword" });
        assertConverged(converged, "wrong CIFS password");
        assert.equal(orbitDirectOk(app, ["backup", "config", "show"]).partitions.find((p: any) => p.id === CIFS_ID)?.mounted, true);
        done("wrong CIFS password", failed, converged);
    });

    it("the NFS server down: a bounded, clear failure, and a restarted server converges", async () => {
        figures.faultKinds++;
        await killLabServer(lab, "ganesha");
        cleanups.push(() => restartLab(lab));
        const failed = await up({ ...knobs, nfs: true });
        assertClearFailure(failed, {
            resource: "nfs", host: `${app.user}@${app.host}:${app.port}`, what: new RegExp(`could not mount nfs://${lab.nfs.host}:${lab.nfs.port}${lab.nfs.remotePath}`), todo: /NFS server is up/,
        });
        assert.ok(failed.ms < 120_000, `a dead NFS server held the run for ${failed.ms} ms`);
        assertOrbitWhole("NFS down");
        restartLab(lab);
        const converged = await up(knobs);
        assertConverged(converged, "NFS down");
        assert.equal(orbitDirectOk(app, ["backup", "config", "show"]).partitions.find((p: any) => p.id === NFS_ID)?.mounted, true);
        done("NFS server down", failed, converged);
    });

    it("the backup server down when the verification backup runs: unreachable, and a restarted server converges", async () => {
        figures.faultKinds++;
        const filesBefore = backupFiles();
        await killLabServer(lab, "sshd-rsync");
        cleanups.push(() => restartLab(lab));
        const failed = await up({ ...knobs, trigger: knobs.trigger + 1 });
        assertClearFailure(failed, {
            resource: "backup-run", host: `${app.user}@${app.host}:${app.port}`, what: /could not be reached|Connection refused/, todo: /orbinibkp\.log/,
        });
        restartLab(lab);
        assert.deepEqual([...backupFiles()].filter(([f]) => !filesBefore.has(f)), [], "a failed backup left files");
        const converged = await up(knobs);
        assertConverged(converged, "backup server down");
        done("backup server down during verification", failed, converged);
    });

    it("ends converged: preview --refresh shows no changes, and no secret reached the provider log", async () => {
        const events: EngineEvent[] = [];
        await t!.stack.preview({ refresh: true, expectNoChanges: true, onOutput: (l) => t!.output.push(l), onEvent: (e) => events.push(e) });
        assert.deepEqual(plannedChanges(events), []);
        const log = fs.readFileSync(providerLog, "utf8");
        assert.ok(log.length > 0, "the provider log is empty: SSB_PROVIDER_LOG did not reach the provider");
        assert.ok(!log.includes(WRONG_CIFS_PASSWORD) && !t!.output.join("").includes(WRONG_CIFS_PASSWORD));
        assert.ok(!fs.existsSync(SENTINEL), `${SENTINEL} exists: a value ran as a command`);
        assert.ok(figures.survived >= 10, `only ${figures.survived} fault kinds survived`);
    });
});
