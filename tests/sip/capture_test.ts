import assert from "node:assert/strict";
import { analyseCapture, extractSipMessages, packetCheck } from "../../src/sip/capture.ts";
import { callStats } from "../../src/sip/sip_stats.ts";
import { parsePcap } from "../../src/sip/packets.ts";
import { PcapError } from "../../src/sip/pcap.ts";
import {
  type PacketSpec,
  rtcpReceiverReport,
  rtpPacket,
  writePcap,
  writePcapng,
} from "../_helpers/pcap_builder.ts";
import {
  answeredCall,
  cancelledCall,
  overTcp,
  registerWithChallenge,
  rejectedCall,
  sipText,
} from "./scenarios.ts";

const byTime = (specs: PacketSpec[]) => [...specs].sort((a, b) => (a.ts as number) - (b.ts as number));
const labels = (specs: PacketSpec[]) =>
  analyseCapture(writePcap(byTime(specs))).messages.map((
    m,
  ) => (m.kind === "request" ? m.method : String(m.status)));
const CALL = ["INVITE", "100", "180", "200", "ACK", "BYE", "200"];

Deno.test("analyseCapture() finds the same call over UDP and over TCP cut into 40-byte segments", () => {
  assert.deepEqual(labels(answeredCall()), CALL);
  const tcp = analyseCapture(writePcap(overTcp(answeredCall(), 40)));
  assert.deepEqual(tcp.messages.map((m) => m.kind === "request" ? m.method : String(m.status)), CALL);
  assert.ok(tcp.messages.every((m) => m.transport === "tcp"));
  assert.deepEqual(tcp.tcpIssues, []);
  assert.equal(callStats(tcp.messages).calls[0]!.state, "answered");
});

Deno.test("analyseCapture() splits several SIP messages carried in one TCP segment", () => {
  const specs = answeredCall();
  const joined = specs.filter((s) => s.src === "10.0.0.2").map((s) => s.payload).join("");
  const oneSegment: PacketSpec = { ...specs[1]!, proto: "tcp", payload: joined, seq: 1 };
  const a = analyseCapture(writePcap([oneSegment]));
  assert.deepEqual(a.messages.map((m) => m.status), [100, 180, 200, 200]);
  assert.deepEqual(a.messages.map((m) => m.frame), [1, 1, 1, 1]);
  assert.equal(a.counts.sipFrames, 1);
});

Deno.test("analyseCapture() reassembles a SIP INVITE fragmented at the IP layer (IPv4 and IPv6)", () => {
  for (const [src, dst] of [["10.0.0.1", "10.0.0.2"], ["2001:db8::1", "2001:db8::2"]] as const) {
    const big = sipText({
      start: "INVITE sip:b@x SIP/2.0",
      headers: [
        "Call-ID: frag",
        "CSeq: 1 INVITE",
        "From: <sip:a@x>;tag=1",
        "To: <sip:b@x>",
        "X-Pad: " + "p".repeat(3000),
      ],
    });
    const a = analyseCapture(writePcap([{ ts: 1, src, dst, payload: big, fragmentSize: 1400 }]));
    assert.equal(a.messages.length, 1, src);
    assert.equal(a.messages[0]!.callId, "frag");
    assert.equal(a.messages[0]!.src, src);
    assert.equal(a.counts.fragments, 2);
  }
});

Deno.test("analyseCapture() reads compact and folded headers from the wire", () => {
  const text =
    "INVITE sip:b@x SIP/2.0\r\ni: compact\r\nf: <sip:a@x>\r\n ;tag=7\r\nt: <sip:b@x>\r\nCSeq: 1 INVITE\r\nl: 0\r\n\r\n";
  const a = analyseCapture(writePcap([{ ts: 1, src: "10.0.0.1", dst: "10.0.0.2", payload: text }]));
  assert.equal(a.messages[0]!.callId, "compact");
  assert.equal(a.messages[0]!.from.tag, "7");
});

Deno.test("analyseCapture() handles an IPv6 call on a pcapng with Ethernet and Linux-cooked interfaces", () => {
  const a6 = { ip: "2001:db8::a", port: 5060, user: "alice" };
  const b6 = { ip: "2001:db8::b", port: 5060, user: "bob" };
  const specs = answeredCall({ a: a6, b: b6, rtpPackets: 10 }).map((s, i) => ({ ...s, iface: i % 2 }));
  const bytes = writePcapng(specs, { interfaces: [{ link: "ethernet" }, { link: "sll" }], bigEndian: true });
  const a = analyseCapture(bytes);
  assert.equal(a.format, "pcapng");
  assert.deepEqual(a.linkTypes, [1, 113]);
  assert.deepEqual(a.messages.map((m) => m.kind === "request" ? m.method : String(m.status)), CALL);
  assert.equal(a.messages[0]!.src, "2001:db8::a");
  assert.equal(a.rtpStreams.length, 2);
  assert.ok(a.rtpStreams.every((s) => s.sdpMatched && s.packets === 10 && s.lost === 0));
});

Deno.test("analyseCapture() learns dynamic payload types from SDP earlier in the same capture", () => {
  const specs = answeredCall({ pts: [96, 8, 101] });
  const media = [0, 1, 2, 3].map((i): PacketSpec => ({
    ts: 1_700_000_002 + i * 0.02,
    src: "10.0.0.2",
    dst: "10.0.0.1",
    sport: 50000,
    dport: 40000,
    payload: rtpPacket({ pt: 96, seq: i, timestamp: i * 960, ssrc: 9 }),
  }));
  const a = analyseCapture(writePcap([...specs.slice(0, 5), ...media]));
  const s = a.rtpStreams[0]!;
  assert.equal(s.codec, "opus");
  assert.equal(s.clockRate, 48000);
  assert.equal(s.clockRateSource, "sdp");
  assert.equal(s.jitterMs, 0);
});

Deno.test("packetCheck() counts SIP by method and response, RTP, RTCP and other packets", () => {
  const specs = byTime([
    ...answeredCall({ rtpPackets: 20 }),
    ...rejectedCall(),
    ...cancelledCall(),
    ...registerWithChallenge(),
    {
      ts: 1_700_000_001.5,
      src: "10.0.0.1",
      dst: "10.0.0.2",
      sport: 40001,
      dport: 50001,
      payload: rtcpReceiverReport(1),
    },
    {
      ts: 1_700_000_001.6,
      src: "10.0.0.1",
      dst: "10.0.0.53",
      sport: 33000,
      dport: 53,
      payload: new Uint8Array([0x80, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
    },
    { ts: 1_700_000_001.7, src: "10.0.0.1", dst: "10.0.0.2", ethertype: 0x0806, payload: new Uint8Array(28) },
  ]);
  const c = packetCheck(writePcap(specs));
  assert.equal(c.format, "pcap");
  assert.equal(c.sip, 22);
  assert.deepEqual(c.sipRequests, { INVITE: 3, ACK: 3, BYE: 1, CANCEL: 1, REGISTER: 2 });
  assert.deepEqual(c.sipResponses, { "100": 3, "180": 2, "200": 4, "401": 1, "486": 1, "487": 1 });
  assert.equal(c.rtp, 40);
  assert.equal(c.rtcp, 1);
  assert.equal(c.other, 2);
  assert.equal(c.nonIp, 1);
  assert.equal(c.frames, 22 + 40 + 1 + 2);
  assert.ok(c.hasSip && c.hasRtp);
});

Deno.test("analyseCapture() of a truncated capture returns what was read and says truncated", () => {
  const bytes = writePcap(answeredCall());
  const a = analyseCapture(bytes.subarray(0, bytes.length - 30));
  assert.equal(a.truncated, true);
  assert.deepEqual(
    a.messages.map((m) => m.kind === "request" ? m.method : String(m.status)),
    CALL.slice(0, 6),
  );
  assert.equal(a.warnings.length, 1);
});

Deno.test("analyseCapture() reports skipped SIP-looking payloads with reasons", () => {
  const a = analyseCapture(
    writePcap([{
      ts: 1,
      src: "10.0.0.1",
      dst: "10.0.0.2",
      payload: "OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n",
    }]),
  );
  assert.equal(a.messages.length, 0);
  assert.deepEqual(a.skipped, [{ frame: 1, reason: "missing Call-ID" }]);
});

Deno.test("analyseCapture() throws only PcapError for input that is not a capture", () => {
  assert.throws(() => analyseCapture(new TextEncoder().encode("not a capture at all")), PcapError);
});

Deno.test("extractSipMessages() works on a packet array", () => {
  const { messages, skipped } = extractSipMessages(
    parsePcap(writePcap(overTcp(rejectedCall(), 100))).packets,
  );
  assert.deepEqual(messages.map((m) => m.status || m.method), ["INVITE", 100, 486, "ACK"]);
  assert.deepEqual(skipped, []);
});
