// The implementation of scripts/adopt: reads each hand-configured appliance (and,
// for rsync, the root key's line on its backup server) with the providers' own
// read code, over the pinned SSH pool, and prints or sets the stack config that
// describes it (scripts/adopt-plan.ts). It only reads: `orbit backup config show`,
// `orbit root-key show`, and the backup user's authorized_keys.
// Usage: see USAGE in adopt-plan.ts, or scripts/adopt --help.
import { execFile } from "child_process";
import * as fs from "fs";
import * as yaml from "js-yaml";
import { AuthorizedKeyArgs, authorizedKeyProvider } from "../../providers/resources/authorized-key";
import { ApplianceConnection } from "../../providers/appliance/connection";
import { OrbitClient, type OrbitConfig } from "../../providers/appliance/orbit";
import { sshPool } from "../../providers/transport/ssh";
import { UsageError, projectDirectory } from "../shared/args";
import type { ToolMain } from "../shared/tool";
import {
    AdoptError, type AdoptedStack, type ApplianceFindings, type ApplianceTarget, type BackupServerFinding, USAGE,
    adoptedStack, configSetCalls, parseArgs, renderYaml,
} from "./plan";

/** A command-line tool waits less than a deployment for a host that does not answer. */
const DIAL_ATTEMPTS = 2;

function readAppliances(file: string): unknown {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    try {
        return JSON.parse(text);
    } catch {
        try {
            return yaml.load(text);
        } catch (err) {
            throw new UsageError(`${file} is neither JSON nor YAML: ${(err as Error).message.split("\n")[0]}`);
        }
    }
}

/** The root key's line on the backup server, read as AuthorizedKey's refresh reads it. */
async function readKeyLine(config: OrbitConfig, publicKey: string, server: NonNullable<ApplianceTarget["backupServer"]>): Promise<BackupServerFinding> {
    const rsync = config.rsync!;
    const connection = {
        host: server.host ?? rsync.host, port: server.port ?? rsync.port, user: server.user ?? rsync.user,
        hostKey: server.hostKey, privateKeyFile: server.privateKeyFile,
    };
    const parsed = AuthorizedKeyArgs.safeParse({
        connection: { host: connection.host, port: connection.port, user: connection.user, hostKey: connection.hostKey, privateKeyPath: connection.privateKeyFile, dialAttempts: DIAL_ATTEMPTS },
        targetUser: rsync.user, publicKey, restrictTo: rsync.path,
    });
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new AdoptError(`the appliance's rsync target cannot be described by this project's rules: ${issue.path.join(".")} ${issue.message}`);
    }
    const read = await authorizedKeyProvider.read("adopt", parsed.data);
    const live = read.props;
    return {
        connection,
        keyLine: live === undefined ? { present: false } : {
            present: true, options: live.effectiveOptions, fileMode: live.fileMode, dirMode: live.dirMode, fileOwner: live.fileOwner,
            ...(live.comment !== undefined ? { comment: live.comment } : {}),
        },
    };
}

async function find(target: ApplianceTarget): Promise<ApplianceFindings> {
    const connection: ApplianceConnection = ApplianceConnection.parse({
        host: target.host, port: target.port, user: target.user, hostKey: target.hostKey, privateKeyPath: target.privateKeyFile, dialAttempts: DIAL_ATTEMPTS,
    });
    const orbit = new OrbitClient(connection);
    // One after the other: the first call's handshake checks the pin before anything else is sent.
    const config = await orbit.showConfig();
    const rootKey = await orbit.rootKey();
    const findings: ApplianceFindings = { target, config, rootKey: { publicKey: rootKey.publicKey.trim(), fingerprint: rootKey.fingerprint } };
    if (config.backup.destination.mode === "rsync" && config.rsync !== null && target.backupServer) {
        findings.backupServer = await readKeyLine(config, findings.rootKey.publicKey, target.backupServer);
    }
    return findings;
}

function run(argv: readonly string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile("pulumi", ["--non-interactive", ...argv], { cwd, env: process.env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
            const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
            resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        });
    });
}

/** Runs `pulumi config set` for every value of the stack; secrets are left to the user. */
async function setConfig(stack: AdoptedStack, cwd: string): Promise<number> {
    let count = 0;
    for (const { key, argv } of configSetCalls(stack)) {
        const r = await run(argv, cwd);
        if (r.code !== 0) {
            const why = r.stderr.replace(/\s+/g, " ").trim() || r.stdout.trim() || `exit ${r.code}`;
            const hint = /no stack named/.test(why)
                ? `create the stack first (pulumi stack init ${stack.stack} --secrets-provider <yours>, in ${cwd}), then run adopt again`
                : "fix what pulumi names, then run adopt again: it sets every key again";
            throw new AdoptError(`pulumi config ${argv[1]} ${key} failed for stack ${stack.stack} in ${cwd}: ${why}. What to do: ${hint}`);
        }
        if (argv[1] === "set") count++;
    }
    return count;
}

export const main: ToolMain = async (argv) => {
    let args: ReturnType<typeof parseArgs>;
    try {
        args = parseArgs(argv, { cwd: process.cwd(), project: projectDirectory(process.cwd(), fs.existsSync), readAppliances });
    } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        process.stderr.write(`adopt: ${err.message}\n\n${USAGE}\n`);
        return 1;
    }
    if (args === "help") {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    try {
        const stacks: AdoptedStack[] = [];
        for (const target of args.appliances) stacks.push(adoptedStack(await find(target)));
        process.stdout.write(renderYaml(stacks, new Date().toISOString()));
        if (args.set) {
            for (const stack of stacks) {
                const count = await setConfig(stack, args.cwd);
                const secrets = stack.secrets.map((s) => `pulumi config set --secret ${s.key} --stack ${stack.stack}`);
                process.stderr.write(`adopt: set ${count} keys of stack ${stack.stack} (${stack.appliance}) in ${args.cwd}.`
                    + (secrets.length > 0 ? ` Before the first up, set what adopt cannot read back: ${secrets.join("; ")}.` : "")
                    + ` Then: pulumi up --stack ${stack.stack} (it writes nothing on any host).\n`);
            }
        }
        return 0;
    } catch (err) {
        // BackupProviderError and AdoptError messages say what failed, where, why and what to do.
        process.stderr.write(`adopt: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
    } finally {
        await sshPool.closeAll();
    }
}
