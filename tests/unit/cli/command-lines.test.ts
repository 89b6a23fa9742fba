// Every tool's command line through the shared parseFlags (node:util parseArgs):
// the same four cases for each, so that no tool words a refusal its own way. The
// parsers are pure; nothing here runs a tool.
import { strict as assert } from "assert";
import { UsageError } from "../../../cli/shared/args";
import { parseArgs as parseAdopt } from "../../../cli/adopt/plan";
import { parseArgs as parseDrift } from "../../../cli/drift/plan";
import { parseFleetArgs } from "../../../cli/fleet/plan";
import { parseArgs as parseDrill } from "../../../cli/restore-drill/plan";
import { ed25519PublicKey } from "../../support/keys";

const APPLIANCE = ["--host", "10.0.0.5", "--host-key", ed25519PublicKey(), "--private-key-file", "/keys/mt4adm"];
const noFiles = { cwd: "/work", project: "/work", readAppliances: () => { throw new Error("no file is read here"); } };

/** Each tool: how to parse, and the words every valid command line starts with (the command, the flags it requires). */
const TOOLS: Array<{ tool: string; parse: (argv: string[]) => unknown; base: string[]; rest: "refused" | "kept" }> = [
    { tool: "drift", parse: (argv) => parseDrift(argv, "/work"), base: [], rest: "refused" },
    { tool: "restore-drill", parse: (argv) => parseDrill(argv, "/work"), base: [], rest: "refused" },
    { tool: "adopt", parse: (argv) => parseAdopt(argv, noFiles), base: APPLIANCE, rest: "refused" },
    { tool: "fleet", parse: (argv) => parseFleetArgs(argv, "/work"), base: ["drift", "--all"], rest: "kept" },
];

function refusal(parse: (argv: string[]) => unknown, argv: string[]): string {
    try {
        parse(argv);
    } catch (err) {
        assert.ok(err instanceof UsageError, `not a UsageError: ${err}`);
        return err.message;
    }
    assert.fail(`accepted ${JSON.stringify(argv)}`);
}

for (const { tool, parse, base, rest } of TOOLS) {
    describe(`senhasegura-backup ${tool}: its command line`, () => {
        it("refuses an unknown flag, naming it as given", () => {
            assert.match(refusal(parse, [...base, "--bogus=1"]), /^unknown argument "--bogus=1"/);
            assert.match(refusal(parse, [...base, "--stak", "prod"]), /^unknown argument "--stak"/, "a prefix of --stack is not --stack");
        });

        it("refuses a flag without its value: at the end, before the next flag, or empty after =", () => {
            assert.match(refusal(parse, [...base, "--cwd"]), /^--cwd needs a value$/);
            assert.match(refusal(parse, [...base, "--cwd", "--json"]), /^--cwd needs a value$/);
            assert.match(refusal(parse, [...base, "--cwd="]), /^--cwd needs a value$/);
        });

        it("reads --flag=value as --flag value, and -C as --cwd", () => {
            const spaced = parse([...base, "--cwd", "/srv/project"]);
            assert.deepEqual(parse([...base, "--cwd=/srv/project"]), spaced);
            assert.deepEqual(parse([...base, "-C", "/srv/project"]), spaced);
            assert.equal((spaced as { cwd: string }).cwd, "/srv/project");
        });

        if (rest === "refused") {
            it("refuses --, since it takes no arguments for another tool", () => {
                assert.match(refusal(parse, [...base, "--", "--json"]), /^unknown argument "--" \(before "--json"\)$/);
            });
        } else {
            it("keeps what follows -- for each stack's tool, untouched", () => {
                assert.deepEqual((parse([...base, "--", "--no-backup-age"]) as { passthrough: string[] }).passthrough, ["--no-backup-age"]);
            });
        }

        it("answers help for -h and --help, wherever they stand before --", () => {
            assert.equal(parse(["--help"]), "help");
            assert.equal(parse([...base, "-h"]), "help");
        });
    });
}
