// Drives the real Pulumi engine (the CLI built by scripts/toolchain) through the
// Automation API, so end-to-end tests run up, preview, refresh and destroy exactly
// as a user's CI does, and see the engine's own events.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import { type EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";

export const REPO = path.resolve(__dirname, "..", "..");
/** Test stacks live in their own file backend, apart from the dev stack's. */
export const TEST_BACKEND_DIR = path.join(REPO, ".test-results", "state");
export const TEST_PASSPHRASE = "senhasegura-lab-tests";

export function requireToolchain(): void {
    const bin = process.env.SSB_TOOLCHAIN_BIN;
    const ok = (process.env.PATH ?? "").split(":").some((dir) => fs.existsSync(path.join(dir, "pulumi")));
    if (!ok) {
        throw new Error(`no pulumi CLI on PATH${bin ? ` (expected ${bin})` : ""}: run the tests through 'bash scripts/test', which builds it with scripts/toolchain`);
    }
}

export interface TestStack {
    stack: Stack;
    name: string;
    /** Every engine event of every operation, in order. */
    events: EngineEvent[];
    /** Every line the CLI printed, for secret-leak checks. */
    output: string[];
    destroyAndRemove(): Promise<void>;
}

function baseEnv(): Record<string, string> {
    return { PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE, PULUMI_NODEJS_TRANSPILE_ONLY: "true" };
}

export async function createTestStack(programDir: string, config: Record<string, { value: string; secret?: boolean }>, envVars: Record<string, string> = {}): Promise<TestStack> {
    requireToolchain();
    fs.mkdirSync(TEST_BACKEND_DIR, { recursive: true });
    const name = `test-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const ws = await LocalWorkspace.create({ workDir: programDir, envVars: { ...baseEnv(), ...envVars } });
    const stack = await Stack.create(name, ws);
    programDirs.set(name, programDir);
    await stack.setAllConfig(config);
    const events: EngineEvent[] = [];
    const output: string[] = [];
    const handle: TestStack = {
        stack, name, events, output,
        async destroyAndRemove() {
            await stack.destroy({ onOutput: (line) => output.push(line), onEvent: (e) => events.push(e) });
            await ws.removeStack(name);
        },
    };
    return handle;
}

const programDirs = new Map<string, string>();

/**
 * The same stack (same backend, same state) driven by another program directory, as
 * after an upgrade or a fresh clone elsewhere. The stack's config file, which holds
 * the secrets' salt, moves along.
 */
export async function reopenTestStack(t: TestStack, programDir: string): Promise<TestStack> {
    const from = path.join(programDirs.get(t.name)!, `Pulumi.${t.name}.yaml`);
    fs.copyFileSync(from, path.join(programDir, `Pulumi.${t.name}.yaml`));
    const ws = await LocalWorkspace.create({ workDir: programDir, envVars: { ...(t.stack.workspace as LocalWorkspace).envVars, ...baseEnv() } });
    const stack = await Stack.select(t.name, ws);
    programDirs.set(t.name, programDir);
    return {
        stack, name: t.name, events: t.events, output: t.output,
        async destroyAndRemove() {
            await stack.destroy({ onOutput: (line) => t.output.push(line), onEvent: (e) => t.events.push(e) });
            await ws.removeStack(t.name);
            fs.rmSync(path.join(programDir, `Pulumi.${t.name}.yaml`), { force: true });
        },
    };
}

/**
 * The state as `pulumi stack export` prints it, WITHOUT --show-secrets: what a
 * user who reads the state file sees. (The Automation API's exportStack passes
 * --show-secrets, so it is useless for leak checks.)
 */
export function exportState(t: TestStack): any {
    const out = execFileSync("pulumi", ["stack", "export", "--stack", t.name], {
        cwd: programDirs.get(t.name),
        env: { ...process.env, PULUMI_BACKEND_URL: `file://${TEST_BACKEND_DIR}`, PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE },
        maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(out.toString("utf8"));
}

/** Options that record events and output into the test stack. */
export function recorded(t: TestStack) {
    return { onOutput: (line: string) => t.output.push(line), onEvent: (e: EngineEvent) => t.events.push(e) };
}

/** The resource-level changes a preview found: [urn type, name, op, changed property names]. */
export function plannedChanges(events: EngineEvent[]): Array<{ type: string; name: string; op: string; keys: string[] }> {
    const out: Array<{ type: string; name: string; op: string; keys: string[] }> = [];
    for (const e of events) {
        const pre = e.resourcePreEvent;
        if (!pre || ["same", "refresh", "read"].includes(pre.metadata.op)) continue;
        const urn = pre.metadata.urn;
        out.push({
            type: pre.metadata.type,
            name: urn.slice(urn.lastIndexOf("::") + 2),
            op: pre.metadata.op,
            keys: pre.metadata.diffs ?? [],
        });
    }
    return out;
}

/**
 * Like plannedChanges, with the changed fields named even when the engine's `diffs`
 * is empty. Dynamic providers answer diff with only `changes` and `replaces` (the
 * Node.js dynamic-provider host sends no changed keys), so this engine reports no
 * `diffs` for them; the fields are then the top-level inputs that differ between the
 * step's old state (the refreshed one, under --refresh) and its new inputs. Creates
 * and deletes name no fields. Provider resources (pulumi:providers:*) are left out:
 * the dynamic default provider takes the whole stack config as inputs, so any config
 * change "updates" it without touching a host.
 */
export function plannedFieldChanges(events: EngineEvent[]): Array<{ type: string; name: string; op: string; keys: string[] }> {
    const out: Array<{ type: string; name: string; op: string; keys: string[] }> = [];
    for (const e of events) {
        const meta = e.resourcePreEvent?.metadata;
        if (!meta || ["same", "refresh", "read"].includes(meta.op) || meta.type.startsWith("pulumi:providers:")) continue;
        let keys = [...(meta.diffs ?? [])];
        if (keys.length === 0 && meta.op !== "create" && meta.op !== "delete") {
            const olds: Record<string, unknown> = meta.old?.inputs ?? {};
            const news: Record<string, unknown> = meta.new?.inputs ?? {};
            keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])]
                .filter((k) => !k.startsWith("__") && !isDeepStrictEqual(olds[k], news[k]));
        }
        out.push({ type: meta.type, name: meta.urn.slice(meta.urn.lastIndexOf("::") + 2), op: meta.op, keys: keys.sort() });
    }
    return out;
}
