/**
 * Writes pcap and pcapng captures from described packets, for tests and the benchmark.
 *
 * Link layers: Ethernet (optionally VLAN/QinQ tagged), Linux cooked v1/v2, raw IP, BSD null/loop.
 * Network: IPv4 (with fragmentation) and IPv6 (with Fragment header). Transport: UDP and TCP with
 * sequence numbers, or any raw IP protocol. Checksums are computed so tshark sees clean packets.
 */

/** Link layers the builder writes. */
export type LinkKind = "ethernet" | "sll" | "sll2" | "raw" | "raw4" | "raw6" | "null" | "loop";

/** LINKTYPE_* values of each {@link LinkKind}. */
export const LINK_TYPES: Readonly<Record<LinkKind, number>> = {
  ethernet: 1,
  sll: 113,
  sll2: 276,
  raw: 101,
  raw4: 228,
  raw6: 229,
  null: 0,
  loop: 108,
};

/** A packet to write. */
export interface PacketSpec {
  /** Seconds since the epoch, or an exact split. */
  ts: number | { sec: number; nsec: number };
  /** Source IPv4 or IPv6 address. */
  src: string;
  /** Destination address (same family as src). */
  dst: string;
  /** Source port (UDP/TCP). Default 5060. */
  sport?: number;
  /** Destination port. Default 5060. */
  dport?: number;
  /** "udp" (default), "tcp", or a raw IP protocol number (payload then follows the IP header). */
  proto?: "udp" | "tcp" | number;
  /** Transport payload. */
  payload?: Uint8Array | string;
  /** TCP sequence number. Default 1000. */
  seq?: number;
  /** TCP flags. Default PSH|ACK (0x18). */
  tcpFlags?: number;
  /** VLAN ids, outermost first (Ethernet only; two or more → 802.1ad outer tags). */
  vlan?: number[];
  /** Split the IP payload into fragments of this many bytes (rounded down to a multiple of 8). */
  fragmentSize?: number;
  /** Deliver fragments in reverse order. */
  fragmentsReversed?: boolean;
  /** IP identification (IPv4) / fragment id (IPv6). Default 1. */
  ipId?: number;
  /** pcapng interface index. Default 0. */
  iface?: number;
  /** Ethernet only: write this EtherType and the payload as-is (non-IP frames such as ARP). */
  ethertype?: number;
}

const enc = new TextEncoder();

/** Bytes of a string or array. */
export function toBytes(p: Uint8Array | string | undefined): Uint8Array {
  return p === undefined ? new Uint8Array(0) : typeof p === "string" ? enc.encode(p) : p;
}

function parseIp(ip: string): Uint8Array {
  if (!ip.includes(":")) {
    const parts = ip.split(".").map(Number);
    if (parts.length !== 4 || parts.some((n) => !(n >= 0 && n <= 255))) {
      throw new TypeError(`bad IPv4 "${ip}"`);
    }
    return Uint8Array.from(parts);
  }
  const [head, tail] = ip.split("::") as [string, string | undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8) throw new TypeError(`bad IPv6 "${ip}"`);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 255;
  });
  return out;
}

function sum16(bytes: Uint8Array, acc = 0): number {
  let s = acc;
  const n = bytes.length & ~1;
  for (let i = 0; i < n; i += 2) s += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length & 1) s += bytes[bytes.length - 1]! << 8;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return ~s & 0xffff;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The transport segment (header + payload) of a spec, checksummed. */
function transport(spec: PacketSpec, src: Uint8Array, dst: Uint8Array, proto: number): Uint8Array {
  const payload = toBytes(spec.payload);
  if (proto !== 17 && proto !== 6) return payload;
  const hl = proto === 17 ? 8 : 20;
  const seg = new Uint8Array(hl + payload.length);
  const v = new DataView(seg.buffer);
  v.setUint16(0, spec.sport ?? 5060);
  v.setUint16(2, spec.dport ?? 5060);
  if (proto === 17) v.setUint16(4, seg.length);
  else {
    v.setUint32(4, (spec.seq ?? 1000) >>> 0);
    v.setUint32(8, 1);
    v.setUint8(12, 5 << 4);
    v.setUint8(13, spec.tcpFlags ?? 0x18);
    v.setUint16(14, 65535);
  }
  seg.set(payload, hl);
  // Pseudo-header: addresses, protocol, length.
  let s = sum16(src, sum16(dst));
  s += proto + seg.length;
  const c = fold(sum16(seg, s));
  v.setUint16(proto === 17 ? 6 : 16, proto === 17 && c === 0 ? 0xffff : c);
  return seg;
}

function protoNumber(spec: PacketSpec): number {
  return spec.proto === "tcp" ? 6 : spec.proto === undefined || spec.proto === "udp" ? 17 : spec.proto;
}

/** IP packets (several when fragmented) for a spec. */
export function buildIpPackets(spec: PacketSpec): Uint8Array[] {
  const src = parseIp(spec.src);
  const dst = parseIp(spec.dst);
  const proto = protoNumber(spec);
  const body = transport(spec, src, dst, proto);
  const size = spec.fragmentSize === undefined ? body.length : Math.max(8, spec.fragmentSize & ~7);
  const pieces: { off: number; data: Uint8Array; more: boolean }[] = [];
  for (let off = 0; off < body.length || off === 0; off += size) {
    pieces.push({ off, data: body.subarray(off, off + size), more: off + size < body.length });
    if (body.length === 0) break;
  }
  const fragmented = pieces.length > 1;
  const out = pieces.map(({ off, data, more }) => {
    if (src.length === 4) {
      const h = new Uint8Array(20);
      const v = new DataView(h.buffer);
      v.setUint8(0, 0x45);
      v.setUint16(2, 20 + data.length);
      v.setUint16(4, spec.ipId ?? 1);
      v.setUint16(6, (more ? 0x2000 : 0) | (off / 8));
      v.setUint8(8, 64);
      v.setUint8(9, proto);
      h.set(src, 12);
      h.set(dst, 16);
      v.setUint16(10, fold(sum16(h)));
      return concat(h, data);
    }
    const h = new Uint8Array(fragmented ? 48 : 40);
    const v = new DataView(h.buffer);
    v.setUint32(0, 0x60000000);
    v.setUint16(4, h.length - 40 + data.length);
    v.setUint8(6, fragmented ? 44 : proto);
    v.setUint8(7, 64);
    h.set(src, 8);
    h.set(dst, 24);
    if (fragmented) {
      v.setUint8(40, proto);
      v.setUint16(42, off | (more ? 1 : 0));
      v.setUint32(44, spec.ipId ?? 1);
    }
    return concat(h, data);
  });
  return spec.fragmentsReversed ? out.reverse() : out;
}

/** Wraps an IP packet (or a non-IP payload) in the given link layer. */
export function encapsulate(
  ip: Uint8Array,
  link: LinkKind,
  spec: Pick<PacketSpec, "vlan" | "ethertype">,
): Uint8Array {
  const v6 = ip.length > 0 && ip[0]! >> 4 === 6;
  const etype = spec.ethertype ?? (v6 ? 0x86dd : 0x0800);
  switch (link) {
    case "ethernet": {
      const tags = spec.vlan ?? [];
      const h = new Uint8Array(14 + tags.length * 4);
      const v = new DataView(h.buffer);
      h.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
      let p = 12;
      tags.forEach((id, i) => {
        v.setUint16(p, i < tags.length - 1 ? 0x88a8 : 0x8100);
        v.setUint16(p + 2, id & 0xfff);
        p += 4;
      });
      v.setUint16(p, etype);
      return concat(h, ip);
    }
    case "sll": {
      const h = new Uint8Array(16);
      const v = new DataView(h.buffer);
      v.setUint16(2, 772); // ARPHRD_LOOPBACK
      v.setUint16(4, 6);
      v.setUint16(14, etype);
      return concat(h, ip);
    }
    case "sll2": {
      const h = new Uint8Array(20);
      const v = new DataView(h.buffer);
      v.setUint16(0, etype);
      v.setUint32(4, 1);
      v.setUint16(8, 772);
      v.setUint8(11, 6);
      return concat(h, ip);
    }
    case "null":
    case "loop": {
      const h = new Uint8Array(4);
      new DataView(h.buffer).setUint32(0, v6 ? 30 : 2, link === "null");
      return concat(h, ip);
    }
    default:
      return ip;
  }
}

/** Link-layer frames for a spec (several when fragmented). */
export function buildFrames(spec: PacketSpec, link: LinkKind): Uint8Array[] {
  if (spec.ethertype !== undefined) return [encapsulate(toBytes(spec.payload), link, spec)];
  return buildIpPackets(spec).map((ip) => encapsulate(ip, link, spec));
}

function split(ts: PacketSpec["ts"]): { sec: number; nsec: number } {
  if (typeof ts !== "number") return ts;
  // Epoch seconds as doubles carry ~0.2 µs of noise: round to whole microseconds (pass {sec, nsec}
  // for nanosecond tests).
  let sec = Math.floor(ts);
  let usec = Math.round((ts - sec) * 1e6);
  if (usec >= 1_000_000) {
    sec++;
    usec -= 1_000_000;
  }
  return { sec, nsec: usec * 1000 };
}

/** Growable byte buffer. */
class Out {
  buf = new Uint8Array(1 << 16);
  view = new DataView(this.buf.buffer);
  len = 0;
  constructor(readonly le: boolean) {}
  reserve(n: number): number {
    if (this.len + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.len + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.len;
    this.len += n;
    return at;
  }
  // reserve() may replace buf/view, so it must run before they are read.
  u16(v: number) {
    const at = this.reserve(2);
    this.view.setUint16(at, v, this.le);
  }
  u32(v: number) {
    const at = this.reserve(4);
    this.view.setUint32(at, v >>> 0, this.le);
  }
  bytes(b: Uint8Array) {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  pad4() {
    while (this.len % 4 !== 0) {
      const at = this.reserve(1);
      this.buf[at] = 0;
    }
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Options of {@link PcapWriter} and {@link writePcap}. */
export interface PcapOptions {
  /** Link layer. Default "ethernet". */
  link?: LinkKind;
  /** Nanosecond magic. */
  nanosecond?: boolean;
  /** Big-endian file. */
  bigEndian?: boolean;
  /** Snapshot length: frames are cut to it. Default 262144. */
  snaplen?: number;
}

/** Incremental pcap writer (the benchmark builds 100 MB with it). */
export class PcapWriter {
  #out: Out;
  #link: LinkKind;
  #nano: boolean;
  #snaplen: number;
  /** Frames written. */
  frames = 0;

  constructor(options: PcapOptions = {}) {
    this.#out = new Out(!options.bigEndian);
    this.#link = options.link ?? "ethernet";
    this.#nano = options.nanosecond ?? false;
    this.#snaplen = options.snaplen ?? 262144;
    const o = this.#out;
    o.u32(this.#nano ? 0xa1b23c4d : 0xa1b2c3d4);
    o.u16(2);
    o.u16(4);
    o.u32(0);
    o.u32(0);
    o.u32(this.#snaplen);
    o.u32(LINK_TYPES[this.#link]);
  }

  /** Adds a packet (several frames when fragmented). */
  add(spec: PacketSpec): void {
    for (const f of buildFrames(spec, this.#link)) this.addFrame(spec.ts, f);
  }

  /** Adds a ready link-layer frame. */
  addFrame(ts: PacketSpec["ts"], frame: Uint8Array, origLen = frame.length): void {
    const { sec, nsec } = split(ts);
    const o = this.#out;
    const cap = Math.min(frame.length, this.#snaplen);
    o.u32(sec);
    o.u32(this.#nano ? nsec : Math.floor(nsec / 1000));
    o.u32(cap);
    o.u32(origLen);
    o.bytes(frame.subarray(0, cap));
    this.frames++;
  }

  /** Size so far in bytes. */
  get size(): number {
    return this.#out.len;
  }

  /** The file bytes. */
  bytes(): Uint8Array {
    return this.#out.result();
  }
}

/** Writes a pcap file. */
export function writePcap(specs: PacketSpec[], options: PcapOptions = {}): Uint8Array {
  const w = new PcapWriter(options);
  for (const s of specs) w.add(s);
  return w.bytes();
}

/** A pcapng interface. */
export interface PcapngInterface {
  /** Link layer. */
  link: LinkKind;
  /** if_tsresol byte (default 6 = µs; 9 = ns; 0x80|n = 2^-n). */
  tsresol?: number;
}

/** Options of {@link writePcapng}. */
export interface PcapngOptions {
  /** Interfaces; a spec's `iface` picks one. Default one Ethernet interface. */
  interfaces?: PcapngInterface[];
  /** Big-endian section. */
  bigEndian?: boolean;
  /** Write Simple Packet Blocks instead of Enhanced ones (interface 0 only; no timestamps). */
  simple?: boolean;
  /** Insert an unknown (custom) block and a name-resolution block that readers must skip. */
  extraBlocks?: boolean;
}

/** Writes a pcapng file. */
export function writePcapng(specs: PacketSpec[], options: PcapngOptions = {}): Uint8Array {
  const o = new Out(!options.bigEndian);
  const ifaces = options.interfaces ?? [{ link: "ethernet" }];
  const block = (type: number, body: (o: Out) => void) => {
    const start = o.len;
    o.u32(type);
    const lenAt = o.reserve(4);
    body(o);
    o.pad4();
    const total = o.len - start + 4;
    o.view.setUint32(lenAt, total, o.le);
    o.u32(total);
  };
  block(0x0a0d0d0a, (o) => {
    o.u32(0x1a2b3c4d);
    o.u16(1);
    o.u16(0);
    o.u32(0xffffffff);
    o.u32(0xffffffff);
  });
  for (const i of ifaces) {
    block(1, (o) => {
      o.u16(LINK_TYPES[i.link]);
      o.u16(0);
      o.u32(262144);
      if (i.tsresol !== undefined) {
        o.u16(9);
        o.u16(1);
        o.bytes(Uint8Array.of(i.tsresol));
        o.pad4();
      }
      o.u16(0);
      o.u16(0);
    });
  }
  if (options.extraBlocks) {
    block(0x00000bad, (o) => o.bytes(toBytes("custom block data")));
    block(4, (o) => o.u32(0));
  }
  for (const spec of specs) {
    const ifIndex = spec.iface ?? 0;
    const iface = ifaces[ifIndex];
    if (iface === undefined) throw new RangeError(`no interface ${ifIndex}`);
    const { sec, nsec } = split(spec.ts);
    const r = iface.tsresol ?? 6;
    const units = (r & 0x80) !== 0 ? 2n ** BigInt(r & 0x7f) : 10n ** BigInt(r);
    const ticks = BigInt(sec) * units + (BigInt(nsec) * units) / 1_000_000_000n;
    for (const f of buildFrames(spec, iface.link)) {
      if (options.simple) {
        block(3, (o) => {
          o.u32(f.length);
          o.bytes(f);
        });
        continue;
      }
      block(6, (o) => {
        o.u32(ifIndex);
        o.u32(Number(ticks >> 32n));
        o.u32(Number(ticks & 0xffffffffn));
        o.u32(f.length);
        o.u32(f.length);
        o.bytes(f);
      });
    }
  }
  return o.result();
}

/** Fields of an RTP packet for {@link rtpPacket}. */
export interface RtpSpec {
  /** Payload type. Default 0. */
  pt?: number;
  /** Sequence number. */
  seq: number;
  /** RTP timestamp. */
  timestamp: number;
  /** SSRC. */
  ssrc: number;
  /** Marker bit. */
  marker?: boolean;
  /** Payload bytes. Default 160 (20 ms of G.711). */
  payloadSize?: number;
}

/** An RTP packet (version 2, no CSRC/extension). */
export function rtpPacket(r: RtpSpec): Uint8Array {
  const b = new Uint8Array(12 + (r.payloadSize ?? 160));
  const v = new DataView(b.buffer);
  b[0] = 0x80;
  b[1] = (r.marker ? 0x80 : 0) | ((r.pt ?? 0) & 0x7f);
  v.setUint16(2, r.seq & 0xffff);
  v.setUint32(4, r.timestamp >>> 0);
  v.setUint32(8, r.ssrc >>> 0);
  b.fill(0xd5, 12);
  return b;
}

/** An RTCP receiver report with no report blocks. */
export function rtcpReceiverReport(ssrc: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  b[0] = 0x80;
  b[1] = 201;
  v.setUint16(2, 1);
  v.setUint32(4, ssrc >>> 0);
  return b;
}
