// parseFlags (cli/shared/args.ts), the one command-line reader of every tool, on
// flag specs of its own: each rule it enforces, and the words of each refusal.
import { strict as assert } from "assert";
import { type FlagSpecs, UsageError, parseFlags, projectDirectory } from "../../../../cli/shared/args";

const FLAGS = {
    stack: { type: "string", short: "s" },
    tag: { type: "string", multiple: true },
    json: { type: "boolean" },
} as const satisfies FlagSpecs;

const refused = (argv: string[], options = {}): string => {
    try {
        parseFlags(argv, FLAGS, options);
    } catch (err) {
        assert.ok(err instanceof UsageError);
        return err.message;
    }
    assert.fail(`accepted ${JSON.stringify(argv)}`);
};

describe("parseFlags: every tool's command line", () => {
    it("reads strings, booleans, a short alias and a repeatable flag", () => {
        assert.deepEqual(parseFlags(["-s", "prod", "--tag=a", "--tag", "b", "--json"], FLAGS), {
            values: { stack: "prod", tag: ["a", "b"], json: true }, positionals: [], rest: [],
        });
    });

    it("keeps a value that starts with - when it is joined by =, and one that is a single -", () => {
        assert.deepEqual(parseFlags(["--stack=--odd"], FLAGS), { values: { stack: "--odd" }, positionals: [], rest: [] });
        assert.deepEqual(parseFlags(["--stack", "-"], FLAGS), { values: { stack: "-" }, positionals: [], rest: [] });
    });

    it("refuses, naming the flag: a second value, a value for a boolean, an unknown short flag", () => {
        assert.equal(refused(["--stack", "a", "-s", "b"]), "--stack is given twice");
        assert.equal(refused(["--json=yes"]), '--json takes no value, but "yes" was provided');
        assert.equal(refused(["-x"]), 'unknown argument "-x"');
    });

    it("refuses words that are not flags, unless the tool takes them", () => {
        assert.equal(refused(["prod"]), 'unknown argument "prod"');
        assert.deepEqual(parseFlags(["drift", "--json"], FLAGS, { positionals: true }), { values: { json: true }, positionals: ["drift"], rest: [] });
    });

    it("keeps everything after the first -- untouched when the tool takes it, flags and -- included", () => {
        assert.deepEqual(parseFlags(["--json", "--", "--stack", "x", "--"], FLAGS, { rest: true }), { values: { json: true }, positionals: [], rest: ["--stack", "x", "--"] });
        assert.equal(refused(["--"]), 'unknown argument "--"');
    });

    it("answers help before --, and not after it", () => {
        assert.equal(parseFlags(["--stack", "a", "--help"], FLAGS), "help");
        assert.deepEqual(parseFlags(["--", "--help"], FLAGS, { rest: true }), { values: {}, positionals: [], rest: ["--help"] });
    });

    it("finds the project as pulumi does: the nearest Pulumi.yaml upward, else where it started", () => {
        const files = new Set(["/srv/project/Pulumi.yaml"]);
        assert.equal(projectDirectory("/srv/project/program/sub", (f) => files.has(f)), "/srv/project");
        assert.equal(projectDirectory("/tmp/elsewhere", (f) => files.has(f)), "/tmp/elsewhere");
    });
});
