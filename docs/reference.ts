// The generator of docs/resources.md's input tables: each table is made from a
// resource's zod schema (types, required fields and defaults, through zod's
// toJSONSchema) and the TSDoc comment on each field (read with the TypeScript
// compiler API), so the reference cannot say what the code does not. The prose
// around the tables is written by hand and kept as it is.
//
//   npm run docs            rewrites docs/resources.md
//   npm run docs -- --check exits 1 when the committed file is stale (the unit test does the same)
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { z } from "zod";
import { ApplianceConnection } from "../providers/appliance/connection";
import { ApplianceHostKeyArgs } from "../providers/resources/appliance-host-key";
import { ApplianceRootKeyArgs } from "../providers/resources/appliance-root-key";
import { AuthorizedKeyArgs } from "../providers/resources/authorized-key";
import { BackupPolicyArgs } from "../providers/resources/backup-policy";
import { BackupVerificationArgs } from "../providers/resources/backup-verification";
import { RemotePartitionArgs } from "../providers/resources/remote-partition";
import { RsyncTargetArgs } from "../providers/resources/rsync-target";

const REPO = path.resolve(__dirname, "..");
export const REFERENCE_FILE = path.join(REPO, "docs", "resources.md");

/** Where an object literal with a schema's TSDoc is declared. */
interface Source { file: string; declaration: string }
/** One generated table: the schema, and where its object literals (with the TSDoc) are declared. */
interface Table { name: string; schema: z.ZodType; file: string; declaration: string; more?: readonly Source[] }

export const TABLES: readonly Table[] = [
    {
        name: "connection", schema: ApplianceConnection, file: "providers/appliance/connection.ts", declaration: "ApplianceConnection",
        more: [{ file: "providers/transport/connection.ts", declaration: "connectionShape" }],
    },
    { name: "ApplianceRootKey", schema: ApplianceRootKeyArgs, file: "providers/resources/appliance-root-key.ts", declaration: "ApplianceRootKeyArgs" },
    { name: "AuthorizedKey", schema: AuthorizedKeyArgs, file: "providers/resources/authorized-key.ts", declaration: "AuthorizedKeyArgs" },
    { name: "RsyncTarget", schema: RsyncTargetArgs, file: "providers/resources/rsync-target.ts", declaration: "RsyncTargetArgs" },
    { name: "RemotePartition", schema: RemotePartitionArgs, file: "providers/resources/remote-partition.ts", declaration: "RemotePartitionArgs" },
    { name: "BackupPolicy", schema: BackupPolicyArgs, file: "providers/resources/backup-policy.ts", declaration: "BackupPolicyArgs" },
    { name: "ApplianceHostKey", schema: ApplianceHostKeyArgs, file: "providers/resources/appliance-host-key.ts", declaration: "ApplianceHostKeyArgs" },
    { name: "BackupVerification", schema: BackupVerificationArgs, file: "providers/resources/backup-verification.ts", declaration: "BackupVerificationArgs" },
];

/** A field's TSDoc: its text, and its @default tag when it has one. */
export interface FieldDoc { text: string; default?: string }

/** The TSDoc of each property of the first object literal inside `declaration` (a const or a function) in `source`. Pure. */
export function fieldDocs(source: string, declaration: string, fileName = "schema.ts"): Map<string, FieldDoc> {
    const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true);
    let scope: ts.Node | undefined;
    const findScope = (node: ts.Node): void => {
        if (scope) return;
        if ((ts.isVariableDeclaration(node) || ts.isFunctionDeclaration(node)) && node.name && ts.isIdentifier(node.name) && node.name.text === declaration) scope = node;
        else ts.forEachChild(node, findScope);
    };
    findScope(file);
    if (!scope) throw new Error(`${fileName}: no declaration named ${declaration}`);
    let literal: ts.ObjectLiteralExpression | undefined;
    const findLiteral = (node: ts.Node): void => {
        if (literal) return;
        if (ts.isObjectLiteralExpression(node)) literal = node;
        else ts.forEachChild(node, findLiteral);
    };
    findLiteral(scope);
    if (!literal) throw new Error(`${fileName}: ${declaration} holds no object literal`);
    const docs = new Map<string, FieldDoc>();
    for (const property of literal.properties) {
        if (!property.name || !ts.isIdentifier(property.name)) continue;
        const comment = ts.getLeadingCommentRanges(source, property.getFullStart())?.filter((c) => source.startsWith("/**", c.pos)).pop();
        if (!comment) continue;
        const body = source.slice(comment.pos + 3, comment.end - 2).split("\n").map((l) => l.replace(/^\s*\*?\s?/, "")).join(" ").replace(/\s+/g, " ").trim();
        const at = body.search(/(^|\s)@default\s/);
        docs.set(property.name.text, at < 0 ? { text: body } : { text: body.slice(0, at).trim(), default: body.slice(at).replace(/^\s*@default\s+/, "").trim() });
    }
    return docs;
}

type JsonSchema = { type?: string | string[]; const?: unknown; enum?: unknown[]; minimum?: number; maximum?: number; minLength?: number; maxLength?: number;
    items?: JsonSchema; anyOf?: JsonSchema[]; oneOf?: JsonSchema[]; properties?: Record<string, JsonSchema>; required?: string[]; default?: unknown };

/** A short type for a JSON Schema node, as the table shows it. Pure. */
export function typeText(s: JsonSchema): string {
    if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
    if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" or ");
    const union = s.anyOf ?? s.oneOf;
    if (union) return [...new Set(union.map(typeText))].join(" or ");
    const range = (low?: number, high?: number) => (low !== undefined && high !== undefined ? ` ${low}–${high}` : low !== undefined ? ` ≥ ${low}` : high !== undefined ? ` ≤ ${high}` : "");
    switch (s.type) {
        case "integer": return `integer${range(s.minimum, s.maximum)}`;
        case "number": return `number${range(s.minimum, s.maximum)}`;
        case "array": return s.items ? `list of ${typeText(s.items)}` : "list";
        case "object": return "object";
        case undefined: return "any";
        default: return Array.isArray(s.type) ? s.type.join(" or ") : s.type;
    }
}

const cell = (text: string) => text.replace(/\|/g, "\\|");

/** The markdown table of one schema's fields. Pure but for reading the schema's source file. */
export function renderTable(table: Table, source: string, moreSources: readonly string[] = []): string {
    const json = z.toJSONSchema(table.schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
    const docs = fieldDocs(source, table.declaration, table.file);
    (table.more ?? []).forEach((more, i) => {
        for (const [field, doc] of fieldDocs(moreSources[i] ?? "", more.declaration, more.file)) if (!docs.has(field)) docs.set(field, doc);
    });
    const rows = Object.entries(json.properties ?? {}).map(([field, s]) => {
        const doc = docs.get(field);
        if (!doc || doc.text === "" && doc.default === undefined) throw new Error(`${table.file}: ${table.declaration}.${field} has no TSDoc comment; the reference takes its description from there`);
        const required = json.required?.includes(field);
        const fallback = doc.default ?? (s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : "not set");
        // Every resource's connection has the section of its own the table links to.
        const type = field === "connection" ? "object: [the connection](#the-connection-every-resource)" : typeText(s);
        return `| \`${field}\` | ${cell(type)} | ${required ? "**required**" : cell(fallback)} | ${cell(doc.text)} |`;
    });
    return ["| field | type | default | what it is |", "|---|---|---|---|", ...rows].join("\n");
}

const BEGIN = (name: string) => `<!-- generated: the inputs of ${name}, from its zod schema and TSDoc (npm run docs); edit those, not this table -->`;
const END = "<!-- end of generated table -->";

/** The reference with every generated table replaced by `tables`' text; throws naming a table without its markers. Pure. */
export function withTables(doc: string, tables: ReadonlyMap<string, string>): string {
    let out = doc;
    for (const [name, text] of tables) {
        const begin = out.indexOf(BEGIN(name));
        const end = begin < 0 ? -1 : out.indexOf(END, begin);
        if (begin < 0 || end < 0) throw new Error(`${path.relative(REPO, REFERENCE_FILE)} has no markers for the ${name} table: put ${JSON.stringify(BEGIN(name))} and ${JSON.stringify(END)} where it goes`);
        out = `${out.slice(0, begin)}${BEGIN(name)}\n${text}\n${out.slice(end)}`;
    }
    return out;
}

/** docs/resources.md as the code says it should read now. */
export function generatedReference(): string {
    const read = (file: string) => fs.readFileSync(path.join(REPO, file), "utf8");
    const tables = new Map(TABLES.map((t) => [t.name, renderTable(t, read(t.file), (t.more ?? []).map((m) => read(m.file)))]));
    return withTables(fs.readFileSync(REFERENCE_FILE, "utf8"), tables);
}

if (require.main === module) {
    const check = process.argv.includes("--check");
    const current = fs.readFileSync(REFERENCE_FILE, "utf8");
    const wanted = generatedReference();
    if (check) {
        if (current !== wanted) {
            process.stderr.write("docs/resources.md is stale: its input tables differ from the zod schemas and TSDoc. Run npm run docs and commit the result.\n");
            process.exit(1);
        }
    } else if (current !== wanted) {
        fs.writeFileSync(REFERENCE_FILE, wanted);
        process.stdout.write("docs/resources.md: input tables rewritten\n");
    } else {
        process.stdout.write("docs/resources.md: up to date\n");
    }
}
