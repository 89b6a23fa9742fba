// The package as a team installs it: `npm pack`, then a fresh Pulumi project in a
// temporary directory outside the repository installs the tarball, type-checks
// against its declarations (no tsconfig paths), and runs up, preview --refresh
// --expect-no-changes and destroy against the lab. The project sees only what the
// tarball ships.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { REPO, type TestStack, createTestStack, exportState, plannedChanges, recorded } from "../support/engine";
import { type LabDescription, loadLab } from "../support/lab";

const TEMPLATE = path.join(__dirname, "programs", "consumer");

function run(file: string, args: string[], cwd: string): string {
    try {
        return execFileSync(file, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 32 * 1024 * 1024 });
    } catch (err: any) {
        throw new Error(`${file} ${args.join(" ")} failed in ${cwd} (exit ${err.status}):\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    }
}

function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe("a team's own Pulumi program installs the packed package", function () {
    this.timeout(600_000);
    let lab: LabDescription;
    let project: string;
    let t: TestStack | undefined;

    before(() => {
        lab = loadLab();
        project = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-consumer-"));
        assert.ok(!path.resolve(project).startsWith(REPO), "the consumer project must live outside the repository");
        // npm pack runs the prepack build, so the tarball holds what the sources say now.
        const tarball = path.join(project, JSON.parse(run("npm", ["pack", "--json", "--pack-destination", project], REPO))[0].filename);
        for (const f of ["Pulumi.yaml", "index.ts", "tsconfig.json"]) fs.copyFileSync(path.join(TEMPLATE, f), path.join(project, f));
        const manifest = JSON.parse(fs.readFileSync(path.join(TEMPLATE, "package.json"), "utf8"));
        manifest.dependencies["senhasegura-backup"] = `file:${tarball}`;
        fs.writeFileSync(path.join(project, "package.json"), JSON.stringify(manifest, null, 2));
        run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], project);
    });

    after(async () => {
        try {
            if (t) await t.destroyAndRemove().catch(() => undefined);
        } finally {
            if (project) fs.rmSync(project, { recursive: true, force: true });
        }
    });

    it("installs compiled JavaScript and declarations only: no TypeScript source, no TypeScript loader of ours", () => {
        const installed = path.join(project, "node_modules", "senhasegura-backup");
        const files = filesUnder(installed);
        assert.ok(["dist/package/index.js", "dist/package/index.d.ts", "dist/providers/entry.js", "dist/package/fast-start.js", "dist/cli/main.js"].every((f) => files.includes(f)), files.join(", "));
        assert.deepEqual(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")), []);
        assert.ok(!files.some((f) => /(^|\/)(tests|lab|bench|\.state|\.toolchain)\//.test(f)), "the tarball ships more than the package");
        assert.ok(!fs.existsSync(path.join(project, "node_modules", "tsx")), "tsx was installed: the package must not need it");
        const pkg = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8"));
        assert.ok(pkg.peerDependencies["@pulumi/pulumi"], "@pulumi/pulumi must be a peer dependency");
        assert.ok(!pkg.dependencies["@pulumi/pulumi"], "@pulumi/pulumi must not be a direct dependency");
    });

    it("type-checks against the package's declarations, with no tsconfig paths", () => {
        const tsconfig = JSON.parse(fs.readFileSync(path.join(project, "tsconfig.json"), "utf8"));
        assert.equal(tsconfig.compilerOptions.paths, undefined);
        run(path.join(project, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", "."], project);
    });

    it("runs up, a no-op preview --refresh and destroy against the lab", async () => {
        const a = lab.appliances[0];
        const r = lab.rsyncServer;
        t = await createTestStack(project, {
            appliance: { value: JSON.stringify({ host: a.host, port: a.port, hostKey: a.hostKeyFingerprint }) },
            applianceKey: { value: fs.readFileSync(a.privateKeyPath, "utf8"), secret: true },
            backupServer: { value: JSON.stringify({ host: r.host, port: r.port, user: r.adminUser, hostKey: r.hostKey, backupUser: r.backupUser, path: r.backupPath }) },
            backupServerKey: { value: fs.readFileSync(r.adminPrivateKeyPath, "utf8"), secret: true },
        });
        const up = await t.stack.up(recorded(t));
        assert.equal(up.summary.result, "succeeded");
        assert.equal(up.summary.resourceChanges?.create, 9, JSON.stringify(up.summary.resourceChanges));
        const v = up.outputs.lastVerification.value;
        for (const f of v.files) assert.ok(fs.statSync(path.join(r.backupPath, f)).size > 0, `${f} did not land`);

        const state = exportState(t);
        const dynamic = state.deployment.resources.filter((x: any) => String(x.type).startsWith("pulumi-nodejs:dynamic/"));
        assert.equal(dynamic.length, 6, "root key, appliance key, rsync target, policy, host key, verification");
        for (const x of dynamic) {
            const provider: string = x.inputs.__provider;
            assert.match(provider, /^exports\.handler = \(\) => require\("senhasegura-backup\/provider"\)\.[a-zA-Z]+;\n$/);
            assert.ok(Buffer.byteLength(provider) <= 1024, `${x.type}: __provider is ${Buffer.byteLength(provider)} bytes`);
            assert.ok(!provider.includes(project) && !provider.includes(REPO), "__provider names a file path");
        }

        const events: EngineEvent[] = [];
        await t.stack.preview({ refresh: true, expectNoChanges: true, onEvent: (e) => events.push(e) });
        assert.deepEqual(plannedChanges(events), []);

        const destroyed = await t.stack.destroy(recorded(t));
        assert.equal(destroyed.summary.result, "succeeded");
        assert.ok(!fs.readFileSync(r.authorizedKeysPath, "utf8").includes(a.rootPublicKey.split(" ")[1]), "the appliance key is still authorized");
        await t.stack.workspace.removeStack(t.name);
        t = undefined;
    });
});
