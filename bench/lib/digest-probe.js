// One run of the checksum figure's measured work, in its own process so its peak
// memory is its own: providers/transport/far-side.ts's digestFiles (the compiled package, as a
// provider process runs it) over the files named on stdin, on the far side named on
// stdin (stdin, since a CIFS side holds its password). Prints one JSON line:
// {ms, hwmBeforeKiB, hwmAfterKiB, found: {file: {size, sha256} | null}}.
// Plain JavaScript: a TypeScript loader would add its own memory to the figure.
"use strict";

const fs = require("fs");
const path = require("path");

const hwmKiB = () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"))[1]);

async function main() {
    const input = JSON.parse(fs.readFileSync(0, "utf8"));
    const { FarSide, digestFiles } = require(path.join(__dirname, "..", "..", "dist", "providers", "transport", "far-side.js"));
    const { sshPool } = require(path.join(__dirname, "..", "..", "dist", "providers", "transport", "ssh.js"));
    const side = FarSide.parse(input.side);
    const hwmBeforeKiB = hwmKiB();
    const started = process.hrtime.bigint();
    const found = await digestFiles(side, input.files, undefined, { expectedBytes: input.expectedBytes });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const hwmAfterKiB = hwmKiB();
    await sshPool.closeAll();
    process.stdout.write(`${JSON.stringify({ ms, hwmBeforeKiB, hwmAfterKiB, found: Object.fromEntries([...found].map(([f, d]) => [f, d ?? null])) })}\n`);
}

main().catch((err) => {
    process.stderr.write(`${err && err.message ? err.message : String(err)}\n`);
    process.exit(1);
});
