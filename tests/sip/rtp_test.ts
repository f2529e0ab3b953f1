import assert from "node:assert/strict";
import type { Datagram } from "../../src/sip/packets.ts";
import { classifyRtp, RtpAnalyzer, rtpStreams, type RtpStreamStats } from "../../src/sip/rtp.ts";
import { parseSdp } from "../../src/sip/sdp.ts";
import { STATIC_PAYLOAD_TYPES } from "../../src/sip/codecs.ts";
import { rtcpReceiverReport, rtpPacket } from "../_helpers/pcap_builder.ts";
import { sdpBody } from "./scenarios.ts";

const T0 = 1_700_000_000;

/** A datagram arriving `arrival` seconds after T0 (exact: nanoseconds are integers). */
function pkt(
  seq: number,
  timestamp: number,
  arrivalUs: number,
  o: { pt?: number; ssrc?: number; sport?: number; dport?: number } = {},
): Datagram {
  const sec = T0 + Math.floor(arrivalUs / 1e6);
  const nsec = (arrivalUs % 1e6) * 1000;
  return {
    frame: 1,
    ts: sec + nsec / 1e9,
    sec,
    nsec,
    src: "10.0.0.1",
    dst: "10.0.0.2",
    sport: o.sport ?? 40000,
    dport: o.dport ?? 50000,
    proto: "udp",
    payload: rtpPacket({ seq, timestamp, ssrc: o.ssrc ?? 0xabc, pt: o.pt ?? 0, payloadSize: 20 }),
  };
}

/** Packets with the given sequence numbers, 20 ms apart, timestamps following sequence order. */
function stream(seqs: number[], o: { pt?: number } = {}): RtpStreamStats {
  const base = seqs[0]!;
  const list = seqs.map((s, i) => pkt(s & 0xffff, ((s - base) * 160) >>> 0, i * 20_000, o));
  const out = rtpStreams(list);
  assert.equal(out.length, 1);
  return out[0]!;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test("loss is expected − received (RFC 3550 A.3)", () => {
  const s = stream(range(0, 99).filter((n) => n !== 10 && n !== 20 && n !== 30));
  assert.equal(s.packets, 97);
  assert.equal(s.expected, 100);
  assert.equal(s.lost, 3);
  assert.equal(s.lossPercent, 3);
  assert.equal(s.firstSeq, 0);
  assert.equal(s.lastSeq, 99);
  assert.equal(s.seqErrors, 0);
});

Deno.test("reordered packets count as out of order, not lost", () => {
  const s = stream([1, 2, 4, 3, 5, 7, 6]);
  assert.equal(s.packets, 7);
  assert.equal(s.expected, 7);
  assert.equal(s.lost, 0);
  assert.equal(s.outOfOrder, 2);
  assert.equal(s.duplicates, 0);
});

Deno.test("duplicates are detected (latest and older) and make loss negative as in RFC 3550", () => {
  const s = stream([1, 2, 2, 3, 3, 3, 4, 2]);
  assert.equal(s.packets, 8);
  assert.equal(s.expected, 4);
  assert.equal(s.lost, -4);
  assert.equal(s.lossPercent, 0);
  assert.equal(s.duplicates, 4);
  assert.equal(s.outOfOrder, 0);
  assert.equal(s.seqErrors, 4);
});

Deno.test("sequence wraparound is tracked with cycles (extended sequence numbers)", () => {
  // 65530 … 65535, 0 … 9 with seq 2 lost: 16 expected, 15 received.
  const s = stream(range(65530, 65545).filter((n) => n !== 65538));
  assert.equal(s.firstSeq, 65530);
  assert.equal(s.lastSeq, 9);
  assert.equal(s.expected, 16);
  assert.equal(s.lost, 1);
  assert.equal(s.outOfOrder, 0);
  // A long stream crossing the wrap twice.
  const long = stream(range(60000, 60000 + 140_000 - 1));
  assert.equal(long.expected, 140_000);
  assert.equal(long.lost, 0);
});

Deno.test("a reordered packet just across the wrap is out of order, not a new cycle", () => {
  const s = stream([65534, 0, 65535, 1, 2]);
  assert.equal(s.expected, 5);
  assert.equal(s.lost, 0);
  assert.equal(s.outOfOrder, 1);
});

Deno.test("a sequence restart is confirmed by the next packet and counted as a jump (A.1)", () => {
  const seqs = [...range(1, 10), ...range(30000, 30009)];
  const list = seqs.map((s, i) => pkt(s, i * 160, i * 20_000));
  const s = rtpStreams(list)[0]!;
  assert.equal(s.packets, 20);
  assert.equal(s.seqJumps, 1);
  // 1…10 then (30000 uncounted until confirmed) 30001…30009.
  assert.equal(s.expected, 19);
  assert.equal(s.lost, 0);
});

Deno.test("interarrival jitter follows RFC 3550 A.8 (hand-computed)", () => {
  // PCMU, 160 ticks per packet; arrivals 0, 20, 45, 60, 80 ms.
  // D = Δarrival·8000 − 160 → 0, 40, −40, 0; J += (|D| − J)/16 →
  // 0, 2.5, 4.84375, 4.541015625 ticks; ÷ 8 ticks/ms.
  const arrivals = [0, 20_000, 45_000, 60_000, 80_000];
  const s = rtpStreams(arrivals.map((a, i) => pkt(100 + i, 8000 + i * 160, a)))[0]!;
  assert.equal(s.clockRate, 8000);
  assert.equal(s.clockRateSource, "static");
  assert.equal(s.jitterMs, Math.round((4.541015625 / 8) * 1000) / 1000);
  assert.equal(s.maxJitterMs, Math.round((4.84375 / 8) * 1000) / 1000);
  assert.equal(s.meanJitterMs, Math.round(((0 + 2.5 + 4.84375 + 4.541015625) / 4 / 8) * 1000) / 1000);
  assert.equal(s.maxDeltaMs, 25);
  assert.equal(s.meanDeltaMs, 20);
  assert.equal(s.durationS, 0.08);
});

Deno.test("jitter survives an RTP timestamp wrap", () => {
  const s = rtpStreams([0, 1, 2, 3].map((i) => pkt(i, (0xffffff00 + i * 160) >>> 0, i * 20_000)))[0]!;
  assert.equal(s.jitterMs, 0);
});

Deno.test("dynamic payload types take the clock rate from SDP, else 8000 Hz is assumed and said so", () => {
  const list = [0, 1, 2].map((i) => pkt(i, i * 960, i * 20_000, { pt: 96, dport: 4000 }));
  const assumed = rtpStreams(list)[0]!;
  assert.equal(assumed.clockRate, 8000);
  assert.equal(assumed.clockRateSource, "assumed");
  assert.equal(assumed.codec, "");
  const sdp = parseSdp(sdpBody("10.0.0.2", 4000, { pts: [96] }));
  const known = rtpStreams(list, { sdp: [sdp] })[0]!;
  assert.equal(known.clockRate, 48000);
  assert.equal(known.clockRateSource, "sdp");
  assert.equal(known.codec, "opus");
  assert.equal(known.sdpMatched, true);
  assert.equal(known.jitterMs, 0, "960 ticks per 20 ms at 48 kHz is jitter-free");
});

Deno.test("static payload types have RFC 3551 clock rates (G722 uses 8000)", () => {
  const want: [number, string, number][] = [[0, "PCMU", 8000], [3, "GSM", 8000], [8, "PCMA", 8000], [
    9,
    "G722",
    8000,
  ], [
    13,
    "CN",
    8000,
  ], [18, "G729", 8000]];
  for (const [pt, name, rate] of want) {
    assert.deepEqual([STATIC_PAYLOAD_TYPES.get(pt)?.name, STATIC_PAYLOAD_TYPES.get(pt)?.clockRate], [
      name,
      rate,
    ]);
    assert.equal(stream([1, 2], { pt }).codec, name);
  }
});

Deno.test("classifyRtp() tells RTP from RTCP (PT 200–204) and rejects other payloads", () => {
  assert.equal(classifyRtp(rtpPacket({ seq: 1, timestamp: 1, ssrc: 1 })), "rtp");
  assert.equal(classifyRtp(rtcpReceiverReport(5)), "rtcp");
  for (const pt of [200, 201, 202, 203, 204]) {
    const b = rtcpReceiverReport(5);
    b[1] = pt;
    assert.equal(classifyRtp(b), "rtcp");
  }
  assert.equal(classifyRtp(new TextEncoder().encode("INVITE sip:a@b SIP/2.0")), undefined);
  assert.equal(classifyRtp(new Uint8Array([0x80, 0, 0])), undefined);
  const withExt = rtpPacket({ seq: 1, timestamp: 1, ssrc: 1, payloadSize: 8 });
  withExt[0] = 0x90;
  withExt[14] = 0;
  withExt[15] = 5; // extension of 5 words does not fit in 8 bytes
  assert.equal(classifyRtp(withExt), undefined);
  const padded = rtpPacket({ seq: 1, timestamp: 1, ssrc: 1, payloadSize: 8 });
  padded[0] = 0xa0;
  padded[padded.length - 1] = 200;
  assert.equal(classifyRtp(padded), undefined);
});

Deno.test("RtpAnalyzer separates streams by SSRC and path and counts RTCP", () => {
  const rtp = new RtpAnalyzer();
  rtp.add(pkt(1, 0, 0, { ssrc: 1 }));
  rtp.add(pkt(1, 0, 0, { ssrc: 2 }));
  rtp.add(pkt(2, 160, 20_000, { ssrc: 1 }));
  rtp.add(pkt(1, 0, 0, { ssrc: 1, sport: 40002 }));
  rtp.add({ ...pkt(0, 0, 0), payload: rtcpReceiverReport(1), sport: 40001, dport: 50001 });
  const s = rtp.streams();
  assert.deepEqual(s.map((x) => [x.ssrcHex, x.sport, x.packets]), [["0x00000001", 40000, 2], [
    "0x00000002",
    40000,
    1,
  ], [
    "0x00000001",
    40002,
    1,
  ]]);
  assert.equal(rtp.rtcpPackets, 1);
  assert.equal(rtp.rtpPackets, 4);
});

Deno.test("without SDP, the heuristic ignores well-known ports and can be switched off", () => {
  assert.equal(rtpStreams([pkt(1, 0, 0, { sport: 53, dport: 40000 })]).length, 0);
  assert.equal(rtpStreams([pkt(1, 0, 0, { dport: 5060 })]).length, 0);
  assert.equal(rtpStreams([pkt(1, 0, 0)], { heuristic: false }).length, 0);
  const sdp = parseSdp(sdpBody("10.0.0.2", 50000));
  assert.equal(rtpStreams([pkt(1, 0, 0)], { heuristic: false, sdp: [sdp] }).length, 1);
});

Deno.test("streams carry a MOS estimate that falls with loss, and name the model", () => {
  const clean = stream(range(0, 199));
  const lossy = stream(range(0, 199).filter((n) => n % 10 !== 5));
  assert.ok(clean.mos > 4.3 && clean.mos <= 4.5, `clean ${clean.mos}`);
  assert.ok(lossy.mos < clean.mos - 0.5, `lossy ${lossy.mos}`);
  assert.equal(lossy.lossPercent, 10);
  assert.match(clean.mosModel, /G\.107/);
});

Deno.test("RtpAnalyzer stays linear with thousands of streams sharing one SSRC or one port pair", () => {
  // Work per packet must not grow with the number of streams that share an SSRC or a port pair (a
  // linear scan made this quadratic). Compared as a ratio of two sizes measured side by side, so a
  // slow or busy machine does not fail it.
  const load = (n: number) => {
    const rtp = new RtpAnalyzer();
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      rtp.add(pkt(1, 0, i, { ssrc: 7, sport: 30_000 + i, dport: 60000 }));
      rtp.add(pkt(1, 0, i, { ssrc: 100_000 + i, sport: 1500, dport: 1600 }));
    }
    assert.equal(rtp.streams().length, 2 * n);
    return performance.now() - t;
  };
  load(1_000); // warm-up: compile the hot paths first
  // Sizes in turns, best of each: a busy moment (another test process, a GC) hits both sizes alike. A
  // quadratic scan makes 10× the streams cost ~100×; linear work stays near 10–20× (45 was seen once
  // on a loaded machine, hence the bound of 65).
  let small = Infinity, large = Infinity;
  for (let round = 0; round < 3; round++) {
    small = Math.min(small, load(2_000));
    large = Math.min(large, load(20_000));
  }
  assert.ok(large / small < 65, `10× the streams took ${(large / small).toFixed(1)}× the time`);
});
