import assert from "node:assert/strict";
import {
  classifyVoipContainer,
  containerPorts,
  parsePing,
  parsePortChecks,
  parseRoute,
  parseVoipProcesses,
  sipOptionsProbe,
} from "../../../src/tools/voip/net_parse.ts";
import { parseSipMessage } from "../../../src/sip/sip.ts";

Deno.test("classifyVoipContainer recognises software by image, command, name and ports", () => {
  const asterisk = classifyVoipContainer({
    name: "pbx",
    image: "andrius/asterisk:18",
    command: "",
    ports: [],
  });
  assert.equal(asterisk?.kind, "asterisk");
  assert.equal(asterisk?.role, "pbx");
  assert.equal(asterisk?.confidence, "high");
  const byCommand = classifyVoipContainer({
    name: "media",
    image: "debian:12",
    command: "/usr/bin/rtpengine --foreground",
    ports: [],
  });
  assert.equal(byCommand?.kind, "rtpengine");
  const byName = classifyVoipContainer({
    name: "edge-kamailio-1",
    image: "busybox",
    command: "sleep",
    ports: [],
  });
  assert.equal(byName?.kind, "kamailio");
  assert.equal(byName?.confidence, "medium");
  const byPorts = classifyVoipContainer({
    name: "x",
    image: "custom/thing",
    command: "run",
    ports: ["0.0.0.0:5060->5060/udp", "10000-20000/udp"],
  });
  assert.equal(byPorts?.kind, "sip_unknown");
  assert.equal(byPorts?.confidence, "low");
  assert.deepEqual(byPorts?.evidence, [
    "port 5060/udp (SIP)",
    "UDP port range 10000-20000 (typical RTP range)",
  ]);
  assert.equal(
    classifyVoipContainer({ name: "web", image: "nginx", command: "nginx", ports: ["80/tcp"] }),
    undefined,
  );
  // Words that merely contain a short name do not match.
  assert.equal(classifyVoipContainer({ name: "systems", image: "semsx", command: "", ports: [] }), undefined);
});

Deno.test("containerPorts reads docker's and podman's port strings", () => {
  assert.deepEqual(containerPorts(["127.0.0.1:18999->5060/udp", "8088/tcp, 10000-10100/udp"]), [
    { port: 5060, count: 1, protocol: "udp" },
    { port: 8088, count: 1, protocol: "tcp" },
    { port: 10000, count: 101, protocol: "udp" },
  ]);
});

Deno.test("parsePing reads iputils and busybox summaries", () => {
  const iputils = `PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.
64 bytes from 10.0.0.1: icmp_seq=1 ttl=64 time=0.045 ms

--- 10.0.0.1 ping statistics ---
3 packets transmitted, 2 received, 33.3333% packet loss, time 2030ms
rtt min/avg/max/mdev = 0.041/0.045/0.050/0.004 ms`;
  assert.deepEqual(parsePing(iputils), {
    transmitted: 3,
    received: 2,
    loss_percent: 33.3333,
    rtt_min_ms: 0.041,
    rtt_avg_ms: 0.045,
    rtt_max_ms: 0.05,
  });
  const busybox = `--- 10.0.0.1 ping statistics ---
3 packets transmitted, 3 packets received, 0% packet loss
round-trip min/avg/max = 0.061/0.080/0.097 ms`;
  assert.deepEqual(parsePing(busybox), {
    transmitted: 3,
    received: 3,
    loss_percent: 0,
    rtt_min_ms: 0.061,
    rtt_avg_ms: 0.08,
    rtt_max_ms: 0.097,
  });
  assert.equal(parsePing("ping: unknown host").transmitted, null);
});

Deno.test("parseRoute reads traceroute and tracepath hops", () => {
  const traceroute = `traceroute to 8.8.8.8 (8.8.8.8), 15 hops max, 60 byte packets
 1  10.0.0.1  0.412 ms
 2  *
 3  8.8.8.8  9.871 ms`;
  assert.deepEqual(parseRoute(traceroute), [
    { hop: 1, address: "10.0.0.1", rtt_ms: 0.412 },
    { hop: 2, address: null, rtt_ms: null },
    { hop: 3, address: "8.8.8.8", rtt_ms: 9.871 },
  ]);
  const tracepath = ` 1?: [LOCALHOST]                      pmtu 1500
 1:  10.0.0.1                                              0.311ms
 2:  no reply
 3:  192.0.2.7                                            12.100ms reached
     Resume: pmtu 1500 hops 3 back 3`;
  assert.deepEqual(parseRoute(tracepath), [
    { hop: 1, address: "10.0.0.1", rtt_ms: 0.311 },
    { hop: 2, address: null, rtt_ms: null },
    { hop: 3, address: "192.0.2.7", rtt_ms: 12.1 },
  ]);
});

Deno.test("parsePortChecks turns checker exit codes and replies into states", () => {
  const checks = parsePortChecks([
    "tcp 5060 bash 0 ",
    "tcp 5061 bash 1 ssh-mcp: connect: Connection refused",
    "tcp 5062 bash 124 ",
    "udp 5060 bash 0 SIP/2.0 404 Not Found ",
    "udp 5061 bash 0 dd: error reading 'standard input': Connection refused",
    "udp 5062 bash 124 ",
    "udp 5063 nc 0 ",
    "tcp 5064 none - ",
  ].join("\n"));
  assert.deepEqual(checks.map((c) => [c.protocol, c.port, c.state, c.sip_response]), [
    ["tcp", 5060, "open", null],
    ["tcp", 5061, "closed", null],
    ["tcp", 5062, "timeout", null],
    ["udp", 5060, "open", "SIP/2.0 404 Not Found"],
    ["udp", 5061, "closed", null],
    ["udp", 5062, "open|filtered", null],
    ["udp", 5063, "open|filtered", null],
    ["tcp", 5064, "unknown", null],
  ]);
});

Deno.test("sipOptionsProbe is a SIP request our own parser accepts", () => {
  const r = parseSipMessage(new TextEncoder().encode(sipOptionsProbe("2001:db8::5")));
  assert.ok(r.ok);
  assert.equal(r.message.method, "OPTIONS");
  assert.equal(r.message.requestUri, "sip:[2001:db8::5]");
  assert.equal(r.message.contentLength, 0);
});

Deno.test("parseVoipProcesses finds VoIP daemons by command name or program", () => {
  const ps = `    1 init            /sbin/init
  812 asterisk        /usr/sbin/asterisk -f -U asterisk
  900 kamailio        /usr/sbin/kamailio -DD -f /etc/kamailio.cfg
  901 bash            bash -c echo kamailio
  950 rtpengine       rtpengine --foreground`;
  assert.deepEqual(parseVoipProcesses(ps).map((p) => [p.pid, p.kind]), [
    [812, "asterisk"],
    [900, "kamailio"],
    [
      950,
      "rtpengine",
    ],
  ]);
});
