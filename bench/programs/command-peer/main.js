// The program is index.ts, compiled by bench/run (tsconfig.bench.json) into
// dist/bench/, so the benchmark measures the program start-up docs/fleet.md
// recommends: compiled JavaScript, not ts-node (about 0.5 s of every run).
"use strict";
const path = require("path");
const compiled = path.resolve(__dirname, "..", "..", "..", "dist", "bench", "programs", "command-peer", "index.js");
try {
    require.resolve(compiled);
} catch {
    throw new Error(`${compiled} is missing: run the benchmark with npm run bench, which compiles its programs (npx tsc -p tsconfig.bench.json)`);
}
module.exports = require(compiled);
