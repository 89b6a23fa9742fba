// The dev stack's program: a senhasegura appliance and its backups, declared once, or
// a fleet of them (`appliances`) sharing one destination and one policy, which each
// appliance may override.
//
// Every value comes from stack config, read by program/config.ts through the zod
// schema of program/config-schema.ts before anything is declared: a wrong or missing
// key fails the run with the key named, the rule, the value (never a secret's) and
// the fix, and nothing runs on any host.
// Pulumi.yaml declares the keys and docs/configuration.md describes them.
//
// With `labFile` set (the dev stack sets it), program/lab-config.ts fills the keys the
// stack leaves unset from the local lab. Without it, nothing of the lab is loaded.
import * as pulumi from "@pulumi/pulumi";
import { APPLIANCE_LOGIN, ApplianceBackup } from "senhasegura-backup";
import { applianceConnectionOf, destinationOf, membersOf, readStackConfig } from "./program/config";

const config = readStackConfig();
const destination = destinationOf(config);
const fleet = membersOf(config).map((m) => ({
    member: m,
    backup: new ApplianceBackup(m.name, {
        appliance: applianceConnectionOf(m, config.sudoPassword),
        destination,
        policy: {
            system: m.system,
            video: m.video,
            secrets: config.secretsBackup ?? config.masterPassword !== undefined,
            masterPassword: config.masterPassword,
            hour: m.hour,
            totalBackups: config.totalBackups,
            notifications: { email: m.notifyEmail, siem: m.notifySiem, emailTo: m.notifyEmailTo },
        },
        verify: m.verify,
        masterKey: config.masterKey,
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
