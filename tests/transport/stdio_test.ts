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
