/**
 * TCP stream reassembly for SIP over TCP, and SIP message framing by Content-Length (RFC 3261 §18.3).
 * Pure (no I/O), bounded memory.
 *
 * Each direction of a connection is a stream keyed by its 4-tuple. Segments are delivered in sequence
 * order: retransmissions are dropped, overlaps trimmed, early segments held until the gap fills (or
 * the hold limit is hit, then the gap is skipped and reported). The byte stream is cut into messages:
 * headers up to the blank line, then Content-Length bytes of body. CRLF keep-alives are skipped. A
 * stream that does not start like SIP is ignored from then on.
 *
 * @module
 */

import type { Datagram, Packet } from "./packets.ts";
import { headerEnd, sipStart } from "./sip_syntax.ts";

/** Limits of a {@link TcpReassembler}. */
export interface TcpReassemblerOptions {
  /** Streams tracked at once; the oldest is dropped beyond this. Default 4096. */
  maxStreams?: number;
  /** Out-of-order segments held per stream before the gap is skipped. Default 256. */
  maxPendingSegments?: number;
  /** Out-of-order bytes held per stream before the gap is skipped. Default 1 MiB. */
  maxPendingBytes?: number;
  /** Longest header section accepted. Default 64 KiB. */
  maxHeaderBytes?: number;
  /** Largest Content-Length accepted. Default 4 MiB. */
  maxBodyBytes?: number;
}

/** A stream problem: data lost or unusable. */
export interface TcpIssue {
  /** Frame where it was noticed. */
  frame: number;
  /** Stream as "src:sport > dst:dport". */
  stream: string;
  /** What happened. */
  reason: string;
}

interface Segment {
  seq: number;
  data: Uint8Array;
}

interface Stream {
  key: string;
  nextSeq: number;
  known: boolean;
  pending: Segment[];
  pendingBytes: number;
  /** Bytes not yet framed into a message: a view of a segment or of {@link store}. */
  buf: Uint8Array;
  /** Growable storage for messages that span segments. */
  store: Uint8Array | undefined;
  /** End of the data written to {@link store}. */
  storeEnd: number;
  /** Where {@link headerEnd} should resume: avoids rescanning a slowly growing header. */
  scanned: number;
  messages: number;
  /** Bytes that may still be skipped while looking for a start line before the stream counts as non-SIP. */
  resyncBudget: number;
  dead: boolean;
}

const EMPTY = new Uint8Array(0);
const RESYNC_BYTES = 65_536;
const MAX_ISSUES = 1000;

/**
 * Reassembles TCP segments into SIP messages.
 *
 * @example
 * ```ts
 * const tcp = new TcpReassembler();
 * for (const p of packets) if (p.proto === "tcp") for (const m of tcp.push(p)) handle(m.payload);
 * for (const m of tcp.flush()) handle(m.payload);
 * ```
 */
export class TcpReassembler {
  #streams = new Map<string, Stream>();
  #maxStreams: number;
  #maxPendingSegments: number;
  #maxPendingBytes: number;
  #maxHeader: number;
  #maxBody: number;
  #out: Datagram[] = [];
  #where: Packet | undefined;
  /** Problems seen (at most 1000 kept; {@link issueCount} counts all). */
  readonly issues: TcpIssue[] = [];
  /** Number of problems seen. */
  issueCount = 0;

  /** Creates a reassembler with the given limits. */
  constructor(options: TcpReassemblerOptions = {}) {
    this.#maxStreams = Math.max(1, options.maxStreams ?? 4096);
    this.#maxPendingSegments = Math.max(1, options.maxPendingSegments ?? 256);
    this.#maxPendingBytes = Math.max(1, options.maxPendingBytes ?? 1 << 20);
    this.#maxHeader = Math.max(64, options.maxHeaderBytes ?? 65_536);
    this.#maxBody = Math.max(0, options.maxBodyBytes ?? 4 << 20);
  }

  /** Adds one TCP segment; returns the SIP messages it completed (payload = whole message). */
  push(packet: Packet): Datagram[] {
    if (packet.proto !== "tcp") return [];
    const key = `${packet.src} ${packet.sport} ${packet.dst} ${packet.dport}`;
    let s = this.#streams.get(key);
    if ((packet.flags & 0x04) !== 0) {
      // RST: the connection is gone; a later SYN starts afresh.
      if (s !== undefined) this.#streams.delete(key);
      return [];
    }
    if (s === undefined) {
      if (packet.payload.length === 0 && (packet.flags & 0x02) === 0) return [];
      if (this.#streams.size >= this.#maxStreams) {
        for (const k of this.#streams.keys()) {
          this.#streams.delete(k);
          break;
        }
      }
      s = {
        key,
        nextSeq: 0,
        known: false,
        pending: [],
        pendingBytes: 0,
        buf: EMPTY,
        store: undefined,
        storeEnd: 0,
        scanned: 0,
        messages: 0,
        // A stream first seen without its SYN may begin mid-message: allow a bounded search for SIP.
        resyncBudget: (packet.flags & 0x02) !== 0 ? 0 : RESYNC_BYTES,
        dead: false,
      };
      this.#streams.set(key, s);
    }
    if (s.dead) return [];
    this.#where = packet;
    this.#out = [];
    let seq = packet.seq;
    if ((packet.flags & 0x02) !== 0) {
      seq = (seq + 1) >>> 0;
      s.nextSeq = seq;
      s.known = true;
      s.pending = [];
      s.pendingBytes = 0;
      s.buf = EMPTY;
      s.scanned = 0;
    }
    if (packet.payload.length > 0) this.#segment(s, seq, packet.payload);
    return this.#out;
  }

  /** Ends every stream: skips remaining gaps, frames what is held, reports incomplete messages. */
  flush(): Datagram[] {
    this.#out = [];
    for (const s of this.#streams.values()) {
      if (s.dead) continue;
      while (s.pending.length > 0) this.#skipGap(s);
      if (s.buf.length > 0 && this.#where !== undefined) {
        this.#issue(s, `${s.buf.length} bytes of an incomplete message at end of capture`);
      }
    }
    this.#streams.clear();
    return this.#out;
  }

  #segment(s: Stream, seq: number, data: Uint8Array): void {
    if (!s.known) {
      s.nextSeq = seq;
      s.known = true;
    }
    const diff = (seq - s.nextSeq) | 0;
    if (diff > 0) {
      this.#hold(s, seq, data);
      return;
    }
    if (diff < 0) {
      // Retransmission or overlap: keep only bytes beyond what was delivered.
      if (data.length <= -diff) return;
      data = data.subarray(-diff);
    }
    this.#deliver(s, data);
    this.#drain(s);
  }

  #hold(s: Stream, seq: number, data: Uint8Array): void {
    for (const p of s.pending) if (p.seq === seq && p.data.length >= data.length) return;
    s.pending.push({ seq, data });
    s.pendingBytes += data.length;
    if (s.pending.length > this.#maxPendingSegments || s.pendingBytes > this.#maxPendingBytes) {
      this.#skipGap(s);
    }
  }

  /** Delivers held segments that became in order. */
  #drain(s: Stream): void {
    let progress = true;
    while (progress && s.pending.length > 0 && !s.dead) {
      progress = false;
      for (let i = 0; i < s.pending.length; i++) {
        const p = s.pending[i]!;
        const diff = (p.seq - s.nextSeq) | 0;
        if (diff > 0) continue;
        s.pending.splice(i, 1);
        s.pendingBytes -= p.data.length;
        if (p.data.length > -diff) this.#deliver(s, p.data.subarray(-diff));
        progress = true;
        break;
      }
    }
  }

  /** Gives up on the missing bytes before the earliest held segment. */
  #skipGap(s: Stream): void {
    let best = s.pending[0];
    if (best === undefined) return;
    for (const p of s.pending) if (((p.seq - best.seq) | 0) < 0) best = p;
    const gap = ((best.seq - s.nextSeq) | 0) >>> 0;
    this.#issue(s, `${gap} bytes missing from the stream; ${s.buf.length} buffered bytes dropped`);
    // A message cut by a gap is unusable; resynchronise at the next start line.
    s.buf = EMPTY;
    s.scanned = 0;
    s.resyncBudget = Math.max(s.resyncBudget, RESYNC_BYTES);
    s.nextSeq = best.seq;
    this.#drain(s);
  }

  #deliver(s: Stream, data: Uint8Array): void {
    s.nextSeq = (s.nextSeq + data.length) >>> 0;
    const have = s.buf.length;
    if (have === 0) s.buf = data; // zero-copy: frame straight from the segment
    else if (
      s.store !== undefined && s.buf.buffer === s.store.buffer && s.buf.byteOffset + have === s.storeEnd &&
      s.storeEnd + data.length <= s.store.length
    ) {
      // Append after the unframed tail; bytes of messages already emitted are never overwritten.
      s.store.set(data, s.storeEnd);
      s.storeEnd += data.length;
      s.buf = s.store.subarray(s.storeEnd - have - data.length, s.storeEnd);
    } else {
      // Grow geometrically so a message arriving in many small segments costs linear, not quadratic, copying.
      const store = new Uint8Array(Math.max(4096, (have + data.length) * 2));
      store.set(s.buf);
      store.set(data, have);
      s.store = store;
      s.storeEnd = have + data.length;
      s.buf = store.subarray(0, s.storeEnd);
    }
    this.#frame(s);
  }

  #frame(s: Stream): void {
    let buf = s.buf;
    let start = 0;
    const end = buf.length;
    while (start < end) {
      while (start < end && (buf[start] === 13 || buf[start] === 10)) start++;
      if (start >= end) break;
      const st = sipStart(buf, start);
      if (st === -1) break;
      if (st === 0) {
        if (s.messages === 0 && s.resyncBudget <= 0) {
          // Not SIP (e.g. HTTP or TLS): stop buffering this stream for good.
          s.dead = true;
          s.pending = [];
          s.pendingBytes = 0;
          start = end;
          break;
        }
        // Mid-message data (capture started late, or after a gap): skip to the next start line.
        const next = resync(buf, start, end);
        if (s.messages > 0 && s.resyncBudget <= 0) {
          this.#issue(s, `${next - start} bytes of non-SIP data skipped`);
        }
        s.resyncBudget -= next - start;
        start = next;
        continue;
      }
      const from = Math.max(start, s.scanned);
      const hEnd = headerEnd(buf, from > start + 3 ? from - 3 : start);
      if (hEnd < 0) {
        if (end - start > this.#maxHeader) {
          this.#issue(s, `header section longer than ${this.#maxHeader} bytes dropped`);
          start = end;
        } else s.scanned = end;
        break;
      }
      const cl = contentLength(buf.subarray(start, hEnd));
      if (cl > this.#maxBody) {
        this.#issue(s, `Content-Length ${cl} exceeds ${this.#maxBody}; message dropped`);
        start = end;
        break;
      }
      const msgEnd = hEnd + Math.max(0, cl);
      if (msgEnd > end) {
        s.scanned = hEnd;
        break;
      }
      const w = this.#where!;
      this.#out.push({
        frame: w.frame,
        ts: w.ts,
        sec: w.sec,
        nsec: w.nsec,
        src: w.src,
        dst: w.dst,
        sport: w.sport,
        dport: w.dport,
        proto: "tcp",
        payload: buf.subarray(start, msgEnd),
      });
      s.messages++;
      start = msgEnd;
      s.scanned = 0;
    }
    // Keep the unframed tail as a view: it pins the capture buffer, which is alive anyway.
    if (start >= end) buf = EMPTY;
    else if (start > 0) buf = buf.subarray(start);
    if (start > 0) s.scanned = Math.max(0, s.scanned - start);
    s.buf = buf;
  }

  #issue(s: Stream, reason: string): void {
    this.issueCount++;
    if (this.issues.length >= MAX_ISSUES) return;
    const [src, sport, dst, dport] = s.key.split(" ");
    this.issues.push({ frame: this.#where?.frame ?? 0, stream: `${src}:${sport} > ${dst}:${dport}`, reason });
  }
}

/**
 * Content-Length (or compact `l`) from a header section; -1 when absent or not a number (RFC 3261
 * requires it on streams, so absence is treated as an empty body by callers).
 */
export function contentLength(header: Uint8Array): number {
  const buf = header;
  const end = header.length;
  let i = 0;
  while (i < end) {
    let lineEnd = i;
    while (lineEnd < end && buf[lineEnd] !== 10) lineEnd++;
    const c = (buf[i] ?? 0) | 0x20;
    if (c === 0x6c || c === 0x63) {
      let j = i;
      let name = "";
      while (j < lineEnd && buf[j] !== 0x3a && j - i < 20) {
        name += String.fromCharCode((buf[j] ?? 0) | 0x20);
        j++;
      }
      name = name.trim();
      if (buf[j] === 0x3a && (name === "content-length" || name === "l")) {
        j++;
        while (j < lineEnd && (buf[j] === 32 || buf[j] === 9)) j++;
        let n = 0;
        let digits = 0;
        while (j < lineEnd && (buf[j] ?? 0) >= 48 && (buf[j] ?? 0) <= 57 && digits < 10) {
          n = n * 10 + ((buf[j] ?? 0) - 48);
          j++;
          digits++;
        }
        return digits > 0 ? n : -1;
      }
    }
    i = lineEnd + 1;
  }
  return -1;
}

/**
 * Position of the next line in `buf[start..end)` that starts like SIP (or may, when cut off), else
 * `end`.
 */
function resync(buf: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    if (buf[i] !== 10) continue;
    let j = i + 1;
    while (j < end && (buf[j] === 13 || buf[j] === 10)) j++;
    if (j >= end) return end;
    if (sipStart(buf, j) !== 0) return j;
    i = j - 1;
  }
  return end;
}
