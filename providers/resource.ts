// What every resource class shares: the type token, the serializable shim, and
// keeping connection secrets encrypted in state.
import * as pulumi from "@pulumi/pulumi";
import { implementationRef, serializableProvider } from "./dynamic";

/** The module of every type token: `pulumi-nodejs:dynamic/senhasegura:<Type>`. */
export const TYPE_MODULE = "senhasegura";

/** A value whose fields, nested objects and unions included, each accept a Pulumi Input. */
type DeepInput<V> = V extends readonly (infer E)[] ? readonly pulumi.Input<DeepInput<E>>[]
    : V extends object ? { [K in keyof V]: pulumi.Input<DeepInput<V[K]>> } : V;

/** The Args type of a resource, derived from its zod input type. */
export type Inputs<T> = { [K in keyof T]: pulumi.Input<DeepInput<T[K]>> };

export abstract class BackupResource extends pulumi.dynamic.Resource {
    protected constructor(
        type: string,
        implementation: { moduleFile: string; exportName: string },
        name: string,
        props: Record<string, unknown>,
        opts: pulumi.CustomResourceOptions | undefined,
        secretOutputs: readonly string[],
    ) {
        super(
            serializableProvider(implementationRef(implementation.moduleFile, implementation.exportName)),
            name,
            props,
            {
                ...opts,
                // The dynamic provider returns plain values; without this an output that
                // echoes a secret input (a key inside `connection`, a password) could be
                // written to state in plaintext.
                additionalSecretOutputs: [...new Set([...(opts?.additionalSecretOutputs ?? []), "connection", ...secretOutputs])],
            },
            TYPE_MODULE,
            type,
        );
    }
}
