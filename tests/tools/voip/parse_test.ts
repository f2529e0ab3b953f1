import assert from "node:assert/strict";
import {
  assertBpfFilter,
  assertHost,
  assertInterface,
  classifyCaptureFailure,
  isBpfFilter,
  isHost,
  keyValues,
  packetCheckFilter,
  parsePortRange,
  parseTcpdumpStats,
  rtpFilter,
  sipFilter,
  tcpdumpMessage,
} from "../../../src/tools/voip/parse.ts";
import { captureScript } from "../../../src/tools/voip/capture.ts";
import { requirePrograms } from "../../_helpers/require.ts";

Deno.test("assertBpfFilter accepts ordinary BPF and refuses option-like words and shell syntax", () => {
  for (
    const ok of [
      "",
      "udp port 5060",
      "host 10.0.0.5 and (udp or tcp port 5060)",
      "portrange 10000-20000",
      "((ip[6:2] & 0x1fff) != 0)",
      "not port 22 && !icmp || ether host aa:bb:cc:dd:ee:ff",
      "net 192.168.0.0/16 and len - 4 > 100",
      "ip6 and dst host fe80::1",
    ]
  ) assert.doesNotThrow(() => assertBpfFilter(ok), ok);
  for (
    const bad of [
      "-w /tmp/x",
      "port 5060 -w x",
      "(-r x)",
      "!-z",
      "--immediate-mode",
      "$(id)",
      ";id",
      "`id`",
      "port 5060'",
      'port "5060"',
      "udp\n-w x",
      "udp\tport 1",
      "a\\b",
      "x".repeat(1025),
    ]
  ) assert.equal(isBpfFilter(bad), false, JSON.stringify(bad));
  assert.throws(() => assertBpfFilter("x".repeat(1025)), RangeError);
  assert.throws(() => assertBpfFilter("-w x"), TypeError);
});

Deno.test("assertInterface accepts interface names and refuses options and separators", () => {
  for (const ok of ["any", "lo", "eth0", "ens3.100", "br-1a2b3c", "veth1@if3", "wlan0:1"]) {
    assertInterface(ok);
  }
  for (const bad of ["", "-w", "lo -w x", "lo;id", "$(id)", "a/b", "a".repeat(33), "lo\n"]) {
    assert.throws(() => assertInterface(bad), TypeError, JSON.stringify(bad));
  }
});

Deno.test("assertHost accepts names and addresses and refuses anything else", () => {
  for (
    const ok of ["sip.example.com", "localhost", "10.0.0.5", "::1", "fe80::1", "2001:db8::5", "a_b.example."]
  ) {
    assert.equal(isHost(ok), true, ok);
  }
  for (
    const bad of ["-oProxyCommand=id", "a;b", "$(id)", "1.2.3.4 -c 9", "host name", "-1", "300.1.1.1", ""]
  ) {
    assert.equal(isHost(bad), false, bad);
  }
  assert.throws(() => assertHost("-x"), TypeError);
});

Deno.test("parsePortRange reads low-high and single ports within 1–65535", () => {
  assert.deepEqual(parsePortRange("10000-20000"), { low: 10000, high: 20000 });
  assert.deepEqual(parsePortRange("4000"), { low: 4000, high: 4000 });
  for (const bad of ["0-5", "20000-10000", "1-65536", "1-2; id", "-w", "a-b", ""]) {
    assert.equal(parsePortRange(bad), undefined, bad);
  }
});

Deno.test({
  name: "the capture filters are valid BPF that tcpdump compiles",
  ignore: !requirePrograms("tcpdump"),
  fn: async () => {
    const filters = [
      sipFilter([5060]),
      sipFilter([5060, 5061, 5080], { low: 10000, high: 20000 }),
      sipFilter([5060], { low: 4000, high: 4000 }),
      rtpFilter(),
      rtpFilter({ low: 10000, high: 20000 }),
      packetCheckFilter(),
      packetCheckFilter([5070]),
    ];
    assert.equal(sipFilter([5060]), "port 5060 or ((ip[6:2] & 0x1fff) != 0)");
    for (const f of filters) {
      assertBpfFilter(f);
      // -d compiles and dumps without capturing; "lo" gives a link type.
      const out = await new Deno.Command("tcpdump", {
        args: ["-d", "-i", "lo", "--", f],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      assert.ok(out.success, `${f}: ${new TextDecoder().decode(out.stderr)}`);
    }
    assert.throws(() => sipFilter([0]), RangeError);
  },
});

Deno.test("tcpdump's statistics and failures are read from its stderr", () => {
  const stderr = "tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n" +
    "12 packets captured\n14 packets received by filter\n1 packet dropped by kernel\n";
  assert.deepEqual(parseTcpdumpStats(stderr), { captured: 12, received_by_filter: 14, dropped_by_kernel: 1 });
  assert.deepEqual(parseTcpdumpStats(""), {
    captured: null,
    received_by_filter: null,
    dropped_by_kernel: null,
  });
  assert.equal(tcpdumpMessage(stderr), "");
  const denied = "tcpdump: lo: You don't have permission to perform this capture on that device\n" +
    "(socket: Operation not permitted)";
  assert.equal(classifyCaptureFailure(denied), "no_rights");
  assert.match(tcpdumpMessage(denied), /permission/);
  assert.equal(
    classifyCaptureFailure("nsenter: cannot open /proc/123/ns/net: Permission denied"),
    "no_rights",
  );
  assert.equal(
    classifyCaptureFailure("tcpdump: nope0: No such device exists\n(SIOCGIFHWADDR: No such device)"),
    "bad_interface",
  );
  assert.equal(
    classifyCaptureFailure("tcpdump: syntax error in filter expression: syntax error"),
    "bad_filter",
  );
  assert.equal(classifyCaptureFailure("something else"), "other");
  assert.deepEqual([...keyValues("rc=0\nreason=duration\nsize=24\njunk")], [["rc", "0"], [
    "reason",
    "duration",
  ], [
    "size",
    "24",
  ]]);
});

Deno.test("captureScript quotes every value and refuses invalid specs itself", () => {
  const spec = { interface: "lo", filter: "udp port 5060", durationS: 3, maxPackets: 10, maxBytes: 10_000 };
  const text = captureScript({ ...spec, container: "pbx-1" }, "@@m@@").text;
  assert.match(text, /IF=lo; F='udp port 5060'; SECS=3; MAXP=10; MAXB=10000/);
  assert.match(text, /C=pbx-1\n/);
  assert.match(text, /-w - -- "\$F"/);
  assert.throws(() => captureScript({ ...spec, filter: "-w /tmp/x" }, "m"), TypeError);
  assert.throws(() => captureScript({ ...spec, interface: "lo -w x" }, "m"), TypeError);
  assert.throws(() => captureScript({ ...spec, container: "-it" }, "m"), TypeError);
  assert.throws(() => captureScript({ ...spec, maxBytes: 1.5 }, "m"), RangeError);
});

Deno.test({
  name: "captureScript reports a missing tcpdump when run by a real shell",
  ignore: !requirePrograms("dash"),
  fn: async () => {
    const spec = { interface: "lo", filter: "", durationS: 1, maxPackets: 1, maxBytes: 10_000 };
    const out = await new Deno.Command("/bin/dash", {
      args: ["-c", captureScript(spec, "@@m@@").text],
      env: { PATH: "/nonexistent" },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout), "\n@@m@@ fail\nmissing_tcpdump\n");
  },
});
