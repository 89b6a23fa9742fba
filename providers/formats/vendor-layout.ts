// What a vendor appliance writes at its backup destination, as the vendor documents
// it (../shared/vendor-docs: the backup directory structure, the database backup), and
// what this project assumes where the vendor is silent (docs/vendor-appliance.md).
// Pure.
//
//   backup/system/db/senhasegura-db-<YYYY-MM-DD_HHMMSS><db>.sql.gz[.aes]   the databases mt4 and senhasegura
//   backup/system/arz/<YYYY>/<MMDD>/…                                       session videos and files, encrypted
//   backup/secrets/…                                                        one file per item (credentials, SSH keys, …)

export const VENDOR_LAYOUT = {
    db: "backup/system/db",
    arz: "backup/system/arz",
    secrets: "backup/secrets",
} as const;

/** The databases every system backup dumps (vendor: the database backup). */
export const VENDOR_DATABASES = ["mt4", "senhasegura"] as const;
export type VendorDatabase = (typeof VENDOR_DATABASES)[number];

/** AES Crypt's customary suffix: after the master key ceremony the appliance's files carry it (ASSUMPTION, docs/vendor-appliance.md). */
export const AES_SUFFIX = ".aes";

export interface DumpName {
    /** The file's name, as listed. */
    name: string;
    /** `YYYY-MM-DD_HHMMSS`: the second this dump started; the dumps of one run may differ by seconds or more (newestDumpSet). */
    stamp: string;
    db: string;
    encrypted: boolean;
}

const DUMP_NAME = /^senhasegura-db-(\d{4}-\d\d-\d\d_\d{6})([A-Za-z0-9_]+)\.sql\.gz(\.aes)?$/;

/** A dump's name read, or undefined when the name is not the vendor's. */
export function parseDumpName(name: string): DumpName | undefined {
    const m = DUMP_NAME.exec(name);
    return m ? { name, stamp: m[1], db: m[2], encrypted: m[3] !== undefined } : undefined;
}

/** Dumps further apart than this are not one run (a run dumps its databases one after the other). */
const RUN_SPAN_MS = 6 * 3600_000;

/** One run's dumps: `stamp` is its first dump's. */
export interface DumpSet { stamp: string; dumps: DumpName[] }

/**
 * The runs among the names of backup/system/db, oldest first. Each dump is stamped
 * with the second it started, so the dumps of one run differ by seconds or more: a
 * run is a dump and those just after it, up to a database seen twice or a gap of more
 * than six hours (ASSUMPTION: a run dumps each database once, in turn, as the vendor's
 * log shows). Names that are not the vendor's dumps are left out.
 */
export function dumpSets(names: readonly string[]): DumpSet[] {
    const dumps = names.map(parseDumpName).filter((d): d is DumpName => d !== undefined).sort((a, b) => a.stamp.localeCompare(b.stamp) || a.name.localeCompare(b.name));
    const sets: DumpSet[] = [];
    // Walked from the newest, so that the newest run is whole even when an older one was cut short.
    let run: DumpName[] = [];
    for (let i = dumps.length - 1; i >= 0; i--) {
        const d = dumps[i];
        const apart = run.length > 0 && Date.parse(stampTime(run[0].stamp)) - Date.parse(stampTime(d.stamp)) > RUN_SPAN_MS;
        if (run.some((r) => r.db === d.db) || apart) {
            sets.unshift({ stamp: run[0].stamp, dumps: run });
            run = [];
        }
        run.unshift(d);
    }
    if (run.length > 0) sets.unshift({ stamp: run[0].stamp, dumps: run });
    return sets;
}

/** The newest run's dumps among the names of backup/system/db (dumpSets). */
export function newestDumpSet(names: readonly string[]): DumpSet | undefined {
    const sets = dumpSets(names);
    return sets[sets.length - 1];
}

/** `YYYY-MM-DD_HHMMSS` as an ISO time (the appliance's local time; no zone is written). */
export function stampTime(stamp: string): string {
    return `${stamp.slice(0, 10)}T${stamp.slice(11, 13)}:${stamp.slice(13, 15)}:${stamp.slice(15, 17)}`;
}

/**
 * mysqldump's last line when it finished (its comments on, as the vendor's dumps have
 * them: `-- Dump completed on 2026-12-07 16:25:21`). A dump cut short lacks it.
 */
const DUMP_COMPLETED = /(?:^|\n)-- Dump completed(?: on \d{4}-\d\d-\d\d {1,2}\d{1,2}:\d\d:\d\d)?\s*$/;

/** Whether a dump's last bytes hold mysqldump's completion line. */
export function dumpCompleted(tail: string): boolean {
    return DUMP_COMPLETED.test(tail);
}

/** How many of a dump's last bytes `dumpCompleted` needs. */
export const DUMP_TAIL_BYTES = 256;

/**
 * The arz day directories to look in for the newest day of session files, newest
 * first: the run's own day, then the days before it. The far side lists files, not
 * directories, so the day is found by its name (ASSUMPTION: the appliance files a
 * session under the day it sends it, as the lab does; docs/vendor-appliance.md).
 */
export function arzDaysBefore(stamp: string, days: number): string[] {
    const start = Date.UTC(Number(stamp.slice(0, 4)), Number(stamp.slice(5, 7)) - 1, Number(stamp.slice(8, 10)));
    return Array.from({ length: days }, (_, i) => {
        const d = new Date(start - i * 86_400_000);
        return `${VENDOR_LAYOUT.arz}/${d.getUTCFullYear()}/${String(d.getUTCMonth() + 1).padStart(2, "0")}${String(d.getUTCDate()).padStart(2, "0")}`;
    });
}
