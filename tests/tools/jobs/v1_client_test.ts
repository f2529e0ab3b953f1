/**
 * The reproduction with the most deployed client code: the v1 TypeScript SDK client at its
 * default options (60 s request timeout, no progress reset), over stdio and over HTTP. A 70 s command
 * with `timeout: 600` used to time out at 60 s and be killed; it now gets a job handle within the
 * `wait`, runs to its end, and job_output returns its whole output.
 */
import assert from "node:assert/strict";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport as V1StdioTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport as V1HttpTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { passwordLogin } from "../../_helpers/mcp_ssh.ts";
import { makeHome, serverEnv, startHttpServer, startTaskArgs } from "../../_helpers/server.ts";
import { startSshd, type TestSshd } from "../../_helpers/sshd.ts";

interface Structured {
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  content?: unknown;
}

const COMMAND = "i=1; while [ $i -le 7 ]; do echo tick $i; sleep 10; i=$((i + 1)); done";
const EXPECTED = "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\ntick 6\ntick 7\n";

/** Runs the 70 s command through a connected v1 client, then reads it to the end. */
async function longCommand(client: V1Client, sshd: TestSshd, label: string): Promise<void> {
  const connected = await client.callTool({ name: "connect", arguments: passwordLogin(sshd) }) as Structured;
  assert.ok(!connected.isError, `${label}: connect`);
  const started = performance.now();
  // Default options: the SDK's 60 s request timeout applies, nothing resets it.
  const first = await client.callTool({
    name: "run",
    arguments: { command: COMMAND, timeout: 600 },
  }) as Structured;
  const handleAfter = performance.now() - started;
  assert.ok(!first.isError, `${label}: ${JSON.stringify(first.content)}`);
  const job = first.structuredContent as {
    job_id: string;
    status: string;
    stdout: string;
    next_offset: number;
  };
  assert.equal(job.status, "running", label);
  assert.ok(handleAfter < 60_000, `${label}: the handle came after ${Math.round(handleAfter)} ms`);
  let out = job.stdout;
  let offset = job.next_offset;
  for (;;) {
    const page =
      (await client.callTool({ name: "job_output", arguments: { job_id: job.job_id, offset, wait: 30 } }))
        .structuredContent as {
          status: string;
          exit_code: number | null;
          stdout: string;
          next_offset: number;
          more: boolean;
        };
    out += page.stdout;
    offset = page.next_offset;
    if (page.status !== "running" && !page.more) {
      assert.deepEqual([page.status, page.exit_code], ["exited", 0], label);
      break;
    }
  }
  assert.equal(out, EXPECTED, `${label}: the whole output, once`);
  assert.ok(performance.now() - started >= 70_000, `${label}: it really ran its 70 s`);
}

Deno.test("the v1 SDK client at default options gets a job for a 70 s command and reads it to the end (stdio and HTTP)", async () => {
  await using sshd = await startSshd();
  const home = await makeHome();
  await using server = await startHttpServer();
  const stdio = new V1Client({ name: "v1-default", version: "1.0.0" });
  await stdio.connect(
    new V1StdioTransport({
      command: Deno.execPath(),
      args: [...await startTaskArgs(home), "-mode", "stdio"],
      env: serverEnv(home),
      stderr: "ignore",
    }),
  );
  const http = new V1Client({ name: "v1-default", version: "1.0.0" });
  await http.connect(new V1HttpTransport(new URL(`${server.url}/mcp`)));
  try {
    await Promise.all([longCommand(stdio, sshd, "stdio"), longCommand(http, sshd, "http")]);
  } finally {
    await stdio.close();
    await http.close();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});
