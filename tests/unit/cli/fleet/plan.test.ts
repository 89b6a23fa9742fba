// scripts/fleet's pure half (scripts/fleet-plan.ts): the command line, the
// K-at-a-time scheduler, reading each stack's outcome from scripts/drift's and
// scripts/restore-drill's JSON, the merged exit code, the table and the JSON.
// No engine, no lab: tests/e2e/fleet.test.ts runs the real thing.
import { strict as assert } from "assert";
import * as path from "path";
import {
    DEFAULT_CONCURRENCY, EXIT, type StackResult, changesResult, countAppliances, drillResult, driftResult,
    formatSummaryJson, formatTable, mergeExitCodes, parseFleetArgs, runLimited,
} from "../../../../cli/fleet/plan";
import { UsageError } from "../../../../cli/shared/args";

const REPO = "/repo";
const parse = (...argv: string[]) => parseFleetArgs(argv, REPO);
const usage = (argv: string[], message: RegExp) => assert.throws(() => parseFleetArgs(argv, REPO), (e: unknown) => e instanceof UsageError && message.test(e.message));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("scripts/fleet: arguments", () => {
    it("takes a command, the stacks, and defaults to 2 at a time in the repository", () => {
        assert.deepEqual(parse("drift", "--stacks", "site-a,site-b"), {
            command: "drift", stacks: ["site-a", "site-b"], all: false, cwd: REPO, concurrency: 2, json: false, passthrough: [],
        });
        assert.equal(DEFAULT_CONCURRENCY, 2);
    });

    it("reads --all, --cwd, --concurrency, --json, the = forms, and everything after -- as the child's", () => {
        const a = parse("restore-drill", "--all", "--cwd=programs/x", "--concurrency", "4", "--json", "--", "--appliance", "appliance-0");
        assert.ok(a !== "help");
        assert.equal(a.all, true);
        assert.equal(a.stacks, undefined);
        assert.equal(a.cwd, path.resolve("programs/x"));
        assert.equal(a.concurrency, 4);
        assert.equal(a.json, true);
        assert.deepEqual(a.passthrough, ["--appliance", "appliance-0"]);
        assert.deepEqual((parse("drift", "--stacks=a", "-j", "1", "--", "--no-backup-age") as any).passthrough, ["--no-backup-age"]);
        assert.equal(parse("--help"), "help");
        assert.equal(parse("drift", "-h"), "help");
    });

    it("refuses, naming what is wrong", () => {
        usage([], /a command is needed/);
        usage(["destroy", "--all"], /unknown command "destroy"/);
        usage(["drift"], /give --stacks a,b or --all/);
        usage(["drift", "--stacks", "a", "--all"], /exclude each other/);
        usage(["drift", "--stacks"], /--stacks needs a value/);
        usage(["drift", "--stacks", "a,,b"], /"" is not a stack name/);
        usage(["drift", "--stacks", "a;rm -rf /"], /is not a stack name/);
        usage(["drift", "--stacks", "a,b,a"], /names a twice/);
        usage(["drift", "--all", "--concurrency", "0"], /--concurrency must be a whole number from 1 to 64, but "0"/);
        usage(["drift", "--all", "--concurrency", "two"], /--concurrency must be/);
        usage(["drift", "--all", "--no-backup-age"], /unknown argument "--no-backup-age" \(arguments for drift or restore-drill go after --\)/);
        usage(["up", "--all", "--", "--yes"], /up takes none/);
        usage(["drift", "--all", "--", "--stack", "x"], /--stack after -- is set by fleet for each stack/);
        usage(["drift", "--all", "--", "--json"], /--json after --/);
    });
});

describe("scripts/fleet: scheduling", () => {
    it("runs at most K at a time, starts the next as soon as one ends, and keeps the order", async () => {
        let running = 0;
        let peak = 0;
        const starts: string[] = [];
        const durations: Record<string, number> = { a: 60, b: 10, c: 10, d: 10, e: 10 };
        const out = await runLimited(Object.keys(durations), 2, async (s) => {
            starts.push(s);
            running++;
            peak = Math.max(peak, running);
            await sleep(durations[s]);
            running--;
            return s.toUpperCase();
        }, () => "failed");
        assert.equal(peak, 2);
        assert.deepEqual(out, ["A", "B", "C", "D", "E"]);
        assert.deepEqual(starts, ["a", "b", "c", "d", "e"]);
    });

    it("one stack's failure does not stop the others", async () => {
        const ran: string[] = [];
        const out = await runLimited(["a", "b", "c", "d"], 2, async (s) => {
            ran.push(s);
            if (s === "b") throw new Error("engine crashed");
            await sleep(5);
            return `${s} ok`;
        }, (s, err) => `${s}: ${(err as Error).message}`);
        assert.deepEqual(ran.sort(), ["a", "b", "c", "d"]);
        assert.deepEqual(out, ["a ok", "b: engine crashed", "c ok", "d ok"]);
    });

    it("a limit above the number of stacks, or of 1, works", async () => {
        assert.deepEqual(await runLimited(["a"], 8, async (s) => s, () => "x"), ["a"]);
        let running = 0;
        let peak = 0;
        await runLimited(["a", "b", "c"], 1, async () => { running++; peak = Math.max(peak, running); await sleep(2); running--; }, () => undefined);
        assert.equal(peak, 1);
        assert.deepEqual(await runLimited([], 2, async (s) => s, () => "x"), []);
    });
});

describe("scripts/fleet: exit codes and each stack's outcome", () => {
    it("merges: any error is 1, else any drift is 2, else 0", () => {
        assert.equal(mergeExitCodes([]), EXIT.ok);
        assert.equal(mergeExitCodes([0, 0]), 0);
        assert.equal(mergeExitCodes([0, 2, 0]), 2);
        assert.equal(mergeExitCodes([2, 1, 0]), 1);
        assert.equal(mergeExitCodes([1]), 1);
    });

    const driftJson = (exitCode: number, findings: number) => JSON.stringify({ stack: "s", exitCode, drift: findings > 0, resourcesChecked: 6, resourcesDrifted: findings, findings: Array.from({ length: findings }, (_, i) => ({ message: `f${i}` })), warnings: [] });

    it("reads scripts/drift's report: no drift, drift with its findings, an error with the reason", () => {
        assert.deepEqual(pick(driftResult("a", 0, driftJson(0, 0), "", 1200)), { exitCode: 0, result: "no drift", findings: 0 });
        assert.deepEqual(pick(driftResult("b", 2, driftJson(2, 3), "", 1200)), { exitCode: 2, result: "drift", findings: 3 });
        const failed = driftResult("c", 1, JSON.stringify({ stack: "c", exitCode: 1, error: ["the preview failed", "error: no stack named 'c' found"] }), "", 10);
        assert.equal(failed.exitCode, 1);
        assert.equal(failed.error, "the preview failed error: no stack named 'c' found");
        // A crash before any report, or exit 2 without one, is an error: drift is then unknown.
        assert.deepEqual(pick(driftResult("d", 2, "", "drift: killed", 10)), { exitCode: 1, result: "error", findings: undefined });
        assert.equal(driftResult("e", null, "{not json", "", 10).error, "scripts/drift exited on a signal without a report");
        assert.equal(driftResult("f", 1, "", "ssh: connect refused", 10).error, "ssh: connect refused");
    });

    it("reads scripts/restore-drill's report: restorable, not restorable with its problem files, an appliance in error", () => {
        const appliance = (verdict: string, problems: number, error?: string) => ({ name: `x-${verdict}`, verdict, problems: Array.from({ length: problems }, () => ({ file: "f", reason: "r" })), ...(error ? { error } : {}) });
        const ok = drillResult("a", 0, JSON.stringify({ stack: "a", exitCode: 0, appliances: [appliance("restorable", 0), appliance("restorable", 0)] }), "", 5);
        assert.deepEqual({ ...pick(ok), appliances: ok.appliances }, { exitCode: 0, result: "restorable", findings: 0, appliances: 2 });
        assert.deepEqual(pick(drillResult("b", 2, JSON.stringify({ exitCode: 2, appliances: [appliance("not restorable", 2), appliance("restorable", 0)] }), "", 5)), { exitCode: 2, result: "not restorable", findings: 2 });
        const err = drillResult("c", 1, JSON.stringify({ exitCode: 1, appliances: [appliance("error", 0, "the destination cannot be read")] }), "", 5);
        assert.equal(err.error, "x-error: the destination cannot be read");
    });

    it("words a preview's and an up's change summary", () => {
        assert.equal(changesResult("preview", { same: 7 }), "no changes");
        assert.equal(changesResult("preview", { same: 5, update: 2, create: 1 }), "2 to update, 1 to create");
        assert.equal(changesResult("up", { same: 7 }), "up to date");
        assert.equal(changesResult("up", { update: 2, replace: 1 }), "2 updated, 1 replaced");
        assert.equal(changesResult("preview", undefined), "no changes");
    });

    it("counts appliances as the BackupPolicies in the state", () => {
        const r = (type: string) => ({ type });
        assert.equal(countAppliances({ deployment: { resources: [r("pulumi:pulumi:Stack"), r("pulumi-nodejs:dynamic/senhasegura:BackupPolicy"), r("pulumi-nodejs:dynamic/senhasegura:RsyncTarget"), r("pulumi-nodejs:dynamic/senhasegura:BackupPolicy")] } }), 2);
        assert.equal(countAppliances({ deployment: {} }), 0);
        assert.equal(countAppliances(undefined), 0);
    });
});

function pick(r: StackResult) {
    return { exitCode: r.exitCode, result: r.result, findings: r.findings };
}

describe("scripts/fleet: the summary", () => {
    const results: StackResult[] = [
        { stack: "site-a", exitCode: 0, result: "no drift", appliances: 3, findings: 0, durationMs: 4200 },
        { stack: "site-bb", exitCode: 2, result: "drift", appliances: 12, findings: 5, durationMs: 10_050, report: { findings: [] } },
        { stack: "site-c", exitCode: 1, result: "error", durationMs: 300, error: "drift: the preview of stack site-c failed" },
    ];

    it("is one table: stack, appliances, result, drift findings, time; then the errors and the verdict", () => {
        assert.equal(formatTable("drift", results, 14_400), [
            "stack    appliances  result    drift findings  time",
            "-------  ----------  --------  --------------  ------",
            "site-a            3  no drift               0  4.2 s",
            "site-bb          12  drift                  5  10.1 s",
            "site-c            -  error                  -  0.3 s",
            "site-c: drift: the preview of stack site-c failed",
            "",
            "drift of 3 stack(s) in 14.4 s: 1 ok, 1 drifted, 1 failed; exit 1",
            "",
        ].join("\n"));
        assert.match(formatTable("restore-drill", [results[0]], 1000), /^stack {3}appliances {2}result {4}problems {2}time\n[\s\S]*1 ok, 0 not restorable, 0 failed; exit 0\n$/);
    });

    it("as JSON: the merged exit code, every stack with its own report, null for unknowns", () => {
        const j = JSON.parse(formatSummaryJson("drift", results, 14_400));
        assert.equal(j.command, "drift");
        assert.equal(j.exitCode, 1);
        assert.equal(j.durationMs, 14_400);
        assert.deepEqual(j.stacks.map((s: any) => [s.stack, s.exitCode, s.result, s.appliances, s.findings]), [
            ["site-a", 0, "no drift", 3, 0], ["site-bb", 2, "drift", 12, 5], ["site-c", 1, "error", null, null],
        ]);
        assert.deepEqual(j.stacks[1].report, { findings: [] });
        assert.equal(j.stacks[2].error, "drift: the preview of stack site-c failed");
        assert.ok(!("report" in j.stacks[0]));
        assert.equal(JSON.parse(formatSummaryJson("drift", results.slice(0, 2), 1)).exitCode, 2);
    });
});
