// The dev stack's program: a senhasegura appliance and its backups, declared once, or
// a fleet of them (`appliances`) sharing one destination and one policy, which each
// appliance may override.
//
// Every value comes from stack config, read through the zod schema below before
// anything is declared: a wrong or missing key fails the run with the key named, the
// rule, the value (never a secret's) and the fix, and nothing runs on any host.
// Pulumi.yaml declares the keys and docs/configuration.md describes them.
//
// With `labFile` set (the dev stack sets it), lab/stack-config.ts fills the keys the
// stack leaves unset from the local lab. Without it, nothing of the lab is loaded.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { APPLIANCE_LOGIN, ApplianceBackup, type ApplianceBackupArgs, ApplianceConnection, HostKey, rules } from "senhasegura-backup";

// The providers' own value rules, so the config refuses what they would refuse.
const { AbsolutePath, BackupDirectory, CifsDomain, CifsPassword, EmailAddress, Hostname, Hour, MasterPassword, ObjectId, OneLine, Port, UnixUser, shown } = rules;

// ------------------------------------------------------------------ the schema

/** A config value in a message: text quoted (and defused by `shown`), numbers and flags as they are. */
function displayed(value: unknown): string {
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    return shown(typeof value === "string" ? value : JSON.stringify(value));
}

/** Pulumi keeps config as text: a flag is "true" or "false". */
const Flag = z.enum(["true", "false"], {
    error: (issue) => `must be true or false, but ${displayed(issue.input)} was provided`,
}).transform((text) => text === "true");

/** How old the newest backup may get before scripts/drift reports it: a whole number of hours, up to a year. */
const MaxBackupAge = z.number().int().min(1, "must be from 1 to 8760 hours (a year)").max(8760, "must be from 1 to 8760 hours (a year)");

/** Pulumi keeps config as text: a whole number, then checked by `rule`. */
function wholeNumber<Rule extends z.ZodType<number, number>>(rule: Rule) {
    return z.string().regex(/^-?\d+$/, { error: (issue) => `must be a whole number, but ${displayed(issue.input)} was provided` })
        .transform(Number).pipe(rule);
}

/**
 * A secret: its text is checked here, before anything is declared, and kept only as a
 * secret Output. Every rule used with it words its messages without the value.
 */
function secret<Rule extends z.ZodType<string, string>>(rule: Rule) {
    return rule.transform((text) => pulumi.secret(text)).optional().meta({ secret: true });
}

const PrivateKey = ApplianceConnection.shape.privateKey.unwrap();
const PrivateKeyPath = ApplianceConnection.shape.privateKeyPath;

/** `appliance`: how to reach the appliance. */
const ApplianceAccess = z.strictObject({
    host: Hostname,
    port: Port.optional(),
    user: UnixUser.optional(),
    hostKey: HostKey,
    privateKeyPath: PrivateKeyPath,
});

/** A flag inside an object or a list, where Pulumi keeps JSON: true or false. */
const JsonFlag = z.boolean({ error: (issue) => `must be true or false, but ${displayed(issue.input)} was provided` });

/**
 * One item of `appliances`: how to reach it, and where it departs from the shared
 * policy. Unset overrides take the stack's key of the same name.
 */
const FleetAppliance = z.strictObject({
    /** The ApplianceBackup's name, which starts every child's name: changing it replaces the appliance's resources. */
    name: ObjectId,
    host: Hostname,
    port: Port.optional(),
    user: UnixUser.optional(),
    hostKey: HostKey,
    privateKeyPath: PrivateKeyPath,
    privateKey: secret(PrivateKey),
    systemBackup: JsonFlag.optional(),
    videoBackup: JsonFlag.optional(),
    hour: Hour.optional(),
    notifyEmail: JsonFlag.optional(),
    notifySiem: JsonFlag.optional(),
    notifyEmailTo: EmailAddress.optional(),
    verify: JsonFlag.optional(),
    adopted: JsonFlag.optional(),
});

/** `appliances`: a fleet in one stack, at least one appliance. */
const Fleet = z.array(FleetAppliance).min(1, "must list at least one appliance; leave it unset ([]) to declare one appliance with appliance");

/** `backupServer`: the rsync destination, and who may authorize the appliance's key there. */
const BackupServer = z.strictObject({
    host: Hostname,
    port: Port.optional(),
    user: UnixUser,
    hostKey: HostKey,
    privateKeyPath: PrivateKeyPath,
    backupUser: UnixUser,
    path: BackupDirectory,
});

/** `cifs`: a CIFS share, with a user (and cifsPassword) or a credential registered on the appliance. */
const CifsShare = z.strictObject({
    host: Hostname,
    port: Port.optional(),
    path: AbsolutePath,
    user: UnixUser.optional(),
    domain: CifsDomain.optional(),
    credentialId: ObjectId.optional(),
});

/** `nfs`: an NFS export that allows the appliance's address. */
const NfsExport = z.strictObject({
    host: Hostname,
    port: Port.optional(),
    path: AbsolutePath,
});

/** Each key's own rule; the defaults are Pulumi.yaml's too (a unit test holds them equal). */
const StackKeys = z.object({
    /** Read and checked by lab/stack-config.ts, which only the dev stack loads. */
    labFile: z.string().optional(),
    labAppliance: z.string().optional(),
    labAppliances: z.string().optional(),
    name: OneLine(100).optional(),
    appliance: ApplianceAccess.optional(),
    /** A fleet, instead of appliance: each item names its appliance and may override the policy keys below. */
    appliances: Fleet.optional(),
    appliancePrivateKey: secret(PrivateKey),
    destination: z.enum(["rsync", "cifs", "nfs"], {
        error: (issue) => `must be rsync, cifs or nfs, but ${displayed(issue.input)} was provided`,
    }).default("rsync"),
    backupServer: BackupServer.optional(),
    backupServerPrivateKey: secret(PrivateKey),
    cifs: CifsShare.optional(),
    cifsPassword: secret(CifsPassword),
    nfs: NfsExport.optional(),
    partitionId: ObjectId.optional(),
    systemBackup: Flag.default(true),
    videoBackup: Flag.default(true),
    masterPassword: secret(MasterPassword),
    /** Unset: on exactly when masterPassword is set. `true` makes a missing masterPassword an error, which is what scripts/adopt writes for an appliance whose secrets backup is on. */
    secretsBackup: Flag.optional(),
    hour: wholeNumber(Hour).default(5),
    notifyEmail: Flag.default(true),
    notifySiem: Flag.default(true),
    notifyEmailTo: EmailAddress.optional(),
    verify: Flag.default(true),
    /** Read by scripts/drift, not by the program; checked here so a bad value fails every run. */
    maxBackupAgeHours: wholeNumber(MaxBackupAge).default(26),
    /** The appliance was set up by hand: creates take over what the hosts hold (docs/adopt.md). */
    adopted: Flag.default(false),
    /** Unset: follows adopted. */
    retainOnDelete: Flag.optional(),
});

/** What the chosen destination needs besides each key's own rule. */
const StackConfig = StackKeys.superRefine((c, ctx) => {
    const need = (key: string | Array<string | number>, message: string) =>
        ctx.addIssue({ code: "custom", path: typeof key === "string" ? key.split(".") : key, message, input: undefined });
    if (Array.isArray(c.appliances)) {
        if (c.appliance) need("appliances", "is set, and so is appliance: a stack declares one appliance (appliance) or a fleet (appliances). Move the appliance into appliances, or remove one of the two");
        if (c.name !== undefined) need("name", "is set, but the stack declares a fleet (appliances), where each appliance has its own name: remove name (pulumi config rm name)");
        checkFleet(c.appliances, c.appliancePrivateKey !== undefined, need);
    } else if (!c.appliance) {
        need("appliance", "is required: how to reach the appliance, {host, hostKey, port?, user?, privateKeyPath?}, or appliances for a fleet. Set at least appliance.host and appliance.hostKey");
    } else if (!c.appliancePrivateKey && !c.appliance.privateKeyPath) {
        need("appliancePrivateKey", `is required, or appliance.privateKeyPath: the private key of the appliance's user, ${c.appliance.user ?? APPLIANCE_LOGIN.user}`);
    }
    if (c.destination === "rsync") {
        if (!c.backupServer) {
            need("backupServer", "is required for the rsync destination: {host, user, hostKey, backupUser, path, port?, privateKeyPath?}");
        } else if (!c.backupServerPrivateKey && !c.backupServer.privateKeyPath) {
            need("backupServerPrivateKey", "is required, or backupServer.privateKeyPath: the private key of backupServer.user");
        }
    } else if (c.destination === "cifs") {
        if (!c.cifs) {
            need("cifs", "is required for the cifs destination: {host, path, user? | credentialId?, port?, domain?}");
        } else if ((c.cifs.user === undefined) === (c.cifs.credentialId === undefined)) {
            need("cifs.user", `or cifs.credentialId is required, not both: a CIFS share is reached as a user (with cifsPassword) or with a credential registered on the appliance, but ${c.cifs.user === undefined ? "neither" : "both"} were provided`);
        } else if (c.cifs.user !== undefined && !c.cifsPassword) {
            need("cifsPassword", `is required with cifs.user: the password of ${displayed(c.cifs.user)} on the share`);
        }
    } else if (c.destination === "nfs" && !c.nfs) {
        need("nfs", "is required for the nfs destination: {host, path, port?}");
    }
    if (c.secretsBackup === true && !c.masterPassword) {
        need("masterPassword", "is required with secretsBackup true: the secrets backup is encrypted with it, and no appliance gives it back, so it cannot be left out or guessed");
    } else if (c.secretsBackup === false && c.masterPassword) {
        need("secretsBackup", "is false, but masterPassword is set: remove masterPassword (pulumi config rm masterPassword), or set secretsBackup true");
    }
}, { when: () => true }); // also when a key broke its own rule: every problem is told at once

/** What only a fleet needs: its own names and hosts, and a key for each appliance. */
function checkFleet(
    fleet: ReadonlyArray<z.output<typeof FleetAppliance>>, sharedKey: boolean,
    need: (path: Array<string | number>, message: string) => void,
): void {
    const firstWith = new Map<string, number>();
    const firstAt = new Map<string, number>();
    fleet.forEach((a, i) => {
        // Every problem is told at once, so an item may have broken its own rules: judge only what it holds.
        if (typeof a !== "object" || a === null || typeof a.name !== "string" || typeof a.host !== "string") return;
        const earlier = firstWith.get(a.name);
        if (earlier !== undefined) {
            need(["appliances", i, "name"], `is ${displayed(a.name)}, the name of appliances[${earlier}] too: each appliance needs its own name, since it starts the names of its resources`);
        } else {
            firstWith.set(a.name, i);
        }
        const address = `${a.host}:${a.port ?? APPLIANCE_LOGIN.port}`;
        const same = firstAt.get(address);
        if (same !== undefined) {
            need(["appliances", i, "host"], `and port reach ${address}, as appliances[${same}] does: two items for one appliance would fight over its configuration. Remove one of them`);
        } else {
            firstAt.set(address, i);
        }
        if (!sharedKey && !a.privateKey && !a.privateKeyPath) {
            need(["appliances", i, "privateKeyPath"], `is required, or appliances[${i}].privateKey, or appliancePrivateKey for every appliance: the private key of ${a.user ?? APPLIANCE_LOGIN.user} on ${displayed(a.name)}`);
        }
    });
}

type ConfigKey = keyof typeof StackKeys.shape;
/** The keys a stack sets, as Pulumi holds them: objects parsed, everything else text. */
export type GivenConfig = Readonly<Partial<Record<ConfigKey, unknown>>>;
/** What lab/stack-config.ts may fill in, in the form a stack would set it. */
export type LabConfig = Partial<Pick<z.input<typeof StackKeys>, "name" | "appliance" | "appliances" | "backupServer" | "cifs" | "cifsPassword" | "nfs">>;

// ------------------------------------------------------------------ reading it

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
                    message: `must be an object, but ${displayed(cfg.get(key))} was provided`,
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
        message = `has no field ${issue.keys.map(displayed).join(", ")}: its fields are ${fields.join(", ")}`;
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
        message = "is required";
    } else if (issue.code === "invalid_type") {
        const hidden = secretValue || (path.length === 1 && holdsList(key));
        const article = (noun: string) => `${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`;
        const expected = issue.expected === "boolean" ? "true or false" : issue.expected === "array" ? "a list of appliances, [{name, host, hostKey, ...}]" : article(issue.expected);
        message = `must be ${expected}, but ${hidden ? article(typeof issue.input) : displayed(issue.input)} was provided`;
    } else if (!secretValue && !(path.length === 1 && holdsList(key)) && issue.input !== undefined && !/was provided|; got /.test(message)) {
        message += `, but ${displayed(issue.input)} was provided`;
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

function readStackConfig(): z.output<typeof StackConfig> {
    const problems: Problem[] = [];
    const given = givenConfig(problems);
    // Loaded only here, so a stack without labFile never reads, or even loads, the lab wiring.
    const lab: LabConfig = given.labFile === undefined ? {}
        : (require("./lab/stack-config") as typeof import("./lab/stack-config")).labStackConfig(given);
    const parsed = StackConfig.safeParse({ ...lab, ...given }, { reportInput: true });
    if (!parsed.success) problems.push(...parsed.error.issues.map((issue) => problemOf(issue, given, new Set(Object.keys(lab)))));
    if (problems.length > 0 || !parsed.success) throw new pulumi.RunError(describeProblems(problems));
    return parsed.data;
}

// ------------------------------------------------------------------ the program

/** A value the requirements in StackConfig made sure of, which the type system cannot see. */
function checked<T>(value: T | undefined, key: ConfigKey): T {
    if (value === undefined) throw new Error(`${fullKey(key)} passed the config check unset: a requirement in StackConfig is missing`);
    return value;
}

/** A private key: the secret config value when set, else the key file's path (which keeps the key out of state). */
function connectionOf(host: z.output<typeof ApplianceAccess>, privateKey: pulumi.Output<string> | undefined) {
    return {
        host: host.host, port: host.port, user: host.user, hostKey: host.hostKey,
        ...(privateKey ? { privateKey } : { privateKeyPath: host.privateKeyPath }),
    };
}

function destinationOf(c: z.output<typeof StackConfig>): ApplianceBackupArgs["destination"] {
    if (c.destination === "rsync") {
        const server = checked(c.backupServer, "backupServer");
        return {
            type: "rsync", server: { ...connectionOf(server, c.backupServerPrivateKey), user: server.user },
            backupUser: server.backupUser, path: server.path,
        };
    }
    if (c.destination === "cifs") {
        return { type: "cifs", partitionId: c.partitionId ?? "cifs-backup", ...checked(c.cifs, "cifs"), password: c.cifsPassword };
    }
    return { type: "nfs", partitionId: c.partitionId ?? "nfs-backup", ...checked(c.nfs, "nfs") };
}

/** One appliance of the program: the single `appliance`, or an item of `appliances` over the shared keys. */
interface Member {
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

function membersOf(c: z.output<typeof StackConfig>): Member[] {
    const shared = {
        privateKey: c.appliancePrivateKey, system: c.systemBackup, video: c.videoBackup, hour: c.hour,
        notifyEmail: c.notifyEmail, notifySiem: c.notifySiem, notifyEmailTo: c.notifyEmailTo, verify: c.verify, adopted: c.adopted,
    };
    if (!c.appliances) return [{ ...shared, name: c.name ?? "appliance", access: checked(c.appliance, "appliance") }];
    return c.appliances.map((a) => ({
        name: a.name,
        access: { host: a.host, port: a.port, user: a.user, hostKey: a.hostKey, privateKeyPath: a.privateKeyPath },
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

const config = readStackConfig();
const destination = destinationOf(config);
const fleet = membersOf(config).map((m) => ({
    member: m,
    backup: new ApplianceBackup(m.name, {
        appliance: connectionOf(m.access, m.privateKey),
        destination,
        policy: {
            system: m.system,
            video: m.video,
            secrets: config.secretsBackup ?? config.masterPassword !== undefined,
            masterPassword: config.masterPassword,
            hour: m.hour,
            notifications: { email: m.notifyEmail, siem: m.notifySiem, emailTo: m.notifyEmailTo },
        },
        verify: m.verify,
        adopted: m.adopted,
        retainOnDelete: config.retainOnDelete,
    }),
}));

const summaryOf = ({ member: { access }, backup }: typeof fleet[number]) =>
    pulumi.interpolate`appliance ${access.host}:${access.port ?? APPLIANCE_LOGIN.port} backs up to ${backup.destination} daily at ${backup.policy.hour}:00 (system ${backup.policy.system}, secrets ${backup.policy.secrets}, video ${backup.policy.video})`;
// null rather than undefined with verify off: the engine warns on every run about an undefined output.
const verificationOf = ({ backup }: typeof fleet[number]) => backup.lastVerification.apply((v) => v ?? null);
/** One value per appliance, by name. */
const byName = <T>(value: (entry: typeof fleet[number]) => pulumi.Input<T>) =>
    pulumi.all(fleet.map(value)).apply((values) => Object.fromEntries(fleet.map((entry, i) => [entry.member.name, values[i]])));

// One appliance keeps the outputs it always had; a fleet gives one line or value per appliance, by name.
const single = config.appliances === undefined ? fleet[0] : undefined;
export const summary = single ? summaryOf(single) : pulumi.all(fleet.map(summaryOf));
export const destinationUrl = single ? single.backup.destination : byName((entry) => entry.backup.destination);
export const lastVerification = single ? verificationOf(single) : byName(verificationOf);
