/**
 * Log messages for the client: `logging/setLevel` filters them, secrets never appear, and a flood is
 * cut by the rate limit with a notice of how much was dropped.
 */
import assert from "node:assert/strict";
import { type Client, LOG_LEVEL_META_KEY } from "@modelcontextprotocol/client";
import { redactText } from "../../src/server/logging.ts";
import { httpClient, startHttpServer, stdioClient } from "../_helpers/server.ts";

interface Message {
  level: string;
  logger?: string;
  data: { message: string; [key: string]: unknown };
}

function collect(client: Client): Message[] {
  const seen: Message[] = [];
  client.setNotificationHandler("notifications/message", (n) => void seen.push(n.params as Message));
  return seen;
}

/** Waits until notifications written before a call's response have been handled. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

Deno.test("logging/setLevel filters the messages of tool calls, and errors say what failed", async () => {
  await using stdio = await stdioClient("legacy");
  const seen = collect(stdio.client);
  await stdio.client.setLoggingLevel("info");
  await stdio.client.callTool({ name: "identity", arguments: {} });
  await settle();
  assert.equal(seen.length, 1, JSON.stringify(seen));
  assert.equal(seen[0]!.level, "info");
  assert.equal(seen[0]!.logger, "ssh-mcp/identity");
  assert.match(seen[0]!.data.message, /^identity finished in \d+ ms$/);

  await stdio.client.setLoggingLevel("error");
  await stdio.client.callTool({ name: "identity", arguments: {} });
  await stdio.client.callTool({ name: "run", arguments: { command: "true" } });
  await settle();
  assert.equal(seen.length, 2, JSON.stringify(seen));
  assert.equal(seen[1]!.level, "error");
  assert.match(seen[1]!.data.message, /^run failed: Cannot run: this session has no SSH connection yet/);
  assert.equal(seen[1]!.data.code, "unknown_connection");
});

Deno.test("secrets given to a call never reach a log message", async () => {
  await using stdio = await stdioClient("legacy");
  const seen = collect(stdio.client);
  await stdio.client.setLoggingLevel("debug");
  const secret = "pw-do-not-log-7f3a91";
  await stdio.client.callTool({
    name: "connect",
    arguments: { host: "127.0.0.1", port: 1, username: "nobody", password: secret, sudo_password: secret },
  });
  await settle();
  assert.ok(seen.length > 0);
  assert.equal(JSON.stringify(seen).includes(secret), false, JSON.stringify(seen));
});

Deno.test("redactText() hides private keys, bearer tokens and password=… pairs", () => {
  const pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----";
  assert.equal(redactText(`key ${pem} end`), "key [redacted private key] end");
  assert.equal(redactText("Authorization: Bearer abc.def"), "Authorization: Bearer [redacted]");
  assert.equal(redactText('login password="hunter 2" ok'), "login password=[redacted] ok");
  assert.equal(redactText("token: xyz"), "token: [redacted]");
  assert.equal(redactText("nothing secret here"), "nothing secret here");
});

Deno.test("a flood of messages is cut by the rate limit, and the next message reports what was dropped", async () => {
  await using stdio = await stdioClient("legacy");
  const seen = collect(stdio.client);
  await stdio.client.setLoggingLevel("info");
  const calls = 100;
  await Promise.all(
    Array.from({ length: calls }, () => stdio.client.callTool({ name: "identity", arguments: {} })),
  );
  await settle();
  const delivered = seen.filter((m) => m.level === "info").length;
  assert.ok(delivered >= 20 && delivered < calls, `delivered ${delivered} of ${calls}`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await stdio.client.callTool({ name: "identity", arguments: {} });
  await settle();
  // Every message was delivered or counted in a notice; the last notice precedes the last message.
  const notices = seen.filter((m) => m.level === "warning");
  const dropped = notices
    .map((m) => Number(/^(\d+) log message\(s\) dropped by the rate limit$/.exec(m.data.message)?.[1]))
    .reduce((a, b) => a + b, 0);
  assert.equal(seen.filter((m) => m.level === "info").length + dropped, calls + 1, JSON.stringify(notices));
  assert.equal(seen.at(-2)?.level, "warning");
  assert.equal(seen.at(-1)?.level, "info");
});

Deno.test("2026-07-28 requests get messages only at the log level they carry", async () => {
  await using server = await startHttpServer();
  await using quiet = await httpClient(server, "modern");
  const none = collect(quiet);
  await quiet.callTool({ name: "identity", arguments: {} });
  await settle();
  assert.deepEqual(none, []);

  const chatty = quiet;
  const some = collect(chatty);
  await chatty.callTool({ name: "identity", arguments: {}, _meta: { [LOG_LEVEL_META_KEY]: "info" } });
  await chatty.callTool({ name: "identity", arguments: {}, _meta: { [LOG_LEVEL_META_KEY]: "error" } });
  await settle();
  assert.deepEqual(some.map((m) => [m.level, m.logger]), [["info", "ssh-mcp/identity"]]);
});
