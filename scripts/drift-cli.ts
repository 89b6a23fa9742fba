// The implementation of scripts/drift: is a stack's live state what its
// program says? Runs the equivalent of `pulumi preview --refresh` through the
// Automation API, reads the engine's events, and prints each drifted resource
// and field in plain words (scripts/drift-report.ts).
// Exit codes: 0 no drift, 2 drift, 1 error.
// Usage: scripts/drift [--stack NAME] [--cwd DIR] [--json]
import * as path from "path";
import { type EngineEvent, LocalWorkspace } from "@pulumi/pulumi/automation";
import { EXIT, buildDriftReport, formatJson, formatText, stripAnsi } from "./drift-report";

const USAGE = `usage: scripts/drift [--stack NAME] [--cwd DIR] [--json]

Refreshes the stack's resources from the hosts (a preview: nothing is changed)
and reports every resource and field that differs from the program.

  --stack NAME   the stack (default: dev)
  --cwd DIR      the Pulumi project directory (default: the repository root)
  --json         print the report as JSON instead of text

Exit codes: 0 no drift, 2 drift, 1 error (the preview could not run).
The passphrase comes from PULUMI_CONFIG_PASSPHRASE (or _FILE), never from arguments.`;

export interface DriftArgs { stack: string; cwd: string; json: boolean }

/** Parses the command line; throws a usage error naming the bad argument. Pure. */
export function parseArgs(argv: readonly string[], repo: string): DriftArgs | "help" {
    const out: DriftArgs = { stack: "dev", cwd: repo, json: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = (flag: string): string => {
            const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
            if (v === undefined || v === "") throw new UsageError(`${flag} needs a value`);
            return v;
        };
        if (a === "-h" || a === "--help") return "help";
        else if (a === "--json") out.json = true;
        else if (a === "--stack" || a === "-s" || a.startsWith("--stack=")) out.stack = value("--stack");
        else if (a === "--cwd" || a === "-C" || a.startsWith("--cwd=")) out.cwd = path.resolve(value("--cwd"));
        else throw new UsageError(`unknown argument ${JSON.stringify(a)}`);
    }
    return out;
}

export class UsageError extends Error {}

/** The error lines the engine reported, without colour codes: what to show when the preview fails. */
function engineErrors(events: EngineEvent[], err: unknown): string[] {
    const fromEvents = events.map((e) => e.diagnosticEvent).filter((d) => d && d.severity === "error")
        .map((d) => `${d!.urn ? `${d!.urn.slice(d!.urn.lastIndexOf("::") + 2)}: ` : ""}${stripAnsi(d!.message).trim()}`);
    if (fromEvents.length > 0) return fromEvents;
    const result = (err as { commandResult?: { stderr?: string; stdout?: string } }).commandResult;
    const text = stripAnsi(result?.stderr || result?.stdout || (err instanceof Error ? err.message : String(err)));
    return text.split("\n").filter((l) => l.trim()).slice(-20);
}

export async function main(argv: readonly string[]): Promise<number> {
    const repo = path.resolve(__dirname, "..");
    let args: DriftArgs | "help";
    try {
        args = parseArgs(argv, repo);
    } catch (err) {
        process.stderr.write(`drift: ${(err as Error).message}\n${USAGE}\n`);
        return EXIT.error;
    }
    if (args === "help") { process.stdout.write(`${USAGE}\n`); return EXIT.noDrift; }

    const events: EngineEvent[] = [];
    try {
        const stack = await LocalWorkspace.selectStack({ stackName: args.stack, workDir: args.cwd });
        await stack.preview({ refresh: true, color: "never", onEvent: (e) => events.push(e) });
    } catch (err) {
        const lines = engineErrors(events, err);
        process.stderr.write(`drift: the preview of stack ${args.stack} failed, so drift is unknown:\n${lines.map((l) => `  ${l}`).join("\n")}\n`);
        if (args.json) process.stdout.write(JSON.stringify({ stack: args.stack, exitCode: EXIT.error, error: lines }, null, 2) + "\n");
        return EXIT.error;
    }
    const report = buildDriftReport(events);
    process.stdout.write(args.json ? formatJson(report, args.stack) : formatText(report, args.stack));
    return report.drift ? EXIT.drift : EXIT.noDrift;
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
        process.stderr.write(`drift: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = EXIT.error;
    });
}
