// Adoption: the create of a resource whose object someone already set up by hand
// (in the appliance's web UI, or by pasting a key line on the backup server).
//
// `pulumi import` cannot take such an object over: the engine imports by calling
// the provider's Read with an id and no inputs, and the dynamic-provider host finds
// its implementation in the inputs (`__provider`), so it fails with "code must be a
// string, not undefined" (pulumi/pulumi#16175, #3550, #7534, #17698; docs/adopt.md).
// So a resource takes an input instead: with `adopt: true`, create reads the host
// and, when the object is there, records it as the host holds it and writes nothing.
// Where the host differs from the program, the next diff (olds = what was recorded)
// plans an update, which the preview shows and the next `up` applies.
import { isDeepStrictEqual } from "util";
import { z } from "zod";
import { info, warn } from "../transport/progress";
import { shown } from "../formats/rules";

/** The input that asks create to adopt what the host holds. Only `true`: leave it out otherwise. */
export const Adopt = z.literal(true, { error: "may only be true (create adopts what the host holds); leave it out otherwise" }).optional();

/**
 * Never compared by a diff: adopting only decides how a create starts, so turning it
 * on or off later changes nothing on any host.
 */
export const ADOPTION_FIELDS = ["adopt"] as const;

/** A setting from the host or the program (never a secret field: those are only named), for a message. */
const shownValue = (value: unknown): string => shown(value, { maxLength: 160, json: true });

/**
 * Where what the host holds differs from what the program wants, one phrase per
 * top-level field: `hour: 3 on the host, 5 in the program`. The connection is how
 * we reach the host, not something on it, so it is never compared. A secret field
 * is named, never shown. Pure.
 */
export function adoptionDifferences(
    live: Readonly<Record<string, unknown>>,
    desired: Readonly<Record<string, unknown>>,
    options: { secret?: readonly string[]; ignore?: readonly string[] } = {},
): string[] {
    const skip = new Set<string>(["connection", ...ADOPTION_FIELDS, ...(options.ignore ?? [])]);
    const secret = new Set(options.secret ?? []);
    const keys = [...new Set([...Object.keys(live), ...Object.keys(desired)])].filter((k) => !skip.has(k) && !k.startsWith("__")).sort();
    const out: string[] = [];
    for (const key of keys) {
        const [a, b] = [live[key], desired[key]];
        if (isDeepStrictEqual(a, b)) continue;
        if (secret.has(key)) {
            out.push(`${key}: ${a === undefined ? "none" : "one"} on the host, ${b === undefined ? "none" : "one"} in the program (secret)`);
        } else {
            out.push(`${key}: ${shownValue(a)} on the host, ${shownValue(b)} in the program`);
        }
    }
    return out;
}

/** What an adopting create says: kept in the run's diagnostics, so the `up` that adopts tells what the next one will change. */
export function reportAdoption(subject: string, differences: readonly string[]): void {
    if (differences.length === 0) {
        info(`${subject}: adopted as the host holds it; nothing was written`);
        return;
    }
    warn(`${subject}: adopted as the host holds it, and nothing was written. It differs from the program in ${differences.join("; ")}. `
        + "The next `pulumi up` changes the host to match the program; `pulumi preview --refresh --diff` shows the update first (docs/adopt.md)");
}
