/**
 * The stdio face: one client, one session, nothing but JSON-RPC on stdout.
 */
import process from "node:process";
import { serveStdio, StdioServerTransport } from "@modelcontextprotocol/server/stdio";
import { createServer, type ServerOptions } from "../server.ts";
import type { SessionPool } from "../session/pool.ts";
import { scopeResolver } from "./scope.ts";

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
}

/** Serves MCP on stdin/stdout; resolves when stdin closes. */
export async function runStdio(options: StdioOptions): Promise<void> {
  const openScope = scopeResolver({
    pool: options.pool,
    global: options.global,
    sessionHeader: "x-session-key",
    fallbackKey: "stdio",
  });
  const ended = new Promise<void>((resolve) => {
    process.stdin.once("end", resolve);
    process.stdin.once("close", resolve);
  });
  const handle = serveStdio(() => createServer({ ...options.server, openScope }), {
    transport: new StdioServerTransport(undefined, undefined, { maxBufferSize: MAX_STDIO_LINE }),
    onerror: options.onError,
  });
  await ended;
  await handle.close();
}
