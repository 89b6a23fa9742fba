// RsyncTarget: the appliance's "Send to a remote Linux server (via RSYNC)" setting
// (vendor step 1): user, host, port and remote path. One per appliance. A contract
// appliance sets and reads it; on a vendor appliance Orbit Web holds it, and the
// resource proves it instead: a write of root's rsync into the directory.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ADOPTION_FIELDS, Adopt, adoptionDifferences, reportAdoption } from "../scaffolding/adoption";
import { type StoredState, checkInputs, connectionIdentity, decideDiff, fieldsOf, requireState } from "../scaffolding/check";
import { DEFAULT_PORTS, HostKey, objectId, parseHostKeyPin } from "../transport/connection";
import { BackupProviderError } from "../transport/errors";
import { ApplianceConnection } from "../appliance/connection";
import type { ApplianceDriver, DriverName, RsyncTargetView } from "../appliance/driver";
import { driverFor } from "../appliance/select";
import { VendorDriver, expectRsyncProof } from "../appliance/vendor-driver";
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
    /**
     * The backup server's SSH port. Orbit Web has no port field, so a real appliance
     * connects to 22 unless root's ssh configuration there says otherwise: any other
     * port needs portInApplianceSshConfig. @default 22
     */
    port: Port.default(DEFAULT_PORTS.ssh),
    /** Absolute path of the backup directory on the backup server, e.g. /files/backup/senhasegura: letters, digits and `._-/`, no `..`. */
    path: BackupDirectory,
    /**
     * Also run the appliance's connection test on every refresh (contract appliance),
     * so a drift-detection preview warns when the appliance can no longer reach the
     * server. Off by default: the test is the costliest read (a login of the appliance
     * on the backup server, about 0.3 s), and the AuthorizedKey already shows a
     * removed or changed key as drift. Create and update always test, and on a vendor
     * appliance every refresh tests, since the test is all it can read. @default false
     */
    testOnRefresh: z.boolean().default(false),
    /**
     * The backup server's host key as the appliance's ssh sees it: its key line (as
     * ssh-keyscan prints it) or its `SHA256:` fingerprint. On a vendor appliance the key
     * line is pinned in root's known_hosts (see pinServerHostKey), so the appliance's
     * own hop to the server is verified too; a fingerprint cannot be written there.
     */
    serverHostKey: HostKey.optional(),
    /**
     * Vendor appliance: add serverHostKey's line to root's known_hosts when it is not
     * there, as the vendor's `sudo ssh <user>@<server>` step would, but from the pin
     * instead of trust on first use (one line added, every other line kept). false:
     * leave the file alone; the line must be there already. @default true
     */
    pinServerHostKey: z.boolean().optional(),
    /**
     * Vendor appliance: confirms that root's ssh configuration on the appliance sends
     * its connections to `host` to `port` (Orbit Web has no port field). Required
     * when port is not 22 on a vendor appliance. @default false
     */
    portInApplianceSshConfig: z.boolean().optional(),
    /** Create takes over the target the appliance already has, as it is, and writes nothing (docs/adopt.md). */
    adopt: Adopt,
}).superRefine((t, ctx) => {
    if (t.connection.driver === "vendor" && t.port !== DEFAULT_PORTS.ssh && t.portInApplianceSshConfig !== true) {
        ctx.addIssue({ code: "custom", path: ["port"], message: portRule(t.port) });
    }
});
export type RsyncTargetArgs = z.input<typeof RsyncTargetArgs>;
type RsyncTargetInputs = z.output<typeof RsyncTargetArgs>;

/** Why a port other than 22 needs confirming on a vendor appliance. Pure. */
function portRule(port: number): string {
    return `a real appliance has no rsync port setting (Orbit Web asks only for User, Server and Remote path), so it connects to port 22 unless root's ssh configuration there says otherwise; port ${port} was provided: set portInApplianceSshConfig to true once that configuration sends the server's connections to ${port}, or use port 22`;
}

export interface RsyncTargetState extends RsyncTargetInputs {
    /** Whether the appliance reached the target with its root key at the last create or update (or refresh, with testOnRefresh or on a vendor appliance). */
    reachable: boolean;
    /** Why it could not, when it could not. */
    reachError: string | null;
    /** Which driver spoke to the appliance. */
    driver?: DriverName;
}

const TARGET_FIELDS = ["user", "host", "port", "path"] as const;

export function sameTarget(live: RsyncTargetView | null | undefined, desired: RsyncTargetView): boolean {
    return live !== null && live !== undefined && TARGET_FIELDS.every((f) => live[f] === desired[f]);
}

function targetOf(inputs: RsyncTargetInputs): RsyncTargetView {
    return { user: inputs.user, host: inputs.host, port: inputs.port, path: inputs.path };
}

/** What a vendor appliance's rsync test failing means, for messages. */
function unreachableText(inputs: RsyncTargetInputs, error: string | null): string {
    return `the appliance cannot write to ${inputs.user}@${inputs.host}:${inputs.port}${inputs.path} as root with its root key (${error ?? "no detail"})`;
}

async function probe(driver: ApplianceDriver, inputs: RsyncTargetInputs, options: { failHard: boolean; shared?: boolean }): Promise<RsyncTargetState> {
    const test = await driver.testRsync(targetOf(inputs), options.shared === true);
    if (!test.reachable) {
        if (options.failHard) {
            throw new BackupProviderError(unreachableText(inputs, test.error), {
                kind: "appliance", code: "unreachable", host: driver.target, operation: "test the rsync target",
                hint: "check that the AuthorizedKey holds the appliance's root key, that the directory exists and is the backup user's, and that root's known_hosts on the appliance holds the server's key; then run `pulumi up` again",
            });
        }
        warn(`RsyncTarget on ${driver.target}: ${unreachableText(inputs, test.error)}; backups will fail until the key is authorized (see AuthorizedKey)`);
    }
    return { ...inputs, reachable: test.reachable, reachError: test.reachable ? null : (test.error ?? "unreachable"), driver: driver.name };
}

/**
 * Vendor appliance: what Orbit Web holds cannot be read or written, so the target
 * is proven instead: the server's key pinned in root's known_hosts, then a write of
 * root's rsync into the directory.
 */
async function proveOnVendor(driver: VendorDriver, inputs: RsyncTargetInputs, options: { pin: boolean; failHard: boolean; shared?: boolean }): Promise<RsyncTargetState> {
    if (inputs.port !== DEFAULT_PORTS.ssh && inputs.portInApplianceSshConfig !== true) {
        throw new BackupProviderError(portRule(inputs.port), { kind: "invalid", host: driver.target, operation: "check the rsync target", hint: "set portInApplianceSshConfig to true, or port to 22" });
    }
    if (options.pin && inputs.pinServerHostKey !== false) {
        const pin = inputs.serverHostKey === undefined ? undefined : parseHostKeyPin(inputs.serverHostKey);
        if (pin === undefined || typeof pin === "string" || pin.kind !== "key") {
            throw new BackupProviderError(`root's known_hosts on the appliance needs the backup server's key line, but serverHostKey is ${pin === undefined ? "not set" : "a fingerprint"}`, {
                kind: "invalid", host: driver.target, operation: "pin the backup server's host key",
                hint: "set RsyncTarget.serverHostKey to the server's key line (ssh-keyscan -p PORT HOST), or set pinServerHostKey to false once the line is in root's known_hosts",
            });
        }
        if (await driver.pinServerHostKey(inputs.host, inputs.port, inputs.serverHostKey!)) {
            progress(`RsyncTarget on ${driver.target}: pinned ${inputs.host}'s host key in root's known_hosts`);
        }
    }
    return probe(driver, inputs, { failHard: options.failHard, shared: options.shared });
}

/** Tells, once per appliance, that Orbit Web holds the target. */
const toldOrbitWeb = new Set<string>();
function tellOrbitWeb(driver: ApplianceDriver, inputs: RsyncTargetInputs): void {
    if (driver.abilities.rsyncTarget || toldOrbitWeb.has(driver.target)) return;
    toldOrbitWeb.add(driver.target);
    warn(`RsyncTarget on ${driver.target}: no documented orbit command sets the rsync target, so it is not written; in Orbit Config Manager ➔ Settings ➔ Backup choose "Send to a remote Linux server (via rsync)" with User ${inputs.user}, Server ${inputs.host} and Remote path ${inputs.path}. Each refresh proves it by a write of the appliance's root into that directory`);
}

async function converge(inputs: RsyncTargetInputs): Promise<RsyncTargetState> {
    const driver = await driverFor(inputs.connection);
    if (driver instanceof VendorDriver) {
        tellOrbitWeb(driver, inputs);
        return proveOnVendor(driver, inputs, { pin: true, failHard: true });
    }
    const live = await driver.rsyncTarget(false);
    if (!sameTarget(live, targetOf(inputs))) {
        progress(`RsyncTarget on ${driver.target}: setting ${inputs.user}@${inputs.host}:${inputs.port}${inputs.path}`);
        await driver.setRsyncTarget(targetOf(inputs));
    }
    return probe(driver, inputs, { failHard: false });
}

/**
 * An adopting create: the target as the appliance holds it, tested as every create
 * tests it (the test writes nothing on the appliance), or undefined when none is set.
 */
async function adopt(inputs: RsyncTargetInputs): Promise<RsyncTargetState | undefined> {
    const driver = await driverFor(inputs.connection);
    if (driver instanceof VendorDriver) {
        tellOrbitWeb(driver, inputs);
        return proveOnVendor(driver, inputs, { pin: false, failHard: false });
    }
    const live = await driver.rsyncTarget(false);
    if (!live) return undefined;
    const found: RsyncTargetInputs = { ...inputs, ...live };
    reportAdoption(`RsyncTarget on ${driver.target}`, adoptionDifferences(found, inputs));
    return probe(driver, found, { failHard: false });
}

/** What the engine hands back: see StoredState. */
type StoredTarget = StoredState<RsyncTargetInputs, RsyncTargetState>;

export const rsyncTargetProvider = {
    async check(_olds: unknown, news: unknown) {
        const checked = checkInputs(RsyncTargetArgs, news);
        // The desired state includes a target that works: on a vendor appliance, whose
        // read is a write test, a failed test shows as drift of this field.
        return checked.inputs ? { ...checked, inputs: { ...checked.inputs, reachable: true } } : checked;
    },
    async diff(_id: string, olds: unknown, news: unknown) {
        const vendor = fieldsOf(olds).driver === "vendor";
        const decision = decideDiff(olds, news, {
            identity: ["connection"], identityProjection: { connection: connectionIdentity },
            ignore: [...(vendor ? [] : ["reachable"]), "reachError", "driver", ...ADOPTION_FIELDS],
        });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs: RsyncTargetInputs) {
        const state = (inputs.adopt ? await adopt(inputs) : undefined) ?? await converge(inputs);
        return { id: objectId(state.connection, "rsync"), outs: state };
    },
    async read(id: string, props?: StoredTarget) {
        const state = requireState(props, id);
        // Before the driver is chosen: if this is the appliance's first read, its batch carries the proof.
        expectRsyncProof(state.connection, state);
        const driver = await driverFor(state.connection);
        // State written before testOnRefresh existed has none: the schema's default applies.
        const testOnRefresh = RsyncTargetArgs.shape.testOnRefresh.parse(state.testOnRefresh);
        if (driver instanceof VendorDriver) {
            // Nothing of the target is readable: the declared one is kept, and proven.
            const { reachable: _r, reachError: _e, driver: _d, ...declared } = state;
            const proven = await proveOnVendor(driver, { ...declared, testOnRefresh }, { pin: false, failHard: false, shared: true });
            return { id, props: proven, inputs: { ...declared, testOnRefresh, reachable: proven.reachable } };
        }
        const live = await driver.rsyncTarget(true);
        // No id: the target is gone, and refresh drops the resource.
        if (!live) return {};
        const { reachable: _r, reachError: _e, driver: _d, ...declared } = state;
        const inputs: RsyncTargetInputs = { ...declared, ...live, testOnRefresh };
        // A contract appliance's reachability is warned about, never drift: the read's
        // inputs say what check asks (reachable), so no field differs because of it.
        const asChecked = { ...inputs, reachable: true };
        if (testOnRefresh) return { id, props: await probe(driver, inputs, { failHard: false }), inputs: asChecked };
        return { id, props: { ...inputs, reachable: state.reachable ?? true, reachError: state.reachError ?? null, driver: driver.name }, inputs: asChecked };
    },
    async update(_id: string, _olds: StoredTarget, news: RsyncTargetInputs) {
        return { outs: await converge(news) };
    },
    async delete(_id: string, props: StoredTarget) {
        const driver = await driverFor(props.connection);
        if (!driver.abilities.rsyncTarget) {
            warn(`RsyncTarget on ${driver.target}: deleted from the stack only; Orbit Web still sends backups to ${props.user}@${props.host}${props.path} until it is changed there (Orbit Config Manager ➔ Settings ➔ Backup), and root's known_hosts keeps the server's line`);
            return;
        }
        const live = await driver.rsyncTarget(false);
        if (live === null) return;
        await driver.clearRsyncTarget();
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
    declare readonly driver: pulumi.Output<DriverName>;

    constructor(name: string, args: Inputs<RsyncTargetArgs>, opts?: pulumi.CustomResourceOptions) {
        super("RsyncTarget", "rsyncTarget", name,
            { port: undefined, ...args, reachable: undefined, reachError: undefined, driver: undefined }, opts, []);
    }
}
