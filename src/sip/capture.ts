/**
 * One pass over a capture: SIP over UDP and TCP, SDP-informed RTP statistics and packet counts. Pure
 * (bytes in, data out); the entry point the VoIP tools use.
 *
 * @module
 */

import { type Packet, type PacketOptions, scanPackets } from "./packets.ts";
import type { CaptureFormat } from "./pcap.ts";
import { RtpAnalyzer, type RtpOptions, type RtpStreamStats } from "./rtp.ts";
import { type Datagram } from "./packets.ts";
import { hasSdp, parseSipMessage, type SipMessage, type SipSkip, sipStart } from "./sip.ts";
import { type TcpIssue, TcpReassembler, type TcpReassemblerOptions } from "./tcp.ts";

/** Most skipped-message records kept (all are counted). */
const MAX_SKIPS = 1000;

/** Collects SIP messages from UDP datagrams and reassembled TCP streams. */
export class SipCollector {
  readonly #tcp: TcpReassembler;
  /** Messages in capture order. */
  readonly messages: SipMessage[] = [];
  /** Payloads that looked like SIP but could not be used (first 1000). */
  readonly skipped: SipSkip[] = [];
  /** Number of skipped payloads. */
  skippedCount = 0;
  /** Called for each message as it is parsed (e.g. to learn SDP early). */
  onMessage: ((m: SipMessage) => void) | undefined;

  /** Creates a collector; `options` bound SIP-over-TCP reassembly. */
  constructor(options: TcpReassemblerOptions = {}) {
    this.#tcp = new TcpReassembler(options);
  }

  /** Stream problems of SIP over TCP. */
  get tcpIssues(): TcpIssue[] {
    return this.#tcp.issues;
  }

  /** Adds a packet; returns how many SIP messages it produced (0 when it is not SIP). */
  add(p: Packet): number {
    if (p.proto === "udp") {
      if (sipStart(p.payload) !== 1) return 0;
      this.#parse(p);
      return 1;
    }
    if (p.payload.length === 0 && (p.flags & 0x07) === 0) return 0;
    const out = this.#tcp.push(p);
    for (const d of out) this.#parse(d);
    return out.length;
  }

  /** Ends TCP streams; returns how many messages that produced. */
  finish(): number {
    const out = this.#tcp.flush();
    for (const d of out) this.#parse(d);
    return out.length;
  }

  #parse(d: Datagram): void {
    const r = parseSipMessage(d.payload, d);
    if (r.ok) {
      this.messages.push(r.message);
      this.onMessage?.(r.message);
    } else {
      this.skippedCount++;
      if (this.skipped.length < MAX_SKIPS) this.skipped.push({ frame: d.frame, reason: r.reason });
    }
  }
}

/**
 * SIP messages from decoded packets (UDP datagrams and TCP segments).
 *
 * @example
 * ```ts
 * const { messages, skipped } = extractSipMessages(parsePcap(bytes).packets);
 * ```
 */
export function extractSipMessages(
  packets: Iterable<Packet>,
  options: TcpReassemblerOptions = {},
): { messages: SipMessage[]; skipped: SipSkip[]; tcpIssues: TcpIssue[] } {
  const c = new SipCollector(options);
  for (const p of packets) c.add(p);
  c.finish();
  return { messages: c.messages, skipped: c.skipped, tcpIssues: c.tcpIssues };
}

/** Packet counts of a capture (what `voip_packet_check` reports). */
export interface PacketCounts {
  /** Frames in the capture. */
  frames: number;
  /** Frames that carried SIP (UDP datagrams, TCP segments completing a message). */
  sipFrames: number;
  /** SIP messages. */
  sip: number;
  /** SIP requests by method. */
  sipRequests: Record<string, number>;
  /** SIP responses by status code. */
  sipResponses: Record<string, number>;
  /** RTP packets. */
  rtp: number;
  /** RTCP packets. */
  rtcp: number;
  /** Frames that were none of the above (includes TCP segments holding only part of a SIP message). */
  other: number;
  /** UDP datagrams. */
  udp: number;
  /** TCP segments. */
  tcp: number;
  /** Frames without IP. */
  nonIp: number;
  /** Frames holding an IP fragment that did not complete a datagram. */
  fragments: number;
  /** Undecodable frames. */
  malformed: number;
}

/** Options of {@link analyseCapture}. */
export interface CaptureOptions extends PacketOptions, RtpOptions {
  /** Limits of SIP-over-TCP reassembly. */
  tcp?: TcpReassemblerOptions;
}

/** Everything {@link analyseCapture} found. */
export interface CaptureAnalysis {
  /** Container format. */
  format: CaptureFormat;
  /** The capture ended early (a cut-off last record); everything before was analysed. */
  truncated: boolean;
  /** Notes about unreadable parts. */
  warnings: string[];
  /** Link-layer types seen. */
  linkTypes: number[];
  /** SIP messages in capture order. */
  messages: SipMessage[];
  /** SIP-looking payloads that were skipped, with reasons (first 1000). */
  skipped: SipSkip[];
  /** SIP-over-TCP stream problems (first 1000). */
  tcpIssues: TcpIssue[];
  /** RTP streams. */
  rtpStreams: RtpStreamStats[];
  /** Packet counts. */
  counts: PacketCounts;
}

/**
 * Analyses a pcap/pcapng capture in one pass.
 *
 * @throws {PcapError} when the input is not a readable capture.
 * @example
 * ```ts
 * const a = analyseCapture(bytes);
 * console.log(callStats(a.messages).answered, a.rtpStreams.length, a.counts.rtp);
 * ```
 */
export function analyseCapture(bytes: Uint8Array, options: CaptureOptions = {}): CaptureAnalysis {
  const sip = new SipCollector(options.tcp);
  const rtp = new RtpAnalyzer(options);
  sip.onMessage = (m) => {
    if (hasSdp(m)) rtp.learnSdpLater(m.body);
  };
  let sipFrames = 0;
  let media = 0;
  const scan = scanPackets(bytes, (p) => {
    if (sip.add(p) > 0) sipFrames++;
    else if (p.proto === "udp" && rtp.add(p) !== undefined) media++;
  }, options);
  sip.finish();
  const sipRequests: Record<string, number> = {};
  const sipResponses: Record<string, number> = {};
  for (const m of sip.messages) {
    if (m.kind === "request") sipRequests[m.method] = (sipRequests[m.method] ?? 0) + 1;
    else sipResponses[m.status] = (sipResponses[m.status] ?? 0) + 1;
  }
  const s = scan.stats;
  return {
    format: scan.format,
    truncated: scan.truncated,
    warnings: scan.warnings,
    linkTypes: scan.linkTypes,
    messages: sip.messages,
    skipped: sip.skipped,
    tcpIssues: sip.tcpIssues,
    rtpStreams: rtp.streams(),
    counts: {
      frames: scan.frames,
      sipFrames,
      sip: sip.messages.length,
      sipRequests,
      sipResponses,
      rtp: rtp.rtpPackets,
      rtcp: rtp.rtcpPackets,
      other: scan.frames - sipFrames - media,
      udp: s.udp,
      tcp: s.tcp,
      nonIp: s.nonIp,
      fragments: s.fragments,
      malformed: s.malformed,
    },
  };
}

/** Result of {@link packetCheck}. */
export interface PacketCheck extends PacketCounts {
  /** Container format. */
  format: CaptureFormat;
  /** The capture ended early. */
  truncated: boolean;
  /** Whether any SIP was seen. */
  hasSip: boolean;
  /** Whether any RTP was seen. */
  hasRtp: boolean;
}

/**
 * Counts SIP (by method and response code), RTP, RTCP and other packets.
 *
 * @throws {PcapError} when the input is not a readable capture.
 */
export function packetCheck(bytes: Uint8Array, options: CaptureOptions = {}): PacketCheck {
  const a = analyseCapture(bytes, options);
  return {
    format: a.format,
    truncated: a.truncated,
    hasSip: a.counts.sip > 0,
    hasRtp: a.counts.rtp > 0,
    ...a.counts,
  };
}
