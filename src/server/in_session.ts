/**
 * Runs a non-tool request (a resource read, a prompt, a completion) inside the caller's session,
 * exactly as a tool call is: the same (principal, key) selection, so nothing of another session is
 * ever visible, and the session is held (not reaped) while the request runs.
 */
import type { ServerContext } from "@modelcontextprotocol/server";
import { type CallInfo, callInfoOf, type CallScope, type OpenScope } from "../tools/middleware/mod.ts";

/** What a session-scoped request may use. */
export interface SessionRequest {
  /** The caller's session. */
  scope: CallScope;
  /** Aborted when the client cancels or the session closes. */
  signal: AbortSignal;
}

/**
 * Opens the caller's session for the duration of `fn`.
 *
 * @example
 * ```ts
 * const list = await inSession(openScope, ctx, ({ scope }) => Promise.resolve(scope.connections.list()));
 * ```
 */
export function inSession<T>(
  openScope: OpenScope,
  ctx: ServerContext,
  fn: (request: SessionRequest) => Promise<T>,
): Promise<T> {
  return inSessionOf(openScope, callInfoOf(ctx), fn, ctx.mcpReq.signal);
}

/** Like {@link inSession}, for work that outlives its request (a subscription's poll). */
export async function inSessionOf<T>(
  openScope: OpenScope,
  info: CallInfo,
  fn: (request: SessionRequest) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const scope = await openScope(info);
  try {
    return await fn({ scope, signal: signal ? AbortSignal.any([signal, scope.signal]) : scope.signal });
  } finally {
    scope.end();
  }
}
