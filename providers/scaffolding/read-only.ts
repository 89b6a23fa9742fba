// The provider of a resource that only reads the appliance (ApplianceRootKey,
// ApplianceHostKey): its identity is the connection, every other output is read
// from the host, and create, update and refresh all read; deleting it changes
// nothing there. An input besides the connection (`updates`) only steers the read,
// so a change of it is an in-place update.
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { checkInputs, connectionIdentity, decideDiff, fieldsOf, requireState } from "./check";
import { objectId } from "../transport/connection";
import type { ApplianceConnection } from "../appliance/connection";

export interface ReadOnlyInputs { connection: ApplianceConnection }

export function readOnlyApplianceProvider<Inputs extends ReadOnlyInputs, State extends Inputs>(resource: {
    /** The Args schema: the connection, with the resource's own documentation. */
    args: z.ZodType<Inputs, unknown>;
    /** The last part of the id, after `<host>:<port>/`. */
    idSuffix: string;
    /** Inputs besides the connection, kept in state and compared by diff. */
    updates?: readonly (keyof Inputs & string)[];
    /** `refresh`: a refresh read, which another resource of the appliance may share; else a create's or an update's. */
    read: (inputs: Inputs, refresh: boolean) => Promise<State>;
}) {
    const inputsOf = (fields: Record<string, unknown>): Record<string, unknown> =>
        Object.fromEntries(["connection", ...(resource.updates ?? [])].filter((k) => fields[k] !== undefined).map((k) => [k, fields[k]]));
    return {
        async check(_olds: unknown, news: unknown) {
            return checkInputs(resource.args, news);
        },
        async diff(_id: string, olds: unknown, news: unknown) {
            // The rest of the state is what was read.
            const decision = decideDiff(inputsOf(fieldsOf(olds)), inputsOf(fieldsOf(news)), {
                identity: ["connection"], identityProjection: { connection: connectionIdentity },
            });
            return { changes: decision.changes, replaces: decision.replaces };
        },
        async create(inputs: Inputs) {
            const state = await resource.read(inputs, false);
            return { id: objectId(state.connection, resource.idSuffix), outs: state };
        },
        async read(id: string, props?: State) {
            // No inputs come back: none is read from the host, so the engine keeps the stored ones.
            return { id, props: await resource.read(inputsOf(requireState(props, id) as Record<string, unknown>) as Inputs, true) };
        },
        async update(_id: string, _olds: State, news: Inputs) {
            return { outs: await resource.read(news, false) };
        },
        async delete() {
            // Read-only: nothing on the appliance to undo.
        },
    } satisfies pulumi.dynamic.ResourceProvider<Inputs, State>;
}
