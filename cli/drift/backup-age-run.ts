// The reads behind scripts/drift's backup-age findings (backup-age-plan.ts decides).
// For each BackupPolicy in the stack's state: on a contract appliance, one `orbit
// backup config show` (the last successful backup, the last failure, the
// notifications of the last 7 days) and the newest manifest at the destination; on a
// vendor appliance, its backup log's tail and its clock's UTC offset (one exec) and
// the newest run of dumps at the destination. The connections come from the state,
// as the restore drill's do (cli/shared/stack-targets.ts): pinned host keys, secrets
// in memory.
import { nameOf } from "../shared/text";
import { BACKUP_LAYOUT, Manifest, newestBackupId } from "../../providers/formats/backup-format";
import { describeTarget } from "../../providers/transport/connection";
import { ApplianceConnection } from "../../providers/appliance/connection";
import { driverName } from "../../providers/appliance/select";
import { FarSide, describeSide, listEntries, listFiles, readFile, spaceOf } from "../../providers/transport/far-side";
import { OrbitClient } from "../../providers/appliance/orbit";
import { VendorDriver } from "../../providers/appliance/vendor-driver";
import { logTimeToIso } from "../../providers/formats/orbit-vendor";
import { VENDOR_LAYOUT, arzDaysBefore, dumpSets, stampTime } from "../../providers/formats/vendor-layout";
import { type BackupFacts, DEFAULT_MAX_BACKUP_AGE_HOURS, type KindAtDestination, type OutcomeFacts, type UnreadableAppliance } from "./backup-age-plan";
import { TYPES, revealSecrets } from "../shared/stack-targets";

interface StateResource { urn: string; type: string; parent?: string; delete?: boolean; inputs?: Record<string, unknown> }

/** A BackupPolicy of the state, with what is needed to read its appliance and destination. */
export interface BackupSource {
    appliance: string;
    urn: string;
    connection: unknown;
    /** The sibling BackupVerification's destination, when there is one. */
    destination?: unknown;
    /** What the BackupPolicy declares, for the checks by outcome on a vendor appliance. */
    declared: OutcomeFacts["declared"];
}


/** Every BackupPolicy of an exported deployment (`pulumi stack export --show-secrets`). Pure. */
export function backupSources(deployment: unknown, secrets: Set<string>): BackupSource[] {
    const resources = ((deployment as { deployment?: { resources?: StateResource[] } })?.deployment?.resources ?? [])
        .filter((r) => r && typeof r.urn === "string" && !r.delete);
    const components = new Set(resources.filter((r) => r.type === TYPES.component).map((r) => r.urn));
    return resources.filter((r) => r.type === TYPES.policy).map((policy) => {
        const inputs = revealSecrets(policy.inputs ?? {}, secrets) as Record<string, unknown>;
        const inComponent = policy.parent !== undefined && components.has(policy.parent);
        const siblings = resources.filter((r) => r.type === TYPES.verification && r.parent === policy.parent);
        const c = inputs.connection as { user?: string; host?: string; port?: number } | undefined;
        const appliance = c ? `${c.user}@${c.host}:${c.port}` : undefined;
        // With several appliances under one parent, the verification names its appliance.
        const verification = siblings.length === 1 ? siblings[0] : siblings.find((v) => v.inputs?.appliance === appliance);
        const destination = verification ? (revealSecrets(verification.inputs ?? {}, secrets) as Record<string, unknown>).destination : undefined;
        const declared = {
            system: inputs.system !== false, video: inputs.video === true, secrets: inputs.secrets === true,
            ...(typeof inputs.totalBackups === "number" ? { totalBackups: inputs.totalBackups } : {}),
            partition: (inputs.destination as { type?: string } | undefined)?.type === "partition",
        };
        return { appliance: inComponent ? nameOf(policy.parent!) : nameOf(policy.urn), urn: policy.urn, connection: inputs.connection, destination, declared };
    });
}

const MANIFEST_MAX_BYTES = 16 * 1024 * 1024;

async function newestAtDestination(destination: unknown): Promise<BackupFacts["newestAtDestination"]> {
    if (destination === undefined) return undefined;
    const side = FarSide.safeParse(destination);
    if (!side.success) return `the state's BackupVerification destination cannot be read by this version (${side.error.issues[0]?.message})`;
    const where = describeSide(side.data);
    try {
        const id = newestBackupId(await listFiles(side.data, BACKUP_LAYOUT.manifests));
        if (id === undefined) return null;
        const text = (await readFile(side.data, `${BACKUP_LAYOUT.manifests}/${id}.json`, MANIFEST_MAX_BYTES)).toString("utf8");
        const manifest = Manifest.safeParse(JSON.parse(text));
        if (!manifest.success) return `the manifest of backup ${id} at ${where} is not a contract-2 manifest: ${manifest.error.issues[0]?.path.join(".")} ${manifest.error.issues[0]?.message}`;
        return { id, createdAt: manifest.data.createdAt, where };
    } catch (err) {
        return `${where} could not be read: ${(err as Error).message}`;
    }
}

/** The appliance's local date and time now, as a dump stamp (`YYYY-MM-DD_HHMMSS`), from its UTC offset. */
function localStamp(now: Date, offset: string): string {
    const sign = offset.startsWith("-") ? -1 : 1;
    const minutes = sign * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(3, 5)));
    const t = new Date(now.getTime() + minutes * 60_000).toISOString();
    return `${t.slice(0, 10)}_${t.slice(11, 13)}${t.slice(14, 16)}${t.slice(17, 19)}`;
}

/**
 * The newest files of one kind: the secrets items, or the newest arz day's session
 * files among the days the allowed age spans (looked for by name: the layout files
 * sessions under their day). Without a time from the client (NFS), an arz day's end
 * stands for its files' time.
 */
async function newestOfKind(side: FarSide, dirs: readonly string[], dayEnd: (dir: string) => string | undefined): Promise<{ seen: KindAtDestination; bytes: number }> {
    for (const dir of dirs) {
        const entries = await listEntries(side, dir);
        if (entries.length === 0) continue;
        const times = entries.map((e) => e.modifiedAt).filter((t): t is string => t !== undefined).sort();
        const newestAt = times.length === entries.length ? times[times.length - 1] : dayEnd(dir);
        return { seen: { files: entries.length, where: `${describeSide(side)}/${dir}`, ...(newestAt ? { newestAt } : {}) }, bytes: entries.reduce((n, e) => n + e.size, 0) };
    }
    return { seen: null, bytes: 0 };
}

/** What a vendor appliance's destination shows: its newest run of dumps, and the outcome facts read there. */
async function vendorDestination(source: BackupSource, offset: string, maxAgeHours: number, now: Date)
    : Promise<{ newest: BackupFacts["newestAtDestination"]; outcome: Partial<OutcomeFacts> }> {
    if (source.destination === undefined) return { newest: undefined, outcome: {} };
    const side = FarSide.safeParse(source.destination);
    if (!side.success) {
        const why = `the state's BackupVerification destination cannot be read by this version (${side.error.issues[0]?.message})`;
        return { newest: why, outcome: { sets: why, space: why, video: why, secrets: why } };
    }
    const where = describeSide(side.data);
    const failed = (err: unknown) => `${where} could not be read: ${(err as Error).message}`;
    let newest: BackupFacts["newestAtDestination"];
    const outcome: Partial<OutcomeFacts> = {};
    let bytes = 0;
    try {
        const dumps = await listEntries(side.data, VENDOR_LAYOUT.db);
        const sets = dumpSets(dumps.map((f) => f.file.slice(VENDOR_LAYOUT.db.length + 1)));
        const set = sets[sets.length - 1];
        outcome.sets = sets.length;
        if (set === undefined) newest = null;
        else {
            const names = new Set(set.dumps.map((d) => `${VENDOR_LAYOUT.db}/${d.name}`));
            bytes += dumps.filter((d) => names.has(d.file)).reduce((n, d) => n + d.size, 0);
            const createdAt = logTimeToIso(stampTime(set.stamp).replace("T", " "), offset);
            newest = createdAt === undefined ? `the dump stamp ${set.stamp} at ${where} is not a time` : { id: set.stamp, createdAt, where };
        }
    } catch (err) {
        newest = failed(err);
        outcome.sets = newest;
    }
    const days = arzDaysBefore(localStamp(now, offset), Math.ceil(maxAgeHours / 24) + 1);
    const dayEnd = (dir: string) => logTimeToIso(`${dir.slice(-9, -5)}-${dir.slice(-4, -2)}-${dir.slice(-2)} 23:59:59`, offset);
    for (const [kind, dirs] of [["video", days], ["secrets", [VENDOR_LAYOUT.secrets]]] as const) {
        try {
            const found = await newestOfKind(side.data, dirs, dayEnd);
            outcome[kind] = found.seen;
            bytes += found.bytes;
        } catch (err) {
            outcome[kind] = failed(err);
        }
    }
    outcome.newestBytes = bytes;
    try {
        outcome.space = await spaceOf(side.data);
    } catch (err) {
        outcome.space = (err as Error).message;
    }
    return { newest, outcome };
}

/** A vendor appliance's facts: its backup log's last success and the failures since, its /var and write_test, and its destination. */
async function vendorFacts(source: BackupSource, connection: ApplianceConnection, host: string, maxAgeHours: number): Promise<BackupFacts> {
    const { offset, history, varSpace, writeTest } = await new VendorDriver(connection).backupOutcome();
    const success = history.lastSuccess;
    const startedAt = success ? logTimeToIso(success.time, offset) : undefined;
    const failure = history.errorsAfter[history.errorsAfter.length - 1];
    const destination = await vendorDestination(source, offset, maxAgeHours, new Date());
    return {
        appliance: source.appliance, urn: source.urn, host, flavor: "vendor",
        lastBackup: success && startedAt ? { id: `the log's line of ${success.time}`, startedAt } : null,
        lastFailure: failure ? { time: failure.time, code: failure.component, message: failure.message } : null,
        failuresSinceLastBackup: history.errorsAfter.length,
        events: [],
        newestAtDestination: destination.newest,
        outcome: { declared: source.declared, varSpace, writeTest, ...destination.outcome },
    };
}

/** Reads every source; an appliance that cannot be read is reported, not guessed. */
export async function readBackupFacts(sources: BackupSource[], onProgress: (line: string) => void, maxAgeHours = DEFAULT_MAX_BACKUP_AGE_HOURS): Promise<{ facts: BackupFacts[]; unreadable: UnreadableAppliance[] }> {
    const facts: BackupFacts[] = [];
    const unreadable: UnreadableAppliance[] = [];
    await Promise.all(sources.map(async (source) => {
        const connection = ApplianceConnection.safeParse(source.connection);
        if (!connection.success) {
            unreadable.push({ appliance: source.appliance, urn: source.urn, host: "(unknown)", error: `its BackupPolicy's connection in the state is not usable (${connection.error.issues[0]?.path.join(".")} ${connection.error.issues[0]?.message}): run pulumi up` });
            return;
        }
        const host = describeTarget(connection.data);
        try {
            if (await driverName(connection.data) === "vendor") {
                // A real appliance writes no manifest and has no `backup config show`: its
                // backups are read from what it does write, its log and its dumps.
                onProgress(`reading the backup log of ${source.appliance} on ${host} (a vendor appliance), and its destination`);
                facts.push(await vendorFacts(source, connection.data, host, maxAgeHours));
                return;
            }
            onProgress(`reading the backup status of ${source.appliance} on ${host}`);
            const [config, newest] = await Promise.all([new OrbitClient(connection.data).showConfig(), newestAtDestination(source.destination)]);
            facts.push({
                appliance: source.appliance, urn: source.urn, host,
                lastBackup: config.lastBackup ? { id: config.lastBackup.id, startedAt: config.lastBackup.startedAt } : null,
                lastFailure: config.lastFailure ?? null,
                events: config.events ?? [],
                newestAtDestination: newest,
            });
        } catch (err) {
            unreadable.push({ appliance: source.appliance, urn: source.urn, host, error: (err as Error).message });
        }
    }));
    const order = (a: { urn: string }, b: { urn: string }) => sources.findIndex((s) => s.urn === a.urn) - sources.findIndex((s) => s.urn === b.urn);
    return { facts: facts.sort(order), unreadable: unreadable.sort(order) };
}
