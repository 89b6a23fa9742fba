// How much room a filesystem has, as the three tools that report it print it:
// `df -P -k` (POSIX output, on an appliance or an rsync server), smbclient's `du`
// (a CIFS share) and `nfs-ls -s` (an NFS export). Pure: each parser returns the
// figures or a reason the text is not that tool's answer.

/** A filesystem's size and free room, in bytes. */
export interface DiskSpace {
    totalBytes: number;
    /** What an unprivileged writer may still use (df's Available, smbclient's blocks available). */
    freeBytes: number;
}

/**
 * `df -P -k -- <path>`: a header, then `<filesystem> <1024-blocks> <used> <available> <capacity> <mounted on>`.
 * POSIX fixes the columns and the -k unit, so no locale or width changes them. A
 * filesystem name with a space would shift the columns, so they are read from the right.
 */
export function parseDfPortable(text: string): DiskSpace | string {
    const lines = text.split("\n").map((l) => l.trimEnd()).filter(Boolean);
    if (lines.length < 2 || !/^Filesystem\s+1024-blocks\s+Used\s+Available\s+Capacity\s+Mounted on$/.test(lines[0])) {
        return "it is not `df -P -k` output (its header is not `Filesystem 1024-blocks Used Available Capacity Mounted on`)";
    }
    const m = /\s(\d+)\s+(\d+)\s+(\d+)\s+(\d+|-)%\s+\//.exec(lines[1]);
    if (!m) return "its line of figures is not `<filesystem> <1024-blocks> <used> <available> <capacity>% <mounted on>`";
    return { totalBytes: Number(m[1]) * 1024, freeBytes: Number(m[3]) * 1024 };
}

/** smbclient's `du`: `<N> blocks of size <B>. <A> blocks available`. */
export function parseSmbDu(text: string): DiskSpace | string {
    const m = /(\d+) blocks of size (\d+)\. (\d+) blocks available/.exec(text);
    if (!m) return "it is not smbclient's `du` answer (`N blocks of size B. A blocks available`)";
    const block = Number(m[2]);
    return { totalBytes: Number(m[1]) * block, freeBytes: Number(m[3]) * block };
}

/** `nfs-ls -s`: its last line, `<free> of <total> bytes free.` */
export function parseNfsSummary(text: string): DiskSpace | string {
    const m = /(?:^|\n)(\d+) of (\d+) bytes free\.\s*$/.exec(text);
    if (!m) return "it is not `nfs-ls -s`'s summary (`F of T bytes free.`)";
    return { totalBytes: Number(m[2]), freeBytes: Number(m[1]) };
}

/** Bytes for a person: 1 decimal in the largest binary unit below the value. */
export function formatBytes(bytes: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let value = bytes;
    let i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i++; }
    return i === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[i]}`;
}
