/**
 * What every tool call goes through, applied once at registration, outermost first: the audit line,
 * the note of connections made on demand, log messages for the client, errors → `isError` with a
 * hint, the session scope, a safety deadline, progress plumbing, connect on demand, and — when the
 * operator configured approval or a policy — the per-host policy and the human yes; then the handler.
 * Each concern is one wrapper in its own file.
 */
import { asTask, declaresTasks } from "../jobs/tasks.ts";
import type { ServerContext } from "@modelcontextprotocol/server";
import type { AuditSink } from "../audit.ts";
import type { ConfirmKind } from "../../config.ts";
import type { PresentedHostKey } from "../../ssh/host_keys/confirm.ts";
import type { ServerIdentity, ToolContext, ToolDefinition, ToolLimits, ToolsetName } from "../define.ts";
import type { Policy } from "../policy.ts";
import type { ApprovalStates } from "./approval_state.ts";
import { structuredResult } from "../results.ts";
import { withAudit } from "./audit.ts";
import type { CallHandler, CallResult, OpenScope, ToolCall, Wrapper } from "./call.ts";
import { type ClientLogFactory, withClientLog } from "./client_log.ts";
import { withConnectedNote, withConnectOnDemand } from "./connect_on_demand.ts";
import { withDeadline } from "./deadline.ts";
import { withConfirm } from "./confirm.ts";
import { withErrorResults } from "./errors.ts";
import { withPolicy } from "./policy.ts";
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
  /** Log messages for the MCP client of one call (none when absent). */
  clientLog?: ClientLogFactory;
  /** Approval and per-host policy (SPEC §11); absent when neither `-confirm` nor `-policy` is set. */
  approval?: ApprovalOptions;
  /** The toolset of a tool (the registry fills it in). */
  toolsetOf?: (toolName: string) => ToolsetName | undefined;
  /** Whether the client of a request can answer a form elicitation (the server instance fills it in). */
  canElicit?: (ctx: ServerContext) => boolean;
}

/** What `-confirm` and `-policy` configure (built once in main.ts). */
export interface ApprovalOptions {
  /** `-confirm`. */
  confirm: readonly ConfirmKind[];
  /** The parsed `-policy` file. */
  policy?: Policy;
  /** The signed-state codec with its per-process secret. */
  states: ApprovalStates;
  /** Records an approved host key (as `accept-new` does). */
  recordHostKey: (key: PresentedHostKey) => Promise<void>;
}

/** Runs the called tool's handler with the context the wrappers prepared. */
function invoke(identity: ServerIdentity): CallHandler {
  return async (call) => {
    const tool = call.tool;
    const scope = call.scope!;
    const ctx: ToolContext = {
      connections: scope.connections,
      signal: AbortSignal.any(call.signals),
      sessionSignal: scope.signal,
      progress: call.progress,
      limits: call.limits,
      log: call.log,
      caller: scope.caller,
      identity,
      keepSessionBusy: () => scope.hold(),
    };
    const reply = await tool.handler(call.args, ctx);
    // A call the client cancelled (or a session that closed) answers with what was killed: "cancelled".
    if (reply.isError) {
      call.outcome = call.sdk.mcpReq.signal.aborted || scope.signal.aborted ? "cancelled" : "error";
    }
    const result = structuredResult(
      reply.data as Record<string, unknown>,
      reply.text,
      reply.isError ?? false,
    );
    // A job answer becomes a task for a request that declared the Tasks extension.
    return declaresTasks(call.sdk) ? asTask(result) : result;
  };
}

/** The SDK callback of one tool. */
export type ToolCallback = (args: Record<string, unknown>, ctx: ServerContext) => Promise<CallResult>;

/**
 * Builds the middleware chain once (per server instance) and returns what wraps each tool's handler
 * into its SDK callback: every tool of an instance shares the chain, so an instance costs a closure per
 * tool, not a chain per tool (an idle legacy session holds one instance).
 *
 * @example
 * ```ts
 * const callbackOf = toolCallbacks(options);
 * server.registerTool(tool.name, config, callbackOf(tool));
 * ```
 */
export function toolCallbacks(options: MiddlewareOptions): (tool: ToolDefinition) => ToolCallback {
  const wrappers: Wrapper[] = [
    withAudit(options),
    withConnectedNote(),
    withClientLog(options.clientLog),
    withErrorResults(),
    withScope(options.openScope),
    withDeadline(options.limits),
    withProgress(),
    // Before the policy: a target connected on demand is then checked like any other connection.
    withConnectOnDemand(),
  ];
  const { approval } = options;
  if (approval !== undefined) {
    wrappers.push(
      withPolicy({ policy: approval.policy, toolsetOf: options.toolsetOf ?? (() => undefined) }),
      withConfirm({ ...approval, audit: options.audit, canElicit: options.canElicit ?? (() => false) }),
    );
  }
  const handler = wrappers.reduceRight<CallHandler>(
    (next, wrap) => wrap(next),
    invoke(options.identity),
  );
  return (tool) => (args, sdk) => {
    const call: ToolCall = {
      tool,
      args,
      sdk,
      signals: [sdk.mcpReq.signal],
      progress: () => {},
      limits: options.limits,
      log: () => {},
      outcome: "ok",
    };
    return handler(call);
  };
}
