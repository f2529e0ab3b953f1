/**
 * Pure parsers of process lists for the monitoring toolset: procps `ps` rows, and the /proc
 * fallback for hosts without a usable `ps` (stat files, owners, passwd). No I/O.
 *
 * @module
 */
import { parseMeminfo, round1 } from "./parse.ts";

/** A process row. */
export interface ProcessRow {
  pid: number;
  ppid: number;
  /** User name (or uid when unknown). */
  user: string;
  /** State letters as ps shows them (R, S, D, Z, T, I… plus flags). */
  state: string;
  /** CPU use in percent of one CPU (see the tool for the time base). */
  cpu_percent: number;
  /** Resident memory in percent of total memory. */
  mem_percent: number;
  /** Resident memory in bytes. */
  rss_bytes: number;
  /** Seconds since the process started. */
  elapsed_seconds: number | null;
  /** Command name. */
  command: string;
  /** Full command line (may be cut). */
  args: string;
}

/**
 * Parses the output of
 * `ps -ww -eo pid=,ppid=,user:32=,stat=,pcpu=,pmem=,rss=,etimes=,args=` (procps-ng).
 * `names` maps pid → command name (from `ps -eo pid=,comm=`); without one, the name comes from args.
 */
export function parseProcpsRows(text: string, names: ReadonlyMap<number, string> = new Map()): ProcessRow[] {
  const rows: ProcessRow[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s+(\d+|-)\s?(.*)$/.exec(
      line,
    );
    if (!match) continue;
    const pid = Number(match[1]);
    const args = match[9] ?? "";
    rows.push({
      pid,
      ppid: Number(match[2]),
      user: match[3]!,
      state: match[4]!,
      cpu_percent: Number(match[5]),
      mem_percent: Number(match[6]),
      rss_bytes: Number(match[7]) * 1024,
      elapsed_seconds: match[8] === "-" ? null : Number(match[8]),
      command: names.get(pid) ?? commandFromArgs(args),
      args,
    });
  }
  return rows;
}

/** Parses `ps -eo pid=,comm=` into pid → name. */
export function parseCommNames(text: string): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of text.split("\n")) {
    const match = /^\s*(\d+)\s(.*)$/.exec(line);
    if (match) names.set(Number(match[1]), match[2]!.trim());
  }
  return names;
}

function commandFromArgs(args: string): string {
  const first = args.split(" ")[0] ?? "";
  if (first.startsWith("[")) return args.replace(/^\[|\]$/g, "");
  return first.slice(first.lastIndexOf("/") + 1);
}

/** Fields of /proc/<pid>/stat that the tools use. */
export interface ProcStat {
  pid: number;
  /** Command name (may contain spaces and parentheses). */
  comm: string;
  /** One-letter state. */
  state: string;
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpu_ticks: number;
  /** Start time after boot, in clock ticks. */
  start_ticks: number;
  /** Resident pages. */
  rss_pages: number;
}

/** Parses concatenated /proc/<pid>/stat lines (`cat /proc/[0-9]*\/stat`). */
export function parseProcStats(text: string): ProcStat[] {
  const result: ProcStat[] = [];
  for (const line of text.split("\n")) {
    const open = line.indexOf(" (");
    const close = line.lastIndexOf(") ");
    if (open < 1 || close < open) continue;
    const pid = Number(line.slice(0, open));
    const fields = line.slice(close + 2).split(" ");
    // fields[0] is field 3 (state) of proc(5); utime is field 14, stime 15, starttime 22, rss 24.
    if (!Number.isInteger(pid) || fields.length < 22) continue;
    result.push({
      pid,
      comm: line.slice(open + 2, close),
      state: fields[0]!,
      ppid: Number(fields[1]),
      cpu_ticks: Number(fields[11]) + Number(fields[12]),
      start_ticks: Number(fields[19]),
      rss_pages: Number(fields[21]),
    });
  }
  return result;
}

/** Options of {@link processesFromProc}. */
export interface ProcFallbackOptions {
  /** Seconds since boot (/proc/uptime). */
  uptimeSeconds: number;
  /** Clock ticks per second (`getconf CLK_TCK`, usually 100). */
  ticksPerSecond: number;
  /** Page size in bytes. */
  pageSize: number;
  /** MemTotal in bytes, for mem_percent. */
  memTotalBytes: number;
  /** uid by pid (from `ls -dn /proc/[0-9]*`). */
  uids?: ReadonlyMap<number, number>;
  /** user name by uid (from /etc/passwd). */
  users?: ReadonlyMap<number, string>;
}

/** Process rows computed from /proc/<pid>/stat alone, with ps's lifetime-average %CPU. */
export function processesFromProc(stats: readonly ProcStat[], options: ProcFallbackOptions): ProcessRow[] {
  return stats.map((s) => {
    const elapsed = Math.max(0, options.uptimeSeconds - s.start_ticks / options.ticksPerSecond);
    const cpu = elapsed > 0 ? (s.cpu_ticks / options.ticksPerSecond / elapsed) * 100 : 0;
    const rss = s.rss_pages * options.pageSize;
    const uid = options.uids?.get(s.pid);
    return {
      pid: s.pid,
      ppid: s.ppid,
      user: uid === undefined ? "?" : options.users?.get(uid) ?? String(uid),
      state: s.state,
      cpu_percent: round1(cpu),
      mem_percent: options.memTotalBytes > 0 ? round1((rss / options.memTotalBytes) * 100) : 0,
      rss_bytes: rss,
      elapsed_seconds: Math.round(elapsed),
      command: s.comm,
      args: s.comm,
    };
  });
}

/** Parses `ls -dn /proc/[0-9]*` into pid → uid. */
export function parseProcOwners(text: string): Map<number, number> {
  const owners = new Map<number, number>();
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const pid = /^\/proc\/(\d+)$/.exec(fields[fields.length - 1] ?? "")?.[1];
    if (pid !== undefined && /^\d+$/.test(fields[2] ?? "")) owners.set(Number(pid), Number(fields[2]));
  }
  return owners;
}

/** Parses /etc/passwd (or `cut -d: -f1,3` of it) into uid → name. */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    const uid = fields.length >= 3 ? fields[2] : fields[1];
    if (fields[0] && uid !== undefined && /^\d+$/.test(uid) && !users.has(Number(uid))) {
      users.set(Number(uid), fields[0]);
    }
  }
  return users;
}

/** Counts processes by their first state letter. */
export function countStates(states: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const state of states) {
    const letter = state.trim().charAt(0);
    if (letter) counts[letter] = (counts[letter] ?? 0) + 1;
  }
  return counts;
}

/**
 * Process rows from the sections of the /proc fallback: `stat` (cat /proc/[0-9]*\/stat), `owners`
 * (ls -dn /proc/[0-9]*), `passwd`, `uptime`, `tck` (CLK_TCK), `page` (page size) and `meminfo`.
 */
export function procFallbackRows(sections: ReadonlyMap<string, string>): ProcessRow[] {
  const meminfo = parseMeminfo(sections.get("meminfo") ?? "");
  return processesFromProc(parseProcStats(sections.get("stat") ?? ""), {
    uptimeSeconds: Number.parseFloat(sections.get("uptime") ?? "") || 0,
    ticksPerSecond: Number.parseInt(sections.get("tck") ?? "", 10) || 100,
    pageSize: Number.parseInt(sections.get("page") ?? "", 10) || 4096,
    memTotalBytes: (meminfo.get("MemTotal") ?? 0) * 1024,
    uids: parseProcOwners(sections.get("owners") ?? ""),
    users: parsePasswd(sections.get("passwd") ?? ""),
  });
}
