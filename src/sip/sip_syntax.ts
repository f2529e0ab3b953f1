/**
 * SIP syntax helpers (RFC 3261 §7, §20, §25): start-line detection, header-section framing, header
 * scanning with folding and compact forms, name-addr, Via and parameter parsing. Pure.
 *
 * @module
 */

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
export const LIST_HEADERS: ReadonlySet<string> = new Set([
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

/** Longest start line {@link sipStart} will look for before giving up. */
const MAX_START_LINE = 2048;

/**
 * Whether `buf[start..end)` begins with a SIP start line: 1 yes, 0 no, -1 cannot tell yet (no line end
 * within the bytes given). Cheap enough to call on every UDP payload.
 */
export function sipStart(buf: Uint8Array, start = 0): -1 | 0 | 1 {
  const end = buf.length;
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
export function headerEnd(buf: Uint8Array, start = 0): number {
  const end = buf.length;
  for (let i = start; i < end - 1; i++) {
    if (buf[i] !== 10) continue;
    const n = buf[i + 1];
    if (n === 10) return i + 2;
    if (n === 13 && buf[i + 2] === 10) return i + 3;
  }
  return -1;
}

/** Receives header fields from {@link scanHeaders}. */
export interface HeaderSink {
  /** Whether the value of header `name` is needed; unwanted values are never sliced out of the text. */
  wants(name: string): boolean;
  /** One wanted header field: lowercase full name (compact forms expanded), value with folding joined. */
  header(name: string, value: string): void;
}

/** Options of {@link scanHeaders}. */
export interface ScanHeadersOptions {
  /** Index where the header lines start (just after the start line). Default 0. */
  from?: number;
}

/**
 * Walks the header lines of `text` from `options.from` to its end, joining folded
 * continuation lines (RFC 3261 §7.3.1) with one space, and hands each field to `sink`. Lines without a
 * colon are skipped.
 */
export function scanHeaders(text: string, sink: HeaderSink, options: ScanHeadersOptions = {}): void {
  const n = text.length;
  let pos = options.from ?? 0;
  let name = "";
  let value = "";
  while (pos < n) {
    let next = text.indexOf("\n", pos);
    if (next < 0) next = n;
    let end = next;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    if (end > pos) {
      const c = text.charCodeAt(pos);
      if (c === 32 || c === 9) {
        if (name !== "") value = `${value} ${text.slice(pos, end).trim()}`;
      } else {
        if (name !== "") sink.header(name, value);
        // Search the colon within this line only: indexOf() would rescan the rest of the text for
        // every colon-less line, quadratic on hostile input.
        let colon = pos;
        while (colon < end && text.charCodeAt(colon) !== 58) colon++;
        name = colon > pos && colon < end ? canonicalName(text.slice(pos, colon)) : "";
        if (name !== "" && sink.wants(name)) value = text.slice(colon + 1, end).trim();
        else name = "";
      }
    }
    pos = next + 1;
  }
  if (name !== "") sink.header(name, value);
}

/**
 * All header fields of `text` from `pos` by lowercase full name, in order, with comma lists split into
 * separate values (after folding, so a list continued on the next line stays whole).
 */
export function headerMap(text: string, pos: number): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  scanHeaders(text, {
    wants: () => true,
    header(name, value) {
      const values = headers.get(name);
      // A literal sizes the array to one element; push() on [] would reserve 16 slots.
      if (values === undefined) headers.set(name, [value]);
      else values.push(value);
    },
  }, { from: pos });
  for (const [name, values] of headers) {
    if (LIST_HEADERS.has(name) && values.some((v) => v.includes(","))) {
      headers.set(name, values.flatMap(splitList));
    }
  }
  return headers;
}

const nameCache = new Map<string, string>();

/** Lowercase full header name for a raw name as written (compact forms expanded), interned. */
function canonicalName(raw: string): string {
  let name = nameCache.get(raw);
  if (name === undefined) {
    const lower = raw.trim().toLowerCase();
    name = COMPACT_HEADERS[lower] ?? lower;
    // Bounded: hostile input with endless distinct names must not grow the cache forever.
    if (nameCache.size < 4096) nameCache.set(raw, name);
  }
  return name;
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
