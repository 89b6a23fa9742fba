// Shared pieces of every provider's check and diff. Pure: no I/O.
import { isDeepStrictEqual } from "util";
import { runtime } from "@pulumi/pulumi";
import type { z } from "zod";

export interface CheckFailure { property: string; reason: string }

/** Keys the dynamic-provider host adds to every property bag. */
function withoutHostKeys(bag: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(bag ?? {})) if (!k.startsWith("__")) out[k] = v;
    return out;
}

/**
 * Validates news against a strict zod schema and returns the inputs with defaults
 * applied, or failures that name the field and the rule. Unknown values (outputs
 * of resources not created yet, during preview) are not judged until they are known.
 */
export function checkInputs<S extends z.ZodType>(schema: S, news: Record<string, unknown>):
    { inputs?: Record<string, unknown>; failures: CheckFailure[] } {
    const bag = withoutHostKeys(news);
    if (containsUnknown(bag)) return { inputs: news, failures: [] };
    const parsed = schema.safeParse(bag);
    if (!parsed.success) {
        return {
            failures: parsed.error.issues.map((issue) => ({
                property: issue.path.length > 0 ? issue.path.map(String).join(".") : "(arguments)",
                reason: issue.message,
            })),
        };
    }
    return { inputs: parsed.data as Record<string, unknown>, failures: [] };
}

/** Whether the engine marked a value (or a part of it) as not known until apply. */
function containsUnknown(value: unknown): boolean {
    if (value === runtime.unknownValue) return true;
    if (Array.isArray(value)) return value.some(containsUnknown);
    if (value && typeof value === "object") return Object.values(value).some(containsUnknown);
    return false;
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
export function decideDiff(olds: Record<string, unknown>, news: Record<string, unknown>, rules: {
    identity: readonly string[];
    identityProjection?: Readonly<Record<string, (value: any) => unknown>>;
    /** Properties never compared (outputs that are not inputs). */
    ignore?: readonly string[];
}): DiffDecision {
    const ignore = new Set(rules.ignore ?? []);
    const keys = new Set([...Object.keys(withoutHostKeys(olds)), ...Object.keys(withoutHostKeys(news))]);
    const changed = [...keys].filter((key) => !ignore.has(key) && !isDeepStrictEqual(olds[key], news[key])).sort();
    const replaces = changed.filter((key) => {
        if (!rules.identity.includes(key)) return false;
        const project = rules.identityProjection?.[key] ?? ((v: unknown) => v);
        return !isDeepStrictEqual(project(olds[key]), project(news[key]));
    });
    return { changes: changed.length > 0, changed, replaces };
}

/** A connection's identity: the host it reaches. */
export const connectionIdentity = (c: { host?: unknown; port?: unknown } | undefined) => ({ host: c?.host, port: c?.port });
