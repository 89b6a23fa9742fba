// The repository's root, for the scripts that start its other scripts or read its
// programs. scripts/env.sh exports it: a script may run compiled, from
// dist/scripts/scripts/ (scripts/env.sh, ssb_exec_ts), where __dirname is no guide.
import * as path from "path";

export function repoRoot(): string {
    return process.env.SSB_REPO ?? path.resolve(__dirname, "..");
}
