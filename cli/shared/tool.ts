// What every tool of the CLI exports: its entry, from its arguments to its exit code.
/** A tool's entry: prints its own output and usage errors, and resolves to its exit code. */
export type ToolMain = (argv: readonly string[]) => Promise<number>;
