// `senhasegura-backup probe`, the pure half: the command line, and the report made
// from the vendor driver's batched read (providers/appliance/vendor-reads.ts), one
// line per capability the driver relies on, each with what the appliance answered,
// so that a difference can be attached to a bug report as it is.
import { checkPublicKey } from "../../providers/formats/authorized-keys/key";
import { entryFor, parseMountTable, remoteShare } from "../../providers/formats/mount-table";
import { logTimeToIso, parseBackupTimeShow, parseOrbitVersion, quoteAnswer } from "../../providers/formats/orbit-vendor";
import type { ResolvedPaths } from "../../providers/appliance/connection";
import { driverFromVersion } from "../../providers/appliance/select";
import type { ItemAnswer, ReadItem } from "../../providers/appliance/vendor-reads";
import type { BackupOutcome } from "../../providers/appliance/vendor-driver";
import { formatBytes } from "../../providers/formats/disk-space";

export const USAGE = `usage: senhasegura-backup probe --host HOST --host-key PIN --private-key-file FILE [flags]
       senhasegura-backup probe --appliances FILE

Reads a senhasegura appliance with the documented commands only (orbit version,
orbit backup time --show; cat/stat of the vendor's files, date, df of /var and a
tail of the backup log, through sudo) and
says, per capability, whether it answered as senhasegura-backup's vendor driver
expects. It changes nothing. Attach its output to a bug report when a line says
DIFFERS: the appliance's answers are in it, passwords masked.

  --host HOST              the appliance
  --port PORT              its SSH port (default 59022)
  --user USER              the admin (default mt4adm)
  --host-key PIN           its SSH host key line, or its SHA256: fingerprint
  --private-key-file FILE  the admin's private key
  --sudo-password-file F   a file (mode 600) holding the admin's sudo password
  --paths FILE             JSON of the appliance's vendor paths, when not the vendor's
  --appliances FILE        JSON list of {host, port?, user?, hostKey, privateKeyFile,
                           sudoPasswordFile?, paths?}: probe each
  --json                   print the report as JSON

exit: 0 every appliance answered as expected, 2 something differs, 1 an appliance
could not be reached or is not a senhasegura appliance.`;

export type Status = "ok" | "differs" | "info";

export interface Finding {
    capability: string;
    /** The command that was asked. */
    command: string;
    status: Status;
    detail: string;
    /** What the appliance answered, masked, when it matters. */
    answer?: string;
}

export interface ProbeReport {
    target: string;
    /** Whether this is a senhasegura appliance at all (orbit answered). */
    senhasegura: boolean;
    findings: Finding[];
}

/** Masks what looks like a password in an answer (an fstab may hold a CIFS one). Pure. */
export function masked(text: string): string {
    return text.replace(/\b(pass(?:word)?)=[^,\s]*/gi, "$1=*******");
}

/** How many lines of the backup log the probe reads: enough to find a daily run's success line. */
export const BACKUP_LOG_PROBE_LINES = 500;

/** The backup log as the probe read it (VendorDriver.backupOutcome), or why it could not. */
export type BackupLogProbe = Pick<BackupOutcome, "offset" | "history" | "varSpace"> | { error: string };

/** The report of one appliance from its reads. Pure. */
export function probeReport(target: string, reads: Record<ReadItem, ItemAnswer>, paths: ResolvedPaths, backupLog?: BackupLogProbe): ProbeReport {
    const findings: Finding[] = [];
    const answer = (a: ItemAnswer) => masked(quoteAnswer(a.output));
    const add = (capability: string, command: string, status: Status, detail: string, a?: ItemAnswer) =>
        findings.push({ capability, command, status, detail, ...(a && status !== "ok" ? { answer: answer(a) } : {}) });

    const v = reads.version;
    const driver = driverFromVersion(v.output);
    const notOrbit = v.code === 127 || /orbit: (command )?not found/.test(v.output);
    // A version answer the driver does not know still names the product on a senhasegura appliance.
    const senhasegura = !notOrbit && (driver !== undefined || /senhasegura/i.test(v.output));
    if (driver === "vendor") {
        const parsed = parseOrbitVersion(v.output);
        add("version", "orbit version", "ok", `Version ${parsed.version} (${Object.entries(parsed.packages).map(([n, x]) => `${n} ${x}`).join(", ")})`);
    } else if (driver === "contract") {
        add("version", "orbit version", "differs", "answers as this project's lab contract appliance, not as the vendor documents (use connection.driver \"contract\")", v);
    } else {
        add("version", "orbit version", "differs", notOrbit ? "orbit is not installed: not a senhasegura appliance"
            : senhasegura ? `not the documented header, Version line and package table (exit ${v.code})`
            : `not a senhasegura appliance: its orbit does not answer as senhasegura's (exit ${v.code})`, v);
    }

    try {
        add("backup hour", "orbit backup time --show", reads.hour.code === 0 ? "ok" : "differs", `hour ${parseBackupTimeShow(reads.hour.output)} (an assumption: the output is not documented)${reads.hour.code === 0 ? "" : `, but exit ${reads.hour.code}`}`, reads.hour);
    } catch (err) {
        add("backup hour", "orbit backup time --show", "differs", `the answer names no single hour 0-24 (an assumption the driver makes: ${(err as Error).message.split(";")[0]})`, reads.hour);
    }

    const key = checkPublicKey((reads.rootKey.output.split("\n").find((l) => l.trim() !== "") ?? "").trim());
    if (reads.rootKey.code === 0 && key.ok) add("root key", `cat ${paths.rootPublicKey}`, "ok", `${key.key.type} ${key.key.fingerprint}`);
    else add("root key", `cat ${paths.rootPublicKey}`, "differs", reads.rootKey.code !== 0 ? `cannot be read (exit ${reads.rootKey.code})` : "not one public key line", reads.rootKey);

    const name = reads.hostname.output.split("\n")[0]?.trim() ?? "";
    add("host name", `cat ${paths.hostname}`, reads.hostname.code === 0 && name !== "" ? "ok" : "differs", reads.hostname.code === 0 ? name : `cannot be read (exit ${reads.hostname.code})`, reads.hostname);

    for (const [item, file, what] of [["fstab", paths.fstab, "fstab"], ["mounts", paths.mountTable, "mount table"]] as const) {
        const a = reads[item];
        if (a.code !== 0) { add(what, `cat ${file}`, "differs", `cannot be read (exit ${a.code})`, a); continue; }
        const entry = entryFor(parseMountTable(a.output), paths.mountPoint);
        if (!entry) { add(what, `cat ${file}`, "ok", `readable; nothing at ${paths.mountPoint}`); continue; }
        const share = remoteShare(entry);
        if (typeof share === "string") add(what, `cat ${file}`, "differs", `${paths.mountPoint}: ${share}`, { output: masked(`${entry.spec} ${entry.mountPoint} ${entry.type} ${entry.options.join(",")}`), code: 0 });
        else add(what, `cat ${file}`, "ok", `${paths.mountPoint}: ${share.protocol}://${share.host}${share.port ? `:${share.port}` : ""}${share.path}`);
    }

    const wt = reads.writeTest;
    const stat = /^(\d+) (\d+)$/.exec(wt.output.trim());
    add("write_test", `stat ${paths.mountPoint}/write_test`, wt.code === 0 && !stat ? "differs" : wt.code === 0 ? "ok" : "info",
        stat ? `written ${new Date(Number(stat[1]) * 1000).toISOString()}` : wt.code === 0 ? "stat answered in an unexpected form" : "absent (no partition is mounted there)", wt);
    if (backupLog !== undefined) {
        // Drift reads the log's last success and the ERROR lines after it, in the zone `date +%z` gives (assumptions).
        const command = `date +%z; tail -n ${BACKUP_LOG_PROBE_LINES} ${paths.backupLog}`;
        if ("error" in backupLog) {
            add("backup log", command, "differs", `cannot be read: ${backupLog.error.split("\n")[0]}`);
        } else {
            const { lastSuccess, errorsAfter } = backupLog.history;
            const when = lastSuccess ? logTimeToIso(lastSuccess.time, backupLog.offset) : undefined;
            add("backup log", command, lastSuccess && when === undefined ? "differs" : lastSuccess ? "ok" : "info",
                lastSuccess
                    ? (when === undefined ? `its success line's time ${lastSuccess.time} is not a time in zone ${backupLog.offset}` : `last success ${when}${errorsAfter.length ? `, ${errorsAfter.length} ERROR line(s) after it` : ""} (zone ${backupLog.offset})`)
                    : `readable (zone ${backupLog.offset}); no \`backup successfully performed\` line in its last ${BACKUP_LOG_PROBE_LINES} lines`);
            // drift's sizing rule (the destination at least 150 % of /var) reads this.
            const v = backupLog.varSpace;
            add("var space", `df -P -k ${paths.varDirectory}`, typeof v === "string" ? "differs" : "ok",
                typeof v === "string" ? `not understood: ${v}` : `${formatBytes(v.totalBytes)}, ${formatBytes(v.freeBytes)} free`);
        }
    }
    return { target, senhasegura, findings };
}

/** The exit code for a set of reports, and the unreachable ones. Pure. */
export function exitCode(reports: readonly ProbeReport[], unreachable: number): number {
    if (unreachable > 0 || reports.some((r) => !r.senhasegura)) return 1;
    return reports.some((r) => r.findings.some((f) => f.status === "differs")) ? 2 : 0;
}

/** The report as text: a header per appliance, a line per capability. Pure. */
export function reportText(r: ProbeReport): string {
    const lines = [`${r.target}:`];
    for (const f of r.findings) {
        lines.push(`  ${f.status === "ok" ? "ok     " : f.status === "info" ? "info   " : "DIFFERS"} ${f.capability.padEnd(12)} ${f.detail}  [${f.command}]`);
        if (f.answer !== undefined && f.status === "differs") lines.push(`          the appliance answered: ${f.answer}`);
    }
    return lines.join("\n");
}
