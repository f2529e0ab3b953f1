/**
 * The HTTP face: a `fetch`-shaped handler serving `/mcp` (both protocol eras) and `/healthz`.
 *
 * Modern (2026-07-28) requests go to the SDK's per-request handler; legacy (2025-era) requests get
 * stateful sessions with an `Mcp-Session-Id` we mint (UUIDv7), GET SSE streams and DELETE.
 */
import {
  type AuthInfo,
  createMcpHandler,
  isLegacyRequest,
  readRequestBody,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import type { Config } from "../config.ts";
import { LimitError } from "../errors.ts";
import { createServer, type ServerOptions } from "../server.ts";
import type { SessionPool } from "../session/pool.ts";
import { uuid7 } from "../session/uuid7.ts";
import { checkAuth, checkBodySize, checkOrigin, jsonError, MAX_BODY_BYTES } from "./http_guard.ts";
import {
  closeProtocolSession,
  MIN_SESSION_KEY_LENGTH,
  openProtocolSession,
  principalOf,
  reserveScope,
  scopeResolver,
  tokenPrincipal,
  touchProtocolSession,
} from "../session/scope.ts";

/** Options of {@link createHttpHandler}. */
export interface HttpOptions {
  /** Configuration subset used here. */
  config: Pick<Config, "allowedHosts" | "allowedOrigins" | "authToken" | "sessionHeader" | "global">;
  /** The session pool. */
  pool: SessionPool;
  /** Everything a server instance needs except the scope resolver. */
  server: Omit<ServerOptions, "openScope">;
  /** Version for /healthz. */
  version: string;
  /** Reports unexpected errors. */
  onError?: (error: Error) => void;
}

/** The handler plus its teardown. */
export interface HttpHandler extends AsyncDisposable {
  /** Serves one request. */
  fetch: (request: Request) => Promise<Response>;
}

interface LegacyEntry {
  transport: WebStandardStreamableHTTPServerTransport;
  principal: string;
}

/**
 * Builds the HTTP handler.
 *
 * @example
 * ```ts
 * const handler = createHttpHandler({ config, pool, server, version });
 * Deno.serve({ hostname: "127.0.0.1", port: 8000 }, handler.fetch);
 * ```
 */
export function createHttpHandler(options: HttpOptions): HttpHandler {
  const started = Date.now();
  const { config, pool } = options;
  const scopeOptions = {
    pool,
    global: config.global,
    sessionHeader: config.sessionHeader,
    fallbackKey: "default",
  };
  const serverOptions: ServerOptions = { ...options.server, openScope: scopeResolver(scopeOptions) };
  const modern = createMcpHandler(() => createServer(serverOptions), {
    legacy: "reject",
    onerror: options.onError,
    maxRequestBodySize: MAX_BODY_BYTES,
  });
  const legacy = new Map<string, LegacyEntry>();
  const principal = config.authToken === undefined ? undefined : tokenPrincipal(config.authToken);

  async function authInfoFor(): Promise<AuthInfo | undefined> {
    if (principal === undefined) return undefined;
    const id = await principal;
    return { token: id, clientId: id, scopes: [] };
  }

  async function startLegacySession(request: Request, body: unknown, authInfo: AuthInfo | undefined) {
    const owner = principalOf(authInfo);
    const id = uuid7();
    const session = openProtocolSession(pool, owner, id);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      onsessionclosed: () => void closeProtocolSession(pool, owner, id),
    });
    const server = createServer(serverOptions);
    await server.connect(transport);
    legacy.set(id, { transport, principal: owner });
    session.adopt({
      async [Symbol.asyncDispose]() {
        legacy.delete(id);
        await server.close().catch(() => {});
      },
    });
    const response = await transport.handleRequest(request, { parsedBody: body, authInfo });
    if (!response.ok) await closeProtocolSession(pool, owner, id);
    return response;
  }

  async function serveMcp(request: Request): Promise<Response> {
    const denied = checkAuth(request, config) ?? checkBodySize(request);
    if (denied) return denied;
    const key = request.headers.get(config.sessionHeader);
    if (key !== null && key.length < MIN_SESSION_KEY_LENGTH) {
      return jsonError(
        400,
        `Bad Request: ${config.sessionHeader} must be at least ${MIN_SESSION_KEY_LENGTH} characters (use a random value, e.g. a UUID)`,
      );
    }
    let body: unknown = undefined;
    if (request.method === "POST") {
      const read = await readRequestBody(request, MAX_BODY_BYTES);
      if (read.tooLarge) {
        return jsonError(413, `Payload Too Large: request bodies are limited to ${MAX_BODY_BYTES} bytes`);
      }
      try {
        body = JSON.parse(read.text);
      } catch {
        return new Response(
          JSON.stringify({
            jsonrpc: "2.0",
            error: { code: -32700, message: "Parse error: body is not JSON" },
            id: null,
          }),
          { status: 400, headers: { "content-type": "application/json" } },
        );
      }
    }
    const authInfo = await authInfoFor();
    try {
      // A sticky key creates its pool up front so limits answer with an HTTP status.
      if (key !== null) reserveScope({ headers: request.headers, authInfo }, scopeOptions);
      if (!(await isLegacyRequest(request, body))) {
        return await modern.fetch(request, { authInfo, parsedBody: body });
      }
      const sessionId = request.headers.get("mcp-session-id");
      if (sessionId === null) {
        if (request.method === "POST" && isInitialize(body)) {
          return await startLegacySession(request, body, authInfo);
        }
        // Streamable HTTP: a GET the server does not serve as an SSE stream gets 405, which clients
        // (the Vercel AI SDK opens its GET stream before initialize) take as "no stream here".
        if (request.method === "GET") {
          return jsonError(
            405,
            "Method Not Allowed: the GET stream needs an Mcp-Session-Id; send initialize first",
            { allow: "GET, POST, DELETE" },
          );
        }
        return jsonError(400, "Bad Request: no Mcp-Session-Id; send initialize first");
      }
      const entry = legacy.get(sessionId);
      if (entry === undefined || entry.principal !== principalOf(authInfo)) {
        return jsonError(404, "Session not found: it ended or expired; initialize a new one");
      }
      touchProtocolSession(pool, entry.principal, sessionId);
      return await entry.transport.handleRequest(request, { parsedBody: body, authInfo });
    } catch (error) {
      if (error instanceof LimitError) return jsonError(error.status, error.message, { "retry-after": "30" });
      throw error;
    }
  }

  const fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    if (url.pathname !== "/mcp" && url.pathname !== "/healthz") {
      return jsonError(404, "Not Found: the endpoint is /mcp");
    }
    const rejected = checkOrigin(request, config);
    if (rejected) return rejected;
    if (url.pathname === "/healthz") {
      return Response.json({
        status: "ok",
        version: options.version,
        uptime_seconds: Math.round((Date.now() - started) / 1000),
        sessions: pool.size,
      });
    }
    return await serveMcp(request);
  };

  return {
    fetch,
    async [Symbol.asyncDispose]() {
      await modern.close();
      for (const entry of legacy.values()) await entry.transport.close().catch(() => {});
      legacy.clear();
    },
  };
}

function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) =>
    typeof m === "object" && m !== null && (m as { method?: unknown }).method === "initialize"
  );
}
