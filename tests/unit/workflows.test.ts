// The GitHub Actions workflows (.github/workflows) cannot run here, so they are
// checked: actionlint v1.7.12 (built by scripts/toolchain from the Go module
// proxy) with shellcheck for every run: script, plus what each workflow must do
// and that every secret and variable it reads is documented in docs/gitops.md.
// A missing actionlint or shellcheck fails these tests; they never skip.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const REPO = path.resolve(__dirname, "..", "..");
const WORKFLOWS = path.join(REPO, ".github", "workflows");
const ACTIONLINT_VERSION = "v1.7.12";

function actionlintPath(): string {
    const bin = path.join(process.env.SSB_ACTIONLINT_BIN ?? path.join(REPO, ".toolchain", `actionlint-${ACTIONLINT_VERSION}`, "bin"), "actionlint");
    if (!fs.existsSync(bin)) {
        throw new Error(`actionlint is missing at ${bin}: run 'bash scripts/toolchain' (scripts/test runs it through scripts/setup); its build log is .toolchain/actionlint.build.log`);
    }
    return bin;
}

function shellcheckPath(): string {
    for (const dir of (process.env.PATH ?? "").split(":")) {
        const candidate = path.join(dir, "shellcheck");
        if (dir && fs.existsSync(candidate)) return candidate;
    }
    throw new Error("shellcheck is not on PATH, so actionlint would not check the run: scripts: install the Debian package shellcheck (scripts/setup does, as root)");
}

function actionlint(cwd: string, files: string[]) {
    const r = spawnSync(actionlintPath(), ["-no-color", "-shellcheck", shellcheckPath(), ...files], { cwd, encoding: "utf8", timeout: 60_000 });
    if (r.error) throw r.error;
    return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

const workflowFiles = () => fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();
const read = (f: string) => fs.readFileSync(path.join(WORKFLOWS, f), "utf8");

describe("GitHub Actions workflows", () => {
    it("are the six the project documents: preview, deploy, drift, restore-drill, fleet, publish", () => {
        assert.deepEqual(workflowFiles(), ["deploy.yml", "drift.yml", "fleet.yml", "preview.yml", "publish.yml", "restore-drill.yml"]);
    });

    it("publish.yml publishes a release with provenance, only after the full suite passed and the tag and CHANGELOG agree with package.json", () => {
        const w = read("publish.yml");
        assert.match(w, /^on:\n {2}release:\n {4}types: \[published\]/m);
        assert.match(w, /^ {2}id-token: write$/m, "provenance needs the OIDC token");
        assert.match(w, /"\$TAG" != "v\$version"/);
        assert.match(w, /grep -q "\^## \\\[\$version\\\]" CHANGELOG\.md/);
        const test = w.indexOf("bash scripts/test");
        const publish = w.indexOf("run: npm publish --provenance --access public");
        assert.ok(test > 0 && publish > test, "the suite runs before the publish");
        assert.match(w, /grep -Eq '\^\[0-9\]\+ passed, 0 failed/, "a failed test stops the publish even though tee hides the exit code");
        assert.match(w, /NODE_AUTH_TOKEN: \$\{\{ secrets\.NPM_TOKEN \}\}/);
        const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));
        assert.match(fs.readFileSync(path.join(REPO, "CHANGELOG.md"), "utf8"), new RegExp(`^## \\[${pkg.version.replace(/\./g, "\\.")}\\]`, "m"), "CHANGELOG.md describes the version package.json names");
        assert.match(pkg.repository?.url ?? "", /^git\+https:\/\/github\.com\/[^/]+\/senhasegura-backup\.git$/, "package.json names its repository (npm's provenance checks it)");
    });

    it(`pass actionlint ${ACTIONLINT_VERSION}, with shellcheck on every run: script`, () => {
        const version = spawnSync(actionlintPath(), ["-version"], { encoding: "utf8" }).stdout.split("\n")[0];
        assert.equal(version, ACTIONLINT_VERSION);
        const r = actionlint(REPO, workflowFiles().map((f) => path.join(".github", "workflows", f)));
        assert.equal(r.code, 0, r.output);
        assert.equal(r.output.trim(), "");
    });

    it("actionlint really checks: a broken workflow fails on its expression and on its shell script", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-actionlint-"));
        try {
            fs.mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
            const bad = path.join(dir, ".github", "workflows", "bad.yml");
            fs.writeFileSync(bad, [
                "on: push",
                "jobs:",
                "  x:",
                "    runs-on: ubuntu-24.04",
                "    steps:",
                "      - run: echo ${{ github.event.no_such_thing.title }}",
                "      - run: cd $UNQUOTED_DIR && ls",
                "      - run: echo ${{ secretz.TOKEN }}",
                "",
            ].join("\n"));
            const r = actionlint(dir, [path.join(".github", "workflows", "bad.yml")]);
            assert.equal(r.code, 1, r.output);
            assert.match(r.output, /shellcheck reported issue/, "shellcheck is wired in");
            assert.match(r.output, /undefined variable "secretz"/, "expressions are type-checked");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("preview.yml previews pull requests with the policy pack and posts the result as one comment", () => {
        const w = read("preview.yml");
        assert.match(w, /^on:\n {2}pull_request:/m);
        assert.match(w, /pull-requests: write/);
        assert.match(w, /pulumi preview --stack "\$STACK" --refresh --diff --policy-pack policy\//);
        assert.match(w, /actions\/github-script@v7/);
        assert.match(w, /updateComment[\s\S]*createComment/, "updates its own comment, or creates it once");
        assert.match(w, /head\.repo\.full_name == github\.repository/, "no preview of fork pull requests, which get no secrets");
    });

    it("deploy.yml runs pulumi up --refresh on main, one at a time, then checks convergence with scripts/drift", () => {
        const w = read("deploy.yml");
        assert.match(w, /^on:\n {2}push:\n {4}branches: \[main\]/m);
        assert.match(w, /pulumi up --stack "\$STACK" --refresh --yes --diff --policy-pack policy\//);
        assert.match(w, /cancel-in-progress: false/);
        assert.match(w, /run: bash scripts\/drift --stack "\$STACK"/);
    });

    it("drift.yml runs scripts/drift on a schedule and opens, updates or closes the drift issue", () => {
        const w = read("drift.yml");
        assert.match(w, /^on:\n {2}schedule:\n(?: {4}#.*\n)* {4}- cron: "[^"]+"/m);
        assert.match(w, /bash scripts\/drift --stack "\$STACK" --json/);
        assert.match(w, /issues: write/);
        for (const call of ["issues.create(", "issues.update(", "issues.createComment(", 'state: "closed"']) assert.ok(w.includes(call), call);
        assert.match(w, /exit-code == '2'/);
        assert.equal(read("deploy.yml").match(/group: (.*)/)![1], w.match(/group: (.*)/)![1], "drift and deploy share one concurrency group");
    });

    it("restore-drill.yml runs scripts/restore-drill weekly and opens or updates an issue when a backup is not restorable or the drill errors", () => {
        const w = read("restore-drill.yml");
        const cron = w.match(/^on:\n {2}schedule:\n(?: {4}#.*\n)* {4}- cron: "([^"]+)"/m);
        assert.ok(cron, "a schedule");
        assert.match(cron[1], /^\d+ \d+ \* \* [0-6]$/, "once a week");
        assert.match(w, /^ {2}workflow_dispatch:$/m);
        assert.match(w, /bash scripts\/restore-drill --stack "\$STACK" --json/);
        assert.match(w, /issues: write/);
        for (const call of ["issues.create(", "issues.update(", "issues.createComment(", 'state: "closed"', 'labels: [label]']) assert.ok(w.includes(call), call);
        assert.match(w, /if \(code === "0"\)/, "only a passing drill closes the issue: exit 1 and 2 open or update it");
        assert.match(w, /if: steps\.drill\.outputs\.exit-code != '0'\n[\s\S]*exit 1/, "a failed drill fails the run too");
        assert.ok(!/MASTER_PASSWORD|masterPassword/.test(w), "the master password comes from the stack's state, not from a workflow secret");
        assert.equal(read("deploy.yml").match(/group: (.*)/)![1], w.match(/group: (.*)/)![1], "the drill and deploy share one concurrency group");
    });

    it("fleet.yml: one job per stack runs scripts/fleet drift and uploads its JSON; one job merges them into a summary and one issue", () => {
        const w = read("fleet.yml");
        assert.match(w, /^on:\n {2}schedule:\n(?: {4}#.*\n)* {4}- cron: "[^"]+"/m);
        assert.match(w, /^ {2}workflow_dispatch:$/m);
        assert.match(w, /matrix:\n {8}stack: \$\{\{ fromJSON\(needs\.stacks\.outputs\.stacks\) \}\}/, "a matrix over the stacks");
        assert.match(w, /fail-fast: false/, "one stack's failure does not cancel the others");
        assert.match(w, /bash scripts\/fleet drift --stacks "\$STACK" --json > "fleet-\$safe\.json"/);
        assert.match(w, /STACK: \$\{\{ matrix\.stack \}\}/);
        assert.match(w, /uses: actions\/upload-artifact@v4[\s\S]*uses: actions\/download-artifact@v4/);
        assert.match(w, /needs: \[stacks, drift\]\n\s+# .*\n\s+if: always\(\)/, "the merge job runs after failed stacks too");
        assert.match(w, /core\.summary/, "one job summary");
        assert.match(w, /issues: write/);
        for (const call of ["issues.create(", "issues.update(", "issues.createComment(", 'state: "closed"', "labels: [label]", "core.setFailed("]) assert.ok(w.includes(call), call);
        assert.match(w, /group: pulumi-\$\{\{ matrix\.stack \}\}/, "each stack's job shares that stack's concurrency group with deploy, drift and the drill");
        assert.equal(read("deploy.yml").match(/group: (pulumi-)/)![1], "pulumi-");
    });

    it("every workflow installs Pulumi the ecosystem's way (pulumi/actions with the pinned version, the command plugin), and the source build only behind SSB_BUILD_PULUMI_FROM_SOURCE", () => {
        const pinned = fs.readFileSync(path.join(REPO, "scripts", "env.sh"), "utf8").match(/^SSB_PULUMI_VERSION="v([\d.]+)"$/m)![1];
        const plugin = fs.readFileSync(path.join(REPO, "scripts", "toolchain"), "utf8").match(/^COMMAND_PLUGIN_VERSION="v([\d.]+)"$/m)![1];
        const fromSource = "if: vars.SSB_BUILD_PULUMI_FROM_SOURCE == 'true'";
        const fromRelease = "if: vars.SSB_BUILD_PULUMI_FROM_SOURCE != 'true'";
        for (const f of workflowFiles()) {
            const w = read(f);
            const steps = w.split(/\n(?= {6}- )/);
            const step = (pattern: RegExp) => {
                const found = steps.filter((s) => pattern.test(s));
                assert.ok(found.length > 0, `${f}: no step matches ${pattern}`);
                return found;
            };
            for (const s of step(/uses: pulumi\/actions@v\d+\n/)) {
                assert.ok(s.includes(fromRelease), `${f}: pulumi/actions runs only on runners that download`);
                assert.match(s, new RegExp(`pulumi-version: ${pinned.replace(/\./g, "\\.")}\n`), `${f}: pulumi/actions pins pulumi ${pinned}`);
            }
            for (const s of step(/pulumi plugin install resource command /)) {
                assert.ok(s.includes(fromRelease), `${f}: the plugin install runs with the release CLI`);
                assert.ok(s.includes(`pulumi plugin install resource command ${plugin}\n`), `${f}: the command plugin ${plugin}`);
                assert.ok(s.includes("source scripts/env.sh"), `${f}: into the project's PULUMI_HOME, where scripts/env.sh points the engine`);
            }
            for (const s of [...step(/uses: actions\/setup-go@/), ...step(/uses: actions\/cache@[\s\S]*path: \.toolchain/)]) {
                assert.ok(s.includes(fromSource), `${f}: the Go build and its cache only when building from source`);
            }
            const setup = step(/run: bash scripts\/setup/);
            assert.equal(setup.length, 1, f);
            assert.ok(setup[0].includes("SSB_PULUMI_FROM_RELEASE: ${{ vars.SSB_BUILD_PULUMI_FROM_SOURCE != 'true' }}"), `${f}: scripts/setup skips the source build exactly when pulumi/actions ran`);
            const order = [w.indexOf("uses: pulumi/actions@"), w.indexOf("pulumi plugin install resource command"), w.indexOf("run: bash scripts/setup")];
            assert.deepEqual([...order].sort((a, b) => a - b), order, `${f}: the release CLI, then the plugin, then scripts/setup`);
            // Third-party actions are pinned by version, as the others are.
            for (const m of w.matchAll(/uses: ([^\s@]+)@(\S+)/g)) assert.match(m[2], /^v\d+$/, `${f}: ${m[1]} pinned by major version`);
        }
        const setupScript = fs.readFileSync(path.join(REPO, "scripts", "setup"), "utf8");
        assert.match(setupScript, /if \[ "\$\{SSB_PULUMI_FROM_RELEASE:-\}" = "true" \]; then[\s\S]*= "\$SSB_PULUMI_VERSION" \][\s\S]*else\n\s+bash "\$SSB_REPO\/scripts\/toolchain"\nfi/, "scripts/setup checks the release's version, and builds from source otherwise");
    });

    it("deploy.yml and preview.yml type-check with tsc before pulumi runs, which only transpiles (scripts/env.sh)", () => {
        assert.match(fs.readFileSync(path.join(REPO, "scripts", "env.sh"), "utf8"), /^export PULUMI_NODEJS_TRANSPILE_ONLY="\$\{PULUMI_NODEJS_TRANSPILE_ONLY:-true\}"$/m);
        for (const f of ["deploy.yml", "preview.yml"]) {
            const w = read(f);
            const typeCheck = w.indexOf("run: npx tsc --noEmit -p .");
            assert.ok(typeCheck > 0, `${f} has no tsc step`);
            const firstPulumiRun = w.search(/^\s+pulumi (up|preview) --stack/m);
            assert.ok(firstPulumiRun > 0 && typeCheck < firstPulumiRun, `${f}: tsc must run before pulumi`);
        }
    });

    it("read secrets only into env: entries, never straight into a script", () => {
        for (const f of workflowFiles()) {
            for (const line of read(f).split("\n").filter((l) => l.includes("secrets."))) {
                assert.match(line, /^\s+[A-Z_]+: \$\{\{ secrets\.[A-Z_]+ \}\}$/, `${f}: ${line.trim()}`);
            }
        }
    });

    it("use only secrets and variables that docs/gitops.md documents", () => {
        const doc = fs.readFileSync(path.join(REPO, "docs", "gitops.md"), "utf8");
        const used = new Set(workflowFiles().flatMap((f) => [...read(f).matchAll(/\b(secrets|vars)\.([A-Z_]+)/g)].map((m) => m[2])));
        assert.ok(used.has("PULUMI_CONFIG_PASSPHRASE") && used.has("SENHASEGURA_APPLIANCE_SSH_KEY") && used.has("SENHASEGURA_BACKUP_SERVER_SSH_KEY"));
        for (const name of used) assert.ok(doc.includes(`\`${name}\``), `docs/gitops.md must document ${name}`);
    });
});
