// The dev stack's entry point (Pulumi.yaml `main`). The program is index.ts.
//
// It runs as JavaScript compiled ahead of time (dist/program/, written by
// scripts/setup and `npm run build`), since transpiling it with ts-node at every
// run costs about a second of each preview: the TypeScript compiler alone takes
// 0.3 s to load. When index.ts or lab/stack-config.ts changed after the last build,
// it runs index.ts through ts-node instead, which is slower but never stale, and
// says so.
"use strict";
const fs = require("fs");
const path = require("path");

const SOURCES = ["index.ts", path.join("lab", "stack-config.ts")];
const COMPILED = path.join(__dirname, "dist", "program", "index.js");
// The build's own record, not the output: an incremental tsc leaves unchanged outputs' times alone.
const BUILD_INFO = path.join(__dirname, "dist", "program", ".tsbuildinfo");

/** The compiled program, when it exists and was built after every source changed. */
function compiledIsCurrent() {
    let built;
    try {
        fs.statSync(COMPILED);
        built = fs.statSync(BUILD_INFO).mtimeMs;
    } catch {
        return false;
    }
    return SOURCES.every((source) => fs.statSync(path.join(__dirname, source)).mtimeMs <= built);
}

if (compiledIsCurrent()) {
    module.exports = require(COMPILED);
} else {
    require("@pulumi/pulumi").log.info(
        "index.ts runs through ts-node, since dist/program/ is missing or older than its sources: npm run build (or bash scripts/setup) makes each run about a second faster");
    require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "tsconfig.program.json") });
    module.exports = require("./index.ts");
}
