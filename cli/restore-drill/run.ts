// The implementation of scripts/restore-drill: is the newest backup of each appliance
// of a stack restorable? Reads the stack's state through the Automation API (`pulumi
// stack export --show-secrets`, whose output stays in this process's memory), finds
// each appliance's destination and key there (cli/shared/stack-targets.ts), and reads
// the destination only through providers/transport/far-side.ts. Files are decrypted,
// inflated and listed in memory as they stream in (open.ts; vendor-open.ts for a
// vendor appliance); the decisions are plan.ts and vendor-plan.ts. Nothing is written
// to disk, nothing changes on any host. The master password and the master key stay
// in this process: no child gets them on argv, on stdin or in its environment, and
// everything printed is scrubbed of them.
// Exit codes: 0 restorable, 2 not restorable, 1 error.
import * as fs from "fs";
import { createHash } from "crypto";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { BACKUP_LAYOUT, manifestPath, newestBackupId } from "../../providers/formats/backup-format";
import { redact } from "../../providers/transport/errors";
import { type FarSide, describeSide, digestFiles, listFiles, readFile, streamFile } from "../../providers/transport/far-side";
import { sshPool } from "../../providers/transport/ssh";
import {
    type ApplianceResult, EXIT, type Problem, USAGE, applianceResult, buildReport, bytes, checkDigests, checkManifestDigest, checkOpened,
    directoriesToList, extraFiles, fileResults, formatJson, formatText, openedDetail, parseArgs, parseManifest, verdictOf,
} from "./plan";
import { ArchiveOpener, openSecrets } from "./open";
import { drillVendor } from "./vendor-drill";
import { type ContractTarget, type DrillTarget, type TargetProblem, isProblem, selectTargets, stackTargets } from "../shared/stack-targets";
import { commandErrors } from "../shared/text";
import { projectDirectory } from "../shared/args";
import type { ToolMain } from "../shared/tool";

/** A manifest lists a few files; one this large is not the appliance's. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const PROGRESS_EVERY_MS = 5000;

/** Progress goes to stderr, scrubbed like everything else; stdout holds only the report. */
type Say = (line: string) => void;

/**
 * One appliance, as its flavour keeps its backups: a vendor appliance's in the vendor's
 * layout (vendor-drill.ts), a contract appliance's by its manifest.
 *
 * A contract appliance: its newest backup found by its manifest, every file's size and SHA-256,
 * the files of the backup the manifest does not list, then each intact file opened.
 * A host that cannot be read is an error; a file that is not as the manifest says is a problem.
 */
export async function drillOne(t: DrillTarget, say: Say): Promise<ApplianceResult> {
    return t.flavor === "vendor" ? drillVendor(t, say) : drillContract(t, say);
}

async function drillContract(t: ContractTarget, say: Say): Promise<ApplianceResult> {
    const started = Date.now();
    const side: FarSide = t.destination;
    const where = describeSide(side);
    const base = { name: t.name, appliance: t.appliance, destination: where };
    const done = (rest: Partial<ApplianceResult> & Pick<ApplianceResult, "verdict">): ApplianceResult =>
        applianceResult({ ...base, ...rest, durationMs: Date.now() - started });
    try {
        say(`${t.name}: looking for the newest backup in ${BACKUP_LAYOUT.manifests} at ${where}`);
        const id = newestBackupId(await listFiles(side, BACKUP_LAYOUT.manifests));
        if (id === undefined) {
            return done({
                verdict: "error",
                error: `no backup found: ${where} holds no manifest in ${BACKUP_LAYOUT.manifests} (orbit contract 2 writes ${BACKUP_LAYOUT.manifests}/<id>.json with every backup). `
                    + "Run a backup (sudo orbit backup create on the appliance, or pulumi up after a change of the backup kinds), then the drill again",
            });
        }
        const file = manifestPath(id);
        say(`${t.name}: reading ${file}`);
        const text = await readFile(side, file, MAX_MANIFEST_BYTES);
        const crossCheck = checkManifestDigest(file, id, { size: text.length, sha256: createHash("sha256").update(text).digest("hex") }, t.reported);
        const manifest = parseManifest(text.toString("utf8"), id, file);
        if ("reason" in manifest) {
            return done({ verdict: "not-restorable", backupId: id, manifestMatchesReport: crossCheck.matches, problems: [...(crossCheck.problem ? [crossCheck.problem] : []), manifest] });
        }
        const about = { backupId: id, createdAt: manifest.createdAt, hostname: manifest.hostname, manifestMatchesReport: crossCheck.matches };

        const total = manifest.files.reduce((s, f) => s + f.size, 0);
        say(`${t.name}: backup ${id}: checking the size and SHA-256 of ${manifest.files.length} files (${bytes(total)})`);
        let told = Date.now();
        const digests = await digestFiles(side, manifest.files.map((f) => f.path), (n, of) => {
            // A line every few seconds for a large backup; none for a small one.
            if (n < of && Date.now() - told > PROGRESS_EVERY_MS) { told = Date.now(); say(`${t.name}: ${n} of ${of} files checked`); }
        }, { expectedBytes: total });
        const listed: string[] = [];
        for (const dir of directoriesToList(manifest)) listed.push(...await listFiles(side, dir));
        const problems: Problem[] = [...(crossCheck.problem ? [crossCheck.problem] : []), ...checkDigests(manifest, digests), ...extraFiles(manifest, listed)];

        const proved = new Map<string, string>();
        const trusted = crossCheck.matches !== false;
        for (const f of manifest.files) {
            if (problems.some((p) => p.file === f.path)) continue;
            say(`${t.name}: opening ${f.path} (${bytes(f.size)}${f.encrypted ? ", encrypted" : ""})`);
            let opened;
            if (f.role === "secrets") {
                opened = openSecrets(f, await readFile(side, f.path, f.size), t.masterPassword, trusted);
            } else {
                const opener = new ArchiveOpener(f, f.encrypted ? t.masterPassword : undefined, trusted);
                await streamFile(side, f.path, (chunk) => opener.push(chunk));
                opened = opener.finish();
            }
            const problem = checkOpened(f, opened);
            if (problem) problems.push(problem);
            else if ("entries" in opened) proved.set(f.path, openedDetail(f, opened.entries));
        }
        return done({ ...about, verdict: verdictOf(problems), files: fileResults(manifest, problems, proved), problems });
    } catch (err) {
        return done({ verdict: "error", error: err instanceof Error ? err.message : String(err) });
    }
}


export const main: ToolMain = async (argv) => {
    // The SSH pool waits between dial attempts on timers that do not hold the event loop
    // (so that a provider process can exit); without this, an unreachable host would let
    // the loop drain and the process end before the drill had an answer.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
        return await drill(argv);
    } finally {
        clearInterval(keepAlive);
    }
}

async function drill(argv: readonly string[]): Promise<number> {
    let secrets: string[] = [];
    const scrub = (text: string) => redact(text, secrets);
    const say: Say = (line) => process.stderr.write(scrub(`restore-drill: ${line}\n`));
    let args;
    try {
        args = parseArgs(argv, projectDirectory(process.cwd(), fs.existsSync));
    } catch (err) {
        process.stderr.write(`restore-drill: ${(err as Error).message}\n${USAGE}\n`);
        return EXIT.error;
    }
    if (args === "help") { process.stdout.write(`${USAGE}\n`); return EXIT.restorable; }
    const { stack: stackName, json } = args;
    const fail = (lines: string[]): number => {
        process.stderr.write(scrub(`restore-drill: ${lines.join("\n  ")}\n`));
        if (json) process.stdout.write(scrub(JSON.stringify({ stack: stackName, exitCode: EXIT.error, restorable: false, error: lines }, null, 2) + "\n"));
        return EXIT.error;
    };

    let targets: Array<DrillTarget | TargetProblem>;
    try {
        say(`reading the state of stack ${stackName} (pulumi stack export --show-secrets, kept in memory)`);
        const stack = await LocalWorkspace.selectStack({ stackName, workDir: args.cwd });
        const found = stackTargets(await stack.workspace.exportStack(stackName));
        secrets = found.secrets;
        targets = found.targets;
    } catch (err) {
        return fail([`cannot read the state of stack ${stackName}, so nothing was checked:`, ...commandErrors(err)]);
    }
    try {
        targets = selectTargets(targets, args.appliance);
    } catch (err) {
        return fail([(err as Error).message]);
    }
    if (targets.length === 0) {
        return fail([`stack ${stackName} holds no ApplianceBackup (no BackupVerification), so there is nothing to drill: run pulumi up first`]);
    }

    const results: ApplianceResult[] = [];
    try {
        for (const t of targets) {
            if (isProblem(t)) {
                say(`${t.name}: ${t.error}`);
                results.push(applianceResult({ name: t.name, appliance: t.appliance, verdict: "error", error: t.error, durationMs: 0 }));
                continue;
            }
            const result = await drillOne(t, say);
            say(`${t.name}: ${result.verdict}${result.backupId ? ` (backup ${result.backupId})` : ""} in ${(result.durationMs / 1000).toFixed(1)} s`);
            results.push(result);
        }
    } finally {
        await sshPool.closeAll();
    }
    const report = buildReport(stackName, results);
    process.stdout.write(scrub(json ? formatJson(report) : formatText(report)));
    return report.exitCode;
}
