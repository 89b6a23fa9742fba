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
import { FarSide, describeSide, listFiles, readFile } from "../../providers/transport/far-side";
import { OrbitClient } from "../../providers/appliance/orbit";
import { VendorDriver } from "../../providers/appliance/vendor-driver";
import { logTimeToIso } from "../../providers/formats/orbit-vendor";
import { VENDOR_LAYOUT, newestDumpSet, stampTime } from "../../providers/formats/vendor-layout";
import { type BackupFacts, type UnreadableAppliance } from "./backup-age-plan";
import { TYPES, revealSecrets } from "../shared/stack-targets";

interface StateResource { urn: string; type: string; parent?: string; delete?: boolean; inputs?: Record<string, unknown> }

/** A BackupPolicy of the state, with what is needed to read its appliance and destination. */
export interface BackupSource {
    appliance: string;
    urn: string;
    connection: unknown;
    /** The sibling BackupVerification's destination, when there is one. */
    destination?: unknown;
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
        return { appliance: inComponent ? nameOf(policy.parent!) : nameOf(policy.urn), urn: policy.urn, connection: inputs.connection, destination };
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

/** The newest run of dumps at a vendor appliance's destination, its stamp read with the appliance's UTC offset. */
async function newestVendorDump(destination: unknown, offset: string): Promise<BackupFacts["newestAtDestination"]> {
    if (destination === undefined) return undefined;
    const side = FarSide.safeParse(destination);
    if (!side.success) return `the state's BackupVerification destination cannot be read by this version (${side.error.issues[0]?.message})`;
    const where = describeSide(side.data);
    try {
        const set = newestDumpSet((await listFiles(side.data, VENDOR_LAYOUT.db)).map((f) => f.slice(VENDOR_LAYOUT.db.length + 1)));
        if (set === undefined) return null;
        const createdAt = logTimeToIso(stampTime(set.stamp).replace("T", " "), offset);
        return createdAt === undefined ? `the dump stamp ${set.stamp} at ${where} is not a time` : { id: set.stamp, createdAt, where };
    } catch (err) {
        return `${where} could not be read: ${(err as Error).message}`;
    }
}

/** A vendor appliance's facts: its backup log's last success and the failures since, and the newest dumps at its destination. */
async function vendorFacts(source: BackupSource, connection: ApplianceConnection, host: string): Promise<BackupFacts> {
    const { offset, history } = await new VendorDriver(connection).backupHistory();
    const success = history.lastSuccess;
    const startedAt = success ? logTimeToIso(success.time, offset) : undefined;
    const failure = history.errorsAfter[history.errorsAfter.length - 1];
    return {
        appliance: source.appliance, urn: source.urn, host, flavor: "vendor",
        lastBackup: success && startedAt ? { id: `the log's line of ${success.time}`, startedAt } : null,
        lastFailure: failure ? { time: failure.time, code: failure.component, message: failure.message } : null,
        failuresSinceLastBackup: history.errorsAfter.length,
        events: [],
        newestAtDestination: await newestVendorDump(source.destination, offset),
    };
}

/** Reads every source; an appliance that cannot be read is reported, not guessed. */
export async function readBackupFacts(sources: BackupSource[], onProgress: (line: string) => void): Promise<{ facts: BackupFacts[]; unreadable: UnreadableAppliance[] }> {
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
                onProgress(`reading the backup log of ${source.appliance} on ${host} (a vendor appliance)`);
                facts.push(await vendorFacts(source, connection.data, host));
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
