import assert from "node:assert/strict";
import {
  normalizeState,
  parseFindOutput,
  parseGrepOutput,
  parseInstalled,
  parseNetstat,
  parsePackageList,
  parsePackageSearch,
  parseProcNet,
  parseSs,
  splitHostPort,
} from "../../../src/tools/network/parse.ts";

// Captured on the Debian 12 test VM (iproute2 6.1, net-tools 2.10) unless a comment says otherwise.
const SS = `Netid State     Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
tcp   LISTEN    0      128        127.0.0.1:45565      0.0.0.0:*     users:(("sshd",pid=3647,fd=4))
tcp   LISTEN    0      511        127.0.0.1:46403      0.0.0.0:*     users:(("deno",pid=3648,fd=23),("deno",pid=3649,fd=23))
tcp   LISTEN    0      128          0.0.0.0:2024       0.0.0.0:*
tcp   TIME-WAIT 0      0          127.0.0.1:36359    127.0.0.1:38992
tcp   LISTEN    0      128             [::]:22            [::]:*     users:(("sshd",pid=1,fd=4))
udp   UNCONN    0      0      127.0.0.53%lo:53         0.0.0.0:*
tcp   ESTAB     0      36   [::ffff:10.0.0.5]:22 [::ffff:10.0.0.9]:51234`;
const NETSTAT = `Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
tcp        0      0 127.0.0.1:45565         0.0.0.0:*               LISTEN      3647/sshd: /usr/sbi
tcp        0      0 0.0.0.0:2024            0.0.0.0:*               LISTEN      -
tcp        0      0 127.0.0.1:36359         127.0.0.1:38992         TIME_WAIT   -
tcp6       0      0 :::22                   :::*                    LISTEN      1/sshd
udp        0      0 0.0.0.0:68              0.0.0.0:*                           345/dhclient`;
const PROC_TCP =
  `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:B1FD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 106592 1 00000000b72cbd8f 100 0 0 10 0
   1: 0100007F:8C47 0100007F:97F0 01 00000000:00000002 00:00000000 00000000  1001        0 107770 1 0000000055fd8ce9 100 0 0 10 0`;
const PROC_TCP6 =
  `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000500000A:0016 0000000000000000FFFF00000900000A:C800 01 00000000:00000000 00:00000000 00000000     0        0 1235 1 0000000000000000 100 0 0 10 0
   2: 000080FE00000000FF0AD2A8FEB98E5A:0222 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1236 2 0000000000000000 0 0 0 10 0`;

Deno.test("parseSs() reads addresses, canonical states and every owning process", () => {
  const rows = parseSs(SS);
  assert.equal(rows.length, 7);
  assert.deepEqual(rows[1], {
    protocol: "tcp",
    state: "listen",
    local_address: "127.0.0.1",
    local_port: 46403,
    peer_address: "0.0.0.0",
    peer_port: null,
    recv_q: 0,
    send_q: 511,
    processes: [{ pid: 3648, name: "deno" }, { pid: 3649, name: "deno" }],
    uid: null,
  });
  assert.deepEqual(rows.map((r) => r.state), [
    "listen",
    "listen",
    "listen",
    "time_wait",
    "listen",
    "unconn",
    "established",
  ]);
  assert.deepEqual([rows[4]!.local_address, rows[4]!.local_port], ["::", 22]);
  assert.deepEqual([rows[5]!.local_address, rows[5]!.local_port], ["127.0.0.53", 53]);
  assert.deepEqual([rows[6]!.peer_address, rows[6]!.peer_port], ["::ffff:10.0.0.9", 51234]);
});

Deno.test("parseNetstat() reads net-tools rows, UDP without a state and PID/program", () => {
  const rows = parseNetstat(NETSTAT);
  assert.deepEqual(rows.map((r) => [r.protocol, r.state, r.local_address, r.local_port]), [
    ["tcp", "listen", "127.0.0.1", 45565],
    ["tcp", "listen", "0.0.0.0", 2024],
    ["tcp", "time_wait", "127.0.0.1", 36359],
    ["tcp", "listen", "::", 22],
    ["udp", "unconn", "0.0.0.0", 68],
  ]);
  assert.deepEqual(rows[0]!.processes, [{ pid: 3647, name: "sshd: /usr/sbi" }]);
  assert.deepEqual(rows[1]!.processes, []);
  assert.deepEqual(rows[4]!.processes, [{ pid: 345, name: "dhclient" }]);
});

Deno.test("parseProcNet() decodes little-endian IPv4 and IPv6 addresses, ports, states and uid", () => {
  const v4 = parseProcNet(PROC_TCP, "tcp");
  assert.deepEqual(
    v4.map((r) => [r.state, r.local_address, r.local_port, r.peer_address, r.peer_port, r.uid]),
    [
      ["listen", "127.0.0.1", 45565, "0.0.0.0", null, 0],
      ["established", "127.0.0.1", 35911, "127.0.0.1", 38896, 1001],
    ],
  );
  assert.equal(v4[1]!.recv_q, 2);
  const v6 = parseProcNet(PROC_TCP6, "tcp");
  assert.deepEqual(v6.map((r) => [r.state, r.local_address, r.local_port]), [
    ["listen", "::", 22],
    ["established", "::ffff:10.0.0.5", 22],
    ["close", "fe80::a8d2:aff:5a8e:b9fe", 546],
  ]);
  assert.equal(v6[1]!.peer_address, "::ffff:10.0.0.9");
  assert.deepEqual(parseProcNet(PROC_TCP, "udp").map((r) => r.state), ["unconn", "established"]);
});

Deno.test("splitHostPort() and normalizeState() cover the spellings of ss, netstat and /proc", () => {
  assert.deepEqual(splitHostPort("*:68"), { address: "*", port: 68 });
  assert.deepEqual(splitHostPort("[fe80::1]%eth0:546"), { address: "fe80::1", port: 546 });
  assert.deepEqual(splitHostPort("0.0.0.0:*"), { address: "0.0.0.0", port: null });
  assert.equal(normalizeState("FIN-WAIT-1", "tcp"), "fin_wait1");
  assert.equal(normalizeState("ESTAB", "tcp"), "established");
  assert.equal(normalizeState("CLOSE", "udp"), "unconn");
  assert.equal(normalizeState("SYN_RECV", "tcp"), "syn_recv");
});

Deno.test("parseFindOutput() reads GNU -printf rows and plain paths", () => {
  const gnu = parseFindOutput(
    "f\t13\t1714557600.5\t/tmp/a b.txt\nd\t4096\t1714557600.0000000000\t/tmp\n",
    true,
  );
  assert.deepEqual(gnu[0], {
    path: "/tmp/a b.txt",
    type: "file",
    size_bytes: 13,
    modified: "2024-05-01T10:00:00.500Z",
  });
  assert.equal(gnu[1]!.type, "directory");
  assert.deepEqual(parseFindOutput("/x\n/y z\n", false).map((f) => [f.path, f.type]), [["/x", null], [
    "/y z",
    null,
  ]]);
});

Deno.test("parseGrepOutput() splits at NUL with -Z, else at the first :line:, and skips binary notices", () => {
  const text = [
    "/tmp/weird:12:name.txt\u00003:NEEDLE:6:colons",
    "/tmp/plain.log:10:a: b",
    "Binary file /tmp/blob.bin matches",
  ].join("\n");
  assert.deepEqual(parseGrepOutput(text), [
    { file: "/tmp/weird:12:name.txt", line: 3, text: "NEEDLE:6:colons" },
    { file: "/tmp/plain.log", line: 10, text: "a: b" },
  ]);
});

Deno.test("package listings and searches parse for apt, dnf, apk, zypper and pacman", () => {
  assert.deepEqual(parsePackageList("apt", "coreutils\t9.1-1\tii \nsl\t5.02-1+b1\trc \n"), [
    { name: "coreutils", version: "9.1-1", description: null },
  ]);
  assert.deepEqual(parsePackageList("dnf", "bash\t5.2.15-3.fc38\n"), [
    { name: "bash", version: "5.2.15-3.fc38", description: null },
  ]);
  // Alpine 3.19 `apk info -v` and Arch `pacman -Q`.
  assert.deepEqual(parsePackageList("apk", "musl-1.2.4_git20230717-r4\nbusybox-binsh-1.36.1-r15\n"), [
    { name: "musl", version: "1.2.4_git20230717-r4", description: null },
    { name: "busybox-binsh", version: "1.36.1-r15", description: null },
  ]);
  assert.deepEqual(parsePackageList("pacman", "bash 5.2.026-2\n"), [
    { name: "bash", version: "5.2.026-2", description: null },
  ]);
  assert.deepEqual(parsePackageSearch("apt", "cowsay - configurable talking cow\n"), [
    { name: "cowsay", version: null, description: "configurable talking cow" },
  ]);
  assert.deepEqual(
    parsePackageSearch(
      "dnf",
      "======= Name Exactly Matched: cowsay =======\ncowsay.noarch : Configurable speaking/thinking cow\n",
    ),
    [{ name: "cowsay", version: null, description: "Configurable speaking/thinking cow" }],
  );
  assert.deepEqual(parsePackageSearch("apk", "sl-5.05-r0 - Steam Locomotive runs across your terminal\n"), [
    { name: "sl", version: "5.05-r0", description: "Steam Locomotive runs across your terminal" },
  ]);
  assert.deepEqual(
    parsePackageSearch(
      "zypper",
      "S | Name   | Summary                  | Type\n--+--------+--------------------------+--------\n  | cowsay | Configurable Talking Cow | package\n",
    ),
    [{ name: "cowsay", version: null, description: "Configurable Talking Cow" }],
  );
  assert.deepEqual(
    parsePackageSearch(
      "pacman",
      "extra/cowsay 3.04-4\n    Configurable talking cow\ncore/sl 5.05-1 [installed]\n",
    ),
    [
      { name: "cowsay", version: "3.04-4", description: "Configurable talking cow" },
      { name: "sl", version: "5.05-1", description: null },
    ],
  );
});

Deno.test("parseInstalled() maps each requested package to its installed version or null", () => {
  const apt = parseInstalled("apt", "coreutils\tii \t9.1-1\nsl\trc \t5.02-1+b1\n", [
    "coreutils",
    "sl",
    "nope",
  ]);
  assert.deepEqual([...apt], [["coreutils", "9.1-1"], ["sl", null], ["nope", null]]);
  const pacman = parseInstalled("pacman", "bash 5.2.026-2\n", ["bash", "sl=1.0"]);
  assert.deepEqual([...pacman], [["bash", "5.2.026-2"], ["sl", null]]);
});
