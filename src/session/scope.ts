/**
 * Maps a call to its session (SPEC §4): `-global` → one pool; the session header → (principal, key);
 * a legacy MCP session → its own pool; otherwise the principal's default pool (stdio: the process's).
 */
import type { AuthInfo } from "@modelcontextprotocol/server";
import type { Session, SessionPool } from "./pool.ts";
import type { CallInfo, CallScope, OpenScope } from "../tools/middleware/call.ts";

/** Shortest accepted session-header value (≈128 bits of base64url). */
export const MIN_SESSION_KEY_LENGTH = 22;

/** Options of {@link scopeResolver}. */
export interface ScopeOptions {
  /** The pool. */
  pool: SessionPool;
  /** One pool for everyone. */
  global: boolean;
  /** Name of the sticky-pool header (HTTP). */
  sessionHeader: string;
  /** Pool key used when nothing else selects one ("stdio" or "default"). */
  fallbackKey: string;
}

/** The principal a request acts as: the verified token's client id, or "local". */
export function principalOf(authInfo: AuthInfo | undefined): string {
  return authInfo?.clientId ?? "local";
}

/**
 * The principal of a bearer token: `token:` and the first 48 bits of its SHA-256 (the token itself
 * is never kept in a key, a log line or an audit record).
 */
export async function tokenPrincipal(token: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  return "token:" + Array.from(hash.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The pool key of a legacy MCP session (its calls use that pool unless a key selects another). */
export function protocolSessionKey(mcpSessionId: string): string {
  return `mcp:${mcpSessionId}`;
}

/** The pool key for a call, without creating anything. */
export function poolKeyOf(info: CallInfo, options: ScopeOptions): { principal: string; key: string } {
  if (options.global) return { principal: "*", key: "global" };
  const principal = principalOf(info.authInfo);
  const header = info.headers?.get(options.sessionHeader);
  if (header) return { principal, key: `key:${header}` };
  if (info.mcpSessionId) return { principal, key: protocolSessionKey(info.mcpSessionId) };
  return { principal, key: options.fallbackKey };
}

/** Builds the {@link OpenScope} used by the middleware. */
export function scopeResolver(options: ScopeOptions): OpenScope {
  return (info) => {
    const { principal, key } = poolKeyOf(info, options);
    const session = options.pool.open(principal, key);
    const ends: Array<() => void> = [session.enter(options.pool.now())];
    // A legacy MCP session whose calls go to a keyed pool must not be reaped while it is used.
    if (info.mcpSessionId && key !== protocolSessionKey(info.mcpSessionId)) {
      const protocolSession: Session | undefined = options.pool.find(
        principal,
        protocolSessionKey(info.mcpSessionId),
      );
      if (protocolSession) ends.push(protocolSession.enter(options.pool.now()));
    }
    const scope: CallScope = {
      connections: session.connections,
      caller: { principal, sessionId: session.id },
      signal: session.signal,
      end: () => {
        for (const end of ends) end();
      },
      hold: () => session.enter(),
    };
    return Promise.resolve(scope);
  };
}

/**
 * Opens the session a call will use before the call reaches MCP, so that a session limit answers
 * with an HTTP status instead of a tool error. Throws `LimitError` when limits are reached.
 */
export function reserveScope(info: CallInfo, options: ScopeOptions): Session {
  const { principal, key } = poolKeyOf(info, options);
  return options.pool.open(principal, key);
}

/**
 * Opens the session of a legacy MCP session; the transport then adopts its server and transport into
 * it, so they end when the session is closed or reaped. Throws `LimitError` when limits are reached.
 */
export function openProtocolSession(pool: SessionPool, principal: string, mcpSessionId: string): Session {
  return pool.open(principal, protocolSessionKey(mcpSessionId));
}

/** Closes the session of a legacy MCP session (and what it holds). */
export async function closeProtocolSession(
  pool: SessionPool,
  principal: string,
  mcpSessionId: string,
): Promise<void> {
  await pool.close(principal, protocolSessionKey(mcpSessionId));
}

/** Marks the session of a legacy MCP session used now (a request arrived on it). */
export function touchProtocolSession(pool: SessionPool, principal: string, mcpSessionId: string): void {
  pool.find(principal, protocolSessionKey(mcpSessionId))?.touch(pool.now());
}
