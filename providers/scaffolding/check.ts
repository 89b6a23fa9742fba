// Shared pieces of every provider's check and diff. Pure: no I/O.
//
// The dynamic-provider host hands each method the engine's property bags as they
// are: the user's raw input at check, and state that an earlier version of a
// provider may have written. What needs types is parsed with a zod schema here,
// never cast.
import { isDeepStrictEqual } from "util";
import { type dynamic, runtime } from "@pulumi/pulumi";
import type { z } from "zod";

/** A property bag's fields, without the keys the dynamic-provider host adds (`__provider`); {} for what is not an object. */
export function fieldsOf(bag: unknown): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (bag !== null && typeof bag === "object" && !Array.isArray(bag)) {
        for (const [k, v] of Object.entries(bag)) if (!k.startsWith("__")) out[k] = v;
    }
    return out;
}

/**
 * Validates news against a strict zod schema and returns the inputs with defaults
 * applied, or failures that name the field and the rule. Unknown values (outputs
 * of resources not created yet, during preview) are not judged until they are
 * known: no inputs come back, and the host passes the news on as they are.
 */
export function checkInputs<S extends z.ZodType>(schema: S, news: unknown): { inputs?: z.output<S>; failures: dynamic.CheckFailure[] } {
    const bag = fieldsOf(news);
    if (containsUnknown(bag)) return { failures: [] };
    const parsed = schema.safeParse(bag);
    if (!parsed.success) {
        return {
            failures: parsed.error.issues.map((issue) => ({
                property: issue.path.length > 0 ? issue.path.map(String).join(".") : "(arguments)",
                reason: issue.message,
            })),
        };
    }
    return { inputs: parsed.data, failures: [] };
}

/** Whether the engine marked a value (or a part of it) as not known until apply. */
function containsUnknown(value: unknown): boolean {
    if (value === runtime.unknownValue) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (value && typeof value === "object") return Object.values(value).some(containsUnknown);
    return false;
}

/**
 * A provider's Outputs, as the engine hands them back: the inputs, and the outputs
 * beyond them optional. State written by an earlier version may lack a later
 * output, and `read` returns the live inputs alone as its `inputs`, which the SDK's
 * ReadResult types as Outputs.
 */
export type StoredState<Inputs, State extends Inputs> = Inputs & Partial<Omit<State, keyof Inputs>>;

/**
 * The state the engine hands `read`. The SDK types it as optional, but the host
 * always sends the state it holds for the resource, so its absence is a bug.
 */
export function requireState<State>(props: State | undefined, id: string): State {
    if (props === undefined) throw new Error(`cannot read ${id}: the engine sent no state for it; report this as a bug`);
    return props;
}

export interface DiffDecision {
    changes: boolean;
    /** Top-level properties whose change alters the resource. */
    changed: string[];
    /** The subset that forces a replacement. */
    replaces: string[];
}

/**
 * Decides a diff from two property bags. `identity` lists the properties that name
 * the object on the host: a change there means another object, so a replace.
 * `identityProjection` narrows a property to the part that is identity: for a
 * connection, host and port name the host, while a new key or host-key pin only
 * changes how we reach it (an update that touches nothing on the host, never a
 * replace or a rerun).
 */
export function decideDiff(olds: unknown, news: unknown, rules: {
    identity: readonly string[];
    identityProjection?: Readonly<Record<string, (value: unknown) => unknown>>;
    /** Properties never compared (outputs that are not inputs). */
    ignore?: readonly string[];
}): DiffDecision {
    const before = fieldsOf(olds);
    const after = fieldsOf(news);
    const ignore = new Set(rules.ignore ?? []);
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    const changed = [...keys].filter((key) => !ignore.has(key) && !isDeepStrictEqual(before[key], after[key])).sort();
    const replaces = changed.filter((key) => {
        if (!rules.identity.includes(key)) return false;
        const project = rules.identityProjection?.[key] ?? ((v: unknown) => v);
        return !isDeepStrictEqual(project(before[key]), project(after[key]));
    });
    return { changes: changed.length > 0, changed, replaces };
}

/** A connection's identity: the host it reaches. */
export function connectionIdentity(connection: unknown): { host: unknown; port: unknown } {
    const { host, port } = fieldsOf(connection);
    return { host, port };
}
