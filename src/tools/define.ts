/**
 * What a tool is: data. A toolset module exports one {@link Toolset} made of {@link defineTool} calls;
 * deadlines, audit, logging and error hints are applied once by the registry, never by handlers.
 */
import type { z } from "zod";
import { TOOLSET_NAMES } from "../config.ts";
import type { Connections } from "../ssh/connection.ts";

export { TOOLSET_NAMES };
/** One of {@link TOOLSET_NAMES}. */
export type ToolsetName = typeof TOOLSET_NAMES[number];

/** All four MCP annotation hints, required so that no tool forgets one. */
export interface ToolHints {
  /** The tool changes nothing anywhere. */
  readOnlyHint: boolean;
  /** The tool may destroy or overwrite data. */
  destructiveHint: boolean;
  /** Calling twice with the same arguments has no further effect. */
  idempotentHint: boolean;
  /** The tool reaches systems outside the server (every SSH tool does). */
  openWorldHint: boolean;
}

/** Limits that handlers apply (from the configuration). */
export interface ToolLimits {
  /** Per-stream output cap, bytes. */
  maxOutputBytes: number;
  /** Default command deadline, ms. */
  commandTimeoutMs: number;
  /** Largest deadline a call may ask for, ms. */
  maxCommandTimeoutMs: number;
  /** Targets one `run{targets}` call works on at once (-fanout; default 8). */
  fanout?: number;
  /**
   * The local directory `upload` reads from and `download` writes to (-transfer-dir, absolute);
   * without it those tools refuse.
   */
  transferDir?: string;
  /** How long `run` and other long tools wait before answering with a job, ms (-run-wait; default 25 s). */
  runWaitMs?: number;
}

/** Who is calling; used for audit lines and capture ownership. */
export interface Caller {
  /** Authenticated principal ("local" without auth). */
  principal: string;
  /** The pool key of the session serving the call. */
  sessionId: string;
}

/** MCP log levels (`notifications/message`), least severe first in the protocol's order. */
export type ClientLogLevel =
  | "debug"
  | "info"
  | "notice"
  | "warning"
  | "error"
  | "critical"
  | "alert"
  | "emergency";

/**
 * Sends a log message to the MCP client when it asked for that level (redacted, rate-limited);
 * `data` adds structured fields.
 */
export type ClientLog = (level: ClientLogLevel, message: string, data?: Record<string, unknown>) => void;

/** Everything a handler may use. Handlers never see configuration or transports directly. */
export interface ToolContext {
  /** The session's SSH connections. */
  connections: Connections;
  /** Aborted when the client cancels, the deadline passes, or the server shuts down. */
  signal: AbortSignal;
  /** Aborted only when the session closes or the server shuts down (for work that outlives the call). */
  sessionSignal: AbortSignal;
  /** Sends a progress notification when the client asked for them; a no-op otherwise. */
  progress(progress: number, total?: number, message?: string): void;
  /** Output and deadline limits. */
  limits: ToolLimits;
  /** Log messages for the client (`notifications/message`). */
  log: ClientLog;
  /** Who is calling. */
  caller: Caller;
  /** The server's own SSH identity (public half). */
  identity: ServerIdentity;
  /**
   * Keeps the session (and its connections) busy beyond this call, for work the server goes on doing
   * after answering (a job backed by the server); call the returned function when that work ends.
   */
  keepSessionBusy(): () => void;
}

/** The public half of the server's identity key. */
export interface ServerIdentity {
  /** OpenSSH public key line. */
  publicKey: string;
  /** `SHA256:…` fingerprint. */
  fingerprint: string;
}

/** What a handler returns: structured data (when the tool has an output schema) and text. */
export interface ToolReply<Data> {
  /** Structured result matching the output schema. */
  data: Data;
  /** Readable text for the model; JSON of `data` when absent. */
  text?: string;
  /** Marks a result that describes a failure the model should handle (e.g. a non-zero exit). */
  isError?: boolean;
}

// deno-lint-ignore no-explicit-any
type AnyObject = z.ZodObject<any>;

/** A tool, declared as data. */
export interface ToolDefinition<I extends AnyObject = AnyObject, O extends AnyObject = AnyObject> {
  /** Seed name, snake_case. */
  name: string;
  /** Short human title. */
  title: string;
  /** For the model: what it does and what to call next on failure (20–600 chars). */
  description: string;
  /** Input schema; every field has `.describe()`. */
  input: I;
  /** Output schema of `structuredContent`. */
  output: O;
  /** The four hints. */
  annotations: ToolHints;
  /** The handler; throws on failure (the middleware turns errors into `isError` results). */
  handler: (args: z.output<I>, ctx: ToolContext) => Promise<ToolReply<z.input<O>>>;
}

/** A named group of tools. */
export interface Toolset {
  /** Toolset name for `-toolsets`. */
  name: ToolsetName;
  /** Its tools. */
  tools: readonly ToolDefinition[];
}

/**
 * Declares a tool with its types inferred from the schemas.
 *
 * @example
 * ```ts
 * const ping = defineTool({
 *   name: "ping", title: "Ping", description: "Answers pong; use it to check the server is alive.",
 *   input: z.object({}), output: z.object({ pong: z.boolean() }),
 *   annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
 *   handler: async () => ({ data: { pong: true } }),
 * });
 * ```
 */
export function defineTool<I extends AnyObject, O extends AnyObject>(
  definition: ToolDefinition<I, O>,
): ToolDefinition {
  return Object.freeze(definition) as unknown as ToolDefinition;
}
