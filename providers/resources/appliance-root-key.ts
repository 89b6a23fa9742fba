// ApplianceRootKey: reads the appliance root's public key, the key the appliance
// pushes rsync backups with (vendor step 3: `sudo cat /root/.ssh/id_rsa.pub`).
// Read-only: it never changes the appliance, and deleting it leaves the key alone.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { ApplianceConnection } from "../transport/connection";
import { OrbitClient } from "../appliance/orbit";
import { readOnlyApplianceProvider } from "../scaffolding/read-only";
import { BackupResource, type Inputs } from "../scaffolding/resource";

export const ApplianceRootKeyArgs = z.strictObject({
    /** How to reach the appliance (port 59022, user mt4adm by default). */
    connection: ApplianceConnection,
});
export type ApplianceRootKeyArgs = z.input<typeof ApplianceRootKeyArgs>;
type ApplianceRootKeyInputs = z.output<typeof ApplianceRootKeyArgs>;

export interface ApplianceRootKeyState extends ApplianceRootKeyInputs {
    /** The public key line, as in /root/.ssh/id_rsa.pub. */
    publicKey: string;
    /** Its SHA256 fingerprint. */
    fingerprint: string;
    /** The appliance's host name, as orbit reports it. */
    hostname: string;
}

/**
 * The key and host name come from the configuration the appliance's other resources
 * read too (contract 2 shows the root key there), so a refresh costs no extra orbit
 * run. A contract 1 appliance, or one whose key is not there yet, is asked with
 * `root-key show`.
 */
async function readRootKey(inputs: ApplianceRootKeyInputs): Promise<ApplianceRootKeyState> {
    const orbit = new OrbitClient(inputs.connection);
    const config = await orbit.showConfigShared();
    const key = config.rootKey ?? await orbit.rootKey();
    return { connection: inputs.connection, publicKey: key.publicKey.trim(), fingerprint: key.fingerprint, hostname: config.hostname };
}

export const applianceRootKeyProvider = readOnlyApplianceProvider({
    args: ApplianceRootKeyArgs, idSuffix: "root-key", read: readRootKey,
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

    constructor(name: string, args: Inputs<ApplianceRootKeyArgs>, opts?: pulumi.CustomResourceOptions) {
        super("ApplianceRootKey", "applianceRootKey", name,
            { ...args, publicKey: undefined, fingerprint: undefined, hostname: undefined }, opts, []);
    }
}
