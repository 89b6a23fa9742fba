// The backup-compliance rules, as pure functions of one resource's inputs, so
// tests/unit/drift-policy-rules.test.ts checks them without the engine.
// policy/index.ts hands each to @pulumi/policy. A message names the resource
// and the field, and never holds a secret value.

/** The type tokens of this project's dynamic resources. */
export const TYPE_PREFIX = "pulumi-nodejs:dynamic/senhasegura:";
export const TYPES = {
    AuthorizedKey: `${TYPE_PREFIX}AuthorizedKey`,
    BackupPolicy: `${TYPE_PREFIX}BackupPolicy`,
    RemotePartition: `${TYPE_PREFIX}RemotePartition`,
    BackupVerification: `${TYPE_PREFIX}BackupVerification`,
} as const;
/** @pulumi/command's remote.Command, which connects unpinned unless given a hostKey (pulumi-command#755). */
export const REMOTE_COMMAND_TYPE = "command:remote:Command";

export interface ResourceInput {
    type: string;
    name: string;
    /** The resource's inputs as the engine checked them (secrets already unwrapped by @pulumi/policy). */
    props: Record<string, any>;
    /** Whether the input at a dotted path arrived as a secret. */
    isSecret(path: string): boolean;
}

export interface Rule {
    name: string;
    description: string;
    /** The violations, each a full sentence; empty when the resource complies. */
    check(r: ResourceInput): string[];
}

const shortType = (type: string) => type.slice(type.lastIndexOf(":") + 1);
const subject = (r: ResourceInput) => `${shortType(r.type)} ${r.name}`;

/** An OpenSSH public key line (type and base64 blob) or a SHA256 fingerprint, as providers/transport/connection.ts accepts. */
const HOST_KEY_LINE = /^[a-z0-9@.-]+ [A-Za-z0-9+/]+={0,3}( .*)?$/;
const HOST_KEY_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

export function isHostKeyPin(value: unknown): boolean {
    return typeof value === "string" && (HOST_KEY_LINE.test(value.trim()) || HOST_KEY_FINGERPRINT.test(value.trim()));
}

/** Splits authorized_keys options at commas outside double quotes. */
export function splitOptions(text: string): string[] {
    const out: string[] = [];
    let current = "";
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (c === "\\" && quoted && text[i + 1] === "\"") { current += c + text[++i]; continue; }
        if (c === "\"") quoted = !quoted;
        if (c === "," && !quoted) { out.push(current.trim()); current = ""; continue; }
        current += c;
    }
    if (current.trim()) out.push(current.trim());
    return out.filter((o) => o.length > 0);
}

/** What an AuthorizedKey's options allow: the effective options text when the provider computed it, else the declared form. */
export function keyRestriction(props: Record<string, any>): { restrict: boolean; command: boolean; shown: string } {
    if (typeof props.effectiveOptions === "string") {
        const options = splitOptions(props.effectiveOptions);
        return {
            restrict: options.some((o) => o.toLowerCase() === "restrict"),
            command: options.some((o) => /^command="(?:[^"\\]|\\.)+"$/i.test(o)),
            shown: props.effectiveOptions === "" ? "none" : props.effectiveOptions,
        };
    }
    if (props.unrestricted === true) return { restrict: false, command: false, shown: "none (unrestricted: true)" };
    if (typeof props.restrictTo === "string" && props.restrictTo !== "") {
        return { restrict: true, command: true, shown: `restrictTo ${props.restrictTo}` };
    }
    const o = props.options;
    if (o && typeof o === "object") {
        const fields = Object.keys(o).filter((k) => o[k] !== undefined && o[k] !== false).sort();
        return { restrict: o.restrict === true, command: typeof o.command === "string" && o.command.trim() !== "", shown: `options {${fields.join(", ")}}` };
    }
    return { restrict: false, command: false, shown: "none" };
}

/**
 * A remote.Command's connection and its proxy must each carry a host key line:
 * pulumi-command takes no fingerprint, and without a key it accepts any host.
 */
function remoteCommandPins(r: ResourceInput): string[] {
    const out: string[] = [];
    const connection = r.props.connection;
    const hops: Array<[string, any]> = [["connection", connection]];
    if (connection && typeof connection === "object" && connection.proxy) hops.push(["connection.proxy", connection.proxy]);
    for (const [field, c] of hops) {
        if (!c || typeof c !== "object") continue;
        const where = typeof c.host === "string" ? ` of ${c.host}:${c.port ?? 22}` : "";
        if (typeof c.hostKey !== "string" || c.hostKey === "") {
            out.push(`${subject(r)}: ${field}.hostKey is not set, so pulumi-command accepts any SSH host key${where}. Set it to the server's host key line (ssh-keyscan); with only a SHA256 fingerprint, ApplianceHostKey.keyLine gives the line checked against it.`);
        } else if (!HOST_KEY_LINE.test(c.hostKey.trim())) {
            out.push(`${subject(r)}: ${field}.hostKey is not a host key line ('<type> <base64>'), which is the only pin pulumi-command takes, so the SSH host key${where} is not pinned.`);
        }
    }
    return out;
}

export const RULES: readonly Rule[] = [
    {
        name: "secrets-backup-on",
        description: "The secrets backup (\"break the glass\") must be on.",
        check(r) {
            if (r.type !== TYPES.BackupPolicy || r.props.secrets === true) return [];
            return [`${subject(r)}: the secrets backup ("break the glass") is off (secrets is ${r.props.secrets ?? "not set"}). Set secrets: true with a masterPassword kept as a secret (pulumi config set --secret masterPassword …).`];
        },
    },
    {
        name: "video-backup-on",
        description: "The video backup of proxy sessions must be on.",
        check(r) {
            if (r.type !== TYPES.BackupPolicy || r.props.video === true) return [];
            return [`${subject(r)}: the video backup of proxy sessions is off (video is ${r.props.video ?? "not set"}). Set video: true.`];
        },
    },
    {
        name: "host-keys-pinned",
        description: "Every SSH connection must pin the server's host key.",
        check(r) {
            if (r.type === REMOTE_COMMAND_TYPE) return remoteCommandPins(r);
            if (!r.type.startsWith(TYPE_PREFIX)) return [];
            const connections: Array<[string, any]> = [["connection", r.props.connection]];
            if (r.props.destination && typeof r.props.destination === "object" && r.props.destination.server) {
                connections.push(["destination.server", r.props.destination.server]);
            }
            const out: string[] = [];
            for (const [field, c] of connections) {
                if (!c || typeof c !== "object") continue;
                const where = typeof c.host === "string" ? ` of ${c.host}${c.port !== undefined ? `:${c.port}` : ""}` : "";
                if (c.hostKey === undefined || c.hostKey === null || c.hostKey === "") {
                    out.push(`${subject(r)}: ${field}.hostKey is not set, so the SSH host key${where} is not pinned. Set it to the server's host key line (ssh-keyscan) or its SHA256 fingerprint.`);
                } else if (!isHostKeyPin(c.hostKey)) {
                    out.push(`${subject(r)}: ${field}.hostKey is neither a host key line nor a SHA256 fingerprint, so the SSH host key${where} is not pinned.`);
                }
            }
            return out;
        },
    },
    {
        name: "appliance-keys-restricted",
        description: "An appliance key on a backup server must be restricted: restrict and a forced command.",
        check(r) {
            if (r.type !== TYPES.AuthorizedKey) return [];
            const k = keyRestriction(r.props);
            if (k.restrict && k.command) return [];
            const missing = [k.restrict ? "" : "restrict", k.command ? "" : "a forced command=\"…\""].filter(Boolean).join(" and ");
            const server = r.props.connection && typeof r.props.connection.host === "string" ? ` on ${r.props.connection.host}:${r.props.connection.port ?? 22}` : "";
            return [`${subject(r)}: the appliance key${server} is not restricted: its options (${k.shown}) lack ${missing}. Use restrictTo: <backup directory>, which writes restrict,command="rrsync -wo -no-lock -absolute <directory>".`];
        },
    },
    {
        name: "cifs-credentials-secret",
        description: "A CIFS password must be a secret, never a plain value in config or code.",
        check(r) {
            const out: string[] = [];
            if (r.type === TYPES.RemotePartition && r.props.password !== undefined && !r.isSecret("password")) {
                out.push(`${subject(r)}: password (the CIFS password${typeof r.props.user === "string" ? ` of ${r.props.user}` : ""}) is a plain value, so it sits unencrypted in config or code. Pass it as a secret: pulumi config set --secret cifsPassword …, or pulumi.secret(…).`);
            }
            if (r.type === TYPES.BackupVerification && r.props.destination && typeof r.props.destination === "object"
                && r.props.destination.password !== undefined && !r.isSecret("destination.password")) {
                out.push(`${subject(r)}: destination.password (the CIFS password) is a plain value, so it sits unencrypted in config or code. Pass it as a secret.`);
            }
            return out;
        },
    },
];
