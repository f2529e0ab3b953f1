import assert from "node:assert/strict";
import { extractSdp, parseSdp } from "../../src/sip/sdp.ts";
import { parseSipMessage, type SipMessage } from "../../src/sip/sip.ts";
import { dialogHeaders, type Party, sdpBody, sipText } from "./scenarios.ts";

const SDP = [
  "v=0",
  "o=alice 2890844526 2890844527 IN IP4 192.0.2.10",
  "s=A call",
  "c=IN IP4 192.0.2.10",
  "t=0 0",
  "a=sendonly",
  "m=audio 49170 RTP/AVP 0 8 97 101 120",
  "a=rtpmap:97 iLBC/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-15",
  "a=fmtp:97 mode=30",
  "a=ptime:30",
  "a=rtcp:49200",
  "m=video 51372 RTP/AVP 31 96",
  "c=IN IP4 192.0.2.99/127",
  "a=rtpmap:96 H264/90000",
  "a=recvonly",
  "m=audio 0 RTP/AVP 0",
  "m=application 9 UDP/BFCP *",
  "garbage line",
].join("\r\n");

Deno.test("parseSdp() reads origin, session, codecs, fmtp, ptime, rtcp and per-media connections", () => {
  const s = parseSdp(SDP);
  assert.equal(s.version, 0);
  assert.deepEqual(s.origin, {
    username: "alice",
    sessionId: "2890844526",
    sessionVersion: "2890844527",
    connection: { netType: "IN", addrType: "IP4", address: "192.0.2.10" },
  });
  assert.equal(s.sessionName, "A call");
  assert.equal(s.media.length, 4);
  const [audio, video, rejected, app] = s.media;
  assert.equal(audio!.address, "192.0.2.10");
  assert.equal(audio!.port, 49170);
  assert.deepEqual(audio!.codecs.map((c) => [c.pt, c.name, c.clockRate, c.fmtp]), [
    [0, "PCMU", 8000, ""],
    [8, "PCMA", 8000, ""],
    [97, "iLBC", 8000, "mode=30"],
    [101, "telephone-event", 8000, "0-15"],
    [120, "", 0, ""],
  ]);
  assert.equal(audio!.ptime, 30);
  assert.equal(audio!.rtcpPort, 49200);
  assert.equal(video!.address, "192.0.2.99", "media c= overrides session c= and drops the TTL");
  assert.deepEqual(video!.codecs.map((c) => [c.name, c.clockRate]), [["H261", 90000], ["H264", 90000]]);
  assert.equal(rejected!.rejected, true);
  assert.deepEqual(app!.codecs, [], "non-RTP formats are not codecs");
  assert.deepEqual(app!.formats, ["*"]);
  assert.equal(s.errors.length, 1);
});

Deno.test("parseSdp() applies session-level direction unless the media overrides it", () => {
  const s = parseSdp(SDP);
  assert.equal(s.direction, "sendonly");
  assert.deepEqual(s.media.map((m) => m.direction), ["sendonly", "recvonly", "sendonly", "sendonly"]);
  assert.equal(parseSdp("v=0\r\nm=audio 1 RTP/AVP 0\r\n").media[0]!.direction, "sendrecv");
  assert.equal(parseSdp("v=0\r\nm=audio 1 RTP/AVP 0\r\na=inactive\r\n").media[0]!.direction, "inactive");
});

Deno.test("parseSdp() parses IPv6 connections and accepts bytes", () => {
  const s = parseSdp(new TextEncoder().encode(sdpBody("2001:db8::5", 4000)));
  assert.equal(s.connection?.addrType, "IP6");
  assert.equal(s.media[0]!.address, "2001:db8::5");
});

Deno.test("parseSdp() never throws on junk", () => {
  for (
    const junk of ["", "m=", "m=audio x RTP/AVP", "a=rtpmap:", "c=IN", "o=", "\u0000\u0001=\u0002", "v=abc"]
  ) {
    const s = parseSdp(junk);
    assert.ok(Array.isArray(s.media));
  }
});

const A: Party = { ip: "10.0.0.1", port: 5060, user: "alice" };
const B: Party = { ip: "10.0.0.2", port: 5060, user: "bob" };

function msg(
  from: Party,
  start: string,
  cseq: string,
  body?: string,
  toTag?: string,
  ts = 0,
  callId = "c1",
): SipMessage {
  const to = from === A ? B : A;
  const headers = [
    ...dialogHeaders(A, B, callId, cseq, { toTag }),
    ...(body ? ["Content-Type: application/sdp"] : []),
  ];
  const r = parseSipMessage(new TextEncoder().encode(sipText({ start, headers, body })), {
    ts,
    src: from.ip,
    sport: from.port,
    dst: to.ip,
    dport: to.port,
  });
  if (!r.ok) throw new Error(r.reason);
  return r.message;
}

Deno.test("extractSdp() pairs an INVITE offer with the 200 OK answer and ignores retransmissions", () => {
  const offer = sdpBody(A.ip, 4000);
  const answer = sdpBody(B.ip, 6000, { pts: [8] });
  const exchanges = extractSdp([
    msg(A, "INVITE sip:bob@h SIP/2.0", "1 INVITE", offer, undefined, 1),
    msg(A, "INVITE sip:bob@h SIP/2.0", "1 INVITE", offer, undefined, 1.5),
    msg(B, "SIP/2.0 200 OK", "1 INVITE", answer, "t", 2),
    msg(B, "SIP/2.0 200 OK", "1 INVITE", answer, "t", 2.5),
    msg(A, "ACK sip:bob@h SIP/2.0", "1 ACK", undefined, "t", 3),
  ]);
  assert.equal(exchanges.length, 1);
  const x = exchanges[0]!;
  assert.equal(x.method, "INVITE");
  assert.equal(x.offer.label, "INVITE (SDP)");
  assert.equal(x.offer.from, "10.0.0.1:5060");
  assert.equal(x.offer.sdp.media[0]!.port, 4000);
  assert.equal(x.answer?.label, "200 OK (SDP)");
  assert.equal(x.answer?.ts, 2);
  assert.deepEqual(x.answer?.sdp.media[0]?.codecs.map((c) => c.name), ["PCMA"]);
});

Deno.test("extractSdp() handles a late offer: SDP in the 200 OK, answer in the ACK", () => {
  const exchanges = extractSdp([
    msg(A, "INVITE sip:bob@h SIP/2.0", "1 INVITE"),
    msg(B, "SIP/2.0 200 OK", "1 INVITE", sdpBody(B.ip, 6000), "t"),
    msg(A, "ACK sip:bob@h SIP/2.0", "1 ACK", sdpBody(A.ip, 4000), "t"),
  ]);
  assert.equal(exchanges.length, 1);
  assert.equal(exchanges[0]!.offer.label, "200 OK (SDP)");
  assert.equal(exchanges[0]!.answer?.label, "ACK (SDP)");
});

Deno.test("extractSdp() takes the first answer (183) and keeps a re-INVITE as a new exchange", () => {
  const all = [
    msg(A, "INVITE sip:bob@h SIP/2.0", "1 INVITE", sdpBody(A.ip, 4000)),
    msg(B, "SIP/2.0 183 Session Progress", "1 INVITE", sdpBody(B.ip, 6000), "t"),
    msg(B, "SIP/2.0 200 OK", "1 INVITE", sdpBody(B.ip, 6000), "t"),
    msg(
      A,
      "INVITE sip:bob@h SIP/2.0",
      "2 INVITE",
      sdpBody(A.ip, 4000, { direction: "sendonly", version: 2 }),
      "t",
    ),
    msg(B, "SIP/2.0 200 OK", "2 INVITE", sdpBody(B.ip, 6000, { direction: "recvonly", version: 2 }), "t"),
    msg(A, "INVITE sip:x@h SIP/2.0", "1 INVITE", sdpBody(A.ip, 4100), undefined, 0, "other-call"),
  ];
  const exchanges = extractSdp(all);
  assert.deepEqual(exchanges.map((x) => [x.callId, x.cseq, x.answer?.label]), [
    ["c1", 1, "183 Session Progress (SDP)"],
    ["c1", 2, "200 OK (SDP)"],
    ["other-call", 1, undefined],
  ]);
  assert.equal(exchanges[1]!.offer.sdp.media[0]!.direction, "sendonly");
  assert.equal(extractSdp(all, "other-call").length, 1);
});

Deno.test("parseSdp() stays linear with thousands of formats and rtpmap lines", () => {
  const pts = Array.from({ length: 5000 }, (_, i) => 96 + (i % 32));
  const text = `v=0\r\nm=audio 4000 RTP/AVP ${pts.join(" ")}\r\n` +
    pts.map((p) => `a=rtpmap:${p} X/8000\r\n`).join("");
  const t = performance.now();
  const s = parseSdp(text);
  assert.equal(s.media[0]!.codecs.length, 5000);
  assert.ok(performance.now() - t < 1000);
});
