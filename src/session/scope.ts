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

/** The pool key for a call, without creating anything. */
export function poolKeyOf(info: CallInfo, options: ScopeOptions): { principal: string; key: string } {
  if (options.global) return { principal: "*", key: "global" };
  const principal = principalOf(info.authInfo);
  const header = info.headers?.get(options.sessionHeader);
  if (header) return { principal, key: `key:${header}` };
  if (info.mcpSessionId) return { principal, key: `mcp:${info.mcpSessionId}` };
  return { principal, key: options.fallbackKey };
}

/** Builds the {@link OpenScope} used by the middleware. */
export function scopeResolver(options: ScopeOptions): OpenScope {
  return (info) => {
    const { principal, key } = poolKeyOf(info, options);
    const session = options.pool.open(principal, key);
    const ends: Array<() => void> = [session.enter(options.pool.now())];
    // A legacy MCP session whose calls go to a keyed pool must not be reaped while it is used.
    if (info.mcpSessionId && key !== `mcp:${info.mcpSessionId}`) {
      const protocolSession: Session | undefined = options.pool.find(principal, `mcp:${info.mcpSessionId}`);
      if (protocolSession) ends.push(protocolSession.enter(options.pool.now()));
    }
    const scope: CallScope = {
      connections: session.connections,
      caller: { principal, sessionId: session.id },
      signal: session.signal,
      end: () => {
        for (const end of ends) end();
      },
    };
    return Promise.resolve(scope);
  };
}
