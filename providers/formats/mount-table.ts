// fstab(5) and the kernel's mount table (/proc/mounts), which share one line
// format: spec, mount point, type, options, and in fstab two numbers. A real
// appliance's remote partition is read from these, since `orbit partition --show`
// has no documented output. Pure.

export interface MountEntry {
    /** What is mounted: `//host/share/dir` for CIFS, `host:/export` for NFS. */
    spec: string;
    mountPoint: string;
    type: string;
    /** The options in order, `key` or `key=value`. */
    options: string[];
}

/** fstab writes a space as \040, a tab as \011, a newline as \012 and a backslash as \134. */
function unescapeField(field: string): string {
    return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Every entry of an fstab or a mount table; comments, blank and short lines are skipped. */
export function parseMountTable(text: string): MountEntry[] {
    const entries: MountEntry[] = [];
    for (const raw of text.split(/\r?\n/)) {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) continue;
        const fields = line.split(/\s+/);
        if (fields.length < 4) continue;
        entries.push({
            spec: unescapeField(fields[0]), mountPoint: unescapeField(fields[1]), type: fields[2],
            options: fields[3].split(",").map(unescapeField).filter(Boolean),
        });
    }
    return entries;
}

/** A mount point compared as the kernel does: without trailing slashes. */
export function sameMountPoint(a: string, b: string): boolean {
    const norm = (p: string) => (p.length > 1 ? p.replace(/\/+$/, "") : p);
    return norm(a) === norm(b);
}

/** The last entry for a mount point (the one mount(8) and the kernel act on), or undefined. */
export function entryFor(entries: readonly MountEntry[], mountPoint: string): MountEntry | undefined {
    return [...entries].reverse().find((e) => sameMountPoint(e.mountPoint, mountPoint));
}

/** An option's value (`user=bkp` → "bkp"), true for a bare flag, undefined when absent. */
export function optionValue(entry: MountEntry, key: string): string | true | undefined {
    for (const option of entry.options) {
        if (option === key) return true;
        if (option.startsWith(`${key}=`)) return option.slice(key.length + 1);
    }
    return undefined;
}

export interface RemoteShare {
    protocol: "cifs" | "nfs";
    host: string;
    /** `/share[/dir]` for CIFS, the export path for NFS. */
    path: string;
    /** From `port=`, when the entry names one. */
    port?: number;
}

/**
 * The remote end of a CIFS or NFS entry, or a reason it is neither. CIFS specs may
 * use backslashes (`\\host\share`), as mount.cifs accepts them.
 */
export function remoteShare(entry: MountEntry): RemoteShare | string {
    const portOption = optionValue(entry, "port");
    const port = typeof portOption === "string" && /^\d{1,5}$/.test(portOption) ? Number(portOption) : undefined;
    if (entry.type === "cifs" || entry.type === "smb3") {
        const m = /^(?:\/\/|\\\\)([^/\\]+)((?:[/\\][^/\\]+)+)[/\\]?$/.exec(entry.spec);
        if (!m) return `its source ${JSON.stringify(entry.spec)} is not //host/share`;
        return { protocol: "cifs", host: m[1], path: m[2].replace(/\\/g, "/"), port };
    }
    if (entry.type === "nfs" || entry.type === "nfs4") {
        const m = /^(\[[^\]]+\]|[^:]+):(\/.*)$/.exec(entry.spec);
        if (!m) return `its source ${JSON.stringify(entry.spec)} is not host:/path`;
        return { protocol: "nfs", host: m[1].replace(/^\[|\]$/g, ""), path: m[2].length > 1 ? m[2].replace(/\/+$/, "") : m[2], port };
    }
    return `its type is ${JSON.stringify(entry.type)}, not cifs or nfs`;
}
