/**
 * SIP/RTP traffic scenarios for the sip tests and the benchmark, as pcap builder packet specs.
 */

import { type PacketSpec, rtpPacket } from "../_helpers/pcap_builder.ts";

/** Parts of a SIP message for {@link sipText}. */
export interface SipTextSpec {
  /** Start line, e.g. "INVITE sip:bob@b.example SIP/2.0" or "SIP/2.0 180 Ringing". */
  start: string;
  /** Header lines without CRLF ("Name: value"). Content-Length is added unless present. */
  headers: string[];
  /** Body. */
  body?: string;
}

/** A SIP message with CRLF line ends and a correct Content-Length. */
export function sipText(s: SipTextSpec): string {
  const body = s.body ?? "";
  const headers = [...s.headers];
  if (!headers.some((h) => /^(content-length|l)\s*:/i.test(h))) {
    headers.push(`Content-Length: ${new TextEncoder().encode(body).length}`);
  }
  return `${s.start}\r\n${headers.join("\r\n")}\r\n\r\n${body}`;
}

/** An SDP body with one audio stream. */
export function sdpBody(
  ip: string,
  port: number,
  opts: { pts?: number[]; direction?: string; version?: number } = {},
): string {
  const pts = opts.pts ?? [0, 8, 101];
  const v6 = ip.includes(":");
  const lines = [
    "v=0",
    `o=- 1000 ${opts.version ?? 1} IN ${v6 ? "IP6" : "IP4"} ${ip}`,
    "s=-",
    `c=IN ${v6 ? "IP6" : "IP4"} ${ip}`,
    "t=0 0",
    `m=audio ${port} RTP/AVP ${pts.join(" ")}`,
  ];
  for (const pt of pts) {
    if (pt === 0) lines.push("a=rtpmap:0 PCMU/8000");
    else if (pt === 8) lines.push("a=rtpmap:8 PCMA/8000");
    else if (pt === 101) lines.push("a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16");
    else if (pt === 96) lines.push("a=rtpmap:96 opus/48000/2");
  }
  lines.push("a=ptime:20", `a=${opts.direction ?? "sendrecv"}`);
  return lines.join("\r\n") + "\r\n";
}

/** Endpoints and identity of a dialog. */
export interface Party {
  /** IP address. */
  ip: string;
  /** SIP port. */
  port: number;
  /** User part. */
  user: string;
}

/** Common header set of a dialog message. */
export function dialogHeaders(
  a: Party,
  b: Party,
  callId: string,
  cseq: string,
  opts: { fromTag?: string; toTag?: string; branch?: string } = {},
): string[] {
  const host = (p: Party) => (p.ip.includes(":") ? `[${p.ip}]` : p.ip);
  return [
    `Via: SIP/2.0/UDP ${host(a)}:${a.port};branch=${
      opts.branch ?? `z9hG4bK-${callId}-${cseq.split(" ")[0]}`
    }`,
    `From: "${a.user}" <sip:${a.user}@${host(a)}>;tag=${opts.fromTag ?? "ft-" + callId}`,
    `To: <sip:${b.user}@${host(b)}>${opts.toTag ? `;tag=${opts.toTag}` : ""}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq}`,
    `Contact: <sip:${a.user}@${host(a)}:${a.port}>`,
    "Max-Forwards: 70",
  ];
}

/** Options of the call scenarios. */
export interface CallOptions {
  /** Caller. */
  a?: Party;
  /** Callee. */
  b?: Party;
  /** Call-ID. */
  callId?: string;
  /** Start time in seconds. */
  t0?: number;
  /** Transport. Default udp. */
  proto?: "udp" | "tcp";
  /** RTP packets per direction for answered calls. Default 0. */
  rtpPackets?: number;
  /** Seconds between 200 OK and BYE (default rtpPackets × 20 ms, at least 1 s). */
  talk?: number;
  /** SSRC base for RTP. */
  ssrc?: number;
  /** Media ports of a and b. */
  mediaPorts?: [number, number];
  /** Payload types offered in the INVITE's SDP (default 0 8 101). */
  pts?: number[];
}

const A: Party = { ip: "10.0.0.1", port: 5060, user: "alice" };
const B: Party = { ip: "10.0.0.2", port: 5060, user: "bob" };

function msg(from: Party, to: Party, ts: number, text: string, proto: "udp" | "tcp"): PacketSpec {
  return { ts, src: from.ip, dst: to.ip, sport: from.port, dport: to.port, proto, payload: text };
}

/**
 * A whole call: INVITE (SDP) / 100 / 180 / 200 (SDP) / ACK / [RTP both ways] / BYE / 200.
 * Timing: 100 at +10 ms, 180 at +50 ms, 200 at +1 s, ACK at +1.01 s, BYE after `talk` seconds.
 */
export function answeredCall(o: CallOptions = {}): PacketSpec[] {
  const a = o.a ?? A,
    b = o.b ?? B,
    id = o.callId ?? "call-1@a",
    t = o.t0 ?? 1_700_000_000,
    p = o.proto ?? "udp";
  const [ma, mb] = o.mediaPorts ?? [40000, 50000];
  const n = o.rtpPackets ?? 0;
  const talk = o.talk ?? Math.max(1, n * 0.02 + 0.1);
  const toTag = `tt-${id}`;
  const out: PacketSpec[] = [
    msg(
      a,
      b,
      t,
      sipText({
        start: `INVITE sip:${b.user}@${b.ip} SIP/2.0`,
        headers: [
          ...dialogHeaders(a, b, id, "1 INVITE"),
          "Content-Type: application/sdp",
          "User-Agent: test-ua",
        ],
        body: sdpBody(a.ip, ma, { pts: o.pts }),
      }),
      p,
    ),
    msg(
      b,
      a,
      t + 0.01,
      sipText({ start: "SIP/2.0 100 Trying", headers: dialogHeaders(a, b, id, "1 INVITE") }),
      p,
    ),
    msg(
      b,
      a,
      t + 0.05,
      sipText({ start: "SIP/2.0 180 Ringing", headers: dialogHeaders(a, b, id, "1 INVITE", { toTag }) }),
      p,
    ),
    msg(
      b,
      a,
      t + 1,
      sipText({
        start: "SIP/2.0 200 OK",
        headers: [...dialogHeaders(a, b, id, "1 INVITE", { toTag }), "Content-Type: application/sdp"],
        body: sdpBody(b.ip, mb, { pts: [0, 101] }),
      }),
      p,
    ),
    msg(
      a,
      b,
      t + 1.01,
      sipText({
        start: `ACK sip:${b.user}@${b.ip} SIP/2.0`,
        headers: dialogHeaders(a, b, id, "1 ACK", { toTag, branch: `z9hG4bK-ack-${id}` }),
      }),
      p,
    ),
  ];
  const ssrc = o.ssrc ?? 0x1000;
  for (let i = 0; i < n; i++) {
    const ts = t + 1.02 + i * 0.02;
    const rtpA = rtpPacket({ seq: 100 + i, timestamp: 1000 + i * 160, ssrc, marker: i === 0 });
    const rtpB = rtpPacket({ seq: 5000 + i, timestamp: 9000 + i * 160, ssrc: ssrc + 1, marker: i === 0 });
    out.push({ ts, src: a.ip, dst: b.ip, sport: ma, dport: mb, payload: rtpA });
    out.push({ ts: ts + 0.001, src: b.ip, dst: a.ip, sport: mb, dport: ma, payload: rtpB });
  }
  out.push(
    msg(
      a,
      b,
      t + 1 + talk,
      sipText({
        start: `BYE sip:${b.user}@${b.ip} SIP/2.0`,
        headers: dialogHeaders(a, b, id, "2 BYE", { toTag }),
      }),
      p,
    ),
    msg(
      b,
      a,
      t + 1 + talk + 0.005,
      sipText({ start: "SIP/2.0 200 OK", headers: dialogHeaders(a, b, id, "2 BYE", { toTag }) }),
      p,
    ),
  );
  return out;
}

/** A call rejected with `code` (default 486 Busy Here) after 100: INVITE / 100 / code / ACK. */
export function rejectedCall(o: CallOptions & { code?: number; reason?: string } = {}): PacketSpec[] {
  const a = o.a ?? A,
    b = o.b ?? B,
    id = o.callId ?? "call-486@a",
    t = o.t0 ?? 1_700_000_100,
    p = o.proto ?? "udp";
  const toTag = `tt-${id}`;
  const code = o.code ?? 486;
  return [
    msg(
      a,
      b,
      t,
      sipText({
        start: `INVITE sip:${b.user}@${b.ip} SIP/2.0`,
        headers: [...dialogHeaders(a, b, id, "1 INVITE"), "Content-Type: application/sdp"],
        body: sdpBody(a.ip, 40002),
      }),
      p,
    ),
    msg(
      b,
      a,
      t + 0.02,
      sipText({ start: "SIP/2.0 100 Trying", headers: dialogHeaders(a, b, id, "1 INVITE") }),
      p,
    ),
    msg(
      b,
      a,
      t + 0.3,
      sipText({
        start: `SIP/2.0 ${code} ${o.reason ?? "Busy Here"}`,
        headers: dialogHeaders(a, b, id, "1 INVITE", { toTag }),
      }),
      p,
    ),
    msg(
      a,
      b,
      t + 0.31,
      sipText({
        start: `ACK sip:${b.user}@${b.ip} SIP/2.0`,
        headers: dialogHeaders(a, b, id, "1 ACK", { toTag }),
      }),
      p,
    ),
  ];
}

/** A cancelled call: INVITE / 100 / 180 / CANCEL / 200 (CANCEL) / 487 / ACK. */
export function cancelledCall(o: CallOptions = {}): PacketSpec[] {
  const a = o.a ?? A,
    b = o.b ?? B,
    id = o.callId ?? "call-487@a",
    t = o.t0 ?? 1_700_000_200,
    p = o.proto ?? "udp";
  const toTag = `tt-${id}`;
  return [
    msg(
      a,
      b,
      t,
      sipText({
        start: `INVITE sip:${b.user}@${b.ip} SIP/2.0`,
        headers: [...dialogHeaders(a, b, id, "1 INVITE"), "Content-Type: application/sdp"],
        body: sdpBody(a.ip, 40004),
      }),
      p,
    ),
    msg(
      b,
      a,
      t + 0.01,
      sipText({ start: "SIP/2.0 100 Trying", headers: dialogHeaders(a, b, id, "1 INVITE") }),
      p,
    ),
    msg(
      b,
      a,
      t + 0.08,
      sipText({ start: "SIP/2.0 180 Ringing", headers: dialogHeaders(a, b, id, "1 INVITE", { toTag }) }),
      p,
    ),
    msg(
      a,
      b,
      t + 3,
      sipText({
        start: `CANCEL sip:${b.user}@${b.ip} SIP/2.0`,
        headers: dialogHeaders(a, b, id, "1 CANCEL"),
      }),
      p,
    ),
    msg(
      b,
      a,
      t + 3.01,
      sipText({ start: "SIP/2.0 200 OK", headers: dialogHeaders(a, b, id, "1 CANCEL", { toTag }) }),
      p,
    ),
    msg(
      b,
      a,
      t + 3.02,
      sipText({
        start: "SIP/2.0 487 Request Terminated",
        headers: dialogHeaders(a, b, id, "1 INVITE", { toTag }),
      }),
      p,
    ),
    msg(
      a,
      b,
      t + 3.03,
      sipText({
        start: `ACK sip:${b.user}@${b.ip} SIP/2.0`,
        headers: dialogHeaders(a, b, id, "1 ACK", { toTag }),
      }),
      p,
    ),
  ];
}

/** REGISTER / 401 (challenge) / REGISTER with Authorization / 200 with the granted Contact expiry. */
export function registerWithChallenge(
  o: { a?: Party; registrar?: Party; callId?: string; t0?: number } = {},
): PacketSpec[] {
  const a = o.a ?? { ip: "10.0.0.1", port: 5060, user: "alice" };
  const r = o.registrar ?? { ip: "10.0.0.9", port: 5060, user: "alice" };
  const id = o.callId ?? "reg-1@a", t = o.t0 ?? 1_700_000_300;
  const base = (cseq: string, toTag?: string) => [
    `Via: SIP/2.0/UDP ${a.ip}:${a.port};branch=z9hG4bK-${id}-${cseq.split(" ")[0]}`,
    `From: <sip:${a.user}@example.com>;tag=reg-ft`,
    `To: <sip:${a.user}@example.com>${toTag ? `;tag=${toTag}` : ""}`,
    `Call-ID: ${id}`,
    `CSeq: ${cseq}`,
  ];
  const contact = `Contact: <sip:${a.user}@${a.ip}:${a.port}>;expires=3600`;
  return [
    msg(
      a,
      r,
      t,
      sipText({
        start: "REGISTER sip:example.com SIP/2.0",
        headers: [...base("1 REGISTER"), contact, "User-Agent: reg-ua"],
      }),
      "udp",
    ),
    msg(
      r,
      a,
      t + 0.01,
      sipText({
        start: "SIP/2.0 401 Unauthorized",
        headers: [
          ...base("1 REGISTER", "r1"),
          'WWW-Authenticate: Digest realm="example.com", nonce="abc", algorithm=MD5',
        ],
      }),
      "udp",
    ),
    msg(
      a,
      r,
      t + 0.02,
      sipText({
        start: "REGISTER sip:example.com SIP/2.0",
        headers: [
          ...base("2 REGISTER"),
          contact,
          'Authorization: Digest username="alice", realm="example.com", nonce="abc", uri="sip:example.com", response="0123"',
        ],
      }),
      "udp",
    ),
    msg(
      r,
      a,
      t + 0.03,
      sipText({
        start: "SIP/2.0 200 OK",
        headers: [...base("2 REGISTER", "r2"), `Contact: <sip:${a.user}@${a.ip}:${a.port}>;expires=1800`],
      }),
      "udp",
    ),
  ];
}

/**
 * Sends the SIP messages of `specs` (same direction pairs) over TCP: each direction becomes a byte
 * stream cut into segments of `segment` bytes, with consecutive sequence numbers and a SYN first.
 */
export function overTcp(specs: PacketSpec[], segment: number): PacketSpec[] {
  const next = new Map<string, number>();
  const out: PacketSpec[] = [];
  for (const s of specs) {
    const key = `${s.src} ${s.sport} ${s.dst} ${s.dport}`;
    let seq = next.get(key);
    if (seq === undefined) {
      seq = 1000 + next.size * 100_000;
      // The first direction opens with SYN, the other answers with SYN-ACK.
      out.push({ ...s, proto: "tcp", payload: "", seq, tcpFlags: next.size === 0 ? 0x02 : 0x12 });
      seq++;
    }
    const data = typeof s.payload === "string"
      ? new TextEncoder().encode(s.payload)
      : s.payload ?? new Uint8Array(0);
    for (let off = 0; off < data.length; off += segment) {
      const part = data.subarray(off, off + segment);
      out.push({ ...s, proto: "tcp", payload: part, seq, ts: (s.ts as number) + off * 1e-6 });
      seq += part.length;
    }
    next.set(key, seq);
  }
  return out;
}
