/**
 * The Vercel AI SDK's MCP client (@ai-sdk/mcp 2.x) drives the server over stdio, launched with exactly
 * the README's stdio command (`npx -y deno@… task --cwd <repo> start -mode stdio`): it lists every
 * tool of the snapshot, `connect`s to a real sshd and `run`s a command through the AI SDK tool objects,
 * never reports "Received a response for an unknown message ID", and closing it ends the server.
 *
 * @ai-sdk/mcp 2.0.99 still probes with `server/discover` on stdio (StdioMCPTransport sets
 * `supportsProtocolVersionDiscovery`, not `waitsForProtocolVersionDiscovery`) and falls back to
 * `initialize` when no answer came within DEFAULT_PROTOCOL_DISCOVERY_TIMEOUT = 1000 ms
 * (src/tool/mcp-client.ts, `tryProtocolDiscovery`); src/transport/stdio.ts withholds the late answer.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { type CallToolResult, createMCPClient, type JSONRPCMessage } from "@ai-sdk/mcp";
import { StdioMCPTransport } from "@ai-sdk/mcp/mcp-stdio";
import { passwordLogin, processesWithEnv } from "../_helpers/mcp_ssh.ts";
import { requirePrograms } from "../_helpers/require.ts";
import { makeHome, serverEnv, textOf } from "../_helpers/server.ts";
import { startSshd } from "../_helpers/sshd.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SNAPSHOT = new URL("../testdata/tools_list.json", import.meta.url);
/** The README's stdio client configuration (README.md, "Using it from an MCP client"). */
const README_ARGS = ["-y", "deno@2.9.6", "task", "--cwd", ROOT, "start", "-mode", "stdio"];

/** The AI SDK's stdio transport, keeping every message it sends and receives. */
class RecordingTransport extends StdioMCPTransport {
  readonly sent: JSONRPCMessage[] = [];
  readonly received: JSONRPCMessage[] = [];

  constructor(config: ConstructorParameters<typeof StdioMCPTransport>[0]) {
    super(config);
    // The client sets onmessage after construction: an own accessor wraps whatever handler it sets.
    let handler: StdioMCPTransport["onmessage"];
    Object.defineProperty(this, "onmessage", {
      configurable: true,
      get: () => handler,
      set: (next: StdioMCPTransport["onmessage"]) => {
        handler = next && ((message) => {
          this.received.push(message);
          next(message);
        });
      },
    });
  }

  override send(message: JSONRPCMessage): Promise<void> {
    this.sent.push(message);
    return super.send(message);
  }
}

Deno.test(
  "AI SDK stdio client: the README's npx command lists the tools, connects and runs, with no unknown-ID error, and exits on close",
  { ignore: !requirePrograms("/usr/sbin/sshd", "ssh-keygen", "npx") },
  async () => {
    await using sshd = await startSshd();
    // A private HOME for the server (its key, known_hosts, data dir); it also tells its processes apart.
    const home = await makeHome();
    const errFile = await Deno.makeTempFile({ prefix: "ssh-mcp-ai-sdk-stderr-" });
    const errFd = fs.openSync(errFile, "w");
    await using _files = {
      async [Symbol.asyncDispose]() {
        fs.closeSync(errFd);
        await Deno.remove(errFile).catch(() => {});
        await Deno.remove(home, { recursive: true }).catch(() => {});
      },
    };
    const transport = new RecordingTransport({
      command: "npx",
      args: README_ARGS,
      // npx keeps its package cache under the real HOME; the server gets a private one.
      env: serverEnv(home, { npm_config_cache: `${Deno.env.get("HOME")}/.npm` }),
      stderr: errFd, // the transport takes a file descriptor; it does not expose a piped stderr
    });
    const errors: unknown[] = [];
    const started = performance.now();
    const client = await createMCPClient({
      transport,
      clientName: "ssh-mcp-ai-sdk-test",
      onUncaughtError: (error) => void errors.push(error),
      initializationOptions: { timeout: 120_000 },
    });
    const readyMs = Math.round(performance.now() - started);
    await using _client = { [Symbol.asyncDispose]: () => client.close() }; // close() is idempotent

    const methods = () => transport.sent.flatMap((m) => "method" in m ? [m.method] : []);
    const handshake = methods()[0] !== "server/discover"
      ? "initialize only"
      : methods().includes("initialize")
      ? "server/discover unanswered within 1 s, fell back to initialize"
      : "server/discover answered";
    const summary = () =>
      `ready after ${readyMs} ms: ${handshake} (protocol ${client.initializeResult.protocolVersion})`;
    const context = () =>
      `${summary()}\nsent: ${methods().join(", ")}\nerrors: ${errors.map(String).join("\n")}\n` +
      `server stderr:\n${Deno.readTextFileSync(errFile)}`;

    const snapshot = JSON.parse(await Deno.readTextFile(SNAPSHOT)) as Array<{ name: string }>;
    const tools = await client.tools();
    for (const name of ["connect", "run", "read", "write"]) assert.ok(name in tools, `${name}: ${context()}`);
    assert.deepEqual(Object.keys(tools), snapshot.map((t) => t.name), context());

    // As generateText calls them: a tool call id, the conversation so far, the tool's context.
    const execute = async (name: string, input: Record<string, unknown>) =>
      await tools[name]!.execute(input, {
        toolCallId: `${name}-1`,
        messages: [],
        context: {},
      }) as CallToolResult;
    const connected = await execute("connect", passwordLogin(sshd));
    assert.ok(!connected.isError, `connect failed: ${textOf(connected)}\n${context()}`);
    const ran = await execute("run", { command: "echo hello-from-ai-sdk" });
    assert.ok(!ran.isError, `run failed: ${textOf(ran)}\n${context()}`);
    assert.match(textOf(ran), /hello-from-ai-sdk/, context());

    const running = processesWithEnv(`HOME=${home}`);
    assert.ok(running.length > 0, `no process runs with HOME=${home}: ${context()}`);
    await client.close();
    const deadline = Date.now() + 15_000;
    let left = processesWithEnv(`HOME=${home}`);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      left = processesWithEnv(`HOME=${home}`);
    }
    assert.deepEqual(left, [], `still running after close: ${left.join(", ")} (of ${running.join(", ")})`);

    assert.deepEqual(errors.map(String).filter((e) => e.includes("unknown message ID")), [], context());
    const probe = transport.sent.find((m) => "method" in m && m.method === "server/discover");
    if (probe !== undefined && "id" in probe && methods().includes("initialize")) {
      const late = transport.received.filter((m) => !("method" in m) && "id" in m && m.id === probe.id);
      assert.deepEqual(late, [], `the abandoned probe was answered: ${context()}`);
    }
    // The client handles no server notification: each one (here the server's `notifications/message`
    // log lines, sent at `info` to a client that never called logging/setLevel) is reported as
    // "Unsupported message type" and otherwise ignored. Any other error fails.
    const notifications = transport.received.filter((m) => "method" in m && !("id" in m));
    const unsupported = errors.filter((e) => e instanceof Error && e.message === "Unsupported message type");
    assert.deepEqual(errors.filter((e) => !unsupported.includes(e)).map(String), [], context());
    assert.equal(unsupported.length, notifications.length, context());
    console.log(`${summary()}; ${notifications.length} notifications reported as unsupported`);
  },
);
