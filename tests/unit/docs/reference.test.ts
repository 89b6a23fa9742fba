// docs/resources.md's input tables against the code they are generated from
// (docs/reference.ts): the committed file must be what the generator writes now,
// and the generator's pure parts read TSDoc and place tables as they should.
import { strict as assert } from "assert";
import * as fs from "fs";
import { z } from "zod";
import { REFERENCE_FILE, TABLES, fieldDocs, generatedReference, renderTable, typeText, withTables } from "../../../docs/reference";

describe("docs/resources.md: the input tables generated from the zod schemas and TSDoc", () => {
    it("is current: npm run docs would change nothing", () => {
        assert.ok(fs.readFileSync(REFERENCE_FILE, "utf8") === generatedReference(), "docs/resources.md is stale: run npm run docs and commit it");
    });

    it("has a table for every resource the package exports, and for the connection", () => {
        const provider = require("../../../providers/entry");
        const resources = Object.keys(provider).map((k) => k[0].toUpperCase() + k.slice(1));
        assert.deepEqual(TABLES.map((t) => t.name).sort(), [...resources, "connection"].sort());
    });

    it("reads a field's TSDoc and its @default tag, over several lines", () => {
        const source = `export const A = z.strictObject({
    /**
     * The port.
     * Any port. @default 22
     */
    port: Port,
    /** The host. */
    host: Hostname,
    noDoc: z.string(),
});`;
        const docs = fieldDocs(source, "A");
        assert.deepEqual(docs.get("port"), { text: "The port. Any port.", default: "22" });
        assert.deepEqual(docs.get("host"), { text: "The host." });
        assert.equal(docs.has("noDoc"), false);
    });

    it("refuses to render a field without TSDoc, naming it", () => {
        const schema = z.strictObject({ documented: z.string(), bare: z.number() });
        const source = "const S = z.strictObject({\n    /** Documented. */\n    documented: z.string(),\n    bare: z.number(),\n});";
        assert.throws(() => renderTable({ name: "S", schema, file: "s.ts", declaration: "S" }, source), /^Error: s\.ts: S\.bare has no TSDoc comment/);
    });

    it("shows types, required fields and zod defaults as a reader needs them", () => {
        assert.equal(typeText({ type: "integer", minimum: 0, maximum: 23 }), "integer 0–23");
        assert.equal(typeText({ enum: ["cifs", "nfs"] }), '`"cifs"` or `"nfs"`');
        assert.equal(typeText({ anyOf: [{ type: "string" }, { type: "string" }, { type: "boolean" }] }), "string or boolean");
        const schema = z.strictObject({ hour: z.number().int().min(0).max(23).default(5), name: z.string() });
        const table = renderTable({ name: "S", schema, file: "s.ts", declaration: "S" }, "const S = z.strictObject({\n    /** When. */\n    hour: x,\n    /** Who. */\n    name: y,\n});");
        assert.match(table, /^\| `hour` \| integer 0–23 \| `5` \| When\. \|$/m);
        assert.match(table, /^\| `name` \| string \| \*\*required\*\* \| Who\. \|$/m);
    });

    it("replaces only what stands between a table's markers, and says where markers are missing", () => {
        const begin = "<!-- generated: the inputs of X, from its zod schema and TSDoc (npm run docs); edit those, not this table -->";
        const doc = `# Head\n\nprose\n${begin}\nold table\n<!-- end of generated table -->\n\nmore prose\n`;
        assert.equal(withTables(doc, new Map([["X", "| new |"]])), `# Head\n\nprose\n${begin}\n| new |\n<!-- end of generated table -->\n\nmore prose\n`);
        assert.throws(() => withTables(doc, new Map([["Y", "t"]])), /has no markers for the Y table/);
    });
});
