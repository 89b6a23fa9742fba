// What the restore drill checks, found in the stack itself, so it works for any program
// that uses senhasegura-backup and needs no config of its own: in the state that
// `pulumi stack export --show-secrets` prints, each ApplianceBackup component has a
// BackupVerification child whose inputs say how to read the destination (`destination`,
// a FarSide) and which appliance made the backups (`appliance`), and a BackupPolicy
// child whose inputs hold the `masterPassword` (a secret). Resources are grouped by
// their parent URN, so a program that declares BackupVerification and BackupPolicy
// itself, without the component, is found too. Pure: tests/unit/cli/shared/stack-targets.test.ts.
import { nameOf } from "./text";
import { runtime } from "@pulumi/pulumi";
import { z } from "zod";
import { BackupId, ReportedManifest } from "../../providers/formats/backup-format";
import { FarSide } from "../../providers/transport/far-side";
import { parseBackupRun } from "../../providers/formats/orbit-vendor";

export const TYPES = {
    component: "senhasegura:backup:ApplianceBackup",
    verification: "pulumi-nodejs:dynamic/senhasegura:BackupVerification",
    policy: "pulumi-nodejs:dynamic/senhasegura:BackupPolicy",
} as const;

/** One appliance to drill: where its backups are and the key to open them. */
export type DrillTarget = ContractTarget | VendorTarget;

interface TargetBase {
    /** The ApplianceBackup's name in the program (or the BackupVerification's, without the component). */
    name: string;
    urn: string;
    /** user@host:port of the appliance. */
    appliance?: string;
    destination: FarSide;
}

/** An appliance that speaks contract 2 (docs/appliance-contract.md): a manifest per backup, files sealed with the master password. */
export interface ContractTarget extends TargetBase {
    flavor: "contract";
    /** Kept in memory only: never logged, printed or passed to a child process. */
    masterPassword: string;
    /**
     * The backup the verification ran at the last `pulumi up`, and its manifest's digest as
     * orbit reported it then (contract 2), when the state holds the report.
     */
    reported?: Reported;
}

/** A vendor appliance: no manifest, the vendor's layout, files in AES Crypt under the master key of the ceremony. */
export interface VendorTarget extends TargetBase {
    flavor: "vendor";
    /** The master key, complete, from the BackupVerification's inputs; kept in memory only, as the password. */
    masterKey?: string;
    /** The kinds the program declares on (its BackupPolicy), which the drill then requires at the destination. */
    declared: { secrets: boolean; video: boolean };
}

/**
 * Which appliance wrote a verification's report: contract 2 answers JSON, a vendor
 * appliance prints the log lines of `orbit backup create`. Unknown (no report in the
 * state) reads as contract, as before the vendor driver.
 */
export function reportFlavor(report: unknown): "contract" | "vendor" {
    if (typeof report !== "string") return "contract";
    try {
        JSON.parse(report);
        return "contract";
    } catch {
        return parseBackupRun(report).lines.length > 0 ? "vendor" : "contract";
    }
}

/** What orbit reported of the verification backup: its id, and its manifest's digest (contract 2). */
export interface Reported { backupId: string; manifest?: { path: string; size: number; sha256: string } }

const ReportText = z.object({ id: BackupId, manifest: ReportedManifest.optional() });

/** The id and manifest digest of the verification's report (the remote.Command's stdout), or undefined when it is not one. */
export function reportedBackup(report: unknown): Reported | undefined {
    if (typeof report !== "string") return undefined;
    let body: unknown;
    try { body = JSON.parse(report); } catch { return undefined; }
    const parsed = ReportText.safeParse(body);
    if (!parsed.success) return undefined;
    const m = parsed.data.manifest;
    return { backupId: parsed.data.id, ...(m ? { manifest: { path: m.path, size: m.size, sha256: m.sha256 } } : {}) };
}

/** An appliance the drill cannot check, and why. */
export interface TargetProblem { name: string; urn: string; appliance?: string; error: string }

export interface StackTargets {
    targets: Array<DrillTarget | TargetProblem>;
    /** Every secret the state revealed, to scrub from anything printed. */
    secrets: string[];
}

interface StateResource {
    urn: string;
    type: string;
    parent?: string;
    delete?: boolean;
    inputs?: Record<string, unknown>;
}

export const isProblem = (t: DrillTarget | TargetProblem): t is TargetProblem => "error" in t;


/**
 * A value from the exported state with its secrets in plain form: the export marks each
 * as `{<sig>: <secret sig>, plaintext: "<JSON>"}`. A secret still encrypted
 * (`ciphertext`, an export without --show-secrets) is left as it is. Each revealed
 * secret string (and each password or key field of a revealed object) is added to `found`.
 */
export function revealSecrets(value: unknown, found: Set<string>): unknown {
    if (Array.isArray(value)) return value.map((v) => revealSecrets(v, found));
    if (value === null || typeof value !== "object") return value;
    const o = value as Record<string, unknown>;
    if (o[runtime.specialSigKey] === runtime.specialSecretSig && typeof o.plaintext === "string") {
        const plain = revealSecrets(JSON.parse(o.plaintext), found);
        if (typeof plain === "string") found.add(plain);
        else collectSecretFields(plain, found);
        return plain;
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, revealSecrets(v, found)]));
}

/** Fields that hold a secret by name, inside a whole object made secret (a host or a user is not worth scrubbing). */
const SECRET_FIELD = /password|privatekey|passphrase|secret|token/i;

function collectSecretFields(value: unknown, found: Set<string>): void {
    if (Array.isArray(value)) value.forEach((v) => collectSecretFields(v, found));
    else if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) {
            if (typeof v === "string" && SECRET_FIELD.test(k)) found.add(v);
            else collectSecretFields(v, found);
        }
    }
}

const isEncryptedSecret = (v: unknown) => typeof v === "object" && v !== null && (v as Record<string, unknown>)[runtime.specialSigKey] === runtime.specialSecretSig;

/** Whether a revealed value still holds an encrypted secret anywhere inside. */
function holdsEncryptedSecret(v: unknown): boolean {
    if (isEncryptedSecret(v)) return true;
    if (Array.isArray(v)) return v.some(holdsEncryptedSecret);
    return typeof v === "object" && v !== null && Object.values(v).some(holdsEncryptedSecret);
}

/** `user@host:port` of a BackupPolicy's connection, as a BackupVerification's `appliance` names it. */
function policyAppliance(policy: StateResource): string | undefined {
    const c = policy.inputs?.connection as { user?: string; host?: string; port?: number } | undefined;
    return c?.host === undefined ? undefined : `${c.user}@${c.host}:${c.port}`;
}

/**
 * The appliances of a stack from its exported deployment (`pulumi stack export
 * --show-secrets`), in state order, each a DrillTarget or the reason it cannot be drilled.
 */
export function stackTargets(deployment: unknown): StackTargets {
    const secrets = new Set<string>();
    const resources = ((deployment as { deployment?: { resources?: StateResource[] } })?.deployment?.resources ?? [])
        .filter((r) => r && typeof r.urn === "string" && !r.delete);
    const byParent = new Map<string, StateResource[]>();
    for (const r of resources) {
        if (r.type !== TYPES.verification && r.type !== TYPES.policy) continue;
        const key = r.parent ?? "";
        byParent.set(key, [...(byParent.get(key) ?? []), r]);
    }
    const targets: Array<DrillTarget | TargetProblem> = [];
    const components = new Set(resources.filter((r) => r.type === TYPES.component).map((r) => r.urn));
    // Components first, in state order; then groups under other parents (a program without the component).
    const groups = [...components, ...[...byParent.keys()].filter((p) => !components.has(p))];
    for (const parent of groups) {
        const children = byParent.get(parent) ?? [];
        const verifications = children.filter((r) => r.type === TYPES.verification);
        const policies = children.filter((r) => r.type === TYPES.policy);
        if (components.has(parent) && verifications.length === 0) {
            targets.push({
                name: nameOf(parent), urn: parent,
                appliance: policies.length === 1 ? policyAppliance(policies[0]) : undefined,
                error: `ApplianceBackup ${nameOf(parent)} has no BackupVerification child (verify: false, or a CIFS share reached with a credential registered on the appliance, whose files cannot be read from outside), so the stack does not say how to read its destination: turn verify on, or give the CIFS user and password`,
            });
            continue;
        }
        for (const v of verifications) {
            const name = components.has(parent) ? nameOf(parent) : nameOf(v.urn);
            targets.push(target(name, v, pairedPolicy(v, policies), components.has(parent), secrets));
        }
    }
    return { targets, secrets: [...secrets] };
}

/** The policy of a verification's appliance: the only one beside it, or the one on the same appliance. */
function pairedPolicy(verification: StateResource, policies: StateResource[]): StateResource | undefined {
    if (policies.length === 1) return policies[0];
    const appliance = verification.inputs?.appliance;
    return policies.find((p) => appliance !== undefined && policyAppliance(p) === appliance);
}

function target(name: string, v: StateResource, policy: StateResource | undefined, inComponent: boolean, secrets: Set<string>): DrillTarget | TargetProblem {
    const revealed = revealSecrets(v.inputs ?? {}, secrets) as Record<string, unknown>;
    const appliance = typeof revealed.appliance === "string" ? revealed.appliance : undefined;
    const base = { name, urn: inComponent ? v.parent! : v.urn, appliance };
    const what = inComponent ? `ApplianceBackup ${name}` : `BackupVerification ${name}`;
    if (holdsEncryptedSecret(revealed.destination)) {
        return { ...base, error: `${what}: the state's secrets are encrypted: export the state with --show-secrets and the stack's passphrase (PULUMI_CONFIG_PASSPHRASE)` };
    }
    const side = FarSide.safeParse(revealed.destination);
    if (!side.success) {
        const where = side.error.issues.map((i) => `destination.${i.path.join(".")} ${i.message}`).slice(0, 3).join("; ");
        return { ...base, error: `${what}: its BackupVerification's destination in the state is not one the drill can read (${where}): run pulumi up with this version of senhasegura-backup` };
    }
    if (reportFlavor(revealed.report) === "vendor") {
        const masterKey = revealed.masterKey;
        if (isEncryptedSecret(masterKey)) {
            return { ...base, error: `${what}: the state's secrets are encrypted: export the state with --show-secrets and the stack's passphrase (PULUMI_CONFIG_PASSPHRASE)` };
        }
        const declared = policy === undefined ? {} : revealSecrets(policy.inputs ?? {}, secrets) as Record<string, unknown>;
        return {
            ...base, flavor: "vendor", destination: side.data,
            ...(typeof masterKey === "string" && masterKey !== "" ? { masterKey } : {}),
            declared: { secrets: declared.secrets === true, video: declared.video === true },
        };
    }
    if (policy === undefined) {
        return { ...base, error: `${what} has no BackupPolicy${inComponent ? "" : ` on ${appliance ?? "its appliance"} beside it`}, so the stack holds no master password to open the backup with` };
    }
    const policyInputs = revealSecrets(policy.inputs ?? {}, secrets) as Record<string, unknown>;
    const masterPassword = policyInputs.masterPassword;
    if (isEncryptedSecret(masterPassword)) {
        return { ...base, error: `${what}: the state's secrets are encrypted: export the state with --show-secrets and the stack's passphrase (PULUMI_CONFIG_PASSPHRASE)` };
    }
    if (typeof masterPassword !== "string" || masterPassword === "") {
        return {
            ...base,
            error: `${what}: its BackupPolicy ${nameOf(policy.urn)} has no masterPassword, so the secrets backup is off and the encrypted files cannot be opened: set policy.masterPassword (a secret, e.g. pulumi config set --secret masterPassword) and pulumi up`,
        };
    }
    const reported = reportedBackup(revealed.report);
    return { ...base, flavor: "contract", destination: side.data, masterPassword, ...(reported ? { reported } : {}) };
}

/** The targets named `only` (a --appliance), or all; throws naming the known names when none matches. */
export function selectTargets<T extends { name: string }>(targets: T[], only: string | undefined): T[] {
    if (only === undefined) return targets;
    const picked = targets.filter((t) => t.name === only);
    if (picked.length === 0) {
        throw new Error(`the stack has no appliance named ${JSON.stringify(only)}: its ApplianceBackups are ${targets.length ? targets.map((t) => t.name).join(", ") : "none"}`);
    }
    return picked;
}
