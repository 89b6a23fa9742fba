// BackupPolicy: which backups the appliance makes (system, secrets "break the
// glass", video of proxy sessions), when, where they go, and who hears about a
// lost remote directory. One per appliance.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ADOPTION_FIELDS, Adopt, adoptionDifferences, reportAdoption } from "../scaffolding/adoption";
import { checkInputs, connectionIdentity, decideDiff, fieldsOf, requireState } from "../scaffolding/check";
import { describeTarget, objectId } from "../transport/connection";
import { ApplianceConnection } from "../appliance/connection";
import type { BackupSettingsView, DestinationView, DriverAbilities, DriverName, PolicyStep } from "../appliance/driver";
import { driverFor } from "../appliance/select";
import { VENDOR_ABILITIES } from "../appliance/vendor-driver";
import { progress, warn } from "../transport/progress";
import { BackupResource, type Inputs } from "../scaffolding/resource";
import { EmailAddress, Hour, MasterPassword, ObjectId, TotalBackups } from "../formats/rules";

export const Destination = z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("rsync") }),
    z.strictObject({ type: z.literal("partition"), partitionId: ObjectId }),
    z.strictObject({ type: z.literal("none") }),
], { error: "must be {type: \"rsync\"}, {type: \"partition\", partitionId: \"…\"} or {type: \"none\"}" });
export type Destination = z.infer<typeof Destination>;

export const Notifications = z.strictObject({
    /** E-mail when the appliance loses the remote backup directory. @default true */
    email: z.boolean().default(true),
    /** A SIEM event when it does. @default true */
    siem: z.boolean().default(true),
    /** Where the e-mail goes. @default - the appliance's configured administrators */
    emailTo: EmailAddress.optional(),
});

export const BackupPolicyArgs = z.strictObject({
    /** How to reach the appliance (port 59022, user mt4adm by default). */
    connection: ApplianceConnection,
    /** System backup: data, settings and access records. @default true */
    system: z.boolean().default(true),
    /** Secrets backup ("break the glass"), encrypted with masterPassword. @default false */
    secrets: z.boolean().default(false),
    /** The master password that encrypts the secrets backup: 12-128 printable characters, sent on stdin only. Secret. Required exactly when secrets is true. */
    masterPassword: MasterPassword.optional(),
    /** Video backup of proxy sessions ("Enable sessions file backup?"). @default false */
    video: z.boolean().default(false),
    /**
     * Orbit Web's "Total of backups": how many backup sets the destination keeps. No
     * documented command sets or reads it, so it is not written; `senhasegura-backup
     * drift` counts the sets at the destination against it. Unset: not checked.
     */
    totalBackups: TotalBackups.optional(),
    /** The hour of the daily backup, 0-23, appliance time. @default 5 (the vendor's default) */
    hour: Hour.default(5),
    /** Who hears about a lost remote directory: `{email, siem, emailTo?}`; emailTo unset is the appliance's administrators. @default e-mail and SIEM on */
    notifications: Notifications.default({ email: true, siem: true }),
    /** Where backups go: `{type: "rsync"}` (the RsyncTarget), `{type: "partition", partitionId}` (a RemotePartition) or `{type: "none"}`. */
    destination: Destination,
    /** Create takes over the settings the appliance already has, as they are, and writes nothing (docs/adopt.md). */
    adopt: Adopt,
}).superRefine((p, ctx) => {
    if (p.secrets && p.masterPassword === undefined) {
        ctx.addIssue({ code: "custom", path: ["masterPassword"], message: "the secrets backup is encrypted with a master password: set masterPassword (as a secret) when secrets is true, but none was provided" });
    }
    if (!p.secrets && p.masterPassword !== undefined) {
        ctx.addIssue({ code: "custom", path: ["masterPassword"], message: "masterPassword is only used by the secrets backup, but it was provided with secrets false: remove it or set secrets to true" });
    }
});
export type BackupPolicyArgs = z.input<typeof BackupPolicyArgs>;
type BackupPolicyInputs = z.output<typeof BackupPolicyArgs>;

/** The driver in use, recorded in state so that a change shows at preview. */
type Recorded = { driver?: DriverName };
export type BackupPolicyState = BackupPolicyInputs & Recorded;

function liveDestination(live: DestinationView): Destination {
    return live.type === "partition" ? { type: "partition", partitionId: live.partitionId } : { type: live.type };
}

/**
 * The steps that take the live backup settings to the desired ones, in a safe
 * order, leaving out what the driver cannot set. Pure.
 */
export function planPolicy(live: BackupSettingsView, desired: BackupPolicyInputs, masterPasswordChanged: boolean): PolicyStep[] {
    const steps: PolicyStep[] = [];
    if (live.kinds) {
        for (const kind of ["system", "video"] as const) {
            if (live.kinds[kind] !== desired[kind]) steps.push({ set: "kind", kind, on: desired[kind] });
        }
        if (desired.secrets && (!live.kinds.secrets || !live.kinds.masterPasswordSet || masterPasswordChanged)) {
            steps.push({ set: "kind", kind: "secrets", on: true, masterPassword: desired.masterPassword });
        } else if (!desired.secrets && live.kinds.secrets) {
            steps.push({ set: "kind", kind: "secrets", on: false });
        }
    }
    if (live.hour !== desired.hour) steps.push({ set: "hour", hour: desired.hour });
    const n = desired.notifications;
    const liveN = live.notifications;
    if (liveN && (liveN.email !== n.email || liveN.siem !== n.siem || liveN.emailTo !== (n.emailTo ?? null))) {
        steps.push({ set: "notifications", notifications: { email: n.email, siem: n.siem, emailTo: n.emailTo ?? null } });
    }
    if (live.destination) {
        const from = liveDestination(live.destination);
        const to = desired.destination;
        if (from.type !== to.type || (to.type === "partition" && from.type === "partition" && from.partitionId !== to.partitionId)) {
            steps.push({ set: "destination", destination: to });
        }
    }
    return steps;
}

/** What a step does, in words, for progress lines and messages. Pure. */
export function stepOperation(step: PolicyStep): string {
    switch (step.set) {
        case "hour": return "set the daily backup hour";
        case "kind": return `${step.on ? "enable" : "disable"} the ${step.kind} backup`;
        case "notifications": return "set the lost-directory notifications";
        case "destination": return `send backups to ${step.destination.type === "partition" ? `partition ${step.destination.partitionId}` : step.destination.type}`;
    }
}

/**
 * The live settings in input shape. What the driver cannot read (on a real
 * appliance, what Orbit Web sets) is carried over from `known`, the state, since
 * it is checked by its outcome instead. The master password cannot be read back,
 * so it is carried over while the appliance holds one.
 */
export function liveInputs(live: BackupSettingsView, known: BackupPolicyInputs): BackupPolicyInputs {
    const out: BackupPolicyInputs = {
        connection: known.connection,
        system: live.kinds?.system ?? known.system,
        secrets: live.kinds?.secrets ?? known.secrets,
        video: live.kinds?.video ?? known.video,
        hour: live.hour,
        notifications: live.notifications
            ? { email: live.notifications.email, siem: live.notifications.siem, ...(live.notifications.emailTo !== null ? { emailTo: live.notifications.emailTo } : {}) }
            : known.notifications,
        destination: live.destination ? liveDestination(live.destination) : known.destination,
        // No driver reads it: it is checked by its outcome (drift), not by a read.
        ...(known.totalBackups !== undefined ? { totalBackups: known.totalBackups } : {}),
    };
    const holdsMasterPassword = live.kinds ? live.kinds.secrets && live.kinds.masterPasswordSet : known.secrets;
    if (holdsMasterPassword && known.masterPassword !== undefined) out.masterPassword = known.masterPassword;
    return out;
}

/**
 * Where in Orbit Web each declared value the driver cannot set is set, for the
 * one notice per appliance. Pure.
 */
export function orbitWebSettings(desired: Pick<BackupPolicyInputs, "system" | "secrets" | "video" | "destination" | "notifications" | "totalBackups">, abilities: DriverAbilities): string[] {
    const screen = "Orbit Config Manager ➔ Settings ➔ Backup";
    const out: string[] = [];
    if (!abilities.kinds) {
        out.push(`${screen}: "Enable application backup?" = ${desired.system ? "Yes" : "No"} (system)`);
        out.push(`${screen}: "Enable sessions file backup?" = ${desired.video ? "Yes" : "No"} (video)`);
        out.push(desired.secrets
            ? `${screen} ➔ Servers: Enabled, with its Mode and Directory path (secrets; it runs only after the master key ceremony)`
            : `${screen} ➔ Servers: not enabled (secrets)`);
    }
    if (!abilities.destination) {
        const d = desired.destination;
        out.push(d.type === "none"
            ? `${screen}: "Mount a remote partition?" = No (destination none)`
            : d.type === "rsync"
                ? `${screen}: "Mount a remote partition?" = Yes, "Send to a remote Linux server (via rsync)", with the RsyncTarget's User, Server and Remote path`
                : `${screen}: "Mount a remote partition?" = Yes, "Mounting a remote partition (via CIFS or NFS)" (partition ${d.partitionId})`);
    }
    if (desired.totalBackups !== undefined) out.push(`${screen}: "Total of backups" = ${desired.totalBackups} (totalBackups)`);
    if (!abilities.notifications) {
        out.push(`notifications (e-mail ${desired.notifications.email ? "on" : "off"}, SIEM ${desired.notifications.siem ? "on" : "off"}): no documented command sets them; check them on the appliance`);
    }
    return out;
}

/** The appliances told this run where their Orbit Web settings go: once per appliance, not once per call. */
const toldOrbitWeb = new Set<string>();

function tellOrbitWeb(target: string, desired: BackupPolicyInputs, abilities: DriverAbilities): void {
    const settings = orbitWebSettings(desired, abilities);
    if (settings.length === 0 || toldOrbitWeb.has(target)) return;
    toldOrbitWeb.add(target);
    warn(`BackupPolicy on ${target}: no documented orbit command sets these, so they are not written; set them in Orbit Web, and the verification backup and \`senhasegura-backup drift\` check them by their outcome:\n  - ${settings.join("\n  - ")}`);
}

async function converge(desired: BackupPolicyInputs, previousMasterPassword: string | undefined): Promise<BackupPolicyState> {
    const driver = await driverFor(desired.connection);
    tellOrbitWeb(driver.target, desired, driver.abilities);
    const live = await driver.backupSettings(false);
    for (const step of planPolicy(live, desired, desired.masterPassword !== previousMasterPassword)) {
        progress(`BackupPolicy on ${driver.target}: ${stepOperation(step)}`);
        await driver.applyPolicyStep(step, stepOperation(step));
    }
    return { ...desired, driver: driver.name };
}

/**
 * An adopting create: the settings as the appliance holds them. The master password
 * cannot be read back: while the appliance holds one, the program's is recorded as
 * if it were that one (docs/adopt.md).
 */
async function adopt(desired: BackupPolicyInputs): Promise<BackupPolicyState> {
    const driver = await driverFor(desired.connection);
    tellOrbitWeb(driver.target, desired, driver.abilities);
    const found = liveInputs(await driver.backupSettings(false), desired);
    reportAdoption(`BackupPolicy on ${driver.target}`, adoptionDifferences(found, desired, { secret: ["masterPassword"] }));
    return { ...found, driver: driver.name };
}

/** What delete leaves behind: every backup off and no destination. */
const BACKUPS_OFF: Omit<BackupPolicyInputs, "connection" | "notifications"> = {
    system: false, secrets: false, video: false, hour: 5, destination: { type: "none" },
};

export const backupPolicyProvider = {
    async check(_olds: unknown, news: unknown) {
        return checkInputs(BackupPolicyArgs, news);
    },
    async diff(_id: string, olds: unknown, news: unknown) {
        const recorded = fieldsOf(olds).driver;
        const parsed = BackupPolicyArgs.safeParse(fieldsOf(news));
        // At every preview, once per appliance: what a vendor appliance needs set in Orbit Web.
        if (recorded === "vendor" && parsed.success) tellOrbitWeb(describeTarget(parsed.data.connection), parsed.data, VENDOR_ABILITIES);
        const decision = decideDiff(olds, news, { identity: ["connection"], identityProjection: { connection: connectionIdentity }, ignore: ["driver", ...ADOPTION_FIELDS] });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs: BackupPolicyInputs) {
        const state = inputs.adopt ? await adopt(inputs) : await converge(inputs, undefined);
        return { id: objectId(state.connection, "backup-policy"), outs: state };
    },
    async read(id: string, props?: BackupPolicyState) {
        const state = requireState(props, id);
        const driver = await driverFor(state.connection);
        const inputs = liveInputs(await driver.backupSettings(true), state);
        return { id, props: { ...inputs, driver: driver.name }, inputs };
    },
    async update(_id: string, olds: BackupPolicyState, news: BackupPolicyInputs) {
        return { outs: await converge(news, olds.masterPassword) };
    },
    async delete(_id: string, props: BackupPolicyState) {
        // Documented behaviour: the appliance is left with every backup off and no destination,
        // so that the partitions and the rsync target can be removed after it.
        const driver = await driverFor(props.connection);
        if (!driver.abilities.kinds || !driver.abilities.destination) {
            warn(`BackupPolicy on ${driver.target}: deleted from the stack only. No documented orbit command turns backups off or clears their destination, so the appliance keeps backing up as Orbit Web says (its hour stays ${props.hour}); turn them off there if that is what you want (Orbit Config Manager ➔ Settings ➔ Backup)`);
            return;
        }
        const live = await driver.backupSettings(false);
        const off: BackupPolicyInputs = { ...BACKUPS_OFF, hour: live.hour, connection: props.connection, notifications: props.notifications };
        for (const step of planPolicy(live, off, false)) {
            progress(`BackupPolicy on ${driver.target}: ${stepOperation(step)}`);
            await driver.applyPolicyStep(step, stepOperation(step));
        }
    },
} satisfies pulumi.dynamic.ResourceProvider<BackupPolicyInputs, BackupPolicyState>;

/**
 * The appliance's backup policy. Deleting it turns every backup off and clears the destination.
 *
 * @example
 * new BackupPolicy("policy", {
 *     connection: applianceConnection,
 *     system: true, video: true, secrets: true, masterPassword: cfg.requireSecret("masterPassword"),
 *     hour: 5, destination: { type: "rsync" },
 * }, { dependsOn: [rsyncTarget] });
 */
export class BackupPolicy extends BackupResource {
    declare readonly system: pulumi.Output<boolean>;
    declare readonly secrets: pulumi.Output<boolean>;
    declare readonly video: pulumi.Output<boolean>;
    declare readonly hour: pulumi.Output<number>;
    declare readonly totalBackups: pulumi.Output<number | undefined>;
    declare readonly destination: pulumi.Output<Destination>;
    declare readonly notifications: pulumi.Output<z.output<typeof Notifications>>;
    /** Which driver spoke to the appliance: "vendor" (a real appliance) or "contract" (the lab's extended mode). */
    declare readonly driver: pulumi.Output<DriverName>;

    constructor(name: string, args: Inputs<BackupPolicyArgs>, opts?: pulumi.CustomResourceOptions) {
        super("BackupPolicy", "backupPolicy", name, { system: undefined, secrets: undefined, video: undefined, hour: undefined, notifications: undefined, ...args, driver: undefined }, opts, ["masterPassword"]);
    }
}
