// The command line of every tool: node:util parseArgs, read token by token so that
// each refusal names the flag and the rule in this project's words. Pure.
import * as path from "path";
import { parseArgs } from "node:util";

/** A bad command line: the tool prints the message and its usage, and exits 1. */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

export interface FlagSpec {
    type: "string" | "boolean";
    /** A one-letter alias, e.g. "s" for --stack. */
    short?: string;
    /** May be given more than once; otherwise a second one is refused. */
    multiple?: boolean;
}
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type Value<S extends FlagSpec> = S["type"] extends "string" ? (S["multiple"] extends true ? string[] : string) : boolean;
export type FlagValues<F extends FlagSpecs> = { -readonly [K in keyof F]?: Value<F[K]> };

export interface ParsedCommandLine<F extends FlagSpecs> {
    values: FlagValues<F>;
    /** Arguments that are not flags, before any `--`. */
    positionals: string[];
    /** Everything after the first `--`, untouched. */
    rest: string[];
}

export interface ParseOptions {
    /** Whether words that are not flags are accepted (a command name, say); refused by default. */
    positionals?: boolean;
    /** Whether `--` is accepted, and what follows it kept in `rest`; refused by default. */
    rest?: boolean;
}

/**
 * Parses argv against the flags; `-h`/`--help` anywhere before `--` answers "help".
 * `--flag=value` and `--flag value` both work; a value may not be empty, nor a
 * separate word starting with `--` (that is the next flag, and the value was forgotten).
 */
export function parseFlags<const F extends FlagSpecs>(argv: readonly string[], flags: F, options: ParseOptions = {}): ParsedCommandLine<F> | "help" {
    const config: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = { help: { type: "boolean", short: "h" } };
    for (const [name, spec] of Object.entries(flags)) config[name] = { type: spec.type, multiple: true, ...(spec.short ? { short: spec.short } : {}) };
    // strict: false, so that parseArgs hands every token over and the checks below word the refusals.
    const { tokens } = parseArgs({ args: [...argv], options: config, strict: false, allowPositionals: true, tokens: true });
    const values: Record<string, unknown> = {};
    const positionals: string[] = [];
    let terminator: number | undefined;
    for (const token of tokens) {
        if (token.kind === "option-terminator") { terminator = token.index; break; }
        if (token.kind === "positional") {
            if (!options.positionals) throw new UsageError(`unknown argument ${JSON.stringify(token.value)}`);
            positionals.push(token.value);
            continue;
        }
        if (token.name === "help" && !(token.name in flags)) return "help";
        const spec = flags[token.name];
        const flag = `--${token.name}`;
        if (spec === undefined || (token.rawName.startsWith("--") && token.rawName !== flag)) {
            throw new UsageError(`unknown argument ${JSON.stringify(argv[token.index])}`);
        }
        if (spec.type === "boolean") {
            if (token.inlineValue) throw new UsageError(`${flag} takes no value, but ${JSON.stringify(token.value)} was provided`);
            values[token.name] = true;
            continue;
        }
        const value = token.value;
        if (value === undefined || value === "" || (!token.inlineValue && value.startsWith("--"))) throw new UsageError(`${flag} needs a value`);
        if (spec.multiple) values[token.name] = [...((values[token.name] as string[] | undefined) ?? []), value];
        else if (values[token.name] !== undefined) throw new UsageError(`${flag} is given twice`);
        else values[token.name] = value;
    }
    const rest = terminator === undefined ? [] : argv.slice(terminator + 1);
    if (terminator !== undefined && !options.rest) throw new UsageError(`unknown argument "--"${rest.length ? ` (before ${JSON.stringify(rest[0])})` : ""}`);
    return { values: values as FlagValues<F>, positionals, rest };
}

/**
 * The Pulumi project a tool works on when --cwd is not given: the nearest directory,
 * from the current one upward, that holds a Pulumi.yaml, as the pulumi CLI itself
 * finds it; else the current directory (where pulumi then says what is missing).
 */
export function projectDirectory(from: string, exists: (file: string) => boolean): string {
    for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
        if (exists(path.join(dir, "Pulumi.yaml")) || exists(path.join(dir, "Pulumi.yml"))) return dir;
        if (path.dirname(dir) === dir) return path.resolve(from);
    }
}
