/**
 * The MCP Inspector CLI against the real server. Inspector 2.12's CLI client speaks the 2025-11-25
 * era only (it does not negotiate 2026-07-28); the modern era is covered by the SDK client tests.
 */
import assert from "node:assert/strict";
import { makeHome, serverEnv, startHttpServer, startTaskArgs } from "../_helpers/server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const INSPECTOR = Deno.env.get("INSPECTOR_BIN") ?? `${ROOT}.ci/tools/node_modules/.bin/mcp-inspector`;

function available(): boolean {
  try {
    Deno.statSync(INSPECTOR);
    return true;
  } catch {
    const message =
      `SKIP: MCP Inspector not installed at ${INSPECTOR} (run: npm install --prefix .ci/tools @modelcontextprotocol/inspector@2.12.0)`;
    if (Deno.env.get("CI") === "true") throw new Error(`${message}; CI=true forbids skipping`);
    console.warn(message);
    return false;
  }
}

const ready = available();

async function inspector(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command(INSPECTOR, { args: ["--cli", ...args], env, stdin: "null" }).output();
  const d = new TextDecoder();
  return { code: out.code, out: d.decode(out.stdout), err: d.decode(out.stderr) };
}

Deno.test({
  name: "Inspector CLI lists tools and calls one over HTTP",
  ignore: !ready,
  fn: async () => {
    await using server = await startHttpServer();
    const list = await inspector([`${server.url}/mcp`, "--transport", "http", "--method", "tools/list"]);
    assert.equal(list.code, 0, list.err);
    const names = JSON.parse(list.out).tools.map((t: { name: string }) => t.name);
    assert.ok(names.includes("run") && names.includes("connect"));
    const call = await inspector([
      `${server.url}/mcp`,
      "--transport",
      "http",
      "--method",
      "tools/call",
      "--tool-name",
      "connections",
    ]);
    assert.equal(call.code, 0, call.err);
    assert.match(call.out, /"connections": \[\]/);
  },
});

Deno.test({
  name: "Inspector CLI lists tools over stdio with the production flags",
  ignore: !ready,
  fn: async () => {
    const home = await makeHome();
    try {
      const env = serverEnv(home);
      const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
      const list = await inspector([
        ...envArgs,
        Deno.execPath(),
        ...await startTaskArgs(home),
        "-mode",
        "stdio",
        "--method",
        "tools/list",
      ], env);
      assert.equal(list.code, 0, list.err);
      assert.match(list.out, /"name": "identity"/);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name: "Inspector CLI --strict finds no schema portability problem in tools/list (0 warnings)",
  ignore: !ready,
  fn: async () => {
    const home = await makeHome();
    try {
      const env = serverEnv(home);
      const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
      const list = await inspector([
        ...envArgs,
        Deno.execPath(),
        ...await startTaskArgs(home),
        "-mode",
        "stdio",
        "--method",
        "tools/list",
        "--strict",
      ], env);
      assert.equal(list.code, 0, list.err);
      assert.ok(JSON.parse(list.out).tools.length >= 40);
      const reported = list.err.split("\n").filter((line) => /^(Warning|Error):/.test(line));
      assert.deepEqual(reported, [], list.err);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
