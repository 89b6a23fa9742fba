// The vendor driver's reads of one appliance, batched into one script so that a
// refresh costs one SSH exec per appliance. Every item is a documented orbit read
// or a standard read-only tool; each item's output is framed by a random boundary
// that no file on the appliance can forge. Pure: the script and its parser.
import { shellJoin } from "../transport/shell";
import type { ResolvedPaths } from "./connection";

export type ReadItem = "version" | "hour" | "rootKey" | "hostname" | "fstab" | "mounts" | "writeTest";

/** Each item's command: what the vendor documents, or a standard read-only tool on a vendor path. */
export function readCommands(paths: ResolvedPaths): Record<ReadItem, readonly string[]> {
    return {
        version: ["orbit", "version"],
        hour: ["orbit", "backup", "time", "--show"],
        rootKey: ["cat", "--", paths.rootPublicKey],
        hostname: ["cat", "--", paths.hostname],
        fstab: ["cat", "--", paths.fstab],
        mounts: ["cat", "--", paths.mountTable],
        writeTest: ["stat", "-c", "%Y %s", "--", `${paths.mountPoint.replace(/\/+$/, "")}/write_test`],
    };
}

export const ALL_ITEMS: readonly ReadItem[] = ["version", "hour", "rootKey", "hostname", "fstab", "mounts", "writeTest"];

/**
 * The script (run as root) that prints each item between `<boundary> begin <item>`
 * and `<boundary> end <item> <exit code>`. stdin is closed for each command, so a
 * command that would prompt fails instead of hanging.
 */
export function readScript(paths: ResolvedPaths, boundary: string, items: readonly ReadItem[] = ALL_ITEMS): string {
    if (!/^[0-9a-f]{16,64}$/.test(boundary)) throw new Error("the read boundary must be 16-64 hex characters");
    const commands = readCommands(paths);
    const lines = [`b=${boundary}`];
    for (const item of items) {
        lines.push(`printf '%s begin %s\\n' "$b" ${item}; ${shellJoin(commands[item])} </dev/null 2>&1; rc=$?; printf '\\n%s end %s %s\\n' "$b" ${item} "$rc"`);
    }
    return lines.join("\n");
}

export interface ItemAnswer {
    /** What the command printed, stdout and stderr together. */
    output: string;
    code: number;
}

/** The answers of readScript's output, or a reason it is not that output. */
export function parseReads(text: string, boundary: string, items: readonly ReadItem[] = ALL_ITEMS): Record<ReadItem, ItemAnswer> | string {
    const out: Partial<Record<ReadItem, ItemAnswer>> = {};
    const begin = new RegExp(`^${boundary} begin (\\w+)$`);
    const end = new RegExp(`^${boundary} end (\\w+) (\\d+)$`);
    let current: { item: string; lines: string[] } | undefined;
    for (const line of text.split("\n")) {
        const b = begin.exec(line);
        if (b) { current = { item: b[1], lines: [] }; continue; }
        const e = end.exec(line);
        if (e && current && e[1] === current.item) {
            // The script prints a newline before the end marker, so the last line is its own.
            out[current.item as ReadItem] = { output: current.lines.join("\n").replace(/\n$/, ""), code: Number(e[2]) };
            current = undefined;
            continue;
        }
        current?.lines.push(line);
    }
    const missing = items.filter((i) => out[i] === undefined);
    if (missing.length > 0) return `the answer for ${missing.join(", ")} is missing (the script stopped early, or its shell is not POSIX)`;
    return out as Record<ReadItem, ItemAnswer>;
}
