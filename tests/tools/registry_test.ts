import assert from "node:assert/strict";
import { z } from "zod";
import { TOOLSET_NAMES } from "../../src/tools/define.ts";
import { selectTools, TOOLSETS } from "../../src/tools/registry.ts";
import { createServer } from "../../src/server.ts";
import { inProcessServer } from "../_helpers/in_memory.ts";

/** The seed's 42 tool names plus our extras. */
const SEED_TOOLS = [
  "connect",
  "disconnect",
  "run",
  "identity",
  "info",
  "read",
  "write",
  "edit",
  "list_dir",
  "sync",
  "docker_ps",
  "docker_logs",
  "docker_op",
  "docker_ip",
  "docker_find_by_ip",
  "docker_networks",
  "docker_cp_from",
  "docker_cp_to",
  "usage",
  "ps",
  "logs",
  "journal_read",
  "dmesg_read",
  "diagnose_system",
  "list_services",
  "db_query",
  "db_schema",
  "list_db_containers",
  "net_stat",
  "search_files",
  "search_text",
  "package_manage",
  "voip_discover_containers",
  "voip_sip_capture",
  "voip_call_flow",
  "voip_registrations",
  "voip_call_stats",
  "voip_extract_sdp",
  "voip_packet_check",
  "voip_network_capture",
  "voip_rtp_capture",
  "voip_network_diagnostics",
]; // deno-fmt-ignore
const EXTRA_TOOLS = ["connections", "upload", "download", "job_output", "job_cancel", "jobs"];

const all = TOOLSETS.flatMap((set) => set.tools);

Deno.test("tool names are unique and each is a seed name or a documented extra", () => {
  const names = all.map((t) => t.name);
  assert.equal(new Set(names).size, names.length);
  for (const name of names) assert.ok(SEED_TOOLS.includes(name) || EXTRA_TOOLS.includes(name), name);
  assert.equal(SEED_TOOLS.length, 42);
});

Deno.test("every registered toolset is one of the toolset names, at most once", () => {
  const names = TOOLSETS.map((s) => s.name);
  assert.equal(new Set(names).size, names.length);
  for (const name of names) assert.ok((TOOLSET_NAMES as readonly string[]).includes(name));
});

for (const tool of all) {
  Deno.test(`${tool.name}: description, title, hints and described fields follow the rules`, () => {
    assert.ok(
      tool.description.length >= 20 && tool.description.length <= 600,
      `description length ${tool.description.length}`,
    );
    assert.ok(tool.title.length > 0 && tool.title.length <= 60);
    assert.match(tool.name, /^[a-z][a-z0-9_]*$/);
    for (const hint of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
      assert.equal(typeof tool.annotations[hint], "boolean", hint);
    }
    if (tool.annotations.readOnlyHint) assert.equal(tool.annotations.destructiveHint, false);
    for (const [field, schema] of Object.entries(tool.input.shape)) {
      assert.ok((schema as z.ZodType).description, `input field ${field} has no description`);
    }
    for (const [field, schema] of Object.entries(tool.output.shape)) {
      assert.ok((schema as z.ZodType).description, `output field ${field} has no description`);
    }
  });
}

Deno.test("-read-only selects only tools whose readOnlyHint is true, and all of them", () => {
  const readOnly = selectTools({ toolsets: [...TOOLSET_NAMES], readOnly: true });
  assert.ok(readOnly.length > 0);
  assert.ok(readOnly.every((t) => t.annotations.readOnlyHint));
  assert.equal(readOnly.length, all.filter((t) => t.annotations.readOnlyHint).length);
});

Deno.test("-read-only hides upload and download (both write: on the host, or on the server's machine)", () => {
  const names = selectTools({ toolsets: [...TOOLSET_NAMES], readOnly: true }).map((t) => t.name);
  assert.ok(!names.includes("upload") && !names.includes("download"));
  const files = TOOLSETS.find((s) => s.name === "files")!.tools.map((t) => t.name);
  assert.ok(files.includes("upload") && files.includes("download"));
});

Deno.test("-toolsets selects only the named toolsets", () => {
  const core = selectTools({ toolsets: ["core"], readOnly: false });
  assert.deepEqual(
    core.map((t) => t.name),
    TOOLSETS.find((s) => s.name === "core")!.tools.map((t) => t.name),
  );
  assert.deepEqual(selectTools({ toolsets: [], readOnly: false }), []);
});

Deno.test("every tool appears in the README tool table", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  for (const tool of all) assert.match(readme, new RegExp(`^\\| \`${tool.name}\` +\\|`, "m"), tool.name);
});

Deno.test("server instances share the registered tools, their wire schemas and JSON Schema: an instance (one per idle legacy session) costs its middleware chain, not 48 tool records", async () => {
  const base = inProcessServer();
  const openScope = () => Promise.reject(new Error("unused"));
  const tools = (server: unknown) =>
    (server as { _registeredTools: Record<string, { inputSchema: object; outputSchema: object }> })
      ._registeredTools;
  const [a, b] = [createServer({ ...base.server, openScope }), createServer({ ...base.server, openScope })];
  assert.equal(tools(a), tools(b), "one table of registered tools (src/tools/shared_tools.ts)");
  for (const name of ["run", "read", "connect"]) {
    assert.equal(tools(a)[name]!.inputSchema, tools(b)[name]!.inputSchema, name);
    assert.equal(tools(a)[name]!.outputSchema, tools(b)[name]!.outputSchema, name);
  }
  const json = (schema: object) =>
    (schema as { "~standard": { jsonSchema: { input: (o: object) => object } } })["~standard"].jsonSchema
      .input({ target: "draft-2020-12" });
  const first = json(tools(a).run!.inputSchema);
  assert.equal(json(tools(b).run!.inputSchema), first, "converted once");
  assert.ok(Object.isFrozen(first), "shared, so frozen");
  await base.pool[Symbol.asyncDispose]();
});
