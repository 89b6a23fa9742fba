// One program for every hardening test: the stack's config key `resources` is a JSON
// list of resources to declare, so a test can declare hostile, faulty or many
// resources without a program of its own.
//
//   [{ "kind": "AuthorizedKey", "name": "k1", "args": { … }, "dependsOn": ["other"] }, …]
//
// Inside args, {"$secret": "<config key>"} is that secret config value (so a
// secret never appears in plain config), and {"$output": "<name>.<output>"} is an
// output of a resource declared earlier in the list.
import * as pulumi from "@pulumi/pulumi";
import { ApplianceBackup, ApplianceHostKey, ApplianceRootKey, AuthorizedKey, BackupPolicy, BackupVerification, RemotePartition, RsyncTarget, verificationBackup } from "senhasegura-backup";

interface Declared { kind: string; name: string; args: Record<string, unknown>; dependsOn?: string[] }

const cfg = new pulumi.Config();
const declared = cfg.requireObject<Declared[]>("resources");
const made = new Map<string, pulumi.Resource>();

function resolve(value: unknown): any {
    if (Array.isArray(value)) return value.map(resolve);
    if (value && typeof value === "object") {
        const v = value as Record<string, unknown>;
        if (typeof v.$secret === "string") return cfg.requireSecret(v.$secret);
        if (typeof v.$output === "string") {
            const [name, output] = v.$output.split(".");
            const resource = made.get(name);
            if (!resource) throw new Error(`$output ${v.$output}: no resource named ${name} declared before it`);
            return (resource as any)[output];
        }
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
    }
    return value;
}

type Declare = (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.Resource;
const construct = (Kind: new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.Resource): Declare =>
    (name, args, opts) => new Kind(name, args, opts);
const kinds: Record<string, Declare> = {
    // The component, as a team's program declares it; args are ApplianceBackupArgs.
    ApplianceBackup: construct(ApplianceBackup),
    ApplianceHostKey: construct(ApplianceHostKey),
    ApplianceRootKey: construct(ApplianceRootKey),
    AuthorizedKey: construct(AuthorizedKey),
    BackupPolicy: construct(BackupPolicy),
    BackupVerification: construct(BackupVerification),
    RemotePartition: construct(RemotePartition),
    RsyncTarget: construct(RsyncTarget),
    // The @pulumi/command remote.Command of the component; args are VerificationBackupArgs.
    VerificationBackup: verificationBackup,
};

for (const d of declared) {
    const declare = kinds[d.kind];
    if (!declare) throw new Error(`unknown kind ${d.kind}: one of ${Object.keys(kinds).join(", ")}`);
    const dependsOn = (d.dependsOn ?? []).map((n) => {
        const r = made.get(n);
        if (!r) throw new Error(`${d.name} depends on ${n}, which is not declared before it`);
        return r;
    });
    made.set(d.name, declare(d.name, resolve(d.args), { dependsOn }));
}

export const ids = Object.fromEntries([...made].flatMap(([name, r]) => (r instanceof pulumi.CustomResource ? [[name, r.id]] : [])));
