// ApplianceRootKey: reads the appliance root's public key, the key the appliance
// pushes rsync backups with (vendor step 3: `sudo cat /root/.ssh/id_rsa.pub`).
// Read-only: it never changes the appliance, and deleting it leaves the key alone.
// Its refresh read is the appliance's first, so it also announces the rsync target
// whose write test rides in that read (rsyncProof).
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ApplianceConnection } from "../appliance/connection";
import type { DriverName } from "../appliance/driver";
import { driverFor } from "../appliance/select";
import { expectRsyncProof } from "../appliance/vendor-driver";
import { BackupDirectory, Hostname, UnixUser } from "../formats/rules";
import { readOnlyApplianceProvider } from "../scaffolding/read-only";
import { BackupResource, type Inputs } from "../scaffolding/resource";

export const ApplianceRootKeyArgs = z.strictObject({
    /** How to reach the appliance (port 59022, user mt4adm by default). */
    connection: ApplianceConnection,
    /**
     * The rsync target this key is authorized for (user, server and directory, as the
     * appliance reaches it). On a vendor appliance the RsyncTarget's write test rides
     * in this key's refresh read, one exec for the whole appliance, instead of running
     * on its own after the AuthorizedKey. It steers only the refresh: nothing is
     * written anywhere. ApplianceBackup sets it.
     */
    rsyncProof: z.strictObject({ user: UnixUser, host: Hostname, path: BackupDirectory }).optional(),
});
export type ApplianceRootKeyArgs = z.input<typeof ApplianceRootKeyArgs>;
type ApplianceRootKeyInputs = z.output<typeof ApplianceRootKeyArgs>;

export interface ApplianceRootKeyState extends ApplianceRootKeyInputs {
    /** The public key line, as in /root/.ssh/id_rsa.pub. */
    publicKey: string;
    /** Its SHA256 fingerprint. */
    fingerprint: string;
    /** The appliance's host name, as it reports it. */
    hostname: string;
    /** Which driver spoke to the appliance: "vendor" (a real appliance) or "contract" (the lab's extended mode). */
    driver: DriverName;
}

/**
 * A refresh read, shared with the appliance's other resources: on a vendor
 * appliance one batched exec reads the key with everything else, and contract 2
 * shows it in the configuration.
 */
async function readRootKey(inputs: ApplianceRootKeyInputs, refresh: boolean): Promise<ApplianceRootKeyState> {
    // A create's batch runs before the key is authorized, so only a refresh carries the proof.
    if (refresh && inputs.rsyncProof) expectRsyncProof(inputs.connection, inputs.rsyncProof);
    const driver = await driverFor(inputs.connection);
    const key = await driver.rootKey(true);
    return { ...inputs, ...key, driver: driver.name };
}

export const applianceRootKeyProvider = readOnlyApplianceProvider({
    args: ApplianceRootKeyArgs, idSuffix: "root-key", updates: ["rsyncProof"], read: readRootKey,
}) satisfies pulumi.dynamic.ResourceProvider<ApplianceRootKeyInputs, ApplianceRootKeyState>;

/**
 * The appliance root's public key, to authorize on the backup server.
 *
 * @example
 * const rootKey = new ApplianceRootKey("appliance-root-key", {
 *     connection: { host: "10.0.0.5", hostKey: "SHA256:…", privateKey: cfg.requireSecret("applianceKey") },
 * });
 * // rootKey.publicKey feeds AuthorizedKey.publicKey
 */
export class ApplianceRootKey extends BackupResource {
    declare readonly publicKey: pulumi.Output<string>;
    declare readonly fingerprint: pulumi.Output<string>;
    declare readonly hostname: pulumi.Output<string>;
    declare readonly driver: pulumi.Output<DriverName>;

    constructor(name: string, args: Inputs<ApplianceRootKeyArgs>, opts?: pulumi.CustomResourceOptions) {
        super("ApplianceRootKey", "applianceRootKey", name,
            { ...args, publicKey: undefined, fingerprint: undefined, hostname: undefined, driver: undefined }, opts, []);
    }
}
