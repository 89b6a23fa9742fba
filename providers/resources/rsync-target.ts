// RsyncTarget: the appliance's "Send to a remote Linux server (via RSYNC)" setting
// (vendor step 1): user, host, port and remote path. One per appliance.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ADOPTION_FIELDS, Adopt, adoptionDifferences, reportAdoption } from "../scaffolding/adoption";
import { type StoredState, checkInputs, connectionIdentity, decideDiff, requireState } from "../scaffolding/check";
import { ApplianceConnection, DEFAULT_PORTS, objectId } from "../transport/connection";
import { OrbitClient, type OrbitRsync } from "../appliance/orbit";
import { progress, warn } from "../transport/progress";
import { BackupResource, type Inputs } from "../scaffolding/resource";
import { BackupDirectory, Hostname, Port, UnixUser } from "../formats/rules";

export const RsyncTargetArgs = z.strictObject({
    /** How to reach the appliance (port 59022, user mt4adm by default). */
    connection: ApplianceConnection,
    /** The user on the backup server that owns the backup directory. */
    user: UnixUser,
    /** The backup server's host name or IPv4 address, as the appliance reaches it. */
    host: Hostname,
    /** The backup server's SSH port. @default 22 */
    port: Port.default(DEFAULT_PORTS.ssh),
    /** Absolute path of the backup directory on the backup server, e.g. /files/backup/senhasegura: letters, digits and `._-/`, no `..`. */
    path: BackupDirectory,
    /**
     * Also run the appliance's connection test (`orbit rsync test`) on every refresh,
     * so a drift-detection preview warns when the appliance can no longer reach the
     * server. Off by default: the test is the costliest read (a login of the appliance
     * on the backup server, about 0.3 s), and the AuthorizedKey already shows a
     * removed or changed key as drift. Create and update always test. @default false
     */
    testOnRefresh: z.boolean().default(false),
    /** Create takes over the target the appliance already has, as it is, and writes nothing (docs/adopt.md). */
    adopt: Adopt,
});
export type RsyncTargetArgs = z.input<typeof RsyncTargetArgs>;
type RsyncTargetInputs = z.output<typeof RsyncTargetArgs>;

export interface RsyncTargetState extends RsyncTargetInputs {
    /** Whether the appliance reached the target with its root key at the last create or update (or refresh, with testOnRefresh). */
    reachable: boolean;
    /** Why it could not, when it could not. */
    reachError: string | null;
}

const TARGET_FIELDS = ["user", "host", "port", "path"] as const;

/** The orbit arguments that set the target. Pure. */
export function rsyncSetArgs(t: Pick<RsyncTargetInputs, "user" | "host" | "port" | "path">): string[] {
    return ["rsync", "set", "--user", t.user, "--host", t.host, "--port", String(t.port), "--path", t.path];
}

export function sameTarget(live: OrbitRsync | null, desired: Pick<RsyncTargetInputs, "user" | "host" | "port" | "path">): boolean {
    return live !== null && TARGET_FIELDS.every((f) => live[f] === desired[f]);
}

async function probe(orbit: OrbitClient, inputs: RsyncTargetInputs): Promise<RsyncTargetState> {
    const test = await orbit.rsyncTest();
    if (!test.reachable) {
        warn(`RsyncTarget on ${orbit.target}: the appliance cannot reach ${inputs.user}@${inputs.host}:${inputs.port}${inputs.path} with its root key (${test.error ?? "no detail"}); backups will fail until the key is authorized (see AuthorizedKey)`);
    }
    return { ...inputs, reachable: test.reachable, reachError: test.reachable ? null : (test.error ?? "unreachable") };
}

async function converge(inputs: RsyncTargetInputs): Promise<RsyncTargetState> {
    const orbit = new OrbitClient(inputs.connection);
    const live = await orbit.showConfig();
    if (!sameTarget(live.rsync, inputs)) {
        progress(`RsyncTarget on ${orbit.target}: setting ${inputs.user}@${inputs.host}:${inputs.port}${inputs.path}`);
        await orbit.change(rsyncSetArgs(inputs), "set the rsync target");
    }
    return probe(orbit, inputs);
}

/**
 * An adopting create: the target as the appliance holds it, tested as every create
 * tests it (`orbit rsync test` writes nothing), or undefined when none is set.
 */
async function adopt(inputs: RsyncTargetInputs): Promise<RsyncTargetState | undefined> {
    const orbit = new OrbitClient(inputs.connection);
    const live = (await orbit.showConfig()).rsync;
    if (live === null) return undefined;
    const found: RsyncTargetInputs = { connection: inputs.connection, user: live.user, host: live.host, port: live.port, path: live.path, testOnRefresh: inputs.testOnRefresh };
    reportAdoption(`RsyncTarget on ${orbit.target}`, adoptionDifferences(found, inputs));
    return probe(orbit, found);
}

/** What the engine hands back: see StoredState. */
type StoredTarget = StoredState<RsyncTargetInputs, RsyncTargetState>;

export const rsyncTargetProvider = {
    async check(_olds: unknown, news: unknown) {
        return checkInputs(RsyncTargetArgs, news);
    },
    async diff(_id: string, olds: unknown, news: unknown) {
        const decision = decideDiff(olds, news, {
            identity: ["connection"], identityProjection: { connection: connectionIdentity },
            ignore: ["reachable", "reachError", ...ADOPTION_FIELDS],
        });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs: RsyncTargetInputs) {
        const state = (inputs.adopt ? await adopt(inputs) : undefined) ?? await converge(inputs);
        return { id: objectId(state.connection, "rsync"), outs: state };
    },
    async read(id: string, props?: StoredTarget) {
        const state = requireState(props, id);
        const orbit = new OrbitClient(state.connection);
        const live = await orbit.showConfigShared();
        // No id: the target is gone, and refresh drops the resource.
        if (live.rsync === null) return {};
        // State written before testOnRefresh existed has none: the schema's default applies.
        const testOnRefresh = RsyncTargetArgs.shape.testOnRefresh.parse(state.testOnRefresh);
        const inputs: RsyncTargetInputs = { connection: state.connection, ...live.rsync, testOnRefresh };
        if (testOnRefresh) return { id, props: await probe(orbit, inputs), inputs };
        return { id, props: { ...inputs, reachable: state.reachable, reachError: state.reachError ?? null }, inputs };
    },
    async update(_id: string, _olds: StoredTarget, news: RsyncTargetInputs) {
        return { outs: await converge(news) };
    },
    async delete(_id: string, props: StoredTarget) {
        const orbit = new OrbitClient(props.connection);
        const live = await orbit.showConfig();
        if (live.rsync === null) return;
        await orbit.change(["rsync", "clear"], "clear the rsync target");
    },
} satisfies pulumi.dynamic.ResourceProvider<RsyncTargetInputs, StoredTarget>;

/**
 * The appliance's rsync destination: vendor step 1 ("Send to a remote Linux server").
 *
 * @example
 * const target = new RsyncTarget("rsync", {
 *     connection: applianceConnection,
 *     user: "senhauser", host: "backup.example.com", path: "/files/backup/senhasegura",
 * });
 */
export class RsyncTarget extends BackupResource {
    declare readonly user: pulumi.Output<string>;
    declare readonly host: pulumi.Output<string>;
    declare readonly port: pulumi.Output<number>;
    declare readonly path: pulumi.Output<string>;
    declare readonly reachable: pulumi.Output<boolean>;
    declare readonly reachError: pulumi.Output<string | null>;

    constructor(name: string, args: Inputs<RsyncTargetArgs>, opts?: pulumi.CustomResourceOptions) {
        super("RsyncTarget", "rsyncTarget", name,
            { port: undefined, ...args, reachable: undefined, reachError: undefined }, opts, []);
    }
}
