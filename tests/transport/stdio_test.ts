import assert from "node:assert/strict";
import { makeHome, serverEnv, startTaskArgs } from "../_helpers/server.ts";

async function spawnStdio(home: string): Promise<Deno.ChildProcess> {
  return new Deno.Command(Deno.execPath(), {
    args: [...await startTaskArgs(home), "-mode", "stdio"],
    env: serverEnv(home),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("stdio: closing stdin shuts the server down with exit 0, and stdout carries only JSON-RPC", async () => {
  const home = await makeHome();
  try {
    const child = await spawnStdio(home);
    const writer = child.stdin.getWriter();
    const lines = [
      {
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      {
        jsonrpc: "2.0",
        id: 2,
        method: "tools/call",
        params: { name: "run", arguments: { command: "true" } },
      },
      { jsonrpc: "2.0", id: 3, method: "tools/list" },
    ];
    for (const line of lines) await writer.write(new TextEncoder().encode(JSON.stringify(line) + "\n"));
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes('"id":3')) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const started = Date.now();
    await writer.close();
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(status.code, 0);
    assert.ok(Date.now() - started < 10_000);
    for (const line of out.split("\n").filter(Boolean)) assert.equal(JSON.parse(line).jsonrpc, "2.0");
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("stdio: a line over 8 MiB is refused without the server buffering it forever", async () => {
  const home = await makeHome();
  try {
    const child = await spawnStdio(home);
    const writer = child.stdin.getWriter();
    const chunk = new Uint8Array(1024 * 1024).fill(97);
    let refused = false;
    try {
      for (let i = 0; i < 9; i++) await writer.write(chunk);
      await writer.write(new TextEncoder().encode("\n"));
    } catch {
      refused = true; // the server closed its stdin
    }
    await writer.close().catch(() => {});
    const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
    await child.stdout.cancel();
    assert.ok(refused || status.code !== 0, stderr);
    assert.equal(status.code, 1);
    assert.match(stderr, /8 MiB/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

/** Writes `messages` in one chunk and collects stdout until a response with id `until` arrives. */
async function exchange(messages: unknown[], until: number): Promise<Map<unknown, unknown>> {
  const home = await makeHome();
  try {
    const child = await spawnStdio(home);
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(messages.map((m) => JSON.stringify(m) + "\n").join("")));
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const answers = new Map<unknown, unknown>();
    let buffered = "";
    while (!answers.has(until)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines.filter(Boolean)) {
        const message = JSON.parse(line);
        if ("id" in message && !("method" in message)) answers.set(message.id, message);
      }
    }
    await writer.close();
    while (!(await reader.read()).done);
    await child.stderr.cancel();
    await child.status;
    return answers;
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

const DISCOVER = {
  jsonrpc: "2.0",
  id: 0,
  method: "server/discover",
  params: {
    _meta: {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientInfo": { name: "probe", version: "1" },
      "io.modelcontextprotocol/clientCapabilities": {},
    },
  },
};
const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
};

Deno.test("stdio: a server/discover probe the client abandoned for initialize gets no late answer", async () => {
  // A slow start: the client's probe timed out and it fell back to initialize before we read either.
  const late = await exchange([
    DISCOVER,
    INITIALIZE,
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", id: 2, method: "tools/list" },
  ], 2);
  assert.ok(!late.has(0), `the abandoned probe was answered: ${JSON.stringify(late.get(0))}`);
  assert.ok(late.has(1) && late.has(2), [...late.keys()].join());
  // A probe on its own is answered (result or error: either tells the client which era to speak).
  const alone = await exchange([DISCOVER], 0);
  assert.ok(alone.has(0));
});
