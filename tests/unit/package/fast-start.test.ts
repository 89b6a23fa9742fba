// senhasegura-backup/fast-start (fast-start.ts): preloaded with --require, it keeps
// @pulumi/pulumi from loading its closure serializer's two heaviest modules at
// start-up, and a program that does serialize a closure still can. Each case runs a
// fresh node, as the language host starts the program, on the compiled package.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as path from "path";

const REPO = path.resolve(__dirname, "..", "..", "..");
const FAST_START = path.join(REPO, "dist", "package", "fast-start.js");

/** Runs `script` in a new node in the repository, with or without fast-start; its JSON answer. */
function inFreshNode(script: string, fastStart: boolean, extraEnv: Record<string, string> = {}): any {
    // Without the NODE_OPTIONS of scripts/env.sh, which preloads fast-start in every node it starts.
    const { NODE_OPTIONS: _, PULUMI_DEBUG_PROMISE_LEAKS: __, ...env } = process.env;
    const out = execFileSync(process.execPath, [...(fastStart ? ["--require", FAST_START] : []), "-e", script], { cwd: REPO, env: { ...env, ...extraEnv }, encoding: "utf8", timeout: 60_000 });
    return JSON.parse(out.trim().split("\n").pop()!);
}

const LOADED = `
const loaded = (name) => Object.keys(require.cache).some((f) => f.includes("/node_modules/" + name + "/"));
const report = () => ({ arborist: loaded("@npmcli/arborist"), typescript: loaded("typescript"), modules: Object.keys(require.cache).length });`;

describe("fast-start: the SDK's closure serializer loads on first use, not at start-up", function () {
    this.timeout(120_000);

    it("without it, @pulumi/pulumi loads @npmcli/arborist and the TypeScript compiler at once", () => {
        const r = inFreshNode(`${LOADED} require("@pulumi/pulumi"); console.log(JSON.stringify(report()));`, false);
        assert.deepEqual([r.arborist, r.typescript], [true, true]);
    });

    it("with it, @pulumi/pulumi and this package load neither, and far fewer modules", () => {
        const without = inFreshNode(`${LOADED} require("@pulumi/pulumi"); require("senhasegura-backup"); console.log(JSON.stringify(report()));`, false);
        const r = inFreshNode(`${LOADED} require("@pulumi/pulumi"); require("senhasegura-backup"); console.log(JSON.stringify(report()));`, true);
        assert.deepEqual([r.arborist, r.typescript], [false, false]);
        assert.ok(r.modules < without.modules * 0.6, `${r.modules} modules with fast-start, ${without.modules} without`);
    });

    it("a program that serializes a closure still can: the modules load when it does", async () => {
        const r = inFreshNode(`${LOADED}
const pulumi = require("@pulumi/pulumi");
const before = report();
const factor = 6;
pulumi.runtime.serializeFunction(() => (x) => x * factor).then((s) => {
    console.log(JSON.stringify({ before, after: report(), text: s.text }));
}, (e) => { console.log(JSON.stringify({ error: String(e) })); });`, true);
        assert.equal(r.error, undefined, r.error);
        assert.deepEqual([r.before.arborist, r.before.typescript], [false, false]);
        assert.equal(r.after.typescript, true, "serializing parsed the function with the TypeScript compiler");
        assert.match(r.text, /factor/);
    });

    it("a program that packages code (computeCodePaths) still can: arborist and the rest load when it does", () => {
        const r = inFreshNode(`${LOADED}
const pulumi = require("@pulumi/pulumi");
const before = report();
pulumi.runtime.computeCodePaths({ extraIncludePackages: ["zod"] }).then((paths) => {
    console.log(JSON.stringify({ before, after: report(), paths: [...paths.keys()] }));
}, (e) => { console.log(JSON.stringify({ error: String(e) })); });`, true);
        assert.equal(r.error, undefined, r.error);
        assert.equal(r.before.arborist, false);
        assert.equal(r.after.arborist, true);
        assert.ok(r.paths.includes("node_modules/zod"), r.paths.join(", "));
    });

    it("loading it twice hooks the loader once", () => {
        const r = inFreshNode(`require(${JSON.stringify(FAST_START)}); const m = require("module"); const hook = m._load; require(${JSON.stringify(FAST_START)});
delete require.cache[${JSON.stringify(FAST_START)}]; require(${JSON.stringify(FAST_START)}); console.log(JSON.stringify({ same: m._load === hook }));`, false);
        assert.equal(r.same, true);
    });
});

// The SDK's debuggablePromise reads `new Error().stack` for every promise it tracks, and
// only its leak report with PULUMI_DEBUG_PROMISE_LEAKS set ever prints it. A formatter
// that counts its calls stands for source-map-support, which maps every frame it gets.
const COUNTING_FORMATTER = `
let formatted = 0;
Error.prepareStackTrace = (error, frames) => { formatted++; return "mapped: " + error.message; };
const { debuggablePromise } = require("@pulumi/pulumi/runtime/debuggable");
// debuggablePromise records the trace on the promise it is given, and returns a chained one.
const tracked = Promise.resolve(1);
debuggablePromise(tracked, "a tracked promise");`;

describe("fast-start: the stack traces of the SDK's promise bookkeeping are not source-mapped", function () {
    this.timeout(120_000);

    it("a tracked promise's trace skips the installed formatter; every other trace still gets it", () => {
        const r = inFreshNode(`${COUNTING_FORMATTER}
const afterTracked = formatted;
const other = new Error("thrown by a program").stack;
console.log(JSON.stringify({ afterTracked, other, formatted, tracked: tracked._debugStackTrace, expected: require(${JSON.stringify(FAST_START)}).BOOKKEEPING_STACK }));`, true);
        assert.equal(r.afterTracked, 0, "the formatter ran for the SDK's bookkeeping trace");
        assert.equal(r.tracked, r.expected);
        assert.match(r.tracked, /PULUMI_DEBUG_PROMISE_LEAKS=1/, "the fixed line says how to get the trace back");
        assert.equal(r.other, "mapped: thrown by a program");
        assert.equal(r.formatted, 1);
    });

    it("with PULUMI_DEBUG_PROMISE_LEAKS set, the tracked promise's trace is formatted as before", () => {
        const r = inFreshNode(`${COUNTING_FORMATTER}
console.log(JSON.stringify({ formatted, tracked: tracked._debugStackTrace }));`, true, { PULUMI_DEBUG_PROMISE_LEAKS: "1" });
        assert.deepEqual(r, { formatted: 1, tracked: "mapped: " });
    });

    it("without fast-start, the tracked promise's trace goes through the formatter (what the hook avoids)", () => {
        const r = inFreshNode(`${COUNTING_FORMATTER}
console.log(JSON.stringify({ formatted }));`, false);
        assert.equal(r.formatted, 1);
    });

    it("code that swaps Error.prepareStackTrace and puts it back (as the callsites package does) keeps both working", () => {
        const r = inFreshNode(`${COUNTING_FORMATTER}
const saved = Error.prepareStackTrace;
Error.prepareStackTrace = (_error, frames) => frames;
const frames = new Error("raw").stack;
Error.prepareStackTrace = saved;
const after = new Error("again").stack;
console.log(JSON.stringify({ raw: Array.isArray(frames) && typeof frames[0].getFileName === "function", after, formatted }));`, true);
        assert.deepEqual(r, { raw: true, after: "mapped: again", formatted: 1 });
    });

    it("with only node's own formatter (no source maps), traces read as node writes them", () => {
        const script = `
const { debuggablePromise } = require("@pulumi/pulumi/runtime/debuggable");
const stack = new Error("plain").stack;
console.log(JSON.stringify({ head: stack.split("\\n").slice(0, 2) }));`;
        const r = inFreshNode(script, true);
        assert.equal(r.head[0], "Error: plain");
        assert.match(r.head[1], /^    at /);
        assert.deepEqual(r, inFreshNode(script, false));
    });
});

describe("fast-start: only on the @pulumi/pulumi versions it was checked against", function () {
    this.timeout(120_000);

    it("names the version this repository installs as checked", () => {
        const { CHECKED_SDK_VERSIONS, sdkMismatch } = require(FAST_START);
        const installed = require("@pulumi/pulumi/package.json").version;
        assert.ok(CHECKED_SDK_VERSIONS.includes(installed), `${installed} is not in ${CHECKED_SDK_VERSIONS}`);
        assert.equal(sdkMismatch(installed), undefined);
        assert.match(sdkMismatch("3.300.0"), /^@pulumi\/pulumi 3\.300\.0 is not a version it was checked against \(3\.248\.0\)$/);
        assert.match(sdkMismatch(undefined), /not installed/);
    });

    it("on another SDK version it hooks nothing and warns once on stderr", () => {
        // A project whose @pulumi/pulumi says it is a version fast-start was not checked against.
        const fs = require("fs") as typeof import("fs");
        const os = require("os") as typeof import("os");
        const project = fs.mkdtempSync(path.join(os.tmpdir(), "ssb-fast-start-"));
        try {
            fs.mkdirSync(path.join(project, "node_modules", "@pulumi", "pulumi"), { recursive: true });
            fs.writeFileSync(path.join(project, "node_modules", "@pulumi", "pulumi", "package.json"), JSON.stringify({ name: "@pulumi/pulumi", version: "3.300.0" }));
            const { NODE_OPTIONS: _, ...env } = process.env;
            const run = require("child_process").spawnSync(process.execPath,
                ["--require", FAST_START, "--require", FAST_START, "-e", `console.log(JSON.stringify({ hooked: require("module").__ssbFastStart === true, traces: "__ssbPlainBookkeepingStacks" in Error }))`],
                { cwd: project, env, encoding: "utf8", timeout: 60_000 });
            assert.equal(run.status, 0, run.stderr);
            assert.deepEqual(JSON.parse(run.stdout), { hooked: false, traces: false });
            assert.equal(run.stderr, "warning: senhasegura-backup/fast-start is off: @pulumi/pulumi 3.300.0 is not a version it was checked against (3.248.0); the program runs as it would without it, only slower to start. Update senhasegura-backup, or remove it from runtime.options.nodeargs.\n");
        } finally {
            fs.rmSync(project, { recursive: true, force: true });
        }
    });
});
