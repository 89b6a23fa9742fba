// The benchmark's view of the lab: its appliances and backup server as SSH logins.
// Kept free of providers/ and ssh2, so the benchmark programs that import it start
// no slower than they would alone.
import * as fs from "fs";
import type { Lab } from "./sshd";

/** One SSH login on a lab host: what both programs and the engine-free reads connect with. */
export interface SshLogin {
    host: string;
    port: number;
    user: string;
    /** A key file on this machine (the lab's keys). */
    privateKeyPath: string;
    /** The pinned host key line (lab.json's hostKey). */
    hostKey: string;
}

export function applianceConnection(a: Lab["appliances"][number]): SshLogin {
    return { host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKeyPath: a.privateKeyPath };
}

/** The backup server as its admin user, who edits authorized_keys. */
export function serverConnection(lab: Lab): SshLogin {
    const r = lab.rsyncServer;
    return { host: r.host, port: r.port, user: r.adminUser, hostKey: r.hostKey, privateKeyPath: r.adminPrivateKeyPath };
}

/** lab.json, which must describe at least `count` appliances. */
export function loadFleetLab(labFile: string, count: number): Lab {
    const lab = JSON.parse(fs.readFileSync(labFile, "utf8")) as Lab;
    if (!Array.isArray(lab.appliances) || lab.appliances.length < count) {
        throw new Error(`the lab runs ${lab.appliances?.length ?? 0} appliance(s), the benchmark needs ${count}: run 'bash lab/start --appliances ${count}'`);
    }
    return lab;
}
