/**
 * Captures written by real tools (tcpdump, editcap) from real kamailio/baresip traffic; expected values
 * were checked against tshark when recorded (see tests/testdata/sip/README.md). Runs without any of
 * those programs installed.
 */

import assert from "node:assert/strict";
import { analyseCapture } from "../../src/sip/capture.ts";
import { callFlow } from "../../src/sip/call_flow.ts";
import { extractSdp } from "../../src/sip/sdp.ts";
import { callStats, registrations } from "../../src/sip/sip_stats.ts";

const dir = new URL("../testdata/sip/", import.meta.url);

interface Expected {
  file: string;
  format: string;
  linkType: number;
  firstTs: number;
  calls: [string, string, number, number, number | undefined, number | undefined][];
  rtp: [string, number, number, number, number, number][];
  expires: Record<string, number>;
}

const cases: Expected[] = [
  {
    file: "baresip_any_ns.pcap",
    format: "pcap",
    linkType: 276,
    firstTs: 1795566896.726396295,
    calls: [
      ["afac6016c8966c12", "answered", 200, 0.698, 0.946, 2.001651],
      ["8c113eb78872dbeb", "failed", 486, 1.527, undefined, undefined],
      ["1a4c117cc81b738d", "cancelled", 487, 0.862, undefined, undefined],
    ],
    // ssrc, sport, packets, lost, mean jitter, max jitter (tshark: 1.071/1.496 and 1.185/1.558)
    rtp: [["0xc00527ed", 30868, 101, 0, 1.071, 1.496], ["0x53315484", 30674, 101, 0, 1.185, 1.558]],
    expires: {
      "sip:bob@127.0.0.1:25060": 3765,
      "sip:dave@127.0.0.1:25060": 3845,
      "sip:alice@127.0.0.1:25060": 3624,
    },
  },
  {
    file: "baresip_lo.pcapng",
    format: "pcapng",
    linkType: 1,
    firstTs: 1795566787.228472,
    calls: [
      ["80d125211099de8d", "answered", 200, 2.775, 5.83, 1.997884],
      ["6c383b19effa1c57", "failed", 486, 1.76, undefined, undefined],
      ["f05a3ebab951cf8d", "cancelled", 487, 1.255, undefined, undefined],
    ],
    // tshark: 0.929/1.247 and 0.960/1.260
    rtp: [["0xe5598454", 30072, 101, 0, 0.929, 1.247], ["0xfb794214", 30880, 101, 0, 0.96, 1.26]],
    expires: {
      "sip:bob@127.0.0.1:25060": 3688,
      "sip:alice@127.0.0.1:25060": 3808,
      "sip:dave@127.0.0.1:25060": 3840,
    },
  },
];

for (const c of cases) {
  Deno.test(`${c.file}: SIP counts, calls, registrations, SDP and RTP match the tshark-checked values`, async () => {
    const a = analyseCapture(await Deno.readFile(new URL(c.file, dir)));
    assert.equal(a.format, c.format);
    assert.deepEqual(a.linkTypes, [c.linkType]);
    assert.equal(a.truncated, false);
    assert.equal(a.counts.frames, 253);
    assert.deepEqual(a.counts.sipRequests, { REGISTER: 6, INVITE: 6, ACK: 6, BYE: 2, CANCEL: 2 });
    assert.deepEqual(a.counts.sipResponses, { "100": 3, "180": 6, "200": 9, "401": 3, "486": 2, "487": 2 });
    assert.equal(a.counts.rtp, 202);
    assert.equal(a.counts.rtcp, 4);
    assert.equal(a.counts.other, 0);
    assert.ok(Math.abs(a.messages[0]!.ts - c.firstTs) < 1e-6);

    const stats = callStats(a.messages);
    assert.deepEqual(
      stats.calls.map((x) => [x.callId, x.state, x.finalStatus, x.pddRingMs, x.pddAnswerMs, x.durationS]),
      c.calls,
    );
    assert.deepEqual(stats.failedByCode, { "486": 1, "487": 1 });

    const regs = registrations(a.messages);
    assert.deepEqual(Object.fromEntries(regs.map((r) => [r.aor, r.grantedExpires])), c.expires);
    assert.ok(regs.every((r) => r.challenged && r.registered && r.statuses.join() === "401,200"));

    const sdp = extractSdp(a.messages);
    assert.equal(sdp.length, 3);
    assert.equal(sdp.filter((x) => x.answer !== undefined).length, 1);
    const media = sdp[0]!.answer!.sdp.media[0]!;
    assert.equal(media.codecs[0]?.name, "PCMU");
    assert.equal(media.direction, "sendrecv");

    assert.deepEqual(
      a.rtpStreams.map((s) => [s.ssrcHex, s.sport, s.packets, s.lost, s.meanJitterMs, s.maxJitterMs]),
      c.rtp,
    );
    assert.ok(
      a.rtpStreams.every((s) => s.codec === "PCMU" && s.sdpMatched && s.clockRateSource === "static"),
    );

    const flow = callFlow(a.messages, c.calls[0]![0]);
    assert.equal(flow.endpoints.length, 3, "caller, proxy, callee");
    assert.deepEqual(flow.entries.map((e) => e.label).slice(0, 3), [
      "INVITE (SDP)",
      "100 trying -- your call is important to us",
      "INVITE (SDP)",
    ]);
  });
}
