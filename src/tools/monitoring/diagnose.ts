/**
 * `diagnose_system`: one remote script gathers every signal, and {@link diagnose} (pure) turns the
 * sections into findings ranked by severity, each with its evidence, plus the list of checks made.
 */
import { z } from "zod";
import { sh } from "../../shell/sh.ts";
import { defineTool } from "../define.ts";
import { parseDmesg } from "./logs_parse.ts";
import { formatBytes, parseMeminfo, round1, usageFromSections } from "./parse.ts";
import { parseProcStats, type ProcStat } from "./ps_parse.ts";
import { parseRcStatus, parseSystemctlPlain, parseTimeSync } from "./services_parse.ts";
import { firstLine, runSections } from "../remote.ts";
import { HINTS, target } from "../schemas.ts";

/** Severity of a finding, most severe first. */
export const SEVERITIES = ["critical", "warning", "info"] as const;
/** One of {@link SEVERITIES}. */
export type Severity = typeof SEVERITIES[number];

/** A problem (or notable fact) with the lines that show it. */
export interface Finding {
  /** How urgent. */
  severity: Severity;
  /** Which check found it (disk, inodes, memory, swap, oom, services, load, cpu, zombies, time, logs, top). */
  check: string;
  /** One line for a human. */
  title: string;
  /** The data behind it. */
  evidence: string[];
}

/** What a check did. */
export interface CheckStatus {
  /** Check name (as in {@link Finding.check}). */
  check: string;
  /** ok: nothing found; problem: see findings; unavailable: could not be checked (see detail). */
  status: "ok" | "problem" | "unavailable";
  /** Source used, or why the check could not run. */
  detail: string;
}

/** The result of {@link diagnose}. */
export interface Diagnosis {
  /** Findings, most severe first. */
  findings: Finding[];
  /** Every check with its outcome. */
  checks: CheckStatus[];
}

const DISK_WARN = 90;
const DISK_CRIT = 95;

/** Turns the sections of the diagnose script into ranked findings. Pure. */
export function diagnose(sections: ReadonlyMap<string, string>): Diagnosis {
  const findings: Finding[] = [];
  const checks: CheckStatus[] = [];
  const check = (name: string, found: Finding[], okDetail: string, unavailable?: string) => {
    if (unavailable !== undefined) checks.push({ check: name, status: "unavailable", detail: unavailable });
    else {
      checks.push({
        check: name,
        status: found.some((f) => f.severity !== "info") ? "problem" : "ok",
        detail: okDetail,
      });
    }
    findings.push(...found);
  };
  const usage = usageFromSections(sections);
  const tools = new Set((sections.get("tools") ?? "").split("\n").map((l) => l.trim()).filter(Boolean));
  const pid1 = (sections.get("pid1") ?? "").trim() || "unknown";

  // Disks and inodes.
  const diskFindings: Finding[] = [];
  for (const d of usage.disks) {
    const pct = d.used_percent ?? 0;
    if (pct < DISK_WARN) continue;
    diskFindings.push({
      severity: pct >= DISK_CRIT ? "critical" : "warning",
      check: "disk",
      title: `Filesystem ${d.mount} is ${pct}% full`,
      evidence: [
        `${d.mount} (${d.filesystem}): ${formatBytes(d.used_bytes)} used of ${formatBytes(d.total_bytes)}, ${
          formatBytes(d.available_bytes)
        } available`,
      ],
    });
  }
  check(
    "disk",
    diskFindings,
    `df -P -k: ${usage.disks.length} filesystems`,
    usage.disks.length ? undefined : "df -P -k gave no filesystems",
  );
  const inodeFindings: Finding[] = [];
  for (const i of usage.inodes) {
    const pct = i.used_percent ?? 0;
    if (pct < DISK_WARN) continue;
    inodeFindings.push({
      severity: pct >= DISK_CRIT ? "critical" : "warning",
      check: "inodes",
      title: `Filesystem ${i.mount} has used ${pct}% of its inodes`,
      evidence: [`${i.mount} (${i.filesystem}): ${i.used} of ${i.total} inodes used, ${i.free} free`],
    });
  }
  check(
    "inodes",
    inodeFindings,
    `df -P -i: ${usage.inodes.length} filesystems`,
    usage.inodes.length ? undefined : "df -P -i gave no inode counts (busybox without -i?)",
  );

  // Memory, swap and pressure.
  const stats2 = parseProcStats(sections.get("procs2") ?? "");
  const pageSize = Number.parseInt(sections.get("page") ?? "", 10) || 4096;
  const topMemory = [...stats2].sort((a, b) => b.rss_pages - a.rss_pages).slice(0, 3).map((p) =>
    `pid ${p.pid} ${p.comm}: ${formatBytes(p.rss_pages * pageSize)} resident`
  );
  const memFindings: Finding[] = [];
  const vm1 = parseMeminfo(sections.get("vm1")?.replaceAll(" ", ": ") ?? "");
  const vm2 = parseMeminfo(sections.get("vm2")?.replaceAll(" ", ": ") ?? "");
  if (usage.memory) {
    const m = usage.memory;
    const availablePct = round1((m.available_bytes / m.total_bytes) * 100);
    if (availablePct < 10) {
      memFindings.push({
        severity: availablePct < 5 ? "critical" : "warning",
        check: "memory",
        title: `Only ${availablePct}% of memory is available`,
        evidence: [
          `${formatBytes(m.available_bytes)} available of ${formatBytes(m.total_bytes)}`,
          ...topMemory,
        ],
      });
    }
    const swap = usage.swap;
    if (swap && swap.total_bytes > 0 && swap.used_percent >= 80) {
      memFindings.push({
        severity: "warning",
        check: "swap",
        title: `Swap is ${swap.used_percent}% used`,
        evidence: [`${formatBytes(swap.used_bytes)} of ${formatBytes(swap.total_bytes)} swap in use`],
      });
    }
    const swapped = (vm2.get("pswpin") ?? 0) - (vm1.get("pswpin") ?? 0) +
      (vm2.get("pswpout") ?? 0) - (vm1.get("pswpout") ?? 0);
    if (swapped > 0) {
      memFindings.push({
        severity: "warning",
        check: "swap",
        title: "The system is actively swapping",
        evidence: [`${swapped} pages swapped in or out during the 0.5 s sample (/proc/vmstat)`],
      });
    }
    const psi = /^some avg10=([\d.]+)/m.exec(sections.get("psi_memory") ?? "")?.[1];
    if (psi !== undefined && Number(psi) >= 20) {
      memFindings.push({
        severity: Number(psi) >= 50 ? "critical" : "warning",
        check: "memory",
        title: `Tasks stalled on memory ${psi}% of the last 10 s`,
        evidence: [`/proc/pressure/memory: ${firstLine(sections.get("psi_memory") ?? "")}`],
      });
    }
  }
  check(
    "memory",
    memFindings,
    "/proc/meminfo, /proc/vmstat, /proc/pressure/memory",
    usage.memory ? undefined : "/proc/meminfo is unreadable",
  );

  // OOM kills.
  const oomFindings: Finding[] = [];
  const [, uptimeLine] = (sections.get("clock") ?? "").split("\n");
  const uptimeNow = Number.parseFloat(uptimeLine ?? "");
  const oomSource = ["oom_dmesg", "oom_journal", "oom_file"].find((k) => sections.has(k));
  const oomKills = vm2.get("oom_kill");
  if (oomSource !== undefined) {
    const lines = (sections.get(oomSource) ?? "").split("\n").filter((l) => l.trim());
    if (lines.length > 0) {
      const parsed = parseDmesg(lines.join("\n"));
      const last = parsed[parsed.length - 1]?.uptime_seconds ?? null;
      const recent = last !== null && Number.isFinite(uptimeNow) && uptimeNow - last < 3600;
      oomFindings.push({
        severity: recent ? "critical" : "warning",
        check: "oom",
        title: `Out-of-memory kills in the kernel log${recent ? " within the last hour" : ""}`,
        evidence: lines.slice(-5),
      });
    }
  } else if (oomKills !== undefined && oomKills > 0) {
    oomFindings.push({
      severity: "warning",
      check: "oom",
      title: `${oomKills} out-of-memory kill(s) since boot`,
      evidence: [`/proc/vmstat oom_kill ${oomKills}`],
    });
  }
  const oomWhy = sections.get("oom_unavailable")?.trim();
  check(
    "oom",
    oomFindings,
    oomSource === "oom_dmesg"
      ? "dmesg"
      : oomSource === "oom_journal"
      ? `journalctl -k (dmesg: ${oomWhy})`
      : oomSource === "oom_file"
      ? `/var/log/kern.log (dmesg: ${oomWhy})`
      : `/proc/vmstat oom_kill counter (dmesg: ${oomWhy})`,
    oomSource === undefined && oomKills === undefined
      ? `kernel log unavailable (dmesg: ${oomWhy ?? "?"}) and no oom_kill counter in /proc/vmstat`
      : undefined,
  );

  // Failed services.
  const serviceFindings: Finding[] = [];
  let serviceDetail: string | undefined;
  let serviceUnavailable: string | undefined;
  if (sections.has("failed_systemd")) {
    const failed = parseSystemctlPlain(sections.get("failed_systemd") ?? "");
    serviceDetail = "systemctl --failed";
    if (failed.length > 0) {
      serviceFindings.push({
        severity: "warning",
        check: "services",
        title: `${failed.length} failed systemd unit(s)`,
        evidence: failed.slice(0, 10).map((f) =>
          `${f.name}: ${f.detail}${f.description ? ` (${f.description})` : ""}`
        ),
      });
    }
  } else if (sections.has("failed_openrc")) {
    const crashed = parseRcStatus(sections.get("failed_openrc") ?? "").filter((s) => s.state === "failed");
    serviceDetail = "rc-status -a";
    if (crashed.length > 0) {
      serviceFindings.push({
        severity: "warning",
        check: "services",
        title: `${crashed.length} crashed OpenRC service(s)`,
        evidence: crashed.map((c) => `${c.name}: ${c.detail}`),
      });
    }
  } else {
    serviceUnavailable = `no systemd running (PID 1 is ${pid1}${
      tools.has("systemctl") ? ", systemctl installed but unusable" : ""
    }) and no OpenRC: failed services cannot be detected`;
  }
  check("services", serviceFindings, serviceDetail ?? "", serviceUnavailable);

  // Load and CPU.
  const loadFindings: Finding[] = [];
  const cpus = usage.cpu?.count ?? 0;
  if (usage.load && cpus > 0) {
    const peak = Math.max(usage.load.one, usage.load.five);
    if (peak > cpus) {
      loadFindings.push({
        severity: usage.load.five > 2 * cpus ? "critical" : "warning",
        check: "load",
        title: `Load ${peak} is above the CPU count (${cpus})`,
        evidence: [`load averages ${usage.load.one} ${usage.load.five} ${usage.load.fifteen}, ${cpus} CPUs`],
      });
    }
  }
  check(
    "load",
    loadFindings,
    "/proc/loadavg",
    usage.load && cpus > 0 ? undefined : "/proc/loadavg or /proc/stat unreadable",
  );
  const cpuFindings: Finding[] = [];
  const interval = cpuInterval(sections);
  const stats1 = parseProcStats(sections.get("procs1") ?? "");
  const topCpu = topCpuConsumers(stats1, stats2, interval);
  if (usage.cpu) {
    const c = usage.cpu;
    if (c.used_percent >= 90) {
      cpuFindings.push({
        severity: "warning",
        check: "cpu",
        title: `CPU is ${c.used_percent}% busy`,
        evidence: [`user ${c.user_percent}%, system ${c.system_percent}%`, ...topCpu.slice(0, 3)],
      });
    }
    if (c.iowait_percent >= 20) {
      cpuFindings.push({
        severity: "warning",
        check: "cpu",
        title: `CPUs spend ${c.iowait_percent}% of their time waiting for I/O`,
        evidence: [`iowait ${c.iowait_percent}% during the sample`, firstLine(sections.get("psi_io") ?? "")]
          .filter(Boolean),
      });
    }
    if (c.steal_percent >= 10) {
      cpuFindings.push({
        severity: "warning",
        check: "cpu",
        title: `The hypervisor steals ${c.steal_percent}% of CPU time`,
        evidence: [`steal ${c.steal_percent}% during the sample`],
      });
    }
  }
  check("cpu", cpuFindings, "/proc/stat over 0.5 s", usage.cpu ? undefined : "/proc/stat unreadable");

  // Zombies.
  const zombieFindings: Finding[] = [];
  const byPid = new Map(stats2.map((p) => [p.pid, p]));
  const zombies = stats2.filter((p) => p.state === "Z");
  if (zombies.length > 0) {
    zombieFindings.push({
      severity: zombies.length >= 100 ? "critical" : zombies.length >= 5 ? "warning" : "info",
      check: "zombies",
      title: `${zombies.length} zombie process(es): their parents do not reap them`,
      evidence: zombies.slice(0, 10).map((z) => {
        const parent = byPid.get(z.ppid);
        return `pid ${z.pid} (${z.comm}) zombie, parent pid ${z.ppid}${parent ? ` (${parent.comm})` : ""}`;
      }),
    });
  }
  check(
    "zombies",
    zombieFindings,
    `/proc/<pid>/stat: ${stats2.length} processes`,
    stats2.length ? undefined : "/proc/<pid>/stat unreadable",
  );

  // Time synchronization.
  const timeFindings: Finding[] = [];
  const timeSource = (["timedatectl", "chronyc", "ntpq"] as const).find((s) => sections.has(`time_${s}`));
  let timeUnavailable: string | undefined;
  let timeDetail = "";
  if (timeSource !== undefined) {
    const sync = parseTimeSync(timeSource, sections.get(`time_${timeSource}`) ?? "");
    timeDetail = `${timeSource}: ${sync.evidence}`;
    if (sync.synchronized === false) {
      timeFindings.push({
        severity: "warning",
        check: "time",
        title: "The clock is not synchronized",
        evidence: [timeDetail],
      });
    } else if (sync.synchronized === null) timeUnavailable = `${timeSource} gave no answer: ${sync.evidence}`;
  } else {
    timeUnavailable = tools.has("timedatectl")
      ? `timedatectl needs systemd, which is not running (PID 1 is ${pid1}); no chronyc or ntpq`
      : "no timedatectl, chronyc or ntpq";
  }
  check("time", timeFindings, timeDetail, timeUnavailable);

  // Recent errors in logs.
  const logFindings: Finding[] = [];
  const logSource = [...sections.keys()].find((k) => k === "errors_journal" || k.startsWith("errors_file:"));
  if (logSource !== undefined) {
    const lines = (sections.get(logSource) ?? "").split("\n").filter((l) => l.trim() && !l.startsWith("-- "));
    if (lines.length > 0) {
      logFindings.push({
        severity: lines.length >= 10 ? "warning" : "info",
        check: "logs",
        title: logSource === "errors_journal"
          ? `${lines.length}${lines.length >= 20 ? "+" : ""} error-level journal entries in the last hour`
          : `${lines.length}${lines.length >= 20 ? "+" : ""} recent error lines in ${logSource.slice(12)}`,
        evidence: lines.slice(-5),
      });
    }
  }
  check(
    "logs",
    logFindings,
    logSource === "errors_journal" ? "journalctl -p err --since '1 hour ago'" : logSource?.slice(12) ?? "",
    logSource === undefined ? "no readable journal, /var/log/syslog or /var/log/messages" : undefined,
  );

  // Top consumers (always reported, for context).
  const top: Finding[] = [];
  if (topCpu.length > 0 || topMemory.length > 0) {
    top.push({
      severity: "info",
      check: "top",
      title: "Top CPU and memory consumers",
      evidence: [...topCpu.slice(0, 3), ...topMemory],
    });
  }
  check(
    "top",
    top,
    "/proc/<pid>/stat sampled twice",
    stats2.length ? undefined : "/proc/<pid>/stat unreadable",
  );

  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  findings.sort((a, b) => rank(a.severity) - rank(b.severity));
  return { findings, checks };
}

// Jiffies per CPU between the two /proc/stat samples: the sample interval in clock ticks.
function cpuInterval(sections: ReadonlyMap<string, string>): number {
  const total = (text: string) =>
    (text.split("\n").find((l) => /^cpu\s/.test(l)) ?? "").trim().split(/\s+/).slice(1, 9).map(Number)
      .reduce((a, b) => a + b, 0);
  const stat1 = sections.get("stat1") ?? "";
  const cpus = stat1.split("\n").filter((l) => /^cpu\d+\s/.test(l)).length || 1;
  return (total(sections.get("stat2") ?? "") - total(stat1)) / cpus;
}

function topCpuConsumers(before: readonly ProcStat[], after: readonly ProcStat[], ticks: number): string[] {
  if (!(ticks > 0)) return [];
  const earlier = new Map(before.map((p) => [p.pid, p]));
  return after.map((p) => {
    const prior = earlier.get(p.pid);
    return { p, delta: prior && prior.start_ticks === p.start_ticks ? p.cpu_ticks - prior.cpu_ticks : 0 };
  }).filter((x) => x.delta > 0).sort((a, b) => b.delta - a.delta).slice(0, 3).map((x) =>
    `pid ${x.p.pid} ${x.p.comm}: ${round1((x.delta / ticks) * 100)}% of one CPU now`
  );
}

const findingSchema = z.object({
  severity: z.enum(SEVERITIES).describe("critical, warning or info"),
  check: z.string().describe("Check that found it"),
  title: z.string().describe("What is wrong"),
  evidence: z.array(z.string()).describe("Data that shows it"),
});

/** The `diagnose_system` tool. */
export const DIAGNOSE_SYSTEM = defineTool({
  name: "diagnose_system",
  title: "Diagnose system health",
  description:
    "One call that checks a host and returns findings ranked by severity with evidence: full disks and " +
    "inodes (≥ 90%), memory pressure and swapping, OOM kills, failed services, load above CPU count, " +
    "CPU/iowait/steal, zombie processes, clock sync, recent log errors, top consumers. `checks` lists " +
    "each check and which could not run (and why).",
  input: z.object({ target }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    findings: z.array(findingSchema).describe("Findings, most severe first"),
    checks: z.array(z.object({
      check: z.string().describe("Check name"),
      status: z.enum(["ok", "problem", "unavailable"]).describe("Outcome"),
      detail: z.string().describe("Source used, or why it could not run"),
    })).describe("Every check made and its outcome"),
    summary: z.object({
      critical: z.number().describe("Critical findings"),
      warning: z.number().describe("Warnings"),
      info: z.number().describe("Informational findings"),
    }).describe("Counts by severity"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`V='^(pswpin|pswpout|oom_kill) '
s stat1; grep '^cpu' /proc/stat
s vm1; grep -E "$V" /proc/vmstat 2>/dev/null
s procs1; cat /proc/[0-9]*/stat 2>/dev/null
sleep 0.5 2>/dev/null || sleep 1
s stat2; grep '^cpu' /proc/stat
s vm2; grep -E "$V" /proc/vmstat 2>/dev/null
s procs2; cat /proc/[0-9]*/stat 2>/dev/null
s loadavg; cat /proc/loadavg
s meminfo; cat /proc/meminfo
s psi_memory; cat /proc/pressure/memory 2>/dev/null
s psi_io; cat /proc/pressure/io 2>/dev/null
s df; df -P -k 2>&1
s dfi; df -P -i 2>&1
s page; getconf PAGESIZE 2>/dev/null || echo 4096
s clock; date +%s; cut -d' ' -f1 /proc/uptime
s pid1; cat /proc/1/comm 2>/dev/null
s tools; for c in systemctl timedatectl journalctl chronyc ntpq rc-status; do command -v "$c" >/dev/null 2>&1 && echo "$c"; done
SD=0; [ -d /run/systemd/system ] && SD=1
O='out of memory|oom-kill|killed process'
if E=$(dmesg 2>&1 >/dev/null); then s oom_dmesg; dmesg 2>/dev/null | grep -i -E "$O" | tail -n 10
else
  s oom_unavailable; printf '%s\n' "$E" | head -n 1
  if command -v journalctl >/dev/null 2>&1 && [ -n "$(journalctl -k --no-pager -q -n 1 2>/dev/null)" ]; then
    s oom_journal; journalctl -k --no-pager -q -o short-monotonic 2>/dev/null | grep -i -E "$O" | tail -n 10
  elif [ -r /var/log/kern.log ]; then s oom_file; grep -i -E "$O" /var/log/kern.log | tail -n 10
  fi
fi
if [ $SD = 1 ] && command -v systemctl >/dev/null 2>&1; then
  s failed_systemd; systemctl list-units --failed --no-pager --plain --no-legend 2>&1
elif command -v rc-status >/dev/null 2>&1; then s failed_openrc; rc-status -a 2>&1
fi
if [ $SD = 1 ] && command -v timedatectl >/dev/null 2>&1; then s time_timedatectl; timedatectl status 2>&1
elif command -v chronyc >/dev/null 2>&1; then s time_chronyc; chronyc -n tracking 2>&1
elif command -v ntpq >/dev/null 2>&1; then s time_ntpq; ntpq -pn 2>&1
fi
R='error|fail|crit|panic|segfault'
if command -v journalctl >/dev/null 2>&1 && [ -n "$(journalctl --no-pager -q -n 1 2>/dev/null)" ]; then
  s errors_journal; journalctl --no-pager -q -p err --since '1 hour ago' -n 20 -o short 2>/dev/null | cut -c 1-400
else
  for f in /var/log/syslog /var/log/messages; do
    if [ -r "$f" ]; then s "errors_file:$f"; tail -n 5000 "$f" | grep -i -E "$R" | tail -n 20 | cut -c 1-400; break; fi
  done
fi
s end`,
      { action: "diagnose the system" },
    );
    const { findings, checks } = diagnose(sections);
    const summary = { critical: 0, warning: 0, info: 0 };
    for (const f of findings) summary[f.severity]++;
    const data = { alias: result.alias, findings, checks, summary };
    return { data, text: diagnosisText(result.alias, data) };
  },
});

function diagnosisText(
  alias: string,
  d: { findings: Finding[]; checks: CheckStatus[]; summary: Record<Severity, number> },
): string {
  const lines = [
    `Diagnosis of ${alias}: ${d.summary.critical} critical, ${d.summary.warning} warning, ${d.summary.info} info`,
  ];
  for (const f of d.findings) {
    lines.push(`[${f.severity.toUpperCase()}] ${f.title}`);
    for (const e of f.evidence) lines.push(`    ${e}`);
  }
  const ok = d.checks.filter((c) => c.status === "ok").map((c) => c.check);
  if (ok.length) lines.push(`OK: ${ok.join(", ")}`);
  for (const c of d.checks.filter((c) => c.status === "unavailable")) {
    lines.push(`Not checked: ${c.check} — ${c.detail}`);
  }
  return lines.join("\n");
}
