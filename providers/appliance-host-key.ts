// ApplianceHostKey: the appliance's SSH host key as a whole key line, read over a
// connection that has already checked it against the pin.
//
// Why it exists: the verification backup runs through @pulumi/command, whose
// connection takes only a key line (`ssh-ed25519 AAAA…`), while our connections
// also accept a `SHA256:` fingerprint. Handing pulumi-command a key we fetched
// without checking would make its pin worthless, so the key comes from here: the
// pinned, pooled transport refuses any key that does not match, and only the key it
// accepted is passed on. Read-only; it runs no command (the handshake is the read).
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { checkInputs, connectionIdentity, decideDiff } from "./check";
import { ApplianceConnection, type Connection, blobKeyType, sha256Fingerprint } from "./connection";
import { BackupResource, type Inputs } from "./resource";
import { sshPool } from "./ssh";

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
}

/** `<type> <base64>` of a host key blob: the form pulumi-command's hostKey takes. */
export function hostKeyLine(blob: Buffer): string {
    return `${blobKeyType(blob) ?? "unknown"} ${blob.toString("base64")}`;
}

async function readHostKey(inputs: ApplianceHostKeyInputs): Promise<ApplianceHostKeyState> {
    const blob = await sshPool.presentedHostKey(inputs.connection as Connection);
    return { ...inputs, keyLine: hostKeyLine(blob), fingerprint: sha256Fingerprint(blob) };
}

const idOf = (c: Connection) => `${c.host}:${c.port}/host-key`;

export const applianceHostKeyProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds, news) {
        return checkInputs(ApplianceHostKeyArgs, news);
    },
    async diff(_id, olds, news) {
        const decision = decideDiff({ connection: olds.connection }, { connection: news.connection }, {
            identity: ["connection"], identityProjection: { connection: connectionIdentity },
        });
        return { changes: decision.changes, replaces: decision.replaces };
    },
    async create(inputs) {
        const state = await readHostKey(inputs as ApplianceHostKeyInputs);
        return { id: idOf(state.connection), outs: state };
    },
    async read(id, props) {
        // A changed host key fails here, at the pin, naming the fingerprint seen.
        const inputs = { connection: props!.connection } as ApplianceHostKeyInputs;
        return { id, props: await readHostKey(inputs), inputs: { connection: inputs.connection } };
    },
    async update(_id, _olds, news) {
        return { outs: await readHostKey(news as ApplianceHostKeyInputs) };
    },
    async delete() {
        // Read-only: nothing on the appliance to undo.
    },
};

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

    constructor(name: string, args: Inputs<ApplianceHostKeyArgs>, opts?: pulumi.CustomResourceOptions) {
        super("ApplianceHostKey", "applianceHostKey", name,
            { ...args, keyLine: undefined, fingerprint: undefined }, opts, []);
    }
}
