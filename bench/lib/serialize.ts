// What the program pays to serialize `__provider`, outside the engine. @pulumi/pulumi
// caches a serialized provider by object identity (a WeakMap), and providers/dynamic.ts
// hands it one shim object per implementation, so the program runs the closure
// serializer once per resource type. Measured both ways: serializing once per
// resource (what a new shim object per resource cost, before the shim was shared)
// and once per implementation with cache hits after (as now).
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { implementationRef, serializableProvider } from "../../providers/dynamic";

export interface SerializationCost { resources: number; distinctObjectsMs: number; perResourceMs: number; sharedObjectMs: number; bytes: number }

export async function serializationCost(resources: number, repo: string): Promise<SerializationCost> {
    const ref = implementationRef(path.join(repo, "providers", "rsync-target.ts"), "rsyncTargetProvider");
    const serialize = async (p: object) => (await pulumi.runtime.serializeFunction(() => p, { allowSecrets: true })).text;
    await serialize(serializableProvider(ref)); // loads the closure serializer once
    let started = process.hrtime.bigint();
    let bytes = 0;
    for (let i = 0; i < resources; i++) bytes = Buffer.byteLength(await serialize(serializableProvider(ref)));
    const distinctObjectsMs = Number(process.hrtime.bigint() - started) / 1e6;
    // One object: the first serialization, then the WeakMap lookups @pulumi/pulumi does (free).
    const shared = serializableProvider(ref);
    const cache = new WeakMap<object, string>();
    started = process.hrtime.bigint();
    for (let i = 0; i < resources; i++) if (!cache.has(shared)) cache.set(shared, await serialize(shared));
    const sharedObjectMs = Number(process.hrtime.bigint() - started) / 1e6;
    return { resources, distinctObjectsMs: Math.round(distinctObjectsMs), perResourceMs: Math.round((distinctObjectsMs / resources) * 10) / 10, sharedObjectMs: Math.round(sharedObjectMs), bytes };
}
