// The dev stack's entry point (Pulumi.yaml `main`). The program is index.ts, with
// its config modules beside this file.
//
// It runs as JavaScript compiled ahead of time (dist/program/, written by
// scripts/setup and `npm run build`), since transpiling it with ts-node at every
// run costs about a second of each preview: the TypeScript compiler alone takes
// 0.3 s to load. When a source changed after the last build, it runs index.ts
// through ts-node instead, which is slower but never stale, and says so.
"use strict";
const fs = require("fs");
const path = require("path");

const ROOT = path.join(__dirname, "..");
const SOURCES = ["index.ts", ...fs.readdirSync(__dirname).filter((f) => f.endsWith(".ts")).map((f) => path.join("program", f))];
const COMPILED = path.join(ROOT, "dist", "program", "index.js");
// The build's own record, not the output: an incremental tsc leaves unchanged outputs' times alone.
const BUILD_INFO = path.join(ROOT, "dist", "program", "tsconfig.tsbuildinfo");

/** The compiled program, when it exists and was built after every source changed. */
function compiledIsCurrent() {
    let built;
    try {
        fs.statSync(COMPILED);
        built = fs.statSync(BUILD_INFO).mtimeMs;
    } catch {
        return false;
    }
    return SOURCES.every((source) => fs.statSync(path.join(ROOT, source)).mtimeMs <= built);
}

if (compiledIsCurrent()) {
    module.exports = require(COMPILED);
} else {
    require("@pulumi/pulumi").log.info(
        "index.ts runs through ts-node, since dist/program/ is missing or older than its sources: npm run build (or bash scripts/setup) makes each run about a second faster");
    require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "tsconfig.json") });
    module.exports = require("../index.ts");
}
