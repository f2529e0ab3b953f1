/**
 * Enters the caller's session for the duration of a call (session lookup, in-flight tracking), so
 * the session is not reaped while the call runs and its closing cancels the call.
 */
import { callInfoOf, type OpenScope, type Wrapper } from "./call.ts";

/** Opens the session before the call and marks it finished after. */
export function withScope(openScope: OpenScope): Wrapper {
  return (next) => async (call) => {
    call.scope = await openScope(callInfoOf(call.sdk));
    call.signals.push(call.scope.signal);
    try {
      return await next(call);
    } finally {
      call.scope.end();
    }
  };
}
