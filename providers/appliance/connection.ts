// The appliance connection: the SSH connection every appliance resource takes, plus
// which driver speaks to it and where the vendor's files are on it. Every vendor
// path and default lives here, with the vendor's values (docs/vendor-appliance.md
// names each source); a lab or an unusual appliance overrides them per connection.
import { z } from "zod";
import { APPLIANCE_LOGIN, connectionShape, oneKeySource } from "../transport/connection";
import { UnixUser } from "../formats/rules";

/** An absolute path on the appliance: no NUL, no control characters, no `..` segment. */
const AppliancePath = z.string().regex(/^\/(?!.*(?:^|\/)\.\.(?:\/|$))[^\u0000-\u001f]*$/, "must be an absolute path on the appliance, without `..` or control characters");

/** The vendor's paths with a connection's overrides applied. */
export interface ResolvedPaths {
    /** The remote partition is recorded here (`orbit partition --umount` keeps it, `--delete` removes it). */
    fstab: string;
    /** What is mounted now. */
    mountTable: string;
    /** `orbit partition --local`'s default. */
    mountPoint: string;
    /** The key the appliance pushes rsync backups with (vendor: `sudo cat /root/.ssh/id_rsa.pub`). */
    rootPublicKey: string;
    rootPrivateKey: string;
    /** Where root's ssh pins the backup server's host key. */
    rootKnownHosts: string;
    /** Root's ssh client configuration; unset, ssh reads its own default. */
    rootSshConfig?: string;
    /** The backup's log (vendor: `tail -f /var/log/orbinibkp.log`). */
    backupLog: string;
    /** Where `orbit backup create` writes the database dumps before sending them. */
    localBackupDir: string;
    /** The appliance's name. */
    hostname: string;
    /** The CIFS credentials file (mode 600) mount.cifs reads the partition's password from: this project's, not the vendor's. */
    cifsCredentials: string;
    /** The directory whose filesystem the vendor sizes the destination by (at least 150 % of `/var`). */
    varDirectory: string;
}

/** The vendor's paths on a real appliance. */
export const VENDOR_PATHS: Readonly<ResolvedPaths> = {
    fstab: "/etc/fstab",
    mountTable: "/proc/mounts",
    mountPoint: "/srv/backup_remoto",
    rootPublicKey: "/root/.ssh/id_rsa.pub",
    rootPrivateKey: "/root/.ssh/id_rsa",
    rootKnownHosts: "/root/.ssh/known_hosts",
    backupLog: "/var/log/orbinibkp.log",
    localBackupDir: "/var/orbini/backup/senhasegura",
    hostname: "/etc/hostname",
    cifsCredentials: "/root/.senhasegura-backup/cifs-credentials",
    varDirectory: "/var",
};

export const AppliancePaths = z.strictObject({
    /** @default /etc/fstab */
    fstab: AppliancePath.optional(),
    /** @default /proc/mounts */
    mountTable: AppliancePath.optional(),
    /** @default /srv/backup_remoto */
    mountPoint: AppliancePath.optional(),
    /** @default /root/.ssh/id_rsa.pub */
    rootPublicKey: AppliancePath.optional(),
    /** @default /root/.ssh/id_rsa */
    rootPrivateKey: AppliancePath.optional(),
    /** @default /root/.ssh/known_hosts */
    rootKnownHosts: AppliancePath.optional(),
    /** Root's ssh client configuration, given to ssh with -F. @default - ssh's own default (/root/.ssh/config) */
    rootSshConfig: AppliancePath.optional(),
    /** @default /var/log/orbinibkp.log */
    backupLog: AppliancePath.optional(),
    /** @default /var/orbini/backup/senhasegura */
    localBackupDir: AppliancePath.optional(),
    /** @default /etc/hostname */
    hostname: AppliancePath.optional(),
    /** Where the CIFS partition's credentials file goes (mode 600, root's). @default /root/.senhasegura-backup/cifs-credentials */
    cifsCredentials: AppliancePath.optional(),
    /** The filesystem drift's sizing rule reads with `df` (the destination: at least 150 % of it). @default /var */
    varDirectory: AppliancePath.optional(),
});
export type AppliancePaths = z.output<typeof AppliancePaths>;

/** The vendor's paths with a connection's overrides. */
export function resolvedPaths(paths: AppliancePaths | undefined): ResolvedPaths {
    const out: ResolvedPaths = { ...VENDOR_PATHS };
    for (const [key, value] of Object.entries(paths ?? {}) as [keyof ResolvedPaths, string | undefined][]) if (value !== undefined) out[key] = value;
    return out;
}

export const DriverChoice = z.enum(["vendor", "contract", "auto"], { error: "must be \"vendor\", \"contract\" or \"auto\"" });
export type DriverChoice = z.output<typeof DriverChoice>;

export const ApplianceConnection = z.strictObject({
    ...connectionShape({ port: APPLIANCE_LOGIN.port }, UnixUser.default(APPLIANCE_LOGIN.user)),
    /**
     * Which interface the appliance speaks: `vendor`, senhasegura's documented Orbit CLI (a
     * real appliance); `contract`, docs/appliance-contract.md (only the lab's extended mode);
     * `auto`, detected once per run from `orbit version`. The driver in use is recorded in
     * state, so a change shows at preview. @default auto
     */
    driver: DriverChoice.optional(),
    /** Where the vendor's files are on this appliance; each defaults to the vendor's path (docs/vendor-appliance.md). */
    paths: AppliancePaths.optional(),
}).superRefine(oneKeySource);
export type ApplianceConnection = z.output<typeof ApplianceConnection>;
export type ApplianceConnectionInput = z.input<typeof ApplianceConnection>;
