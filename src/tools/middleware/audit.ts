/**
 * The audit line of every call (who, which session, which tool and alias, a digest of the arguments,
 * the outcome, the exit code, bytes and time; never a secret) and the debug log line.
 */
import { type CallToolResult, isInputRequiredResult } from "@modelcontextprotocol/server";
import { type AuditSink, digestArguments } from "../audit.ts";
import type { Wrapper } from "./call.ts";

/** Options of {@link withAudit}. */
export interface AuditOptions {
  /** Where audit lines go. */
  audit: AuditSink;
  /** Debug/info logging of calls. */
  log?: (message: string, properties: Record<string, unknown>) => void;
}

/** Writes one audit line per call, after it ended. */
export function withAudit(options: AuditOptions): Wrapper {
  return (next) => async (call) => {
    const started = performance.now();
    // Digested before the call: later wrappers may pin the default target into the arguments.
    const argsDigest = await digestArguments(call.args);
    const result = await next(call);
    // A question to the human is not the end of the call: the confirm wrapper writes its own line.
    if (isInputRequiredResult(result)) return result;
    const { tool, scope } = call;
    const done = result as CallToolResult;
    const text = done.content?.map((c) => (c.type === "text" ? c.text : "")).join("") ?? "";
    const structured = done.structuredContent as Record<string, unknown> | undefined;
    options.audit.write({
      time: new Date().toISOString(),
      principal: scope?.caller.principal ?? "unknown",
      session: scope?.caller.sessionId ?? "none",
      alias: typeof structured?.alias === "string" ? structured.alias : undefined,
      tool: tool.name,
      args_digest: argsDigest,
      outcome: call.outcome,
      exit_code: typeof structured?.exit_code === "number" ? structured.exit_code : undefined,
      bytes: text.length,
      duration_ms: Math.round(performance.now() - started),
      error_code: call.errorCode,
    });
    options.log?.(`${tool.name} ${call.outcome}`, {
      tool: tool.name,
      outcome: call.outcome,
      durationMs: Math.round(performance.now() - started),
    });
    return result;
  };
}
