// Concurrency: one `pulumi up` creates 20 AuthorizedKey resources for the same
// authorized_keys file (the engine runs them in parallel) while an administrator
// appends keys to that file by hand, and 6 RemotePartitions on one appliance while
// other orbit calls change the same configuration. Then the same again on destroy.
// Nothing may be lost: every line is counted before and after, and the orbit
// configuration is read in a tight loop the whole time and must always be whole JSON.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { type TestStack, createTestStack, plannedChanges, recorded } from "../support/engine";
import {
    LabGuard, ensureLab, hardeningFile, orbitDirectAsync, orbitLeftovers, readOrbitConf, recordFigures, sleep,
    startConfWatcher, startOutsideAppender, throwawayPublicKey,
} from "../support/hardening";
import type { LabAppliance, LabDescription } from "../support/lab";

const KEYS = 20;
const PARTITIONS = 6;
const OUTSIDE_ORBIT_CALLS = 12;
const PROGRAM = path.join(__dirname, "programs", "hardening");

/** The error lines of a failed engine run, without the progress noise. */
function errorLines(err: Error): string {
    const text = String((err as any).stderr ?? err.message);
    const found = text.split("\n").filter((l) => /^\s*error: /.test(l));
    return [...new Set(found.map((l) => l.trim()))].slice(0, 3).join(" | ") || text.slice(0, 500);
}

function lines(file: string): string[] {
    const text = fs.readFileSync(file, "latin1");
    return text.split("\n").slice(0, text.endsWith("\n") ? -1 : undefined);
}

/** Lines of `expected` that are not in the file, byte for byte. */
function missing(file: string, expected: readonly string[]): string[] {
    const present = new Set(lines(file));
    return expected.filter((l) => !present.has(l));
}

describe("concurrency: 20 keys in one file and concurrent orbit calls, with outside edits", function () {
    this.timeout(300_000);
    let lab: LabDescription;
    let app: LabAppliance;
    let guard: LabGuard;
    let t: TestStack | undefined;
    let akFile: string;
    const keys = Array.from({ length: KEYS }, (_, i) => throwawayPublicKey(`hz-fanout-${i}@appliance`));
    const blobs = keys.map((k) => k.split(" ")[1]);
    let seeded: string[] = [];
    const figures: Record<string, number> = { keys: KEYS, partitions: PARTITIONS, outsideOrbitCalls: OUTSIDE_ORBIT_CALLS, outsideLines: 0, linesChecked: 0, linesLost: 0, duplicateLines: 0, confReads: 0, corruptConfReads: 0, lostOrbitChanges: 0 };

    before(async () => {
        lab = ensureLab();
        app = lab.appliances[0];
        guard = new LabGuard(lab, app);
        akFile = lab.rsyncServer.authorizedKeysPath;
        // Lines people keep in the file, which must survive byte for byte.
        const hand = [
            "# senhauser: keys added by hand (concurrency test)",
            "",
            throwawayPublicKey("ops@lab"),
            `from="127.0.0.1",no-pty ${throwawayPublicKey("operator@lab")}`,
            "   # an indented comment   ",
        ];
        const before = fs.readFileSync(akFile, "latin1");
        fs.writeFileSync(akFile, (before === "" || before.endsWith("\n") ? before : before + "\n") + hand.join("\n") + "\n");
        seeded = lines(akFile);

        const server = { host: lab.rsyncServer.host, port: lab.rsyncServer.port, user: lab.rsyncServer.adminUser, hostKey: lab.rsyncServer.hostKey, privateKey: { $secret: "serverKey" } };
        const appliance = { host: app.host, port: app.port, user: app.user, hostKey: app.hostKey, privateKey: { $secret: "applianceKey" } };
        const resources = [
            ...keys.map((publicKey, i) => ({
                kind: "AuthorizedKey", name: `fanout-${i}`,
                args: { connection: server, targetUser: lab.rsyncServer.backupUser, publicKey, restrictTo: lab.rsyncServer.backupPath },
            })),
            ...Array.from({ length: PARTITIONS }, (_, i) => ({
                kind: "RemotePartition", name: `conc-${i}`,
                args: { connection: appliance, partitionId: `hz-conc-${i}`, protocol: "nfs", host: lab.nfs.host, port: lab.nfs.port, path: lab.nfs.remotePath, mounted: false },
            })),
        ];
        t = await createTestStack(PROGRAM, {
            resources: { value: JSON.stringify(resources) },
            serverKey: { value: fs.readFileSync(lab.rsyncServer.adminPrivateKeyPath, "utf8"), secret: true },
            applianceKey: { value: fs.readFileSync(app.privateKeyPath, "utf8"), secret: true },
        }, { SSB_PROVIDER_LOG: hardeningFile("concurrency-provider") });
    });

    after(async () => {
        try {
            if (t) await t.destroyAndRemove().catch(() => undefined);
        } finally {
            guard?.restore();
            recordFigures("concurrency", figures);
        }
    });

    /** Outside orbit calls spread over the first seconds of an engine run. */
    async function outsideOrbitCalls(tag: string): Promise<string[]> {
        const ids = Array.from({ length: OUTSIDE_ORBIT_CALLS / 2 }, (_, i) => `hz-outside-${tag}-${i}`);
        const calls = [
            ...ids.map((id, i) => sleep(150 * i).then(() => orbitDirectAsync(app, ["partition", "add", "--id", id, "--protocol", "nfs", "--host", lab.nfs.host, "--port", String(lab.nfs.port), "--path", lab.nfs.remotePath, "--no-mount"]))),
            ...ids.map((_, i) => sleep(75 + 150 * i).then(() => orbitDirectAsync(app, ["backup", "time", "--hour", String(i % 24)]))),
        ];
        const results = await Promise.all(calls);
        for (const r of results) assert.equal(r.json?.ok, true, `an outside orbit call failed: ${r.stdout}`);
        return ids;
    }

    it(`creates ${KEYS} keys and ${PARTITIONS} partitions in one parallel up, losing no line and no orbit change`, async () => {
        const appender = startOutsideAppender(akFile, "hz-outside-up", { everyMs: 400, maxDuringWrite: 4 });
        const watcher = startConfWatcher(app);
        let appended: string[] = [];
        let outsideIds: string[] = [];
        const problems: string[] = [];
        try {
            const [result, ids] = await Promise.all([
                t!.stack.up({ ...recorded(t!), parallel: 32 }).catch((err: Error) => err),
                outsideOrbitCalls("up"),
            ]);
            outsideIds = ids;
            if (result instanceof Error) problems.push(`the up failed: ${errorLines(result)}`);
            else if (result.summary.resourceChanges?.create !== KEYS + PARTITIONS + 1) problems.push(`the up created ${JSON.stringify(result.summary.resourceChanges)}`);
        } finally {
            appended = (await appender.stop()).appended;
            const conf = await watcher.stop();
            figures.confReads += conf.reads;
            figures.corruptConfReads += conf.bad.length;
            if (conf.bad.length > 0) problems.push(`a reader saw the orbit configuration half-written ${conf.bad.length} times: ${conf.bad[0]}`);
        }
        if (appended.length < 3) problems.push(`the outside editor made only ${appended.length} edits`);
        figures.outsideLines += appended.length;

        // authorized_keys: the hand lines, the outside edits and each managed key exactly once.
        const after = lines(akFile);
        const lost = missing(akFile, [...seeded, ...appended]);
        figures.linesChecked += seeded.length + appended.length + KEYS;
        const counts = blobs.map((b) => after.filter((l) => l.split(" ").includes(b)).length);
        figures.linesLost += lost.length;
        figures.duplicateLines += counts.reduce((n, c) => n + Math.max(0, c - 1), 0);
        figures.keysMissingAfterUp = counts.filter((c) => c === 0).length;
        if (lost.length > 0) problems.push(`${lost.length} lines written by others were lost from authorized_keys: ${lost.map((l) => l.split(" ").pop()).join(", ")}`);
        if (counts.some((c) => c !== 1)) problems.push(`each managed key must be in the file exactly once, but the counts are ${counts.join(",")}`);
        for (const b of blobs) {
            const line = after.find((l) => l.includes(b));
            if (line && !line.startsWith('restrict,command="rrsync -wo -no-lock -absolute /files/backup/senhasegura" ssh-ed25519 ')) problems.push(`a managed line has the wrong options: ${line}`);
        }
        const st = fs.statSync(akFile);
        if ((st.mode & 0o777) !== 0o600) problems.push(`authorized_keys mode is ${(st.mode & 0o777).toString(8)}`);
        if (fs.readdirSync(path.dirname(akFile)).some((f) => f.startsWith(".authorized_keys."))) problems.push("a temp file was left behind");
        assert.deepEqual(problems, []);

        // orbit: every partition from both sides, a whole config, no leftovers.
        const conf = readOrbitConf(app);
        const ids = new Set(conf.partitions.map((p: any) => p.id));
        const expected = [...Array.from({ length: PARTITIONS }, (_, i) => `hz-conc-${i}`), ...outsideIds];
        const lostIds = expected.filter((id) => !ids.has(id));
        figures.lostOrbitChanges += lostIds.length;
        assert.deepEqual(lostIds, [], "an orbit change was lost");
        assert.deepEqual(orbitLeftovers(app), []);
    });

    it("then shows no changes", async () => {
        const events: any[] = [];
        await t!.stack.preview({ ...recorded(t!), onEvent: (e) => events.push(e), expectNoChanges: true });
        assert.deepEqual(plannedChanges(events), []);
    });

    it("destroys all of them in parallel, with the same outside edits, keeping every other line", async () => {
        const before = lines(akFile).filter((l) => !blobs.some((b) => l.includes(b)));
        const appender = startOutsideAppender(akFile, "hz-outside-destroy", { everyMs: 400, maxDuringWrite: 4 });
        const watcher = startConfWatcher(app);
        let appended: string[] = [];
        const problems: string[] = [];
        try {
            const [result] = await Promise.all([t!.stack.destroy({ ...recorded(t!), parallel: 32 }).catch((err: Error) => err), outsideOrbitCalls("destroy")]);
            if (result instanceof Error) problems.push(`the destroy failed: ${errorLines(result)}`);
        } finally {
            appended = (await appender.stop()).appended;
            const conf = await watcher.stop();
            figures.confReads += conf.reads;
            figures.corruptConfReads += conf.bad.length;
            if (conf.bad.length > 0) problems.push(`a reader saw the orbit configuration half-written ${conf.bad.length} times`);
        }
        figures.outsideLines += appended.length;
        const after = lines(akFile);
        const lost = missing(akFile, [...before, ...appended]);
        figures.linesChecked += before.length + appended.length;
        figures.linesLost += lost.length;
        if (lost.length > 0) problems.push(`${lost.length} lines written by others were lost from authorized_keys on destroy: ${lost.map((l) => l.split(" ").pop()).join(", ")}`);
        const left = after.filter((l) => blobs.some((b) => l.includes(b))).length;
        if (left > 0) problems.push(`${left} managed keys are still in the file`);
        assert.deepEqual(problems, []);
        const ids = readOrbitConf(app).partitions.map((p: any) => p.id);
        assert.deepEqual(ids.filter((id: string) => id.startsWith("hz-conc-")), []);
        assert.ok(ids.filter((id: string) => id.startsWith("hz-outside-destroy-")).length === OUTSIDE_ORBIT_CALLS / 2, "an outside orbit change was lost on destroy");
    });
});
