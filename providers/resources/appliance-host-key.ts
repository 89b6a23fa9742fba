// ApplianceHostKey: the appliance's SSH host key as a whole key line, read over a
// connection that has already checked it against the pin.
//
// Why it exists: the verification backup runs through @pulumi/command, whose
// connection takes only a key line (`ssh-ed25519 AAAA…`), while our connections
// also accept a `SHA256:` fingerprint. Handing pulumi-command a key we fetched
// without checking would make its pin worthless, so the key comes from here: the
// pinned, pooled transport refuses any key that does not match, and only the key it
// accepted is passed on. Read-only. It also records which driver the appliance
// speaks, which decides the verification backup's command line.
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { blobKeyType, sha256Fingerprint } from "../formats/authorized-keys/key";
import { ApplianceConnection } from "../appliance/connection";
import type { DriverName } from "../appliance/driver";
import { driverName } from "../appliance/select";
import { readOnlyApplianceProvider } from "../scaffolding/read-only";
import { BackupResource, type Inputs } from "../scaffolding/resource";
import { sshPool } from "../transport/ssh";

export const ApplianceHostKeyArgs = z.strictObject({
    /** How to reach the appliance (port 59022, user mt4adm by default). Its hostKey is the pin. */
    connection: ApplianceConnection,
});
export type ApplianceHostKeyArgs = z.input<typeof ApplianceHostKeyArgs>;
type ApplianceHostKeyInputs = z.output<typeof ApplianceHostKeyArgs>;

export interface ApplianceHostKeyState extends ApplianceHostKeyInputs {
    /** The host key line the appliance presented (`<type> <base64>`), as known_hosts holds it. */
    keyLine: string;
    /** Its SHA256 fingerprint. */
    fingerprint: string;
    /** Which driver speaks to the appliance: "vendor" (a real appliance) or "contract" (the lab's extended mode). */
    driver: DriverName;
}

/** `<type> <base64>` of a host key blob: the form pulumi-command's hostKey takes. */
export function hostKeyLine(blob: Buffer): string {
    return `${blobKeyType(blob) ?? "unknown"} ${blob.toString("base64")}`;
}

async function readHostKey(inputs: ApplianceHostKeyInputs): Promise<ApplianceHostKeyState> {
    // A changed host key fails here, at the pin, naming the fingerprint seen.
    const blob = await sshPool.presentedHostKey(inputs.connection);
    return { connection: inputs.connection, keyLine: hostKeyLine(blob), fingerprint: sha256Fingerprint(blob), driver: await driverName(inputs.connection) };
}

export const applianceHostKeyProvider = readOnlyApplianceProvider({
    args: ApplianceHostKeyArgs, idSuffix: "host-key", read: readHostKey,
}) satisfies pulumi.dynamic.ResourceProvider<ApplianceHostKeyInputs, ApplianceHostKeyState>;

/**
 * The appliance's SSH host key line, checked against `connection.hostKey` (a key line
 * or a `SHA256:` fingerprint), for tools that need the whole line.
 *
 * @example
 * const hostKey = new ApplianceHostKey("appliance-host-key", {
 *     connection: { host: "10.0.0.5", hostKey: "SHA256:…", privateKey: cfg.requireSecret("applianceKey") },
 * });
 * // hostKey.keyLine feeds a command.remote.Command's connection.hostKey
 */
export class ApplianceHostKey extends BackupResource {
    declare readonly keyLine: pulumi.Output<string>;
    declare readonly fingerprint: pulumi.Output<string>;
    declare readonly driver: pulumi.Output<DriverName>;

    constructor(name: string, args: Inputs<ApplianceHostKeyArgs>, opts?: pulumi.CustomResourceOptions) {
        super("ApplianceHostKey", "applianceHostKey", name,
            { ...args, keyLine: undefined, fingerprint: undefined, driver: undefined }, opts, []);
    }
}
