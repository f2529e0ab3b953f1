/**
 * Pure parsers for the monitoring toolset: /proc files, `df`, `ps`, kernel and journal logs and
 * service managers. No I/O; each is unit-tested with outputs captured from real hosts.
 */

/** Jiffy counters of one `cpu` line of /proc/stat. */
export interface CpuTimes {
  /** Sum of user, nice, system, idle, iowait, irq, softirq and steal (guest is inside user). */
  total: number;
  /** idle + iowait. */
  idle: number;
  /** user + nice. */
  user: number;
  /** system + irq + softirq. */
  system: number;
  /** iowait. */
  iowait: number;
  /** steal (time taken by the hypervisor). */
  steal: number;
}

/** Parses the aggregate `cpu ` line of /proc/stat (or returns undefined). */
export function parseCpuTimes(procStat: string): CpuTimes | undefined {
  const line = procStat.split("\n").find((l) => /^cpu\s/.test(l));
  if (line === undefined) return undefined;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line
    .trim().split(/\s+/).slice(1).map(Number);
  return {
    total: user + nice + system + idle + iowait + irq + softirq + steal,
    idle: idle + iowait,
    user: user + nice,
    system: system + irq + softirq,
    iowait,
    steal,
  };
}

/** Number of `cpuN` lines in /proc/stat: the online CPUs. */
export function countCpus(procStat: string): number {
  return procStat.split("\n").filter((l) => /^cpu\d+\s/.test(l)).length;
}

/** CPU use between two samples, in percent of all CPUs. */
export interface CpuUsage {
  /** Busy (not idle, not iowait). */
  used_percent: number;
  /** User and nice. */
  user_percent: number;
  /** System, irq and softirq. */
  system_percent: number;
  /** Waiting for I/O. */
  iowait_percent: number;
  /** Stolen by the hypervisor. */
  steal_percent: number;
}

/** Percentages between two /proc/stat samples; undefined when no time passed. */
export function cpuUsage(before: CpuTimes, after: CpuTimes): CpuUsage | undefined {
  const total = after.total - before.total;
  if (!(total > 0)) return undefined;
  const pct = (value: number) => round1(Math.max(0, Math.min(100, (value / total) * 100)));
  return {
    used_percent: pct(total - (after.idle - before.idle)),
    user_percent: pct(after.user - before.user),
    system_percent: pct(after.system - before.system),
    iowait_percent: pct(after.iowait - before.iowait),
    steal_percent: pct(after.steal - before.steal),
  };
}

/** /proc/loadavg. */
export interface LoadAverage {
  /** 1-minute load. */
  one: number;
  /** 5-minute load. */
  five: number;
  /** 15-minute load. */
  fifteen: number;
  /** Runnable scheduling entities now. */
  runnable: number | null;
  /** Scheduling entities (threads) in total. */
  threads: number | null;
}

/** Parses /proc/loadavg ("0.70 0.69 0.36 1/104 24613"). */
export function parseLoadavg(text: string): LoadAverage | undefined {
  const match = /^\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)(?:\s+(\d+)\/(\d+))?/.exec(text);
  if (!match) return undefined;
  return {
    one: Number(match[1]),
    five: Number(match[2]),
    fifteen: Number(match[3]),
    runnable: match[4] === undefined ? null : Number(match[4]),
    threads: match[5] === undefined ? null : Number(match[5]),
  };
}

/** Parses /proc/meminfo into kB values by key. */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([^:\s]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (match) values.set(match[1]!, Number(match[2]));
  }
  return values;
}

/** Memory and swap, in bytes. */
export interface MemorySummary {
  memory: {
    total_bytes: number;
    available_bytes: number;
    used_bytes: number;
    free_bytes: number;
    buffers_bytes: number;
    cached_bytes: number;
    used_percent: number;
    /** True when MemAvailable was missing (kernel < 3.14) and estimated from free + buffers + cached. */
    available_estimated: boolean;
  };
  swap: { total_bytes: number; free_bytes: number; used_bytes: number; used_percent: number };
}

/** Memory summary from /proc/meminfo values; undefined without MemTotal. */
export function summarizeMemory(meminfo: Map<string, number>): MemorySummary | undefined {
  const kb = (key: string) => meminfo.get(key) ?? 0;
  const total = meminfo.get("MemTotal");
  if (total === undefined || total === 0) return undefined;
  const cached = kb("Cached") + kb("SReclaimable");
  const estimated = !meminfo.has("MemAvailable");
  const available = estimated ? kb("MemFree") + kb("Buffers") + cached : kb("MemAvailable");
  const swapTotal = kb("SwapTotal");
  const swapUsed = Math.max(0, swapTotal - kb("SwapFree"));
  return {
    memory: {
      total_bytes: total * 1024,
      available_bytes: available * 1024,
      used_bytes: Math.max(0, total - available) * 1024,
      free_bytes: kb("MemFree") * 1024,
      buffers_bytes: kb("Buffers") * 1024,
      cached_bytes: cached * 1024,
      used_percent: round1(((total - available) / total) * 100),
      available_estimated: estimated,
    },
    swap: {
      total_bytes: swapTotal * 1024,
      free_bytes: kb("SwapFree") * 1024,
      used_bytes: swapUsed * 1024,
      used_percent: swapTotal === 0 ? 0 : round1((swapUsed / swapTotal) * 100),
    },
  };
}

/** One row of `df -P -k` (sizes in bytes) or `df -P -i` (inode counts). */
export interface DfRow {
  /** Device or filesystem name. */
  filesystem: string;
  /** Mount point. */
  mount: string;
  /** Total size (bytes, or inodes). */
  total: number;
  /** Used. */
  used: number;
  /** Available to unprivileged users. */
  available: number;
  /** Percent used as df reports it (rounded up), null when df shows "-". */
  used_percent: number | null;
}

/**
 * Parses `df -P` output (header skipped). `scale` multiplies the counts (1024 for `-k`, 1 for `-i`).
 * Rows with a zero total (pseudo filesystems, or no inode accounting) are dropped.
 */
export function parseDf(text: string, scale: number): DfRow[] {
  const rows: DfRow[] = [];
  for (const line of text.split("\n")) {
    const match = /^(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(\/.*)$/.exec(line);
    if (!match) continue;
    const total = Number(match[2]);
    if (total === 0) continue;
    const used = Number(match[3]);
    const available = Number(match[4]);
    const reported = match[5] === "-" ? null : Number(match[5]!.slice(0, -1));
    const computed = used + available === 0 ? null : Math.ceil((used / (used + available)) * 100);
    rows.push({
      filesystem: match[1]!,
      mount: match[6]!,
      total: total * scale,
      used: used * scale,
      available: available * scale,
      used_percent: reported ?? computed,
    });
  }
  return rows;
}

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

/** A service as a service manager reports it. */
export interface ServiceRow {
  /** Unit or service name. */
  name: string;
  /** Normalized: running, exited, stopped, failed, starting, stopping or unknown. */
  state: string;
  /** The manager's own words (e.g. "loaded active running", "[ + ]", "started"). */
  detail: string;
  /** Description when the manager has one. */
  description: string | null;
}

/** Parses `systemctl list-units --output=json` (systemd ≥ 247). */
export function parseSystemctlJson(text: string): ServiceRow[] | undefined {
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(list)) return undefined;
  return list.map((unit: Record<string, string>) =>
    systemdRow(unit.unit ?? "", unit.load ?? "", unit.active ?? "", unit.sub ?? "", unit.description ?? "")
  );
}

/** Parses `systemctl list-units --plain --no-legend --no-pager` (older systemd). */
export function parseSystemctlPlain(text: string): ServiceRow[] {
  const rows: ServiceRow[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/^[\s●*×]+/, "");
    const match = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (match) rows.push(systemdRow(match[1]!, match[2]!, match[3]!, match[4]!, match[5]!));
  }
  return rows;
}

function systemdRow(
  name: string,
  load: string,
  active: string,
  sub: string,
  description: string,
): ServiceRow {
  const state = active === "failed" || sub === "failed"
    ? "failed"
    : sub === "running"
    ? "running"
    : sub === "exited"
    ? "exited"
    : active === "activating"
    ? "starting"
    : active === "deactivating"
    ? "stopping"
    : active === "inactive"
    ? "stopped"
    : "unknown";
  return { name, state, detail: `${load} ${active} ${sub}`.trim(), description: description.trim() || null };
}

/** Parses OpenRC's `rc-status -a` (or `--servicelist`). */
export function parseRcStatus(text: string): ServiceRow[] {
  const rows = new Map<string, ServiceRow>();
  for (const line of text.split("\n")) {
    const match = /^\s+(\S+)\s+\[\s*([a-z][a-z ]*?)\s*\]/.exec(line);
    if (!match) continue;
    const word = match[2]!;
    const state = word === "started"
      ? "running"
      : word === "stopped" || word === "inactive"
      ? "stopped"
      : word === "crashed" || word === "failed"
      ? "failed"
      : word === "starting"
      ? "starting"
      : word === "stopping"
      ? "stopping"
      : "unknown";
    rows.set(match[1]!, { name: match[1]!, state, detail: word, description: null });
  }
  return [...rows.values()];
}

/** Parses sysvinit's `service --status-all` (" [ + ]  ssh"). */
export function parseServiceStatusAll(text: string): ServiceRow[] {
  const rows: ServiceRow[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*\[\s*([+?-])\s*\]\s+(\S+)/.exec(line);
    if (!match) continue;
    const state = match[1] === "+" ? "running" : match[1] === "-" ? "stopped" : "unknown";
    rows.push({ name: match[2]!, state, detail: `[ ${match[1]} ]`, description: null });
  }
  return rows;
}

/** Time synchronization as a tool reported it. */
export interface TimeSync {
  /** true: synchronized; false: not; null: could not tell. */
  synchronized: boolean | null;
  /** Which tool answered. */
  source: string;
  /** The line that decided. */
  evidence: string;
}

/** Interprets `timedatectl status`, `chronyc tracking` or `ntpq -pn` output. */
export function parseTimeSync(source: "timedatectl" | "chronyc" | "ntpq", text: string): TimeSync {
  const trimmed = text.trim();
  if (source === "timedatectl") {
    // "System clock synchronized: yes" (systemd ≥ 239), "NTP synchronized: yes" (older), or `show` output.
    const line = /^.*(?:synchronized:\s*|NTPSynchronized=)(yes|no)\s*$/im.exec(trimmed);
    return {
      synchronized: line ? line[1]!.toLowerCase() === "yes" : null,
      source,
      evidence: line ? line[0].trim() : firstNonEmpty(trimmed),
    };
  }
  if (source === "chronyc") {
    const leap = /^Leap status\s*:\s*(.+)$/m.exec(trimmed)?.[1]?.trim();
    return {
      synchronized: leap === undefined ? null : leap !== "Not synchronised",
      source,
      evidence: leap === undefined ? firstNonEmpty(trimmed) : `Leap status: ${leap}`,
    };
  }
  const peer = trimmed.split("\n").find((line) => line.startsWith("*"));
  return {
    synchronized: trimmed === "" ? null : peer !== undefined,
    source,
    evidence: peer?.trim() ?? "no peer selected (no line starting with *)",
  };
}

function firstNonEmpty(text: string): string {
  return text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
}

/** Rounds to one decimal. */
export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Bytes as a short human string ("1.5 GiB"). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** What `usage` reports (bytes for disks, counts for inodes). */
export interface UsageData {
  /** CPU use over the sample, null when /proc/stat is unreadable. */
  cpu: (CpuUsage & { count: number }) | null;
  /** Load averages. */
  load: LoadAverage | null;
  /** Memory. */
  memory: MemorySummary["memory"] | null;
  /** Swap. */
  swap: MemorySummary["swap"] | null;
  /** Space per filesystem. */
  disks: {
    filesystem: string;
    mount: string;
    total_bytes: number;
    used_bytes: number;
    available_bytes: number;
    used_percent: number | null;
  }[];
  /** Inodes per filesystem. */
  inodes: {
    filesystem: string;
    mount: string;
    total: number;
    used: number;
    free: number;
    used_percent: number | null;
  }[];
  /** Missing sources. */
  notes: string[];
}

/**
 * Usage figures from the sections `stat1`, `stat2` (grep '^cpu' /proc/stat twice), `loadavg`,
 * `meminfo`, `df` (df -P -k) and `dfi` (df -P -i).
 */
export function usageFromSections(sections: ReadonlyMap<string, string>): UsageData {
  const notes: string[] = [];
  const stat1 = sections.get("stat1") ?? "";
  const before = parseCpuTimes(stat1);
  const after = parseCpuTimes(sections.get("stat2") ?? "");
  const percents = before && after ? cpuUsage(before, after) : undefined;
  if (!percents) notes.push("/proc/stat is unreadable or did not change: CPU use unknown");
  const load = parseLoadavg(sections.get("loadavg") ?? "") ?? null;
  if (!load) notes.push("/proc/loadavg is unreadable: load unknown");
  const mem = summarizeMemory(parseMeminfo(sections.get("meminfo") ?? ""));
  if (!mem) notes.push("/proc/meminfo is unreadable: memory unknown");
  else if (mem.memory.available_estimated) {
    notes.push("MemAvailable is missing (kernel < 3.14): available = free + buffers + cached");
  }
  const dfText = sections.get("df") ?? "";
  const disks = parseDf(dfText, 1024).map((r) => ({
    filesystem: r.filesystem,
    mount: r.mount,
    total_bytes: r.total,
    used_bytes: r.used,
    available_bytes: r.available,
    used_percent: r.used_percent,
  }));
  if (disks.length === 0) notes.push(`df -P -k gave no filesystems: ${firstLineOf(dfText) || "no output"}`);
  const dfiText = sections.get("dfi") ?? "";
  const inodes = parseDf(dfiText, 1).map((r) => ({
    filesystem: r.filesystem,
    mount: r.mount,
    total: r.total,
    used: r.used,
    free: r.available,
    used_percent: r.used_percent,
  }));
  if (inodes.length === 0) {
    notes.push(`df -P -i gave no inode counts (busybox without -i?): ${firstLineOf(dfiText) || "no output"}`);
  }
  return {
    cpu: percents ? { count: countCpus(stat1), ...percents } : null,
    load,
    memory: mem?.memory ?? null,
    swap: mem?.swap ?? null,
    disks,
    inodes,
    notes,
  };
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

function firstLineOf(text: string): string {
  return (text.split("\n").find((line) => line.trim() !== "") ?? "").trim();
}
