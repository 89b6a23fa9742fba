// The package as a team installs it: `npm pack`, then a fresh Pulumi project in a
// temporary directory outside the repository installs the tarball, type-checks
// against its declarations (no tsconfig paths), and runs up, preview --refresh
// --expect-no-changes and destroy against the lab. The project sees only what the
// tarball ships: its own CLI (drift, restore-drill, adopt, fleet) runs from the
// project's directory through npx, with no path into this repository, and the
// shipped policy pack runs in its preview. publint and arethetypeswrong check the
// tarball itself.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { REPO, TEST_BACKEND_DIR, TEST_PASSPHRASE, type TestStack, createTestStack, exportState, plannedChanges, recorded } from "../support/engine";
import { type LabDescription, loadLab, orbitOk } from "../support/lab";

const TEMPLATE = path.join(__dirname, "programs", "consumer");

function run(file: string, args: string[], cwd: string): string {
    try {
        return execFileSync(file, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 32 * 1024 * 1024 });
    } catch (err: any) {
        throw new Error(`${file} ${args.join(" ")} failed in ${cwd} (exit ${err.status}):\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    }
}

/** The installed CLI, run as a team runs it: `npx senhasegura-backup <args>` in its project. */
function installedCli(project: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
    // Nothing that points into this repository: scripts/env.sh's NODE_OPTIONS preloads
    // its fast-start, and its PATH holds its node_modules/.bin.
    const { NODE_OPTIONS: _, ...env } = process.env;
    const PATH = (env.PATH ?? "").split(":").filter((d) => !d.startsWith(path.join(REPO, "node_modules"))).join(":");
    const r = spawnSync("npx", ["--no-install", "senhasegura-backup", ...args], {
        cwd: project, encoding: "utf8", timeout: 300_000,
        env: { ...env, PATH, PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE },
    });
    if (r.error) throw new Error(`npx senhasegura-backup ${args.join(" ")} did not run: ${r.error.message}`);
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe("a team's own Pulumi program installs the packed package", function () {
    this.timeout(600_000);
    let lab: LabDescription;
    let project: string;
    let t: TestStack | undefined;
    let tarball: string;

    before(() => {
        lab = loadLab();
        project = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-consumer-"));
        assert.ok(!path.resolve(project).startsWith(REPO), "the consumer project must live outside the repository");
        // npm pack runs the prepack build, so the tarball holds what the sources say now.
        tarball = path.join(project, JSON.parse(run("npm", ["pack", "--json", "--pack-destination", project], REPO))[0].filename);
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
        assert.deepEqual(files.filter((f) => f.endsWith(".tsbuildinfo")), [], "the compiler's incremental records are build state, not the package");
        assert.ok(!files.some((f) => /(^|\/)(tests|lab|bench|\.state|\.toolchain)\//.test(f)), "the tarball ships more than the package");
        assert.ok(!fs.existsSync(path.join(project, "node_modules", "tsx")), "tsx was installed: the package must not need it");
        const pkg = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8"));
        assert.ok(pkg.peerDependencies["@pulumi/pulumi"], "@pulumi/pulumi must be a peer dependency");
        assert.ok(!pkg.dependencies["@pulumi/pulumi"], "@pulumi/pulumi must not be a direct dependency");
    });

    it("the tarball passes publint (strict) and arethetypeswrong", () => {
        const bin = (name: string) => path.join(REPO, "node_modules", ".bin", name);
        assert.match(run(bin("publint"), ["run", "--strict", tarball], project), /All good!/);
        // The node16 profile: TypeScript's node10 resolution ignores `exports`, so it cannot
        // see ./provider and ./fast-start, which only Node's own require loads (state's
        // __provider, --require); the types a program imports are all on ".".
        const attw = spawnSync(bin("attw"), [tarball, "--profile", "node16", "--format", "json"], { encoding: "utf8" });
        const report = JSON.parse(attw.stdout);
        const problems = Object.values(report.problems ?? {}).flat() as Array<{ kind: string; entrypoint: string; resolutionKind?: string }>;
        assert.equal(attw.status, 0, JSON.stringify(problems));
        assert.deepEqual(problems.filter((p) => p.resolutionKind !== "node10"), []);
        assert.deepEqual(problems.map((p) => `${p.entrypoint} ${p.kind}`).sort(), ["./fast-start NoResolution", "./provider NoResolution"]);
    });

    it("ships the CLI: adopt --help and fleet --help print their usage and exit 0", () => {
        for (const tool of ["adopt", "fleet"]) {
            const r = installedCli(project, [tool, "--help"]);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, new RegExp(`^usage: senhasegura-backup ${tool} `));
            assert.match(r.stdout, /Exit codes: /);
        }
    });

    it("ships the policy pack, with @pulumi/policy resolvable from it", () => {
        const pack = path.join(project, "node_modules", "senhasegura-backup", "policy");
        for (const f of ["PulumiPolicy.yaml", "package.json"]) assert.ok(fs.existsSync(path.join(pack, f)), `policy/${f} is not shipped`);
        const main = path.resolve(pack, JSON.parse(fs.readFileSync(path.join(pack, "package.json"), "utf8")).main);
        assert.ok(fs.existsSync(main), `the pack's main ${main} is not shipped`);
        assert.ok(require.resolve("@pulumi/policy", { paths: [pack] }).startsWith(project), "@pulumi/policy must come from the consumer's install");
    });

    it("type-checks against the package's declarations, with no tsconfig paths", () => {
        const tsconfig = JSON.parse(fs.readFileSync(path.join(project, "tsconfig.json"), "utf8"));
        assert.equal(tsconfig.compilerOptions.paths, undefined);
        run(path.join(project, "node_modules", ".bin", "tsc"), ["--noEmit", "-p", "."], project);
    });

    it("runs up; the installed CLI: drift 0, restore-drill 0, drift 2 after a change by hand; then a no-op preview --refresh with the shipped pack, and destroy", async () => {
        const a = lab.appliances[0];
        const r = lab.rsyncServer;
        t = await createTestStack(project, {
            appliance: { value: JSON.stringify({ host: a.host, port: a.port, hostKey: a.hostKeyFingerprint }) },
            applianceKey: { value: fs.readFileSync(a.privateKeyPath, "utf8"), secret: true },
            backupServer: { value: JSON.stringify({ host: r.host, port: r.port, user: r.adminUser, hostKey: r.hostKey, backupUser: r.backupUser, path: r.backupPath }) },
            backupServerKey: { value: fs.readFileSync(r.adminPrivateKeyPath, "utf8"), secret: true },
            masterPassword: { value: `consumer-${crypto.randomBytes(12).toString("base64url")}`, secret: true },
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

        // The installed CLI, from the project's directory: no drift, a restorable backup.
        const clean = installedCli(project, ["drift", "--stack", t.name]);
        assert.equal(clean.code, 0, `${clean.stdout}${clean.stderr}`);
        assert.match(clean.stdout, new RegExp(`^No drift: stack ${t.name} matches the hosts`));
        const drill = installedCli(project, ["restore-drill", "--stack", t.name]);
        assert.equal(drill.code, 0, `${drill.stdout}${drill.stderr}`);

        // A change by hand on the appliance: drift exits 2 and names the field.
        orbitOk(a, ["backup", "time", "--hour", "9"]);
        const drifted = installedCli(project, ["drift", "--stack", t.name]);
        assert.equal(drifted.code, 2, `${drifted.stdout}${drifted.stderr}`);
        assert.match(drifted.stdout, /BackupPolicy consumer-appliance-policy .*hour/, drifted.stdout);
        const converged = await t.stack.up({ refresh: true, ...recorded(t) });
        assert.equal(converged.summary.result, "succeeded");

        // The shipped pack in the consumer's preview: the program complies with every rule.
        const events: EngineEvent[] = [];
        const preview = await t.stack.preview({
            refresh: true, expectNoChanges: true, onEvent: (e) => events.push(e),
            policyPacks: [path.join(project, "node_modules", "senhasegura-backup", "policy")],
        });
        assert.deepEqual(plannedChanges(events), []);
        assert.match(preview.stdout, /senhasegura-backup-compliance@v1\.0\.0 \(local: /, "the shipped pack ran");
        assert.deepEqual(events.filter((e) => e.policyEvent).map((e) => e.policyEvent!.message), []);

        const destroyed = await t.stack.destroy(recorded(t));
        assert.equal(destroyed.summary.result, "succeeded");
        assert.ok(!fs.readFileSync(r.authorizedKeysPath, "utf8").includes(a.rootPublicKey.split(" ")[1]), "the appliance key is still authorized");
        await t.stack.workspace.removeStack(t.name);
        t = undefined;
    });
});
