// The vendor driver's reads of one appliance, batched into one script so that a
// refresh costs one SSH exec per appliance. Every item is a documented orbit read
// or a standard read-only tool, plus any rsync write test (RsyncTarget's proof)
// that rides along; each item's output is framed by a random boundary that no file
// on the appliance can forge. Pure: the script and its parser.
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

/** A command that rides in the batch besides the read items, under a name of the caller's (a word). */
export interface ExtraRead { name: string; argv: readonly string[] }

/**
 * The script (run as root) that prints each item between `<boundary> begin <item>`
 * and `<boundary> end <item> <exit code>`. stdin is closed for each command, so a
 * command that would prompt fails instead of hanging.
 */
export function readScript(paths: ResolvedPaths, boundary: string, items: readonly ReadItem[] = ALL_ITEMS, extra: readonly ExtraRead[] = []): string {
    if (!/^[0-9a-f]{16,64}$/.test(boundary)) throw new Error("the read boundary must be 16-64 hex characters");
    const commands = readCommands(paths);
    const all: ExtraRead[] = [...items.map((name) => ({ name, argv: commands[name] })), ...extra];
    const names = new Set<string>();
    const lines = [`b=${boundary}`];
    for (const { name, argv } of all) {
        if (!/^\w+$/.test(name) || names.has(name)) throw new Error(`a read's name must be a word used once, not ${JSON.stringify(name)}`);
        names.add(name);
        lines.push(`printf '%s begin %s\\n' "$b" ${name}; ${shellJoin(argv)} </dev/null 2>&1; rc=$?; printf '\\n%s end %s %s\\n' "$b" ${name} "$rc"`);
    }
    return lines.join("\n");
}

export interface ItemAnswer {
    /** What the command printed, stdout and stderr together. */
    output: string;
    code: number;
}

/** The answers of readScript's output, by name, or a reason it is not that output. */
export function parseReads<Name extends string = ReadItem>(text: string, boundary: string, names: readonly Name[]): Record<Name, ItemAnswer> | string {
    const out: Partial<Record<string, ItemAnswer>> = {};
    const begin = new RegExp(`^${boundary} begin (\\w+)$`);
    const end = new RegExp(`^${boundary} end (\\w+) (\\d+)$`);
    let current: { item: string; lines: string[] } | undefined;
    for (const line of text.split("\n")) {
        const b = begin.exec(line);
        if (b) { current = { item: b[1], lines: [] }; continue; }
        const e = end.exec(line);
        if (e && current && e[1] === current.item) {
            // The script prints a newline before the end marker, so the last line is its own.
            out[current.item] = { output: current.lines.join("\n").replace(/\n$/, ""), code: Number(e[2]) };
            current = undefined;
            continue;
        }
        current?.lines.push(line);
    }
    const missing = names.filter((i) => out[i] === undefined);
    if (missing.length > 0) return `the answer for ${missing.join(", ")} is missing (the script stopped early, or its shell is not POSIX)`;
    return out as Record<Name, ItemAnswer>;
}
