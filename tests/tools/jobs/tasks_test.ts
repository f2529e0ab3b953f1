/**
 * The MCP Tasks extension (io.modelcontextprotocol/tasks, 2026-07-28) over raw HTTP: a request that
 * declares it gets a task for long work, `tasks/get` returns the tool's result inline at the end,
 * `tasks/cancel` stops the job; a request that does not declare it gets the job answer, never a task.
 */
import assert from "node:assert/strict";
import { passwordLogin } from "../../_helpers/mcp_ssh.ts";
import { startHttpServer } from "../../_helpers/server.ts";
import { startSshd } from "../../_helpers/sshd.ts";

type Json = Record<string, unknown>;
let nextId = 1;

/** One 2026-07-28 request over HTTP; returns the JSON-RPC response (from JSON or an SSE stream). */
async function rpc(url: string, method: string, params: Json, tasks: boolean, name?: string): Promise<Json> {
  const id = nextId++;
  const body = {
    jsonrpc: "2.0",
    id,
    method,
    params: {
      ...params,
      _meta: {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { name: "tasks-test", version: "1" },
        "io.modelcontextprotocol/clientCapabilities": tasks
          ? { extensions: { "io.modelcontextprotocol/tasks": {} } }
          : {},
      },
    },
  };
  const response = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: {
      "accept": "application/json, text/event-stream",
      "content-type": "application/json",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": method,
      ...(name === undefined ? {} : { "mcp-name": name }),
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const messages = (response.headers.get("content-type") ?? "").includes("text/event-stream")
    ? text.split("\n").filter((l) => l.startsWith("data:")).map((l) => JSON.parse(l.slice(5)))
    : [JSON.parse(text)];
  const reply = messages.find((m) => m.id === id);
  assert.ok(reply, `no response to ${method}: ${text.slice(0, 300)}`);
  return reply;
}

const call = (url: string, name: string, args: Json, tasks: boolean) =>
  rpc(url, "tools/call", { name, arguments: args }, tasks, name);
const get = (url: string, taskId: string, tasks = true) => rpc(url, "tasks/get", { taskId }, tasks, taskId);

async function untilDone(url: string, taskId: string): Promise<Json> {
  for (;;) {
    const reply = await get(url, taskId);
    const task = reply.result as Json;
    assert.ok(task, JSON.stringify(reply));
    if (task.status !== "working") return task;
    await new Promise((r) => setTimeout(r, 500));
  }
}

Deno.test("Tasks: a declaring request gets a task for long work, tasks/get returns the result, tasks/cancel stops it", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  const url = server.url;
  const discovered = (await rpc(url, "server/discover", {}, true)).result as { capabilities: Json };
  assert.deepEqual((discovered.capabilities.extensions as Json)?.["io.modelcontextprotocol/tasks"], {});
  const connected = await call(url, "connect", passwordLogin(sshd), false);
  assert.ok((connected.result as Json).structuredContent, JSON.stringify(connected));

  // Without the extension: the job answer, never a task.
  const plain = (await call(url, "run", { command: "sleep 2; echo plain", wait: 1 }, false)).result as Json;
  assert.notEqual(plain.resultType, "task");
  assert.equal((plain.structuredContent as Json).status, "running");

  // With it: a task (fast path past its wait, backed by the server).
  const created = (await call(url, "run", { command: "sleep 2; echo done; exit 3", wait: 1 }, true))
    .result as Json;
  assert.equal(created.resultType, "task");
  assert.equal(created.status, "working");
  assert.match(String(created.taskId), /^j[a-z2-7]{26}$/);
  const done = await untilDone(url, String(created.taskId));
  assert.equal(done.status, "completed");
  const result = done.result as { structuredContent: Json; isError: boolean };
  assert.deepEqual([result.structuredContent.stdout, result.structuredContent.exit_code], ["done\n", 3]);

  // A host job as a task, and a quick call that stays an ordinary result.
  const hosted = (await call(url, "run", { command: "echo on host", wait: 0, timeout: 60 }, true))
    .result as Json;
  assert.equal(hosted.resultType, "task");
  const hostedDone = await untilDone(url, String(hosted.taskId));
  assert.equal((hostedDone.result as { structuredContent: Json }).structuredContent.stdout, "on host\n");
  // The same job as an ssh://jobs/{job_id} resource.
  const uri = `ssh://jobs/${hosted.taskId}`;
  const read = await rpc(url, "resources/read", { uri }, false, uri);
  const resource = read.result as {
    contents: Array<{ text: string }>;
  };
  assert.ok(resource, JSON.stringify(read));
  const shown = JSON.parse(resource.contents[0]!.text) as Json;
  assert.deepEqual([shown.status, shown.stdout], ["exited", "on host\n"]);
  const quick = (await call(url, "run", { command: "echo quick" }, true)).result as Json;
  assert.equal(quick.resultType, "complete");

  // tasks/cancel, and the errors of the extension.
  const long = (await call(url, "run", { command: "sleep 120", wait: 0 }, true)).result as Json;
  const cancelled = await rpc(url, "tasks/cancel", { taskId: long.taskId }, true, String(long.taskId));
  assert.deepEqual(
    Object.keys(cancelled.result as Json).filter((k) => k !== "resultType" && k !== "_meta"),
    [],
  );
  assert.equal((await untilDone(url, String(long.taskId))).status, "cancelled");
  const unknown = await get(url, "j" + "b".repeat(26));
  assert.equal((unknown.error as Json).code, -32602);
  const undeclared = await get(url, String(created.taskId), false);
  assert.equal((undeclared.error as Json).code, -32021);
});
