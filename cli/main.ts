#!/usr/bin/env node
// `senhasegura-backup`, the package's operator CLI: one sub-command per tool, each
// with its own flags, --help and exit codes. Installed as the package's bin, so a
// team runs `npx senhasegura-backup drift --stack prod` in its own Pulumi project.
import type { ToolMain } from "./shared/tool";

interface Tool {
    summary: string;
    /** Loaded only when run: a drift check never pays for the restore drill's modules. */
    load: () => ToolMain;
}

const TOOLS: Record<string, Tool> = {
    drift: {
        summary: "is the stack's live state what its program says, and are its backups recent? (0 no drift, 2 drift, 1 error)",
        load: () => require("./drift/run").main,
    },
    "restore-drill": {
        summary: "can the newest backup of each appliance be restored? (0 restorable, 2 not, 1 error)",
        load: () => require("./restore-drill/run").main,
    },
    fleet: {
        summary: "one command (preview, up, drift, restore-drill) over many stacks, K at a time (0, 2, 1 as above)",
        load: () => require("./fleet/run").main,
    },
    probe: {
        summary: "does a real appliance answer as the vendor driver expects? read-only (0 as expected, 2 differs, 1 unreachable)",
        load: () => require("./probe/run").main,
    },
    adopt: {
        summary: "read an appliance set up by hand and write the stack config that describes it (0 adopted, 1 error)",
        load: () => require("./adopt/run").main,
    },
};

function version(): string {
    // The package's own manifest, through its exports map: the same path from the
    // sources and from dist/, in this repository and in a consumer's node_modules.
    return (require("senhasegura-backup/package.json") as { version: string }).version;
}

export const USAGE = `usage: senhasegura-backup <tool> [flags]      (senhasegura-backup <tool> --help for its flags)

${Object.entries(TOOLS).map(([name, t]) => `  ${name.padEnd(14)} ${t.summary}`).join("\n")}

  --version      print the package's version
  --help         print this

Each tool works on the Pulumi project in the current directory (or the nearest one
above it; --cwd DIR to name another) and its stacks. The stacks' passphrase comes
from PULUMI_CONFIG_PASSPHRASE (or _FILE), never from arguments.`;

async function main(argv: readonly string[]): Promise<number> {
    const [name, ...rest] = argv;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
        (name === undefined ? process.stderr : process.stdout).write(`${USAGE}\n`);
        return name === undefined ? 1 : 0;
    }
    if (name === "--version") { process.stdout.write(`${version()}\n`); return 0; }
    const tool = Object.hasOwn(TOOLS, name) ? TOOLS[name] : undefined;
    if (!tool) {
        process.stderr.write(`senhasegura-backup: unknown tool ${JSON.stringify(name)}: use one of ${Object.keys(TOOLS).join(", ")}\n\n${USAGE}\n`);
        return 1;
    }
    return runTool(name, tool.load(), rest);
}

/**
 * Runs one tool to its exit code. A tool whose work is left waiting on nothing (the
 * event loop drained before it answered) says so and exits 1: it proved nothing.
 */
async function runTool(name: string, toolMain: ToolMain, argv: readonly string[]): Promise<number> {
    let settled = false;
    process.on("exit", () => {
        if (!settled) {
            process.stderr.write(`${name}: stopped before it finished, so nothing is proven\n`);
            process.exitCode = 1;
        }
    });
    try {
        return await toolMain(argv);
    } catch (err) {
        process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
        return 1;
    } finally {
        settled = true;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
