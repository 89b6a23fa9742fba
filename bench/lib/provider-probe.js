// Preloaded (NODE_OPTIONS=--require) into every Node process the Pulumi CLI starts
// during a benchmark phase. It does nothing except in the dynamic-provider process,
// and only when SSB_BENCH_TRACE names a file. There it records, as JSON lines:
//   - {kind:"start"}: when the process came up;
//   - {kind:"load"}: the first load of the provider implementations: the package entry
//     senhasegura-backup/provider, which every resource's __provider requires, or, for
//     state written before the package, a providers/<file>.ts the old shim required by
//     absolute path (its TypeScript loader included);
//   - {kind:"call"}: every check/diff/create/read/update/delete of every provider,
//     with start and end times, so the runner can tell what ran concurrently;
//   - {kind:"pool"}: providers/transport/ssh.ts's sshPool.snapshot() whenever it changes.
// Plain JavaScript on purpose: it must load before any TypeScript loader exists in the process.
// Nothing in providers/ is modified: the methods are wrapped in memory.
"use strict";

const trace = process.env.SSB_BENCH_TRACE;
const argv1 = process.argv[1] || "";

if (trace && /cmd[\\/]dynamic-provider([\\/]index\.js)?$/.test(argv1)) {
    const fs = require("fs");
    const path = require("path");
    const Module = require("module");
    const { performance } = require("perf_hooks");

    const now = () => performance.timeOrigin + performance.now();
    const write = (event) => {
        try {
            fs.appendFileSync(trace, JSON.stringify({ pid: process.pid, ...event }) + "\n");
        } catch {
            // a lost trace line must never fail a provider call
        }
    };
    write({ kind: "start", t: now() });

    const METHODS = ["check", "diff", "create", "read", "update", "delete"];
    const inspected = new WeakSet();
    let lastPool = "";

    const poolSnapshot = () => {
        const key = Object.keys(require.cache).find((k) => /[\\/]providers[\\/]ssh\.(ts|js)$/.test(k));
        if (!key) return;
        const pool = require.cache[key].exports.sshPool;
        if (!pool || typeof pool.snapshot !== "function") return;
        const snapshot = pool.snapshot();
        const text = JSON.stringify(snapshot);
        if (text === lastPool) return;
        lastPool = text;
        write({ kind: "pool", t: now(), module: key, snapshot });
    };

    const wrapProvider = (file, exportName, provider) => {
        for (const method of METHODS) {
            const original = provider[method];
            if (typeof original !== "function" || original.__ssbBench) continue;
            const wrapped = async function (...args) {
                const s = now();
                let ok = true;
                try {
                    return await original.apply(this, args);
                } catch (err) {
                    ok = false;
                    throw err;
                } finally {
                    write({ kind: "call", provider: exportName, method, s, e: now(), ok, id: typeof args[0] === "string" ? args[0] : undefined });
                    poolSnapshot();
                }
            };
            wrapped.__ssbBench = true;
            provider[method] = wrapped;
        }
        write({ kind: "wrapped", t: now(), file: path.basename(file), exportName });
    };

    const PROVIDER_ENTRY = "senhasegura-backup/provider"; // providers/scaffolding/resource.ts PROVIDER_ENTRY
    const originalLoad = Module._load;
    Module._load = function (request, parent, isMain) {
        // Implementations come from the package entry, or from a file by absolute path
        // (the old shim); nothing else is inspected.
        const candidate = typeof request === "string" && (request === PROVIDER_ENTRY
            || (path.isAbsolute(request) && /\.(ts|js)$/.test(request) && !/node_modules/.test(request)));
        // Every call through a __provider requires the entry again: only its first load counts.
        let key = request;
        if (candidate && request === PROVIDER_ENTRY) {
            try { key = Module._resolveFilename(request, parent, isMain); } catch { /* the load below reports it */ }
        }
        const cached = candidate && require.cache[key] !== undefined;
        const s = candidate && !cached ? now() : 0;
        const exported = originalLoad.apply(this, arguments);
        if (candidate && !cached) write({ kind: "load", file: request === PROVIDER_ENTRY ? PROVIDER_ENTRY : path.basename(request), s, e: now() });
        if (candidate && exported && typeof exported === "object" && !inspected.has(exported)) {
            inspected.add(exported);
            for (const name of Object.keys(exported)) {
                // Read through getters: tsc's re-exports (the package entry) and tsx's exports are getters.
                let value;
                try { value = exported[name]; } catch { continue; }
                if (value && typeof value === "object" && typeof value.check === "function" && typeof value.diff === "function" && typeof value.read === "function") {
                    wrapProvider(request, name, value);
                }
            }
        }
        return exported;
    };
}
