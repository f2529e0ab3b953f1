/**
 * Strict inputs and portable JSON Schema: the table test over every tool through a real client, and
 * the rewriting rules on their own.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { TOOLSETS } from "../../src/tools/registry.ts";
import { portableJsonSchema, strictInput, unknownArgumentsMessage } from "../../src/tools/wire_schema.ts";
import { inMemoryClient } from "../_helpers/in_memory.ts";

/** The text of a tool result. */
function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? "").join("");
}

const ALL_TOOLS = TOOLSETS.flatMap((set) => set.tools);

Deno.test("every tool refuses an unknown argument, naming it and every accepted argument", async () => {
  await using stdio = await inMemoryClient();
  const listed = (await stdio.client.listTools()).tools.map((t) => t.name);
  assert.deepEqual(listed.toSorted(), ALL_TOOLS.map((t) => t.name).toSorted());
  for (const tool of ALL_TOOLS) {
    const result = await stdio.client.callTool({ name: tool.name, arguments: { not_an_argument: 1 } });
    const text = textOf(result);
    assert.equal(result.isError, true, `${tool.name} accepted an unknown argument: ${text}`);
    assert.match(text, /Unknown argument "not_an_argument"/, tool.name);
    assert.match(text, new RegExp(`tool "${tool.name}"`), tool.name);
    const accepted = /Accepted arguments: ([^.]*)\./.exec(text)?.[1] ?? "";
    assert.deepEqual(
      accepted === "none" ? [] : accepted.split(", "),
      Object.keys(tool.input.shape),
      `${tool.name} lists its accepted arguments`,
    );
  }
});

Deno.test("a misspelt argument is refused with the near name instead of being dropped", async () => {
  await using stdio = await inMemoryClient();
  // Dropped silently, `taget` would have run the command on the default connection instead.
  const result = await stdio.client.callTool({
    name: "run",
    arguments: { taget: "db-1", command: "uptime" },
  });
  assert.equal(result.isError, true);
  assert.match(textOf(result), /Unknown argument "taget" \(did you mean "target"\?\) for tool "run"/);
  assert.match(textOf(result), /Nothing was done/);
});

Deno.test("tools/list: inputs are closed objects at every level and no schema uses a type array", async () => {
  await using stdio = await inMemoryClient();
  const { tools } = await stdio.client.listTools();
  const problems: string[] = [];
  const walk = (node: unknown, path: string, input: boolean) => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`, input));
    if (node === null || typeof node !== "object") return;
    const schema = node as Record<string, unknown>;
    if (Array.isArray(schema.type)) problems.push(`${path}: type array ${JSON.stringify(schema.type)}`);
    if (input && "properties" in schema && schema.additionalProperties !== false) {
      problems.push(`${path}: object without additionalProperties: false`);
    }
    for (const [key, value] of Object.entries(schema)) {
      if (key !== "enum" && key !== "const" && key !== "default") walk(value, `${path}.${key}`, input);
    }
  };
  for (const tool of tools) {
    walk(tool.inputSchema, `${tool.name}.inputSchema`, true);
    walk(tool.outputSchema, `${tool.name}.outputSchema`, false);
  }
  assert.deepEqual(problems, []);
});

Deno.test("portableJsonSchema() splits type arrays into anyOf branches, annotations outside", () => {
  assert.deepEqual(
    portableJsonSchema({ description: "d", type: ["string", "null"], minLength: 1 }),
    { description: "d", anyOf: [{ type: "string", minLength: 1 }, { type: "null" }] },
  );
  assert.deepEqual(
    portableJsonSchema({
      type: "object",
      properties: {
        a: { type: ["integer", "null"] },
        b: { type: "array", items: { type: ["number", "null"] } },
      },
    }),
    {
      type: "object",
      properties: {
        a: { anyOf: [{ type: "integer" }, { type: "null" }] },
        b: { type: "array", items: { anyOf: [{ type: "number" }, { type: "null" }] } },
      },
    },
  );
  assert.deepEqual(portableJsonSchema({ type: ["string"] }), { type: "string" });
  assert.deepEqual(portableJsonSchema({ enum: [["x", "y"]], type: "array" }), {
    enum: [["x", "y"]],
    type: "array",
  });
});

Deno.test("zod's nullable fields come out as anyOf and validation is unchanged", async () => {
  const schema = z.object({ a: z.string().nullable().describe("d"), n: z.number().int().nullable() });
  const wire = strictInput(schema, { kind: "tool", name: "t" });
  const json = wire["~standard"].jsonSchema.input({ target: "draft-2020-12" });
  assert.equal(JSON.stringify(json).includes('"type":["'), false, JSON.stringify(json));
  assert.equal(json.additionalProperties, false);
  assert.deepEqual(await wire["~standard"].validate({ a: null, n: 3 }), { value: { a: null, n: 3 } });
  const bad = await wire["~standard"].validate({ a: 1, n: null });
  assert.ok("issues" in bad && bad.issues !== undefined && bad.issues.length > 0);
});

Deno.test("unknownArgumentsMessage() names every unknown argument, suggests near names, lists the accepted ones", () => {
  const schema = z.object({ command: z.string(), target: z.string().optional() });
  const owner = { kind: "tool" as const, name: "run" };
  assert.equal(unknownArgumentsMessage(schema, { command: "x" }, owner), undefined);
  const message = unknownArgumentsMessage(schema, { command: "x", comand: 1, zzz: 2 }, owner)!;
  assert.match(message, /^Unknown arguments "comand" \(did you mean "command"\?\), "zzz" for tool "run"\./);
  assert.match(message, /Accepted arguments: command, target\./);
  assert.match(
    unknownArgumentsMessage(z.object({}), { a: 1 }, { kind: "prompt", name: "p" })!,
    /Accepted arguments: none\./,
  );
});
