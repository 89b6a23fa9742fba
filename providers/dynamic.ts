// How our dynamic providers are serialized (see docs/dynamic-providers.md).
//
// Pulumi stores a dynamic resource's provider in state as `__provider`: the source
// of a module rebuilt by the dynamic-provider process. Capturing a zod schema, an
// SSH client or a class instance by value breaks that serialization, and local
// modules would be copied whole into every resource's state. So the object we hand
// to Pulumi is a thin shim: each method only `require()`s the real implementation
// at call time. The provider process then loads each implementation module once,
// through Node's module cache, so every resource shares one SSH pool.
import * as path from "path";
import type * as pulumi from "@pulumi/pulumi";

export interface ImplementationRef {
    /** Absolute path of the module that exports the implementation. */
    absolutePath: string;
    /** The same path relative to the project directory: a fallback when the checkout moved since the state was written. */
    relativePath: string;
    /** The name of the export holding the implementation object. */
    exportName: string;
}

export function implementationRef(moduleFile: string, exportName: string): ImplementationRef {
    return { absolutePath: moduleFile, relativePath: path.relative(process.cwd(), moduleFile), exportName };
}

/**
 * One shim per implementation: the SDK caches a provider's serialization by object,
 * so sharing it saves ~15 ms of program time per resource (1.2 s at 80 resources).
 */
const shims = new Map<string, pulumi.dynamic.ResourceProvider>();

export function serializableProvider(ref: ImplementationRef): pulumi.dynamic.ResourceProvider {
    const key = `${ref.absolutePath}#${ref.exportName}`;
    let shim = shims.get(key);
    if (!shim) {
        shim = buildShim(ref);
        shims.set(key, shim);
    }
    return shim;
}

/** Builds the object Pulumi serializes. Everything it captures must be a plain string. */
function buildShim(ref: ImplementationRef): pulumi.dynamic.ResourceProvider {
    const absolutePath = ref.absolutePath;
    const relativePath = ref.relativePath;
    const exportName = ref.exportName;
    function load(): any {
        // The provider process is plain Node: TypeScript sources need a loader, registered
        // once. tsx (esbuild) loads providers/ in about 0.2 s where ts-node takes 0.6 s,
        // and every pulumi command starts this process. Registered after @pulumi/pulumi
        // has loaded, so it does not slow that down.
        if (/\.ts$/.test(absolutePath) && !require.extensions[".ts"]) {
            require("tsx/cjs/api").register();
        }
        const candidates = [absolutePath, require("path").resolve(relativePath)];
        for (const candidate of candidates) {
            if (require("fs").existsSync(candidate)) return require(candidate)[exportName];
        }
        throw new Error(`the provider implementation ${relativePath} was not found (looked at ${candidates.join(", ")}): run pulumi from the project directory`);
    }
    return {
        check: (olds: any, news: any) => load().check(olds, news),
        diff: (id: string, olds: any, news: any) => load().diff(id, olds, news),
        create: (inputs: any) => load().create(inputs),
        read: (id: string, props: any) => load().read(id, props),
        update: (id: string, olds: any, news: any) => load().update(id, olds, news),
        delete: (id: string, props: any) => load().delete(id, props),
    };
}
