// What every resource class shares: the type token, the provider entry that state
// records, and keeping connection secrets encrypted in state.
import * as pulumi from "@pulumi/pulumi";
import type * as providerEntry from "../entry";

/** The module of every type token: `pulumi-nodejs:dynamic/senhasegura:<Type>`. */
export const TYPE_MODULE = "senhasegura";

/** The package entry that the dynamic-provider host loads implementations from (package.json "exports"). */
export const PROVIDER_ENTRY = "senhasegura-backup/provider";

/** The name of an implementation in the provider entry, e.g. "rsyncTarget". */
export type ProviderName = keyof typeof providerEntry;

/**
 * What state records as a resource's `__provider`: a module that the Node.js
 * dynamic-provider host evaluates and calls `handler()` on. It names the package
 * entry and the provider, never a file, so moving a file inside the package breaks
 * no stack, and it is the same short line in every resource (about 90 bytes). The
 * host resolves it from the program's directory, where the package is installed.
 */
export function providerSource(name: ProviderName): string {
    return `exports.handler = () => require(${JSON.stringify(PROVIDER_ENTRY)}).${name};\n`;
}

/** A value whose fields, nested objects and unions included, each accept a Pulumi Input. */
type DeepInput<V> = V extends readonly (infer E)[] ? readonly pulumi.Input<DeepInput<E>>[]
    : V extends object ? { [K in keyof V]: pulumi.Input<DeepInput<V[K]>> } : V;

/** The Args type of a resource, derived from its zod input type. */
export type Inputs<T> = { [K in keyof T]: pulumi.Input<DeepInput<T[K]>> };

/**
 * A dynamic resource, registered as `pulumi.dynamic.Resource` registers one (the
 * same type token and `__provider` property), but with the provider entry above
 * instead of a serialized closure: the SDK's serialization copies each of the six
 * methods into state (2 KB and more per resource) and cannot name a package entry.
 */
export abstract class BackupResource extends pulumi.CustomResource {
    protected constructor(
        type: string,
        provider: ProviderName,
        name: string,
        props: Record<string, unknown>,
        opts: pulumi.CustomResourceOptions | undefined,
        secretOutputs: readonly string[],
    ) {
        super(
            `pulumi-nodejs:dynamic/${TYPE_MODULE}:${type}`,
            name,
            { ...props, __provider: providerSource(provider) },
            {
                ...opts,
                // The dynamic provider returns plain values; without this an output that
                // echoes a secret input (a key inside `connection`, a password) could be
                // written to state in plaintext.
                additionalSecretOutputs: [...new Set([...(opts?.additionalSecretOutputs ?? []), "connection", ...secretOutputs])],
            },
        );
    }
}
