/**
 * Pure parsers of kernel and journal logs for the monitoring toolset: `dmesg` lines and
 * `journalctl -o json` entries. No I/O.
 *
 * @module
 */

/** A kernel log line. */
export interface KernelLine {
  /** Seconds since boot from the `[   12.345678]` prefix, null without one. */
  uptime_seconds: number | null;
  /** Approximate wall-clock time (ISO 8601) when the boot time is known. */
  time: string | null;
  /** The message. */
  message: string;
}

/** Parses `dmesg` lines; `bootEpochSeconds` (now − uptime) turns timestamps into wall-clock times. */
export function parseDmesg(text: string, bootEpochSeconds?: number): KernelLine[] {
  const lines: KernelLine[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const match = /^\[\s*(\d+(?:\.\d+)?)\]\s?(.*)$/.exec(line);
    const uptime = match ? Number(match[1]) : null;
    lines.push({
      uptime_seconds: uptime,
      time: uptime !== null && bootEpochSeconds !== undefined
        ? new Date(Math.round((bootEpochSeconds + uptime) * 1000)).toISOString()
        : null,
      message: match ? match[2]! : line,
    });
  }
  return lines;
}

/** A journal entry. */
export interface JournalEntry {
  /** ISO 8601 time. */
  time: string | null;
  /** Syslog priority 0 (emerg) … 7 (debug). */
  priority: number | null;
  /** systemd unit. */
  unit: string | null;
  /** Syslog identifier (program name). */
  identifier: string | null;
  /** Process id. */
  pid: number | null;
  /** Message text. */
  message: string;
}

/** Parses `journalctl -o json` output (one JSON object per line; other lines are ignored). */
export function parseJournalJson(text: string): JournalEntry[] {
  const entries: JournalEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    const str = (key: string) => typeof record[key] === "string" ? record[key] as string : null;
    const micros = Number(str("__REALTIME_TIMESTAMP"));
    const priority = Number(str("PRIORITY"));
    const pid = Number(str("_PID") ?? str("SYSLOG_PID"));
    entries.push({
      time: Number.isFinite(micros) && micros > 0 ? new Date(Math.floor(micros / 1000)).toISOString() : null,
      priority: str("PRIORITY") !== null && Number.isInteger(priority) ? priority : null,
      unit: str("_SYSTEMD_UNIT") ?? str("UNIT"),
      identifier: str("SYSLOG_IDENTIFIER") ?? str("_COMM"),
      pid: Number.isInteger(pid) && pid > 0 ? pid : null,
      message: journalMessage(record["MESSAGE"]),
    });
  }
  return entries;
}

// journald exports binary-unsafe messages as an array of byte values, and absent ones as null.
function journalMessage(value: unknown): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((b) => typeof b === "number")) {
    return new TextDecoder().decode(new Uint8Array(value as number[]));
  }
  return "";
}
