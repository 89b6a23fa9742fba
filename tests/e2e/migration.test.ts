// Upgrading from the path-based provider shim. Until the package existed, each
// resource's __provider in state was a serialized closure that require()d
// providers/<file>.ts by absolute path, falling back to the path relative to the
// program. State written by that code (the real code, at PATH_SHIM_COMMIT, run by
// the real engine) must still refresh, update and destroy with the package, after
// the old checkout is gone.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { REPO, type TestStack, createTestStack, exportState, plannedChanges, recorded, reopenTestStack } from "../support/engine";
import { type LabDescription, labFile, loadLab, orbitOk } from "../support/lab";

/** The last commit whose resources recorded a file path in __provider. */
const PATH_SHIM_COMMIT = "d3d904de5c73e81186cead6fb239b3bb8a1c9088";

/** The dev program as it was at PATH_SHIM_COMMIT, in a directory of its own, using the repository's node_modules. */
function oldCheckout(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-path-shim-"));
    const archive = execFileSync("git", ["-C", REPO, "archive", PATH_SHIM_COMMIT, "index.ts", "Pulumi.yaml", "tsconfig.json", "providers", "components"], { maxBuffer: 64 * 1024 * 1024 });
    execFileSync("tar", ["-x", "-C", dir], { input: archive });
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

function providerSources(t: TestStack): string[] {
    return exportState(t).deployment.resources.filter((r: any) => String(r.type).startsWith("pulumi-nodejs:dynamic/")).map((r: any) => r.inputs.__provider as string);
}

const appliancesConfig = (lab: LabDescription) => orbitOk(lab.appliances[0], ["backup", "config", "show"]);

describe("upgrade from the path-based __provider: old state refreshes, updates and destroys", function () {
    this.timeout(600_000);
    let lab: LabDescription;
    const cleanups: Array<() => Promise<void> | void> = [];

    before(() => { lab = loadLab(); });
    after(async () => { for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined); });

    /** A stack created and brought up by the old code, whose checkout is then removed. */
    /** The old code speaks only orbit contract 1: the lab's appliance answers as one while it runs. */
    function applianceContract(version: 1 | 2): void {
        execFileSync("bash", [path.join(REPO, "lab", "appliance-contract"), "--appliance", "0", String(version)], { stdio: "pipe" });
    }

    async function oldStack(): Promise<{ t: TestStack; oldDir: string }> {
        const oldDir = oldCheckout();
        const t = await createTestStack(oldDir, { labFile: { value: labFile() }, destination: { value: "rsync" } });
        applianceContract(1);
        cleanups.push(() => applianceContract(2));
        const up = await t.stack.up(recorded(t)).finally(() => applianceContract(2));
        assert.equal(up.summary.result, "succeeded");
        const sources = providerSources(t);
        assert.equal(sources.length, 5);
        assert.ok(sources.every((s) => s.includes(path.join(oldDir, "providers")) && s.length > 2000), "the old code did not write path-based shims");
        return { t, oldDir };
    }

    it("refreshes and destroys state written by the old code, with the old checkout gone", async () => {
        const { t: old, oldDir } = await oldStack();
        const t = await reopenTestStack(old, REPO);
        cleanups.push(() => t.destroyAndRemove());
        fs.rmSync(oldDir, { recursive: true, force: true });

        const refreshed = await t.stack.refresh(recorded(t));
        assert.equal(refreshed.summary.result, "succeeded");
        assert.ok(providerSources(t).every((s) => s.includes("tsx/cjs/api")), "refresh should have kept the old shims: this proves nothing");

        const destroyed = await t.stack.destroy(recorded(t));
        assert.equal(destroyed.summary.result, "succeeded");
        const live = appliancesConfig(lab);
        assert.deepEqual([live.backup.system, live.backup.video, live.rsync], [false, false, null], "destroy did not undo the backups");
        assert.ok(!fs.readFileSync(lab.rsyncServer.authorizedKeysPath, "utf8").includes(lab.appliances[0].rootPublicKey.split(" ")[1]));
    });

    it("updates state written by the old code: the next up records the package entry, and a no-op refresh follows", async () => {
        const { t: old, oldDir } = await oldStack();
        const t = await reopenTestStack(old, REPO);
        cleanups.push(() => t.destroyAndRemove());
        fs.rmSync(oldDir, { recursive: true, force: true });

        await t.stack.setConfig("hour", { value: "7" });
        const up = await t.stack.up(recorded(t));
        assert.equal(up.summary.result, "succeeded");
        assert.ok((up.summary.resourceChanges?.update ?? 0) >= 1, JSON.stringify(up.summary.resourceChanges));
        assert.equal(appliancesConfig(lab).backup.hour, 7);
        const sources = providerSources(t);
        assert.ok(sources.length >= 5 && sources.every((s) => /^exports\.handler = \(\) => require\("senhasegura-backup\/provider"\)\.\w+;\n$/.test(s)), sources.join("\n"));

        const events: EngineEvent[] = [];
        await t.stack.preview({ refresh: true, expectNoChanges: true, onEvent: (e) => events.push(e) });
        assert.deepEqual(plannedChanges(events), []);
    });
});
