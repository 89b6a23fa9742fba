// The provider of a resource that only reads the appliance (ApplianceRootKey,
// ApplianceHostKey): its one input is the connection, every output is read from the
// host, and create, update and refresh all read; deleting it changes nothing there.
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { checkInputs, connectionIdentity, decideDiff, fieldsOf, requireState } from "./check";
import { objectId } from "../transport/connection";
import type { ApplianceConnection } from "../appliance/connection";

export interface ReadOnlyInputs { connection: ApplianceConnection }

export function readOnlyApplianceProvider<State extends ReadOnlyInputs>(resource: {
    /** The Args schema: the connection, with the resource's own documentation. */
    args: z.ZodType<ReadOnlyInputs>;
    /** The last part of the id, after `<host>:<port>/`. */
    idSuffix: string;
    read: (inputs: ReadOnlyInputs) => Promise<State>;
}) {
    return {
        async check(_olds: unknown, news: unknown) {
            return checkInputs(resource.args, news);
        },
        async diff(_id: string, olds: unknown, news: unknown) {
            // The connection is the only input: the rest of the state is what was read.
            const decision = decideDiff({ connection: fieldsOf(olds).connection }, { connection: fieldsOf(news).connection }, {
                identity: ["connection"], identityProjection: { connection: connectionIdentity },
            });
            return { changes: decision.changes, replaces: decision.replaces };
        },
        async create(inputs: ReadOnlyInputs) {
            const state = await resource.read(inputs);
            return { id: objectId(state.connection, resource.idSuffix), outs: state };
        },
        async read(id: string, props?: State) {
            // No inputs come back: the connection is not read from the host, so the engine keeps the stored one.
            return { id, props: await resource.read({ connection: requireState(props, id).connection }) };
        },
        async update(_id: string, _olds: State, news: ReadOnlyInputs) {
            return { outs: await resource.read(news) };
        },
        async delete() {
            // Read-only: nothing on the appliance to undo.
        },
    } satisfies pulumi.dynamic.ResourceProvider<ReadOnlyInputs, State>;
}
