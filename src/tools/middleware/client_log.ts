/**
 * Log messages for the MCP client: the handler gets `ctx.log` (a no-op unless the server gives a
 * channel), and every call ends with one message — `info` when it finished, `error` with the first
 * line of the error and its code when it failed, `warning` when it was cancelled.
 */
import { type CallToolResult, isInputRequiredResult, type ServerContext } from "@modelcontextprotocol/server";
import type { ClientLog } from "../define.ts";
import type { Wrapper } from "./call.ts";

/** Builds the client logger of one call (the server's rate-limited, redacting channel). */
export type ClientLogFactory = (ctx: ServerContext, name: string) => ClientLog;

/** Gives the handler `ctx.log` and reports how the call ended. */
export function withClientLog(factory: ClientLogFactory | undefined): Wrapper {
  return (next) => async (call) => {
    if (factory === undefined) return await next(call);
    const log = factory(call.sdk, call.tool.name);
    call.log = log;
    const started = performance.now();
    const result = await next(call);
    if (isInputRequiredResult(result)) return result;
    const done = result as CallToolResult;
    const structured = done.structuredContent as Record<string, unknown> | undefined;
    const fields = {
      ...(typeof structured?.alias === "string" ? { alias: structured.alias } : {}),
      duration_ms: Math.round(performance.now() - started),
    };
    const name = call.tool.name;
    if (call.outcome === "ok") log("info", `${name} finished in ${fields.duration_ms} ms`, fields);
    else {
      const first = done.content?.find((c) => c.type === "text")?.text.split("\n")[0] ?? "";
      log(
        call.outcome === "cancelled" ? "warning" : "error",
        `${name} ${call.outcome === "cancelled" ? "was cancelled" : "failed"}: ${first}`,
        { ...fields, ...(call.errorCode === undefined ? {} : { code: call.errorCode }) },
      );
    }
    return result;
  };
}
