// The benchmark runners' command line: `--name value` options and `--name` flags.

/** Reads options from process.argv; a missing value fails with `usage`. */
export function commandLine(usage: string) {
    const option = (name: string): string | undefined => {
        const i = process.argv.indexOf(`--${name}`);
        if (i < 0) return undefined;
        const v = process.argv[i + 1];
        if (v === undefined || v.startsWith("--")) throw new Error(`--${name} needs a value\n${usage}`);
        return v;
    };
    const flag = (name: string) => process.argv.includes(`--${name}`);
    return { option, flag };
}
