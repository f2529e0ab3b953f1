/**
 * Monitoring toolset: usage, ps, logs, journal_read, dmesg_read, list_services, diagnose_system
 * (the log tools live in monitoring_logs.ts, diagnose_system in monitoring_diagnose.ts).
 * Each tool runs one remote script whose sections are parsed in TypeScript; missing sources (no
 * systemd, no journal, restricted dmesg, busybox ps) are named in `notes` together with what was used.
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { sh } from "../../shell/sh.ts";
import { defineTool, type Toolset } from "../define.ts";
import { DIAGNOSE_SYSTEM } from "./diagnose.ts";
import { DMESG_READ, JOURNAL_READ, LOGS } from "./logs.ts";
import { formatBytes, type UsageData, usageFromSections } from "./parse.ts";
import {
  countStates,
  parseCommNames,
  parseProcpsRows,
  type ProcessRow,
  procFallbackRows,
} from "./ps_parse.ts";
import {
  parseRcStatus,
  parseServiceStatusAll,
  parseSystemctlJson,
  parseSystemctlPlain,
  type ServiceRow,
} from "./services_parse.ts";
import { runSections } from "../remote.ts";
import { HINTS, notes, target } from "../schemas.ts";

// ---------------------------------------------------------------------------------------------
// usage

const diskSchema = z.object({
  filesystem: z.string().describe("Device or filesystem"),
  mount: z.string().describe("Mount point"),
  total_bytes: z.number().describe("Size"),
  used_bytes: z.number().describe("Used"),
  available_bytes: z.number().describe("Available to unprivileged users"),
  used_percent: z.number().nullable().describe("Percent used (df's rounding)"),
});
const inodeSchema = z.object({
  filesystem: z.string().describe("Device or filesystem"),
  mount: z.string().describe("Mount point"),
  total: z.number().describe("Inodes"),
  used: z.number().describe("Inodes used"),
  free: z.number().describe("Inodes free"),
  used_percent: z.number().nullable().describe("Percent of inodes used"),
});
const memorySchema = z.object({
  total_bytes: z.number().describe("MemTotal"),
  available_bytes: z.number().describe("MemAvailable (estimated on kernels without it)"),
  used_bytes: z.number().describe("total − available"),
  free_bytes: z.number().describe("MemFree"),
  buffers_bytes: z.number().describe("Buffers"),
  cached_bytes: z.number().describe("Cached + SReclaimable"),
  used_percent: z.number().describe("used / total in percent"),
  available_estimated: z.boolean().describe("MemAvailable was missing and was estimated"),
});
const swapSchema = z.object({
  total_bytes: z.number().describe("SwapTotal"),
  free_bytes: z.number().describe("SwapFree"),
  used_bytes: z.number().describe("Swap in use"),
  used_percent: z.number().describe("Percent of swap in use (0 without swap)"),
});

const usage = defineTool({
  name: "usage",
  title: "CPU, memory and disk usage",
  description:
    "Reports CPU use (sampled over 0.3 s from /proc/stat), load averages, memory and swap (/proc/meminfo), " +
    "and disk space and inodes per filesystem (df) in one call. For a ranked list of problems call " +
    "`diagnose_system`; for the processes behind the numbers call `ps`.",
  input: z.object({ target }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    cpu: z.object({
      count: z.number().describe("Online CPUs"),
      used_percent: z.number().describe("Busy time of all CPUs during the sample"),
      user_percent: z.number().describe("User + nice"),
      system_percent: z.number().describe("System + irq + softirq"),
      iowait_percent: z.number().describe("Waiting for I/O"),
      steal_percent: z.number().describe("Stolen by the hypervisor"),
    }).nullable().describe("CPU use over the sample; null when /proc/stat is unreadable"),
    load: z.object({
      one: z.number().describe("1-minute load average"),
      five: z.number().describe("5-minute load average"),
      fifteen: z.number().describe("15-minute load average"),
      runnable: z.number().nullable().describe("Runnable threads now"),
      threads: z.number().nullable().describe("Threads in total"),
    }).nullable().describe("Load averages; null when /proc/loadavg is unreadable"),
    memory: memorySchema.nullable().describe("Memory; null when /proc/meminfo is unreadable"),
    swap: swapSchema.nullable().describe("Swap; null when /proc/meminfo is unreadable"),
    disks: z.array(diskSchema).describe("Filesystems with their space (df -P -k)"),
    inodes: z.array(inodeSchema).describe("Filesystems with inode accounting (df -P -i)"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`s stat1; grep '^cpu' /proc/stat
sleep 0.3 2>/dev/null || sleep 1
s stat2; grep '^cpu' /proc/stat
s loadavg; cat /proc/loadavg
s meminfo; cat /proc/meminfo
s df; df -P -k 2>&1
s dfi; df -P -i 2>&1
s end`,
      { action: "read usage" },
    );
    const data = usageFromSections(sections);
    return { data: { alias: result.alias, ...data }, text: usageText(result.alias, data) };
  },
});

function usageText(alias: string, d: UsageData): string {
  const lines = [`Usage on ${alias}:`];
  if (d.cpu) {
    lines.push(
      `CPU ${d.cpu.used_percent}% of ${d.cpu.count} CPU(s) (user ${d.cpu.user_percent}, system ${d.cpu.system_percent}, iowait ${d.cpu.iowait_percent}, steal ${d.cpu.steal_percent})`,
    );
  }
  if (d.load) lines.push(`Load ${d.load.one} ${d.load.five} ${d.load.fifteen}`);
  if (d.memory) {
    lines.push(
      `Memory ${formatBytes(d.memory.used_bytes)} of ${
        formatBytes(d.memory.total_bytes)
      } used (${d.memory.used_percent}%), ${formatBytes(d.memory.available_bytes)} available`,
    );
  }
  if (d.swap) {
    lines.push(
      d.swap.total_bytes === 0
        ? "Swap: none"
        : `Swap ${formatBytes(d.swap.used_bytes)} of ${
          formatBytes(d.swap.total_bytes)
        } (${d.swap.used_percent}%)`,
    );
  }
  const inodeByMount = new Map(d.inodes.map((i) => [i.mount, i.used_percent]));
  for (const disk of d.disks) {
    const inode = inodeByMount.get(disk.mount);
    lines.push(
      `  ${disk.mount}: ${disk.used_percent ?? "?"}% of ${formatBytes(disk.total_bytes)} (${
        formatBytes(disk.available_bytes)
      } free) ${disk.filesystem}${inode === undefined || inode === null ? "" : ` · inodes ${inode}%`}`,
    );
  }
  for (const note of d.notes) lines.push(`Note: ${note}`);
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// ps

const processSchema = z.object({
  pid: z.number().describe("Process id"),
  ppid: z.number().describe("Parent process id"),
  user: z.string().describe("Owner"),
  state: z.string().describe("State (R running, S sleeping, D disk wait, Z zombie, T stopped, I idle)"),
  cpu_percent: z.number().describe("%CPU of one CPU, averaged over the process lifetime (ps semantics)"),
  mem_percent: z.number().describe("Resident memory in percent of total memory"),
  rss_bytes: z.number().describe("Resident memory"),
  elapsed_seconds: z.number().nullable().describe("Seconds since start"),
  command: z.string().describe("Command name"),
  args: z.string().describe("Command line (cut at 1000 characters)"),
});

const ps = defineTool({
  name: "ps",
  title: "Top processes",
  description:
    "Lists the processes using the most CPU or memory, with pid, parent, user, state, %CPU (lifetime " +
    "average, as ps shows it), %MEM, RSS, age and command line, plus counts by state (zombies, D-state). " +
    "Uses procps ps; on busybox it reads /proc and says so.",
  input: z.object({
    target,
    sort_by: z.enum(["cpu", "mem"]).default("cpu").describe("Order by %CPU (cpu) or resident memory (mem)"),
    limit: z.number().int().min(1).max(500).default(20).describe("Number of processes to return (1–500)"),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    source: z.enum(["procps", "proc"]).describe("procps ps, or /proc/<pid>/stat when ps lacks -o/--sort"),
    sort_by: z.enum(["cpu", "mem"]).describe("Order used"),
    total: z.number().describe("Number of processes on the host"),
    states: z.record(z.string(), z.number()).describe("Process count by state letter (Z = zombie)"),
    processes: z.array(processSchema).describe("The top processes, highest first"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const key = args.sort_by === "mem" ? "-rss" : "-pcpu";
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`F=pid=,ppid=,user:32=,stat=,pcpu=,pmem=,rss=,etimes=,args=
if ps -ww -eo "$F" --sort=-pcpu >/dev/null 2>&1; then
  s procps; ps -ww -eo "$F" --sort=${key} | head -n "$N" | cut -c 1-1200
  s comm; ps -eo pid=,comm=
  s states; ps -eo stat=
else
  s proc
  s psbin; p=$(command -v ps) && readlink -f "$p"
  s stat; cat /proc/[0-9]*/stat 2>/dev/null
  s owners; ls -dn /proc/[0-9]* 2>/dev/null
  s passwd; cut -d: -f1,3 /etc/passwd 2>/dev/null
  s uptime; cat /proc/uptime
  s tck; getconf CLK_TCK 2>/dev/null || echo 100
  s page; getconf PAGESIZE 2>/dev/null || echo 4096
  s meminfo; grep '^MemTotal:' /proc/meminfo
fi
s end`,
      { action: "list processes", vars: sh`N=${args.limit}` },
    );
    const notesOut: string[] = [];
    let processes: ProcessRow[];
    let states: Record<string, number>;
    let total: number;
    let source: "procps" | "proc";
    if (sections.has("procps")) {
      source = "procps";
      processes = parseProcpsRows(sections.get("procps") ?? "", parseCommNames(sections.get("comm") ?? ""));
      const stateLines = (sections.get("states") ?? "").split("\n").filter((l) => l.trim());
      states = countStates(stateLines);
      total = stateLines.length;
    } else {
      source = "proc";
      const all = procFallbackRows(sections);
      if (all.length === 0) {
        throw new ToolError(
          `Cannot list processes on "${result.alias}": ps lacks -o/--sort and /proc/<pid>/stat is unreadable`,
          { hint: "Use `run` with the host's own ps." },
        );
      }
      const psbin = sections.get("psbin")?.trim();
      notesOut.push(
        `ps${
          psbin ? ` (${psbin})` : ""
        } lacks -o/--sort: read /proc/<pid>/stat instead; args show the command name only`,
      );
      all.sort((a, b) => args.sort_by === "mem" ? b.rss_bytes - a.rss_bytes : b.cpu_percent - a.cpu_percent);
      processes = all.slice(0, args.limit);
      states = countStates(all.map((p) => p.state));
      total = all.length;
    }
    const data = {
      alias: result.alias,
      source,
      sort_by: args.sort_by,
      total,
      states,
      processes,
      notes: notesOut,
    };
    return { data, text: psText(data) };
  },
});

function psText(d: {
  alias: string;
  source: string;
  total: number;
  states: Record<string, number>;
  processes: ProcessRow[];
  notes: string[];
}): string {
  const stateText = Object.entries(d.states).map(([k, v]) => `${k}=${v}`).join(" ");
  const lines = [`${d.total} processes on ${d.alias} (${stateText}); source ${d.source}`];
  lines.push("PID      PPID     USER         STAT  %CPU  %MEM       RSS  COMMAND");
  for (const p of d.processes) {
    lines.push(
      `${String(p.pid).padEnd(8)} ${String(p.ppid).padEnd(8)} ${p.user.slice(0, 12).padEnd(12)} ${
        p.state.padEnd(5)
      } ${String(p.cpu_percent).padStart(4)}  ${String(p.mem_percent).padStart(4)}  ${
        formatBytes(p.rss_bytes).padStart(9)
      }  ${p.args.slice(0, 200) || p.command}`,
    );
  }
  for (const note of d.notes) lines.push(`Note: ${note}`);
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// list_services

const listServices = defineTool({
  name: "list_services",
  title: "List services",
  description: "Lists services with a normalized state (running, exited, stopped, failed…) from systemd " +
    "(systemctl list-units), or OpenRC (rc-status), runit (sv status) or sysvinit (service --status-all) " +
    "when systemd is not running; `manager` and `notes` say which was used. failed_only: failed units.",
  input: z.object({
    target,
    failed_only: z.boolean().optional().describe(
      "Only failed services (systemd failed units, OpenRC crashed)",
    ),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    manager: z.enum(["systemd", "openrc", "runit", "sysvinit", "init.d"]).describe("Service manager used"),
    services: z.array(z.object({
      name: z.string().describe("Service or unit name"),
      state: z.string().describe("running, exited, stopped, failed, starting, stopping or unknown"),
      detail: z.string().describe("The manager's own status words"),
      description: z.string().nullable().describe("Description (systemd)"),
    })).describe("Services"),
    counts: z.record(z.string(), z.number()).describe("Number of services per state"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const state = args.failed_only ? ["--state=failed"] : [];
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`s pid1; cat /proc/1/comm 2>/dev/null
s has; for c in systemctl rc-status sv service; do command -v "$c" >/dev/null 2>&1 && echo "$c"; done
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  s systemd_json
  if ! systemctl list-units --type=service --all --no-pager --output=json ${state} 2>/dev/null; then
    s systemd_plain; systemctl list-units --type=service --all --no-pager --plain --no-legend ${state} 2>&1
  fi
elif command -v rc-status >/dev/null 2>&1; then s openrc; rc-status -a 2>&1
elif command -v sv >/dev/null 2>&1 && ls -d /etc/service/* /var/service/* >/dev/null 2>&1; then
  s runit; sv status /etc/service/* /var/service/* 2>/dev/null
elif command -v service >/dev/null 2>&1; then s sysvinit; service --status-all 2>&1
elif [ -d /etc/init.d ]; then s initd; ls /etc/init.d
fi
s end`,
      { action: "list services" },
    );
    const has = new Set((sections.get("has") ?? "").split("\n").map((l) => l.trim()).filter(Boolean));
    const pid1 = (sections.get("pid1") ?? "").trim() || "unknown";
    const notesOut: string[] = [];
    let manager: "systemd" | "openrc" | "runit" | "sysvinit" | "init.d";
    let services: ServiceRow[];
    if (sections.has("systemd_json") || sections.has("systemd_plain")) {
      manager = "systemd";
      services = parseSystemctlJson(sections.get("systemd_json") ?? "") ??
        parseSystemctlPlain(sections.get("systemd_plain") ?? "");
    } else {
      if (has.has("systemctl")) {
        notesOut.push(`systemctl is installed but systemd is not running (PID 1 is ${pid1})`);
      } else notesOut.push(`no systemd (PID 1 is ${pid1})`);
      if (sections.has("openrc")) {
        manager = "openrc";
        services = parseRcStatus(sections.get("openrc") ?? "");
      } else if (sections.has("runit")) {
        manager = "runit";
        services = parseSvStatus(sections.get("runit") ?? "");
      } else if (sections.has("sysvinit")) {
        manager = "sysvinit";
        services = parseServiceStatusAll(sections.get("sysvinit") ?? "");
        if (args.failed_only) {
          notesOut.push("sysvinit cannot tell failed from stopped: no service is shown as failed");
        }
      } else if (sections.has("initd")) {
        manager = "init.d";
        services = (sections.get("initd") ?? "").split("\n").filter((n) => n.trim() && n !== "README")
          .map((name) => ({
            name: name.trim(),
            state: "unknown",
            detail: "script in /etc/init.d",
            description: null,
          }));
      } else {
        throw new ToolError(
          `Cannot list services on "${result.alias}": no systemd (PID 1 is ${pid1}), OpenRC, runit, service or /etc/init.d`,
          { hint: "This host may be a container running a single program: use `ps` to see what runs." },
        );
      }
      notesOut.push(`used ${manager}`);
      if (args.failed_only) services = services.filter((s) => s.state === "failed");
    }
    const counts: Record<string, number> = {};
    for (const s of services) counts[s.state] = (counts[s.state] ?? 0) + 1;
    const data = { alias: result.alias, manager, services, counts, notes: notesOut };
    const lines = [
      `${services.length} service(s) on ${result.alias} from ${manager} (${
        Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(", ") || "none"
      }):`,
      ...services.map((s) => `  ${s.state.padEnd(8)} ${s.name}${s.description ? ` — ${s.description}` : ""}`),
      ...notesOut.map((n) => `Note: ${n}`),
    ];
    return { data, text: lines.join("\n") };
  },
});

/** Parses runit's `sv status` lines ("run: /etc/service/sshd: (pid 12) 300s"). */
export function parseSvStatus(text: string): ServiceRow[] {
  const rows: ServiceRow[] = [];
  for (const line of text.split("\n")) {
    const match = /^(run|down|fail|finish|warning): ([^:]+):\s*(.*)$/.exec(line);
    if (!match) continue;
    const word = match[1]!;
    rows.push({
      name: match[2]!.slice(match[2]!.lastIndexOf("/") + 1),
      state: word === "run"
        ? "running"
        : word === "down"
        ? "stopped"
        : word === "fail"
        ? "failed"
        : "unknown",
      detail: `${word}: ${match[3]!.trim()}`.trim(),
      description: null,
    });
  }
  return rows;
}

/** The monitoring toolset. */
export const MONITORING: Toolset = {
  name: "monitoring",
  tools: [usage, ps, LOGS, JOURNAL_READ, DMESG_READ, DIAGNOSE_SYSTEM, listServices],
};
