import { z } from "zod";
/** Defaults that pulumi-command also uses for dialing; commands get their own bound. */
export declare const CONNECTION_DEFAULTS: {
    readonly dialAttempts: 6;
    readonly dialTimeoutSec: 15;
    readonly commandTimeoutSec: 120;
};
export type HostKeyPin = {
    kind: "key";
    type: string;
    blob: Buffer;
} | {
    kind: "fingerprint";
    sha256: string;
};
/** The algorithm name stored at the start of an SSH public-key blob. */
export declare function blobKeyType(blob: Buffer): string | undefined;
export declare function sha256Fingerprint(blob: Buffer): string;
/** Parses a pin: an OpenSSH public key line (`ssh-ed25519 AAAA…`) or `SHA256:<43 base64 chars>`. */
export declare function parseHostKeyPin(pin: string): HostKeyPin | string;
/** ssh2 algorithm names that make the server present a host key of the pinned type. */
export declare function hostKeyAlgorithmsFor(pin: HostKeyPin): string[] | undefined;
export type HostKeyVerdict = {
    ok: true;
} | {
    ok: false;
    seenType: string;
    seenFingerprint: string;
    pinnedFingerprint: string;
};
export declare function verifyHostKey(pin: HostKeyPin, presented: Buffer): HostKeyVerdict;
export declare const HostKey: z.ZodString;
/**
 * Builds the connection schema with a resource's own default port and user: the
 * appliance listens on 59022 for `mt4adm`, a backup server on 22.
 */
export declare function connectionSchema<User extends z.ZodType<string, any>>(defaults: {
    port: number;
}, user: User): z.ZodObject<{
    host: z.ZodString;
    port: z.ZodDefault<z.ZodNumber>;
    user: User;
    privateKey: z.ZodOptional<z.ZodString>;
    privateKeyPath: z.ZodOptional<z.ZodString>;
    agentSocket: z.ZodOptional<z.ZodString>;
    hostKey: z.ZodString;
    dialAttempts: z.ZodDefault<z.ZodNumber>;
    dialTimeoutSec: z.ZodDefault<z.ZodNumber>;
    commandTimeoutSec: z.ZodDefault<z.ZodNumber>;
}, z.core.$strict>;
/** How senhasegura's documentation reaches an appliance: SSH on 59022 as the admin mt4adm. */
export declare const APPLIANCE_LOGIN: {
    readonly port: 59022;
    readonly user: "mt4adm";
};
/** The ports the other hosts listen on unless told otherwise: a backup server's sshd, a Samba share, an NFS export. */
export declare const DEFAULT_PORTS: {
    readonly ssh: 22;
    readonly cifs: 445;
    readonly nfs: 2049;
};
export declare const ApplianceConnection: z.ZodObject<{
    host: z.ZodString;
    port: z.ZodDefault<z.ZodNumber>;
    user: z.ZodDefault<z.ZodString>;
    privateKey: z.ZodOptional<z.ZodString>;
    privateKeyPath: z.ZodOptional<z.ZodString>;
    agentSocket: z.ZodOptional<z.ZodString>;
    hostKey: z.ZodString;
    dialAttempts: z.ZodDefault<z.ZodNumber>;
    dialTimeoutSec: z.ZodDefault<z.ZodNumber>;
    commandTimeoutSec: z.ZodDefault<z.ZodNumber>;
}, z.core.$strict>;
export declare const ServerConnection: z.ZodObject<{
    host: z.ZodString;
    port: z.ZodDefault<z.ZodNumber>;
    user: z.ZodString;
    privateKey: z.ZodOptional<z.ZodString>;
    privateKeyPath: z.ZodOptional<z.ZodString>;
    agentSocket: z.ZodOptional<z.ZodString>;
    hostKey: z.ZodString;
    dialAttempts: z.ZodDefault<z.ZodNumber>;
    dialTimeoutSec: z.ZodDefault<z.ZodNumber>;
    commandTimeoutSec: z.ZodDefault<z.ZodNumber>;
}, z.core.$strict>;
export type Connection = z.output<typeof ApplianceConnection>;
export type ConnectionInput = z.input<typeof ApplianceConnection>;
/** The id of an object on a host, `<host>:<port>/<path>`: the host comes first, so a report can name it from the id alone. */
export declare function objectId(c: Pick<Connection, "host" | "port">, ...path: string[]): string;
/** "user@host:port", for messages. */
export declare function describeTarget(c: Pick<Connection, "host" | "port" | "user">): string;
