// The same refresh reads, without the engine, in this process:
//   - pooled: our providers' own read() on every resource of the fleet's state,
//     all at once, over providers/transport/ssh.ts's pool and shared reads (what the engine
//     run is made of);
//   - one connection per command: the baseline's commands, all at once, each on a
//     new ssh2 connection (bench/lib/ssh-once.ts). That is remote.Command's
//     connection pattern in Node, not remote.Command itself (a Go plugin); it shows
//     what pooling and shared reads save with the engine taken out.
// And a few unit costs, one operation at a time: an SSH handshake, sudo, each
// orbit call, the authorized_keys read.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { applianceRootKeyProvider } from "../../providers/resources/appliance-root-key";
import { authorizedKeyProvider } from "../../providers/resources/authorized-key";
import { backupPolicyProvider } from "../../providers/resources/backup-policy";
import { backupVerificationProvider } from "../../providers/resources/backup-verification";
import { CONNECTION_DEFAULTS, type Connection } from "../../providers/transport/connection";
import { OrbitClient } from "../../providers/appliance/orbit";
import { rsyncTargetProvider } from "../../providers/resources/rsync-target";
import { forgetAllSharedReads } from "../../providers/transport/shared-reads";
import { sshPool } from "../../providers/transport/ssh";
import { refreshReads } from "./baseline-reads";
import { type SshLogin, applianceConnection, serverConnection } from "./fleet";
import { dialOnce, execOn, runOnce } from "./ssh-once";
import { cpuTimes } from "./proc";
import { type Handshakes, type Lab, handshakesSince, logFiles, takeOffsets } from "./sshd";
import { unwrapSecrets } from "./pulumi";

const PROVIDERS: Record<string, pulumi.dynamic.ResourceProvider> = {
    ApplianceRootKey: applianceRootKeyProvider,
    AuthorizedKey: authorizedKeyProvider,
    RsyncTarget: rsyncTargetProvider,
    BackupPolicy: backupPolicyProvider,
    BackupVerification: backupVerificationProvider,
};

export interface RawRun {
    wallMs: number;
    operations: number;
    handshakes: Handshakes;
    /** Commands per target as the pool counted them (pooled runs only). */
    poolCommands?: number;
}


const pooledConnection = (c: SshLogin): Connection => ({ ...c, ...CONNECTION_DEFAULTS });

async function measured(lab: Lab, n: number, work: () => Promise<{ operations: number }>): Promise<RawRun> {
    // Each round starts as an engine run does: no connection, nothing read yet.
    forgetAllSharedReads();
    await sshPool.closeAll();
    const before = sshPool.snapshot();
    const offsets = takeOffsets(logFiles(lab, n));
    const started = Date.now();
    const { operations } = await work();
    const wallMs = Date.now() - started;
    const after = sshPool.snapshot();
    await sshPool.closeAll();
    await new Promise((r) => setTimeout(r, 200));
    const count = (s: Record<string, number>) => Object.values(s).reduce((a, b) => a + b, 0);
    return {
        wallMs, operations,
        handshakes: handshakesSince(lab, n, offsets),
        poolCommands: count(after.commands) - count(before.commands),
    };
}

/** Our providers' read() on every dynamic resource of an exported (--show-secrets) state, all at once. */
export function rawPooled(lab: Lab, n: number, state: any): Promise<RawRun> {
    const resources = (state.deployment?.resources ?? []).filter((r: any) => String(r.type).startsWith("pulumi-nodejs:dynamic/senhasegura:"));
    return measured(lab, n, async () => {
        await Promise.all(resources.map((r: any) => PROVIDERS[String(r.type).split(":").pop()!].read!(r.id, unwrapSecrets(r.outputs))));
        return { operations: resources.length };
    });
}

/** The baseline's commands, all at once, each on a new ssh2 connection. */
export function rawPerCommand(lab: Lab, n: number): Promise<RawRun> {
    const reads = lab.appliances.slice(0, n).flatMap((a) => refreshReads(applianceConnection(a), serverConnection(lab), lab.rsyncServer.backupUser));
    return measured(lab, n, async () => {
        const results = await Promise.all(reads.map((r) => runOnce(r.login, r.command).then((res) => ({ r, res }))));
        const failed = results.filter((x) => x.res.code !== 0);
        if (failed.length > 0) {
            const f = failed[0];
            throw new Error(`${failed.length} of ${reads.length} engine-free reads failed; the first: ${f.r.op} on ${f.r.login.user}@${f.r.login.host}:${f.r.login.port} exited ${f.res.code}: ${f.res.stderr.trim().slice(0, 200)}`);
        }
        return { operations: reads.length };
    });
}

export interface UnitCost { what: string; runs: number; meanMs: number; medianMs: number; minMs: number; machineCpuMsPerOp: number }

async function unit(what: string, runs: number, op: () => Promise<unknown>): Promise<UnitCost> {
    await op(); // warm up (a pooled connection is dialed here)
    const times: number[] = [];
    const cpu0 = cpuTimes();
    for (let i = 0; i < runs; i++) {
        const s = process.hrtime.bigint();
        await op();
        times.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    const cpu1 = cpuTimes();
    const sorted = [...times].sort((a, b) => a - b);
    return {
        what, runs,
        meanMs: times.reduce((a, b) => a + b, 0) / runs,
        medianMs: sorted[Math.floor(runs / 2)],
        minMs: sorted[0],
        // jiffies are 10 ms; busy jiffies of all CPUs over the runs, per operation
        machineCpuMsPerOp: ((cpu1.busy - cpu0.busy) * 10) / runs,
    };
}

/** One operation at a time on appliance 0 and the backup server. */
export async function unitCosts(lab: Lab, runs: number): Promise<UnitCost[]> {
    const a = applianceConnection(lab.appliances[0]);
    const server = serverConnection(lab);
    const pooled = pooledConnection(a);
    const orbit = new OrbitClient(pooled);
    const reads = refreshReads(a, server, lab.rsyncServer.backupUser);
    const keysRead = reads.find((r) => r.op.startsWith("AuthorizedKey"))!;
    const out: UnitCost[] = [];
    out.push(await unit("one-shot: new connection running `true` (dial, authenticate, exec, close)", runs, () => runOnce(a, "true")));
    out.push(await unit("one-shot: orbit backup config show on a new connection", runs, () => runOnce(a, reads[3].command)));
    out.push(await unit("pooled: exec `true` over the open connection", runs, () => sshPool.run(pooled, { argv: ["true"], operation: "bench" })));
    out.push(await unit("pooled: orbit version", runs, () => orbit.call(z.any(), { args: ["version"], operation: "bench" })));
    out.push(await unit("pooled: orbit backup config show", runs, () => orbit.showConfig()));
    out.push(await unit("pooled: orbit root-key show", runs, () => orbit.rootKey()));
    out.push(await unit("pooled: orbit rsync test", runs, () => orbit.rsyncTest()));
    out.push(await unit("pooled: read authorized_keys (sudo sh) on the backup server", runs, () => sshPool.run(pooledConnection(server), { argv: ["sh", "-c", keysRead.command], operation: "bench" })));
    // The same commands on one bare connection outside the pool (TCP_NODELAY on, as the
    // pool sets it): what the pool's own bookkeeping adds per command.
    const fast = await dialOnce(a);
    fast.setNoDelay(true);
    try {
        out.push(await unit("persistent + TCP_NODELAY: exec `true`", runs, () => execOn(fast, "true")));
        out.push(await unit("persistent + TCP_NODELAY: orbit backup config show", runs, () => execOn(fast, reads[3].command)));
    } finally {
        fast.end();
    }
    await sshPool.closeAll();
    return out;
}
