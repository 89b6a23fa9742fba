// The lab's description, lab.json (lab/start writes it with lab/lab-json.js): its
// zod schema, the types inferred from it, and the one reader of it for the tests,
// the benchmark and the dev stack (program/lab-config.ts). Fields beyond these
// (the servers' pids, the start time) are dropped: no reader uses them.
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

const Server = { host: z.string(), port: z.number().int(), hostKey: z.string(), hostKeyFingerprint: z.string(), sshdLog: z.string() };

export const LabAppliance = z.object({
    ...Server,
    name: z.string(), user: z.string(), privateKeyPath: z.string(), orbitRoot: z.string(), rootPublicKey: z.string(),
    /** What its orbit spoke when the lab started: the vendor's documented CLI, or docs/appliance-contract.md. */
    orbit: z.enum(["vendor", "contract"]),
    /** mt4adm's sudo password (a lab secret, mode 600): the vendor's sudo asks for it for anything but orbit. */
    sudoPasswordPath: z.string(),
    /** The vendor mode's master key, complete, once `lab/orbit-web … masterKeyCeremony=yes` made it (a lab secret, mode 600). */
    masterKeyPath: z.string(),
    /** The vendor driver's paths on this appliance (connection.paths): a real appliance's, under its root. */
    vendorPaths: z.object({
        fstab: z.string(), mountTable: z.string(), mountPoint: z.string(), rootPublicKey: z.string(), rootPrivateKey: z.string(),
        rootKnownHosts: z.string(), rootSshConfig: z.string(), backupLog: z.string(), localBackupDir: z.string(), hostname: z.string(), cifsCredentials: z.string(),
        /** A 64 MiB tmpfs as the appliance's /var, when lab/start could mount one. */
        varDirectory: z.string().optional(),
    }),
});
export type LabAppliance = z.output<typeof LabAppliance>;

export const LabDescription = z.object({
    version: z.number().int(),
    root: z.string(),
    appliances: z.array(LabAppliance).min(1, "holds no appliance"),
    rsyncServer: z.object({
        ...Server,
        backupUser: z.string(), backupPath: z.string(), authorizedKeysPath: z.string(),
        adminUser: z.string(), adminPrivateKeyPath: z.string(), operatorPrivateKeyPath: z.string(),
    }),
    /** Whether lab/start could run Samba and nfs-ganesha (as root); `skipped` says why not. */
    privileged: z.boolean(),
    cifs: z.object({
        available: z.boolean(), host: z.string(), port: z.number().int(), share: z.string(), remotePath: z.string(), user: z.string(),
        passwordPath: z.string(), localPath: z.string(), credentialId: z.string(),
    }),
    nfs: z.object({ available: z.boolean(), host: z.string(), port: z.number().int(), remotePath: z.string(), localPath: z.string() }),
    skipped: z.array(z.string()),
});
export type LabDescription = z.output<typeof LabDescription>;

/** Where lab/start writes the description: $SENHASEGURA_LAB_ROOT/lab.json, /var/lib/senhasegura-lab by default. */
export function labFile(): string {
    return path.join(process.env.SENHASEGURA_LAB_ROOT ?? "/var/lib/senhasegura-lab", "lab.json");
}

/** Why a description cannot be read, worded for the caller's own message. */
export class LabDescriptionError extends Error {
    constructor(readonly file: string, readonly reason: string) {
        super(`${file} ${reason}: start the lab with bash lab/start (bash scripts/test does)`);
        this.name = "LabDescriptionError";
    }
}

/** Reads and checks a lab description; throws a LabDescriptionError saying what is wrong with the file. */
export function readLabDescription(file = labFile()): LabDescription {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (error) {
        throw new LabDescriptionError(file, `cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        throw new LabDescriptionError(file, "is not JSON");
    }
    const parsed = LabDescription.safeParse(json);
    if (!parsed.success) {
        const where = parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"} ${i.message}`).join("; ");
        throw new LabDescriptionError(file, `is not the description lab/start writes (${where})`);
    }
    return parsed.data;
}
