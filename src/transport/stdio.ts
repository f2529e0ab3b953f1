/**
 * The stdio face: one client, one session, nothing but JSON-RPC on stdout. stdin is read by main.ts,
 * which may have answered the handshake already (transport/early.ts), and relayed here.
 */
import { Buffer } from "node:buffer";
import { PassThrough } from "node:stream";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { serveStdio, StdioServerTransport } from "@modelcontextprotocol/server/stdio";
import { createServer, type ServerOptions } from "../server.ts";
import type { SessionPool } from "../session/pool.ts";
import { scopeResolver } from "../session/scope.ts";
import type { StdinMessage } from "./early.ts";

/** Longest accepted stdio line (one JSON-RPC message), bytes (SPEC §8). */
export const MAX_STDIO_LINE = 8 * 1024 * 1024;

/** Options of {@link runStdio}. */
export interface StdioOptions {
  /** The pool (one session is used). */
  pool: SessionPool;
  /** Everything a server instance needs except the scope resolver. */
  server: Omit<ServerOptions, "openScope">;
  /** `-global` mode. */
  global: boolean;
  /** Reports transport errors (to stderr). */
  onError?: (error: Error) => void;
  /** Subscribes to stdin as main.ts relays it (transport/early.ts): bytes, and the ids it answered. */
  stdin: (handler: (message: StdinMessage) => void) => void;
  /** Tells main.ts that the server now answers everything itself. */
  onServing: () => void;
}

/** The SDK's stdio transport, telling us when it closes itself (e.g. after an oversized line). */
class ObservedStdioTransport extends StdioServerTransport {
  readonly closedByTransport: Promise<void>;
  /** The transport closed itself while reading data (an oversized message), not at end of input. */
  overflowed = false;
  #closing = false;
  #resolve!: () => void;

  /** Ids of `server/discover` requests not answered yet. */
  #discovering = new Set<string | number>();
  /** Ids of `server/discover` requests the client gave up on: an `initialize` came after them. */
  #abandoned = new Set<string | number>();
  /** Ids main.ts answered before the server was loaded: the SDK's own answer is not sent again. */
  #answeredEarly = new Set<string | number>();

  constructor(input: PassThrough) {
    super(input, undefined, { maxBufferSize: MAX_STDIO_LINE });
    this.closedByTransport = new Promise((resolve) => this.#resolve = resolve);
    // serveStdio sets onmessage after construction; the base class declares it as a field, so the hook
    // is an own accessor that wraps whatever handler is set.
    let handler: ((message: JSONRPCMessage) => void) | undefined;
    Object.defineProperty(this, "onmessage", {
      configurable: true,
      get: () => handler,
      set: (next: ((message: JSONRPCMessage) => void) | undefined) => {
        handler = next && ((message) => {
          this.#observe(message);
          next(message);
        });
      },
    });
    const onData = this._ondata;
    // The SDK closes synchronously from its data handler when a message exceeds the buffer.
    this._ondata = (chunk) => {
      onData(chunk);
      if (this.#closing) this.overflowed = true;
    };
  }

  /**
   * A client that probes with `server/discover` falls back to `initialize` when no answer came in time
   * (the @ai-sdk/mcp stdio client waits 1 s; a cold `npx` start takes longer). It no longer tracks the
   * probe's id, so a late answer to it is an "unknown message ID" error on its side: once an
   * `initialize` has arrived, an unanswered earlier probe gets no answer.
   */
  #observe(message: JSONRPCMessage): void {
    if (!("method" in message) || !("id" in message)) return;
    if (message.method === "server/discover") this.#discovering.add(message.id);
    else if (message.method === "initialize") {
      for (const id of this.#discovering) this.#abandoned.add(id);
      this.#discovering.clear();
    }
  }

  /** Records ids main.ts has answered; call before their bytes reach the transport. */
  answeredEarly(ids: readonly (string | number)[]): void {
    for (const id of ids) this.#answeredEarly.add(id);
  }

  override send(message: JSONRPCMessage): Promise<void> {
    const id = "method" in message || !("id" in message) ? undefined : message.id;
    if (id !== undefined && id !== null) {
      const answeredEarly = this.#answeredEarly.delete(id);
      const abandoned = this.#abandoned.delete(id);
      this.#discovering.delete(id);
      if (answeredEarly || abandoned) return Promise.resolve();
    }
    return super.send(message);
  }

  override async close(): Promise<void> {
    this.#closing = true;
    await super.close();
    this.#resolve();
  }
}

/**
 * Serves MCP on stdin/stdout. Resolves "eof" when stdin closes, "transport-closed" when the transport
 * gave up (a message over {@link MAX_STDIO_LINE}).
 */
export async function runStdio(options: StdioOptions): Promise<"eof" | "transport-closed"> {
  const openScope = scopeResolver({
    pool: options.pool,
    global: options.global,
    sessionHeader: "x-session-key",
    fallbackKey: "stdio",
  });
  const input = new PassThrough();
  const ended = new Promise<void>((resolve) => input.once("end", resolve));
  const transport = new ObservedStdioTransport(input);
  options.stdin((message) => {
    if (message.type === "stdin-end") return void input.end();
    transport.answeredEarly(message.answered);
    input.write(Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength));
  });
  const handle = serveStdio(() => createServer({ ...options.server, openScope }), {
    transport,
    onerror: options.onError,
  });
  options.onServing();
  const why = await Promise.race([
    ended.then(() => "eof" as const),
    transport.closedByTransport.then(() => "transport-closed" as const),
  ]);
  await handle.close();
  return transport.overflowed ? "transport-closed" : why;
}
