// The root program (index.ts) through the real engine with a bad stack config: the
// preview fails with the config key named, the rule and the value, and so does an up
// (which the Automation API runs with --skip-preview). Neither runs anything on any
// host: no SSH connection reaches the lab's sshd servers and orbit is never called.
// A value of the wrong type is refused by the CLI itself, from Pulumi.yaml's types,
// before the program runs.
import { strict as assert } from "assert";
import * as path from "path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { REPO, type TestStack, createTestStack, exportState, recorded } from "../support/engine";
import { type FileMark, SSHD_CONNECTION_LINE, appendedSince, labLogFiles, markFiles } from "../support/hardening";
import { type LabDescription, loadLab } from "../support/lab";

/** The error diagnostics of one operation, as the engine reported them. */
function errorDiagnostics(events: readonly EngineEvent[]): string[] {
    return events.flatMap((e) => e.diagnosticEvent?.severity === "error" ? [e.diagnosticEvent.message] : []);
}

/**
 * What the lab's logs gained since `marks`: SSH connections in an sshd log, any line in
 * orbit's audit and backup logs or the notification logs.
 */
function activitySince(marks: Map<string, FileMark>): string[] {
    return [...appendedSince(marks)].flatMap(([file, text]) => text.split("\n")
        .filter((line) => path.basename(file).startsWith("sshd-") ? SSHD_CONNECTION_LINE.test(line) : line.trim() !== "")
        .map((line) => `${file}: ${line}`));
}

/** Runs `operation`, which must fail; returns the CLI's whole output and the engine's error diagnostics. */
async function failure(t: TestStack, operation: "preview" | "up"): Promise<{ output: string; diagnostics: string[] }> {
    const events: EngineEvent[] = [];
    const options = { ...recorded(t), onEvent: (e: EngineEvent) => { events.push(e); t.events.push(e); } };
    const error = await (operation === "preview" ? t.stack.preview(options) : t.stack.up(options)).then(
        () => assert.fail(`${operation} succeeded with a bad config`),
        (e: Error) => e,
    );
    return { output: error.message, diagnostics: errorDiagnostics(events) };
}

describe("stack config through the engine: a bad key fails the run, names the key and runs nothing", function () {
    this.timeout(300_000);
    let lab: LabDescription;
    let t: TestStack | undefined;

    before(() => {
        lab = loadLab();
    });

    afterEach(async () => {
        // Nothing was created, and a destroy would only run into the same config error.
        if (t) await t.stack.workspace.removeStack(t.name, { force: true });
        t = undefined;
    });

    it("a backup directory of '/' fails preview and up with senhasegura-backup:backupServer.path named, and nothing runs on any host", async () => {
        const server = lab.rsyncServer;
        t = await createTestStack(REPO, {
            labFile: { value: path.join(lab.root, "lab.json") },
            backupServer: {
                value: JSON.stringify({
                    host: server.host, port: server.port, user: server.adminUser, hostKey: server.hostKey,
                    privateKeyPath: server.adminPrivateKeyPath, backupUser: server.backupUser, path: "/",
                }),
            },
        });
        const marks = markFiles(labLogFiles(lab));

        for (const operation of ["preview", "up"] as const) {
            const { output, diagnostics } = await failure(t, operation);
            assert.equal(diagnostics.length, 1, `${operation}: expected one error, got ${JSON.stringify(diagnostics)}`);
            const [message] = diagnostics;
            assert.match(message, new RegExp(`^the config of stack ${t.name} has a problem, so nothing was declared and nothing ran on any host:\n`));
            assert.ok(message.includes(
                "  - senhasegura-backup:backupServer.path must not be '/': name the backup directory itself, since a key or target for '/' could write anywhere on the server, but \"/\" was provided.\n"
                + "    To fix: pulumi config set --path 'backupServer.path' <value>\n"), `${operation}: ${message}`);
            assert.ok(output.includes("senhasegura-backup:backupServer.path must not be '/'"), `${operation}: the CLI did not print the key: ${output}`);
            assert.ok(!/TypeError|    at /.test(message), `${operation}: a stack trace instead of a config error: ${message}`);
        }

        assert.deepEqual(activitySince(marks), [], "a host was reached during the failed runs");
        const resources = exportState(t).deployment.resources ?? [];
        assert.deepEqual(resources.filter((r: any) => r.type !== "pulumi:pulumi:Stack").map((r: any) => r.urn), [], "the failed up declared resources");
    });

    it("a value of the wrong type for a key Pulumi.yaml types fails at the CLI, naming the key", async () => {
        t = await createTestStack(REPO, { labFile: { value: path.join(lab.root, "lab.json") }, hour: { value: "five" } });
        const marks = markFiles(labLogFiles(lab));
        const { output } = await failure(t, "preview");
        assert.match(output, new RegExp(`Stack '${t.name}' with configuration key 'senhasegura-backup:hour' must be of type 'integer'`));
        assert.deepEqual(activitySince(marks), [], "a host was reached");
    });
});
