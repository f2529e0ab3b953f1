/**
 * What every tool call goes through, applied once at registration, outermost first: the audit line,
 * errors → `isError` with a hint, the session scope, a safety deadline, progress plumbing — then the
 * handler. Each concern is one wrapper in its own file.
 */
import type { ServerContext } from "@modelcontextprotocol/server";
import type { AuditSink } from "../audit.ts";
import type { ServerIdentity, ToolContext, ToolDefinition, ToolLimits } from "../define.ts";
import { structuredResult } from "../results.ts";
import { withAudit } from "./audit.ts";
import type { CallHandler, CallResult, OpenScope, ToolCall, Wrapper } from "./call.ts";
import { withDeadline } from "./deadline.ts";
import { withErrorResults } from "./errors.ts";
import { withProgress } from "./progress.ts";
import { withScope } from "./scope.ts";

export type { CallInfo, CallScope, OpenScope } from "./call.ts";
export { callInfoOf } from "./call.ts";

/** Dependencies of {@link wrapTool}. */
export interface MiddlewareOptions {
  /** Session lookup. */
  openScope: OpenScope;
  /** Limits handed to handlers. */
  limits: ToolLimits;
  /** Audit sink. */
  audit: AuditSink;
  /** The server's identity key (public half). */
  identity: ServerIdentity;
  /** Debug/info logging of calls. */
  log?: (message: string, properties: Record<string, unknown>) => void;
}

/** Runs the tool's handler with the context the wrappers prepared. */
function invoke(tool: ToolDefinition, identity: ServerIdentity): CallHandler {
  return async (call) => {
    const scope = call.scope!;
    const ctx: ToolContext = {
      connections: scope.connections,
      signal: AbortSignal.any(call.signals),
      progress: call.progress,
      limits: call.limits,
      caller: scope.caller,
      identity,
    };
    const reply = await tool.handler(call.args, ctx);
    if (reply.isError) call.outcome = "error";
    return structuredResult(reply.data as Record<string, unknown>, reply.text, reply.isError ?? false);
  };
}

/**
 * Wraps a tool's handler into the SDK callback.
 */
export function wrapTool(
  tool: ToolDefinition,
  options: MiddlewareOptions,
): (args: Record<string, unknown>, ctx: ServerContext) => Promise<CallResult> {
  const wrappers: Wrapper[] = [
    withAudit(options),
    withErrorResults(),
    withScope(options.openScope),
    withDeadline(options.limits),
    withProgress(),
  ];
  const handler = wrappers.reduceRight<CallHandler>(
    (next, wrap) => wrap(next),
    invoke(tool, options.identity),
  );
  return (args, sdk) => {
    const call: ToolCall = {
      tool,
      args,
      sdk,
      signals: [sdk.mcpReq.signal],
      progress: () => {},
      limits: options.limits,
      outcome: "ok",
    };
    return handler(call);
  };
}
