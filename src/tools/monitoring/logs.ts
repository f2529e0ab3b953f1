/**
 * The log tools of the monitoring toolset: logs (a file), journal_read (systemd journal, syslog file
 * fallback) and dmesg_read (kernel ring buffer, journal -k / kern.log fallback). Each names the source
 * it used and, when it fell back, why.
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { sh } from "../../shell/sh.ts";
import { defineTool } from "../define.ts";
import { type JournalEntry, type KernelLine, parseDmesg, parseJournalJson } from "./logs_parse.ts";
import { firstLine, keepLastWithin, pathAssignment, runSections } from "../remote.ts";
import { HINTS, notes, remotePath, target } from "../schemas.ts";

const sudo = z.boolean().optional().describe(
  "Run through sudo (uses sudo_password from connect, else sudo -n), for root-only sources",
);

// ---------------------------------------------------------------------------------------------
// logs

/** The `logs` tool. */
export const LOGS = defineTool({
  name: "logs",
  title: "Read a log file",
  description:
    "Returns the last (or first) lines of a log file, optionally only lines matching an extended regex " +
    "(grep -E). Gzipped rotations (*.gz) are decompressed. Lines are cut at 4000 characters. For systemd " +
    "hosts use `journal_read`; for the kernel ring buffer `dmesg_read`.",
  input: z.object({
    path: remotePath.describe(
      "Log file path, e.g. /var/log/nginx/error.log (relative to the home directory; ~ allowed)",
    ),
    target,
    lines: z.number().int().min(1).max(10_000).default(50).describe("Number of lines to return (1–10000)"),
    grep: z.string().min(1).max(1000).optional().describe(
      "Only lines matching this extended regular expression (grep -E)",
    ),
    from: z.enum(["tail", "head"]).default("tail").describe("tail: the last lines; head: the first lines"),
    sudo,
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    path: z.string().describe("File read"),
    size_bytes: z.number().nullable().describe("File size (compressed size for .gz)"),
    from: z.enum(["tail", "head"]).describe("Which end was read"),
    lines: z.array(z.string()).describe("The lines, in file order"),
    truncated: z.boolean().describe("Lines were dropped to fit the server's output limit"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`s meta
if [ ! -e "$P" ]; then echo missing; elif [ -d "$P" ]; then echo directory
elif [ ! -r "$P" ]; then echo unreadable; else echo ok; wc -c < "$P"; fi
s content
if [ -f "$P" ] && [ -r "$P" ]; then
  grep -a -q -e x /dev/null 2>/dev/null; if [ $? -eq 1 ]; then A=-a; else A=; fi
  case "$P" in
    *.gz) if [ -n "$G" ]; then gzip -dc -- "$P" | grep $A -E -e "$G" | "$F" -n "$N"; else gzip -dc -- "$P" | "$F" -n "$N"; fi ;;
    *) if [ -n "$G" ]; then grep $A -E -e "$G" -- "$P" | "$F" -n "$N"; else "$F" -n "$N" -- "$P"; fi ;;
  esac | cut -c 1-4000
fi
s end`,
      {
        action: `read "${args.path}"`,
        sudo: args.sudo,
        vars: sh`${pathAssignment(args.path)}; N=${args.lines}; G=${args.grep ?? ""}; F=${args.from}`,
      },
    );
    const [state, size] = (sections.get("meta") ?? "").split("\n");
    if (state !== "ok") {
      const why = state === "missing"
        ? "it does not exist"
        : state === "directory"
        ? "it is a directory"
        : state === "unreadable"
        ? "permission denied"
        : `unexpected output: ${firstLine(result.stderr || result.stdout)}`;
      throw new ToolError(`Cannot read log "${args.path}" on "${result.alias}": ${why}`, {
        hint: state === "unreadable"
          ? "Retry with sudo: true (needs sudo_password at connect), or pick a readable file."
          : "Use `search_files` with a name pattern like *.log under /var/log to find the file.",
      });
    }
    if (result.exit_code !== 0 && result.stderr.trim()) {
      throw new ToolError(`Cannot read log "${args.path}" on "${result.alias}": ${firstLine(result.stderr)}`);
    }
    const content = sections.get("content") ?? "";
    const all = content === "" ? [] : content.split("\n");
    const budget = ctx.limits.maxOutputBytes;
    const { kept, dropped } = args.from === "tail" ? keepLastWithin(all, budget) : (() => {
      const r = keepLastWithin([...all].reverse(), budget);
      return { kept: r.kept.reverse(), dropped: r.dropped };
    })();
    const data = {
      alias: result.alias,
      path: args.path,
      size_bytes: size === undefined || size.trim() === "" ? null : Number(size.trim()),
      from: args.from,
      lines: kept,
      truncated: dropped > 0,
    };
    const header = `${kept.length} line(s) from the ${args.from} of ${args.path} on ${result.alias}${
      args.grep === undefined ? "" : ` matching /${args.grep}/`
    }${dropped > 0 ? ` (${dropped} dropped to fit the output limit)` : ""}`;
    return { data, text: kept.length === 0 ? `${header}: no lines.` : `${header}:\n${kept.join("\n")}` };
  },
});

// ---------------------------------------------------------------------------------------------
// journal_read

const PRIORITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] as const;
const UNIT_NAME = /^[A-Za-z0-9][A-Za-z0-9:_.@\\-]{0,199}$/;

const journalEntrySchema = z.object({
  time: z.string().nullable().describe("ISO 8601 time"),
  priority: z.number().nullable().describe("Syslog priority 0 (emerg) … 7 (debug)"),
  unit: z.string().nullable().describe("systemd unit"),
  identifier: z.string().nullable().describe("Program name"),
  pid: z.number().nullable().describe("Process id"),
  message: z.string().describe("Message"),
});

/** The `journal_read` tool. */
export const JOURNAL_READ = defineTool({
  name: "journal_read",
  title: "Read the systemd journal",
  description:
    "Reads systemd journal entries (journalctl -o json), optionally for one service, since a time and at " +
    "or above a priority. Without a journal it falls back to /var/log/syslog or /var/log/messages and " +
    "says so in `source` and `notes`.",
  input: z.object({
    target,
    service: z.string().regex(UNIT_NAME).optional().describe(
      "Unit name, e.g. nginx or nginx.service (letters, digits, : _ . @ \\ -; not starting with -)",
    ),
    since: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 :+.\-]{0,63}$/).optional().describe(
      'Start time as journalctl accepts it: "2024-05-01 10:00", "1 hour ago", "yesterday", "today"',
    ),
    lines: z.number().int().min(1).max(5000).default(100).describe("Number of most recent entries (1–5000)"),
    priority: z.enum(PRIORITIES).optional().describe("Only entries at this priority or more severe"),
    sudo,
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    source: z.string().describe('"journal", or "file:/var/log/syslog"-style when the journal is missing'),
    entries: z.array(journalEntrySchema).describe("Entries, oldest first (syslog fallback: message only)"),
    truncated: z.boolean().describe("Entries were dropped to fit the server's output limit"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const filters: string[] = [];
    if (args.service) filters.push(`--unit=${args.service}`);
    if (args.since) filters.push(`--since=${args.since}`);
    if (args.priority) filters.push(`--priority=${args.priority}`);
    const word = (args.service ?? "").replace(/\.service$/, "");
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`J=0
if command -v journalctl >/dev/null 2>&1; then
  s probe; journalctl --no-pager -n 1 -o short 2>&1 | head -n 5
  if [ -n "$(journalctl --no-pager -q -n 1 -o short 2>/dev/null)" ]; then J=1; fi
else s probe; echo "journalctl: not installed"; fi
if [ $J = 1 ]; then
  s journal; journalctl --no-pager -o json -n "$N" ${filters} 2>&1
else
  for f in /var/log/syslog /var/log/messages; do
    if [ -r "$f" ]; then
      s "file:$f"
      if [ -n "$U" ]; then grep -F -e "$U" -- "$f" | tail -n "$N"; else tail -n "$N" -- "$f"; fi | cut -c 1-4000
      break
    elif [ -e "$f" ]; then s unreadable; echo "$f"
    fi
  done
fi
s end`,
      { action: "read the journal", sudo: args.sudo, vars: sh`N=${args.lines}; U=${word}` },
    );
    const probe = (sections.get("probe") ?? "").trim();
    const notesOut: string[] = [];
    let entries: JournalEntry[];
    let source: string;
    if (sections.has("journal")) {
      const text = sections.get("journal") ?? "";
      source = "journal";
      entries = parseJournalJson(text);
      for (const line of text.split("\n")) {
        if (line.trim() && !line.startsWith("{") && !/^-- No entries --$/.test(line)) {
          notesOut.push(line.trim());
        }
      }
    } else {
      const file = [...sections.keys()].find((k) => k.startsWith("file:"));
      const missing = `no usable journal (${probe.split("\n")[0] || "journalctl printed nothing"})`;
      if (file === undefined) {
        const unreadable = sections.get("unreadable");
        throw new ToolError(
          `Cannot read logs on "${result.alias}": ${missing}, and ${
            unreadable ? `${unreadable.trim()} is not readable` : "no /var/log/syslog or /var/log/messages"
          }`,
          {
            hint: unreadable
              ? "Retry with sudo: true, or read a specific file with `logs`."
              : "Use `logs` with a specific log file (find one with `search_files` under /var/log) or `dmesg_read`.",
          },
        );
      }
      source = file;
      notesOut.push(`${missing}: read ${file.slice(5)} instead`);
      if (args.service) notesOut.push(`service filter applied as a plain text match of "${word}"`);
      if (args.since) notesOut.push("since is not applied to the syslog file");
      if (args.priority) notesOut.push("priority is not applied to the syslog file");
      const text = sections.get(file) ?? "";
      entries = text === "" ? [] : text.split("\n").map((message) => ({
        time: null,
        priority: null,
        unit: null,
        identifier: null,
        pid: null,
        message,
      }));
    }
    const rendered = entries.map(journalLine);
    const { kept, dropped } = keepLastWithin(rendered, ctx.limits.maxOutputBytes);
    const keptEntries = entries.slice(dropped);
    const data = {
      alias: result.alias,
      source,
      entries: keptEntries,
      truncated: dropped > 0,
      notes: notesOut,
    };
    const header = `${keptEntries.length} entr${
      keptEntries.length === 1 ? "y" : "ies"
    } from ${source} on ${result.alias}${dropped > 0 ? ` (${dropped} dropped to fit the output limit)` : ""}`;
    const text = [header + ":", ...kept, ...notesOut.map((n) => `Note: ${n}`)].join("\n");
    return { data, text };
  },
});

function journalLine(e: JournalEntry): string {
  const who = e.identifier ?? e.unit;
  const prefix = [
    e.time,
    e.priority === null ? null : `<${PRIORITIES[e.priority] ?? e.priority}>`,
    who && (
      e.pid === null ? `${who}:` : `${who}[${e.pid}]:`
    ),
  ].filter(Boolean).join(" ");
  return prefix ? `${prefix} ${e.message}` : e.message;
}

// ---------------------------------------------------------------------------------------------
// dmesg_read

/** The `dmesg_read` tool. */
export const DMESG_READ = defineTool({
  name: "dmesg_read",
  title: "Read the kernel log",
  description:
    "Returns the last lines of the kernel ring buffer (dmesg), optionally only lines matching an extended " +
    "regex, with approximate wall-clock times. When dmesg is restricted it falls back to journalctl -k, " +
    "/var/log/kern.log or /var/log/dmesg and says which; sudo: true reads the real buffer.",
  input: z.object({
    target,
    grep: z.string().min(1).max(1000).optional().describe(
      "Only lines matching this extended regular expression (grep -E), e.g. oom|segfault",
    ),
    lines: z.number().int().min(1).max(10_000).default(100).describe("Number of most recent lines (1–10000)"),
    sudo,
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    source: z.string().describe('"dmesg", "journalctl -k" or "file:/var/log/kern.log"-style'),
    lines: z.array(z.object({
      uptime_seconds: z.number().nullable().describe("Seconds after boot"),
      time: z.string().nullable().describe("Approximate wall-clock time (ISO 8601)"),
      message: z.string().describe("Message (whole line for file sources)"),
    })).describe("Lines, oldest first"),
    truncated: z.boolean().describe("Lines were dropped to fit the server's output limit"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`pick() { if [ -n "$G" ]; then grep -E -e "$G" | tail -n "$N"; else tail -n "$N"; fi | cut -c 1-4000; }
s clock; date +%s; cut -d' ' -f1 /proc/uptime
if E=$(dmesg 2>&1 >/dev/null); then s dmesg; dmesg 2>/dev/null | pick
else
  s restricted; printf '%s\n' "$E" | head -n 1
  if command -v journalctl >/dev/null 2>&1 && [ -n "$(journalctl -k --no-pager -q -n 1 2>/dev/null)" ]; then
    s journal; journalctl -k --no-pager -q -o short-monotonic 2>/dev/null | pick
  elif [ -r /var/log/kern.log ]; then s file:/var/log/kern.log; tail -n 20000 /var/log/kern.log | pick
  elif [ -r /var/log/dmesg ]; then s file:/var/log/dmesg; pick < /var/log/dmesg
  fi
fi
s end`,
      { action: "read the kernel log", sudo: args.sudo, vars: sh`N=${args.lines}; G=${args.grep ?? ""}` },
    );
    const [now, uptime] = (sections.get("clock") ?? "").split("\n").map(Number);
    const boot = now !== undefined && uptime !== undefined && Number.isFinite(now) && Number.isFinite(uptime)
      ? now - uptime
      : undefined;
    const notesOut: string[] = [];
    let lines: KernelLine[];
    let source: string;
    const restricted = sections.get("restricted")?.trim();
    if (sections.has("dmesg")) {
      source = "dmesg";
      lines = parseDmesg(sections.get("dmesg") ?? "", boot);
    } else {
      const fallback = [...sections.keys()].find((k) => k === "journal" || k.startsWith("file:"));
      if (fallback === undefined) {
        throw new ToolError(
          `Cannot read the kernel log on "${result.alias}": dmesg failed (${
            restricted || "no output"
          }) and there is no kernel journal, /var/log/kern.log or /var/log/dmesg`,
          { hint: "Retry with sudo: true (needs sudo_password at connect, or passwordless sudo)." },
        );
      }
      source = fallback === "journal" ? "journalctl -k" : fallback;
      notesOut.push(`dmesg failed (${restricted || "no output"}): read ${source} instead`);
      const text = sections.get(fallback) ?? "";
      lines = fallback === "journal"
        ? parseDmesg(text, boot).map((l) => ({ ...l, message: l.message.replace(/^\S+ kernel: /, "") }))
        : text === ""
        ? []
        : text.split("\n").map((message) => ({ uptime_seconds: null, time: null, message }));
    }
    const rendered = lines.map((l) =>
      `${l.time ?? (l.uptime_seconds === null ? "" : `[${l.uptime_seconds}]`)} ${l.message}`.trim()
    );
    const { kept, dropped } = keepLastWithin(rendered, ctx.limits.maxOutputBytes);
    const data = {
      alias: result.alias,
      source,
      lines: lines.slice(dropped),
      truncated: dropped > 0,
      notes: notesOut,
    };
    const header = `${kept.length} kernel log line(s) from ${source} on ${result.alias}${
      args.grep === undefined ? "" : ` matching /${args.grep}/`
    }`;
    return { data, text: [header + ":", ...kept, ...notesOut.map((n) => `Note: ${n}`)].join("\n") };
  },
});
