// Refresh reads that several resources make of one remote object.
//
// On `pulumi refresh`, RsyncTarget, BackupPolicy and ApplianceRootKey of one
// appliance each need its configuration, and every AuthorizedKey of a fleet reads
// the same authorized_keys. Asked one by one, that is 2-4 `sudo orbit` runs per
// appliance and N reads of one file. So a refresh read is shared: callers that ask
// while it runs, or shortly after, get the same answer.
//
// Only refresh reads go through here. Create, update and delete plan from a fresh
// read, and every write this process makes forgets what it changed, so a cached
// answer never decides a change.

/** How long a finished read is shared. A refresh of 20 appliances reads for about 5 s. */
const SHARED_READ_MAX_AGE_MS = 10_000;

interface Entry<T> {
    value: Promise<T>;
    /** When the read finished; undefined while it runs. */
    settledAt?: number;
}

/** Every instance, so a long-lived process that measures refreshes (bench/) can start each one cold. */
const instances = new Set<{ clear(): void }>();

/** Forgets every shared read in this process. The engine starts a new process per run, so it never needs this. */
export function forgetAllSharedReads(): void {
    for (const shared of instances) shared.clear();
}

export class SharedReads<T> {
    private readonly entries = new Map<string, Entry<T>>();

    constructor(
        private readonly maxAgeMs: number = SHARED_READ_MAX_AGE_MS,
        private readonly now: () => number = Date.now,
    ) {
        instances.add(this);
    }

    /** The answer of a read of `key` that runs or finished less than maxAgeMs ago, or a new read. */
    get(key: string, read: () => Promise<T>): Promise<T> {
        const existing = this.entries.get(key);
        if (existing && (existing.settledAt === undefined || this.now() - existing.settledAt < this.maxAgeMs)) {
            return existing.value;
        }
        const entry: Entry<T> = { value: read() };
        this.entries.set(key, entry);
        entry.value.then(
            () => { entry.settledAt = this.now(); },
            // A failed read is not shared after it fails: the next caller tries again.
            () => { if (this.entries.get(key) === entry) this.entries.delete(key); },
        );
        return entry.value;
    }

    /** Called after a write: the next read of `key` goes to the host. */
    forget(key: string): void {
        this.entries.delete(key);
    }

    clear(): void {
        this.entries.clear();
    }

    get size(): number {
        return this.entries.size;
    }
}
