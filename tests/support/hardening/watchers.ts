// Helpers run as separate processes while an engine operation runs: an argv
// sampler, an outside editor appending to a file, a watcher of the appliance's
// configuration.
import { type ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import type { LabAppliance } from "../lab";
import { hardeningFile } from "./results";

// ---------------------------------------------------------------- helpers run as separate processes

/** Runs a small Node program as its own process (so a busy loop never stalls the engine's event stream). */
function nodeChild(source: string, args: string[]): ChildProcess {
    return spawn(process.execPath, ["-e", source, ...args], { stdio: ["ignore", "pipe", "inherit"] });
}

async function stopChild<T>(child: ChildProcess, resultFile: string): Promise<T> {
    if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
    }
    return JSON.parse(fs.readFileSync(resultFile, "utf8")) as T;
}

const SAMPLER = String.raw`
const fs = require("fs");
const [out, everyMs] = process.argv.slice(1);
const seen = new Map(); let samples = 0; let stop = false;
process.on("SIGTERM", () => { stop = true; });
function sample() {
  samples++;
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || e === String(process.pid)) continue;
    let c; try { c = fs.readFileSync("/proc/" + e + "/cmdline", "latin1"); } catch { continue; }
    if (c && !seen.has(c)) seen.set(c, e);
  }
}
(function loop() {
  if (stop) { fs.writeFileSync(out, JSON.stringify({ samples, cmdlines: [...seen.keys()].map((c) => c.split("\0").join(" ")) })); process.exit(0); }
  sample(); setTimeout(loop, Number(everyMs));
})();
`;

/** Samples every process's argv (/proc/<pid>/cmdline) every `everyMs` until stopped. */
export function startArgvSampler(everyMs = 5): { stop(): Promise<{ samples: number; cmdlines: string[] }> } {
    const out = hardeningFile("argv-samples");
    const child = nodeChild(SAMPLER, [out, String(everyMs)]);
    return { stop: () => stopChild(child, out) };
}

const APPENDER = String.raw`
const fs = require("fs"); const path = require("path"); const crypto = require("crypto");
const [file, out, prefix, everyMs, maxDuringWrite] = process.argv.slice(1);
const dir = path.dirname(file);
const appended = []; let stop = false; let n = 0; let last = Date.now(); let duringWrite = 0; const temps = new Set();
process.on("SIGTERM", () => { stop = true; });
const wire = (b) => { const n = Buffer.alloc(4); n.writeUInt32BE(b.length); return Buffer.concat([n, b]); };
function append(why) {
  const der = crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" });
  const blob = Buffer.concat([wire(Buffer.from("ssh-ed25519")), wire(der.subarray(der.length - 32))]).toString("base64");
  const line = "ssh-ed25519 " + blob + " " + prefix + "-" + (n++) + "-" + why;
  fs.appendFileSync(file, line + "\n");
  appended.push(line);
}
(function loop() {
  if (stop) { fs.writeFileSync(out, JSON.stringify({ appended })); process.exit(0); }
  // The worst moment: a writer's temp file exists, so it has read the file and is about to replace it.
  let names = []; try { names = fs.readdirSync(dir); } catch {}
  for (const name of names) {
    if (name.startsWith(".authorized_keys.") && !temps.has(name)) {
      temps.add(name);
      if (duringWrite < Number(maxDuringWrite)) { duringWrite++; append("during-write"); }
    }
  }
  if (Date.now() - last >= Number(everyMs)) { last = Date.now(); append("steady"); }
  setImmediate(loop);
})();
`;

/**
 * An administrator editing authorized_keys by hand while Pulumi runs: appends a key
 * line (as `cat >> authorized_keys` and ssh-copy-id do, without any lock) every
 * `everyMs`, and one more when a writer's temp file appears in the directory (up to
 * `maxDuringWrite` times): the moment a writer that replaces the file would lose
 * it. Returns the lines it appended.
 */
export function startOutsideAppender(file: string, prefix: string, opts: { everyMs: number; maxDuringWrite: number }): { stop(): Promise<{ appended: string[] }> } {
    const out = hardeningFile("outside-appender");
    const child = nodeChild(APPENDER, [file, out, prefix, String(opts.everyMs), String(opts.maxDuringWrite)]);
    return { stop: () => stopChild(child, out) };
}

const CONF_WATCHER = String.raw`
const fs = require("fs");
const [file, out] = process.argv.slice(1);
let reads = 0; const bad = []; let stop = false;
process.on("SIGTERM", () => { stop = true; });
(function loop() {
  if (stop) { fs.writeFileSync(out, JSON.stringify({ reads, bad })); process.exit(0); }
  let text; try { text = fs.readFileSync(file, "utf8"); } catch (e) { bad.push("unreadable: " + e.code); setImmediate(loop); return; }
  reads++;
  try { const c = JSON.parse(text); if (!c || typeof c !== "object" || !c.backup) bad.push("not a config: " + text.slice(0, 80)); } catch (e) { bad.push("not JSON (" + text.length + " bytes): " + e.message); }
  setImmediate(loop);
})();
`;

/** Reads the orbit config file in a tight loop, counting reads that are not whole JSON. */
export function startConfWatcher(appliance: LabAppliance): { stop(): Promise<{ reads: number; bad: string[] }> } {
    const out = hardeningFile("conf-watcher");
    const child = nodeChild(CONF_WATCHER, [path.join(appliance.orbitRoot, "orbinibkp.conf"), out]);
    return { stop: () => stopChild(child, out) };
}
