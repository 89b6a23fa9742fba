// Puts lab appliances 0 … n-1 and the backup server back to "nothing configured",
// so that a peer's converge starts from scratch, whichever tool ran before it.
// It runs on this machine as root beside the lab (no SSH, so no handshake lands in
// the sshd logs that the benchmark counts): the lab's orbit CLI with the appliance's
// ORBIT_ROOT for the appliances, a direct edit for authorized_keys. Only what differs
// from the scratch state is changed, in the order orbit requires (the destination
// first, since a partition or rsync target in use cannot be removed).
//
// The scratch state differs from bench/peers/spec.ts's desired fleet in every field a
// peer sets, so a converge from it does all of its work:
//   destination none, no rsync target, the peers' partitions absent, every backup
//   kind off (which forgets the master password), hour SCRATCH_HOUR, e-mail and SIEM
//   notifications off, and no line of these appliances' root keys in authorized_keys
//   (other lines are kept; the file keeps its owner and gets mode 600).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { CIFS_PARTITION_ID, NFS_PARTITION_ID, type PeerLab, type PeerLabAppliance } from "./spec";

export const SCRATCH_HOUR = 7;
const ORBIT = fs.existsSync("/usr/local/bin/orbit") ? "/usr/local/bin/orbit" : "orbit";

/** Runs the lab's orbit for one appliance on this machine (as root); fails loudly unless it answered ok. */
export function localOrbit(a: Pick<PeerLabAppliance, "name" | "orbitRoot">, args: readonly string[], stdin = ""): any {
    const r = spawnSync(ORBIT, [...args, "--json"], { env: { ...process.env, ORBIT_ROOT: a.orbitRoot }, input: stdin, encoding: "utf8", timeout: 60_000 });
    let json: any;
    try { json = JSON.parse(r.stdout ?? ""); } catch { json = undefined; }
    if (r.error || r.status !== 0 || json?.ok !== true) {
        throw new Error(`orbit ${args.join(" ")} for ${a.name} (ORBIT_ROOT=${a.orbitRoot}) failed (exit ${r.status}${r.error ? `, ${r.error.message}` : ""}): ${(r.stdout ?? "").trim()} ${(r.stderr ?? "").trim()}; is the lab running ('bash lab/start --appliances N') and is this process root?`);
    }
    return json;
}

/** The orbit commands that take one appliance from its current config (config show's JSON) to the scratch state. Pure. */
export function scratchCommands(config: any): string[][] {
    const b = config.backup ?? {};
    const commands: string[][] = [];
    if (b.destination?.mode !== "none") commands.push(["backup", "destination", "none"]);
    const ids = new Set((config.partitions ?? []).map((p: any) => p.id));
    for (const id of [CIFS_PARTITION_ID, NFS_PARTITION_ID]) if (ids.has(id)) commands.push(["partition", "remove", "--id", id]);
    if (config.rsync) commands.push(["rsync", "clear"]);
    for (const kind of ["system", "video", "secrets"]) if (b[kind]) commands.push(["backup", "kind", "disable", kind]);
    if (b.hour !== SCRATCH_HOUR) commands.push(["backup", "time", "--hour", String(SCRATCH_HOUR)]);
    if (b.notifications?.email || b.notifications?.siem) commands.push(["backup", "notify", "--email", "off", "--siem", "off"]);
    return commands;
}

/** authorized_keys text without the lines that hold one of the key blobs. Pure. */
export function withoutKeys(text: string, publicKeys: readonly string[]): string {
    const blobs = new Set(publicKeys.map((k) => k.trim().split(/\s+/)[1]).filter(Boolean));
    return text.split("\n").filter((line) => !line.split(/\s+/).some((word) => blobs.has(word))).join("\n");
}

export interface ResetReport {
    /** Per appliance, the orbit commands run (empty: it was at scratch already). */
    appliances: Record<string, string[]>;
    /** Key lines removed from authorized_keys. */
    keyLinesRemoved: number;
    wallMs: number;
}

/** Takes appliances 0 … n-1 and the backup server to the scratch state (see the file's head). Needs the lab lock and root. */
export function resetFleet(lab: PeerLab, n: number): ResetReport {
    const started = Date.now();
    if (lab.appliances.length < n) throw new Error(`resetFleet: the lab runs ${lab.appliances.length} appliance(s), ${n} were asked for: run 'bash lab/start --appliances ${n}' under the lab lock`);
    const report: ResetReport = { appliances: {}, keyLinesRemoved: 0, wallMs: 0 };
    for (const a of lab.appliances.slice(0, n)) {
        const commands = scratchCommands(localOrbit(a, ["backup", "config", "show"]));
        for (const args of commands) localOrbit(a, args);
        report.appliances[a.name] = commands.map((c) => c.join(" "));
    }
    const file = lab.rsyncServer.authorizedKeysPath;
    if (fs.existsSync(file)) {
        const before = fs.readFileSync(file, "latin1");
        const after = withoutKeys(before, lab.appliances.slice(0, n).map((a) => a.rootPublicKey));
        const st = fs.statSync(file);
        if (after !== before) {
            report.keyLinesRemoved = before.split("\n").length - after.split("\n").length;
            const tmp = path.join(path.dirname(file), `.authorized_keys.ssb-reset-${process.pid}`);
            fs.writeFileSync(tmp, after, { encoding: "latin1", mode: 0o600 });
            fs.chownSync(tmp, st.uid, st.gid);
            fs.chmodSync(tmp, 0o600);
            fs.renameSync(tmp, file);
        } else if ((st.mode & 0o777) !== 0o600) {
            fs.chmodSync(file, 0o600);
        }
    }
    report.wallMs = Date.now() - started;
    return report;
}
