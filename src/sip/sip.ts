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

/** A name-addr or addr-spec header value: `"Alice" <sip:alice@example.com>;tag=1`. */
export interface NameAddr {
  /** Display name without quotes ("" when absent). */
  display: string;
  /** The URI without angle brackets. */
  uri: string;
  /** The `tag` parameter ("" when absent). */
  tag: string;
  /** Header parameters after the URI (lowercase names; "" for valueless ones). */
  params: Record<string, string>;
}

/** One Via header value. */
export interface Via {
  /** Transport, e.g. "UDP", "TCP", "TLS", "WS". */
  transport: string;
  /** host[:port] the hop sent from. */
  sentBy: string;
  /** The branch parameter ("" when absent). */
  branch: string;
  /** All parameters (lowercase names). */
  params: Record<string, string>;
}

/** A parsed SIP message with where and when it was seen. */
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
  headers: Map<string, string[]>;
  /** Call-ID. */
  callId: string;
  /** CSeq number and method. */
  cseq: { num: number; method: string };
  /** From header. */
  from: NameAddr;
  /** To header. */
  to: NameAddr;
  /** Via values, topmost first. */
  via: Via[];
  /** Contact values (a `*` contact has uri "*"). */
  contact: NameAddr[];
  /** Expires header in seconds, if present and numeric. */
  expires?: number;
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

/** Compact header forms (RFC 3261 §7.3.3 and later RFCs) → full lowercase names. */
export const COMPACT_HEADERS: Readonly<Record<string, string>> = {
  i: "call-id",
  f: "from",
  t: "to",
  v: "via",
  m: "contact",
  l: "content-length",
  c: "content-type",
  k: "supported",
  s: "subject",
  e: "content-encoding",
  o: "event",
  u: "allow-events",
  r: "refer-to",
  b: "referred-by",
  x: "session-expires",
  a: "accept-contact",
  j: "reject-contact",
  d: "request-disposition",
  y: "identity",
  n: "identity-info",
};

/** Headers whose values are comma-separated lists (others, like WWW-Authenticate, contain commas). */
const LIST_HEADERS = new Set([
  "via",
  "contact",
  "route",
  "record-route",
  "allow",
  "supported",
  "require",
  "proxy-require",
  "unsupported",
  "allow-events",
  "accept",
  "accept-encoding",
  "accept-language",
  "content-encoding",
  "path",
  "service-route",
]);

const decoder = new TextDecoder();
const RESPONSE_RE = /^SIP\/2\.0[ \t]+(\d{3})(?:[ \t]+(.*))?$/;
const REQUEST_RE = /^([A-Za-z0-9!%*_+`'~.-]+)[ \t]+(\S+)[ \t]+SIP\/2\.0$/;
const CSEQ_RE = /^(\d{1,10})[ \t]+([A-Za-z0-9!%*_+`'~.-]+)/;
/** Longest start line {@link sipStart} will look for before giving up. */
const MAX_START_LINE = 2048;

/**
 * Whether `buf[start..end)` begins with a SIP start line: 1 yes, 0 no, -1 cannot tell yet (no line end
 * within the bytes given). Cheap enough to call on every UDP payload.
 */
export function sipStart(buf: Uint8Array, start: number, end: number): -1 | 0 | 1 {
  if (start >= end) return -1;
  const c0 = buf[start] ?? 0;
  if (c0 < 0x41 || c0 > 0x7a || (c0 > 0x5a && c0 < 0x61)) return 0;
  const limit = Math.min(end, start + MAX_START_LINE);
  let lf = -1;
  for (let i = start; i < limit; i++) {
    if (buf[i] === 10) {
      lf = i;
      break;
    }
  }
  if (lf < 0) return end - start >= MAX_START_LINE ? 0 : -1;
  let e = lf;
  if (e > start && buf[e - 1] === 13) e--;
  // "SIP/2.0 " at the start (response) or " SIP/2.0" at the end (request).
  if (e - start >= 12 && matchAt(buf, start, SIP20) && (buf[start + 7] === 32 || buf[start + 7] === 9)) {
    return 1;
  }
  if (e - start >= 14 && matchAt(buf, e - 7, SIP20) && (buf[e - 8] === 32 || buf[e - 8] === 9)) return 1;
  return 0;
}

const SIP20 = [0x53, 0x49, 0x50, 0x2f, 0x32, 0x2e, 0x30];

function matchAt(buf: Uint8Array, at: number, pattern: number[]): boolean {
  for (let i = 0; i < pattern.length; i++) if (buf[at + i] !== pattern[i]) return false;
  return true;
}

/**
 * Index just past the blank line ending the header section of `buf[start..end)`, or -1. Accepts CRLF
 * and bare LF line ends.
 */
export function headerEnd(buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end - 1; i++) {
    if (buf[i] !== 10) continue;
    const n = buf[i + 1];
    if (n === 10) return i + 2;
    if (n === 13 && buf[i + 2] === 10) return i + 3;
  }
  return -1;
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
  if (sipStart(payload, 0, payload.length) !== 1) return { ok: false, reason: "no SIP start line" };
  const hEnd = headerEnd(payload, 0, payload.length);
  const headText = decoder.decode(hEnd < 0 ? payload : payload.subarray(0, hEnd));
  const lines = headText.split(/\r?\n/);
  const startLine = (lines[0] ?? "").trim();
  let kind: "request" | "response";
  let method = "";
  let requestUri = "";
  let status = 0;
  let reason = "";
  const rm = RESPONSE_RE.exec(startLine);
  if (rm) {
    kind = "response";
    status = Number(rm[1]);
    reason = (rm[2] ?? "").trim();
    if (status < 100 || status > 699) return { ok: false, reason: `status code ${status} out of range` };
  } else {
    const qm = REQUEST_RE.exec(startLine);
    if (!qm) return { ok: false, reason: `invalid start line "${startLine.slice(0, 80)}"` };
    kind = "request";
    method = qm[1] ?? "";
    requestUri = qm[2] ?? "";
  }
  const headers = new Map<string, string[]>();
  let lastValues: string[] | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line === "") continue;
    const c = line.charCodeAt(0);
    if (c === 32 || c === 9) {
      // Folded continuation (RFC 3261 §7.3.1): joins the previous value with one space.
      if (lastValues !== undefined && lastValues.length > 0) {
        const last = lastValues.length - 1;
        lastValues[last] = `${lastValues[last]} ${line.trim()}`;
      }
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      lastValues = undefined;
      continue;
    }
    let name = line.slice(0, colon).trim().toLowerCase();
    name = COMPACT_HEADERS[name] ?? name;
    const value = line.slice(colon + 1).trim();
    let values = headers.get(name);
    if (values === undefined) {
      values = [];
      headers.set(name, values);
    }
    values.push(value);
    lastValues = values;
  }
  // Lists are split after folding so a list continued on the next line stays whole.
  for (const [name, values] of headers) {
    if (LIST_HEADERS.has(name) && values.some((v) => v.includes(","))) {
      headers.set(name, values.flatMap(splitList));
    }
  }
  const callId = headers.get("call-id")?.[0] ?? "";
  if (callId === "") return { ok: false, reason: "missing Call-ID" };
  const cm = CSEQ_RE.exec(headers.get("cseq")?.[0] ?? "");
  if (!cm) return { ok: false, reason: "missing or invalid CSeq" };
  const cseq = { num: Number(cm[1]), method: cm[2] ?? "" };
  if (kind === "response") method = cseq.method;
  const fromRaw = headers.get("from")?.[0];
  const toRaw = headers.get("to")?.[0];
  if (fromRaw === undefined || toRaw === undefined) return { ok: false, reason: "missing From or To" };
  const clRaw = headers.get("content-length")?.[0];
  const contentLength = clRaw !== undefined && /^\d{1,9}$/.test(clRaw) ? Number(clRaw) : -1;
  const bodyStart = hEnd < 0 ? payload.length : hEnd;
  const bodyEnd = contentLength >= 0 ? Math.min(payload.length, bodyStart + contentLength) : payload.length;
  const expRaw = headers.get("expires")?.[0];
  const contentType = (headers.get("content-type")?.[0] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const message: SipMessage = {
    frame: where.frame ?? 0,
    ts: where.ts ?? 0,
    src: where.src ?? "",
    sport: where.sport ?? 0,
    dst: where.dst ?? "",
    dport: where.dport ?? 0,
    transport: where.proto ?? "udp",
    kind,
    method,
    requestUri,
    status,
    reason,
    headers,
    callId,
    cseq,
    from: parseNameAddr(fromRaw),
    to: parseNameAddr(toRaw),
    via: (headers.get("via") ?? []).map(parseVia),
    contact: (headers.get("contact") ?? []).map(parseNameAddr),
    userAgent: headers.get("user-agent")?.[0] ?? headers.get("server")?.[0] ?? "",
    contentType,
    contentLength,
    body: payload.subarray(bodyStart, bodyEnd),
    size: bodyEnd,
  };
  if (expRaw !== undefined && /^\d{1,10}$/.test(expRaw)) message.expires = Number(expRaw);
  return { ok: true, message };
}

/** First value of a header (by full or compact name, any case), or undefined. */
export function header(message: SipMessage, name: string): string | undefined {
  const n = name.toLowerCase();
  return message.headers.get(COMPACT_HEADERS[n] ?? n)?.[0];
}

/** Splits a header value at commas outside quotes and angle brackets. */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "<") depth++;
    else if (c === ">") depth = Math.max(0, depth - 1);
    else if (c === "," && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((v) => v !== "");
}

/** Parses `;name=value;flag` parameters. */
function parseParams(text: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const part of text.split(";")) {
    const p = part.trim();
    if (p === "") continue;
    const eq = p.indexOf("=");
    const name = (eq < 0 ? p : p.slice(0, eq)).trim().toLowerCase();
    let value = eq < 0 ? "" : p.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name !== "" && !(name in params)) params[name] = value;
  }
  return params;
}

/**
 * Parses a From/To/Contact style value.
 *
 * @example
 * ```ts
 * parseNameAddr('"Bob" <sip:bob@b.example>;tag=9'); // { display: "Bob", uri: "sip:bob@b.example", tag: "9", … }
 * ```
 */
export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  let display = "";
  let uri: string;
  let rest: string;
  let lt = -1;
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "<") {
      lt = i;
      break;
    }
  }
  if (lt >= 0) {
    display = v.slice(0, lt).trim();
    if (display.length >= 2 && display.startsWith('"') && display.endsWith('"')) {
      display = display.slice(1, -1).replace(/\\(.)/g, "$1");
    }
    const gt = v.indexOf(">", lt);
    uri = v.slice(lt + 1, gt < 0 ? v.length : gt).trim();
    rest = gt < 0 ? "" : v.slice(gt + 1);
  } else {
    // addr-spec form: parameters after the URI belong to the header (RFC 3261 §20.10).
    const semi = v.indexOf(";");
    uri = (semi < 0 ? v : v.slice(0, semi)).trim();
    rest = semi < 0 ? "" : v.slice(semi);
  }
  const params = parseParams(rest);
  return { display, uri, tag: params.tag ?? "", params };
}

/** Parses one Via value: `SIP/2.0/UDP host:port;branch=z9hG4bK…`. */
export function parseVia(value: string): Via {
  const semi = value.indexOf(";");
  const head = (semi < 0 ? value : value.slice(0, semi)).trim();
  const params = parseParams(semi < 0 ? "" : value.slice(semi));
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*(\S+)\s+(.*)$/i.exec(head);
  return {
    transport: (m?.[1] ?? "").toUpperCase(),
    sentBy: (m?.[2] ?? head).replace(/\s+/g, ""),
    branch: params.branch ?? "",
    params,
  };
}

/**
 * The address-of-record part of a SIP URI: scheme, user and host, lowercased host, without
 * parameters or headers — used to group registrations.
 */
export function aorOf(uri: string): string {
  const u = uri.trim().replace(/^</, "");
  const end = u.search(/[;?>]/);
  const base = end < 0 ? u : u.slice(0, end);
  const at = base.lastIndexOf("@");
  const colon = base.indexOf(":");
  const scheme = colon < 0 ? "" : base.slice(0, colon).toLowerCase();
  if (at < 0) return colon < 0 ? base.toLowerCase() : `${scheme}:${base.slice(colon + 1).toLowerCase()}`;
  return `${scheme}:${base.slice(colon + 1, at)}@${base.slice(at + 1).toLowerCase()}`;
}

/** Endpoint label `ip:port` (`[v6]:port` for IPv6). */
export function endpoint(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
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
