// Where the hardening suites' figures and logs go, and waiting: the report's
// figures file, a fresh file per provider log, sleep and polling.
import * as fs from "fs";
import * as path from "path";

export const REPO = path.resolve(__dirname, "..", "..", "..");
export const RESULTS_DIR = path.join(REPO, ".test-results");
export const FIGURES_FILE = path.join(RESULTS_DIR, "hardening-figures.json");
/** Where each hardening stack's provider log (SSB_PROVIDER_LOG) and samples go. */
export const HARDENING_DIR = path.join(RESULTS_DIR, "hardening");

/** Merges one suite's figures into .test-results/hardening-figures.json, for the report. */
export function recordFigures(suite: string, figures: Record<string, unknown>): void {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    let all: Record<string, unknown> = {};
    try { all = JSON.parse(fs.readFileSync(FIGURES_FILE, "utf8")); } catch { /* first suite */ }
    all[suite] = { ...figures, recordedAt: new Date().toISOString() };
    fs.writeFileSync(FIGURES_FILE, JSON.stringify(all, null, 2) + "\n");
}

/** A fresh file under .test-results/hardening/ for a provider log or a sample. */
export function hardeningFile(name: string): string {
    fs.mkdirSync(HARDENING_DIR, { recursive: true });
    const file = path.join(HARDENING_DIR, `${name}-${Date.now().toString(36)}.log`);
    fs.writeFileSync(file, "");
    return file;
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every `everyMs` until it returns a truthy value, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, condition: () => T | undefined | false | null, timeoutMs = 30_000, everyMs = 20): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = condition();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(everyMs);
    }
}
