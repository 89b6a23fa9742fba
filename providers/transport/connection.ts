// The SSH connection every resource uses, and the pure host-key check.
// Unlike pulumi-command and ssh2, which accept any host key when none is given,
// a pinned host key is required here.
import type * as Ssh2 from "ssh2";
import { z } from "zod";
import { blobKeyType, sha256Fingerprint } from "../formats/authorized-keys/key";
import { Hostname, Port, UnixUser, shown } from "../formats/rules";

/** Defaults that pulumi-command also uses for dialing; commands get their own bound. */
export const CONNECTION_DEFAULTS = {
    dialAttempts: 6,
    dialTimeoutSec: 15,
    commandTimeoutSec: 120,
} as const;

export type HostKeyPin =
    | { kind: "key"; type: string; blob: Buffer }
    | { kind: "fingerprint"; sha256: string };

const FINGERPRINT = /^SHA256:([A-Za-z0-9+/]{43})=?$/;
const KEY_LINE = /^([a-z0-9@.-]+) ([A-Za-z0-9+/]+={0,3})(?: .*)?$/;

/** Parses a pin: an OpenSSH public key line (`ssh-ed25519 AAAA…`) or `SHA256:<43 base64 chars>`. */
export function parseHostKeyPin(pin: string): HostKeyPin | string {
    const text = pin.trim();
    const fp = FINGERPRINT.exec(text);
    if (fp) {
        // 43 base64 characters carry 258 bits; a SHA-256 digest fills 256, so the last
        // character's two low bits are always zero. Anything else is a mistyped pin.
        const digest = Buffer.from(`${fp[1]}=`, "base64");
        if (digest.length !== 32 || digest.toString("base64").replace(/=+$/, "") !== fp[1]) {
            return "its fingerprint is not a SHA-256 digest (the last character is not one a digest can end with): copy it again from ssh-keygen -lf";
        }
        return { kind: "fingerprint", sha256: fp[1] };
    }
    const line = KEY_LINE.exec(text);
    if (line) {
        const blob = Buffer.from(line[2], "base64");
        const embedded = blobKeyType(blob);
        if (embedded === undefined) return "its base64 part is not an SSH public key";
        if (embedded !== line[1]) return `it says ${line[1]} but its key data is ${shown(embedded)}`;
        return { kind: "key", type: line[1], blob };
    }
    return "it must be the server's public host key (as in known_hosts or ssh-keyscan: 'ssh-ed25519 AAAA…') or its fingerprint ('SHA256:' and 43 base64 characters, as ssh-keygen -lf prints)";
}

/** ssh2 algorithm names that make the server present a host key of the pinned type. */
export function hostKeyAlgorithmsFor(pin: HostKeyPin): string[] | undefined {
    if (pin.kind !== "key") return undefined;
    if (pin.type === "ssh-rsa") return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
    return [pin.type];
}

export type HostKeyVerdict = { ok: true } | { ok: false; seenType: string; seenFingerprint: string; pinnedFingerprint: string };

export function verifyHostKey(pin: HostKeyPin, presented: Buffer): HostKeyVerdict {
    const seenFingerprint = sha256Fingerprint(presented);
    if (pin.kind === "key" ? pin.blob.equals(presented) : seenFingerprint === `SHA256:${pin.sha256}`) return { ok: true };
    return {
        ok: false,
        seenType: blobKeyType(presented) ?? "unknown",
        seenFingerprint,
        pinnedFingerprint: pin.kind === "key" ? sha256Fingerprint(pin.blob) : `SHA256:${pin.sha256}`,
    };
}

export const HostKey = z.string().superRefine((value, ctx) => {
    const parsed = parseHostKeyPin(value);
    if (typeof parsed === "string") {
        ctx.addIssue({ code: "custom", message: `is not a valid host key pin: ${parsed}; got ${shown(value)}` });
    }
});

/** A private key ssh2 can load. The message never quotes the value: it is secret. */
const PrivateKey = z.string().superRefine((value, ctx) => {
    // ssh2 is loaded here, on first use, not with the module: a program declares
    // resources without it, and each module it loads adds to every preview's start-up.
    const parsed = (require("ssh2") as typeof Ssh2).utils.parseKey(value);
    const problem = parsed instanceof Error ? parsed.message
        : (Array.isArray(parsed) ? parsed[0] : parsed)?.isPrivateKey() ? undefined : "it holds no private key";
    if (problem) {
        ctx.addIssue({ code: "custom", message: `is not an unencrypted private key in OpenSSH or PEM format (${problem.replace(/[^\x20-\x7e]/g, "?").slice(0, 120)}); pass the contents of the key file, e.g. pulumi config set --secret KEY < ~/.ssh/id_ed25519` });
    }
});

/** A sudo password: one line. The message never quotes the value: it is secret. */
const SudoPassword = z.string().superRefine((value, ctx) => {
    if (value.length === 0 || value.length > 1024 || /[\u0000\n\r]/.test(value)) {
        ctx.addIssue({ code: "custom", message: `must be one line of 1 to 1024 characters, without NUL, CR or LF (the value is secret and not shown; it has ${value.length} characters)` });
    }
});

const AbsoluteFile = z.string().regex(/^\/[^\u0000-\u001f]*$/, "must be an absolute path to a file on the machine running Pulumi");

/**
 * Builds the connection schema with a resource's own default port and user: the
 * appliance listens on 59022 for `mt4adm`, a backup server on 22.
 */
export function connectionShape<User extends z.ZodType<string, any>>(defaults: { port: number }, user: User) {
    return {
        /** Host name or IPv4 address of the SSH server. */
        host: Hostname,
        /** The SSH port. @default 59022 on the appliance, 22 on a backup server */
        port: Port.default(defaults.port),
        /** Login user. @default `mt4adm` on the appliance; required elsewhere. */
        user,
        /** Private key in OpenSSH or PEM format, unencrypted. Secret: pass it with `pulumi config set --secret` (`cfg.requireSecret`); it stays encrypted in state. */
        privateKey: PrivateKey.optional(),
        /** Path to a private key file on the machine running Pulumi; the key itself stays out of state. */
        privateKeyPath: AbsoluteFile.optional(),
        /** Path of an ssh-agent socket (usually $SSH_AUTH_SOCK). Give exactly one of privateKey, privateKeyPath and agentSocket. */
        agentSocket: AbsoluteFile.optional(),
        /** Required pin: the server's public host key line (`ssh-ed25519 AAAA…`, as ssh-keyscan prints it), or its `SHA256:` fingerprint. A mismatch refuses the connection and names the fingerprint that was seen. */
        hostKey: HostKey,
        /** How many times a failed dial is tried: on network errors only, never on authentication or host-key errors; each retry shows a progress line. @default 6 */
        dialAttempts: z.number().int().min(1).max(20).default(CONNECTION_DEFAULTS.dialAttempts),
        /** Seconds allowed for one dial, handshake and authentication included. @default 15 */
        dialTimeoutSec: z.number().int().min(1).max(300).default(CONNECTION_DEFAULTS.dialTimeoutSec),
        /** Seconds allowed for one remote command, so a hung share cannot hang the run. @default 120 */
        commandTimeoutSec: z.number().int().min(1).max(7200).default(CONNECTION_DEFAULTS.commandTimeoutSec),
        /**
         * The login user's sudo password, for a host where sudo asks for one (a senhasegura
         * appliance does, as the vendor ships it). Secret: sent on stdin to `sudo -S`, never on
         * argv or in the environment. Unset: sudo runs with `-n`, which fails at once, naming
         * this key, where a password is needed.
         */
        sudoPassword: SudoPassword.optional(),
    };
}

/** The cross-field rule of every connection: exactly one way to authenticate. */
export function oneKeySource(c: { privateKey?: string; privateKeyPath?: string; agentSocket?: string }, ctx: z.RefinementCtx): void {
    const methods = [c.privateKey, c.privateKeyPath, c.agentSocket].filter((m) => m !== undefined).length;
    if (methods !== 1) {
        ctx.addIssue({
            code: "custom",
            path: ["privateKey"],
            message: `give exactly one of privateKey (secret), privateKeyPath or agentSocket, but ${methods} were provided`,
        });
    }
}

export function connectionSchema<User extends z.ZodType<string, any>>(defaults: { port: number }, user: User) {
    return z.strictObject(connectionShape(defaults, user)).superRefine(oneKeySource);
}

/** How senhasegura's documentation reaches an appliance: SSH on 59022 as the admin mt4adm. */
export const APPLIANCE_LOGIN = { port: 59022, user: "mt4adm" } as const;

/** The ports the other hosts listen on unless told otherwise: a backup server's sshd, a Samba share, an NFS export. */
export const DEFAULT_PORTS = { ssh: 22, cifs: 445, nfs: 2049 } as const;

export const ServerConnection = connectionSchema({ port: DEFAULT_PORTS.ssh }, UnixUser);
/** An SSH connection, as the transport sees it; the appliance's adds its driver and paths (providers/appliance/connection.ts). */
export type Connection = z.output<typeof ServerConnection>;

/** The id of an object on a host, `<host>:<port>/<path>`: the host comes first, so a report can name it from the id alone. */
export function objectId(c: Pick<Connection, "host" | "port">, ...path: string[]): string {
    return [`${c.host}:${c.port}`, ...path].join("/");
}

/** "user@host:port", for messages. */
export function describeTarget(c: Pick<Connection, "host" | "port" | "user">): string {
    return `${c.user}@${c.host}:${c.port}`;
}
