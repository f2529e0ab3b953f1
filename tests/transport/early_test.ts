/**
 * The first answer main.ts gives over stdio before the server is loaded (src/transport/early.ts):
 * byte for byte what the SDK answers for a built instance — every protocol version, both eras, the flag
 * sets that change the tools and prompts — declined for anything unusual (the SDK answers that), never
 * given twice, and never given to a probe the client abandoned for `initialize`.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/server";
import { serveStdio, StdioServerTransport } from "@modelcontextprotocol/server/stdio";
import { createServer } from "../../src/server.ts";
import { selectTools } from "../../src/tools/registry.ts";
import { TOOLSET_NAMES } from "../../src/tools/define.ts";
import { earlyAnswer, type StdinMessage, StdinRelay } from "../../src/transport/early.ts";
import { inProcessServer } from "../_helpers/in_memory.ts";
import { makeHome, serverEnv, startTaskArgs } from "../_helpers/server.ts";

const META = "io.modelcontextprotocol/";

function initialize(id: string | number, protocolVersion: string, capabilities: object = {}) {
  return {
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion, capabilities, clientInfo: { name: "early-test", version: "1.0" } },
  };
}

function discover(id: string | number, meta: Record<string, unknown> = {}) {
  return {
    jsonrpc: "2.0",
    id,
    method: "server/discover",
    params: {
      _meta: {
        [`${META}protocolVersion`]: "2026-07-28",
        [`${META}clientInfo`]: { name: "early-test", version: "1.0" },
        [`${META}clientCapabilities`]: { elicitation: {} },
        ...meta,
      },
    },
  };
}

/** The first line a fully built server instance writes for `message` over the SDK's stdio transport. */
async function sdkAnswer(flags: { toolsets?: string[]; readOnly?: boolean }, message: unknown) {
  const tools = selectTools({
    toolsets: (flags.toolsets ?? TOOLSET_NAMES) as typeof TOOLSET_NAMES,
    readOnly: flags.readOnly ?? false,
  });
  const base = inProcessServer({ tools });
  const input = new PassThrough();
  const output = new PassThrough();
  const handle = serveStdio(
    () => createServer({ ...base.server, openScope: () => Promise.reject(new Error("unused")) }),
    { transport: new StdioServerTransport(input, output) },
  );
  try {
    const line = new Promise<string>((resolve) => {
      let text = "";
      output.on("data", (chunk: Uint8Array) => {
        text += new TextDecoder().decode(chunk);
        if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n") + 1));
      });
    });
    input.write(JSON.stringify(message) + "\n");
    return await line;
  } finally {
    await handle.close();
    await base.pool[Symbol.asyncDispose]();
  }
}

const FLAG_SETS = [
  {},
  { toolsets: ["core"] }, // no runbook fits: no prompt, the capability is declared all the same
  { readOnly: true },
];

Deno.test("the early answer to initialize is the SDK's, byte for byte, for every version and flag set", async () => {
  const versions = [...SUPPORTED_PROTOCOL_VERSIONS, "2026-07-28", "1999-01-01"];
  for (const flags of FLAG_SETS) {
    for (const [i, version] of versions.entries()) {
      const message = initialize(i % 2 === 0 ? i : `id-${i}`, version, { roots: { listChanged: true } });
      const early = earlyAnswer(message);
      assert.ok(early !== undefined, version);
      assert.equal(early.line, await sdkAnswer(flags, message), `${JSON.stringify(flags)} ${version}`);
    }
  }
});

Deno.test("the early answer to server/discover is the SDK's, byte for byte, for every flag set", async () => {
  for (const flags of FLAG_SETS) {
    for (const message of [discover(7), discover("probe-1", { [`${META}clientCapabilities`]: {} })]) {
      const early = earlyAnswer(message);
      assert.ok(early !== undefined);
      assert.equal(early.line, await sdkAnswer(flags, message), JSON.stringify(flags));
    }
  }
});

Deno.test("anything unusual is left to the SDK: no early answer", () => {
  const declined = [
    { ...initialize(1, "2025-11-25"), params: { protocolVersion: "2025-11-25", capabilities: {} } },
    initialize(1, "2025-11-25", { roots: true }),
    { ...initialize(1.5, "2025-11-25") },
    { ...initialize(1, "2025-11-25"), jsonrpc: "1.0" },
    { jsonrpc: "2.0", id: 1, method: "server/discover" },
    discover(2, { [`${META}protocolVersion`]: "2027-01-01" }),
    discover(2, { [`${META}clientInfo`]: { name: "no version" } }),
    { ...discover(2), params: { ...discover(2).params, cursor: "x" } },
    [initialize(1, "2025-11-25")],
    { jsonrpc: "2.0", id: 3, method: "tools/list" },
  ];
  for (const message of declined) assert.equal(earlyAnswer(message), undefined, JSON.stringify(message));
});

/** Runs a relay over `chunks`; returns what it wrote and what it handed on. */
async function relay(chunks: string[]) {
  const written: string[] = [];
  const handed: StdinMessage[] = [];
  const input = ReadableStream.from(chunks.map((c) => new TextEncoder().encode(c)));
  const r = new StdinRelay({ readable: input }, (bytes) => written.push(new TextDecoder().decode(bytes)));
  await r.start();
  r.attach((message) => handed.push(message));
  return { written, handed };
}

const line = (message: unknown) => JSON.stringify(message) + "\n";

Deno.test("the relay answers a handshake split across reads, hands every byte on in order, and stops at the first other request", async () => {
  const text = line(initialize(1, "2025-11-25")) +
    line({ jsonrpc: "2.0", method: "notifications/initialized" }) +
    line({ jsonrpc: "2.0", id: 2, method: "tools/list" }) + line(initialize(3, "2025-11-25"));
  const cut = 40;
  const { written, handed } = await relay([text.slice(0, cut), text.slice(cut)]);
  assert.deepEqual(written.map((w) => JSON.parse(w).id), [1], "tools/list ends early answers");
  const bytes = handed.flatMap((m) => m.type === "stdin" ? [new TextDecoder().decode(m.bytes)] : []);
  assert.equal(bytes.join(""), text);
  assert.deepEqual(handed.flatMap((m) => m.type === "stdin" ? m.answered : []), [1]);
  assert.equal(handed.at(-1)?.type, "stdin-end");
});

Deno.test("a probe read together with a later initialize is not answered (the client fell back while we started)", async () => {
  const { written, handed } = await relay([line(discover(0)) + line(initialize(1, "2025-11-25"))]);
  assert.deepEqual(written.map((w) => JSON.parse(w).id), [1]);
  assert.deepEqual(handed.flatMap((m) => m.type === "stdin" ? m.answered : []), [1]);
  const alone = await relay([line(discover(0))]);
  assert.deepEqual(alone.written.map((w) => JSON.parse(w).id), [0], "a probe on its own is answered");
});

Deno.test("stdio end to end: the handshake is answered once, and the server answers what follows", async () => {
  const home = await makeHome();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [...await startTaskArgs(home), "-mode", "stdio"],
      env: serverEnv(home),
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(
      line(initialize(1, "2025-06-18")) + line({ jsonrpc: "2.0", method: "notifications/initialized" }) +
        line({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    ));
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes('"id":2}')) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    await writer.write(new TextEncoder().encode(line({ jsonrpc: "2.0", id: 3, method: "ping" })));
    while (!out.includes('"id":3}')) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    await writer.close();
    while (!(await reader.read()).done) {
      // drain to the end
    }
    assert.equal((await child.status).code, 0);
    const ids = out.trim().split("\n").map((l) => JSON.parse(l).id);
    assert.deepEqual(ids, [1, 2, 3], "one answer per request, in order");
    assert.equal(JSON.parse(out.split("\n")[0]!).result.protocolVersion, "2025-06-18");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
