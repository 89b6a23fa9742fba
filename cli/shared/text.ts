// Text as the tools print it. Pure.
import { stripVTControlCharacters } from "util";

/**
 * Engine output as plain text: without terminal colour codes, and without the
 * `<{%bold%}>` colour tags the Pulumi CLI puts into diagnostic messages.
 */
export function plainText(s: string): string {
    return stripVTControlCharacters(s).replace(/<\{%[^%]*%\}>/g, "");
}

/** A resource's name in its URN (the part after the last `::`). */
export function nameOf(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** The last error lines of a failed Automation API call (its stderr, else stdout, else the message), as plain text. */
export function commandErrors(err: unknown): string[] {
    const result = (err as { commandResult?: { stderr?: string; stdout?: string } }).commandResult;
    const text = plainText(result?.stderr || result?.stdout || (err instanceof Error ? err.message : String(err)));
    return text.split("\n").filter((l) => l.trim()).slice(-20);
}
