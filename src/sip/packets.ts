/**
 * Frames → IP → UDP/TCP packets. Pure (no I/O).
 *
 * Link types: Ethernet (1, with 802.1Q/802.1ad/QinQ tags), Linux cooked v1 (113) and v2 (276), raw IP
 * (101, 228 IPv4, 229 IPv6), BSD null (0, host byte order) and loopback (108). IPv4 with fragment
 * reassembly, IPv6 with extension headers skipped and Fragment-header reassembly. Payloads are views
 * into the capture (no copies) except for reassembled datagrams.
 *
 * @module
 */

import { type CaptureInfo, type FrameRef, type FrameSink, scanCapture } from "./pcap.ts";
import { IpReassembler, type IpReassemblerOptions, type IpReassemblyStats } from "./ip_fragments.ts";

/** Transport protocol of a {@link Packet}. */
export type TransportProto = "udp" | "tcp";

/** The fields SIP extraction needs: where and when a payload travelled. */
export interface Datagram {
  /** 1-based frame number (for reassembled data: the frame that completed it). */
  frame: number;
  /** Timestamp in seconds since the epoch (a double: ~0.2 µs precision; exact value in `sec`/`nsec`). */
  ts: number;
  /** Whole seconds of the timestamp. */
  sec: number;
  /** Nanoseconds within `sec`. */
  nsec: number;
  /** Source IP address (IPv6 in RFC 5952 form). */
  src: string;
  /** Destination IP address. */
  dst: string;
  /** Source port. */
  sport: number;
  /** Destination port. */
  dport: number;
  /** Transport protocol. */
  proto: TransportProto;
  /** Transport payload (a view, not a copy). */
  payload: Uint8Array;
}

/** A decoded UDP datagram or TCP segment. */
export interface Packet extends Datagram {
  /** TCP sequence number (0 for UDP). */
  seq: number;
  /** TCP flags: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10 (0 for UDP). */
  flags: number;
  /** IP version. */
  ipVersion: 4 | 6;
  /** Capture interface index (pcapng). */
  iface: number;
}

/** What happened to the frames of a capture. */
export interface DecodeStats {
  /** UDP datagrams and TCP segments delivered. */
  packets: number;
  /** Of which UDP. */
  udp: number;
  /** Of which TCP. */
  tcp: number;
  /** Frames holding a fragment that did not (yet) complete a datagram. */
  fragments: number;
  /** Frames that carry no IP (ARP, LLDP, …). */
  nonIp: number;
  /** IP packets of other protocols (ICMP, SCTP, ESP, …). */
  otherIp: number;
  /** Frames too short or inconsistent to decode. */
  malformed: number;
  /** Frames of link types this module does not decode. */
  unsupportedLink: number;
  /** IP fragment reassembly counters. */
  reassembly: IpReassemblyStats;
}

/** Options of {@link scanPackets} and {@link parsePcap}. */
export interface PacketOptions {
  /** Limits of IP fragment reassembly. */
  reassembly?: IpReassemblerOptions;
}

/** Result of {@link scanPackets}: the container facts plus decode counters. */
export interface PacketScan extends CaptureInfo {
  /** Decode counters. */
  stats: DecodeStats;
}

/** Link types {@link scanPackets} decodes. */
export const SUPPORTED_LINK_TYPES: readonly number[] = [0, 1, 101, 108, 113, 228, 229, 276];

const ETH_VLAN = new Set([0x8100, 0x88a8, 0x9100, 0x9200]);

/** Frame decoder with reassembly state; {@link scanPackets} drives it. */
export class PacketDecoder implements FrameSink {
  #bytes: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(new ArrayBuffer(0));
  #onPacket: (packet: Packet) => void;
  #reasm: IpReassembler;
  #v4Names = new Map<number, string>();
  /** Counters since construction. */
  readonly stats: DecodeStats;
  // Per-frame context, set in onFrame; fields avoid passing eight arguments down every call.
  #frame = 0;
  #sec = 0;
  #nsec = 0;
  #iface = 0;

  /** Creates a decoder that hands every UDP/TCP packet to `onPacket`. */
  constructor(onPacket: (packet: Packet) => void, options: PacketOptions = {}) {
    this.#onPacket = onPacket;
    this.#reasm = new IpReassembler(options.reassembly);
    this.stats = {
      packets: 0,
      udp: 0,
      tcp: 0,
      fragments: 0,
      nonIp: 0,
      otherIp: 0,
      malformed: 0,
      unsupportedLink: 0,
      reassembly: this.#reasm.stats,
    };
  }

  /** Sets the buffer that subsequent {@link onFrame} offsets refer to. */
  setBuffer(bytes: Uint8Array): void {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Decodes one frame of the current buffer. */
  onFrame(f: Readonly<FrameRef>): void {
    this.#frame = f.frame;
    this.#sec = f.sec;
    this.#nsec = f.nsec;
    this.#iface = f.iface;
    const view = this.#view;
    const off = f.offset;
    const caplen = f.caplen;
    const linkType = f.linkType;
    const end = off + caplen;
    let p = off;
    let version = 0;
    switch (linkType) {
      case 1: {
        if (caplen < 14) return this.#malformed();
        let type = view.getUint16(off + 12);
        p = off + 14;
        for (let tags = 0; ETH_VLAN.has(type) && tags < 8; tags++) {
          if (p + 4 > end) return this.#malformed();
          type = view.getUint16(p + 2);
          p += 4;
        }
        version = etherVersion(type);
        break;
      }
      case 113:
        if (caplen < 16) return this.#malformed();
        version = etherVersion(view.getUint16(off + 14));
        p = off + 16;
        break;
      case 276:
        if (caplen < 20) return this.#malformed();
        version = etherVersion(view.getUint16(off));
        p = off + 20;
        break;
      case 101:
        if (caplen < 1) return this.#malformed();
        version = view.getUint8(off) >> 4;
        break;
      case 228:
        version = 4;
        break;
      case 229:
        version = 6;
        break;
      case 0:
      case 108: {
        if (caplen < 4) return this.#malformed();
        // DLT_NULL stores the family in the capturing host's byte order; DLT_LOOP in network order.
        let family = view.getUint32(off, linkType === 0);
        if (family > 0xffff) family = view.getUint32(off, linkType !== 0);
        version = family === 2 ? 4 : family === 10 || family === 24 || family === 28 || family === 30 ? 6 : 0;
        p = off + 4;
        break;
      }
      default:
        this.stats.unsupportedLink++;
        return;
    }
    if (version === 4) this.#ipv4(p, end);
    else if (version === 6) this.#ipv6(p, end);
    else this.stats.nonIp++;
  }

  #malformed(): void {
    this.stats.malformed++;
  }

  #ipv4(p: number, frameEnd: number): void {
    const view = this.#view;
    if (p + 20 > frameEnd) return this.#malformed();
    const vihl = view.getUint8(p);
    const ihl = (vihl & 15) * 4;
    if (vihl >> 4 !== 4 || ihl < 20 || p + ihl > frameEnd) return this.#malformed();
    const total = view.getUint16(p + 2);
    // Total length trims Ethernet padding; 0 (TSO) or more than captured (snaplen) means "to frame end".
    let end = frameEnd;
    if (total >= ihl && p + total < frameEnd) end = p + total;
    else if (total !== 0 && total < ihl) return this.#malformed();
    const proto = view.getUint8(p + 9);
    const frag = view.getUint16(p + 6);
    const srcNum = view.getUint32(p + 12);
    const dstNum = view.getUint32(p + 16);
    if ((frag & 0x3fff) !== 0) {
      const key = `4 ${srcNum} ${dstNum} ${proto} ${view.getUint16(p + 4)}`;
      const more = (frag & 0x2000) !== 0;
      const whole = this.#reasm.add(key, {
        offset: (frag & 0x1fff) * 8,
        more,
        data: this.#bytes.subarray(p + ihl, end),
        proto,
        frame: this.#frame,
      });
      if (whole === undefined) {
        this.stats.fragments++;
        return;
      }
      const saved = this.#bytes;
      this.setBuffer(whole);
      this.#transport(0, whole.length, proto, this.#v4(srcNum), this.#v4(dstNum), 4);
      this.setBuffer(saved);
      return;
    }
    this.#transport(p + ihl, end, proto, this.#v4(srcNum), this.#v4(dstNum), 4);
  }

  #v4(n: number): string {
    let s = this.#v4Names.get(n);
    if (s === undefined) {
      s = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      // Bounded cache: captures with millions of hosts must not grow memory without limit.
      if (this.#v4Names.size >= 65_536) this.#v4Names.clear();
      this.#v4Names.set(n, s);
    }
    return s;
  }

  #ipv6(p: number, frameEnd: number): void {
    const view = this.#view;
    if (p + 40 > frameEnd) return this.#malformed();
    if (view.getUint8(p) >> 4 !== 6) return this.#malformed();
    const plen = view.getUint16(p + 4);
    const end = plen !== 0 && p + 40 + plen < frameEnd ? p + 40 + plen : frameEnd;
    const src = ipv6ToString(view, p + 8);
    const dst = ipv6ToString(view, p + 24);
    this.#ipv6Payload(p + 40, end, view.getUint8(p + 6), src, dst, true);
  }

  #ipv6Payload(q: number, end: number, next: number, src: string, dst: string, allowFrag: boolean): void {
    const view = this.#view;
    for (let hops = 0; hops < 16; hops++) {
      switch (next) {
        case 0:
        case 43:
        case 60:
        case 135:
        case 139:
        case 140: {
          if (q + 8 > end) return this.#malformed();
          next = view.getUint8(q);
          q += (view.getUint8(q + 1) + 1) * 8;
          continue;
        }
        case 51: {
          if (q + 8 > end) return this.#malformed();
          next = view.getUint8(q);
          q += (view.getUint8(q + 1) + 2) * 4;
          continue;
        }
        case 44: {
          if (q + 8 > end) return this.#malformed();
          const nh = view.getUint8(q);
          const offFlags = view.getUint16(q + 2);
          const id = view.getUint32(q + 4);
          q += 8;
          if ((offFlags & 0xfff9) === 0) {
            next = nh; // atomic fragment (RFC 6946)
            continue;
          }
          if (!allowFrag) return this.#malformed();
          const key = `6 ${src} ${dst} ${id}`;
          const whole = this.#reasm.add(key, {
            offset: offFlags & 0xfff8,
            more: (offFlags & 1) !== 0,
            data: this.#bytes.subarray(q, end),
            proto: nh,
            frame: this.#frame,
          });
          if (whole === undefined) {
            this.stats.fragments++;
            return;
          }
          const saved = this.#bytes;
          this.setBuffer(whole);
          this.#ipv6Payload(0, whole.length, this.#reasm.lastProto, src, dst, false);
          this.setBuffer(saved);
          return;
        }
        default:
          if (q > end) return this.#malformed();
          return this.#transport(q, end, next, src, dst, 6);
      }
    }
    this.#malformed();
  }

  #transport(q: number, end: number, proto: number, src: string, dst: string, ipVersion: 4 | 6): void {
    const view = this.#view;
    let payloadStart: number;
    let payloadEnd = end;
    let seq = 0;
    let flags = 0;
    let kind: TransportProto;
    if (proto === 17) {
      if (q + 8 > end) return this.#malformed();
      const ulen = view.getUint16(q + 4);
      if (ulen >= 8 && q + ulen < end) payloadEnd = q + ulen;
      payloadStart = q + 8;
      kind = "udp";
      this.stats.udp++;
    } else if (proto === 6) {
      if (q + 20 > end) return this.#malformed();
      const doff = (view.getUint8(q + 12) >> 4) * 4;
      if (doff < 20 || q + doff > end) return this.#malformed();
      seq = view.getUint32(q + 4);
      flags = view.getUint8(q + 13) | ((view.getUint8(q + 12) & 1) << 8);
      payloadStart = q + doff;
      kind = "tcp";
      this.stats.tcp++;
    } else {
      this.stats.otherIp++;
      return;
    }
    this.stats.packets++;
    const sec = this.#sec;
    const nsec = this.#nsec;
    this.#onPacket({
      frame: this.#frame,
      ts: sec + nsec / 1e9,
      sec,
      nsec,
      src,
      dst,
      sport: view.getUint16(q),
      dport: view.getUint16(q + 2),
      proto: kind,
      payload: this.#bytes.subarray(payloadStart, payloadEnd),
      seq,
      flags,
      ipVersion,
      iface: this.#iface,
    });
  }
}

function etherVersion(type: number): number {
  return type === 0x0800 ? 4 : type === 0x86dd ? 6 : 0;
}

/** Formats the 16 bytes at `off` as an IPv6 address per RFC 5952 (lowercase, longest zero run as ::). */
export function ipv6ToString(view: DataView, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(view.getUint16(off + i * 2));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number) => g.slice(a, b).map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/**
 * Decodes every UDP/TCP packet of a pcap or pcapng capture, calling `onPacket` for each in capture
 * order. Nothing is retained, so memory stays flat whatever the capture size.
 *
 * @throws {PcapError} when the input is not a readable capture (see {@link scanCapture}).
 * @example
 * ```ts
 * let udp = 0;
 * const scan = scanPackets(bytes, (p) => { if (p.proto === "udp") udp++; });
 * console.log(udp, scan.truncated, scan.stats.fragments);
 * ```
 */
export function scanPackets(
  bytes: Uint8Array,
  onPacket: (packet: Packet) => void,
  options?: PacketOptions,
): PacketScan {
  const decoder = new PacketDecoder(onPacket, options);
  decoder.setBuffer(bytes);
  const info = scanCapture(bytes, decoder);
  return { ...info, stats: decoder.stats };
}

/**
 * Decodes a whole capture into an array of packets (payloads are views into `bytes`).
 *
 * @throws {PcapError} when the input is not a readable capture.
 * @example
 * ```ts
 * const { packets, truncated } = parsePcap(await Deno.readFile("call.pcap"));
 * ```
 */
export function parsePcap(bytes: Uint8Array, options?: PacketOptions): PacketScan & { packets: Packet[] } {
  const packets: Packet[] = [];
  const scan = scanPackets(bytes, (p) => packets.push(p), options);
  return { ...scan, packets };
}

/** Decodes a single frame of the given link type (frame number 1, time 0, no reassembly). */
export function decodeFrame(linkType: number, data: Uint8Array): Packet | undefined {
  let out: Packet | undefined;
  const decoder = new PacketDecoder((p) => {
    out = p;
  });
  decoder.setBuffer(data);
  decoder.onFrame({ frame: 1, offset: 0, caplen: data.length, linkType, sec: 0, nsec: 0, iface: 0 });
  return out;
}
