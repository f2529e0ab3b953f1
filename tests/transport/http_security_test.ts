import assert from "node:assert/strict";
import { httpClient, makeHome, serverEnv, startHttpServer, startTaskArgs } from "../_helpers/server.ts";

const TOKEN = "t0ken-".padEnd(40, "x");
const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
});
const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** A raw HTTP/1.1 request (fetch does not let a caller set Host). Returns the status code. */
async function rawStatus(port: number, request: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(request));
  const buf = new Uint8Array(1024);
  const n = await conn.read(buf);
  conn.close();
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(new TextDecoder().decode(buf.subarray(0, n ?? 0)))?.[1]);
}

async function post(
  url: string,
  headers: Record<string, string> = {},
  body: BodyInit = INIT,
): Promise<Response> {
  return await fetch(url, { method: "POST", headers: { ...MCP_HEADERS, ...headers }, body });
}

Deno.test("HTTP guard: Host, Origin, path and CORS rules", async () => {
  await using server = await startHttpServer();
  const mcp = `${server.url}/mcp`;
  const request = (host: string) =>
    `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${INIT.length}\r\nConnection: close\r\n\r\n${INIT}`;
  assert.equal(await rawStatus(server.port, request("evil.example:8000")), 403);
  assert.equal(await rawStatus(server.port, request(`localhost:${server.port}`)), 200);
  assert.equal(
    await rawStatus(
      server.port,
      `GET /healthz HTTP/1.1\r\nHost: rebind.example\r\nConnection: close\r\n\r\n`,
    ),
    403,
  );
  let r = await post(mcp, { origin: "http://evil.example" });
  assert.equal(r.status, 403);
  await r.body?.cancel();
  r = await post(mcp, { origin: "http://localhost:5173" });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("access-control-allow-origin"), null);
  await r.body?.cancel();
  r = await fetch(`${server.url}/other`);
  assert.equal(r.status, 404);
  await r.body?.cancel();
  const health = await (await fetch(`${server.url}/healthz`)).json();
  assert.equal(health.status, "ok");
  assert.equal(typeof health.uptime_seconds, "number");
});

Deno.test("HTTP guard: bearer token required, constant-time checked, never taken from the query", async () => {
  await using server = await startHttpServer({ args: ["-auth-token", TOKEN] });
  const mcp = `${server.url}/mcp`;
  let r = await post(mcp);
  assert.equal(r.status, 401);
  assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer /);
  await r.body?.cancel();
  r = await post(mcp, { authorization: `Bearer ${TOKEN}x` });
  assert.equal(r.status, 401);
  await r.body?.cancel();
  r = await post(`${mcp}?access_token=${TOKEN}`, { authorization: `Bearer ${TOKEN}` });
  assert.equal(r.status, 400);
  await r.body?.cancel();
  r = await post(mcp, { authorization: `Bearer ${TOKEN}` });
  assert.equal(r.status, 200);
  await r.body?.cancel();
  await using client = await httpClient(server, "modern", { authorization: `Bearer ${TOKEN}` });
  assert.ok((await client.listTools()).tools.length > 0);
  assert.ok(!server.stderr().includes(TOKEN));
});

Deno.test("HTTP guard: bodies over 4 MiB get 413, declared or streamed", async () => {
  await using server = await startHttpServer();
  const big = new Uint8Array(4 * 1024 * 1024 + 10).fill(32);
  let r = await post(`${server.url}/mcp`, {}, big);
  assert.equal(r.status, 413);
  await r.body?.cancel();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(1024 * 1024).fill(32));
      controller.close();
    },
  });
  r = await fetch(`${server.url}/mcp`, { method: "POST", headers: MCP_HEADERS, body: stream });
  assert.equal(r.status, 413);
  await r.body?.cancel();
});

Deno.test("legacy sessions: unknown id is 404, DELETE ends the session, short session keys are refused", async () => {
  await using server = await startHttpServer();
  const mcp = `${server.url}/mcp`;
  let r = await post(
    mcp,
    { "mcp-session-id": "01900000-0000-7000-8000-000000000000" },
    JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
  );
  assert.equal(r.status, 404);
  await r.body?.cancel();
  r = await post(mcp);
  const id = r.headers.get("mcp-session-id")!;
  await r.body?.cancel();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const sessionsBefore = (await (await fetch(`${server.url}/healthz`)).json()).sessions;
  assert.ok(sessionsBefore >= 1);
  const started = Date.now();
  r = await fetch(mcp, {
    method: "DELETE",
    headers: { "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" },
  });
  assert.equal(r.status, 200);
  await r.body?.cancel();
  r = await post(
    mcp,
    { "mcp-session-id": id },
    JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" }),
  );
  assert.equal(r.status, 404);
  await r.body?.cancel();
  assert.ok(Date.now() - started < 1000);
  assert.equal((await (await fetch(`${server.url}/healthz`)).json()).sessions, sessionsBefore - 1);
  r = await post(mcp, { "x-session-key": "short" });
  assert.equal(r.status, 400);
  await r.body?.cancel();
});

Deno.test("session limits answer 429 per principal with a clear message", async () => {
  await using server = await startHttpServer({
    args: ["-max-sessions-per-principal", "2", "-max-sessions", "3"],
  });
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await post(`${server.url}/mcp`);
    statuses.push(r.status);
    const text = await r.text();
    if (r.status === 429) assert.match(text, /limit 2/);
  }
  assert.deepEqual(statuses, [200, 200, 429]);
});

async function runMain(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string; stdout: string }> {
  const home = await makeHome();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...await startTaskArgs(home), ...args],
    env: serverEnv(home, env),
    clearEnv: true,
    stdin: "null",
  }).output();
  await Deno.remove(home, { recursive: true });
  const d = new TextDecoder();
  return { code: out.code, stderr: d.decode(out.stderr), stdout: d.decode(out.stdout) };
}

Deno.test("start-up refuses a non-loopback bind without a token, and bad values, with one clear line", async () => {
  const open = await runMain(["-host", "0.0.0.0"]);
  assert.notEqual(open.code, 0);
  assert.match(open.stderr, /-auth-token/);
  for (
    const [args, env, flag] of [
      [["-mode", "tcp"], {}, "-mode"],
      [["-port", "70000"], {}, "-port"],
      [[], { SSH_MCP_SESSION_TIMEOUT: "abc" }, "SSH_MCP_SESSION_TIMEOUT"],
    ] as const
  ) {
    const r = await runMain([...args], env);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(r.stderr.includes(flag), r.stderr);
  }
  const help = await runMain(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /SSH_MCP_COMMAND_TIMEOUT/);
  const version = await runMain(["-version"]);
  assert.match(version.stdout, /^ssh-mcp \d+\.\d+\.\d+/);
});

Deno.test("SIGTERM shuts the HTTP server down cleanly with exit 0", async () => {
  await using server = await startHttpServer();
  const started = Date.now();
  assert.equal(await server.stop("SIGTERM"), 0);
  assert.ok(Date.now() - started < 10_000);
});
