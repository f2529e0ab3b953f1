/**
 * Logging, to stderr only: in stdio mode stdout carries nothing but JSON-RPC.
 *
 * The one place that configures LogTape. Values are redacted by key name before they are written.
 */
import { configureSync, getLogger, type Logger, type LogRecord, resetSync } from "@logtape/logtape";

const SECRET_KEYS = /pass(word|phrase)?|secret|token|private_?key|authorization|sudo_password|stdin|content/i;

/**
 * Replaces values whose key looks like a secret with "[redacted]", recursively.
 *
 * @example
 * ```ts
 * redactSecrets({ password: "hunter2", host: "a" }); // { password: "[redacted]", host: "a" }
 * ```
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.test(k) ? "[redacted]" : redactSecrets(v, depth + 1);
  }
  return out;
}

/** Options for {@link setupLogging}. */
export interface LogOptions {
  /** Debug level when true, info otherwise. */
  debug: boolean;
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

function format(record: LogRecord): string {
  const time = new Date(record.timestamp).toISOString();
  const message = record.message.map((part) =>
    typeof part === "string" ? part : JSON.stringify(redactSecrets(part))
  )
    .join("");
  const props = Object.keys(record.properties).length > 0
    ? " " + JSON.stringify(redactSecrets(record.properties))
    : "";
  return `${time} ${record.level.toUpperCase()} ${record.category.join(".")}: ${message}${props}\n`;
}

/** Configures the `ssh-mcp` logger tree to write to stderr. Call once from main.ts. */
export function setupLogging(options: LogOptions): void {
  const write = options.write ?? ((line: string) => Deno.stderr.writeSync(encoder.encode(line)));
  resetSync();
  configureSync({
    sinks: { stderr: (record: LogRecord) => write(format(record)) },
    loggers: [
      { category: ["ssh-mcp"], lowestLevel: options.debug ? "debug" : "info", sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** A child logger of `ssh-mcp`. */
export function logger(...category: string[]): Logger {
  return getLogger(["ssh-mcp", ...category]);
}
