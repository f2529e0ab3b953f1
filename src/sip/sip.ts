/**
 * SIP message parser (RFC 3261 syntax, tolerant). Pure (no I/O).
 *
 * Header names are case-insensitive and compact forms are expanded (`i` → `call-id`, …); folded
 * (multi-line) headers are joined; repeated headers and comma lists are kept as several values. The
 * body is cut by Content-Length. Messages that cannot be used (bad start line, no Call-ID/CSeq/From/To)
 * are not thrown: the result says why they were skipped.
 *
 * @module
 */

import type { Datagram, TransportProto } from "./packets.ts";
import {
  COMPACT_HEADERS,
  headerEnd,
  headerMap,
  type HeaderSink,
  type NameAddr,
  parseNameAddr,
  parseVia,
  scanHeaders,
  sipStart,
  splitList,
  type Via,
} from "./sip_syntax.ts";

export {
  aorOf,
  COMPACT_HEADERS,
  endpoint,
  headerEnd,
  type NameAddr,
  parseNameAddr,
  parseVia,
  sipStart,
  splitList,
  type Via,
} from "./sip_syntax.ts";

/**
 * A parsed SIP message with where and when it was seen. `headers`, `from`, `to`, `via` and `contact`
 * are parsed on first access (most analyses never read most of them), which keeps a capture's
 * messages small in memory; `JSON.stringify` includes them.
 */
export interface SipMessage {
  /** Frame number of the datagram (TCP: the segment that completed the message). */
  frame: number;
  /** Timestamp, seconds since the epoch. */
  ts: number;
  /** Source address. */
  src: string;
  /** Source port. */
  sport: number;
  /** Destination address. */
  dst: string;
  /** Destination port. */
  dport: number;
  /** Transport the message travelled on. */
  transport: TransportProto;
  /** Request or response. */
  kind: "request" | "response";
  /** Request method; for responses the method from CSeq. */
  method: string;
  /** Request-URI ("" for responses). */
  requestUri: string;
  /** Status code (0 for requests). */
  status: number;
  /** Reason phrase ("" for requests). */
  reason: string;
  /** Header values by lowercase full name, in order of appearance (compact forms expanded). */
  readonly headers: Map<string, string[]>;
  /** Call-ID. */
  callId: string;
  /** CSeq number and method. */
  cseq: { num: number; method: string };
  /** From header. */
  readonly from: NameAddr;
  /** To header. */
  readonly to: NameAddr;
  /** Via values, topmost first. */
  readonly via: Via[];
  /** Contact values (a `*` contact has uri "*"). */
  readonly contact: NameAddr[];
  /** Expires header in seconds (undefined when absent or not numeric). */
  expires: number | undefined;
  /** User-Agent, or Server for responses that carry it ("" when absent). */
  userAgent: string;
  /** Content-Type, lowercased without parameters ("" when absent). */
  contentType: string;
  /** Content-Length header value (-1 when absent). */
  contentLength: number;
  /** Message body (a view). */
  body: Uint8Array;
  /** Size of the message in bytes. */
  size: number;
}

/** Why a payload did not yield a {@link SipMessage}. */
export interface SipSkip {
  /** Frame of the payload. */
  frame: number;
  /** What was wrong. */
  reason: string;
}

/** Result of {@link parseSipMessage}. */
export type SipParseResult = { ok: true; message: SipMessage } | { ok: false; reason: string };

/** Where a message was seen; all fields optional so tests can parse bare bytes. */
export type SipWhere = Partial<Omit<Datagram, "payload" | "sec" | "nsec">>;

const decoder = new TextDecoder();
const RESPONSE_RE = /^SIP\/2\.0[ \t]+(\d{3})(?:[ \t]+(.*))?$/;
const REQUEST_RE = /^([A-Za-z0-9!%*_+`'~.-]+)[ \t]+(\S+)[ \t]+SIP\/2\.0$/;
const CSEQ_RE = /^(\d{1,10})[ \t]+([A-Za-z0-9!%*_+`'~.-]+)/;
const EMPTY = new Uint8Array(0);

const ESSENTIAL = new Set([
  "call-id",
  "cseq",
  "from",
  "to",
  "content-length",
  "content-type",
  "expires",
  "user-agent",
  "server",
  "contact",
]);

/** Collects the first value of the headers every message needs; reused across parses. */
class Essentials implements HeaderSink {
  callId: string | undefined;
  cseq: string | undefined;
  from: string | undefined;
  to: string | undefined;
  contentLength: string | undefined;
  contentType: string | undefined;
  expires: string | undefined;
  userAgent: string | undefined;
  server: string | undefined;
  /** Contact values: one string in the usual case, an array when the header repeats. */
  contact: string | string[] | undefined;

  reset(): this {
    this.callId = undefined;
    this.cseq = undefined;
    this.from = undefined;
    this.to = undefined;
    this.contentLength = undefined;
    this.contentType = undefined;
    this.expires = undefined;
    this.userAgent = undefined;
    this.server = undefined;
    this.contact = undefined;
    return this;
  }

  wants(name: string): boolean {
    return ESSENTIAL.has(name);
  }

  header(name: string, value: string): void {
    switch (name) {
      case "call-id":
        this.callId ??= value;
        break;
      case "cseq":
        this.cseq ??= value;
        break;
      case "from":
        this.from ??= value;
        break;
      case "to":
        this.to ??= value;
        break;
      case "content-length":
        this.contentLength ??= value;
        break;
      case "content-type":
        this.contentType ??= value;
        break;
      case "expires":
        this.expires ??= value;
        break;
      case "user-agent":
        this.userAgent ??= value;
        break;
      case "server":
        this.server ??= value;
        break;
      case "contact":
        if (this.contact === undefined) this.contact = value;
        else if (typeof this.contact === "string") this.contact = [this.contact, value];
        else this.contact.push(value);
        break;
    }
  }
}

const essentials = new Essentials();

/** The message implementation: eager essentials, lazy structured headers. */
class Message implements SipMessage {
  frame = 0;
  ts = 0;
  src = "";
  sport = 0;
  dst = "";
  dport = 0;
  transport: TransportProto = "udp";
  kind: "request" | "response" = "request";
  method = "";
  requestUri = "";
  status = 0;
  reason = "";
  callId = "";
  cseq = { num: 0, method: "" };
  expires: number | undefined = undefined;
  userAgent = "";
  contentType = "";
  contentLength = -1;
  body: Uint8Array = EMPTY;
  size = 0;
  #text: string;
  #headerStart: number;
  #fromRaw: string;
  #toRaw: string;
  #contactRaw: string | string[] | undefined;
  #headers: Map<string, string[]> | undefined;
  #from: NameAddr | undefined;
  #to: NameAddr | undefined;
  #via: Via[] | undefined;
  #contact: NameAddr[] | undefined;

  constructor(text: string, headerStart: number, e: Essentials) {
    this.#text = text;
    this.#headerStart = headerStart;
    this.#fromRaw = e.from ?? "";
    this.#toRaw = e.to ?? "";
    this.#contactRaw = e.contact;
  }

  get headers(): Map<string, string[]> {
    return this.#headers ??= headerMap(this.#text, this.#headerStart);
  }

  get from(): NameAddr {
    return this.#from ??= parseNameAddr(this.#fromRaw);
  }

  get to(): NameAddr {
    return this.#to ??= parseNameAddr(this.#toRaw);
  }

  get via(): Via[] {
    return this.#via ??= (this.headers.get("via") ?? []).map(parseVia);
  }

  get contact(): NameAddr[] {
    // From the values kept at parse time: registrations read Contact without building every header.
    const raw = this.#contactRaw;
    const values = raw === undefined ? [] : typeof raw === "string" ? [raw] : raw;
    return this.#contact ??= values.flatMap((v) => (v.includes(",") ? splitList(v) : [v])).map(parseNameAddr);
  }

  toJSON(): object {
    return {
      ...this,
      headers: Object.fromEntries(this.headers),
      from: this.from,
      to: this.to,
      via: this.via,
      contact: this.contact,
      body: decoder.decode(this.body),
    };
  }
}

/**
 * Parses one SIP message from `payload`.
 *
 * @example
 * ```ts
 * const r = parseSipMessage(new TextEncoder().encode("SIP/2.0 200 OK\r\ni: a@b\r\n..."), { frame: 3 });
 * if (r.ok) console.log(r.message.status, r.message.callId); else console.log(r.reason);
 * ```
 */
export function parseSipMessage(payload: Uint8Array, where: SipWhere = {}): SipParseResult {
  if (sipStart(payload) !== 1) return { ok: false, reason: "no SIP start line" };
  const hEnd = headerEnd(payload);
  const text = decoder.decode(hEnd < 0 ? payload : payload.subarray(0, hEnd));
  let eol = text.indexOf("\n");
  if (eol < 0) eol = text.length;
  const startLine = text.slice(0, eol).trim();
  const rm = RESPONSE_RE.exec(startLine);
  const qm = rm ? null : REQUEST_RE.exec(startLine);
  if (!rm && !qm) return { ok: false, reason: `invalid start line "${startLine.slice(0, 80)}"` };
  const status = rm ? Number(rm[1]) : 0;
  if (rm && (status < 100 || status > 699)) {
    return { ok: false, reason: `status code ${status} out of range` };
  }
  const e = essentials.reset();
  scanHeaders(text, e, { from: eol + 1 });
  if (e.callId === undefined || e.callId === "") return { ok: false, reason: "missing Call-ID" };
  const cm = CSEQ_RE.exec(e.cseq ?? "");
  if (!cm) return { ok: false, reason: "missing or invalid CSeq" };
  if (e.from === undefined || e.to === undefined) return { ok: false, reason: "missing From or To" };
  const m = new Message(text, eol + 1, e);
  m.frame = where.frame ?? 0;
  m.ts = where.ts ?? 0;
  m.src = where.src ?? "";
  m.sport = where.sport ?? 0;
  m.dst = where.dst ?? "";
  m.dport = where.dport ?? 0;
  m.transport = where.proto ?? "udp";
  m.callId = e.callId;
  m.cseq = { num: Number(cm[1]), method: cm[2] ?? "" };
  if (rm) {
    m.kind = "response";
    m.status = status;
    m.reason = (rm[2] ?? "").trim();
    m.method = m.cseq.method;
  } else {
    m.method = qm?.[1] ?? "";
    m.requestUri = qm?.[2] ?? "";
  }
  const cl = e.contentLength;
  m.contentLength = cl !== undefined && /^\d{1,9}$/.test(cl) ? Number(cl) : -1;
  const bodyStart = hEnd < 0 ? payload.length : hEnd;
  const bodyEnd = m.contentLength >= 0
    ? Math.min(payload.length, bodyStart + m.contentLength)
    : payload.length;
  // Most messages have no body: share one empty view instead of allocating one each.
  if (bodyEnd > bodyStart) m.body = payload.subarray(bodyStart, bodyEnd);
  m.size = bodyEnd;
  if (e.expires !== undefined && /^\d{1,10}$/.test(e.expires)) m.expires = Number(e.expires);
  m.userAgent = e.userAgent ?? e.server ?? "";
  if (e.contentType !== undefined) m.contentType = (e.contentType.split(";")[0] ?? "").trim().toLowerCase();
  return { ok: true, message: m };
}

/** First value of a header (by full or compact name, any case), or undefined. */
export function header(message: SipMessage, name: string): string | undefined {
  const n = name.toLowerCase();
  return message.headers.get(COMPACT_HEADERS[n] ?? n)?.[0];
}

/** Short label of a message for ladders: "INVITE (SDP)", "180 Ringing". */
export function messageLabel(m: SipMessage): string {
  const base = m.kind === "request" ? m.method : `${m.status} ${m.reason}`.trim();
  return hasSdp(m) ? `${base} (SDP)` : base;
}

/** Whether the message carries an SDP body. */
export function hasSdp(m: SipMessage): boolean {
  if (m.body.length === 0) return false;
  if (m.contentType === "application/sdp") return true;
  // Some UAs omit Content-Type; an SDP body always begins with "v=".
  return m.contentType === "" && m.body[0] === 0x76 && m.body[1] === 0x3d;
}
