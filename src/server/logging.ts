/**
 * Log messages for the MCP client (`notifications/message`), at or above the level the client asked
 * for — `logging/setLevel` in the 2025 era (default `info` until it asks), the request's `_meta` log
 * level in the 2026-07-28 era (nothing unless it asks) — with secrets redacted and a rate limit per
 * server instance (one per legacy session, per stdio process, per modern request), so that a chatty
 * call cannot flood the client. Messages below the level cost nothing from the rate budget.
 */
import { LOG_LEVEL_META_KEY, type LoggingLevel, type ServerContext } from "@modelcontextprotocol/server";
import { redactSecrets } from "../log.ts";
import type { ClientLog } from "../tools/define.ts";

/** Options of {@link ClientLogChannel}. */
export interface ClientLogOptions {
  /** Messages that may be sent at once after a quiet period (default 20). */
  burst?: number;
  /** Messages per second sustained (default 5). */
  perSecond?: number;
  /** Clock, ms (tests). */
  now?: () => number;
}

/** MCP log levels, least severe first. */
export const LOG_LEVELS: readonly LoggingLevel[] = [
  "debug",
  "info",
  "notice",
  "warning",
  "error",
  "critical",
  "alert",
  "emergency",
];

/** Level sent to a 2025-era client that never called `logging/setLevel`. */
const DEFAULT_LEVEL: LoggingLevel = "info";

// PEM private keys, bearer tokens and `password=…`-style pairs that a message might quote.
const SECRET_TEXT = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi,
  /\b(pass(?:word|phrase)?|secret|token|sudo_password)(\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)/gi,
];

/**
 * Redacts what looks like a secret in free text.
 *
 * @example
 * ```ts
 * redactText("login failed for password=hunter2"); // "login failed for password=[redacted]"
 * ```
 */
export function redactText(text: string): string {
  return text
    .replace(SECRET_TEXT[0]!, "[redacted private key]")
    .replace(SECRET_TEXT[1]!, "$1 [redacted]")
    .replace(SECRET_TEXT[2]!, "$1$2[redacted]");
}

/** The rate-limited, redacting sender of one server instance. */
export class ClientLogChannel {
  #tokens: number;
  #burst: number;
  #perSecond: number;
  #now: () => number;
  #last: number;
  #dropped = 0;
  #level: LoggingLevel = DEFAULT_LEVEL;

  /** Creates a channel with a full bucket. */
  constructor(options: ClientLogOptions = {}) {
    this.#burst = options.burst ?? 20;
    this.#perSecond = options.perSecond ?? 5;
    this.#now = options.now ?? Date.now;
    this.#tokens = this.#burst;
    this.#last = this.#now();
  }

  /** Messages dropped by the rate limit and not yet reported. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The threshold set by `logging/setLevel` (2025 era). */
  get level(): LoggingLevel {
    return this.#level;
  }

  /** Records `logging/setLevel`; unknown levels are refused with a `RangeError`. */
  setLevel(level: string): void {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new RangeError(`Cannot set log level "${level}": expected one of ${LOG_LEVELS.join(", ")}`);
    }
    this.#level = level as LoggingLevel;
  }

  /**
   * A logger for one request: `log(level, message, data?)` sends `{message, ...data}` (redacted) as
   * `notifications/message` under the logger name `ssh-mcp/<name>`; errors sending are ignored.
   */
  forRequest(ctx: ServerContext, name: string): ClientLog {
    const logger = `ssh-mcp/${name}`;
    // 2026-07-28 requests carry their own threshold (none: the client wants no messages).
    const threshold = ctx.mcpReq.envelope === undefined
      ? this.#level
      : (ctx.mcpReq.envelope as Record<string, unknown>)[LOG_LEVEL_META_KEY] as LoggingLevel | undefined;
    return (level, message, data) => {
      if (threshold === undefined || LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(threshold)) return;
      if (!this.#take()) {
        this.#dropped++;
        return;
      }
      if (this.#dropped > 0) {
        const dropped = this.#dropped;
        this.#dropped = 0;
        send(ctx, "warning", logger, { message: `${dropped} log message(s) dropped by the rate limit` });
      }
      const payload = { message: redactText(message), ...(data === undefined ? {} : redactData(data)) };
      send(ctx, level, logger, payload);
    };
  }

  #take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#perSecond);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

function redactData(data: Record<string, unknown>): Record<string, unknown> {
  const redacted = redactSecrets(data) as Record<string, unknown>;
  return JSON.parse(JSON.stringify(redacted, (_key, value) => (
    typeof value === "string" ? redactText(value) : value
  )));
}

function send(ctx: ServerContext, level: LoggingLevel, logger: string, data: Record<string, unknown>): void {
  ctx.mcpReq.log(level, data, logger).catch(() => {});
}
