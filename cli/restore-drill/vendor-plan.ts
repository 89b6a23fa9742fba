// The decisions of the restore drill on a vendor appliance, pure: which run is the
// newest backup at the destination, what is missing from it, and what each opened file
// says. cli/restore-drill/vendor-drill.ts does the I/O.
import { AES_SUFFIX, type DumpName, VENDOR_DATABASES, VENDOR_LAYOUT, parseDumpName } from "../../providers/formats/vendor-layout";
import type { FileResult, Problem } from "./plan";
import type { VendorOpened } from "./vendor-open";

/** How many days back from the newest run the drill looks for the newest day of session files. */
export const ARZ_DAYS_LOOKED_AT = 7;

/** Each database the vendor dumps that the newest run lacks, named by the file it would be. */
export function missingDumps(stamp: string, dumps: readonly DumpName[]): Problem[] {
    const encrypted = dumps.some((d) => d.encrypted);
    return VENDOR_DATABASES.filter((db) => !dumps.some((d) => d.db === db)).map((db) => ({
        file: `${VENDOR_LAYOUT.db}/senhasegura-db-${stamp}${db}.sql.gz${encrypted ? AES_SUFFIX : ""}`,
        reason: `is missing: the newest backup (the run of ${stamp}) has no dump of the ${db} database, and a restore needs both ${VENDOR_DATABASES.join(" and ")}`,
    }));
}

/** The error when files are AES Crypt and the stack holds no master key: the drill cannot open them, which is not a verdict on the backup. */
export function noMasterKeyError(where: string, encrypted: readonly string[]): string {
    return `${encrypted.length} file${encrypted.length === 1 ? "" : "s"} of the newest backup at ${where} ${encrypted.length === 1 ? "is" : "are"} AES Crypt (${encrypted[0]}), `
        + "and the stack holds no master key to open them: set the complete master key from the master key ceremony as the stack's secret "
        + "(pulumi config set --secret masterKey, read from a file: docs/restore.md), pulumi up, and run the drill again";
}

/** The problem when the secrets backup is declared on and the destination holds no item. */
export function noSecretsProblem(declared = true, listed: readonly string[] = []): Problem {
    if (!declared) {
        // Files there that are not the vendor's items: someone else writes into the appliance's layout.
        return {
            file: VENDOR_LAYOUT.secrets,
            reason: `holds ${listed.length} file${listed.length === 1 ? "" : "s"} but no secrets item the appliance writes (${listed.slice(0, 3).join(", ")}${listed.length > 3 ? ", …" : ""}): find out what put ${listed.length === 1 ? "it" : "them"} there`,
        };
    }
    return {
        file: VENDOR_LAYOUT.secrets,
        reason: `holds no secrets item (it is empty, or not there), though the program declares the secrets backup on: turn on "Enable secrets backup" in Orbit Web (Settings ➔ Backup), or the appliance has not sent one yet`,
    };
}

/** The problem when video is declared on and no recent day of session files is there. */
export function noArzDayProblem(stamp: string): Problem {
    return {
        file: VENDOR_LAYOUT.arz,
        reason: `holds no day of session files in the ${ARZ_DAYS_LOOKED_AT} days up to the newest backup (${stamp.slice(0, 10)}), though the program declares video on: turn on "Session backup" in Orbit Web, or no session was recorded`,
    };
}

/** The report's line for one opened file, and its problem when it did not open. */
export function openedResult(path: string, size: number, opened: VendorOpened): { result: FileResult; problem?: Problem } {
    const dump = parseDumpName(path.split("/").pop() ?? "");
    const kind: FileResult["kind"] = path.startsWith(`${VENDOR_LAYOUT.secrets}/`) ? "secrets" : path.startsWith(`${VENDOR_LAYOUT.arz}/`) ? "video" : "system";
    const role: FileResult["role"] = kind === "secrets" ? "secrets" : kind === "video" ? "arz" : "db";
    const result: FileResult = {
        path, kind, role, size, encrypted: dump ? dump.encrypted : path.endsWith(AES_SUFFIX),
        ok: opened.ok, detail: opened.ok ? opened.detail : opened.reason,
    };
    return opened.ok ? { result } : { result, problem: { file: path, reason: opened.reason } };
}

/** The files of the secrets directory the drill opens: its AES Crypt items (other files are listed as they are). */
export function secretItems(listed: readonly string[]): string[] {
    return listed.filter((f) => f.endsWith(AES_SUFFIX));
}
