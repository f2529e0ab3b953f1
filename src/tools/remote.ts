/**
 * One round trip per tool call: a script built with `sh` prints sections headed by a per-call random
 * marker, and the tool parses them in TypeScript. Used by the monitoring and network toolsets.
 */
import { ToolError } from "../errors.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../ssh/connection.ts";
import type { ToolContext } from "./define.ts";

/** Internal cap for output that is parsed, not shown: results are bounded after parsing. */
export const PARSE_OUTPUT_BYTES = 8 * 1024 * 1024;

/**
 * A fresh section marker. Random per call, so file contents or log lines can never fake a section.
 *
 * @example
 * ```ts
 * const marker = newMarker(); // "@@mcp3f9c…@@"
 * ```
 */
export function newMarker(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `@@mcp${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}@@`;
}

/**
 * Splits output into named sections. A line `<marker> <name>` starts section `name`; text before the
 * first marker is dropped. Trailing line breaks of each section are removed.
 *
 * @example
 * ```ts
 * splitSections("@@m@@ a\n1\n@@m@@ b\n2\n", "@@m@@").get("b"); // "2"
 * ```
 */
export function splitSections(stdout: string, marker: string): Map<string, string> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  const prefix = marker + " ";
  for (const line of stdout.split("\n")) {
    if (line.startsWith(prefix)) {
      current = [];
      sections.set(line.slice(prefix.length).trim(), current);
    } else current?.push(line);
  }
  const result = new Map<string, string>();
  for (const [name, lines] of sections) result.set(name, lines.join("\n").replace(/\n+$/, ""));
  return result;
}

/** `s <name>` prints a section header; /usr/sbin and /sbin hold ss, ip, sysctl… for non-root users. */
const SECTION_PRELUDE = sh`s() { printf '\n%s %s\n' "$M" "$1"; }
PATH="$PATH:/usr/sbin:/sbin"; export PATH`;

/** Options of {@link sectionedScript}. */
export interface SectionedScriptOptions {
  /** Assignments for the first line, after `M=<marker>` (e.g. sh`N=${limit}`). */
  vars?: ShellCommand;
}

/**
 * A script whose output {@link splitSections} splits: it sets `M` to the marker (then `vars`),
 * defines `s <name>`, which starts section `name`, adds /usr/sbin and /sbin to PATH, then runs `body`.
 *
 * @example
 * ```ts
 * const marker = newMarker();
 * const script = sectionedScript(marker, sh`s uptime; cat /proc/uptime`, { vars: sh`N=${10}` });
 * ```
 */
export function sectionedScript(
  marker: string,
  body: ShellCommand,
  options: SectionedScriptOptions = {},
): ShellCommand {
  const first = options.vars === undefined ? sh`M=${marker}` : sh`M=${marker}; ${options.vars}`;
  return joinCommands([first, SECTION_PRELUDE, body], "\n");
}

/** Text form of a command result for the model. */
export function describeExec(result: ExecResult & { alias: string }): string {
  const parts: string[] = [];
  if (result.stdout) parts.push(result.stdout.replace(/\n$/, ""));
  if (result.stderr) parts.push(`[stderr]\n${result.stderr.replace(/\n$/, "")}`);
  const status = result.connection_lost
    ? "connection lost: outcome unknown, the command was NOT re-run; check its effects before retrying"
    : result.timed_out
    ? "timed out: the remote process group was killed"
    : result.cancelled
    ? "cancelled: the remote process group was killed"
    : result.sudo_failed
    ? "sudo refused the password given at connect (sudo_password)"
    : result.signal
    ? `killed by ${result.signal}`
    : `exit ${result.exit_code}`;
  const truncated = result.truncated
    ? ` · output truncated (${result.stdout_bytes}/${result.stderr_bytes} bytes)`
    : "";
  parts.push(`[${status} · ${result.duration_ms} ms · ${result.alias}${truncated}]`);
  return parts.join("\n");
}

/** Whether a command result is a failure the model must handle (not a plain non-zero exit). */
export function execFailed(result: ExecResult): boolean {
  return result.timed_out || result.cancelled || result.connection_lost || result.sudo_failed === true;
}

/** Options of {@link resolveTimeout}. */
export interface ResolveTimeoutOptions {
  /** The deadline when the caller gave none (default: the server's -command-timeout). */
  defaultMs?: number;
}

/**
 * The deadline of a call in ms: `seconds` when given, else the default. More than the server allows
 * (-max-command-timeout) is a RangeError that names the limit; nothing is clamped silently.
 *
 * @example
 * ```ts
 * const timeoutMs = resolveTimeout(ctx, args.timeout); // 120_000 by default
 * ```
 */
export function resolveTimeout(
  ctx: ToolContext,
  seconds: number | undefined,
  options: ResolveTimeoutOptions = {},
): number {
  if (seconds === undefined) return options.defaultMs ?? ctx.limits.commandTimeoutMs;
  if (seconds * 1000 > ctx.limits.maxCommandTimeoutMs) {
    throw new RangeError(
      `Cannot use timeout ${seconds} s: the server allows at most ${
        ctx.limits.maxCommandTimeoutMs / 1000
      } s (-max-command-timeout)`,
    );
  }
  return seconds * 1000;
}

/** Options of {@link runScript}. */
export interface RunScriptOptions {
  /** What the script does, for error messages ("read memory usage"). */
  action: string;
  /** Deadline in ms (default: the server's command timeout, at most 60 s). */
  timeoutMs?: number;
  /** Run the script through sudo with the password given at connect. */
  sudo?: boolean;
  /** Per-stream cap (default {@link PARSE_OUTPUT_BYTES}). */
  maxOutputBytes?: number;
}

/**
 * Runs a script on a connection and throws a {@link ToolError} when it timed out, was cancelled, lost
 * its connection or sudo refused. A non-zero exit is returned for the caller to interpret.
 */
export async function runScript(
  ctx: ToolContext,
  target: string | undefined,
  command: ShellCommand,
  options: RunScriptOptions,
): Promise<ExecResult & { alias: string }> {
  const result = await ctx.connections.exec(target, {
    command,
    timeoutMs: options.timeoutMs ?? Math.min(ctx.limits.commandTimeoutMs, 60_000),
    maxOutputBytes: options.maxOutputBytes ?? PARSE_OUTPUT_BYTES,
    signal: ctx.signal,
    sudo: options.sudo,
  });
  if (execFailed(result)) {
    throw new ToolError(`Cannot ${options.action} on "${result.alias}": ${describeExec(result)}`, {
      hint: result.sudo_failed
        ? "sudo needs a password: call `connect` again with sudo_password, or retry without sudo."
        : result.timed_out
        ? "The host is slow or the request too large: narrow it (path, lines, limit) or raise timeout."
        : "Check the connection with `connections`, then retry.",
    });
  }
  return result;
}

/** Options of {@link runSections}. */
export interface RunSectionsOptions extends RunScriptOptions {
  /** Assignments for the script's first line, after `M=<marker>` (e.g. sh`N=${limit}`). */
  vars?: ShellCommand;
}

/**
 * The skeleton every sectioned remote tool shares: a fresh marker, {@link sectionedScript} around
 * `body`, {@link runScript}, then {@link splitSections} of its stdout.
 *
 * @example
 * ```ts
 * const { sections } = await runSections(ctx, args.target, sh`s uptime; cat /proc/uptime`, {
 *   action: "read the uptime",
 * });
 * ```
 */
export async function runSections(
  ctx: ToolContext,
  target: string | undefined,
  body: ShellCommand,
  options: RunSectionsOptions,
): Promise<{ result: ExecResult & { alias: string }; sections: Map<string, string> }> {
  const marker = newMarker();
  const { vars, ...run } = options;
  const result = await runScript(ctx, target, sectionedScript(marker, body, { vars }), run);
  return { result, sections: splitSections(result.stdout, marker) };
}

/** The first line of a text, trimmed (for notes quoting an error message). */
export function firstLine(text: string): string {
  return (text.split("\n").find((line) => line.trim() !== "") ?? "").trim();
}

/** Cuts a list of text lines so that their joined size stays within `maxBytes` (keeping the end). */
export function keepLastWithin(
  lines: readonly string[],
  maxBytes: number,
): { kept: string[]; dropped: number } {
  let size = 0;
  let start = lines.length;
  while (start > 0) {
    const next = size + (lines[start - 1]?.length ?? 0) + 1;
    if (next > maxBytes) break;
    size = next;
    start--;
  }
  return { kept: lines.slice(start), dropped: start };
}

/**
 * A shell assignment of `P` to a path operand that no program can mistake for an option or an
 * expression: relative paths get "./", and "~" or "~/x" expand to the remote $HOME.
 */
export function pathAssignment(path: string): ShellCommand {
  if (path === "~") return sh`P="$HOME"`;
  if (path.startsWith("~/")) return sh`P="$HOME"/${path.slice(2)}`;
  return sh`P=${path.startsWith("/") ? path : `./${path}`}`;
}
