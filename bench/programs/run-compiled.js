// What each compiled benchmark program's main.js runs: the program's index.ts as
// bench/run compiled it (bench/programs/tsconfig.json) into dist/bench/, so the benchmark
// measures the start-up docs/fleet.md recommends, compiled JavaScript rather than
// ts-node (about 0.5 s of every run).
"use strict";
const path = require("path");

module.exports = function runCompiled(program) {
    const compiled = path.resolve(__dirname, "..", "..", "dist", "bench", "bench", "programs", program, "index.js");
    try {
        require.resolve(compiled);
    } catch {
        throw new Error(`${compiled} is missing: run the benchmark with npm run bench, which compiles its programs (npx tsc -p bench/programs)`);
    }
    return require(compiled);
};
