/**
 * What every tool call goes through, applied once at registration: session scope and in-flight
 * tracking, a safety deadline, progress plumbing, the audit line, and error → `isError` with a hint.
 */
import type { AuthInfo, CallToolResult, ServerContext } from "@modelcontextprotocol/server";
import { describeError } from "../errors.ts";
import type { Connections } from "../ssh/connection.ts";
import { type AuditSink, digestArguments } from "./audit.ts";
import type { Caller, ServerIdentity, ToolContext, ToolDefinition, ToolLimits } from "./define.ts";
import { errorResult, structuredResult } from "./results.ts";

/** What the transport knows about the request carrying a call. */
export interface CallInfo {
  /** Legacy-era MCP session id, when there is one. */
  mcpSessionId?: string;
  /** HTTP request headers (HTTP only). */
  headers?: Headers;
  /** Verified authentication (HTTP with a token). */
  authInfo?: AuthInfo;
}

/** A session entered for the duration of one call. */
export interface CallScope {
  /** The session's connections. */
  connections: Connections;
  /** Who is calling. */
  caller: Caller;
  /** Aborted when the session is closed or the server shuts down. */
  signal: AbortSignal;
  /** Marks the call finished (the session may be reaped again). */
  end(): void;
}

/** Finds (or creates) the session for a call; throws `LimitError` when limits are reached. */
export type OpenScope = (info: CallInfo) => Promise<CallScope>;

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

/** Extra time the safety deadline allows beyond the largest command deadline. */
const DEADLINE_SLACK_MS = 30_000;

/** Reads what the SDK context carries about the HTTP request. */
export function callInfoOf(ctx: ServerContext): CallInfo {
  return { mcpSessionId: ctx.sessionId, headers: ctx.http?.req?.headers, authInfo: ctx.http?.authInfo };
}

/**
 * Wraps a tool's handler into the SDK callback.
 */
export function wrapTool(
  tool: ToolDefinition,
  options: MiddlewareOptions,
): (args: Record<string, unknown>, ctx: ServerContext) => Promise<CallToolResult> {
  return async (args, sdkCtx) => {
    const started = performance.now();
    const info = callInfoOf(sdkCtx);
    let scope: CallScope | undefined;
    let result: CallToolResult;
    let outcome: "ok" | "error" | "cancelled" = "ok";
    let errorCode: string | undefined;
    const deadline = AbortSignal.timeout(options.limits.maxCommandTimeoutMs + DEADLINE_SLACK_MS);
    try {
      scope = await options.openScope(info);
      const signal = AbortSignal.any([sdkCtx.mcpReq.signal, scope.signal, deadline]);
      const ctx: ToolContext = {
        connections: scope.connections,
        signal,
        progress: progressSender(sdkCtx),
        limits: options.limits,
        caller: scope.caller,
        identity: options.identity,
      };
      const reply = await tool.handler(args, ctx);
      result = structuredResult(reply.data as Record<string, unknown>, reply.text, reply.isError ?? false);
      if (reply.isError) outcome = "error";
    } catch (error) {
      const aborted = sdkCtx.mcpReq.signal.aborted || (scope?.signal.aborted ?? false);
      outcome = aborted ? "cancelled" : "error";
      errorCode = describeError(error).code;
      result = errorResult(error);
    } finally {
      scope?.end();
    }
    const text = result.content?.map((c) => (c.type === "text" ? c.text : "")).join("") ?? "";
    const structured = result.structuredContent as Record<string, unknown> | undefined;
    options.audit.write({
      time: new Date().toISOString(),
      principal: scope?.caller.principal ?? "unknown",
      session: scope?.caller.sessionId ?? "none",
      alias: typeof structured?.alias === "string" ? structured.alias : undefined,
      tool: tool.name,
      args_digest: await digestArguments(args),
      outcome,
      exit_code: typeof structured?.exit_code === "number" ? structured.exit_code : undefined,
      bytes: text.length,
      duration_ms: Math.round(performance.now() - started),
      error_code: errorCode,
    });
    options.log?.(`${tool.name} ${outcome}`, {
      tool: tool.name,
      outcome,
      durationMs: Math.round(performance.now() - started),
    });
    return result;
  };
}

function progressSender(ctx: ServerContext): ToolContext["progress"] {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return () => {};
  return (progress, total, message) => {
    ctx.mcpReq.notify({
      method: "notifications/progress",
      params: {
        progressToken: token,
        progress,
        ...(total === undefined ? {} : { total }),
        ...(message ? { message } : {}),
      },
    }).catch(() => {});
  };
}
