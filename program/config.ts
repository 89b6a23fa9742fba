// Reading the dev stack's config: every key as the engine holds it, filled from the
// lab when labFile is set, checked against the schema (config-schema.ts) before
// anything is declared, and turned into the ApplianceBackup arguments of each
// appliance. A wrong or missing key fails the run with the key named, the rule, the
// value (never a secret's) and the fix, and nothing runs on any host.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { type ApplianceBackupArgs, rules } from "senhasegura-backup";
import { type ApplianceAccess, type ConfigKey, type GivenConfig, type LabConfig, StackConfig, StackKeys } from "./config-schema";

const cfg = new pulumi.Config();
const KEYS = Object.keys(StackKeys.shape) as ConfigKey[];
const fullKey = (path: string) => `${cfg.name}:${path}`;

interface Problem { key: string; message: string; fix: string }

/** Pulumi holds objects and lists as JSON, read with getObject; everything else as text. */
function holdsObject(schema: z.ZodType): boolean {
    return schema instanceof z.ZodOptional ? holdsObject(schema.unwrap() as z.ZodType) : schema instanceof z.ZodObject || schema instanceof z.ZodArray;
}

const holdsList = (key: ConfigKey) => {
    const schema = StackKeys.shape[key];
    return schema instanceof z.ZodOptional && schema.unwrap() instanceof z.ZodArray;
};

/** The schema at a config path (a key, then fields and list indexes), if there is one. */
function schemaAt(path: ReadonlyArray<PropertyKey>): z.ZodType | undefined {
    let schema: z.ZodType | undefined = StackKeys.shape[path[0] as ConfigKey];
    for (const step of path.slice(1)) {
        while (schema instanceof z.ZodOptional || schema instanceof z.ZodPipe) {
            schema = (schema instanceof z.ZodOptional ? schema.unwrap() : schema.in) as z.ZodType;
        }
        if (schema instanceof z.ZodArray && typeof step === "number") schema = schema.element as z.ZodType;
        else if (schema instanceof z.ZodObject && typeof step === "string") schema = schema.shape[step] as z.ZodType | undefined;
        else return undefined;
    }
    return schema;
}

/** A secret key, or a secret field of a list item (appliances[i].privateKey). */
const isSecret = (path: ReadonlyArray<PropertyKey>) => schemaAt(path)?.meta()?.secret === true;

/** A config path as `pulumi config set --path` takes it: appliances[2].hostKey. */
const configPath = (path: ReadonlyArray<PropertyKey>) =>
    path.map((step, i) => typeof step === "number" ? `[${step}]` : i === 0 ? String(step) : `.${String(step)}`).join("");

/** The closest known key to a misspelt one, if one is close. */
function nearestKey(unknown: string): ConfigKey | undefined {
    const distance = (a: string, b: string) => {
        let row = Array.from({ length: b.length + 1 }, (_, i) => i);
        for (let i = 1; i <= a.length; i++) {
            const next = [i];
            for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
            row = next;
        }
        return row[b.length];
    };
    const [best] = KEYS.map((key) => ({ key, d: distance(unknown.toLowerCase(), key.toLowerCase()) })).sort((x, y) => x.d - y.d);
    return best && best.d <= 3 ? best.key : undefined;
}

/**
 * The keys the stack sets. "" and {} count as unset: they are the defaults Pulumi.yaml
 * gives the optional keys, since Pulumi makes a declared key without a default required.
 */
function givenConfig(problems: Problem[]): GivenConfig {
    const given: Partial<Record<ConfigKey, unknown>> = {};
    for (const key of KEYS) {
        let value: unknown;
        if (holdsObject(StackKeys.shape[key])) {
            try {
                value = cfg.getObject(key);
            } catch {
                problems.push(holdsList(key) ? {
                    // Not shown: an item may hold a private key.
                    key: fullKey(key),
                    message: "must be a list of appliances, [{name, host, hostKey, ...}], but text that is not JSON was provided",
                    fix: `set the items' fields one by one: pulumi config set --path '${key}[0].<field>' <value>`,
                } : {
                    key: fullKey(key),
                    message: `must be an object, but ${rules.shown(cfg.get(key))} was provided`,
                    fix: `set its fields one by one: pulumi config set --path '${key}.<field>' <value>`,
                });
                continue;
            }
        } else {
            value = cfg.get(key);
        }
        const empty = value === "" || (typeof value === "object" && value !== null && Object.keys(value).length === 0);
        if (value !== undefined && !empty) given[key] = value;
    }
    for (const key of Object.keys(pulumi.runtime.allConfig())) {
        if (!key.startsWith(`${cfg.name}:`)) continue;
        const name = key.slice(cfg.name.length + 1);
        if ((KEYS as string[]).includes(name)) continue;
        const near = nearestKey(name);
        problems.push({
            key,
            message: `is not a key of this program${near ? `; did you mean ${near}?` : ""} Its keys are ${KEYS.join(", ")}`,
            fix: `pulumi config rm ${name}${near ? `, then pulumi config set ${near} <value>` : ""}`,
        });
    }
    return given;
}

/** A zod issue as the user meets it: the key, the rule, the value (unless secret) and the fix. */
function problemOf(issue: z.core.$ZodIssue, given: GivenConfig, fromLab: ReadonlySet<string>): Problem {
    const path = issue.path.map((step) => typeof step === "number" ? step : String(step));
    const key = path[0] as ConfigKey;
    const secretValue = isSecret(path);
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
        let holder = schemaAt(path);
        while (holder instanceof z.ZodOptional) holder = holder.unwrap() as z.ZodType;
        const fields = holder instanceof z.ZodObject ? Object.keys(holder.shape) : [];
        message = `has no field ${issue.keys.map((key) => rules.shown(key)).join(", ")}: its fields are ${fields.join(", ")}`;
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
        message = "is required";
    } else if (issue.code === "invalid_type") {
        const hidden = secretValue || (path.length === 1 && holdsList(key));
        const article = (noun: string) => `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;
        const expected = issue.expected === "boolean" ? "true or false" : issue.expected === "array" ? "a list of appliances, [{name, host, hostKey, ...}]" : article(issue.expected);
        message = `must be ${expected}, but ${hidden ? article(typeof issue.input) : rules.shown(issue.input)} was provided`;
    } else if (!secretValue && !(path.length === 1 && holdsList(key)) && issue.input !== undefined && !/was provided|; got /.test(message)) {
        message += `, but ${rules.shown(issue.input)} was provided`;
    }
    const name = configPath(path);
    const set = path.length > 1 ? `pulumi config set${secretValue ? " --secret" : ""} --path '${name}' <value>`
        : secretValue ? `pulumi config set --secret ${name}` : `pulumi config set ${name} <value>`;
    let fix = set;
    if (fromLab.has(key)) {
        fix = `the value comes from the lab (labFile ${given.labFile}): restart it with bash lab/start, or set the key yourself: ${set}`;
    } else if (message === "is required" && given.labFile !== undefined && path.length > 1) {
        // The lab fills a key the stack leaves unset, not the fields of one it sets.
        fix = `${set}; the stack sets ${key}, which replaces the lab's whole ${key}: set its every field, or pulumi config rm ${key} to use the lab's`;
    }
    return { key: fullKey(name), message, fix };
}

function describeProblems(problems: readonly Problem[]): string {
    const count = problems.length === 1 ? "a problem" : `${problems.length} problems`;
    return `the config of stack ${pulumi.getStack()} has ${count}, so nothing was declared and nothing ran on any host:\n`
        + problems.map((p) => `  - ${p.key} ${p.message}.\n    To fix: ${p.fix}`).join("\n")
        + "\ndocs/configuration.md describes every key.";
}

export function readStackConfig(): z.output<typeof StackConfig> {
    const problems: Problem[] = [];
    const given = givenConfig(problems);
    // Loaded only here, so a stack without labFile never reads, or even loads, the lab wiring.
    const lab: LabConfig = given.labFile === undefined ? {}
        : (require("./lab-config") as typeof import("./lab-config")).labStackConfig(given);
    const parsed = StackConfig.safeParse({ ...lab, ...given }, { reportInput: true });
    if (!parsed.success) problems.push(...parsed.error.issues.map((issue) => problemOf(issue, given, new Set(Object.keys(lab)))));
    if (problems.length > 0 || !parsed.success) throw new pulumi.RunError(describeProblems(problems));
    return parsed.data;
}

/** A value the requirements in StackConfig made sure of, which the type system cannot see. */
function checked<T>(value: T | undefined, key: ConfigKey): T {
    if (value === undefined) throw new Error(`${fullKey(key)} passed the config check unset: a requirement in StackConfig is missing`);
    return value;
}

/** A private key: the secret config value when set, else the key file's path (which keeps the key out of state). */
export function connectionOf(host: Omit<z.output<typeof ApplianceAccess>, "driver" | "paths">, privateKey: pulumi.Output<string> | undefined) {
    return {
        host: host.host, port: host.port, user: host.user, hostKey: host.hostKey,
        ...(privateKey ? { privateKey } : { privateKeyPath: host.privateKeyPath }),
    };
}

/** The appliance's connection: its SSH login, the driver and vendor paths when set, and the sudo password. */
export function applianceConnectionOf(m: Member, sudoPassword: pulumi.Output<string> | undefined) {
    return {
        ...connectionOf(m.access, m.privateKey),
        ...(m.access.driver !== undefined ? { driver: m.access.driver } : {}),
        ...(m.access.paths !== undefined ? { paths: m.access.paths } : {}),
        ...(sudoPassword !== undefined ? { sudoPassword } : {}),
    };
}

export function destinationOf(c: z.output<typeof StackConfig>): ApplianceBackupArgs["destination"] {
    if (c.destination === "rsync") {
        const server = checked(c.backupServer, "backupServer");
        return {
            type: "rsync", server: { ...connectionOf(server, c.backupServerPrivateKey), user: server.user },
            backupUser: server.backupUser, path: server.path,
            ...(server.portInApplianceSshConfig !== undefined ? { portInApplianceSshConfig: server.portInApplianceSshConfig } : {}),
        };
    }
    if (c.destination === "cifs") {
        return { type: "cifs", partitionId: c.partitionId ?? "cifs-backup", ...checked(c.cifs, "cifs"), password: c.cifsPassword };
    }
    return { type: "nfs", partitionId: c.partitionId ?? "nfs-backup", ...checked(c.nfs, "nfs") };
}

/** One appliance of the program: the single `appliance`, or an item of `appliances` over the shared keys. */
export interface Member {
    name: string;
    access: z.output<typeof ApplianceAccess>;
    privateKey: pulumi.Output<string> | undefined;
    system: boolean;
    video: boolean;
    hour: number;
    notifyEmail: boolean;
    notifySiem: boolean;
    notifyEmailTo: string | undefined;
    verify: boolean;
    adopted: boolean;
}

export function membersOf(c: z.output<typeof StackConfig>): Member[] {
    const shared = {
        privateKey: c.appliancePrivateKey, system: c.systemBackup, video: c.videoBackup, hour: c.hour,
        notifyEmail: c.notifyEmail, notifySiem: c.notifySiem, notifyEmailTo: c.notifyEmailTo, verify: c.verify, adopted: c.adopted,
    };
    if (!c.appliances) return [{ ...shared, name: c.name ?? "appliance", access: checked(c.appliance, "appliance") }];
    return c.appliances.map((a) => ({
        name: a.name,
        access: { host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKeyPath: a.privateKeyPath, driver: a.driver, paths: a.paths },
        privateKey: a.privateKey ?? (a.privateKeyPath === undefined ? shared.privateKey : undefined),
        system: a.systemBackup ?? shared.system,
        video: a.videoBackup ?? shared.video,
        hour: a.hour ?? shared.hour,
        notifyEmail: a.notifyEmail ?? shared.notifyEmail,
        notifySiem: a.notifySiem ?? shared.notifySiem,
        notifyEmailTo: a.notifyEmailTo ?? shared.notifyEmailTo,
        verify: a.verify ?? shared.verify,
        adopted: a.adopted ?? shared.adopted,
    }));
}

