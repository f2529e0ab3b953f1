/**
 * Errors → `isError` results: whatever a handler throws becomes text that says what failed and what
 * to do next, and the call's outcome records whether it failed or was cancelled.
 */
import { describeError } from "../../errors.ts";
import { errorResult } from "../results.ts";
import type { Wrapper } from "./call.ts";

/** Turns thrown errors into `isError` results. */
export function withErrorResults(): Wrapper {
  return (next) => async (call) => {
    try {
      return await next(call);
    } catch (error) {
      const aborted = call.sdk.mcpReq.signal.aborted || (call.scope?.signal.aborted ?? false);
      call.outcome = aborted ? "cancelled" : "error";
      call.errorCode = describeError(error).code;
      return errorResult(error);
    }
  };
}
