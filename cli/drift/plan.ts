// The drift report: turns the engine events of one `pulumi preview --refresh`
// into plain findings, "AuthorizedKey appliance-0-appliance-key on
// 127.0.0.1:2222: effectiveOptions changed from … to …". Pure: no I/O, so
// tests/unit/drift-report.test.ts checks it with recorded events.
//
// Where the facts come from (engine v3.248.0, apitype.StepEventMetadata):
// - the refresh steps (resOutputsEvent, op "refresh"): old = the state Pulumi
//   last wrote, new = what the provider read on the host (null when the
//   object is gone). A field that differs here changed outside Pulumi.
// - the preview steps (resourcePreEvent, op update/replace/create/delete):
//   old = the refreshed state, new = what the program wants. The engine names
//   the changed fields in `detailedDiff` (property paths) or `diffs` (top-level
//   keys) when the provider reports them. Our dynamic providers do not (the
//   Node dynamic-provider host sends neither), so the fields are found by
//   comparing old.inputs with new.inputs, down to nested paths.
// - secrets arrive blinded: {"4dabf1…": "1b4706…", "ciphertext": "[secret]"}.
//   They are shown as [secret] and never compared by value.
import * as path from "path";
import { shown } from "../../providers/formats/rules";
import { type FlagSpecs, UsageError, parseFlags } from "../shared/args";
import { nameOf, plainText } from "../shared/text";
import { DEFAULT_MAX_BACKUP_AGE_HOURS } from "./backup-age-plan";
import type { EngineEvent, StepEventMetadata, StepEventStateMetadata } from "@pulumi/pulumi/automation";

/** Exit codes of scripts/drift, like terraform plan -detailed-exitcode. */
export const EXIT = { noDrift: 0, error: 1, drift: 2 } as const;

// The engine's markers, from the SDK (its rpc module only: the drift script stays quick to start).
const { specialSigKey: SIG_KEY, specialSecretSig: SECRET_SIG, unknownValue: UNKNOWN } = require("@pulumi/pulumi/runtime/rpc") as typeof import("@pulumi/pulumi/runtime/rpc");
export const SECRET_TEXT = "[secret]";
const UNKNOWN_TEXT = "(known after up)";
const UNSET_TEXT = "(not set)";

export type Cause = "outside-pulumi" | "program" | "unknown";
export type Change = "changed" | "removed" | "new" | "deleted" | "other";

export interface Finding {
    /** The short type, e.g. AuthorizedKey. */
    type: string;
    /** The resource's name in the program. */
    name: string;
    urn: string;
    /** host:port the resource lives on, when its inputs say. */
    host?: string;
    /** The engine's planned operation: update, replace, create, delete… */
    op: string;
    change: Change;
    /** The field path, e.g. effectiveOptions or notifications.email; absent for whole-resource changes. */
    field?: string;
    /** What the program wants (secrets as "[secret]"). */
    expected?: unknown;
    /** What the host has now (secrets as "[secret]"). */
    actual?: unknown;
    cause: Cause;
    /** The plain-words line, exactly as the text output prints it. */
    message: string;
}

export interface DriftReport {
    drift: boolean;
    /** Resources the preview looked at (the stack and providers not counted). */
    resourcesChecked: number;
    /** Resources with at least one finding. */
    resourcesDrifted: number;
    findings: Finding[];
    /** Warnings the providers printed about a resource (e.g. an unreachable rsync target). */
    warnings: Array<{ urn: string; name: string; message: string }>;
}

export function isSecret(v: unknown): boolean {
    return !!v && typeof v === "object" && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

function isUnknown(v: unknown): boolean {
    return v === UNKNOWN;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return !!v && typeof v === "object" && !Array.isArray(v) && !isSecret(v);
}

/** A value with every secret replaced by "[secret]" and every unknown by "(known after up)": safe to print. */
export function redact(v: unknown): unknown {
    if (isSecret(v)) return SECRET_TEXT;
    if (isUnknown(v)) return UNKNOWN_TEXT;
    if (Array.isArray(v)) return v.map(redact);
    if (v && typeof v === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) {
            // Any other special value (assets, resource references) shows by its signature only.
            if (k === SIG_KEY) return "[special value]";
            out[k] = redact(x);
        }
        return out;
    }
    return v;
}

/** One value in plain words: secrets as [secret], anything else (secrets inside redacted) as the providers' formatter writes it. */
export function show(v: unknown): string {
    if (v === undefined) return UNSET_TEXT;
    if (isSecret(v)) return SECRET_TEXT;
    if (isUnknown(v)) return UNKNOWN_TEXT;
    return shown(redact(v), { json: true, maxLength: 300 });
}

function sameValue(a: unknown, b: unknown): boolean {
    // Two blinded secrets look alike whatever they hold: never call them equal or different by value.
    return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The paths where two input bags differ, descending into plain objects (not
 * into arrays or secrets). Keys starting with "__" (the engine's and the
 * dynamic-provider host's own, like __provider) are skipped.
 */
export function changedPaths(a: unknown, b: unknown, prefix = ""): string[] {
    if (isPlainObject(a) && isPlainObject(b)) {
        const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !k.startsWith("__")).sort();
        return keys.flatMap((k) => changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
    }
    if (isSecret(a) && isSecret(b)) return [];
    return sameValue(a, b) ? [] : [prefix];
}

/** The value at a dotted path ("notifications.email"); engine paths may also use [n] and ["key"]. */
export function valueAt(bag: unknown, path: string): unknown {
    const parts = path.match(/[^.[\]"]+/g) ?? [];
    let v: unknown = bag;
    for (const part of parts) {
        if (isSecret(v)) return v;
        if (!v || typeof v !== "object") return undefined;
        v = (v as Record<string, unknown>)[part];
    }
    return v;
}

function secretPaths(v: unknown, prefix = ""): string[] {
    if (isSecret(v)) return [prefix];
    if (!isPlainObject(v)) return [];
    return Object.keys(v).filter((k) => !k.startsWith("__")).sort()
        .flatMap((k) => secretPaths(v[k], prefix ? `${prefix}.${k}` : k));
}

export function shortType(type: string): string {
    return type.slice(Math.max(type.lastIndexOf(":"), type.lastIndexOf("/")) + 1);
}

/** host:port from the resource's connection input, else from an id that starts with it (as every senhasegura id does). */
export function hostOf(...states: Array<StepEventStateMetadata | undefined>): string | undefined {
    for (const s of states) {
        const c = s?.inputs?.connection;
        if (isPlainObject(c) && typeof c.host === "string" && !isSecret(c.port) && c.port !== undefined) return `${c.host}:${c.port}`;
    }
    for (const s of states) {
        const m = /^([A-Za-z0-9.-]+:\d+)\//.exec(s?.id ?? "");
        if (m) return m[1];
    }
    return undefined;
}

/** Whether a resource is something the drift report speaks about (not the stack, not a provider). */
function isReportable(type: string): boolean {
    return type !== "pulumi:pulumi:Stack" && !type.startsWith("pulumi:providers:");
}

const SKIP_OPS = new Set(["same", "refresh", "read", "create-replacement", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace"]);

/** What refresh found, per URN: "removed", or the field paths the host changed. */
function refreshFindings(events: EngineEvent[]): Map<string, "removed" | Set<string>> {
    const out = new Map<string, "removed" | Set<string>>();
    for (const e of events) {
        const md = e.resOutputsEvent?.metadata;
        if (!md || md.op !== "refresh" || !isReportable(md.type)) continue;
        if (!md.new) { out.set(md.urn, "removed"); continue; }
        out.set(md.urn, new Set(changedPaths(md.old?.inputs ?? {}, md.new.inputs ?? {})));
    }
    return out;
}

function touches(changed: Set<string>, field: string): boolean {
    for (const p of changed) if (p === field || p.startsWith(`${field}.`) || field.startsWith(`${p}.`)) return true;
    return false;
}

/** The fields a preview step changes: the engine's own paths when it gives them, else a comparison of the inputs. */
function stepFields(md: StepEventMetadata): string[] {
    const oldInputs = md.old?.inputs ?? {};
    const newInputs = md.new?.inputs ?? {};
    if (md.detailedDiff && Object.keys(md.detailedDiff).length > 0) return Object.keys(md.detailedDiff).sort();
    if (md.diffs && md.diffs.length > 0) {
        return md.diffs.flatMap((k) => {
            const nested = changedPaths(oldInputs[k], newInputs[k], k);
            return nested.length > 0 ? nested : [k];
        });
    }
    return changedPaths(oldInputs, newInputs);
}

/** Builds the report from every engine event of one `preview --refresh`. */
export function buildDriftReport(events: EngineEvent[]): DriftReport {
    const refreshed = refreshFindings(events);
    const findings: Finding[] = [];
    const checked = new Set<string>();
    const seen = new Set<string>();
    for (const e of events) {
        const md = e.resourcePreEvent?.metadata;
        if (!md || !isReportable(md.type)) continue;
        if (md.op !== "refresh") checked.add(md.urn);
        if (SKIP_OPS.has(md.op) || seen.has(md.urn)) continue;
        seen.add(md.urn);
        const base = { type: shortType(md.type), name: nameOf(md.urn), urn: md.urn, host: hostOf(md.new, md.old), op: md.op };
        const subject = `${base.type} ${base.name}${base.host ? ` on ${base.host}` : ""}`;
        const fromRefresh = refreshed.get(md.urn);
        if (md.op === "create") {
            const removed = fromRefresh === "removed";
            findings.push({
                ...base, change: removed ? "removed" : "new", cause: removed ? "outside-pulumi" : "program",
                message: removed ? `${subject}: removed outside Pulumi; up will recreate it` : `${subject}: in the program but not created yet; up will create it`,
            });
            continue;
        }
        if (md.op === "delete") {
            findings.push({ ...base, change: "deleted", cause: "program", message: `${subject}: no longer in the program; up will delete it` });
            continue;
        }
        const verb = md.op === "replace" ? "replace it" : md.op === "update" ? "set it back" : `${md.op} it`;
        const fields = stepFields(md);
        if (fields.length === 0) {
            const hidden = secretPaths(md.new?.inputs ?? {});
            findings.push({
                ...base, change: "other", cause: "unknown",
                message: `${subject}: up will ${md.op === "replace" ? "replace" : "update"} it; no visible field differs${hidden.length ? `, so a secret value does (not shown: ${hidden.join(", ")})` : ""}`,
            });
            continue;
        }
        for (const field of fields) {
            const expected = valueAt(md.new?.inputs, field);
            const actual = valueAt(md.old?.inputs, field);
            const cause: Cause = fromRefresh === undefined ? "unknown" : fromRefresh !== "removed" && touches(fromRefresh, field) ? "outside-pulumi" : "program";
            const message = cause === "program"
                ? `${subject}: ${field} is ${show(actual)}, the program wants ${show(expected)} (not applied yet); up will ${md.op === "replace" ? "replace it" : "apply it"}`
                : `${subject}: ${field} changed from ${show(expected)} to ${show(actual)}; up will ${verb}`;
            findings.push({ ...base, change: "changed", field, expected: redact(expected), actual: redact(actual), cause, message });
        }
    }
    const warnings: DriftReport["warnings"] = [];
    for (const e of events) {
        const d = e.diagnosticEvent;
        if (!d || d.severity !== "warning" || !d.urn || !isReportable(d.urn.split("::")[2] ?? "")) continue;
        warnings.push({ urn: d.urn, name: nameOf(d.urn), message: plainText(d.message).trim() });
    }
    return {
        drift: findings.length > 0,
        resourcesChecked: checked.size,
        resourcesDrifted: new Set(findings.map((f) => f.urn)).size,
        findings,
        warnings,
    };
}


/** The text output: one line per finding, then what to run. */
export function formatText(report: DriftReport, stack: string): string {
    if (!report.drift) {
        return `No drift: stack ${stack} matches the hosts (${report.resourcesChecked} resources checked).\n`;
    }
    const lines = [
        `Drift in stack ${stack}: ${report.resourcesDrifted} of ${report.resourcesChecked} resources, ${report.findings.length} change${report.findings.length === 1 ? "" : "s"}.`,
        ...report.findings.map((f) => `  ${f.message}`),
    ];
    if (report.warnings.length > 0) {
        lines.push("Warnings from the providers:", ...report.warnings.map((w) => `  ${w.name}: ${w.message.replace(/\n+/g, " ")}`));
    }
    lines.push(`To converge: pulumi up --refresh --stack ${stack}`);
    return lines.join("\n") + "\n";
}

/** The --json output: the same findings, as data. */
export function formatJson(report: DriftReport, stack: string): string {
    return JSON.stringify({ stack, exitCode: report.drift ? EXIT.drift : EXIT.noDrift, ...report }, null, 2) + "\n";
}

// ------------------------------------------------------------------ the command line

export const USAGE = `usage: senhasegura-backup drift [--stack NAME] [--cwd DIR] [--json] [--max-backup-age-hours H | --no-backup-age]

Refreshes the stack's resources from the hosts (a preview: nothing is changed)
and reports every resource and field that differs from the program. Then it
reads each appliance's last successful backup, its lost-directory notifications
and the newest backup at its destination: a backup older than the allowed age is
drift too.

  --stack NAME               the stack (default: dev)
  --cwd DIR                  the Pulumi project directory (default: the nearest directory up
                             from here that holds a Pulumi.yaml)
  --json                     print the report as JSON instead of text
  --max-backup-age-hours H   the allowed age, 1-8760 (default: the stack's
                             maxBackupAgeHours config, else ${DEFAULT_MAX_BACKUP_AGE_HOURS})
  --no-backup-age            skip the backup-age check

Exit codes: 0 no drift, 2 drift, 1 error (the preview could not run, or an
appliance's backups could not be read).
The passphrase comes from PULUMI_CONFIG_PASSPHRASE (or _FILE), never from arguments.`;

export interface DriftArgs { stack: string; cwd: string; json: boolean; maxBackupAgeHours?: number; backupAge: boolean }

/** An allowed backup age in hours, from the flag or the stack's config; throws naming the source. Pure. */
export function parseMaxAge(text: string, source: string): number {
    const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
    if (!(n >= 1 && n <= 8760)) throw new UsageError(`${source} must be a whole number of hours from 1 to 8760, but ${JSON.stringify(text)} was provided`);
    return n;
}

/** The stack's freeSpaceMultiple, checked as the program checks it. */
export function parseFreeSpaceMultiple(text: string, source: string): number {
    const n = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : NaN;
    if (!(n >= 1 && n <= 100)) throw new UsageError(`${source} must be a number from 1 to 100, but ${JSON.stringify(text)} was provided`);
    return n;
}

/** The flags of `senhasegura-backup drift`. */
export const DRIFT_FLAGS = {
    stack: { type: "string", short: "s" },
    cwd: { type: "string", short: "C" },
    json: { type: "boolean" },
    "max-backup-age-hours": { type: "string" },
    "no-backup-age": { type: "boolean" },
} as const satisfies FlagSpecs;

/** Parses the command line; throws a usage error naming the bad argument. `project` is --cwd's default. Pure. */
export function parseArgs(argv: readonly string[], project: string): DriftArgs | "help" {
    const parsed = parseFlags(argv, DRIFT_FLAGS);
    if (parsed === "help") return "help";
    const v = parsed.values;
    return {
        stack: v.stack ?? "dev",
        cwd: v.cwd !== undefined ? path.resolve(v.cwd) : project,
        json: v.json ?? false,
        backupAge: !v["no-backup-age"],
        ...(v["max-backup-age-hours"] !== undefined ? { maxBackupAgeHours: parseMaxAge(v["max-backup-age-hours"], "--max-backup-age-hours") } : {}),
    };
}
