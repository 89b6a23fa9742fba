// Value rules shared by every resource. They mirror docs/appliance-contract.md so
// that a value the appliance would refuse is refused at `check`, during preview,
// before any host is touched.
import { z } from "zod";

const escapedNonAscii = (text: string) => text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

export interface ShownOptions {
    /** About how many characters the value may take. @default 60 */
    maxLength?: number;
    /**
     * Show an object or list as its JSON. Off by default, since an object a user put
     * where text belongs may hold a key or a password: it is named by its type.
     */
    json?: boolean;
}

/**
 * Shows a value in a message, on one line, in at most about `maxLength` characters:
 * text quoted; numbers, flags and null as they are; undefined as "(not set)"; an
 * object by its type, or as its JSON when asked. Every character outside printable
 * ASCII (a control, a bidi override, a look-alike letter) is written as \uXXXX, and in
 * text `"` and `\` are escaped, so no value can forge the rest of the message. The one
 * formatter of values in messages: rules, config, adoption and the CLI all use it.
 */
export function shown(value: unknown, options: ShownOptions = {}): string {
    const maxLength = options.maxLength ?? 60;
    if (value === undefined) return "(not set)";
    if (value === null || typeof value === "number" || typeof value === "boolean") return String(value);
    if (typeof value !== "string") {
        let json: string | undefined;
        try { json = options.json ? JSON.stringify(value) : undefined; } catch { json = undefined; }
        if (json === undefined) return `a value of type ${typeof value}`;
        const text = escapedNonAscii(json);
        return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
    }
    const printable = escapedNonAscii(value.replace(/["\\]/g, (c) => `\\${c}`));
    return printable.length > maxLength ? `"${printable.slice(0, maxLength - 3)}..." (${value.length} characters)` : `"${printable}"`;
}

const CONTROL_OR_NON_ASCII = /[^\x20-\x7e]/;

/** An IPv4 address or an RFC 1123 host name. */
export const Hostname = z.string().superRefine((value, ctx) => {
    const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(value);
    const label = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
    let ok: boolean;
    if (ipv4) ok = ipv4.slice(1).every((octet) => Number(octet) <= 255 && String(Number(octet)) === octet);
    else ok = value.length > 0 && value.length <= 253 && !/^[\d.]+$/.test(value) && value.split(".").every((l) => label.test(l));
    if (!ok) {
        ctx.addIssue({
            code: "custom",
            message: `must be an IPv4 address or a DNS name of letters, digits, '-' and '.', at most 253 characters, but ${shown(value)} was provided`,
        });
    }
});

export const Port = z.number({ error: "must be a whole number from 1 to 65535" })
    .int("must be a whole number from 1 to 65535")
    .min(1, "must be a whole number from 1 to 65535")
    .max(65535, "must be a whole number from 1 to 65535");

/** An absolute POSIX path with a conservative character set: no spaces, quotes, `..` or `//`. */
export const AbsolutePath = z.string().superRefine((value, ctx) => {
    const problems: string[] = [];
    if (!value.startsWith("/")) problems.push("must be absolute (start with '/')");
    if (value.length > 1024) problems.push("must be at most 1024 characters");
    if (!/^[A-Za-z0-9._\/-]*$/.test(value)) problems.push("may only contain letters, digits, '.', '_', '-' and '/'");
    if (value.split("/").some((segment) => segment === ".." || segment === ".")) problems.push("must not contain '.' or '..' segments");
    if (value.includes("//")) problems.push("must not contain '//'");
    if (value.length > 1 && value.endsWith("/")) problems.push("must not end with '/'");
    if (problems.length > 0) {
        ctx.addIssue({ code: "custom", message: `${problems.join("; ")}, but ${shown(value)} was provided` });
    }
});

/** A directory backups are written to: an absolute path, and never '/' itself. */
export const BackupDirectory = AbsolutePath.refine((value) => value !== "/", {
    error: "must not be '/': name the backup directory itself, since a key or target for '/' could write anywhere on the server, but \"/\" was provided",
});

/**
 * An authorized_keys file: named authorized_keys or authorized_keys2, or a per-user
 * file under /etc/ssh/authorized_keys/. Anything else (say /etc/shadow) is refused,
 * since the edit runs with sudo.
 */
export const AuthorizedKeysFile = AbsolutePath.superRefine((value, ctx) => {
    const name = value.slice(value.lastIndexOf("/") + 1);
    const dir = value.slice(0, value.lastIndexOf("/"));
    if (!["authorized_keys", "authorized_keys2"].includes(name) && dir !== "/etc/ssh/authorized_keys") {
        ctx.addIssue({
            code: "custom",
            message: `must be a file named authorized_keys or authorized_keys2, or a file in /etc/ssh/authorized_keys/, but ${shown(value)} was provided`,
        });
    }
});

export const UnixUser = z.string().regex(/^[A-Za-z_][A-Za-z0-9._-]{0,63}$/, {
    error: (issue) => `must start with a letter or '_' and hold only letters, digits, '.', '_' or '-' (at most 64), but ${shown(issue.input)} was provided`,
});

export const ObjectId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
    error: (issue) => `must be 1-63 lowercase letters, digits or '-', starting with a letter or digit, but ${shown(issue.input)} was provided`,
});

export const CifsDomain = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/, {
    error: (issue) => `must be letters, digits, '.' or '-' (at most 64), but ${shown(issue.input)} was provided`,
});

/**
 * A CIFS password, as the appliance accepts it. The value is secret, so messages
 * name the rule and never the value.
 */
export const CifsPassword = z.string().superRefine((value, ctx) => {
    if (value.length < 1 || value.length > 128) {
        ctx.addIssue({ code: "custom", message: `must be 1-128 characters, but one of ${value.length} characters was provided` });
    }
    const forbidden = ["\\", "&", "!"].filter((c) => value.includes(c));
    if (forbidden.length > 0) {
        ctx.addIssue({
            code: "custom",
            message: `must not contain ${forbidden.map((c) => `'${c}'`).join(", ")}: senhasegura refuses \\, & and ! in remote partition passwords. Choose another password`,
        });
    }
    if (CONTROL_OR_NON_ASCII.test(value)) {
        ctx.addIssue({ code: "custom", message: "must be printable ASCII: it contains a control or non-ASCII character" });
    }
});

export const MasterPassword = z.string().superRefine((value, ctx) => {
    if (value.length < 12 || value.length > 128) {
        ctx.addIssue({ code: "custom", message: `must be 12-128 characters, but one of ${value.length} characters was provided` });
    }
    if (CONTROL_OR_NON_ASCII.test(value)) {
        ctx.addIssue({ code: "custom", message: "must be printable ASCII: it contains a control or non-ASCII character" });
    }
});

/**
 * The master key from the master key ceremony, complete: what opens a vendor
 * appliance's AES Crypt backups (UTF-8, so any printable character).
 */
export const MasterKey = z.string().superRefine((value, ctx) => {
    if (value.length < 1 || value.length > 4096) {
        ctx.addIssue({ code: "custom", message: `must be 1-4096 characters, but one of ${value.length} characters was provided` });
    }
    if (/[\u0000-\u001f\u007f]/.test(value)) {
        ctx.addIssue({ code: "custom", message: "must be the complete key on one line: it contains a control character (a key entered as its parts is joined first)" });
    }
});

/** Orbit Web's "Total of backups": how many backup sets are kept (1-365; ASSUMPTION, the lab's range: the vendor gives none). */
export const TotalBackups = z.number({ error: "must be a whole number of backups from 1 to 365" })
    .int("must be a whole number of backups from 1 to 365")
    .min(1, "must be a whole number of backups from 1 to 365")
    .max(365, "must be a whole number of backups from 1 to 365");

export const Hour = z.number({ error: "must be a whole hour from 0 to 23" })
    .int("must be a whole hour from 0 to 23")
    .min(0, "must be a whole hour from 0 to 23")
    .max(23, "must be a whole hour from 0 to 23");

export const EmailAddress = z.string().regex(/^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/, {
    error: (issue) => `must be one e-mail address such as backup-alerts@example.com, but ${shown(issue.input)} was provided`,
});

/** Free text that ends up in a file on a host: one printable ASCII line. */
export const OneLine = (max: number) => z.string().superRefine((value, ctx) => {
    if (value.length > max) ctx.addIssue({ code: "custom", message: `must be at most ${max} characters, but ${value.length} were provided` });
    if (CONTROL_OR_NON_ASCII.test(value)) {
        ctx.addIssue({ code: "custom", message: `must be printable ASCII on one line, but ${shown(value)} was provided` });
    }
});
