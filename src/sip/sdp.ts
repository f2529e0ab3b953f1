/**
 * SDP parser (RFC 4566/8866, tolerant) and offer/answer extraction from SIP messages (RFC 3264).
 * Pure (no I/O).
 *
 * @module
 */

import { STATIC_PAYLOAD_TYPES } from "./codecs.ts";
import { endpoint, hasSdp, messageLabel, type SipMessage } from "./sip.ts";

/** Media direction attribute. */
export type Direction = "sendrecv" | "sendonly" | "recvonly" | "inactive";

/** `c=` line. */
export interface SdpConnection {
  /** Network type, "IN". */
  netType: string;
  /** "IP4" or "IP6". */
  addrType: string;
  /** Address (multicast TTL/count suffixes removed). */
  address: string;
}

/** `o=` line. */
export interface SdpOrigin {
  /** User name. */
  username: string;
  /** Session id. */
  sessionId: string;
  /** Session version: changes when the session is modified. */
  sessionVersion: string;
  /** Connection facts of the originator. */
  connection: SdpConnection;
}

/** A codec offered on a media line. */
export interface SdpCodec {
  /** RTP payload type. */
  pt: number;
  /** Encoding name ("" when a dynamic type has no rtpmap). */
  name: string;
  /** Clock rate in Hz (0 when unknown). */
  clockRate: number;
  /** Channels (1 when not given). */
  channels: number;
  /** fmtp parameters ("" when none). */
  fmtp: string;
}

/** A generic `a=` attribute. */
export interface SdpAttribute {
  /** Name before ':'. */
  name: string;
  /** Value after ':' ("" for flags). */
  value: string;
}

/** One `m=` section. */
export interface SdpMedia {
  /** "audio", "video", … */
  type: string;
  /** Port (0 = rejected/disabled stream). */
  port: number;
  /** Number of ports (1 when not given). */
  portCount: number;
  /** Transport, e.g. "RTP/AVP". */
  proto: string;
  /** Formats as listed. */
  formats: string[];
  /** Effective connection: the media's own `c=` or the session's. */
  connection?: SdpConnection;
  /** Effective address ("" when none). */
  address: string;
  /** Effective direction: media attribute, else session attribute, else sendrecv. */
  direction: Direction;
  /** Codecs in format order. */
  codecs: SdpCodec[];
  /** ptime in ms, when given. */
  ptime?: number;
  /** RTCP port from a=rtcp, when given. */
  rtcpPort?: number;
  /** Whether the port is 0. */
  rejected: boolean;
  /** All media-level attributes. */
  attributes: SdpAttribute[];
}

/** A parsed session description. */
export interface Sdp {
  /** `v=` (normally 0; -1 when absent). */
  version: number;
  /** `o=`, when present and well-formed. */
  origin?: SdpOrigin;
  /** `s=`. */
  sessionName: string;
  /** Session-level `c=`. */
  connection?: SdpConnection;
  /** Session-level direction (sendrecv when not given). */
  direction: Direction;
  /** Session-level attributes. */
  attributes: SdpAttribute[];
  /** Media sections. */
  media: SdpMedia[];
  /** Problems found (unparsable lines); the rest is still parsed. */
  errors: string[];
}

const DIRECTIONS = new Set(["sendrecv", "sendonly", "recvonly", "inactive"]);
const decoder = new TextDecoder();

function parseConnection(value: string): SdpConnection | undefined {
  const parts = value.trim().split(/\s+/);
  if (parts.length < 3) return undefined;
  return { netType: parts[0]!, addrType: parts[1]!, address: (parts[2] ?? "").split("/")[0] ?? "" };
}

/**
 * Parses an SDP body. Never throws: unusable lines are listed in `errors`.
 *
 * @example
 * ```ts
 * const sdp = parseSdp("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n");
 * sdp.media[0]?.codecs[0]?.name; // "PCMU"
 * ```
 */
export function parseSdp(body: string | Uint8Array): Sdp {
  const text = typeof body === "string" ? body : decoder.decode(body);
  const sdp: Sdp = {
    version: -1,
    sessionName: "",
    direction: "sendrecv",
    attributes: [],
    media: [],
    errors: [],
  };
  let media: SdpMedia | undefined;
  let mediaDirection: Direction | undefined;
  const finish = () => {
    if (media === undefined) return;
    media.direction = mediaDirection ?? sdp.direction;
    mediaDirection = undefined;
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length && i < 10_000; i++) {
    const line = lines[i]!.trimEnd();
    if (line === "") continue;
    if (line.length < 2 || line[1] !== "=") {
      if (sdp.errors.length < 20) sdp.errors.push(`line ${i + 1}: not "x=value": "${line.slice(0, 40)}"`);
      continue;
    }
    const type = line[0];
    const value = line.slice(2);
    switch (type) {
      case "v":
        sdp.version = /^\d+$/.test(value.trim()) ? Number(value.trim()) : -1;
        break;
      case "o": {
        const p = value.trim().split(/\s+/);
        const c = p.length >= 6 ? parseConnection(p.slice(3).join(" ")) : undefined;
        if (c) sdp.origin = { username: p[0]!, sessionId: p[1]!, sessionVersion: p[2]!, connection: c };
        else if (sdp.errors.length < 20) sdp.errors.push(`line ${i + 1}: bad origin`);
        break;
      }
      case "s":
        if (media === undefined) sdp.sessionName = value;
        break;
      case "c": {
        const c = parseConnection(value);
        if (c === undefined) {
          if (sdp.errors.length < 20) sdp.errors.push(`line ${i + 1}: bad connection`);
        } else if (media !== undefined) {
          media.connection = c;
          media.address = c.address;
        } else sdp.connection = c;
        break;
      }
      case "m": {
        finish();
        const p = value.trim().split(/\s+/);
        const pm = /^(\d+)(?:\/(\d+))?$/.exec(p[1] ?? "");
        if (p.length < 3 || !pm) {
          if (sdp.errors.length < 20) sdp.errors.push(`line ${i + 1}: bad media line`);
          // Attributes until the next m= must not land on the session or the previous media.
          media = newMedia("", 0, 1, "", [], sdp);
          media.rejected = true;
          break;
        }
        media = newMedia(p[0]!, Number(pm[1]), pm[2] ? Number(pm[2]) : 1, p[2]!, p.slice(3), sdp);
        sdp.media.push(media);
        break;
      }
      case "a": {
        const colon = value.indexOf(":");
        const attr = {
          name: colon < 0 ? value : value.slice(0, colon),
          value: colon < 0 ? "" : value.slice(colon + 1),
        };
        if (media === undefined) {
          sdp.attributes.push(attr);
          if (DIRECTIONS.has(attr.name)) sdp.direction = attr.name as Direction;
        } else {
          media.attributes.push(attr);
          mediaAttribute(media, attr);
          if (DIRECTIONS.has(attr.name)) mediaDirection = attr.name as Direction;
        }
        break;
      }
      default:
        break;
    }
  }
  finish();
  return sdp;
}

function newMedia(
  type: string,
  port: number,
  portCount: number,
  proto: string,
  formats: string[],
  sdp: Sdp,
): SdpMedia {
  const codecs: SdpCodec[] = [];
  if (/RTP/i.test(proto)) {
    for (const f of formats) {
      if (!/^\d{1,3}$/.test(f)) continue;
      const pt = Number(f);
      const st = STATIC_PAYLOAD_TYPES.get(pt);
      codecs.push({
        pt,
        name: st?.name ?? "",
        clockRate: st?.clockRate ?? 0,
        channels: st?.channels ?? 1,
        fmtp: "",
      });
    }
  }
  return {
    type,
    port,
    portCount,
    proto,
    formats,
    connection: sdp.connection,
    address: sdp.connection?.address ?? "",
    direction: sdp.direction,
    codecs,
    rejected: port === 0,
    attributes: [],
  };
}

/** Codec index per media section: an m= line may list thousands of formats in hostile input. */
const codecIndex = new WeakMap<SdpMedia, Map<number, SdpCodec>>();

function codecByPt(media: SdpMedia, pt: number): SdpCodec | undefined {
  let index = codecIndex.get(media);
  if (index === undefined) {
    index = new Map();
    for (const c of media.codecs) if (!index.has(c.pt)) index.set(c.pt, c);
    codecIndex.set(media, index);
  }
  return index.get(pt);
}

function mediaAttribute(media: SdpMedia, attr: SdpAttribute): void {
  switch (attr.name) {
    case "rtpmap": {
      const m = /^(\d{1,3})\s+([^/\s]+)\/(\d+)(?:\/(\d+))?/.exec(attr.value);
      const codec = m ? codecByPt(media, Number(m[1])) : undefined;
      if (m && codec) {
        codec.name = m[2]!;
        codec.clockRate = Number(m[3]);
        codec.channels = m[4] ? Number(m[4]) : 1;
      }
      break;
    }
    case "fmtp": {
      const m = /^(\d{1,3})\s+(.*)$/.exec(attr.value);
      const codec = m ? codecByPt(media, Number(m[1])) : undefined;
      if (m && codec) codec.fmtp = m[2]!.trim();
      break;
    }
    case "ptime":
    case "maxptime": {
      const n = Number(attr.value.trim());
      if (attr.name === "ptime" && Number.isFinite(n) && n > 0) media.ptime = n;
      break;
    }
    case "rtcp": {
      const n = Number(attr.value.trim().split(/\s+/)[0]);
      if (Number.isInteger(n) && n > 0 && n < 65536) media.rtcpPort = n;
      break;
    }
    default:
      break;
  }
}

/** One side of an offer/answer exchange. */
export interface SdpSide {
  /** Frame of the SIP message. */
  frame: number;
  /** Time of the SIP message. */
  ts: number;
  /** Sender as ip:port. */
  from: string;
  /** Receiver as ip:port. */
  to: string;
  /** Message label, e.g. "INVITE (SDP)". */
  label: string;
  /** The session description. */
  sdp: Sdp;
}

/** An SDP offer and (when seen) its answer. */
export interface SdpExchange {
  /** Call-ID. */
  callId: string;
  /** CSeq number of the transaction that carried the offer. */
  cseq: number;
  /** Method of that transaction (INVITE, UPDATE, …). */
  method: string;
  /** The offer. */
  offer: SdpSide;
  /** The answer, when seen. */
  answer?: SdpSide;
}

function side(m: SipMessage): SdpSide {
  return {
    frame: m.frame,
    ts: m.ts,
    from: endpoint(m.src, m.sport),
    to: endpoint(m.dst, m.dport),
    label: messageLabel(m),
    sdp: parseSdp(m.body),
  };
}

/**
 * Pairs SDP offers with answers per call. An offer in a request is answered by a response of the same
 * transaction; an offer in a response (INVITE without SDP) is answered by the ACK or PRACK.
 * Retransmissions and the same message seen on several hops are counted once.
 *
 * @example
 * ```ts
 * for (const x of extractSdp(messages)) console.log(x.callId, x.offer.sdp.media[0]?.port, x.answer?.sdp.media[0]?.port);
 * ```
 */
export function extractSdp(messages: readonly SipMessage[], callId?: string): SdpExchange[] {
  const out: SdpExchange[] = [];
  // Per call: exchanges by transaction, and the latest offer made in a response still awaiting its
  // ACK/PRACK answer. Sets and single slots keep this linear whatever the capture holds.
  const byCall = new Map<string, { byTx: Map<string, SdpExchange>; open: SdpExchange | undefined }>();
  const offeredInResponse = new Set<SdpExchange>();
  for (const m of messages) {
    if (callId !== undefined && m.callId !== callId) continue;
    if (!hasSdp(m)) continue;
    let call = byCall.get(m.callId);
    if (call === undefined) {
      call = { byTx: new Map(), open: undefined };
      byCall.set(m.callId, call);
    }
    const tx = `${m.cseq.num} ${m.cseq.method}`;
    if (m.kind === "request") {
      if (call.open !== undefined && (m.method === "ACK" || m.method === "PRACK")) {
        call.open.answer = side(m);
        call.open = undefined;
        continue;
      }
      if (m.method === "ACK" || call.byTx.has(tx)) continue;
      const x: SdpExchange = { callId: m.callId, cseq: m.cseq.num, method: m.method, offer: side(m) };
      call.byTx.set(tx, x);
      out.push(x);
    } else {
      const x = call.byTx.get(tx);
      if (x !== undefined) {
        // The first response with SDP answers; later ones (183 then 200, other hops) repeat it.
        if (x.answer === undefined && !offeredInResponse.has(x)) x.answer = side(m);
        continue;
      }
      const y: SdpExchange = { callId: m.callId, cseq: m.cseq.num, method: m.cseq.method, offer: side(m) };
      call.byTx.set(tx, y);
      offeredInResponse.add(y);
      call.open = y;
      out.push(y);
    }
  }
  return out;
}
