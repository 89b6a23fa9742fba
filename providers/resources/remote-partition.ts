// RemotePartition: a CIFS or NFS share the appliance mounts to write backups to
// ("Mount a remote partition?" in Orbit Config Manager ➔ Settings ➔ Backup).
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ADOPTION_FIELDS, Adopt, adoptionDifferences, reportAdoption } from "../scaffolding/adoption";
import { type StoredState, checkInputs, connectionIdentity, decideDiff, requireState } from "../scaffolding/check";
import { DEFAULT_PORTS, objectId } from "../transport/connection";
import { ApplianceConnection } from "../appliance/connection";
import { BackupProviderError } from "../transport/errors";
import type { ApplianceDriver, PartitionSpec, PartitionView } from "../appliance/driver";
import { driverFor } from "../appliance/select";
import { VendorDriver } from "../appliance/vendor-driver";
import { progress } from "../transport/progress";
import { BackupResource, type Inputs } from "../scaffolding/resource";
import { AbsolutePath, CifsDomain, CifsPassword, Hostname, ObjectId, Port, UnixUser } from "../formats/rules";

type RuleInput = { protocol: "cifs" | "nfs"; path: string; user?: string; password?: string; domain?: string; credentialId?: string };

/**
 * Cross-field rules: each holds when `holds` is true, else its message is the
 * failure. Each message ends with what was provided.
 */
const PARTITION_RULES: ReadonlyArray<{ property: string; holds: (p: RuleInput) => boolean; message: (p: RuleInput) => string }> = [
    {
        property: "user",
        holds: (p) => p.protocol !== "cifs" || (p.credentialId === undefined) !== (p.user === undefined),
        message: (p) => `a CIFS partition needs either user (with password) or credentialId, not both and not neither, but ${p.user === undefined ? "neither" : "both"} were provided`,
    },
    {
        property: "path",
        holds: (p) => p.protocol !== "cifs" || p.path !== "/",
        message: () => "a CIFS path starts with the share's name, /<share>[/<dir>], but \"/\" was provided",
    },
    {
        property: "password",
        holds: (p) => p.protocol !== "cifs" || p.user === undefined || p.password !== undefined,
        message: () => "a CIFS user needs a password (pass it as a secret), but no password was provided",
    },
    {
        property: "password",
        holds: (p) => p.user !== undefined || p.password === undefined,
        message: () => "a password goes with a user, but a password without a user was provided",
    },
    {
        property: "domain",
        holds: (p) => p.domain === undefined || p.user !== undefined,
        message: (p) => `a domain goes with a CIFS user, but domain "${p.domain}" was provided without one`,
    },
    {
        property: "protocol",
        holds: (p) => p.protocol !== "nfs" || [p.user, p.password, p.domain, p.credentialId].every((v) => v === undefined),
        message: () => "NFS authorizes the appliance by its IP address (allow it in the server's exports), so it takes no user, password, domain or credentialId, but some were provided",
    },
];

export const RemotePartitionArgs = z.strictObject({
    /** How to reach the appliance (port 59022, user mt4adm by default). */
    connection: ApplianceConnection,
    /** The partition's id on the appliance: 1-63 lowercase letters, digits or '-'. Changing it replaces the partition. */
    partitionId: ObjectId,
    /** `cifs` (Samba) or `nfs`. */
    protocol: z.enum(["cifs", "nfs"], { error: "must be \"cifs\" or \"nfs\"" }),
    /** The file server, as the appliance reaches it. */
    host: Hostname,
    /** The server's port. @default 445 for CIFS, 2049 for NFS */
    port: Port.optional(),
    /** The remote path: for CIFS `/<share>[/<dir>]`, for NFS the export path. */
    path: AbsolutePath,
    /** CIFS: a user with write rights on the path. */
    user: UnixUser.optional(),
    /** CIFS: that user's password. Secret, sent on stdin only; must not contain \, & or ! (a senhasegura rule). */
    password: CifsPassword.optional(),
    /** CIFS: the user's domain, if the server needs one. */
    domain: CifsDomain.optional(),
    /** CIFS: instead of user and password, a credential registered on the appliance ("Remote backup credential"). */
    credentialId: ObjectId.optional(),
    /**
     * Vendor appliance: pass the CIFS password to `orbit partition --password`, where
     * `ps` and sudo's log on the appliance show it, instead of the credentials file
     * (mode 600) this project writes by default. Only for an appliance whose orbit
     * refuses `credentials=` in `--options` (the probe tells). @default false
     */
    passwordOnCommandLine: z.boolean().optional(),
    /** Whether the partition must be mounted. Refresh reports an unmounted partition as drift here. @default true */
    mounted: z.boolean().default(true),
    /** Create takes over a partition with this id that the appliance already has, as it is, and writes nothing (docs/adopt.md). */
    adopt: Adopt,
}).superRefine((p, ctx) => {
    for (const rule of PARTITION_RULES) {
        if (!rule.holds(p)) ctx.addIssue({ code: "custom", path: [rule.property], message: rule.message(p) });
    }
}).transform((p) => ({ ...p, port: p.port ?? DEFAULT_PORTS[p.protocol] }));
export type RemotePartitionArgs = z.input<typeof RemotePartitionArgs>;
type RemotePartitionInputs = z.output<typeof RemotePartitionArgs>;

export interface RemotePartitionState extends RemotePartitionInputs {
    /** When the appliance last mounted it. */
    mountedAt: string | null;
}

/** The live partition in input shape; the password cannot be read back, so it is carried over while one is set. */
export function liveInputs(live: PartitionView, known: RemotePartitionInputs): RemotePartitionInputs {
    const out: RemotePartitionInputs = {
        connection: known.connection, partitionId: live.id, protocol: live.protocol, host: live.host, port: live.port, path: live.path, mounted: live.mounted,
    };
    if (live.user !== null) out.user = live.user;
    if (live.domain !== null) out.domain = live.domain;
    if (live.credentialId !== null) out.credentialId = live.credentialId;
    if (live.passwordSet && known.password !== undefined) out.password = known.password;
    if (known.passwordOnCommandLine !== undefined) out.passwordOnCommandLine = known.passwordOnCommandLine;
    return out;
}

export type PartitionAction = "none" | "add" | "update" | "mount" | "unmount";

/** What to run to bring a live partition (or none) to the desired one. Pure. */
export function planPartition(live: PartitionView | undefined, desired: RemotePartitionInputs, passwordChanged: boolean): PartitionAction {
    if (!live) return "add";
    const fieldsDiffer = live.protocol !== desired.protocol || live.host !== desired.host || live.port !== desired.port
        || live.path !== desired.path || live.user !== (desired.user ?? null) || live.domain !== (desired.domain ?? null)
        || live.credentialId !== (desired.credentialId ?? null) || live.passwordSet !== (desired.password !== undefined);
    if (fieldsDiffer || passwordChanged) return "update";
    if (live.mounted !== desired.mounted) return desired.mounted ? "mount" : "unmount";
    return "none";
}

/** The partition a driver saves for the inputs. Pure. */
export function partitionSpec(p: RemotePartitionInputs): PartitionSpec {
    return {
        id: p.partitionId, protocol: p.protocol, host: p.host, port: p.port, path: p.path, user: p.user ?? null, domain: p.domain ?? null,
        credentialId: p.credentialId ?? null, password: p.password, mounted: p.mounted,
    };
}

/**
 * A vendor appliance has one partition, found at its mount point
 * (connection.paths.mountPoint); `partitionId` only names it here. The remote backup
 * credential is a System Parameter no documented command reaches.
 */
function vendorRules(driver: VendorDriver, desired: RemotePartitionInputs): void {
    if (desired.credentialId !== undefined) {
        throw new BackupProviderError("a vendor appliance's remote backup credential is a System Parameter that no documented command reads or sets, so credentialId cannot be used", {
            kind: "invalid", host: driver.target, operation: "manage the remote partition",
            hint: "give user and password (a secret) instead; they go into a credentials file of mode 600 on the appliance",
        });
    }
}

async function convergeOnVendor(driver: VendorDriver, desired: RemotePartitionInputs, previousPassword: string | undefined): Promise<RemotePartitionState> {
    vendorRules(driver, desired);
    const live = await driver.partitionAt(false, desired.partitionId);
    const action = planPartition(live, desired, desired.password !== previousPassword);
    const label = `RemotePartition ${desired.partitionId} on ${driver.target}`;
    if (action === "add" || action === "update") {
        progress(`${label}: registering ${desired.protocol}://${desired.host}:${desired.port}${desired.path} at ${driver.paths.mountPoint} (orbit partition)`);
        await driver.savePartitionAtMountPoint(partitionSpec(desired), { passwordOnCommandLine: desired.passwordOnCommandLine === true });
        if (!desired.mounted) await driver.remountPartition(false);
    } else if (action === "mount" || action === "unmount") {
        progress(`${label}: ${action === "mount" ? "remounting" : "unmounting"} (orbit partition --${action === "mount" ? "remount" : "umount"})`);
        await driver.remountPartition(action === "mount");
    }
    const after = await driver.partitionAt(false, desired.partitionId);
    return { ...desired, mountedAt: after?.mountedAt ?? null };
}

/** The driver, when it manages partitions by id (contract). */
async function partitionDriver(connection: RemotePartitionInputs["connection"]): Promise<ApplianceDriver> {
    return driverFor(connection);
}

async function converge(desired: RemotePartitionInputs, previousPassword: string | undefined): Promise<RemotePartitionState> {
    const driver = await partitionDriver(desired.connection);
    if (driver instanceof VendorDriver) return convergeOnVendor(driver, desired, previousPassword);
    const live = (await driver.partitions(false)).find((p) => p.id === desired.partitionId);
    const action = planPartition(live, desired, desired.password !== previousPassword);
    const label = `RemotePartition ${desired.partitionId} on ${driver.target}`;
    if (action === "add" || action === "update") {
        progress(`${label}: ${action === "add" ? "adding" : "updating"} ${desired.protocol}://${desired.host}:${desired.port}${desired.path}${desired.mounted ? " and mounting it" : ""}`);
        await driver.savePartition(action, partitionSpec(desired));
    } else if (action === "mount" || action === "unmount") {
        progress(`${label}: ${action}ing`);
        await driver.mountPartition(desired.partitionId, action === "mount");
    }
    const after = (await driver.partitions(false)).find((p) => p.id === desired.partitionId);
    return { ...desired, mountedAt: after?.mountedAt ?? null };
}

/** The live partition with this id: the contract's by id, a vendor appliance's at its mount point. */
async function livePartition(driver: ApplianceDriver, id: string, shared: boolean): Promise<PartitionView | undefined> {
    if (driver instanceof VendorDriver) return driver.partitionAt(shared, id);
    return (await driver.partitions(shared)).find((p) => p.id === id);
}

/**
 * An adopting create: the partition as the appliance holds it, or undefined when it
 * has none with this id. The password cannot be read back: while the appliance holds
 * one, the program's is recorded as if it were that one, and nothing checks it
 * until the partition next changes (docs/adopt.md).
 */
async function adopt(desired: RemotePartitionInputs): Promise<RemotePartitionState | undefined> {
    const driver = await partitionDriver(desired.connection);
    const live = await livePartition(driver, desired.partitionId, false);
    if (!live) return undefined;
    const found = liveInputs(live, desired);
    reportAdoption(`RemotePartition ${desired.partitionId} on ${driver.target}`, adoptionDifferences(found, desired, { secret: ["password"] }));
    return { ...found, mountedAt: live.mountedAt };
}

/** What the engine hands back: see StoredState. */
type StoredPartition = StoredState<RemotePartitionInputs, RemotePartitionState>;

export const remotePartitionProvider = {
    async check(_olds: unknown, news: unknown) {
        return checkInputs(RemotePartitionArgs, news);
    },
    async diff(_id: string, olds: unknown, news: unknown) {
        const decision = decideDiff(olds, news, {
            identity: ["connection", "partitionId"], identityProjection: { connection: connectionIdentity },
            ignore: ["mountedAt", ...ADOPTION_FIELDS],
        });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs: RemotePartitionInputs) {
        const state = (inputs.adopt ? await adopt(inputs) : undefined) ?? await converge(inputs, undefined);
        return { id: objectId(state.connection, "partition", state.partitionId), outs: state };
    },
    async read(id: string, props?: StoredPartition) {
        const state = requireState(props, id);
        const live = await livePartition(await partitionDriver(state.connection), state.partitionId, true);
        // No id: the partition is gone, and refresh drops the resource.
        if (!live) return {};
        const inputs = liveInputs(live, state);
        return { id, props: { ...inputs, mountedAt: live.mountedAt }, inputs };
    },
    async update(_id: string, olds: StoredPartition, news: RemotePartitionInputs) {
        return { outs: await converge(news, olds.password) };
    },
    async delete(_id: string, props: StoredPartition) {
        const driver = await partitionDriver(props.connection);
        progress(`RemotePartition ${props.partitionId} on ${driver.target}: unmounting and removing`);
        if (driver instanceof VendorDriver) {
            // The mount point is the identity: when another partition was registered there
            // since (a replacement created before this delete), it is not this one's to delete.
            const live = await driver.partitionAt(false, props.partitionId);
            if (live && (live.protocol !== props.protocol || live.host !== props.host || live.path !== props.path)) {
                progress(`RemotePartition ${props.partitionId} on ${driver.target}: ${driver.paths.mountPoint} now holds ${live.protocol}://${live.host}${live.path}, so it is left alone`);
                return;
            }
            if (live) await driver.deletePartition();
            return;
        }
        await driver.removePartition(props.partitionId);
    },
} satisfies pulumi.dynamic.ResourceProvider<RemotePartitionInputs, StoredPartition>;

/**
 * A CIFS or NFS partition the appliance mounts for backups.
 *
 * @example
 * const share = new RemotePartition("cifs-share", {
 *     connection: applianceConnection,
 *     partitionId: "cifs-share", protocol: "cifs", host: "files.example.com", path: "/backup/senhasegura",
 *     user: "svc-senhasegura", password: cfg.requireSecret("cifsPassword"),
 * });
 */
export class RemotePartition extends BackupResource {
    declare readonly partitionId: pulumi.Output<string>;
    declare readonly protocol: pulumi.Output<"cifs" | "nfs">;
    declare readonly host: pulumi.Output<string>;
    declare readonly port: pulumi.Output<number>;
    declare readonly path: pulumi.Output<string>;
    declare readonly mounted: pulumi.Output<boolean>;
    declare readonly mountedAt: pulumi.Output<string | null>;

    constructor(name: string, args: Inputs<RemotePartitionArgs>, opts?: pulumi.CustomResourceOptions) {
        super("RemotePartition", "remotePartition", name,
            { port: undefined, mounted: undefined, ...args, mountedAt: undefined }, opts, ["password"]);
    }
}
