import assert from "node:assert/strict";
import { diagnose } from "../../../src/tools/monitoring/diagnose.ts";

const STAT_1 =
  "cpu  1000 0 500 8000 100 0 0 0 0 0\ncpu0 500 0 250 4000 50 0 0 0 0 0\ncpu1 500 0 250 4000 50 0 0 0 0 0";
const STAT_2 =
  "cpu  1010 0 505 8085 100 0 0 0 0 0\ncpu0 505 0 252 4043 50 0 0 0 0 0\ncpu1 505 0 253 4042 50 0 0 0 0 0";
const MEMINFO =
  "MemTotal: 1000000 kB\nMemFree: 500000 kB\nMemAvailable: 800000 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB";
const DF = `Filesystem 1024-blocks Used Available Capacity Mounted on
/dev/vda 1000000 300000 700000 30% /`;
const DFI = `Filesystem Inodes IUsed IFree IUse% Mounted on
/dev/vda 1000 10 990 1% /`;
const proc = (pid: number, comm: string, state: string, ppid: number, ticks: number, rss: number) =>
  `${pid} (${comm}) ${state} ${ppid} 0 0 0 -1 0 0 0 0 0 ${ticks} 0 0 0 20 0 1 0 100 0 ${rss} 0`;

function healthy(): Map<string, string> {
  return new Map([
    ["stat1", STAT_1],
    ["stat2", STAT_2],
    ["vm1", "pswpin 0\npswpout 0\noom_kill 0"],
    ["vm2", "pswpin 0\npswpout 0\noom_kill 0"],
    ["procs1", [proc(1, "init", "S", 0, 100, 1000), proc(50, "busy worker", "R", 1, 1000, 50000)].join("\n")],
    ["procs2", [proc(1, "init", "S", 0, 100, 1000), proc(50, "busy worker", "R", 1, 1040, 50000)].join("\n")],
    ["loadavg", "0.50 0.40 0.30 1/100 999"],
    ["meminfo", MEMINFO],
    ["psi_memory", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0"],
    ["df", DF],
    ["dfi", DFI],
    ["page", "4096"],
    ["clock", "1700000000\n5000.00"],
    ["pid1", "systemd"],
    ["tools", "systemctl\ntimedatectl\njournalctl"],
    ["oom_dmesg", ""],
    ["failed_systemd", ""],
    ["time_timedatectl", "System clock synchronized: yes\nNTP service: active"],
    ["errors_journal", ""],
  ]);
}

Deno.test("diagnose() reports a healthy host as checks that passed, with top consumers as info", () => {
  const { findings, checks } = diagnose(healthy());
  assert.deepEqual(findings.map((f) => [f.severity, f.check]), [["info", "top"]]);
  // 40 ticks of the worker over (100 jiffies / 2 CPUs) = 80% of one CPU.
  assert.match(findings[0]!.evidence[0]!, /^pid 50 busy worker: 80% of one CPU now$/);
  assert.ok(checks.every((c) => c.status === "ok"), JSON.stringify(checks));
  assert.deepEqual(checks.map((c) => c.check), [
    "disk",
    "inodes",
    "memory",
    "oom",
    "services",
    "load",
    "cpu",
    "zombies",
    "time",
    "logs",
    "top",
  ]);
});

Deno.test("diagnose() ranks full disks, recent OOM kills and failed units above warnings and info", () => {
  const s = healthy();
  s.set("df", `${DF}\ntmpfs 1024 1024 0 100% /tmp/full dir\n/dev/vdb 1000 910 90 91% /data`);
  s.set("dfi", `${DFI}\n/dev/vdc 1000 960 40 96% /var/spool`);
  s.set("oom_dmesg", "[ 4900.100000] Out of memory: Killed process 4242 (java) total-vm:100kB");
  s.set("failed_systemd", "● nginx.service loaded failed failed A high performance web server");
  s.set("time_timedatectl", "System clock synchronized: no");
  s.set("loadavg", "5.00 4.50 3.00 9/100 999");
  s.set("vm2", "pswpin 10\npswpout 5\noom_kill 1");
  s.set("procs2", `${s.get("procs2")}\n${proc(77, "sleep", "Z", 50, 0, 0)}`);
  const { findings, checks } = diagnose(s);
  const order = findings.map((f) => `${f.severity}:${f.check}`);
  assert.deepEqual(
    order,
    [
      "critical:disk",
      "critical:inodes",
      "critical:oom",
      "critical:load",
      "warning:disk",
      "warning:swap",
      "warning:services",
      "warning:time",
      "info:zombies",
      "info:top",
    ].map((x) => x.replace("warning:memory", "warning:swap")),
  );
  assert.equal(findings[0]!.title, "Filesystem /tmp/full dir is 100% full");
  assert.match(findings[2]!.title, /within the last hour/);
  assert.match(
    findings.find((f) => f.check === "services")!.evidence[0]!,
    /^nginx\.service: loaded failed failed/,
  );
  assert.deepEqual(findings.find((f) => f.check === "zombies")!.evidence, [
    "pid 77 (sleep) zombie, parent pid 50 (busy worker)",
  ]);
  assert.equal(checks.find((c) => c.check === "disk")!.status, "problem");
});

Deno.test("diagnose() says which checks could not run on a host without systemd and with dmesg restricted", () => {
  const s = healthy();
  for (const key of ["oom_dmesg", "failed_systemd", "time_timedatectl", "errors_journal"]) s.delete(key);
  s.set("pid1", "process_api");
  s.set("tools", "systemctl\ntimedatectl\njournalctl");
  s.set("oom_unavailable", "dmesg: read kernel buffer failed: Operation not permitted");
  s.set("vm2", "pswpin 0\npswpout 0\noom_kill 2");
  const { findings, checks } = diagnose(s);
  const byName = new Map(checks.map((c) => [c.check, c]));
  assert.equal(byName.get("services")!.status, "unavailable");
  assert.match(
    byName.get("services")!.detail,
    /no systemd running \(PID 1 is process_api, systemctl installed/,
  );
  assert.equal(byName.get("time")!.status, "unavailable");
  assert.match(byName.get("time")!.detail, /timedatectl needs systemd/);
  assert.equal(byName.get("logs")!.status, "unavailable");
  // The oom_kill counter stands in for the restricted kernel log.
  assert.equal(byName.get("oom")!.status, "problem");
  assert.match(byName.get("oom")!.detail, /oom_kill counter \(dmesg: .*Operation not permitted\)/);
  assert.equal(findings.find((f) => f.check === "oom")!.title, "2 out-of-memory kill(s) since boot");
});

Deno.test("diagnose() flags low available memory with the largest processes as evidence", () => {
  const s = healthy();
  s.set(
    "meminfo",
    "MemTotal: 1000000 kB\nMemFree: 10000 kB\nMemAvailable: 40000 kB\nSwapTotal: 100 kB\nSwapFree: 0 kB",
  );
  s.set(
    "psi_memory",
    "some avg10=55.00 avg60=20.00 avg300=5.00 total=1\nfull avg10=10.00 avg60=1 avg300=0 total=1",
  );
  const { findings } = diagnose(s);
  const memory = findings.filter((f) => f.check === "memory");
  assert.deepEqual(memory.map((f) => [f.severity, f.title]), [
    ["critical", "Only 4% of memory is available"],
    ["critical", "Tasks stalled on memory 55.00% of the last 10 s"],
  ]);
  assert.match(memory[0]!.evidence[1]!, /^pid 50 busy worker: 195\.3 MiB resident$/);
  assert.ok(findings.some((f) => f.check === "swap" && f.title === "Swap is 100% used"));
});
