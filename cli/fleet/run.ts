// The implementation of scripts/fleet: one command over many stacks, K at a time.
// preview and up run in this process through the Automation API (each is its own
// `pulumi` process anyway). drift and restore-drill run scripts/drift and
// scripts/restore-drill as child processes with --json: each keeps its SSH pool,
// its secrets and its stdout to itself, so two stacks at once never mix them, and
// the fleet reads exactly the report a single-stack run prints.
// Exit codes: 0 all fine, 2 drift or a backup not restorable (and no error), 1 an error in any stack.
import { spawn } from "child_process";
import * as fs from "fs";
import { type EngineEvent, LocalWorkspace } from "@pulumi/pulumi/automation";
import { plainText } from "../shared/text";
import {
    EXIT, type FleetArgs, type FleetCommand, type StackResult, USAGE,
    changesResult, countAppliances, drillResult, driftResult, formatSummaryJson, formatTable, mergeExitCodes, parseFleetArgs, runLimited, seconds,
} from "./plan";
import { UsageError, projectDirectory } from "../shared/args";
import type { ToolMain } from "../shared/tool";

const say = (line: string) => process.stderr.write(`fleet: ${line}\n`);

/** The last error-looking lines of a child's stderr: why it failed, in one line. */
function tail(stderr: string): string {
    const lines = plainText(stderr).split("\n").map((l) => l.trim()).filter(Boolean);
    return lines.slice(-3).join(" ").slice(0, 600);
}

/**
 * Runs `senhasegura-backup <tool>` for one stack: this CLI again, with the same node
 * flags (ts-node, fast start), so it is the installed package's own tool wherever the
 * fleet runs. Its stderr is forwarded line by line, prefixed with the stack.
 */
function runChild(tool: string, stack: string, args: FleetArgs): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const cli = require.resolve("../main");
        const child = spawn(process.execPath, [...process.execArgv, cli, tool, "--stack", stack, "--cwd", args.cwd, "--json", ...args.passthrough], {
            env: process.env, stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        let partial = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
        child.stderr.setEncoding("utf8").on("data", (d: string) => {
            stderr += d;
            const lines = (partial + d).split("\n");
            partial = lines.pop()!;
            for (const l of lines) process.stderr.write(`  [${stack}] ${l}\n`);
        });
        child.on("error", reject);
        child.on("close", (code) => {
            if (partial) process.stderr.write(`  [${stack}] ${partial}\n`);
            resolve({ code, stdout, stderr });
        });
    });
}

/** The error lines of a failed preview or up, without colour codes. */
function engineError(err: unknown): string {
    const result = (err as { commandResult?: { stderr?: string; stdout?: string } }).commandResult;
    const text = result?.stderr || result?.stdout || (err instanceof Error ? err.message : String(err));
    return tail(text);
}

async function appliancesOf(stack: string, cwd: string): Promise<number | undefined> {
    try {
        const ws = await LocalWorkspace.create({ workDir: cwd });
        return countAppliances(await ws.exportStack(stack));
    } catch {
        return undefined;
    }
}

async function runStack(command: FleetCommand, stack: string, args: FleetArgs): Promise<StackResult> {
    const started = Date.now();
    let result: StackResult;
    if (command === "drift" || command === "restore-drill") {
        const r = await runChild(command, stack, args);
        const build = command === "drift" ? driftResult : drillResult;
        result = build(stack, r.code, r.stdout, tail(r.stderr), Date.now() - started);
    } else {
        // The resources' own errors: the CLI's last lines only say "update failed".
        const resourceErrors: string[] = [];
        const onEvent = (event: EngineEvent) => {
            const d = event.diagnosticEvent;
            if (d?.severity !== "error" || !d.urn || d.urn.endsWith("::" + stack) || /pulumi:pulumi:Stack::/.test(d.urn)) return;
            const line = `${d.urn.split("::").pop()}: ${plainText(d.message).trim().split("\n")[0]}`;
            if (!resourceErrors.includes(line)) resourceErrors.push(line);
        };
        try {
            const s = await LocalWorkspace.selectStack({ stackName: stack, workDir: args.cwd });
            if (command === "preview") {
                // As scripts/drift does (drift-cli.ts): the reads overlap the program.
                const p = await s.preview({ refresh: true, runProgram: true, color: "never", onEvent });
                result = { stack, exitCode: EXIT.ok, result: changesResult("preview", p.changeSummary), durationMs: Date.now() - started };
            } else {
                const u = await s.up({ refresh: true, color: "never", onEvent });
                result = { stack, exitCode: EXIT.ok, result: changesResult("up", u.summary.resourceChanges), durationMs: Date.now() - started };
            }
        } catch (err) {
            const cause = resourceErrors.length > 0
                ? resourceErrors.slice(0, 3).join("; ") + (resourceErrors.length > 3 ? `; and ${resourceErrors.length - 3} more` : "")
                : engineError(err);
            result = { stack, exitCode: EXIT.error, result: "error", durationMs: Date.now() - started, error: `${command} failed: ${cause}` };
        }
    }
    if (result.appliances === undefined) result.appliances = await appliancesOf(stack, args.cwd);
    return result;
}

export const main: ToolMain = async (argv) => {
    let args: FleetArgs | "help";
    try {
        args = parseFleetArgs(argv, projectDirectory(process.cwd(), fs.existsSync));
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        process.stderr.write(`fleet: ${err.message}\n${USAGE}\n`);
        return EXIT.error;
    }
    if (args === "help") { process.stdout.write(`${USAGE}\n`); return EXIT.ok; }
    const a = args;

    let stacks: string[];
    if (a.all) {
        try {
            const ws = await LocalWorkspace.create({ workDir: a.cwd });
            stacks = (await ws.listStacks()).map((s) => s.name).sort();
        } catch (err) {
            say(`cannot list the stacks of the project in ${a.cwd} (pulumi stack ls): ${engineError(err)}; check PULUMI_BACKEND_URL and that you are logged in`);
            return EXIT.error;
        }
        if (stacks.length === 0) {
            say(`the project in ${a.cwd} has no stacks in ${process.env.PULUMI_BACKEND_URL ?? "the current backend"}: nothing to run`);
            return EXIT.error;
        }
    } else {
        stacks = a.stacks!;
    }

    const k = Math.min(a.concurrency, stacks.length);
    say(`${a.command} of ${stacks.length} stack(s), ${k} at a time: ${stacks.join(", ")}`);
    const started = Date.now();
    const results = await runLimited(stacks, a.concurrency, async (stack) => {
        say(`[${stack}] started`);
        const r = await runStack(a.command, stack, a);
        say(`[${stack}] finished in ${seconds(r.durationMs)}: ${r.result}${r.findings ? ` (${r.findings} finding(s))` : ""}${r.error ? `: ${r.error}` : ""}`);
        return r;
    }, (stack, err) => {
        const error = `scripts/fleet could not run it: ${err instanceof Error ? err.message : String(err)}`;
        say(`[${stack}] failed: ${error}`);
        return { stack, exitCode: EXIT.error, result: "error", durationMs: Date.now() - started, error };
    });
    const total = Date.now() - started;
    if (a.json) {
        process.stderr.write(formatTable(a.command, results, total));
        process.stdout.write(formatSummaryJson(a.command, results, total));
    } else {
        process.stdout.write(formatTable(a.command, results, total));
    }
    return mergeExitCodes(results.map((r) => r.exitCode));
}
