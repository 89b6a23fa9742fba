// The lab's description (lab/start writes it). Tests that need the lab fail loudly
// when it is missing; they never skip.
import * as fs from "fs";
import * as path from "path";

export interface LabAppliance {
    name: string; host: string; port: number; user: string; privateKeyPath: string;
    hostKey: string; hostKeyFingerprint: string; orbitRoot: string; rootPublicKey: string; sshdLog: string;
}
export interface LabDescription {
    version: number;
    root: string;
    appliances: LabAppliance[];
    rsyncServer: {
        host: string; port: number; hostKey: string; hostKeyFingerprint: string; backupUser: string; backupPath: string;
        authorizedKeysPath: string; adminUser: string; adminPrivateKeyPath: string; operatorPrivateKeyPath: string; sshdLog: string;
    };
    cifs: { host: string; port: number; share: string; remotePath: string; user: string; passwordPath: string; localPath: string; credentialId: string };
    nfs: { host: string; port: number; remotePath: string; localPath: string };
    skipped: string[];
}

export function labFile(): string {
    return path.join(process.env.SENHASEGURA_LAB_ROOT ?? "/var/lib/senhasegura-lab", "lab.json");
}

export function loadLab(): LabDescription {
    const file = labFile();
    if (!fs.existsSync(file)) {
        throw new Error(`the lab is not running: ${file} is missing. Start it with 'bash lab/start' (scripts/test does this)`);
    }
    return JSON.parse(fs.readFileSync(file, "utf8")) as LabDescription;
}

/** Counts accepted SSH logins in an sshd log, to prove connection pooling. */
export function acceptedLogins(sshdLog: string): number {
    if (!fs.existsSync(sshdLog)) throw new Error(`sshd log ${sshdLog} is missing: is the lab's sshd logging with -E?`);
    return (fs.readFileSync(sshdLog, "utf8").match(/Accepted publickey for /g) ?? []).length;
}
