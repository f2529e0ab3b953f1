/**
 * Progress plumbing: handlers call `ctx.progress(…)` freely; notifications go out only when the
 * client asked for them with a progress token.
 */
import type { ServerContext } from "@modelcontextprotocol/server";
import type { ToolContext } from "../define.ts";
import type { Wrapper } from "./call.ts";

/** Gives the handler a progress sender bound to the request's progress token. */
export function withProgress(): Wrapper {
  return (next) => (call) => {
    call.progress = progressSender(call.sdk);
    return next(call);
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
