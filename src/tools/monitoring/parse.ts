/**
 * Pure parsers for the monitoring toolset's resource figures: /proc/stat, /proc/loadavg,
 * /proc/meminfo and `df`, and the `usage` report built from them. Processes are parsed in
 * `monitoring_ps_parse.ts`, kernel and journal logs in `monitoring_logs_parse.ts`, service managers
 * and time sync in `monitoring_services_parse.ts`. No I/O; each is unit-tested with outputs captured
 * from real hosts.
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

function firstLineOf(text: string): string {
  return (text.split("\n").find((line) => line.trim() !== "") ?? "").trim();
}
