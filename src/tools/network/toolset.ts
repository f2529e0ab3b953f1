/**
 * Network toolset: net_stat, search_files, search_text, package_manage (in network_packages.ts). Each
 * tool runs one remote script built with `sh`; output is parsed in TypeScript.
 * Patterns and paths only ever reach the host as quoted words after `-e`, `-name` or `--`.
 */
import { withWaitBudget } from "../jobs/budget.ts";
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { sh } from "../../shell/sh.ts";
import { defineTool, type Toolset } from "../define.ts";
import { PACKAGE_MANAGE } from "./packages.ts";
import {
  parseFindOutput,
  parseGrepOutput,
  parseNetstat,
  parseProcNet,
  parseSs,
  SOCKET_STATES,
  type SocketRow,
} from "./parse.ts";
import { pathAssignment, runSections } from "../remote.ts";
import { HINTS, notes, remotePath, target } from "../schemas.ts";

// ---------------------------------------------------------------------------------------------
// net_stat

const socketSchema = z.object({
  protocol: z.enum(["tcp", "udp"]).describe("tcp or udp"),
  state: z.string().describe("listen, established, time_wait… (unconn for unconnected UDP)"),
  local_address: z.string().describe("Local address (0.0.0.0 / :: / * = all)"),
  local_port: z.number().nullable().describe("Local port"),
  peer_address: z.string().describe("Peer address"),
  peer_port: z.number().nullable().describe("Peer port"),
  recv_q: z.number().nullable().describe("Receive queue"),
  send_q: z.number().nullable().describe("Send queue"),
  processes: z.array(z.object({
    pid: z.number().describe("Process id"),
    name: z.string().describe("Process name"),
  })).describe("Owning processes (other users' sockets show none unless root)"),
  uid: z.number().nullable().describe("Owner uid (/proc/net source only)"),
});

const netStat = defineTool({
  name: "net_stat",
  title: "Network sockets",
  description:
    "Lists TCP and UDP sockets with state, local and peer address/port and owning process (ss -tunap; " +
    "falls back to netstat, then /proc/net). Filter by port (local or peer) and state, e.g. " +
    '{"state": "listen"} for listening TCP ports (UDP servers show as "unconn").',
  input: z.object({
    target,
    port: z.number().int().min(1).max(65535).optional().describe("Only sockets with this local or peer port"),
    state: z.enum(SOCKET_STATES).optional().describe("Only sockets in this state"),
    limit: z.number().int().min(1).max(5000).default(500).describe("Most rows to return (1–5000)"),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    source: z.enum(["ss", "netstat", "proc"]).describe("Tool the rows came from"),
    total: z.number().describe("Matching sockets before the limit"),
    sockets: z.array(socketSchema).describe("Matching sockets"),
    truncated: z.boolean().describe("More sockets matched than limit"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`s uid; id -u
if command -v ss >/dev/null 2>&1; then s ss; ss -tunap 2>&1
elif command -v netstat >/dev/null 2>&1; then s netstat; netstat -tunap 2>/dev/null
else for f in tcp tcp6 udp udp6; do s "proc_$f"; cat "/proc/net/$f" 2>/dev/null; done
fi
s end`,
      { action: "list sockets" },
    );
    const notesOut: string[] = [];
    let source: "ss" | "netstat" | "proc";
    let rows: SocketRow[];
    if (sections.has("ss")) {
      source = "ss";
      rows = parseSs(sections.get("ss") ?? "");
    } else if (sections.has("netstat")) {
      source = "netstat";
      notesOut.push("ss is not installed: used netstat");
      rows = parseNetstat(sections.get("netstat") ?? "");
    } else {
      source = "proc";
      notesOut.push("neither ss nor netstat is installed: read /proc/net (no process names)");
      rows = [
        ...parseProcNet(sections.get("proc_tcp") ?? "", "tcp"),
        ...parseProcNet(sections.get("proc_tcp6") ?? "", "tcp"),
        ...parseProcNet(sections.get("proc_udp") ?? "", "udp"),
        ...parseProcNet(sections.get("proc_udp6") ?? "", "udp"),
      ];
    }
    if ((sections.get("uid") ?? "").trim() !== "0" && source !== "proc") {
      notesOut.push("not root: processes of other users' sockets are not shown");
    }
    const matching = rows.filter((r) =>
      (args.port === undefined || r.local_port === args.port || r.peer_port === args.port) &&
      (args.state === undefined || r.state === args.state)
    );
    const sockets = matching.slice(0, args.limit);
    const data = {
      alias: result.alias,
      source,
      total: matching.length,
      sockets,
      truncated: matching.length > sockets.length,
      notes: notesOut,
    };
    const lines = [
      `${matching.length} socket(s) on ${result.alias} from ${source}${
        data.truncated ? ` (first ${sockets.length} shown)` : ""
      }:`,
      ...sockets.map((s) =>
        `  ${s.protocol} ${s.state.padEnd(11)} ${s.local_address}:${
          s.local_port ?? "*"
        } -> ${s.peer_address}:${s.peer_port ?? "*"}${
          s.processes.length ? `  ${s.processes.map((p) => `${p.name}[${p.pid}]`).join(",")}` : ""
        }`
      ),
      ...notesOut.map((n) => `Note: ${n}`),
    ];
    return { data, text: lines.join("\n") };
  },
});

// ---------------------------------------------------------------------------------------------
// search_files

const FILE_TYPES = { file: "f", directory: "d", symlink: "l", f: "f", d: "d", l: "l" } as const;

const searchFiles = defineTool({
  name: "search_files",
  title: "Find files by name",
  description:
    "Finds files under a directory whose name matches a glob (find -name; a pattern containing / matches " +
    "the whole path with -path), down to max_depth, optionally only files, directories or symlinks. Returns " +
    "paths (with type, size and mtime on GNU find), capped at max_results with `truncated`.",
  input: z.object({
    pattern: z.string().min(1).max(1000).describe('Shell glob for the name, e.g. "*.log" or "nginx*.conf"'),
    path: remotePath.describe("Directory to search (relative to the home directory; ~ allowed)"),
    target,
    max_depth: z.number().int().min(0).max(100).default(5).describe("How many directory levels to descend"),
    file_type: z.enum(["file", "directory", "symlink", "f", "d", "l"]).optional().describe(
      "Only this type (file/f, directory/d, symlink/l)",
    ),
    max_results: z.number().int().min(1).max(5000).default(200).describe("Most paths to return (1–5000)"),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    files: z.array(z.object({
      path: z.string().describe("Path"),
      type: z.string().nullable().describe("file, directory, symlink… (GNU find only)"),
      size_bytes: z.number().nullable().describe("Size (GNU find only)"),
      modified: z.string().nullable().describe("Modification time, ISO 8601 (GNU find only)"),
    })).describe("Matches in the order find produced them"),
    truncated: z.boolean().describe("More than max_results matched"),
    unreadable: z.number().describe("Directories that could not be read (permission denied)"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const expression = [
      ...(args.file_type === undefined ? [] : ["-type", FILE_TYPES[args.file_type]]),
      args.pattern.includes("/") ? "-path" : "-name",
      args.pattern,
    ];
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`if [ -L "$P" ] && [ -d "$P" ]; then P="$P/"; fi
if [ ! -e "$P" ]; then s missing; elif [ ! -d "$P" ]; then s notdir
elif find / -maxdepth 0 -printf '' >/dev/null 2>&1; then
  s gnu; find "$P" -maxdepth ${args.max_depth} ${expression} -printf '%y\t%s\t%T@\t%p\n' | head -n "$N"
else s plain; find "$P" -maxdepth ${args.max_depth} ${expression} -print | head -n "$N"
fi
s end`,
      {
        action: `search files under "${args.path}"`,
        vars: sh`${pathAssignment(args.path)}; N=${args.max_results + 1}`,
      },
    );
    if (sections.has("missing") || sections.has("notdir")) {
      throw new ToolError(
        `Cannot search "${args.path}" on "${result.alias}": ${
          sections.has("missing") ? "it does not exist" : "it is not a directory"
        }`,
        { hint: "Pass an existing directory as path, e.g. /var/log or ~." },
      );
    }
    const gnu = sections.has("gnu");
    const all = parseFindOutput(sections.get(gnu ? "gnu" : "plain") ?? "", gnu);
    const files = all.slice(0, args.max_results);
    const unreadable = result.stderr.split("\n").filter((l) => /Permission denied/.test(l)).length;
    const notesOut = gnu ? [] : ["find lacks -printf (not GNU find): only paths are returned"];
    const data = {
      alias: result.alias,
      files,
      truncated: all.length > files.length,
      unreadable,
      notes: notesOut,
    };
    const lines = [
      `${files.length}${
        data.truncated ? "+" : ""
      } match(es) for ${args.pattern} under ${args.path} on ${result.alias}${
        unreadable ? ` (${unreadable} unreadable director${unreadable === 1 ? "y" : "ies"} skipped)` : ""
      }:`,
      ...files.map((f) =>
        f.type === null ? f.path : `${f.type.padEnd(9)} ${String(f.size_bytes).padStart(10)}  ${f.path}`
      ),
      ...(data.truncated ? [`[capped at max_results=${args.max_results}]`] : []),
      ...notesOut.map((n) => `Note: ${n}`),
    ];
    return { data, text: lines.join("\n") };
  },
});

// ---------------------------------------------------------------------------------------------
// search_text

const searchText = defineTool({
  name: "search_text",
  title: "Search text in files",
  description:
    "Searches file contents for a pattern (grep -rn: extended regex, or fixed string with fixed_strings) " +
    "under a path and returns file, line number and text for each match, capped at max_results with " +
    "`truncated`. Binary files are skipped. Lines are cut at 500 characters.",
  input: z.object({
    pattern: z.string().min(1).max(1000).describe(
      "Extended regular expression (grep -E), or a literal string",
    ),
    path: remotePath.describe("File or directory to search (relative to the home directory; ~ allowed)"),
    target,
    recursive: z.boolean().default(true).describe("Search directories recursively (grep -r)"),
    ignore_case: z.boolean().optional().describe("Case-insensitive match (grep -i)"),
    max_results: z.number().int().min(1).max(1000).default(50).describe("Most matches to return (1–1000)"),
    fixed_strings: z.boolean().optional().describe("Treat the pattern as a literal string (grep -F)"),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    matches: z.array(z.object({
      file: z.string().describe("File"),
      line: z.number().describe("Line number (1-based)"),
      text: z.string().describe("The matching line (cut at 500 characters)"),
    })).describe("Matches"),
    truncated: z.boolean().describe("More than max_results matched"),
    errors: z.array(z.string()).describe("grep's complaints (unreadable files, bad regex), at most 10"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const flags = [
      ...(args.recursive ? ["-r"] : []),
      ...(args.ignore_case ? ["-i"] : []),
      args.fixed_strings ? "-F" : "-E",
    ];
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`grep -I -q -e x /dev/null 2>/dev/null; if [ $? -eq 1 ]; then I=-I; else I=; fi
grep -Z -q -e x /dev/null 2>/dev/null; if [ $? -eq 1 ]; then Z=-Z; else Z=; fi
s probe; echo "I=$I Z=$Z"
if [ ! -e "$P" ]; then s missing
else s matches; grep -H -n $I $Z ${flags} -e "$G" -- "$P" | head -n "$N" | cut -c 1-1500
fi
s end`,
      {
        action: `search text under "${args.path}"`,
        vars: sh`${pathAssignment(args.path)}; N=${args.max_results + 1}; G=${args.pattern}`,
      },
    );
    if (sections.has("missing")) {
      throw new ToolError(`Cannot search "${args.path}" on "${result.alias}": it does not exist`, {
        hint: "Pass an existing file or directory; find one with `search_files`.",
      });
    }
    const all = parseGrepOutput(sections.get("matches") ?? "");
    const matches = all.slice(0, args.max_results).map((m) => ({ ...m, text: m.text.slice(0, 500) }));
    const errors = result.stderr.split("\n").map((l) => l.trim())
      .filter((l) => l && !/Broken pipe/.test(l)).slice(0, 10);
    if (
      matches.length === 0 &&
      errors.some((e) => /Unmatched|Invalid|invalid|malformed|Trailing backslash/.test(e))
    ) {
      throw new ToolError(`Cannot search for "${args.pattern}" on "${result.alias}": ${errors[0]}`, {
        hint: "Fix the regular expression, or pass fixed_strings: true to search for the literal text.",
      });
    }
    const probe = sections.get("probe") ?? "";
    const notesOut = probe.includes("I=-I") ? [] : ["grep lacks -I: binary files were not skipped"];
    const data = {
      alias: result.alias,
      matches,
      truncated: all.length > matches.length,
      errors,
      notes: notesOut,
    };
    const lines = [
      `${matches.length}${data.truncated ? "+" : ""} match(es) for ${
        args.fixed_strings ? JSON.stringify(args.pattern) : `/${args.pattern}/`
      } in ${args.path} on ${result.alias}:`,
      ...matches.map((m) => `${m.file}:${m.line}: ${m.text}`),
      ...(data.truncated ? [`[capped at max_results=${args.max_results}]`] : []),
      ...errors.map((e) => `[stderr] ${e}`),
      ...notesOut.map((n) => `Note: ${n}`),
    ];
    return { data, text: lines.join("\n") };
  },
});

/** The network toolset. */
export const NETWORK: Toolset = {
  name: "network",
  tools: [
    netStat,
    searchFiles,
    searchText,
    withWaitBudget<{ action: string; pkg?: string; target?: string; timeout?: number }>(PACKAGE_MANAGE, {
      target: (args) => args.target,
      preview: (args) => `package_manage ${args.action}${args.pkg ? ` ${args.pkg}` : ""}`,
      timeoutSeconds: (args, ctx) => args.timeout ?? ctx.limits.commandTimeoutMs / 1000,
    }),
  ],
};
