// Stale backups are drift: a backup policy that matches the program is no use when
// the daily backup stopped a week ago. This module decides, from facts read on the
// appliance and at its destination, which findings scripts/drift adds. Pure: the
// reads happen in cli/drift/run.ts, and tests/unit/backup-health.test.ts checks
// the decisions with fixed clocks.
import { type DriftReport, type Finding } from "./plan";

/** The default of `maxBackupAgeHours`: a daily backup plus two hours of slack. */
export const DEFAULT_MAX_BACKUP_AGE_HOURS = 26;

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
export function backupFindings(facts: BackupFacts, now: Date, maxAgeHours: number): { findings: Finding[]; warnings: string[] } {
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
            message: `${subject}: the destination holds no backup ${facts.flavor === "vendor" ? "(no database dump in backup/system/db)" : "manifest"}; ${fix}`,
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
    return { findings, warnings };
}

/** The drift report with the backup findings added: any of them makes it drift (exit 2). Pure. */
export function withBackupFindings(report: DriftReport, facts: BackupFacts[], unreadable: UnreadableAppliance[], now: Date, maxAgeHours: number): DriftReport & { unknown: UnreadableAppliance[] } {
    const findings = [...report.findings];
    const warnings = [...report.warnings];
    for (const f of facts) {
        const r = backupFindings(f, now, maxAgeHours);
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
