import assert from "node:assert/strict";
import { parseDmesg, parseJournalJson } from "../../../src/tools/monitoring/logs_parse.ts";
import {
  countCpus,
  cpuUsage,
  parseCpuTimes,
  parseDf,
  parseLoadavg,
  parseMeminfo,
  summarizeMemory,
  usageFromSections,
} from "../../../src/tools/monitoring/parse.ts";
import {
  countStates,
  parseCommNames,
  parsePasswd,
  parseProcOwners,
  parseProcpsRows,
  parseProcStats,
  procFallbackRows,
} from "../../../src/tools/monitoring/ps_parse.ts";
import {
  parseRcStatus,
  parseServiceStatusAll,
  parseSystemctlJson,
  parseSystemctlPlain,
  parseTimeSync,
} from "../../../src/tools/monitoring/services_parse.ts";
import { parseSvStatus } from "../../../src/tools/monitoring/toolset.ts";

// Captured on the Debian 12 test VM (kernel 6.18, procps-ng 4.0.2) unless a comment says otherwise.
const STAT_1 = `cpu  21246 0 8322 180280 356 0 362 14 0 0
cpu0 9764 0 3970 91355 36 0 145 5 0 0
cpu1 11481 0 4351 88925 319 0 217 9 0 0`;
const STAT_2 = `cpu  21346 0 8372 180330 376 0 372 14 0 0
cpu0 9814 0 3995 91380 46 0 150 5 0 0
cpu1 11531 0 4376 88950 329 0 222 9 0 0`;
const MEMINFO = `MemTotal:       24684092 kB
MemFree:        23861292 kB
MemAvailable:   24103516 kB
Buffers:            2412 kB
Cached:           429296 kB
SwapCached:            0 kB
SwapTotal:             0 kB
SwapFree:              0 kB
SReclaimable:      40000 kB
HugePages_Total:       0
Hugepagesize:       2048 kB`;
const DF_K = `Filesystem              1024-blocks     Used Available Capacity Mounted on
devtmpfs                   12334492        0  12334492       0% /dev
tmpfs                      24684092        0  24684092       0% /dev/shm
/dev/vda                  264212084 23099352  83291560      22% /
model_tools_unavailable           4        0         4       0% /mnt/sandboxing/model_tools_env/v1/python
tmpfs                          1024     1024         0     100% /tmp/mcp full dir
proc                              0        0         0       -  /proc`;
const DF_I = `Filesystem                Inodes  IUsed    IFree IUse% Mounted on
devtmpfs                 3083623    114  3083509    1% /dev
/dev/vda                16777216 412346 16364870    3% /
vfat                           0      0        0     - /boot/efi`;
const PS_ROWS =
  ` 3584  3581 root                             Sl   93.0  1.4 364492      3 deno test -A --trace-leaks tests/sip/
 3666  3647 root                             Ss   40.0  0.0 10852       0 sshd: mcptest [priv]
    2     0 root                             S     0.0  0.0     0  88000 [kthreadd]
 4242     1 mcptest                          Z     0.0  0.0     0     12 [sleep] <defunct>`;
const PROC_STATS =
  `1 (process_api) S 0 0 0 0 -1 4194560 84544 6592567 0 725 110 437 8425 2413 20 0 13 0 24 45305856 3647 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0
3689 (cat) R 3679 3679 20979 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 149835 3133440 382 18446744073709551615 94251339476992 94251339496873 140721758762704 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94251339512880 94251339514496 94251865821184 140721758763549 140721758763569 140721758763569 140721758765035 0
77 (Web Content) (x)) Z 1 77 77 0 -1 4194304 97 0 0 0 50 50 0 0 20 0 1 0 1000 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0`;

Deno.test("cpuUsage() computes busy, iowait and steal shares between two /proc/stat samples", () => {
  const before = parseCpuTimes(STAT_1)!;
  const after = parseCpuTimes(STAT_2)!;
  // Δ: user 100, system 50, idle 50, iowait 20, softirq 10 → total 230, idle 70.
  assert.equal(after.total - before.total, 230);
  assert.deepEqual(cpuUsage(before, after), {
    used_percent: 69.6,
    user_percent: 43.5,
    system_percent: 26.1,
    iowait_percent: 8.7,
    steal_percent: 0,
  });
  assert.equal(countCpus(STAT_1), 2);
  assert.equal(cpuUsage(before, before), undefined);
  assert.equal(parseCpuTimes("no cpu here"), undefined);
});

Deno.test("parseLoadavg() reads the three averages and the runnable/threads pair", () => {
  assert.deepEqual(parseLoadavg("0.70 0.69 0.36 1/104 24613\n"), {
    one: 0.7,
    five: 0.69,
    fifteen: 0.36,
    runnable: 1,
    threads: 104,
  });
  assert.equal(parseLoadavg(""), undefined);
});

Deno.test("summarizeMemory() reports bytes from /proc/meminfo and estimates MemAvailable on old kernels", () => {
  const summary = summarizeMemory(parseMeminfo(MEMINFO))!;
  assert.equal(summary.memory.total_bytes, 24684092 * 1024);
  assert.equal(summary.memory.available_bytes, 24103516 * 1024);
  assert.equal(summary.memory.used_bytes, (24684092 - 24103516) * 1024);
  assert.equal(summary.memory.available_estimated, false);
  assert.deepEqual(summary.swap, { total_bytes: 0, free_bytes: 0, used_bytes: 0, used_percent: 0 });
  const old = summarizeMemory(parseMeminfo(MEMINFO.replace(/^MemAvailable:.*\n/m, "")))!;
  assert.equal(old.memory.available_estimated, true);
  assert.equal(old.memory.available_bytes, (23861292 + 2412 + 429296 + 40000) * 1024);
  assert.equal(summarizeMemory(new Map()), undefined);
});

Deno.test("parseDf() keeps mount points with spaces, drops zero-size filesystems and uses df's percent", () => {
  const rows = parseDf(DF_K, 1024);
  assert.deepEqual(rows.map((r) => r.mount), [
    "/dev",
    "/dev/shm",
    "/",
    "/mnt/sandboxing/model_tools_env/v1/python",
    "/tmp/mcp full dir",
  ]);
  assert.deepEqual(rows[2], {
    filesystem: "/dev/vda",
    mount: "/",
    total: 264212084 * 1024,
    used: 23099352 * 1024,
    available: 83291560 * 1024,
    used_percent: 22,
  });
  assert.equal(rows[4]!.used_percent, 100);
  const inodes = parseDf(DF_I, 1);
  assert.deepEqual(inodes.map((r) => [r.mount, r.used_percent]), [["/dev", 1], ["/", 3]]);
});

Deno.test("parseProcpsRows() reads procps columns, names from comm and kernel threads in brackets", () => {
  const rows = parseProcpsRows(PS_ROWS, parseCommNames("3584 deno\n 3666 sshd\n"));
  assert.equal(rows.length, 4);
  assert.deepEqual(rows[0], {
    pid: 3584,
    ppid: 3581,
    user: "root",
    state: "Sl",
    cpu_percent: 93,
    mem_percent: 1.4,
    rss_bytes: 364492 * 1024,
    elapsed_seconds: 3,
    command: "deno",
    args: "deno test -A --trace-leaks tests/sip/",
  });
  assert.equal(rows[2]!.command, "kthreadd");
  assert.equal(rows[3]!.state, "Z");
  assert.deepEqual(countStates(rows.map((r) => r.state)), { S: 3, Z: 1 });
});

Deno.test("parseProcStats() handles command names with spaces and parentheses", () => {
  const stats = parseProcStats(PROC_STATS);
  assert.deepEqual(stats.map((s) => [s.pid, s.comm, s.state, s.ppid]), [
    [1, "process_api", "S", 0],
    [3689, "cat", "R", 3679],
    [77, "Web Content) (x)", "Z", 1],
  ]);
  assert.equal(stats[0]!.cpu_ticks, 110 + 437);
  assert.equal(stats[0]!.start_ticks, 24);
  assert.equal(stats[0]!.rss_pages, 3647);
});

Deno.test("procFallbackRows() derives lifetime %CPU, memory and user names from /proc alone", () => {
  const rows = procFallbackRows(
    new Map([
      ["stat", PROC_STATS],
      ["owners", "dr-xr-xr-x 9 0 0 0 Nov 24 23:56 /proc/1\ndr-xr-xr-x 9 1001 1001 0 Nov 24 23:56 /proc/3689"],
      ["passwd", "root:0\nmcptest:1001"],
      ["uptime", "1500.00 2900.00"],
      ["tck", "100"],
      ["page", "4096"],
      ["meminfo", "MemTotal:       24684092 kB"],
    ]),
  );
  const init = rows.find((r) => r.pid === 1)!;
  assert.equal(init.user, "root");
  // (110 + 437) ticks / 100 Hz over 1500 − 0.24 s.
  assert.equal(init.cpu_percent, 0.4);
  assert.equal(init.rss_bytes, 3647 * 4096);
  assert.equal(rows.find((r) => r.pid === 3689)!.user, "mcptest");
  assert.equal(rows.find((r) => r.pid === 77)!.user, "?");
  assert.deepEqual(parseProcOwners("garbage\n"), new Map());
  assert.deepEqual(parsePasswd("root:x:0:0:root:/root:/bin/bash\n"), new Map([[0, "root"]]));
});

Deno.test("parseDmesg() turns uptime stamps into wall-clock times and keeps unstamped lines", () => {
  const text = `[    0.000000] Linux version 6.18.44-fc-v657 (builder@sandboxing)
[ 1234.500000] Out of memory: Killed process 4242 (java) total-vm:100kB
continuation without stamp`;
  const lines = parseDmesg(text, 1_700_000_000);
  assert.equal(lines.length, 3);
  assert.equal(lines[1]!.uptime_seconds, 1234.5);
  assert.equal(lines[1]!.time, new Date((1_700_000_000 + 1234.5) * 1000).toISOString());
  assert.equal(lines[1]!.message, "Out of memory: Killed process 4242 (java) total-vm:100kB");
  assert.deepEqual(lines[2], { uptime_seconds: null, time: null, message: "continuation without stamp" });
});

Deno.test("parseJournalJson() reads journald JSON including byte-array messages and skips other lines", () => {
  // Shape of `journalctl -o json` (systemd 252); MESSAGE as a byte array when it is not valid UTF-8.
  const text = [
    `{"__REALTIME_TIMESTAMP":"1714557600123456","PRIORITY":"3","_SYSTEMD_UNIT":"nginx.service","SYSLOG_IDENTIFIER":"nginx","_PID":"812","MESSAGE":"bind() to 0.0.0.0:80 failed"}`,
    `{"__REALTIME_TIMESTAMP":"1714557601000000","PRIORITY":"6","SYSLOG_IDENTIFIER":"kernel","MESSAGE":[104,105]}`,
    "Hint: You are currently not seeing messages from other users and the system.",
  ].join("\n");
  const entries = parseJournalJson(text);
  assert.deepEqual(entries[0], {
    time: "2024-05-01T10:00:00.123Z",
    priority: 3,
    unit: "nginx.service",
    identifier: "nginx",
    pid: 812,
    message: "bind() to 0.0.0.0:80 failed",
  });
  assert.equal(entries[1]!.message, "hi");
  assert.equal(entries[1]!.pid, null);
  assert.equal(entries.length, 2);
});

Deno.test("service parsers normalize systemd, OpenRC, runit and sysvinit states", () => {
  const json = parseSystemctlJson(
    `[{"unit":"nginx.service","load":"loaded","active":"failed","sub":"failed","description":"A high performance web server"},{"unit":"ssh.service","load":"loaded","active":"active","sub":"running","description":"OpenBSD Secure Shell server"}]`,
  )!;
  assert.deepEqual(json.map((s) => [s.name, s.state]), [["nginx.service", "failed"], [
    "ssh.service",
    "running",
  ]]);
  assert.equal(parseSystemctlJson("not json"), undefined);
  const plain = parseSystemctlPlain(`● nginx.service loaded failed failed A high performance web server
  cron.service  loaded active running Regular background program processing daemon
  apt-daily.service loaded inactive dead Daily apt download activities`);
  assert.deepEqual(plain.map((s) => [s.name, s.state, s.description]), [
    ["nginx.service", "failed", "A high performance web server"],
    ["cron.service", "running", "Regular background program processing daemon"],
    ["apt-daily.service", "stopped", "Daily apt download activities"],
  ]);
  // Alpine 3.19 rc-status -a.
  const openrc = parseRcStatus(`Runlevel: default
 sshd                                                              [  started  ]
 crond                                                             [  crashed  ]
Dynamic Runlevel: hotplugged
Runlevel: sysinit
 devfs                                                             [  stopped  ]`);
  assert.deepEqual(openrc.map((s) => [s.name, s.state]), [["sshd", "running"], ["crond", "failed"], [
    "devfs",
    "stopped",
  ]]);
  const sysv = parseServiceStatusAll(` [ - ]  dbus
 [ ? ]  hwclock.sh
 [ + ]  ssh`);
  assert.deepEqual(sysv.map((s) => [s.name, s.state]), [["dbus", "stopped"], ["hwclock.sh", "unknown"], [
    "ssh",
    "running",
  ]]);
  const runit = parseSvStatus(`run: /etc/service/sshd: (pid 123) 4567s; run: log: (pid 120) 4567s
down: /etc/service/cron: 10s, normally up`);
  assert.deepEqual(runit.map((s) => [s.name, s.state]), [["sshd", "running"], ["cron", "stopped"]]);
});

Deno.test("parseTimeSync() reads timedatectl, chronyc and ntpq verdicts", () => {
  assert.equal(
    parseTimeSync("timedatectl", "               Local time: Mon\nSystem clock synchronized: no\n")
      .synchronized,
    false,
  );
  assert.equal(parseTimeSync("timedatectl", "NTP synchronized: yes").synchronized, true);
  assert.equal(
    parseTimeSync("chronyc", "Reference ID    : 00000000 ()\nLeap status     : Not synchronised")
      .synchronized,
    false,
  );
  assert.equal(parseTimeSync("chronyc", "Leap status     : Normal").synchronized, true);
  assert.equal(
    parseTimeSync("ntpq", "     remote           refid\n==========\n*10.0.0.1 .GPS. 1 u").synchronized,
    true,
  );
  assert.equal(
    parseTimeSync("ntpq", "     remote           refid\n==========\n 10.0.0.1 .INIT. 16 u").synchronized,
    false,
  );
});

Deno.test("usageFromSections() names every missing source instead of returning empty success", () => {
  const empty = usageFromSections(new Map([["df", "df: unrecognized option: P"], ["dfi", ""]]));
  assert.equal(empty.cpu, null);
  assert.equal(empty.memory, null);
  assert.equal(empty.notes.length, 5);
  assert.match(empty.notes.join("\n"), /\/proc\/stat.*\n.*loadavg.*\n.*meminfo.*\n.*unrecognized option/s);
  const full = usageFromSections(
    new Map([["stat1", STAT_1], ["stat2", STAT_2], ["loadavg", "1.00 0.50 0.25 2/100 1"], [
      "meminfo",
      MEMINFO,
    ], [
      "df",
      DF_K,
    ], ["dfi", DF_I]]),
  );
  assert.deepEqual(full.notes, []);
  assert.equal(full.cpu?.count, 2);
  assert.equal(full.disks.length, 5);
});
