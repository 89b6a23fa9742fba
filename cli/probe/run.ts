// `senhasegura-backup probe`: reads each appliance with the vendor driver's one
// batched read (documented commands and read-only tools only) and prints
// plan.ts's report. It writes nothing on any host.
import * as fs from "fs";
import { z } from "zod";
import { AppliancePaths, ApplianceConnection, resolvedPaths } from "../../providers/appliance/connection";
import { VendorDriver } from "../../providers/appliance/vendor-driver";
import { describeTarget } from "../../providers/transport/connection";
import { BackupProviderError } from "../../providers/transport/errors";
import { sshPool } from "../../providers/transport/ssh";
import { UsageError, parseFlags } from "../shared/args";
import type { ToolMain } from "../shared/tool";
import { BACKUP_LOG_PROBE_LINES, type BackupLogProbe, type ProbeReport, USAGE, exitCode, probeReport, reportText } from "./plan";
import { driverFromVersion } from "../../providers/appliance/select";

const Target = z.strictObject({
    host: z.string(), port: z.number().int().optional(), user: z.string().optional(), hostKey: z.string(),
    privateKeyFile: z.string(), sudoPasswordFile: z.string().optional(), paths: AppliancePaths.optional(),
});
type Target = z.output<typeof Target>;

function readJson(file: string, what: string): unknown {
    let text: string;
    try { text = fs.readFileSync(file, "utf8"); } catch (err) { throw new UsageError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`); }
    try { return JSON.parse(text); } catch { throw new UsageError(`${what} ${file} is not JSON`); }
}

/** The sudo password from its file, which must not be readable by others: it is a secret. */
function readSudoPassword(file: string): string {
    let st: fs.Stats;
    try { st = fs.statSync(file); } catch (err) { throw new UsageError(`cannot read the sudo password file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`); }
    if ((st.mode & 0o077) !== 0) throw new UsageError(`the sudo password file ${file} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
    return fs.readFileSync(file, "utf8").split("\n")[0];
}

function targetsOf(argv: readonly string[]): { targets: Target[]; json: boolean } | "help" {
    const parsed = parseFlags(argv, {
        host: { type: "string" }, port: { type: "string" }, user: { type: "string" }, "host-key": { type: "string" }, "private-key-file": { type: "string" },
        "sudo-password-file": { type: "string" }, paths: { type: "string" }, appliances: { type: "string" }, json: { type: "boolean" },
    });
    if (parsed === "help") return "help";
    const v = parsed.values;
    const json = v.json === true;
    if (v.appliances !== undefined) {
        if (v.host !== undefined) throw new UsageError("give --appliances or --host, not both");
        const list = z.array(Target).min(1).safeParse(readJson(v.appliances, "the appliance list"));
        if (!list.success) throw new UsageError(`the appliance list ${v.appliances}: ${list.error.issues[0].path.join(".")} ${list.error.issues[0].message}`);
        return { targets: list.data, json };
    }
    for (const flag of ["host", "host-key", "private-key-file"] as const) if (v[flag] === undefined) throw new UsageError(`--${flag} is required`);
    const port = v.port === undefined ? undefined : Number(v.port);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new UsageError(`--port must be a port number, but ${JSON.stringify(v.port)} was provided`);
    const paths = v.paths === undefined ? undefined : AppliancePaths.parse(readJson(v.paths, "the paths file"));
    return { targets: [{ host: v.host!, port, user: v.user, hostKey: v["host-key"]!, privateKeyFile: v["private-key-file"]!, sudoPasswordFile: v["sudo-password-file"], paths }], json };
}

async function probe(target: Target): Promise<ProbeReport> {
    const connection = ApplianceConnection.parse({
        host: target.host, port: target.port, user: target.user, hostKey: target.hostKey, privateKeyPath: target.privateKeyFile,
        paths: target.paths, dialAttempts: 2, commandTimeoutSec: 60,
        ...(target.sudoPasswordFile !== undefined ? { sudoPassword: readSudoPassword(target.sudoPasswordFile) } : {}),
    });
    const driver = new VendorDriver(connection);
    const reads = await driver.reads(false);
    // The backup log is read apart, and only from a vendor appliance: the refresh's batch does not need it.
    let backupLog: BackupLogProbe | undefined;
    if (driverFromVersion(reads.version.output) === "vendor") {
        try {
            backupLog = await driver.backupOutcome(BACKUP_LOG_PROBE_LINES);
        } catch (err) {
            backupLog = { error: (err as Error).message };
        }
    }
    return probeReport(describeTarget(connection), reads, resolvedPaths(connection.paths), backupLog);
}

export const main: ToolMain = async (argv) => {
    let args: ReturnType<typeof targetsOf>;
    try {
        args = targetsOf(argv);
    } catch (err) {
        if (!(err instanceof UsageError) && !(err instanceof z.ZodError)) throw err;
        process.stderr.write(`probe: ${err.message}\n\n${USAGE}\n`);
        return 1;
    }
    if (args === "help") { process.stdout.write(`${USAGE}\n`); return 0; }
    const reports: ProbeReport[] = [];
    const failures: Array<{ target: string; error: string }> = [];
    try {
        for (const target of args.targets) {
            try {
                reports.push(await probe(target));
            } catch (err) {
                if (!(err instanceof BackupProviderError) && !(err instanceof UsageError)) throw err;
                failures.push({ target: `${target.user ?? "mt4adm"}@${target.host}:${target.port ?? 59022}`, error: err.message });
            }
        }
    } finally {
        await sshPool.closeAll();
    }
    if (args.json) {
        process.stdout.write(`${JSON.stringify({ reports, unreachable: failures }, null, 2)}\n`);
    } else {
        for (const r of reports) process.stdout.write(`${reportText(r)}\n`);
        for (const f of failures) process.stdout.write(`${f.target}:\n  UNREACHABLE ${f.error.split("\n").join("\n              ")}\n`);
    }
    return exitCode(reports, failures.length);
};
