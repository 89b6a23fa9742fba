// How ApplianceBackup makes its children's arguments from its own, and its argument
// check, before it creates any child. Pure.
//
// One function builds each child's arguments. The constructor calls it with Inputs,
// the check with known values, so both build the same thing. The rules are the
// children's own zod schemas, not copies: the check parses each child's arguments
// with that child's schema, and renames every issue to the field the user wrote
// (`restrictTo` of the AuthorizedKey is the user's `destination.path`).
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { AuthorizedKeyArgs } from "../providers/resources/authorized-key";
import { BackupPolicyArgs } from "../providers/resources/backup-policy";
import { RemotePartitionArgs } from "../providers/resources/remote-partition";
import { RsyncTargetArgs } from "../providers/resources/rsync-target";
import { MasterKey } from "../providers/formats/rules";
import { DEFAULT_PORTS } from "../providers/transport/connection";
import type { ApplianceBackupArgs } from "./appliance-backup";

/** An rsync destination's fields, as Inputs (the constructor) or as known values (the check). */
interface RsyncFields {
    server?: { host?: unknown; port?: unknown; hostKey?: unknown }; backupUser?: unknown; path?: unknown; host?: unknown; port?: unknown; testOnRefresh?: unknown;
    portInApplianceSshConfig?: unknown; pinServerHostKey?: unknown;
}
/** A CIFS or NFS destination's fields, likewise. */
interface PartitionFields { type?: unknown; partitionId?: unknown; host?: unknown; port?: unknown; path?: unknown; user?: unknown; password?: unknown; domain?: unknown; credentialId?: unknown }
type ServerField<D extends RsyncFields, K extends "host" | "port"> = NonNullable<NonNullable<D["server"]>[K]>;

/** The AuthorizedKey's arguments but its public key, which is the appliance's own, read later: the key may only write into the backup directory. */
export function authorizedKeyArguments<D extends RsyncFields>(d: D) {
    return { connection: d.server as D["server"], targetUser: d.backupUser as D["backupUser"], restrictTo: d.path as D["path"] };
}

/** The RsyncTarget's arguments: the appliance reaches the server at destination.host and .port, else where we do. */
export function rsyncTargetArguments<A, D extends RsyncFields>(appliance: A, d: D) {
    return {
        connection: appliance,
        user: d.backupUser as D["backupUser"],
        host: (d.host ?? d.server?.host) as NonNullable<D["host"]> | ServerField<D, "host">,
        port: (d.port ?? d.server?.port ?? DEFAULT_PORTS.ssh) as NonNullable<D["port"]> | ServerField<D, "port"> | number,
        path: d.path as D["path"],
        testOnRefresh: d.testOnRefresh as D["testOnRefresh"],
        // The server's pin, as the appliance's own ssh must see it too (a vendor appliance pins it in root's known_hosts).
        serverHostKey: d.server?.hostKey as NonNullable<D["server"]>["hostKey"],
        portInApplianceSshConfig: d.portInApplianceSshConfig as D["portInApplianceSshConfig"],
        pinServerHostKey: d.pinServerHostKey as D["pinServerHostKey"],
    };
}

/** The RemotePartition's arguments: the destination's type is its protocol. */
export function remotePartitionArguments<A, D extends PartitionFields>(appliance: A, d: D) {
    return {
        connection: appliance, partitionId: d.partitionId as D["partitionId"], protocol: d.type as D["type"], host: d.host as D["host"], port: d.port as D["port"],
        path: d.path as D["path"], user: d.user as D["user"], password: d.password as D["password"], domain: d.domain as D["domain"], credentialId: d.credentialId as D["credentialId"],
    };
}

/** The BackupPolicy's arguments: the user's policy, on the appliance, sending to the destination the component made. */
export function backupPolicyArguments<A, P extends object, T>(appliance: A, policy: P | undefined, destination: T) {
    return { ...((policy ?? {}) as P), connection: appliance, destination };
}

/** The component's arguments once every Input is known. */
export type ResolvedApplianceBackupArgs = pulumi.Unwrap<ApplianceBackupArgs>;

export interface ArgumentIssue {
    /** The component's field, as the user wrote it: `destination.path`, `policy.hour`. */
    field: string;
    message: string;
}

/** The component's own options, and the fields each destination type takes. */
const ComponentOptions = z.strictObject({
    appliance: z.unknown(),
    destination: z.unknown(),
    policy: z.unknown().optional(),
    verify: z.boolean().optional(),
    masterKey: MasterKey.optional(),
    backupTimeoutSec: z.number().int().min(10).max(86_400).optional(),
    adopted: z.boolean().optional(),
    retainOnDelete: z.boolean().optional(),
});
const DESTINATION_FIELDS = {
    rsync: ["type", "server", "backupUser", "path", "host", "port", "testOnRefresh", "portInApplianceSshConfig", "pinServerHostKey"],
    cifs: ["type", "partitionId", "host", "port", "path", "user", "password", "domain", "credentialId"],
    nfs: ["type", "partitionId", "host", "port", "path", "user", "password", "domain", "credentialId"],
} as const;

/** A child's arguments, and where each of its fields came from in the component's. */
interface ChildCheck {
    schema: z.ZodType;
    args: Record<string, unknown>;
    /** child field -> component field; issues on fields not listed are the component's own doing, and dropped. */
    fields: Record<string, string>;
    /** Where any other field of the child comes from: the user wrote it under this prefix. */
    otherFieldsUnder?: string;
}

function childChecks(a: ResolvedApplianceBackupArgs): ChildCheck[] {
    const d = a.destination as Record<string, any>;
    const checks: ChildCheck[] = [];
    if (d.type === "rsync") {
        checks.push({
            // The public key is the appliance's own, read later; restrictTo is the backup directory.
            schema: AuthorizedKeyArgs,
            args: authorizedKeyArguments(d),
            fields: { connection: "destination.server", targetUser: "destination.backupUser", restrictTo: "destination.path" },
        }, {
            schema: RsyncTargetArgs,
            args: rsyncTargetArguments(a.appliance, d),
            fields: {
                connection: "appliance", user: "destination.backupUser", path: "destination.path", testOnRefresh: "destination.testOnRefresh",
                serverHostKey: "destination.server.hostKey", portInApplianceSshConfig: "destination.portInApplianceSshConfig", pinServerHostKey: "destination.pinServerHostKey",
                host: d.host === undefined ? "destination.server.host" : "destination.host",
                port: d.port === undefined ? "destination.server.port" : "destination.port",
            },
        });
    } else {
        checks.push({
            schema: RemotePartitionArgs,
            args: remotePartitionArguments(a.appliance, d),
            fields: {
                connection: "appliance", protocol: "destination.type", partitionId: "destination.partitionId", host: "destination.host",
                port: "destination.port", path: "destination.path", user: "destination.user", password: "destination.password",
                domain: "destination.domain", credentialId: "destination.credentialId",
            },
        });
    }
    checks.push({
        schema: BackupPolicyArgs,
        args: backupPolicyArguments(a.appliance, a.policy as Record<string, unknown> | undefined, d.type === "rsync" ? { type: "rsync" } : { type: "partition", partitionId: "checked-above" }),
        // destination is the component's doing; every other policy field is the user's.
        fields: { connection: "appliance", destination: "" },
        otherFieldsUnder: "policy",
    });
    return checks;
}

function renamed(issue: z.core.$ZodIssue, check: ChildCheck): ArgumentIssue | undefined {
    const [head, ...rest] = issue.path.map(String);
    if (head === undefined) return undefined;
    const base = head in check.fields ? check.fields[head] : check.otherFieldsUnder === undefined ? "" : `${check.otherFieldsUnder}.${head}`;
    if (base === "") return undefined;
    return { field: [base, ...rest].join("."), message: issue.message };
}

/** Every problem with the arguments, each named by the user's field; empty when they are valid. */
export function applianceBackupIssues(a: ResolvedApplianceBackupArgs): ArgumentIssue[] {
    const issues: ArgumentIssue[] = [];
    const options = ComponentOptions.safeParse(a);
    if (!options.success) issues.push(...options.error.issues.map((i) => ({ field: i.path.map(String).join(".") || "(arguments)", message: i.message })));
    const d = a.destination as Record<string, unknown> | undefined;
    const type = d?.type;
    if (!d || typeof d !== "object" || (type !== "rsync" && type !== "cifs" && type !== "nfs")) {
        issues.push({ field: "destination.type", message: `must be "rsync", "cifs" or "nfs", but ${JSON.stringify(type)} was provided` });
        return issues;
    }
    const allowed: readonly string[] = DESTINATION_FIELDS[type];
    for (const key of Object.keys(d)) {
        if (d[key] !== undefined && !allowed.includes(key)) {
            issues.push({ field: `destination.${key}`, message: `is not a field of a ${type} destination (it takes ${allowed.join(", ")})` });
        }
    }
    if (a.appliance === undefined || a.appliance === null) {
        issues.push({ field: "appliance", message: "is required: how to reach the appliance ({host, hostKey, privateKey | privateKeyPath | agentSocket})" });
        return issues;
    }
    for (const check of childChecks(a)) {
        const parsed = check.schema.safeParse(check.args);
        if (parsed.success) continue;
        for (const issue of parsed.error.issues) {
            // An unknown key is reported at its object, with the key's name aside: name the key itself.
            const located = issue.code === "unrecognized_keys"
                ? issue.keys.map((key) => ({ ...issue, path: [...issue.path, key], message: "is not a known field (misspelt?)" }))
                : [issue];
            for (const one of located) {
                const named = renamed(one, check);
                if (named) issues.push(named);
            }
        }
    }
    // The appliance's connection is every child's: say each of its problems once.
    const seen = new Set<string>();
    return issues.filter((i) => {
        const key = `${i.field}\u0000${i.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
    });
}

/**
 * The error the component's argument check fails with. It reaches the engine through
 * every child's inputs, and the runtime prefixes `error serializing property "…"` to
 * the same error object at each level of each child (seven children: a chain of
 * prefixes). The message already names the user's fields, so it ignores those
 * rewrites; the stack is hidden, as the runtime would otherwise print the component
 * object.
 */
export class InvalidArgumentsError extends pulumi.ResourceError {
    constructor(message: string, component: pulumi.Resource) {
        super(message, component, true);
        Object.defineProperty(this, "message", { get: () => message, set: () => undefined, enumerable: false });
        // The stack is never shown, but the runtime still inspects the error. With its
        // source-map-support on, Node 20.20's util.inspect(err, { colors: true }) of a
        // stack through node_modules ran 25 s and took 3.6 GB before failing. A stack
        // without frames costs nothing.
        this.stack = `${this.name}: ${message}`;
    }
}

/** One message for all of them, as the engine shows it: names the component and each field. Never quotes a secret. */
export function describeIssues(component: string, issues: readonly ArgumentIssue[]): string {
    return `ApplianceBackup ${component} has ${issues.length === 1 ? "an invalid argument" : `${issues.length} invalid arguments`}; nothing was created and nothing ran on any host:\n`
        + issues.map((i) => `  - ${i.field}: ${i.message}`).join("\n");
}
