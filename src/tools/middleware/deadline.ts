/**
 * A safety deadline on every call: handlers apply their own command deadlines, and this one ends
 * whatever is still waiting a while after the largest of them could have passed.
 */
import type { ToolLimits } from "../define.ts";
import type { Wrapper } from "./call.ts";

/** Extra time the safety deadline allows beyond the largest command deadline. */
export const DEADLINE_SLACK_MS = 30_000;

/** Adds the safety deadline to the signals the handler observes. */
export function withDeadline(limits: ToolLimits): Wrapper {
  return (next) => (call) => {
    call.signals.push(AbortSignal.timeout(limits.maxCommandTimeoutMs + DEADLINE_SLACK_MS));
    return next(call);
  };
}
