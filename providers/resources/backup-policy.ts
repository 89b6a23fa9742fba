// BackupPolicy: which backups the appliance makes (system, secrets "break the
// glass", video of proxy sessions), when, where they go, and who hears about a
// lost remote directory. One per appliance.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ADOPTION_FIELDS, Adopt, adoptionDifferences, reportAdoption } from "../scaffolding/adoption";
import { checkInputs, connectionIdentity, decideDiff, requireState } from "../scaffolding/check";
import { ApplianceConnection, type Connection, objectId } from "../transport/connection";
import { OrbitClient, type OrbitConfig } from "../appliance/orbit";
import { progress } from "../transport/progress";
import { BackupResource, type Inputs } from "../scaffolding/resource";
import { EmailAddress, Hour, MasterPassword, ObjectId } from "../formats/rules";

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
export type BackupPolicyState = BackupPolicyInputs;

export interface OrbitStep { args: string[]; operation: string; stdin?: string }

function liveDestination(live: OrbitConfig["backup"]): Destination {
    if (live.destination.mode === "partition") return { type: "partition", partitionId: live.destination.partitionId ?? "" };
    return { type: live.destination.mode };
}

/** The steps that take the live backup settings to the desired ones, in a safe order. Pure. */
export function planPolicy(live: OrbitConfig["backup"], desired: BackupPolicyInputs, masterPasswordChanged: boolean): OrbitStep[] {
    const steps: OrbitStep[] = [];
    for (const kind of ["system", "video"] as const) {
        if (live[kind] !== desired[kind]) steps.push({ args: ["backup", "kind", desired[kind] ? "enable" : "disable", kind], operation: `${desired[kind] ? "enable" : "disable"} the ${kind} backup` });
    }
    if (desired.secrets && (!live.secrets || !live.masterPasswordSet || masterPasswordChanged)) {
        steps.push({ args: ["backup", "kind", "enable", "secrets"], operation: "enable the secrets backup", stdin: desired.masterPassword });
    } else if (!desired.secrets && live.secrets) {
        steps.push({ args: ["backup", "kind", "disable", "secrets"], operation: "disable the secrets backup" });
    }
    if (live.hour !== desired.hour) steps.push({ args: ["backup", "time", "--hour", String(desired.hour)], operation: "set the daily backup hour" });
    const n = desired.notifications;
    const liveN = live.notifications;
    if (liveN.email !== n.email || liveN.siem !== n.siem || liveN.emailTo !== (n.emailTo ?? null)) {
        steps.push({
            args: ["backup", "notify", "--email", n.email ? "on" : "off", "--siem", n.siem ? "on" : "off", ...(n.emailTo ? ["--email-to", n.emailTo] : ["--no-email-to"])],
            operation: "set the lost-directory notifications",
        });
    }
    const from = liveDestination(live);
    const to = desired.destination;
    if (from.type !== to.type || (to.type === "partition" && from.type === "partition" && from.partitionId !== to.partitionId)) {
        steps.push({ args: ["backup", "destination", to.type, ...(to.type === "partition" ? ["--partition", to.partitionId] : [])], operation: `send backups to ${to.type === "partition" ? `partition ${to.partitionId}` : to.type}` });
    }
    return steps;
}

/** The live settings in input shape. The master password cannot be read back, so it is carried over while the appliance holds one. */
export function liveInputs(live: OrbitConfig["backup"], connection: Connection, knownMasterPassword: string | undefined): BackupPolicyInputs {
    const out: BackupPolicyInputs = {
        connection, system: live.system, secrets: live.secrets, video: live.video, hour: live.hour,
        notifications: { email: live.notifications.email, siem: live.notifications.siem, ...(live.notifications.emailTo !== null ? { emailTo: live.notifications.emailTo } : {}) },
        destination: liveDestination(live),
    };
    if (live.secrets && live.masterPasswordSet && knownMasterPassword !== undefined) out.masterPassword = knownMasterPassword;
    return out;
}

async function converge(desired: BackupPolicyInputs, previousMasterPassword: string | undefined): Promise<BackupPolicyState> {
    const orbit = new OrbitClient(desired.connection);
    const live = (await orbit.showConfig()).backup;
    for (const step of planPolicy(live, desired, desired.masterPassword !== previousMasterPassword)) {
        progress(`BackupPolicy on ${orbit.target}: ${step.operation}`);
        await orbit.change(step.args, step.operation, step.stdin, [desired.masterPassword]);
    }
    return desired;
}

/**
 * An adopting create: the settings as the appliance holds them. The master password
 * cannot be read back: while the appliance holds one, the program's is recorded as
 * if it were that one (docs/adopt.md).
 */
async function adopt(desired: BackupPolicyInputs): Promise<BackupPolicyState> {
    const orbit = new OrbitClient(desired.connection);
    const found = liveInputs((await orbit.showConfig()).backup, desired.connection, desired.masterPassword);
    reportAdoption(`BackupPolicy on ${orbit.target}`, adoptionDifferences(found, desired, { secret: ["masterPassword"] }));
    return found;
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
        const decision = decideDiff(olds, news, { identity: ["connection"], identityProjection: { connection: connectionIdentity }, ignore: ADOPTION_FIELDS });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs: BackupPolicyInputs) {
        const state = inputs.adopt ? await adopt(inputs) : await converge(inputs, undefined);
        return { id: objectId(state.connection, "backup-policy"), outs: state };
    },
    async read(id: string, props?: BackupPolicyState) {
        const state = requireState(props, id);
        const live = (await new OrbitClient(state.connection).showConfigShared()).backup;
        const inputs = liveInputs(live, state.connection, state.masterPassword);
        return { id, props: inputs, inputs };
    },
    async update(_id: string, olds: BackupPolicyState, news: BackupPolicyInputs) {
        return { outs: await converge(news, olds.masterPassword) };
    },
    async delete(_id: string, props: BackupPolicyState) {
        // Documented behaviour: the appliance is left with every backup off and no destination,
        // so that the partitions and the rsync target can be removed after it.
        const orbit = new OrbitClient(props.connection);
        const live = (await orbit.showConfig()).backup;
        const off: BackupPolicyInputs = { ...BACKUPS_OFF, hour: live.hour, connection: props.connection, notifications: props.notifications };
        for (const step of planPolicy(live, off, false)) {
            progress(`BackupPolicy on ${orbit.target}: ${step.operation}`);
            await orbit.change(step.args, step.operation);
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
    declare readonly destination: pulumi.Output<Destination>;
    declare readonly notifications: pulumi.Output<z.output<typeof Notifications>>;

    constructor(name: string, args: Inputs<BackupPolicyArgs>, opts?: pulumi.CustomResourceOptions) {
        super("BackupPolicy", "backupPolicy", name, { system: undefined, secrets: undefined, video: undefined, hour: undefined, notifications: undefined, ...args }, opts, ["masterPassword"]);
    }
}
