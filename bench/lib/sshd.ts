// SSH handshakes counted where they really happen: in each lab sshd's log
// ("Accepted publickey for <user>" lines, LogLevel VERBOSE), from a byte offset
// taken when a phase starts.
import * as fs from "fs";

export type { LabAppliance, LabDescription as Lab } from "../../lab/description";
import type { LabDescription as Lab } from "../../lab/description";

export type LogOffsets = Map<string, number>;

export function logFiles(lab: Lab, n: number): string[] {
    return [...lab.appliances.slice(0, n).map((a) => a.sshdLog), lab.rsyncServer.sshdLog];
}

export function takeOffsets(files: string[]): LogOffsets {
    return new Map(files.map((f) => [f, fs.existsSync(f) ? fs.statSync(f).size : 0]));
}

/** Accepted logins per user in each log since the offsets were taken. */
export function acceptedSince(offsets: LogOffsets): Map<string, Record<string, number>> {
    const out = new Map<string, Record<string, number>>();
    for (const [file, offset] of offsets) {
        const counts: Record<string, number> = {};
        if (fs.existsSync(file)) {
            const size = fs.statSync(file).size;
            const start = size >= offset ? offset : 0; // a rotated or truncated log is read whole
            const fd = fs.openSync(file, "r");
            try {
                const buf = Buffer.alloc(size - start);
                fs.readSync(fd, buf, 0, buf.length, start);
                for (const m of buf.toString("utf8").matchAll(/Accepted publickey for (\S+) from/g)) counts[m[1]] = (counts[m[1]] ?? 0) + 1;
            } finally {
                fs.closeSync(fd);
            }
        }
        out.set(file, counts);
    }
    return out;
}

export interface Handshakes {
    /** Logins as the appliance user (mt4adm) on each appliance: our providers' or the baseline's connections. */
    perAppliance: number[];
    /** Logins on the backup server as its admin (bkpadmin): AuthorizedKey and the verification's far-side check. */
    backupServerAdmin: number;
    /** Logins on the backup server as the backup user (senhauser): made BY the appliances (rsync test, backup pushes), not by Pulumi. */
    backupServerFromAppliances: number;
}

export function handshakesSince(lab: Lab, n: number, offsets: LogOffsets): Handshakes {
    const counts = acceptedSince(offsets);
    const rsync = counts.get(lab.rsyncServer.sshdLog) ?? {};
    return {
        perAppliance: lab.appliances.slice(0, n).map((a) => counts.get(a.sshdLog)?.[a.user] ?? 0),
        backupServerAdmin: rsync[lab.rsyncServer.adminUser] ?? 0,
        backupServerFromAppliances: rsync[lab.rsyncServer.backupUser] ?? 0,
    };
}
