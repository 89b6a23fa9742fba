// The dev stack's config keys, as one zod schema: every key index.ts reads, its type,
// its default and its rules, which are the providers' own, so the config refuses
// what they would refuse; a secret comes out as a secret Output. No I/O. Pulumi.yaml declares the keys and
// docs/configuration.md describes them (tests/unit/program/config.test.ts holds the three equal).
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { APPLIANCE_LOGIN, ApplianceConnection, AppliancePaths, HostKey, rules } from "senhasegura-backup";

// The providers' own value rules, so the config refuses what they would refuse.
const { AbsolutePath, BackupDirectory, CifsDomain, CifsPassword, EmailAddress, Hostname, Hour, MasterKey, MasterPassword, ObjectId, OneLine, Port, TotalBackups, UnixUser, shown } = rules;


/** Pulumi keeps config as text: a flag is "true" or "false". */
const Flag = z.enum(["true", "false"], {
    error: (issue) => `must be true or false, but ${shown(issue.input)} was provided`,
}).transform((text) => text === "true");

/** How old the newest backup may get before scripts/drift reports it: a whole number of hours, up to a year. */
const MaxBackupAge = z.number().int().min(1, "must be from 1 to 8760 hours (a year)").max(8760, "must be from 1 to 8760 hours (a year)");

/** How many times the newest backup the destination must have free before scripts/drift reports it. */
const FreeSpaceMultiple = z.number().min(1, "must be a number from 1 to 100").max(100, "must be a number from 1 to 100");

/** Pulumi keeps config as text: a whole number, then checked by `rule`. */
function wholeNumber<Rule extends z.ZodType<number, number>>(rule: Rule) {
    return z.string().regex(/^-?\d+$/, { error: (issue) => `must be a whole number, but ${shown(issue.input)} was provided` })
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
const SudoPassword = ApplianceConnection.shape.sudoPassword.unwrap();
const Driver = ApplianceConnection.shape.driver;

/** `appliance`: how to reach the appliance, which interface it speaks, and where its vendor files are. */
export const ApplianceAccess = z.strictObject({
    host: Hostname,
    port: Port.optional(),
    user: UnixUser.optional(),
    hostKey: HostKey,
    privateKeyPath: PrivateKeyPath,
    driver: Driver,
    paths: AppliancePaths.optional(),
});

/** A flag inside an object or a list, where Pulumi keeps JSON: true or false. */
const JsonFlag = z.boolean({ error: (issue) => `must be true or false, but ${shown(issue.input)} was provided` });

/**
 * One item of `appliances`: how to reach it, and where it departs from the shared
 * policy. Unset overrides take the stack's key of the same name.
 */
export const FleetAppliance = z.strictObject({
    /** The ApplianceBackup's name, which starts every child's name: changing it replaces the appliance's resources. */
    name: ObjectId,
    host: Hostname,
    port: Port.optional(),
    user: UnixUser.optional(),
    hostKey: HostKey,
    privateKeyPath: PrivateKeyPath,
    privateKey: secret(PrivateKey),
    driver: Driver,
    paths: AppliancePaths.optional(),
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
    /** A vendor appliance reaches a port other than 22 only through root's ssh configuration: this says it does. */
    portInApplianceSshConfig: JsonFlag.optional(),
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
export const StackKeys = z.object({
    /** Read and checked by program/lab-config.ts, which only the dev stack loads. */
    labFile: z.string().optional(),
    labAppliance: z.string().optional(),
    labAppliances: z.string().optional(),
    name: OneLine(100).optional(),
    appliance: ApplianceAccess.optional(),
    /** A fleet, instead of appliance: each item names its appliance and may override the policy keys below. */
    appliances: Fleet.optional(),
    appliancePrivateKey: secret(PrivateKey),
    /** mt4adm's sudo password, for every appliance of the stack (a senhasegura appliance's sudo asks for it). */
    sudoPassword: secret(SudoPassword),
    destination: z.enum(["rsync", "cifs", "nfs"], {
        error: (issue) => `must be rsync, cifs or nfs, but ${shown(issue.input)} was provided`,
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
    /** The master key from the master key ceremony, complete: the verification opens a vendor appliance's AES Crypt files with it. */
    masterKey: secret(MasterKey),
    /** Unset: on exactly when masterPassword is set. `true` makes a missing masterPassword an error, which is what scripts/adopt writes for an appliance whose secrets backup is on. */
    secretsBackup: Flag.optional(),
    hour: wholeNumber(Hour).default(5),
    notifyEmail: Flag.default(true),
    notifySiem: Flag.default(true),
    notifyEmailTo: EmailAddress.optional(),
    verify: Flag.default(true),
    /** Read by scripts/drift, not by the program; checked here so a bad value fails every run. */
    maxBackupAgeHours: wholeNumber(MaxBackupAge).default(26),
    /** Read by scripts/drift: a partition's write_test older than this is drift. */
    maxWriteTestAgeHours: wholeNumber(MaxBackupAge).default(168),
    /** Read by scripts/drift: the destination's free space must be at least this many times the newest backup. */
    freeSpaceMultiple: z.string().regex(/^\d+(\.\d+)?$/, { error: (issue) => `must be a number such as 3 or 2.5, but ${shown(issue.input)} was provided` })
        .transform(Number).pipe(FreeSpaceMultiple).default(3),
    /** Orbit Web's "Total of backups" (BackupPolicy.totalBackups): drift counts the sets at the destination against it. Unset: not checked. */
    totalBackups: wholeNumber(TotalBackups).optional(),
    /** The appliance was set up by hand: creates take over what the hosts hold (docs/adopt.md). */
    adopted: Flag.default(false),
    /** Unset: follows adopted. */
    retainOnDelete: Flag.optional(),
});

/** What the chosen destination needs besides each key's own rule. */
export const StackConfig = StackKeys.superRefine((c, ctx) => {
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
            need("cifsPassword", `is required with cifs.user: the password of ${shown(c.cifs.user)} on the share`);
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
            need(["appliances", i, "name"], `is ${shown(a.name)}, the name of appliances[${earlier}] too: each appliance needs its own name, since it starts the names of its resources`);
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
            need(["appliances", i, "privateKeyPath"], `is required, or appliances[${i}].privateKey, or appliancePrivateKey for every appliance: the private key of ${a.user ?? APPLIANCE_LOGIN.user} on ${shown(a.name)}`);
        }
    });
}

export type ConfigKey = keyof typeof StackKeys.shape;
/** The keys a stack sets, as Pulumi holds them: objects parsed, everything else text. */
export type GivenConfig = Readonly<Partial<Record<ConfigKey, unknown>>>;
/** What program/lab-config.ts may fill in, in the form a stack would set it. */
export type LabConfig = Partial<Pick<z.input<typeof StackKeys>, "name" | "appliance" | "appliances" | "backupServer" | "cifs" | "cifsPassword" | "nfs" | "sudoPassword">>;

