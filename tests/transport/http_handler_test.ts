/**
 * The HTTP face in process: `createHttpHandler(...).fetch(new Request(...))` with no port, no
 * subprocess and no sshd. The guard's order (path, Host/Origin, token, body, session key), the
 * legacy session lifecycle, limits as HTTP statuses, and real SDK clients of both eras through
 * `fetch`. The subprocess tests (http_security_test.ts) keep checking the same face as deployed.
 */
import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { type Config, parseConfig } from "../../src/config.ts";
import { createHttpHandler, type HttpHandler } from "../../src/transport/http.ts";
import type { SessionPool } from "../../src/session/pool.ts";
import { inProcessServer, type PoolLimits } from "../_helpers/in_memory.ts";
import type { Era } from "../_helpers/server.ts";

const TOKEN = "t0ken-".padEnd(40, "x");
const BASE = "http://127.0.0.1:8000";
const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
});
const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const KEY = "k".repeat(22);

function config(args: string[] = []): Config {
  const result = parseConfig(["-mode", "http", ...args], { HOME: "/nonexistent" });
  assert.equal(result.kind, "config");
  return result.config;
}

/** A handler over a fresh pool, disposed with it. */
function handler(args: string[] = [], limits: PoolLimits = {}): HttpHandler & { pool: SessionPool } {
  const { pool, server } = inProcessServer(limits);
  const http = createHttpHandler({ config: config(args), pool, server, version: "test" });
  return {
    fetch: http.fetch,
    pool,
    async [Symbol.asyncDispose]() {
      await pool[Symbol.asyncDispose]();
      await http[Symbol.asyncDispose]();
    },
  };
}

/** A request as Deno.serve hands it over: with the Host header of the URL. */
function request(path: string, init: RequestInit = {}): Request {
  const headers = new Headers(init.headers);
  if (!headers.has("host")) headers.set("host", new URL(BASE).host);
  return new Request(`${BASE}${path}`, { ...init, headers });
}

function post(headers: Record<string, string> = {}, body: BodyInit = INIT, path = "/mcp"): Request {
  return request(path, { method: "POST", headers: { ...MCP_HEADERS, ...headers }, body });
}

/** Status and JSON-RPC error message of a response (its body consumed). */
async function outcome(response: Response): Promise<{ status: number; message?: string }> {
  const text = await response.text();
  let message: string | undefined;
  try {
    message = JSON.parse(text).error?.message;
  } catch {
    // an SSE body
  }
  return { status: response.status, message };
}

Deno.test("handler: Host and Origin allowlists come before anything else, /healthz included", async () => {
  await using http = handler();
  assert.equal((await outcome(await http.fetch(post({ host: "evil.example:8000" })))).status, 403);
  const rebind = await outcome(
    await http.fetch(request("/healthz", { headers: { host: "rebind.example" } })),
  );
  assert.equal(rebind.status, 403);
  assert.match(rebind.message!, /Host header not allowed \(add it with -allowed-hosts\)/);
  const origin = await outcome(await http.fetch(post({ origin: "http://evil.example" })));
  assert.deepEqual(origin, {
    status: 403,
    message: "Forbidden: Origin not allowed (add it with -allowed-origins)",
  });
  const ok = await http.fetch(post({ origin: "http://localhost:5173" }));
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("access-control-allow-origin"), null);
  await ok.text();
  assert.equal((await outcome(await http.fetch(request("/other")))).status, 404);
  const custom = handler(["-allowed-hosts", "mcp.internal"]);
  await using _ = custom;
  assert.equal((await outcome(await custom.fetch(post({ host: "mcp.internal:8000" })))).status, 200);
  assert.equal((await outcome(await custom.fetch(post()))).status, 403, "a given list replaces the default");
});

Deno.test("handler: /healthz reports status, version, uptime and the session count", async () => {
  await using http = handler();
  const before = await (await http.fetch(request("/healthz"))).json();
  assert.equal(before.status, "ok");
  assert.equal(before.version, "test");
  assert.equal(typeof before.uptime_seconds, "number");
  assert.equal(before.sessions, 0);
  await outcome(await http.fetch(post()));
  assert.equal((await (await http.fetch(request("/healthz"))).json()).sessions, 1);
});

Deno.test("handler: the bearer token is checked before the body, and never read from the URL", async () => {
  await using http = handler(["-auth-token", TOKEN]);
  const missing = await http.fetch(post());
  assert.equal(missing.status, 401);
  assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer /);
  await missing.text();
  assert.equal((await outcome(await http.fetch(post({ authorization: `Bearer ${TOKEN}x` })))).status, 401);
  const inUrl = await outcome(
    await http.fetch(post({ authorization: `Bearer ${TOKEN}` }, INIT, `/mcp?access_token=${TOKEN}`)),
  );
  assert.equal(inUrl.status, 400);
  assert.match(inUrl.message!, /never accepted in the URL/);
  const tooBig = post({ "content-length": String(5 * 1024 * 1024) }, "x");
  assert.equal(
    (await outcome(await http.fetch(tooBig))).status,
    401,
    "no token: the size is not even looked at",
  );
  assert.equal((await outcome(await http.fetch(post({ authorization: `Bearer ${TOKEN}` })))).status, 200);
  assert.equal(
    (await (await http.fetch(request("/healthz"))).json()).status,
    "ok",
    "healthz is open",
  );
});

Deno.test("handler: bodies over 4 MiB get 413, declared or streamed; a body that is not JSON gets -32700", async () => {
  await using http = handler();
  const declared = await outcome(
    await http.fetch(post({ "content-length": String(4 * 1024 * 1024 + 1) }, "x")),
  );
  assert.equal(declared.status, 413);
  const chunk = new Uint8Array(1024 * 1024).fill(0x20);
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 5) controller.enqueue(chunk);
      else controller.close();
    },
  });
  const streamed = await outcome(await http.fetch(post({}, stream)));
  assert.equal(streamed.status, 413);
  assert.match(streamed.message!, /limited to 4194304 bytes/);
  const garbage = await http.fetch(post({}, "{not json"));
  assert.equal(garbage.status, 400);
  assert.equal((await garbage.json()).error.code, -32700);
});

Deno.test("handler: legacy sessions — initialize mints a UUIDv7, unknown ids are 404, DELETE ends one", async () => {
  await using http = handler();
  const list = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
  const unknown = await outcome(
    await http.fetch(post({ "mcp-session-id": "01900000-0000-7000-8000-000000000000" }, list)),
  );
  assert.equal(unknown.status, 404);
  assert.match(unknown.message!, /initialize a new one/);
  const noId = await outcome(await http.fetch(post({}, list)));
  assert.equal(noId.status, 400);
  const init = await http.fetch(post());
  const id = init.headers.get("mcp-session-id")!;
  await init.text();
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(http.pool.size, 1);
  const end = await http.fetch(
    request("/mcp", {
      method: "DELETE",
      headers: { "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" },
    }),
  );
  assert.equal(end.status, 200);
  await end.text();
  assert.equal(http.pool.size, 0, "the session's pool closes with it");
  assert.equal((await outcome(await http.fetch(post({ "mcp-session-id": id }, list)))).status, 404);
});

Deno.test("handler: a GET before initialize gets 405 (no stream without a session); with one it streams", async () => {
  await using http = handler();
  const early = await http.fetch(request("/mcp", { headers: { accept: "text/event-stream" } }));
  assert.equal(early.status, 405);
  assert.match(early.headers.get("allow") ?? "", /POST/);
  assert.match((await early.json()).error.message, /send initialize first/);
  const init = await http.fetch(post());
  const id = init.headers.get("mcp-session-id")!;
  await init.text();
  const stream = await http.fetch(
    request("/mcp", {
      headers: { accept: "text/event-stream", "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" },
    }),
  );
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get("content-type") ?? "", /text\/event-stream/);
  await stream.body?.cancel();
  const noSession = await outcome(await http.fetch(request("/mcp", { method: "DELETE" })));
  assert.equal(noSession.status, 400);
});

Deno.test("handler: with a token, a legacy session is used with the token only", async () => {
  await using http = handler(["-auth-token", TOKEN]);
  const auth = { authorization: `Bearer ${TOKEN}` };
  const init = await http.fetch(post(auth));
  const id = init.headers.get("mcp-session-id")!;
  await init.text();
  const list = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" });
  const other = await outcome(await http.fetch(post({ "mcp-session-id": id }, list)));
  assert.equal(other.status, 401, "without the token the request never reaches the session");
  const same = await http.fetch(
    post({ ...auth, "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" }, list),
  );
  assert.equal(same.status, 200);
  await same.text();
});

Deno.test("handler: short session keys are refused; limits answer 429 with Retry-After", async () => {
  // A keyed legacy initialize holds two sessions: the key's pool and the protocol session's.
  await using http = handler([], { maxPerPrincipal: 2 });
  const short = await outcome(await http.fetch(post({ "x-session-key": "short" })));
  assert.equal(short.status, 400);
  assert.match(short.message!, /at least 22 characters/);
  const first = await http.fetch(post({ "x-session-key": KEY }));
  assert.equal(first.status, 200);
  await first.text();
  const second = await http.fetch(post({ "x-session-key": "z".repeat(22) }));
  assert.equal(second.status, 429);
  assert.equal(second.headers.get("retry-after"), "30");
  assert.equal(http.pool.size, 2, "the refused key opened nothing");
  await second.text();
});

for (const era of ["legacy", "modern"] as const satisfies readonly Era[]) {
  Deno.test(`handler: the SDK's HTTP client (${era} era) works through fetch alone`, async () => {
    await using http = handler();
    const client = new Client(
      { name: "ssh-mcp-tests", version: "1.0.0" },
      era === "modern" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {},
    );
    const transport = new StreamableHTTPClientTransport(new URL(`${BASE}/mcp`), {
      fetch: (input, init) => http.fetch(request(new URL(String(input)).pathname, init)),
    });
    await client.connect(transport);
    try {
      assert.ok((await client.listTools()).tools.some((t) => t.name === "run"));
      const reply = await client.callTool({ name: "identity", arguments: {} });
      assert.equal(reply.isError, undefined);
    } finally {
      if (era === "legacy") await transport.terminateSession().catch(() => {});
      await client.close();
    }
  });
}
