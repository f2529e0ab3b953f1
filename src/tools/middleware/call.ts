/**
 * What the middleware wrappers pass along: one tool call, the session it entered, and the pieces of
 * the handler's context each wrapper contributes. Every wrapper is a {@link Wrapper}: it receives the
 * next handler and returns a handler, so the chain in `mod.ts` reads top to bottom.
 */
import type {
  AuthInfo,
  CallToolResult,
  InputRequiredResult,
  ServerContext,
} from "@modelcontextprotocol/server";
import type { Connections, ConnectOutcome } from "../../ssh/connection.ts";
import type { Caller, ClientLog, ToolContext, ToolDefinition, ToolLimits } from "../define.ts";
import type { GuardedTarget } from "./targets.ts";

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
  /**
   * Keeps the session busy beyond the call (a job the server runs on its connections) until the
   * returned function is called.
   */
  hold(): () => void;
}

/** Finds (or creates) the session for a call; throws `LimitError` when limits are reached. */
export type OpenScope = (info: CallInfo) => Promise<CallScope>;

/** A connection made on demand for a call (connect_on_demand.ts). */
export interface OnDemandConnection {
  /** What the call named (and the new alias). */
  alias: string;
  /** Where it came from. */
  from: "ssh_config" | "user@host";
  /** What `connect` reported. */
  outcome: ConnectOutcome;
}

/** How a call ended, as the audit line reports it. */
export type CallOutcome = "ok" | "error" | "cancelled";

/** One tool call on its way through the wrappers. */
export interface ToolCall {
  /** The tool called. */
  readonly tool: ToolDefinition;
  /** Its validated arguments. */
  readonly args: Record<string, unknown>;
  /** The SDK's request context. */
  readonly sdk: ServerContext;
  /** The session, once the scope wrapper entered it. */
  scope?: CallScope;
  /** Signals that end the call; the handler observes their union. */
  readonly signals: AbortSignal[];
  /** Sends progress notifications (a no-op until the progress wrapper sets it). */
  progress: ToolContext["progress"];
  /** Limits handed to the handler. */
  limits: ToolLimits;
  /** Log messages for the client (a no-op until the client-log wrapper sets it). */
  log: ClientLog;
  /** How the call ended (set by the invoker and the errors wrapper). */
  outcome: CallOutcome;
  /** Error code of a thrown error, when there was one. */
  errorCode?: string;
  /** The connections the call acts on, with their policy rules (set by the policy wrapper). */
  targets?: readonly GuardedTarget[];
  /** Connections made on demand for this call (see connect_on_demand.ts). */
  connected?: OnDemandConnection[];
}

/** What a wrapped handler returns: a result, or a request for input (multi round trip). */
export type CallResult = CallToolResult | InputRequiredResult;

/** A handler of calls. */
export type CallHandler = (call: ToolCall) => Promise<CallResult>;

/** One concern around the handler. */
export type Wrapper = (next: CallHandler) => CallHandler;

/** Reads what the SDK context carries about the HTTP request. */
export function callInfoOf(ctx: ServerContext): CallInfo {
  return { mcpSessionId: ctx.sessionId, headers: ctx.http?.req?.headers, authInfo: ctx.http?.authInfo };
}
