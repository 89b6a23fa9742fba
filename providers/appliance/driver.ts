// The one interface through which resources talk to an appliance. Two drivers
// implement it: `vendor` (vendor-driver.ts), which speaks only what senhasegura
// documents (the text-only Orbit CLI and standard read-only tools), and `contract`
// (contract-driver.ts), which speaks docs/appliance-contract.md, the richer
// interface of this project's lab appliance. Resources plan in the terms below
// and never build an orbit command line.
import type { Connection } from "../transport/connection";

export type DriverName = "vendor" | "contract";

/** The root key the appliance pushes rsync backups with, and the appliance's name. */
export interface RootKeyView {
    publicKey: string;
    fingerprint: string;
    hostname: string;
}

export type BackupKind = "system" | "secrets" | "video";

export type DestinationView =
    | { type: "rsync" }
    | { type: "partition"; partitionId: string }
    | { type: "none" };

export interface NotificationsView { email: boolean; siem: boolean; emailTo: string | null }

/**
 * The backup settings as the driver can read them. `hour` every driver reads; the
 * rest is undefined where the driver cannot read it (on a real appliance it is set
 * in Orbit Web, and checked by its outcome instead).
 */
export interface BackupSettingsView {
    hour: number;
    kinds?: Record<BackupKind, boolean> & { masterPasswordSet: boolean };
    notifications?: NotificationsView;
    destination?: DestinationView;
}

/** One change of the backup settings, in the order the resource plans them. */
export type PolicyStep =
    | { set: "hour"; hour: number }
    | { set: "kind"; kind: BackupKind; on: boolean; masterPassword?: string }
    | { set: "notifications"; notifications: NotificationsView }
    | { set: "destination"; destination: DestinationView };

/** Where the appliance sends rsync backups (Orbit Web: User, Server, Remote path). */
export interface RsyncTargetView { user: string; host: string; port: number; path: string }

/** Whether the appliance, as root with its root key, reached and wrote the rsync target. */
export interface RsyncReach { reachable: boolean; error: string | null }

/** A remote partition as a driver reads it. */
export interface PartitionView {
    id: string;
    protocol: "cifs" | "nfs";
    host: string;
    port: number;
    path: string;
    user: string | null;
    domain: string | null;
    credentialId: string | null;
    passwordSet: boolean;
    mounted: boolean;
    mountedAt: string | null;
}

/** What a partition change asks for; the password travels on stdin or in a mode-600 file, never on argv. */
export interface PartitionSpec extends Omit<PartitionView, "passwordSet" | "mounted" | "mountedAt"> {
    password?: string;
    mounted: boolean;
}

/** What a driver can change. What it cannot is never written: the resource reports it as set in Orbit Web. */
export interface DriverAbilities {
    /** The system, video and secrets backups on or off. */
    kinds: boolean;
    notifications: boolean;
    destination: boolean;
    /** The rsync target's user, server and path. */
    rsyncTarget: boolean;
    /** Partitions with ids (contract); the vendor's one partition per appliance is not this. */
    partitionsById: boolean;
}

export interface ApplianceDriver {
    readonly name: DriverName;
    /** "user@host:port", for messages. */
    readonly target: string;
    readonly connection: Connection;
    readonly abilities: DriverAbilities;

    /** `shared`: a refresh read, shared with the appliance's other resources (shared-reads.ts). */
    rootKey(shared: boolean): Promise<RootKeyView>;
    backupSettings(shared: boolean): Promise<BackupSettingsView>;
    applyPolicyStep(step: PolicyStep, operation: string): Promise<void>;

    /**
     * Size and SHA-256 of named files in the appliance's own backup directory, hashed
     * there; undefined for a file it does not hold. Only where the appliance keeps a
     * copy of what it sent (the vendor's database dumps).
     */
    localBackupCopies?(names: readonly string[]): Promise<Map<string, { size: number; sha256: string } | undefined>>;

    /** The target the appliance holds, null when none; undefined where the driver cannot read it. */
    rsyncTarget(shared: boolean): Promise<RsyncTargetView | null | undefined>;
    setRsyncTarget(target: RsyncTargetView): Promise<void>;
    clearRsyncTarget(): Promise<void>;
    /**
     * Proves the path the appliance uses: a login of the appliance's root on the server,
     * as the backup makes it. `shared`: a refresh read, which may take its answer from
     * the appliance's batched read.
     */
    testRsync(target: RsyncTargetView, shared?: boolean): Promise<RsyncReach>;

    partitions(shared: boolean): Promise<PartitionView[]>;
    savePartition(verb: "add" | "update", spec: PartitionSpec): Promise<void>;
    mountPartition(id: string, mounted: boolean): Promise<void>;
    removePartition(id: string): Promise<void>;
}

/** The error a driver throws for what it cannot do; resources check `abilities` first, so this is a bug guard. */
export function notSupported(driver: DriverName, what: string): never {
    throw new Error(`the ${driver} driver cannot ${what}: no documented command does it (set it in Orbit Web); this is a bug in senhasegura-backup, which should have planned around it`);
}
