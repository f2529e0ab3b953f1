/**
 * Official SDK v2 clients that answer elicitation questions (SPEC §11), in either protocol era: the
 * questions they were asked are kept, and each answer comes from a function the test gives.
 */
import { Client, type ElicitResult, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { type Era, serverEnv, type ServerProcessOptions, startTaskArgs } from "./server.ts";

/** One question as the client received it. */
export interface Asked {
  /** The text shown to the human. */
  message: string;
  /** The form's JSON schema. */
  requestedSchema: { properties: Record<string, unknown>; required?: string[] };
}

/** How the test answers: from the question to the result the human gives. */
export type Answer = (asked: Asked) => ElicitResult;

/** Approves everything. */
export const YES: Answer = () => ({ action: "accept", content: { approve: true } });
/** Says no to everything. */
export const NO: Answer = () => ({ action: "decline" });

/** A client with an elicitation handler and the questions it got. */
export type ElicitingClient = Client & AsyncDisposable & {
  /** Questions received so far. */
  asked: Asked[];
  /** Changes how the next questions are answered. */
  answer: Answer;
};

function eliciting(era: Era, answer: Answer): ElicitingClient {
  const client = new Client(
    { name: "ssh-mcp-tests", version: "1.0.0" },
    {
      capabilities: { elicitation: { form: {} } },
      ...(era === "modern" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}),
    },
  ) as ElicitingClient;
  client.asked = [];
  client.answer = answer;
  client.setRequestHandler("elicitation/create", (request) => {
    const asked = request.params as unknown as Asked;
    client.asked.push(asked);
    return Promise.resolve(client.answer(asked));
  });
  return client;
}

/** An eliciting SDK client over HTTP in the given era. */
export async function elicitingHttpClient(
  server: { url: string },
  era: Era,
  answer: Answer = YES,
): Promise<ElicitingClient> {
  const client = eliciting(era, answer);
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`));
  await client.connect(transport);
  return Object.assign(client, {
    async [Symbol.asyncDispose]() {
      if (era === "legacy") await transport.terminateSession().catch(() => {});
      await client.close();
    },
  });
}

/** An eliciting SDK client that launches the server over stdio (same flags as the start task). */
export async function elicitingStdioClient(
  era: Era,
  options: ServerProcessOptions & { home: string },
  answer: Answer = YES,
): Promise<ElicitingClient> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: [...await startTaskArgs(options.home), "-mode", "stdio", ...(options.args ?? [])],
    env: serverEnv(options.home, options.env),
    stderr: "pipe",
  });
  const client = eliciting(era, answer);
  await client.connect(transport);
  return Object.assign(client, {
    async [Symbol.asyncDispose]() {
      await client.close();
    },
  });
}
