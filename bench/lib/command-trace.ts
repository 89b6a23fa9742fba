// Timing of the baseline's commands, seen from its program: when each remote.Command
// was registered, and when the engine answered that it is done (its id resolved,
// which for `up` is after the plugin ran the command). pulumi-resource-command is a
// Go plugin, so bench/lib/provider-probe.js cannot time its calls; this is the
// closest view that logs nothing secret. Measurement only: it reads outputs and
// registers nothing, so the engine sees the same program. Inert unless
// SSB_BENCH_TRACE names a file (bench/lib/pulumi.ts sets it for a measured phase).
import * as fs from "fs";
import { performance } from "perf_hooks";
import type * as pulumi from "@pulumi/pulumi";

const traceFile = process.env.SSB_BENCH_TRACE;
const now = () => performance.timeOrigin + performance.now();

export function traceCommand(name: string, resource: pulumi.CustomResource): void {
    if (!traceFile) return;
    const registered = now();
    resource.id.apply((id) => {
        // During a preview the id of a new command is unknown and this never runs.
        try {
            fs.appendFileSync(traceFile, JSON.stringify({ pid: process.pid, kind: "command", name, s: registered, e: now(), known: id !== undefined }) + "\n");
        } catch {
            // a lost trace line must never fail the program
        }
        return id;
    });
}
