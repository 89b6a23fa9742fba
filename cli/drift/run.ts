// The implementation of scripts/drift: is a stack's live state what its
// program says? Runs the equivalent of `pulumi preview --refresh --run-program`
// through the Automation API, reads the engine's events, and prints each drifted
// resource and field in plain words (scripts/drift-report.ts).
// Then it checks that the backups themselves are recent (scripts/backup-health.ts):
// a stale backup is drift too.
// Exit codes: 0 no drift, 2 drift, 1 error.
// Usage: scripts/drift [--stack NAME] [--cwd DIR] [--json] [--max-backup-age-hours H | --no-backup-age]
import * as fs from "fs";
import { type EngineEvent, LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { redact as redactSecrets } from "../../providers/transport/errors";
import { DEFAULT_MAX_BACKUP_AGE_HOURS, DEFAULT_OUTCOME_LIMITS, type OutcomeLimits, withBackupFindings } from "./backup-age-plan";
import { type DriftArgs, EXIT, USAGE, buildDriftReport, formatJson, formatText, parseArgs, parseFreeSpaceMultiple, parseMaxAge } from "./plan";
import { projectDirectory } from "../shared/args";
import type { ToolMain } from "../shared/tool";
import { commandErrors, nameOf, plainText } from "../shared/text";

/** The error lines the engine reported, without colour codes: what to show when the preview fails. */
function engineErrors(events: EngineEvent[], err: unknown): string[] {
    const fromEvents = events.map((e) => e.diagnosticEvent).filter((d) => d && d.severity === "error")
        .map((d) => `${d!.urn ? `${nameOf(d!.urn)}: ` : ""}${plainText(d!.message).trim()}`);
    if (fromEvents.length > 0) return fromEvents;
    return commandErrors(err);
}

export const main: ToolMain = async (argv) => {
    let args: DriftArgs | "help";
    try {
        args = parseArgs(argv, projectDirectory(process.cwd(), fs.existsSync));
    } catch (err) {
        process.stderr.write(`drift: ${(err as Error).message}\n${USAGE}\n`);
        return EXIT.error;
    }
    if (args === "help") { process.stdout.write(`${USAGE}\n`); return EXIT.noDrift; }

    const events: EngineEvent[] = [];
    let stack: Stack;
    try {
        stack = await LocalWorkspace.selectStack({ stackName: args.stack, workDir: args.cwd });
        // runProgram: each resource is read as the program declares it, instead of all
        // of them before the program starts, so the reads overlap the program's own
        // work. The same reads, the same events and the same report (checked on 4 drift
        // cases); 0.14 s faster at 1 appliance and about 1 s at 100 (docs/fleet.md).
        await stack.preview({ refresh: true, runProgram: true, color: "never", onEvent: (e) => events.push(e) });
    } catch (err) {
        const lines = engineErrors(events, err);
        process.stderr.write(`drift: the preview of stack ${args.stack} failed, so drift is unknown:\n${lines.map((l) => `  ${l}`).join("\n")}\n`);
        if (args.json) process.stdout.write(JSON.stringify({ stack: args.stack, exitCode: EXIT.error, error: lines }, null, 2) + "\n");
        return EXIT.error;
    }
    let report = buildDriftReport(events);
    if (!args.backupAge) {
        process.stdout.write(args.json ? formatJson(report, args.stack) : formatText(report, args.stack));
        return report.drift ? EXIT.drift : EXIT.noDrift;
    }
    let unknown: Array<{ appliance: string; host: string; error: string }> = [];
    // The SSH pool waits between dial attempts on timers that do not hold the event loop
    // (so that a provider process can exit): without this, an unreachable appliance would
    // let the loop drain, and the process end with exit 0 before the check had an answer.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
        const limits = await stackLimits(stack);
        const maxAge = args.maxBackupAgeHours ?? limits.maxAgeHours;
        // Loaded here: a run with --no-backup-age never loads the SSH client.
        const { backupSources, readBackupFacts } = await import("./backup-age-run");
        const secrets = new Set<string>();
        const sources = backupSources(await stack.workspace.exportStack(args.stack), secrets);
        const read = await readBackupFacts(sources, (line) => process.stderr.write(`drift: ${line}\n`), maxAge);
        const { sshPool } = await import("../../providers/transport/ssh");
        await sshPool.closeAll();
        report = withBackupFindings(report, read.facts, read.unreadable, new Date(), maxAge, limits.outcome);
        unknown = read.unreadable;
        for (const u of unknown) process.stderr.write(`drift: the backups of ${u.appliance} on ${u.host} could not be checked: ${redactSecrets(u.error, [...secrets])}\n`);
    } catch (err) {
        process.stderr.write(`drift: the backup-age check of stack ${args.stack} could not run: ${err instanceof Error ? err.message : String(err)}\n`);
        process.stdout.write(args.json ? formatJson(report, args.stack) : formatText(report, args.stack));
        return report.drift ? EXIT.drift : EXIT.error;
    } finally {
        clearInterval(keepAlive);
    }
    process.stdout.write(args.json ? formatJson(report, args.stack) : formatText(report, args.stack));
    return report.drift ? EXIT.drift : unknown.length > 0 ? EXIT.error : EXIT.noDrift;
}

/** The stack's limits for the backup checks (any project's namespace), else the defaults. */
async function stackLimits(stack: Stack): Promise<{ maxAgeHours: number; outcome: OutcomeLimits }> {
    const config = await stack.getAllConfig();
    const value = (name: string) => {
        const key = Object.keys(config).find((k) => k.endsWith(`:${name}`));
        return key === undefined || config[key].value === "" ? undefined : { key, text: config[key].value };
    };
    const age = value("maxBackupAgeHours");
    const writeTest = value("maxWriteTestAgeHours");
    const multiple = value("freeSpaceMultiple");
    return {
        maxAgeHours: age ? parseMaxAge(age.text, `the stack's config ${age.key}`) : DEFAULT_MAX_BACKUP_AGE_HOURS,
        outcome: {
            maxWriteTestAgeHours: writeTest ? parseMaxAge(writeTest.text, `the stack's config ${writeTest.key}`) : DEFAULT_OUTCOME_LIMITS.maxWriteTestAgeHours,
            freeSpaceMultiple: multiple ? parseFreeSpaceMultiple(multiple.text, `the stack's config ${multiple.key}`) : DEFAULT_OUTCOME_LIMITS.freeSpaceMultiple,
        },
    };
}
