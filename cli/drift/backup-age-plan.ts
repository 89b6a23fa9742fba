// Stale backups are drift: a backup policy that matches the program is no use when
// the daily backup stopped a week ago. This module decides, from facts read on the
// appliance and at its destination, which findings scripts/drift adds. Pure: the
// reads happen in cli/drift/run.ts, and tests/unit/backup-health.test.ts checks
// the decisions with fixed clocks.
import { type DiskSpace, formatBytes } from "../../providers/formats/disk-space";
import { type DriftReport, type Finding } from "./plan";

/** The default of `maxBackupAgeHours`: a daily backup plus two hours of slack. */
export const DEFAULT_MAX_BACKUP_AGE_HOURS = 26;

/** The limits of the checks by outcome, from the stack's config (docs/configuration.md). */
export interface OutcomeLimits {
    /** `maxWriteTestAgeHours`: the vendor documents no schedule for a partition's validation. */
    maxWriteTestAgeHours: number;
    /** `freeSpaceMultiple`: the destination keeps at least this many times the newest backup free. */
    freeSpaceMultiple: number;
}

export const DEFAULT_OUTCOME_LIMITS: OutcomeLimits = { maxWriteTestAgeHours: 168, freeSpaceMultiple: 3 };

/** The vendor's sizing rule: the destination is at least 150 % of the appliance's /var (other-sources.md, the backup overview). */
export const VENDOR_SIZING_FACTOR = 1.5;

/** The screen where Orbit Web sets what no documented command can. */
const SCREEN = "Orbit Config Manager ➔ Settings ➔ Backup";

/** A kind's newest file at the destination: null when it has none; its time is undefined where the client shows none (NFS). */
export type KindAtDestination = { files: number; newestAt?: string; where: string } | null | string;

/**
 * What a vendor appliance's destination and its own `df` show of the settings that
 * only Orbit Web holds: each is checked by its outcome. A string is why it could not
 * be read; undefined, that the stack gives no way to read it.
 */
export interface OutcomeFacts {
    /** What the program declares (BackupPolicy's inputs in the state). */
    declared: { system: boolean; video: boolean; secrets: boolean; totalBackups?: number; partition: boolean };
    /** The newest session files (backup/system/arz), looked for over the allowed age. */
    video?: KindAtDestination;
    /** The secrets items (backup/secrets). */
    secrets?: KindAtDestination;
    /** How many runs of database dumps backup/system/db holds. */
    sets?: number | string;
    /** The newest backup's bytes at the destination: its dumps, its day of session files and the secrets items. */
    newestBytes?: number;
    /** The destination's filesystem. */
    space?: DiskSpace | string;
    /** The appliance's /var (connection.paths.varDirectory). */
    varSpace?: DiskSpace | string;
    /** The partition's write_test at the appliance's mount point: null when there is none. */
    writeTest?: { modifiedAt: string } | null | string;
}

/** What scripts/drift read about one appliance's backups. */
export interface BackupFacts {
    /** The ApplianceBackup's name in the program. */
    appliance: string;
    /** The BackupPolicy's URN: findings are tied to it. */
    urn: string;
    /** The appliance, as `user@host:port`. */
    host: string;
    /** `orbit backup config show`'s lastBackup, or null when the appliance never made one. */
    lastBackup: { id: string; startedAt: string } | null;
    /** `orbit backup config show`'s lastFailure (contract 2). */
    lastFailure?: { time: string; code: string; message: string } | null;
    /** How the appliance keeps its backups: a vendor appliance's are read from its log and its layout. */
    flavor?: "contract" | "vendor";
    /** The ERROR lines of the vendor's backup log after its last successful backup. */
    failuresSinceLastBackup?: number;
    /** Notifications of the last 7 days (contract 2). */
    events: Array<{ time: string; kind: string; destination?: string | null; error?: string | null }>;
    /** The newest backup at the destination: its manifest's id and createdAt; null when none is there;
     *  a string when the destination could not be read (why); undefined when the stack gives no way to read it. */
    newestAtDestination?: { id: string; createdAt: string; where: string } | null | string;
    /** A vendor appliance's checks by outcome. */
    outcome?: OutcomeFacts;
}

/** The appliance could not be read at all: drift is unknown for its backups. */
export interface UnreadableAppliance { appliance: string; urn: string; host: string; error: string }

function hoursBetween(then: string, now: Date): number {
    return (now.getTime() - new Date(then).getTime()) / 3_600_000;
}

function age(hours: number): string {
    return hours >= 48 ? `${(hours / 24).toFixed(1)} days` : `${hours.toFixed(1)} h`;
}

/** The findings for one appliance's backups. Pure. */
export function backupFindings(facts: BackupFacts, now: Date, maxAgeHours: number, outcome: OutcomeLimits = DEFAULT_OUTCOME_LIMITS): { findings: Finding[]; warnings: string[] } {
    const findings: Finding[] = [];
    const warnings: string[] = [];
    const base = { type: "BackupAge", name: facts.appliance, urn: facts.urn, host: facts.host, op: "check", cause: "outside-pulumi" as const };
    const subject = `Backups of ${facts.appliance} on ${facts.host}`;
    const limit = `at most ${maxAgeHours} h (maxBackupAgeHours)`;
    const lastFailure = facts.lastFailure ? `; the last failure, at ${facts.lastFailure.time}: ${facts.lastFailure.code}: ${facts.lastFailure.message}` : "";
    const fix = "check the appliance's backup log (/var/log/orbinibkp.log) and its destination, then run a backup (sudo orbit backup create)";

    if (facts.lastBackup === null) {
        findings.push({
            ...base, change: "other", field: "lastBackup", expected: limit, actual: "never",
            message: `${subject}: the appliance has no successful backup${lastFailure}; ${fix}`,
        });
    } else {
        const hours = hoursBetween(facts.lastBackup.startedAt, now);
        if (!(hours <= maxAgeHours)) {
            findings.push({
                ...base, change: "changed", field: "lastBackup", expected: limit, actual: `${age(hours)} ago (${facts.lastBackup.id}, ${facts.lastBackup.startedAt})`,
                message: `${subject}: the last successful backup is ${age(hours)} old (${facts.lastBackup.id}), older than ${maxAgeHours} h${lastFailure}; ${fix}`,
            });
        }
    }

    const side = facts.newestAtDestination;
    if (side === null) {
        findings.push({
            ...base, change: "other", field: "destination", expected: limit, actual: "no backup",
            message: `${subject}: the destination holds no backup ${facts.flavor === "vendor" ? "(no database dump in backup/system/db)" : "manifest"}; ${fix}`
                + (facts.outcome?.declared.system ? `; on a vendor appliance also check ${SCREEN}: "Enable application backup?" = Yes (system)` : ""),
        });
    } else if (typeof side === "string") {
        warnings.push(`${subject}: the newest backup at the destination is unknown: ${side}`);
    } else if (side !== undefined) {
        const hours = hoursBetween(side.createdAt, now);
        if (!(hours <= maxAgeHours)) {
            findings.push({
                ...base, change: "changed", field: "destination", expected: limit, actual: `${age(hours)} ago (${side.id} at ${side.where})`,
                message: `${subject}: the newest backup at ${side.where} is ${age(hours)} old (${side.id}), older than ${maxAgeHours} h; ${fix}`,
            });
        }
    }

    // The vendor's log: a run that failed after the last good one is drift though the
    // last good one is still young (tomorrow's may fail the same way).
    if (facts.failuresSinceLastBackup !== undefined && facts.failuresSinceLastBackup > 0) {
        const last = facts.lastFailure;
        findings.push({
            ...base, change: "other", field: "backupLog", expected: "no ERROR line after the last `backup successfully performed`",
            actual: `${facts.failuresSinceLastBackup} ERROR line${facts.failuresSinceLastBackup === 1 ? "" : "s"}${last ? `, the last at ${last.time}` : ""}`,
            message: `${subject}: the backup log (/var/log/orbinibkp.log) has ${facts.failuresSinceLastBackup} ERROR line${facts.failuresSinceLastBackup === 1 ? "" : "s"} after its last successful backup`
                + `${last ? `, the last at ${last.time}: ${last.code}: ${last.message}` : ""}; fix what it names (often the destination), then run a backup (sudo orbit backup create)`,
        });
    }

    // A lost remote directory after the last good backup is not resolved yet: drift.
    // One before it was followed by a good backup: worth a line, not a red build.
    const since = facts.lastBackup ? new Date(facts.lastBackup.startedAt).getTime() : -Infinity;
    const lost = facts.events.filter((e) => e.kind === "remote_directory_lost");
    const open = lost.filter((e) => new Date(e.time).getTime() > since);
    if (open.length > 0) {
        const last = open[open.length - 1];
        findings.push({
            ...base, type: "Notification", change: "other", field: "events", expected: "no lost remote directory since the last backup",
            actual: `${open.length} remote_directory_lost, the last at ${last.time}`,
            message: `${subject}: the appliance lost its remote directory ${open.length} time${open.length === 1 ? "" : "s"} since its last successful backup, the last at ${last.time} (${last.destination ?? "destination unknown"}: ${last.error ?? "no detail"}); check that the destination is mounted and reachable`,
        });
    } else if (lost.length > 0) {
        warnings.push(`${subject}: ${lost.length} remote_directory_lost notification${lost.length === 1 ? "" : "s"} in the last 7 days, the last at ${lost[lost.length - 1].time}, followed by a successful backup`);
    }
    if (facts.outcome) {
        const more = outcomeFindings(facts, now, maxAgeHours, outcome);
        findings.push(...more.findings);
        warnings.push(...more.warnings);
    }
    return { findings, warnings };
}

/** The Orbit Web field that turns each kind on. */
const KIND_FIELD = {
    video: `${SCREEN}: "Enable sessions file backup?" = Yes`,
    secrets: `${SCREEN} ➔ Servers: Enabled, with its Mode and Directory path (it runs only after the master key ceremony)`,
} as const;

const KIND_DIR = { video: "backup/system/arz/<YYYY>/<MMDD>", secrets: "backup/secrets" } as const;

/**
 * The checks by outcome of what only Orbit Web sets, on a vendor appliance: each
 * declared kind has fresh files, the sets kept match "Total of backups", the
 * destination has room, and the partition's write_test is recent. Pure.
 */
export function outcomeFindings(facts: BackupFacts, now: Date, maxAgeHours: number, limits: OutcomeLimits): { findings: Finding[]; warnings: string[] } {
    const o = facts.outcome!;
    const findings: Finding[] = [];
    const warnings: string[] = [];
    const base = { type: "BackupOutcome", name: facts.appliance, urn: facts.urn, host: facts.host, op: "check", cause: "outside-pulumi" as const };
    const subject = `Backups of ${facts.appliance} on ${facts.host}`;
    const after = "then run a backup (sudo orbit backup create)";

    for (const kind of ["video", "secrets"] as const) {
        const seen = o[kind];
        if (!o.declared[kind] || seen === undefined) continue;
        const limit = `files in ${KIND_DIR[kind]} at most ${maxAgeHours} h old (maxBackupAgeHours)`;
        if (typeof seen === "string") {
            warnings.push(`${subject}: whether the ${kind} backup runs is unknown: ${seen}`);
        } else if (seen === null) {
            findings.push({
                ...base, change: "other", field: kind, expected: limit, actual: kind === "video" ? `no session files in the last ${Math.ceil(maxAgeHours / 24) + 1} days` : "no item",
                message: `${subject}: the program declares the ${kind} backup on, but the destination has no ${kind === "video" ? `session files in backup/system/arz for the last ${Math.ceil(maxAgeHours / 24) + 1} days` : "item in backup/secrets"}; `
                    + `set ${KIND_FIELD[kind]} (${kind})${kind === "video" ? ", or, if it is on, check that proxy sessions were recorded in that time" : ""}, ${after}`,
            });
        } else if (seen.newestAt === undefined) {
            warnings.push(`${subject}: the ${kind} backup has ${seen.files} file${seen.files === 1 ? "" : "s"} at ${seen.where}, whose age is unknown (the NFS client shows no times)`);
        } else {
            const hours = (now.getTime() - Date.parse(seen.newestAt)) / 3_600_000;
            if (!(hours <= maxAgeHours)) {
                findings.push({
                    ...base, change: "changed", field: kind, expected: limit, actual: `the newest is ${age(hours)} old (${seen.newestAt})`,
                    message: `${subject}: the newest ${kind} file at ${seen.where} is ${age(hours)} old, older than ${maxAgeHours} h, though the program declares the ${kind} backup on; check ${KIND_FIELD[kind]} (${kind}), ${after}`,
                });
            }
        }
    }

    if (o.declared.totalBackups !== undefined && o.sets !== undefined) {
        if (typeof o.sets === "string") warnings.push(`${subject}: the backup sets at the destination could not be counted: ${o.sets}`);
        else if (o.sets > o.declared.totalBackups) {
            findings.push({
                ...base, change: "changed", field: "totalBackups", expected: `at most ${o.declared.totalBackups} backup sets in backup/system/db (totalBackups)`, actual: `${o.sets} sets`,
                message: `${subject}: the destination keeps ${o.sets} backup sets in backup/system/db, more than the ${o.declared.totalBackups} the program declares; set ${SCREEN}: "Total of backups" = ${o.declared.totalBackups} (totalBackups), or find out who keeps the old sets there`,
            });
        }
    }

    if (typeof o.space === "string") warnings.push(`${subject}: the destination's free space is unknown: ${o.space}`);
    else if (o.space !== undefined) {
        const need = o.newestBytes !== undefined ? Math.ceil(limits.freeSpaceMultiple * o.newestBytes) : undefined;
        if (need !== undefined && o.space.freeBytes < need) {
            findings.push({
                ...base, change: "other", field: "freeSpace", expected: `at least ${limits.freeSpaceMultiple} × the newest backup (${formatBytes(o.newestBytes!)}) free: ${formatBytes(need)} (freeSpaceMultiple)`,
                actual: `${formatBytes(o.space.freeBytes)} free of ${formatBytes(o.space.totalBytes)}`,
                message: `${subject}: the destination has ${formatBytes(o.space.freeBytes)} free, less than ${limits.freeSpaceMultiple} times the newest backup (${formatBytes(o.newestBytes!)}); free space there or grow it before a backup fails for want of room`,
            });
        }
        if (typeof o.varSpace === "string") warnings.push(`${subject}: the appliance's /var could not be read for the vendor's sizing rule: ${o.varSpace}`);
        else if (o.varSpace !== undefined && o.space.totalBytes < VENDOR_SIZING_FACTOR * o.varSpace.totalBytes) {
            findings.push({
                ...base, change: "other", field: "destinationSize", expected: `at least 150 % of the appliance's /var (${formatBytes(o.varSpace.totalBytes)}): ${formatBytes(VENDOR_SIZING_FACTOR * o.varSpace.totalBytes)}`,
                actual: formatBytes(o.space.totalBytes),
                message: `${subject}: the destination holds ${formatBytes(o.space.totalBytes)}, less than the vendor's sizing rule of 150 % of the appliance's /var (${formatBytes(o.varSpace.totalBytes)}); give the destination at least ${formatBytes(VENDOR_SIZING_FACTOR * o.varSpace.totalBytes)}`,
            });
        }
    }

    if (o.declared.partition && o.writeTest !== undefined) {
        const limit = `at most ${limits.maxWriteTestAgeHours} h old (maxWriteTestAgeHours)`;
        const remount = "validate the partition again (its Mount in Orbit Web, or `pulumi up` after `sudo orbit partition --remount`), and check the share takes writes";
        if (typeof o.writeTest === "string") warnings.push(`${subject}: the partition's write_test could not be read: ${o.writeTest}`);
        else if (o.writeTest === null) {
            findings.push({
                ...base, change: "other", field: "writeTest", expected: limit, actual: "none at the mount point",
                message: `${subject}: the remote partition has no write_test at the appliance's mount point, so the appliance never validated it (or lost it); ${remount}`,
            });
        } else {
            const hours = (now.getTime() - Date.parse(o.writeTest.modifiedAt)) / 3_600_000;
            if (!(hours <= limits.maxWriteTestAgeHours)) {
                findings.push({
                    ...base, change: "changed", field: "writeTest", expected: limit, actual: `${age(hours)} old (${o.writeTest.modifiedAt})`,
                    message: `${subject}: the remote partition's write_test is ${age(hours)} old, older than ${limits.maxWriteTestAgeHours} h (maxWriteTestAgeHours): the appliance has not validated the partition since; ${remount}`,
                });
            }
        }
    }
    return { findings, warnings };
}

/** The drift report with the backup findings added: any of them makes it drift (exit 2). Pure. */
export function withBackupFindings(report: DriftReport, facts: BackupFacts[], unreadable: UnreadableAppliance[], now: Date, maxAgeHours: number, outcome: OutcomeLimits = DEFAULT_OUTCOME_LIMITS): DriftReport & { unknown: UnreadableAppliance[] } {
    const findings = [...report.findings];
    const warnings = [...report.warnings];
    for (const f of facts) {
        const r = backupFindings(f, now, maxAgeHours, outcome);
        findings.push(...r.findings);
        warnings.push(...r.warnings.map((message) => ({ urn: f.urn, name: f.appliance, message })));
    }
    return {
        ...report,
        drift: findings.length > 0,
        resourcesDrifted: new Set(findings.map((f) => f.urn)).size,
        findings,
        warnings,
        unknown: unreadable,
    };
}
