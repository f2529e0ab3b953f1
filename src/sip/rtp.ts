/**
 * RTP/RTCP detection and per-SSRC stream statistics (RFC 3550 Appendix A.1, A.3, A.8). Pure (no I/O).
 *
 * A stream is one SSRC on one (src, sport, dst, dport) path, like Wireshark's RTP streams. Loss is
 * expected − received with 16-bit sequence wraparound tracked as cycles (extended sequence numbers), so
 * duplicates make it negative, as in RFC 3550. Interarrival jitter uses the payload type's RTP clock
 * rate: static types from RFC 3551, dynamic ones from SDP `rtpmap` seen earlier in the capture (see
 * {@link RtpAnalyzer.learnSdp}), else 8000 Hz with `clockRateSource: "assumed"`.
 *
 * @module
 */

import { type PayloadFormat, STATIC_PAYLOAD_TYPES } from "./codecs.ts";
import type { Datagram } from "./packets.ts";
import { estimateMos, MOS_MODEL } from "./mos.ts";
import { parseSdp, type Sdp } from "./sdp.ts";

/** What a UDP payload looks like. */
export type MediaKind = "rtp" | "rtcp";

/** Statistics of one RTP stream. */
export interface RtpStreamStats {
  /** Synchronisation source. */
  ssrc: number;
  /** SSRC as 0x-prefixed hex, as tshark prints it. */
  ssrcHex: string;
  /** Sender address. */
  src: string;
  /** Sender port. */
  sport: number;
  /** Receiver address. */
  dst: string;
  /** Receiver port. */
  dport: number;
  /** Payload type of the first packet. */
  payloadType: number;
  /** Packets per payload type (e.g. audio plus comfort noise or telephone-event). */
  payloadTypes: Record<number, number>;
  /** Codec name of `payloadType` ("" when unknown). */
  codec: string;
  /** RTP clock rate used for jitter. */
  clockRate: number;
  /** Where `clockRate` came from. */
  clockRateSource: "static" | "sdp" | "assumed";
  /** Whether the receiving (or sending) endpoint was announced in SDP. */
  sdpMatched: boolean;
  /** Packets received (duplicates included). */
  packets: number;
  /** Sequence number of the first packet. */
  firstSeq: number;
  /** Highest sequence number seen (16-bit). */
  lastSeq: number;
  /** Expected packets: extended highest − base + 1 (summed over restarts). */
  expected: number;
  /** expected − received per RFC 3550 A.3; negative when duplicates outnumber losses. */
  lost: number;
  /** max(lost, 0) / expected in percent. */
  lossPercent: number;
  /** Packets whose sequence number was already received. */
  duplicates: number;
  /** Packets that arrived after a higher sequence number (late, not duplicate). */
  outOfOrder: number;
  /** Sequence restarts (a jump > 3000 confirmed by the next packet, RFC 3550 A.1). */
  seqJumps: number;
  /** duplicates + outOfOrder + seqJumps. */
  seqErrors: number;
  /** Packets with the marker bit set. */
  markers: number;
  /** Frame of the first packet. */
  firstFrame: number;
  /** Time of the first packet, seconds since the epoch. */
  startTs: number;
  /** Time of the last packet. */
  endTs: number;
  /** endTs − startTs in seconds. */
  durationS: number;
  /** Largest gap between consecutive packets in ms. */
  maxDeltaMs: number;
  /** Mean gap between consecutive packets in ms. */
  meanDeltaMs: number;
  /** Interarrival jitter after the last packet (RFC 3550 A.8) in ms. */
  jitterMs: number;
  /** Highest jitter value reached in ms. */
  maxJitterMs: number;
  /** Mean of the per-packet jitter values in ms. */
  meanJitterMs: number;
  /** MOS estimate (see `mosModel`). */
  mos: number;
  /** E-model R factor behind `mos`. */
  rFactor: number;
  /** The model used for `mos`. */
  mosModel: string;
}

/** Options of {@link RtpAnalyzer} and {@link rtpStreams}. */
export interface RtpOptions {
  /**
   * Accept RTP on endpoints not announced in SDP when the header is valid and both ports are ≥ 1024
   * (not 5060/5061). Default true.
   */
  heuristic?: boolean;
  /** Packetisation time in ms assumed for MOS (default 20). */
  ptimeMs?: number;
}

/**
 * Classifies a UDP payload by its header alone: RTCP when the second byte is 192–223 (RFC 5761 demux;
 * SR 200, RR 201, SDES 202, BYE 203, APP 204, feedback 205–207) with a sane length, RTP when version 2
 * and CSRC list, extension and padding fit, else undefined.
 */
export function classifyRtp(payload: Uint8Array): MediaKind | undefined {
  const len = payload.length;
  if (len < 8) return undefined;
  const b0 = payload[0]!;
  if (b0 >> 6 !== 2) return undefined;
  const b1 = payload[1]!;
  if (b1 >= 192 && b1 <= 223) {
    const words = (payload[2]! << 8) | payload[3]!;
    return (words + 1) * 4 <= len ? "rtcp" : undefined;
  }
  if (len < 12) return undefined;
  let header = 12 + (b0 & 15) * 4;
  if ((b0 & 0x10) !== 0) {
    if (header + 4 > len) return undefined;
    header += 4 + ((payload[header + 2]! << 8) | payload[header + 3]!) * 4;
  }
  if (header > len) return undefined;
  if ((b0 & 0x20) !== 0) {
    const pad = payload[len - 1]!;
    if (pad === 0 || header + pad > len) return undefined;
  }
  return "rtp";
}

const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
/** Late packets are at most MAX_MISORDER behind the highest sequence number; 128 slots cover them. */
const WINDOW = 128;
const SEQ_MOD = 65536;

class Stream {
  readonly ptCounts = new Map<number, number>();
  /** Which of the last 128 sequence numbers (indexed by seq & 127) arrived: finds duplicates among late packets. */
  readonly seen = new Uint8Array(WINDOW);
  packets = 0;
  received = 0;
  baseSeq: number;
  maxSeq: number;
  cycles = 0;
  badSeq = SEQ_MOD + 1;
  expectedBefore = 0;
  receivedBefore = 0;
  duplicates = 0;
  outOfOrder = 0;
  seqJumps = 0;
  markers = 0;
  readonly firstSec: number;
  readonly firstNsec: number;
  endTs = 0;
  lastArrival = 0;
  prevArrival = 0;
  lastRtpTs = 0;
  maxDelta = 0;
  sumDelta = 0;
  jitter = 0;
  maxJitter = 0;
  sumJitter = 0;
  clockPt = -1;
  clock = 8000;
  clockSource: "static" | "sdp" | "assumed" = "assumed";

  constructor(
    readonly ssrc: number,
    readonly p: Datagram,
    readonly firstSeq: number,
    readonly payloadType: number,
    readonly formats: Map<number, PayloadFormat> | undefined,
  ) {
    this.baseSeq = firstSeq;
    this.maxSeq = firstSeq;
    this.firstSec = p.sec;
    this.firstNsec = p.nsec;
  }

  resolve(pt: number): void {
    this.clockPt = pt;
    const sdp = this.formats?.get(pt);
    const st = STATIC_PAYLOAD_TYPES.get(pt);
    if (pt < 96 && st !== undefined) {
      this.clock = st.clockRate;
      this.clockSource = "static";
    } else if (sdp !== undefined && sdp.clockRate > 0) {
      this.clock = sdp.clockRate;
      this.clockSource = "sdp";
    } else {
      this.clock = 8000;
      this.clockSource = "assumed";
    }
  }

  add(p: Datagram, b: Uint8Array): void {
    const seq = (b[2]! << 8) | b[3]!;
    const pt = b[1]! & 0x7f;
    const rtpTs = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
    if ((b[1]! & 0x80) !== 0) this.markers++;
    this.ptCounts.set(pt, (this.ptCounts.get(pt) ?? 0) + 1);
    const arrival = (p.sec - this.firstSec) + (p.nsec - this.firstNsec) / 1e9;
    const first = this.packets === 0;
    this.packets++;
    this.endTs = p.ts;
    // Deltas are in arrival order over all packets; jitter below skips duplicates.
    let duplicate = false;
    let skip = false;
    if (first) {
      this.mark(seq);
      this.received = 1;
    } else {
      const delta = arrival - this.prevArrival;
      if (delta > this.maxDelta) this.maxDelta = delta;
      this.sumDelta += delta;
      const udelta = (seq - this.maxSeq) & 0xffff;
      if (udelta === 0) {
        duplicate = true;
        this.duplicates++;
        this.received++;
      } else if (udelta < MAX_DROPOUT) {
        // Forget the window slots the new maximum passes over (at most the whole window).
        const gap = Math.min(udelta, WINDOW);
        for (let i = 1; i < gap; i++) this.seen[(seq - i) & (WINDOW - 1)] = 0;
        if (seq < this.maxSeq) this.cycles += SEQ_MOD;
        this.maxSeq = seq;
        this.mark(seq);
        this.received++;
      } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        if (seq === this.badSeq) {
          // Two sequential packets after a big jump: the sender restarted its sequence (A.1 init_seq).
          this.expectedBefore += this.cycles + this.maxSeq - this.baseSeq + 1;
          this.receivedBefore += this.received;
          this.seqJumps++;
          this.baseSeq = seq;
          this.maxSeq = seq;
          this.cycles = 0;
          this.badSeq = SEQ_MOD + 1;
          this.seen.fill(0);
          this.mark(seq);
          this.received = 1;
        } else {
          // Not counted until confirmed (A.1 returns 0); nor used for jitter.
          this.badSeq = (seq + 1) & 0xffff;
          skip = true;
        }
      } else if (this.isMarked(seq)) {
        duplicate = true;
        this.duplicates++;
        this.received++;
      } else {
        this.outOfOrder++;
        this.mark(seq);
        this.received++;
      }
    }
    this.prevArrival = arrival;
    if (pt !== this.clockPt) this.resolve(pt);
    if (!first && !duplicate && !skip) {
      const d = Math.abs((arrival - this.lastArrival) * this.clock - ((rtpTs - this.lastRtpTs) | 0));
      this.jitter += (d - this.jitter) / 16;
      if (this.jitter > this.maxJitter) this.maxJitter = this.jitter;
      this.sumJitter += this.jitter;
    }
    if (!duplicate && !skip) {
      this.lastArrival = arrival;
      this.lastRtpTs = rtpTs;
    }
  }

  mark(seq: number): void {
    this.seen[seq & (WINDOW - 1)] = 1;
  }

  isMarked(seq: number): boolean {
    return this.seen[seq & (WINDOW - 1)] === 1;
  }

  stats(ptime: number | undefined, sdpMatched: boolean): RtpStreamStats {
    const expected = this.expectedBefore + this.cycles + this.maxSeq - this.baseSeq + 1;
    const received = this.receivedBefore + this.received;
    const lost = expected - received;
    const lossPercent = expected > 0 ? (Math.max(0, lost) / expected) * 100 : 0;
    const fmt = this.formats?.get(this.payloadType);
    const st = STATIC_PAYLOAD_TYPES.get(this.payloadType);
    const codec = (this.payloadType < 96 ? st?.name : undefined) ?? fmt?.name ?? st?.name ?? "";
    if (this.clockPt !== this.payloadType) this.resolve(this.payloadType);
    const msPerUnit = 1000 / this.clock;
    const jitterCount = this.packets - 1 - this.duplicates;
    const meanJitterMs = jitterCount > 0 ? (this.sumJitter / jitterCount) * msPerUnit : 0;
    const mos = estimateMos({ lossPercent, jitterMs: meanJitterMs, codec, ptimeMs: ptime });
    const payloadTypes: Record<number, number> = {};
    for (const [pt, n] of this.ptCounts) payloadTypes[pt] = n;
    return {
      ssrc: this.ssrc,
      ssrcHex: `0x${this.ssrc.toString(16).padStart(8, "0")}`,
      src: this.p.src,
      sport: this.p.sport,
      dst: this.p.dst,
      dport: this.p.dport,
      payloadType: this.payloadType,
      payloadTypes,
      codec,
      clockRate: this.clock,
      clockRateSource: this.clockSource,
      sdpMatched,
      packets: this.packets,
      firstSeq: this.firstSeq,
      lastSeq: this.maxSeq,
      expected,
      lost,
      lossPercent: round(lossPercent, 3),
      duplicates: this.duplicates,
      outOfOrder: this.outOfOrder,
      seqJumps: this.seqJumps,
      seqErrors: this.duplicates + this.outOfOrder + this.seqJumps,
      markers: this.markers,
      firstFrame: this.p.frame,
      startTs: this.p.ts,
      endTs: this.endTs,
      durationS: round(this.endTs - this.p.ts, 6),
      maxDeltaMs: round(this.maxDelta * 1000, 3),
      meanDeltaMs: this.packets > 1 ? round((this.sumDelta / (this.packets - 1)) * 1000, 3) : 0,
      jitterMs: round(this.jitter * msPerUnit, 3),
      maxJitterMs: round(this.maxJitter * msPerUnit, 3),
      meanJitterMs: round(meanJitterMs, 3),
      mos: mos.mos,
      rFactor: mos.rFactor,
      mosModel: MOS_MODEL,
    };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * Accumulates RTP streams packet by packet; feed SDP as it is seen so dynamic payload types get
 * their clock rate and announced ports are recognised.
 *
 * @example
 * ```ts
 * const rtp = new RtpAnalyzer();
 * for (const p of packets) if (p.proto === "udp") rtp.add(p);
 * console.log(rtp.streams().map((s) => [s.ssrcHex, s.lost, s.jitterMs]));
 * ```
 */
export class RtpAnalyzer {
  #byKey = new Map<number, Stream[]>();
  #order: Stream[] = [];
  #formats = new Map<string, Map<number, PayloadFormat>>();
  #pendingSdp: Uint8Array[] = [];
  #heuristic: boolean;
  #ptime: number | undefined;
  #maxStreams = 100_000;
  /** RTP packets accounted. */
  rtpPackets = 0;
  /** RTCP packets seen. */
  rtcpPackets = 0;

  /** Creates an analyzer; see {@link RtpOptions}. */
  constructor(options: RtpOptions = {}) {
    this.#heuristic = options.heuristic ?? true;
    this.#ptime = options.ptimeMs;
  }

  /**
   * Queues an SDP body to learn from before the next RTP/RTCP packet is classified. Parsing waits until
   * media actually shows up, so signalling-only captures never pay for it.
   */
  learnSdpLater(body: Uint8Array): void {
    this.#pendingSdp.push(body);
  }

  /** Records the media endpoints and payload formats an SDP announces. */
  learnSdp(sdp: Sdp): void {
    for (const m of sdp.media) {
      if (m.port === 0 || m.address === "") continue;
      const formats = new Map<number, PayloadFormat>();
      for (const c of m.codecs) {
        formats.set(c.pt, { name: c.name, clockRate: c.clockRate, channels: c.channels });
      }
      this.#formats.set(`${m.address} ${m.port}`, formats);
      this.#formats.set(`${m.address} ${m.rtcpPort ?? m.port + 1}`, RTCP_MARK);
      if (this.#formats.size > 200_000) this.#formats.clear();
    }
  }

  /** Classifies and accounts one UDP datagram; returns what it was. */
  add(p: Datagram): MediaKind | undefined {
    const b = p.payload;
    const kind = classifyRtp(b);
    if (kind === undefined) return undefined;
    if (this.#pendingSdp.length > 0) this.#flushSdp();
    const known = this.#known(p);
    if (kind === "rtcp") {
      if (known === undefined && !this.#heuristicOk(p)) return undefined;
      this.rtcpPackets++;
      return "rtcp";
    }
    if (known === RTCP_MARK) return undefined;
    const ssrc = ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0;
    // Keyed by (21 bits of) SSRC and both ports, exact in a double, so many streams sharing an SSRC
    // or ports do not make lookups linear; the list resolves the rare key collisions.
    const key = (ssrc & 0x1fffff) * 4294967296 + p.sport * 65536 + p.dport;
    let list = this.#byKey.get(key);
    let stream: Stream | undefined;
    if (list !== undefined) {
      for (const s of list) {
        const q = s.p;
        if (
          s.ssrc === ssrc && q.sport === p.sport && q.dport === p.dport && q.src === p.src && q.dst === p.dst
        ) {
          stream = s;
          break;
        }
      }
    }
    if (stream === undefined) {
      if (known === undefined && !this.#heuristicOk(p)) return undefined;
      if (this.#order.length >= this.#maxStreams) return undefined;
      stream = new Stream(ssrc, p, (b[2]! << 8) | b[3]!, b[1]! & 0x7f, known ?? this.#lookup(p.src, p.sport));
      if (list === undefined) {
        list = [];
        this.#byKey.set(key, list);
      }
      list.push(stream);
      this.#order.push(stream);
    }
    stream.add(p, b);
    this.rtpPackets++;
    return "rtp";
  }

  /** Statistics of every stream, in order of first packet. */
  streams(): RtpStreamStats[] {
    if (this.#order.length > 0 && this.#pendingSdp.length > 0) this.#flushSdp();
    return this.#order.map((s) =>
      s.stats(
        this.#ptime,
        this.#lookup(s.p.dst, s.p.dport) !== undefined || this.#lookup(s.p.src, s.p.sport) !== undefined,
      )
    );
  }

  #flushSdp(): void {
    for (const body of this.#pendingSdp) this.learnSdp(parseSdp(body));
    this.#pendingSdp = [];
  }

  #known(p: Datagram): Map<number, PayloadFormat> | undefined {
    if (this.#formats.size === 0) return undefined;
    return this.#lookup(p.dst, p.dport) ?? this.#lookup(p.src, p.sport);
  }

  #lookup(addr: string, port: number): Map<number, PayloadFormat> | undefined {
    return this.#formats.size === 0 ? undefined : this.#formats.get(`${addr} ${port}`);
  }

  #heuristicOk(p: Datagram): boolean {
    return this.#heuristic && p.sport >= 1024 && p.dport >= 1024 && !SIGNALLING_PORTS.has(p.sport) &&
      !SIGNALLING_PORTS.has(p.dport);
  }
}

const RTCP_MARK = new Map<number, PayloadFormat>();
const SIGNALLING_PORTS = new Set([5060, 5061, 5353, 1900, 3478, 3479]);

/**
 * Statistics of the RTP streams among `packets` (UDP only). SDPs, when given, supply dynamic payload
 * type clock rates and announced ports.
 */
export function rtpStreams(
  packets: Iterable<Datagram>,
  options: RtpOptions & { sdp?: Sdp[] } = {},
): RtpStreamStats[] {
  const rtp = new RtpAnalyzer(options);
  for (const sdp of options.sdp ?? []) rtp.learnSdp(sdp);
  for (const p of packets) if (p.proto === "udp") rtp.add(p);
  return rtp.streams();
}
