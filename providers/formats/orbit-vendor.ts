// The text a real appliance's `orbit` prints, as the vendor documents it
// (docs/vendor-appliance.md lists each sample and its source), parsed here and
// nowhere else. Every parser tolerates CRLF, blank lines and sudo's prompt, and
// fails closed: an answer it does not recognise throws UnexpectedAnswer with the
// answer itself, so the user can see what the appliance said and report it.

/** An orbit answer that does not match what the vendor documents. Pure: the driver adds host and hint. */
export class UnexpectedAnswer extends Error {
    constructor(
        /** What was expected, in words ("the version table of `orbit version`"). */
        readonly expected: string,
        /** Why it did not match. */
        readonly why: string,
        /** The answer, as printed (the driver redacts secrets before it gets here). */
        readonly answer: string,
    ) {
        super(`expected ${expected}, but ${why}; the appliance answered: ${quoteAnswer(answer)}`);
        this.name = "UnexpectedAnswer";
    }
}

/** The answer in a message: at most 12 lines and 600 characters, control characters shown as \xNN. */
export function quoteAnswer(answer: string): string {
    const lines = meaningfulLines(answer);
    if (lines.length === 0) return "(nothing)";
    let text = lines.slice(0, 12).join(" | ");
    if (lines.length > 12) text += ` | … (${lines.length - 12} more lines)`;
    text = text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
    return text.length > 600 ? `${text.slice(0, 597)}...` : text;
}

/** The lines that carry an answer: CRLF and trailing blanks removed, empty lines and sudo's password prompt dropped. */
export function meaningfulLines(text: string): string[] {
    return text.split(/\r?\n|\r/).map((l) => l.replace(/\s+$/, "")).filter((l) => l.trim() !== "" && !/^\[sudo\] password for /.test(l));
}

/** What every privileged orbit call prints when run without root (vendor: About the Orbit CLI). */
export const NOT_ROOT = "This program must be run with root permissions!";

// ------------------------------------------------------------------ orbit version

export interface OrbitVersion {
    /** The Orbit CLI's version, e.g. "3.31.1-4". */
    version: string;
    /** The application packages' table: name → version. */
    packages: Record<string, string>;
}

const VERSION_HEADER = /^senhasegura Orbit Command-Line Interface$/i;
const VERSION_LINE = /^Version\s+(\d+(?:\.\d+)+(?:[-+.~][0-9A-Za-z.+~-]+)?)$/;
const TABLE_RULE = /^\+[-+]+\+$/;
const TABLE_ROW = /^\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|$/;

/**
 * `orbit version`: a header, `Version X`, then a table of application packages
 * (vendor: How to check the senhasegura version). The table's heading row is
 * recognised by its words, not its spacing (the vendor's sample is misaligned).
 */
export function parseOrbitVersion(text: string): OrbitVersion {
    const lines = meaningfulLines(text).map((l) => l.trim());
    const expected = "the answer of `orbit version` (a header, `Version X.Y.Z-N` and a package table)";
    if (lines.includes(NOT_ROOT)) throw new UnexpectedAnswer(expected, "orbit says it was not run as root", text);
    const headerAt = lines.findIndex((l) => VERSION_HEADER.test(l));
    if (headerAt < 0) throw new UnexpectedAnswer(expected, "the header `senhasegura Orbit Command-Line Interface` is missing", text);
    const version = VERSION_LINE.exec(lines[headerAt + 1] ?? "");
    if (!version) throw new UnexpectedAnswer(expected, "no `Version …` line follows the header", text);
    const packages: Record<string, string> = {};
    for (const line of lines.slice(headerAt + 2)) {
        if (TABLE_RULE.test(line)) continue;
        const row = TABLE_ROW.exec(line);
        if (!row) throw new UnexpectedAnswer(expected, `the line ${JSON.stringify(line)} is not a table row`, text);
        if (/^APPLICATION PACKAGES$/i.test(row[1]) && /^VERSION$/i.test(row[2])) continue;
        packages[row[1]] = row[2];
    }
    if (Object.keys(packages).length === 0) throw new UnexpectedAnswer(expected, "the package table is empty", text);
    return { version: version[1], packages };
}


// ------------------------------------------------------------------ orbit backup time --show

/**
 * `orbit backup time --show`. ASSUMPTION (the vendor documents the flag, not its
 * output; the probe checks it): the answer names exactly one hour, 0 to 24, as a
 * bare number ("5"), an hour of the clock ("05:00") or in a sentence ("Backup daily
 * time: 5"). Two numbers that could each be the hour are refused, not guessed.
 */
export function parseBackupTimeShow(text: string): number {
    const expected = "the answer of `orbit backup time --show` (one hour, 0 to 24)";
    const lines = meaningfulLines(text);
    if (lines.some((l) => l.trim() === NOT_ROOT)) throw new UnexpectedAnswer(expected, "orbit says it was not run as root", text);
    const hours: number[] = [];
    for (const line of lines) {
        for (const m of line.matchAll(/(?<![\d.:])(\d{1,2})(?::00(?::00)?)?(?![\d.:])/g)) hours.push(Number(m[1]));
    }
    const candidates = [...new Set(hours.filter((h) => h >= 0 && h <= 24))];
    if (candidates.length === 0) throw new UnexpectedAnswer(expected, "it names no hour", text);
    if (candidates.length > 1 || hours.length !== hours.filter((h) => h === candidates[0]).length) {
        throw new UnexpectedAnswer(expected, `it names more than one number (${hours.join(", ")}), so the hour is ambiguous`, text);
    }
    // 24 and 0 are the same hour of the day; the project's hour is 0-23.
    return candidates[0] % 24;
}

// ------------------------------------------------------------------ orbit partition

export type PartitionAnswer =
    | { kind: "done" }
    | { kind: "remounted"; options: Record<string, string> };

const PROCEED_PROMPT = /^Are you sure you want to proceed:\s*[yYnN]?\s*/;

/**
 * The answer of a partition change (vendor: How to configure remote partitions):
 * the prompt, then `Done!` and `No errors reported`, or `Partition remounted
 * successfully` with the options mount.cifs was given. Anything else, an error line
 * above all, fails closed.
 */
export function parsePartitionAnswer(text: string): PartitionAnswer {
    const expected = "`Done!` and `No errors reported`, or `Partition remounted successfully`";
    const lines = meaningfulLines(text).map((l) => l.replace(PROCEED_PROMPT, "").trim()).filter(Boolean);
    if (lines.includes(NOT_ROOT)) throw new UnexpectedAnswer(expected, "orbit says it was not run as root", text);
    if (lines[0] === "Done!" && lines[1] === "No errors reported" && lines.length === 2) return { kind: "done" };
    if (lines[0] === "Partition remounted successfully") return { kind: "remounted", options: parseMountOptions(lines.slice(1).join("\n")) };
    throw new UnexpectedAnswer(expected, "orbit did not report success", text);
}

/**
 * The mount options orbit echoes after a remount: `- key=value` lines and a
 * `mount.cifs kernel mount options: a=b,c=d,…` list that may wrap over lines. The
 * password comes back masked (`pass=*******`) and is dropped here either way.
 */
export function parseMountOptions(text: string): Record<string, string> {
    const options: Record<string, string> = {};
    const joined = meaningfulLines(text).map((l) => l.trim()).join("\n");
    for (const line of joined.split("\n")) {
        const dash = /^-\s*([A-Za-z_][\w.-]*)=(.*)$/.exec(line);
        if (dash) options[dash[1]] = dash[2];
    }
    const kernel = /mount\.cifs kernel mount options:\s*([\s\S]*)$/.exec(joined);
    if (kernel) {
        for (const part of kernel[1].replace(/\n/g, "").split(",")) {
            const at = part.indexOf("=");
            const key = (at < 0 ? part : part.slice(0, at)).trim();
            if (key === "" || /^pass(word)?$/.test(key)) continue;
            options[key] = at < 0 ? "" : part.slice(at + 1).trim();
        }
    }
    return options;
}

// ------------------------------------------------------------------ orbit backup create and its log

export interface BackupLogLine {
    /** As printed, appliance time: "2024-02-28 15:16:49". */
    time: string;
    /** "BACKUP", "senhasegura DB", "senhasegura FILE", … */
    component: string;
    level: string;
    message: string;
}

const LOG_LINE = /^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\]:\s+(.+?)\s+(INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL|DEBUG)\s+(.*)$/;

/** One line of the backup log, `[YYYY-MM-DD hh:mm:ss]: <component> <LEVEL> <message>`, or undefined. */
export function parseBackupLogLine(line: string): BackupLogLine | undefined {
    const m = LOG_LINE.exec(line.trim());
    return m ? { time: m[1], component: m[2], level: m[3], message: m[4] } : undefined;
}

export interface BackupRun {
    /** The log lines the run printed. */
    lines: BackupLogLine[];
    /** The files the run says it wrote: the database dumps it names. */
    files: string[];
    /** Whether a `… backup successfully performed` line was printed. */
    succeeded: boolean;
    /** The ERROR (or worse) lines. */
    errors: BackupLogLine[];
    /** `Duration: 18.402217738s`, in seconds, when printed. */
    durationSec?: number;
}

const SUCCESS = /backup successfully performed$/;
const DUMP = /^Starting database backup to (\/\S+)$/;
const FAILURE_LEVELS = new Set(["ERROR", "CRITICAL", "FATAL"]);

/**
 * What `orbit backup create` printed (vendor: How to configure backup), or the
 * backup log's lines: its prompt, `Orbini Backup <version>`, the log lines and
 * `Duration: …`. Lines of another shape are ignored, since the vendor's sample
 * says some are suppressed; the verdict rests on the success and ERROR lines.
 */
export function parseBackupRun(text: string): BackupRun {
    const lines: BackupLogLine[] = [];
    let durationSec: number | undefined;
    for (const raw of meaningfulLines(text)) {
        const line = parseBackupLogLine(raw);
        if (line) { lines.push(line); continue; }
        const duration = /^Duration:\s*([\d.]+)s$/.exec(raw.trim());
        if (duration) durationSec = Number(duration[1]);
    }
    const errors = lines.filter((l) => FAILURE_LEVELS.has(l.level));
    const files = lines.map((l) => DUMP.exec(l.message)?.[1]).filter((f): f is string => f !== undefined);
    return { lines, files, succeeded: lines.some((l) => SUCCESS.test(l.message)), errors, durationSec };
}

export interface BackupHistory {
    /** The last `… backup successfully performed` line, or undefined when the log holds none. */
    lastSuccess?: BackupLogLine;
    /** ERROR (or worse) lines after it (every one, when there is no success). */
    errorsAfter: BackupLogLine[];
}

/**
 * The backup log's tail (/var/log/orbinibkp.log, the vendor's `tail -f`): the last
 * successful run and the failures since. The log holds every run, the daily ones
 * included, so this is the appliance's own account of its backups.
 */
export function parseBackupHistory(text: string): BackupHistory {
    const lines = parseBackupRun(text).lines;
    let last = -1;
    lines.forEach((l, i) => { if (SUCCESS.test(l.message)) last = i; });
    return { ...(last >= 0 ? { lastSuccess: lines[last] } : {}), errorsAfter: lines.slice(last + 1).filter((l) => FAILURE_LEVELS.has(l.level)) };
}

/**
 * A log time (`YYYY-MM-DD hh:mm:ss`, the appliance's local time) as an ISO instant,
 * with the appliance's UTC offset as `date +%z` prints it (`+0000`, `-0300`).
 */
export function logTimeToIso(time: string, offset: string): string | undefined {
    const m = /^([+-])(\d\d)(\d\d)$/.exec(offset.trim());
    if (!m) return undefined;
    const iso = `${time.replace(" ", "T")}${m[1]}${m[2]}:${m[3]}`;
    return Number.isNaN(Date.parse(iso)) ? undefined : new Date(iso).toISOString();
}
