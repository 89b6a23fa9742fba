// The restore drill of one vendor appliance: no manifest, so the newest backup is the
// newest run of database dumps in the vendor's layout (providers/formats/vendor-layout.ts).
// Each dump decrypts with the master key, both HMACs valid, gunzips and ends with
// mysqldump's completion line; both databases are there; the secrets items open; the
// newest day of session files lists. Reads the destination only through
// providers/transport/far-side.ts; opens in memory (vendor-open.ts); decides in vendor-plan.ts.
import { type FarSide, describeSide, listFiles, streamFile } from "../../providers/transport/far-side";
import { VENDOR_LAYOUT, arzDaysBefore, newestDumpSet, stampTime } from "../../providers/formats/vendor-layout";
import type { VendorTarget } from "../shared/stack-targets";
import { type ApplianceResult, type FileResult, type Problem, applianceResult, bytes, verdictOf } from "./plan";
import { DumpOpener, ItemOpener, type VendorOpened } from "./vendor-open";
import { ARZ_DAYS_LOOKED_AT, missingDumps, noArzDayProblem, noMasterKeyError, noSecretsProblem, openedResult, secretItems } from "./vendor-plan";

type Say = (line: string) => void;

/** Streams one file through an opener, counting its bytes. */
async function open(side: FarSide, file: string, opener: { push(chunk: Buffer): void; finish(): VendorOpened }): Promise<{ size: number; opened: VendorOpened }> {
    let size = 0;
    await streamFile(side, file, (chunk) => { size += chunk.length; opener.push(chunk); });
    return { size, opened: opener.finish() };
}

export async function drillVendor(t: VendorTarget, say: Say): Promise<ApplianceResult> {
    const started = Date.now();
    const side = t.destination;
    const where = describeSide(side);
    const base = { name: t.name, flavor: "vendor" as const, appliance: t.appliance, destination: where };
    const done = (rest: Partial<ApplianceResult> & Pick<ApplianceResult, "verdict">): ApplianceResult =>
        applianceResult({ ...base, ...rest, durationMs: Date.now() - started });
    try {
        say(`${t.name}: a vendor appliance: looking for the newest database dumps in ${VENDOR_LAYOUT.db} at ${where}`);
        const names = (await listFiles(side, VENDOR_LAYOUT.db)).map((f) => f.slice(VENDOR_LAYOUT.db.length + 1));
        const set = newestDumpSet(names);
        if (set === undefined) {
            return done({
                verdict: "error",
                error: `no backup found: ${where} holds no database dump (senhasegura-db-<YYYY-MM-DD_HHMMSS><db>.sql.gz) in ${VENDOR_LAYOUT.db}. `
                    + "Run a backup (sudo orbit backup create on the appliance), check Orbit Web's backup settings send it here, then run the drill again",
            });
        }
        const about = { backupId: set.stamp, createdAt: stampTime(set.stamp) };
        const secretsListed = await listFiles(side, VENDOR_LAYOUT.secrets);
        const items = secretItems(secretsListed);
        const dumps = set.dumps.map((d) => ({ ...d, path: `${VENDOR_LAYOUT.db}/${d.name}` }));
        const encrypted = [...dumps.filter((d) => d.encrypted).map((d) => d.path), ...items];
        if (encrypted.length > 0 && t.masterKey === undefined) return done({ ...about, verdict: "error", error: noMasterKeyError(where, encrypted) });

        const problems: Problem[] = missingDumps(set.stamp, set.dumps);
        const files: FileResult[] = [];
        const record = (path: string, size: number, opened: VendorOpened) => {
            const { result, problem } = openedResult(path, size, opened);
            files.push(result);
            if (problem) problems.push(problem);
        };
        for (const d of dumps) {
            say(`${t.name}: opening ${d.path}${d.encrypted ? " (AES Crypt)" : ""}`);
            const { size, opened } = await open(side, d.path, new DumpOpener(d.encrypted, t.masterKey));
            record(d.path, size, opened);
        }
        if (items.length === 0 && (t.declared.secrets || secretsListed.length > 0)) problems.push(noSecretsProblem(t.declared.secrets, secretsListed));
        if (items.length > 0) say(`${t.name}: opening the ${items.length} secrets items in ${VENDOR_LAYOUT.secrets}`);
        for (const item of items) {
            const { size, opened } = await open(side, item, new ItemOpener(item.endsWith(".json.aes"), t.masterKey));
            record(item, size, opened);
        }
        let day: { dir: string; files: string[] } | undefined;
        for (const dir of arzDaysBefore(set.stamp, ARZ_DAYS_LOOKED_AT)) {
            const listed = await listFiles(side, dir);
            if (listed.length > 0) { day = { dir, files: listed }; break; }
        }
        if (day) {
            files.push({ path: day.dir, kind: "video", role: "arz", size: 0, encrypted: day.files.some((f) => f.endsWith(".aes")), ok: true, detail: `the newest day of session files lists ${day.files.length} file${day.files.length === 1 ? "" : "s"}` });
        } else if (t.declared.video) {
            problems.push(noArzDayProblem(set.stamp));
        }
        const total = files.reduce((s, f) => s + f.size, 0);
        say(`${t.name}: backup ${set.stamp}: ${files.length} files read, ${bytes(total)}`);
        return done({ ...about, verdict: verdictOf(problems), files, problems });
    } catch (err) {
        return done({ verdict: "error", error: err instanceof Error ? err.message : String(err) });
    }
}
