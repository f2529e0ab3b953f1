/**
 * pcap and pcapng container readers: bytes in, link-layer frames out. Pure (no I/O).
 *
 * Both formats are read in either byte order; pcap with micro- or nanosecond magic, pcapng with
 * per-interface `if_tsresol`/`if_tsoffset`, Enhanced, Simple and obsolete Packet Blocks and several
 * sections. Unknown blocks are skipped by their length. Every length field is checked against the
 * bytes that remain, so corrupt input ends the scan with a warning instead of looping or throwing a
 * foreign error. A file whose last record is cut off (a capture killed mid-write) yields every complete
 * record plus `truncated: true`.
 *
 * @module
 */

/** Codes of {@link PcapError}. */
export type PcapErrorCode = "truncated" | "bad_magic" | "unsupported";

/** The input is not a capture this module can read. Nothing else is thrown by the parsers here. */
export class PcapError extends Error {
  /** What is wrong with the input. */
  readonly code: PcapErrorCode;
  /** Byte offset where the problem was found. */
  readonly offset: number;

  /** Creates the error; `offset` is where in the input the problem lies. */
  constructor(code: PcapErrorCode, message: string, offset = 0) {
    super(message);
    this.name = "PcapError";
    this.code = code;
    this.offset = offset;
  }
}

/** Which container format a capture uses. */
export type CaptureFormat = "pcap" | "pcapng";

/** What a scan of a capture file found, besides its frames. */
export interface CaptureInfo {
  /** Container format. */
  format: CaptureFormat;
  /** Number of frames delivered. */
  frames: number;
  /** True when the input ended inside a record or a record was unreadable; earlier frames were read. */
  truncated: boolean;
  /** Human-readable notes about skipped or unreadable parts. */
  warnings: string[];
  /** Link-layer types of the interfaces seen (pcap: one). */
  linkTypes: number[];
  /** Whether the file (its first section, for pcapng) is big-endian. */
  bigEndian: boolean;
}

/**
 * A frame as {@link scanCapture} delivers it: `offset`/`caplen` index into the scanned buffer. One
 * object is reused for every frame (no allocation per frame), so it is valid only during the call.
 */
export interface FrameRef {
  /** 1-based frame number, like Wireshark's. */
  frame: number;
  /** Offset of the frame's first byte in the scanned buffer. */
  offset: number;
  /** Captured length (a trailing FCS already removed). */
  caplen: number;
  /** Link-layer type (LINKTYPE_* value). */
  linkType: number;
  /** Timestamp, whole seconds since the epoch (UTC). */
  sec: number;
  /** Nanoseconds within `sec`. */
  nsec: number;
  /** Interface index (pcapng; 0 for pcap). */
  iface: number;
}

/** Receives frames from {@link scanCapture}. */
export interface FrameSink {
  /** One captured frame; `f` is reused for the next frame, copy what must outlive the call. */
  onFrame(f: Readonly<FrameRef>): void;
}

function newRef(): FrameRef {
  return { frame: 0, offset: 0, caplen: 0, linkType: 0, sec: 0, nsec: 0, iface: 0 };
}

/** A captured frame as returned by {@link readFrames}. */
export interface Frame {
  /** 1-based frame number. */
  frame: number;
  /** Timestamp, whole seconds since the epoch. */
  sec: number;
  /** Nanoseconds within `sec`. */
  nsec: number;
  /** Link-layer type (LINKTYPE_* value). */
  linkType: number;
  /** Interface index (pcapng; 0 for pcap). */
  iface: number;
  /** Captured bytes (a view into the input). */
  data: Uint8Array;
}

/** Largest record accepted; bigger captured lengths mean corruption (Wireshark uses the same bound). */
const MAX_RECORD = 262_144 * 4;

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;

/** Whether `bytes` starts like a pcap or pcapng file. */
export function isCapture(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 4);
  const be = view.getUint32(0, false);
  const le = view.getUint32(0, true);
  return be === PCAPNG_SHB || be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || le === PCAP_MAGIC_US ||
    le === PCAP_MAGIC_NS;
}

/**
 * Scans a pcap or pcapng capture and hands each frame to `sink`.
 *
 * @throws {PcapError} `bad_magic` when the input is neither format, `truncated` when even the file
 * header is incomplete, `unsupported` for a pcapng major version other than 1.
 */
export function scanCapture(bytes: Uint8Array, sink: FrameSink): CaptureInfo {
  if (bytes.length < 4) {
    throw new PcapError(
      "truncated",
      `Cannot read capture of ${bytes.length} bytes: too short for a file header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, false) === PCAPNG_SHB) return scanPcapng(bytes, view, sink);
  return scanPcap(bytes, view, sink);
}

/**
 * Reads every frame of a capture into an array (frames are views into `bytes`, not copies).
 *
 * @example
 * ```ts
 * const { frames, info } = readFrames(bytes);
 * console.log(info.format, frames.length, frames[0]?.linkType);
 * ```
 */
export function readFrames(bytes: Uint8Array): { frames: Frame[]; info: CaptureInfo } {
  const frames: Frame[] = [];
  const info = scanCapture(bytes, {
    onFrame(f) {
      const data = bytes.subarray(f.offset, f.offset + f.caplen);
      frames.push({ frame: f.frame, sec: f.sec, nsec: f.nsec, linkType: f.linkType, iface: f.iface, data });
    },
  });
  return { frames, info };
}

function scanPcap(bytes: Uint8Array, view: DataView, sink: FrameSink): CaptureInfo {
  const magicBe = view.getUint32(0, false);
  const magicLe = view.getUint32(0, true);
  let le: boolean;
  let nano: boolean;
  if (magicLe === PCAP_MAGIC_US || magicLe === PCAP_MAGIC_NS) {
    le = true;
    nano = magicLe === PCAP_MAGIC_NS;
  } else if (magicBe === PCAP_MAGIC_US || magicBe === PCAP_MAGIC_NS) {
    le = false;
    nano = magicBe === PCAP_MAGIC_NS;
  } else {
    throw new PcapError(
      "bad_magic",
      `Cannot read capture with magic 0x${magicBe.toString(16).padStart(8, "0")}: not pcap or pcapng`,
    );
  }
  if (bytes.length < 24) {
    throw new PcapError("truncated", `Cannot read pcap header: file has only ${bytes.length} of 24 bytes`);
  }
  const network = view.getUint32(20, le);
  const linkType = network & 0xffff;
  // Bit 26 of the link-type field says the frames end with an FCS of ((network >> 29) * 2) bytes.
  const fcs = (network & 0x04000000) !== 0 ? ((network >>> 29) & 7) * 2 : 0;
  const info: CaptureInfo = {
    format: "pcap",
    frames: 0,
    truncated: false,
    warnings: [],
    linkTypes: [linkType],
    bigEndian: !le,
  };
  const end = bytes.length;
  const unit = nano ? 1 : 1000;
  const ref = newRef();
  let off = 24;
  let frame = 0;
  while (off < end) {
    if (off + 16 > end) {
      info.truncated = true;
      info.warnings.push(`record ${frame + 1} at offset ${off}: header cut off after ${end - off} bytes`);
      break;
    }
    const sec = view.getUint32(off, le);
    const frac = view.getUint32(off + 4, le);
    const incl = view.getUint32(off + 8, le);
    if (incl > MAX_RECORD) {
      info.truncated = true;
      info.warnings.push(`record ${frame + 1} at offset ${off}: captured length ${incl} is implausible`);
      break;
    }
    if (off + 16 + incl > end) {
      info.truncated = true;
      info.warnings.push(
        `record ${frame + 1} at offset ${off}: ${incl} bytes announced, ${end - off - 16} present`,
      );
      break;
    }
    frame++;
    // Out-of-range fractions come from corrupt or odd writers; clamp rather than carry into seconds.
    const nsec = frac * unit;
    ref.frame = frame;
    ref.offset = off + 16;
    ref.caplen = incl > fcs ? incl - fcs : incl;
    ref.linkType = linkType;
    ref.sec = sec;
    ref.nsec = nsec < 1e9 ? nsec : 999_999_999;
    sink.onFrame(ref);
    off += 16 + incl;
  }
  info.frames = frame;
  return info;
}

interface Iface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second. */
  unitsPerSec: number;
  /** Offset added to timestamps, seconds. */
  tsOffset: number;
  fcs: number;
}

function scanPcapng(bytes: Uint8Array, view: DataView, sink: FrameSink): CaptureInfo {
  const info: CaptureInfo = {
    format: "pcapng",
    frames: 0,
    truncated: false,
    warnings: [],
    linkTypes: [],
    bigEndian: false,
  };
  const end = bytes.length;
  const ref = newRef();
  let off = 0;
  let le = true;
  let ifaces: Iface[] = [];
  let frame = 0;
  let lastSec = 0;
  let lastNsec = 0;
  let sections = 0;
  while (off < end) {
    if (off + 12 > end) {
      if (sections === 0) {
        throw new PcapError("truncated", "Cannot read pcapng section header: file too short");
      }
      info.truncated = true;
      info.warnings.push(`block at offset ${off}: header cut off after ${end - off} bytes`);
      break;
    }
    let type = view.getUint32(off, le);
    if (view.getUint32(off, false) === PCAPNG_SHB) {
      // A new section may switch byte order; the BOM is the authority.
      const bom = view.getUint32(off + 8, true);
      if (bom === PCAPNG_BOM) le = true;
      else if (view.getUint32(off + 8, false) === PCAPNG_BOM) le = false;
      else {
        if (sections === 0) {
          throw new PcapError(
            "bad_magic",
            "Cannot read pcapng: section header has no byte-order magic",
            off + 8,
          );
        }
        info.truncated = true;
        info.warnings.push(`block at offset ${off}: section header without byte-order magic`);
        break;
      }
      type = PCAPNG_SHB;
    }
    const total = view.getUint32(off + 4, le);
    if (total < 12 || total % 4 !== 0) {
      if (sections === 0) {
        throw new PcapError("bad_magic", `Cannot read pcapng: bad block length ${total}`, off + 4);
      }
      info.truncated = true;
      info.warnings.push(`block at offset ${off}: invalid block length ${total}`);
      break;
    }
    if (off + total > end) {
      if (sections === 0) {
        throw new PcapError("truncated", "Cannot read pcapng section header: file too short");
      }
      info.truncated = true;
      info.warnings.push(`block at offset ${off}: ${total} bytes announced, ${end - off} present`);
      break;
    }
    const body = off + 8;
    const bodyEnd = off + total - 4;
    switch (type) {
      case PCAPNG_SHB: {
        if (total < 28) {
          if (sections === 0) {
            throw new PcapError("truncated", "Cannot read pcapng: section header too short", off);
          }
          info.warnings.push(`block at offset ${off}: section header too short, skipped`);
          break;
        }
        const major = view.getUint16(body + 4, le);
        if (major !== 1) {
          if (sections === 0) {
            throw new PcapError(
              "unsupported",
              `Cannot read pcapng version ${major}: only version 1 exists`,
              off,
            );
          }
          info.truncated = true;
          info.warnings.push(`block at offset ${off}: section of unsupported version ${major}`);
          off = end;
          continue;
        }
        if (sections === 0) info.bigEndian = !le;
        sections++;
        ifaces = [];
        break;
      }
      case 1: {
        if (bodyEnd - body < 8) {
          info.warnings.push(`interface block at offset ${off} too short, skipped`);
          ifaces.push({ linkType: -1, snaplen: 0, unitsPerSec: 1e6, tsOffset: 0, fcs: 0 });
          break;
        }
        const iface = readIdb(view, body, bodyEnd, le);
        ifaces.push(iface);
        if (!info.linkTypes.includes(iface.linkType)) info.linkTypes.push(iface.linkType);
        break;
      }
      case 6:
      case 2: {
        // EPB: iface(4) tsHigh tsLow caplen origlen; obsolete PB: iface(2) drops(2) tsHigh tsLow caplen len.
        if (bodyEnd - body < 20) {
          info.warnings.push(`packet block at offset ${off} too short, skipped`);
          break;
        }
        const ifIndex = type === 6 ? view.getUint32(body, le) : view.getUint16(body, le);
        const iface = ifaces[ifIndex];
        const caplen = view.getUint32(body + 12, le);
        if (iface === undefined || caplen > bodyEnd - body - 20) {
          info.warnings.push(
            iface === undefined
              ? `packet block at offset ${off}: unknown interface ${ifIndex}, skipped`
              : `packet block at offset ${off}: captured length ${caplen} exceeds block, skipped`,
          );
          break;
        }
        tsToSecNsec(view.getUint32(body + 4, le), view.getUint32(body + 8, le), iface.unitsPerSec);
        lastSec = tsSec + iface.tsOffset;
        lastNsec = tsNsec;
        frame++;
        const len = caplen > iface.fcs ? caplen - iface.fcs : caplen;
        deliver(ref, frame, body + 20, len, iface.linkType, lastSec, lastNsec, ifIndex);
        sink.onFrame(ref);
        break;
      }
      case 3: {
        // SPB: no timestamp, interface 0; the captured part is what fits in the block and the snaplen.
        const iface = ifaces[0];
        if (iface === undefined || bodyEnd - body < 4) {
          info.warnings.push(`simple packet block at offset ${off} without interface, skipped`);
          break;
        }
        const orig = view.getUint32(body, le);
        let caplen = Math.min(orig, bodyEnd - body - 4);
        if (iface.snaplen > 0 && caplen > iface.snaplen) caplen = iface.snaplen;
        frame++;
        deliver(ref, frame, body + 4, caplen, iface.linkType, lastSec, lastNsec, 0);
        sink.onFrame(ref);
        break;
      }
      default:
        break;
    }
    off += total;
  }
  info.frames = frame;
  return info;
}

// Fills the reused frame object; positional because it is private and on the per-frame path.
function deliver(
  ref: FrameRef,
  frame: number,
  offset: number,
  caplen: number,
  linkType: number,
  sec: number,
  nsec: number,
  iface: number,
): void {
  ref.frame = frame;
  ref.offset = offset;
  ref.caplen = caplen;
  ref.linkType = linkType;
  ref.sec = sec;
  ref.nsec = nsec;
  ref.iface = iface;
}

function readIdb(view: DataView, body: number, bodyEnd: number, le: boolean): Iface {
  const iface: Iface = {
    linkType: view.getUint16(body, le),
    snaplen: view.getUint32(body + 4, le),
    unitsPerSec: 1e6,
    tsOffset: 0,
    fcs: 0,
  };
  let p = body + 8;
  while (p + 4 <= bodyEnd) {
    const code = view.getUint16(p, le);
    const len = view.getUint16(p + 2, le);
    if (code === 0 || p + 4 + len > bodyEnd) break;
    if (code === 9 && len >= 1) {
      const r = view.getUint8(p + 4);
      const exp = r & 0x7f;
      // Resolutions finer than 2^-52 or 10^-15 cannot be represented; keep the default instead.
      if ((r & 0x80) !== 0 ? exp <= 52 : exp <= 15) {
        iface.unitsPerSec = (r & 0x80) !== 0 ? 2 ** exp : 10 ** exp;
      }
    } else if (code === 14 && len >= 8) {
      const hi = view.getInt32(p + 4, le);
      const lo = view.getUint32(p + 8, le);
      iface.tsOffset = hi * 4294967296 + lo;
    } else if (code === 13 && len >= 1) {
      iface.fcs = view.getUint8(p + 4);
    }
    p += 4 + ((len + 3) & ~3);
  }
  return iface;
}

// Results of tsToSecNsec; module-level so the hot path does not allocate.
let tsSec = 0;
let tsNsec = 0;

/**
 * Splits a 64-bit timestamp (high/low words, `units` ticks per second) into whole seconds and
 * nanoseconds exactly, by long division in 16-bit limbs so no intermediate exceeds 2^53.
 */
function tsToSecNsec(high: number, low: number, units: number): void {
  if (units === 1e6 && high < 0x200000) {
    // Microseconds up to year 2255 fit in a double exactly: the common case, kept cheap.
    const t = high * 4294967296 + low;
    const s = Math.floor(t / 1e6);
    tsSec = s;
    tsNsec = (t - s * 1e6) * 1000;
    return;
  }
  if (units <= 2 ** 30) {
    let rem = 0;
    let q = 0;
    const limbs = [high >>> 16, high & 0xffff, low >>> 16, low & 0xffff];
    for (const limb of limbs) {
      const cur = rem * 65536 + limb;
      const d = Math.floor(cur / units);
      rem = cur - d * units;
      q = q * 65536 + d;
    }
    tsSec = q;
    tsNsec = Math.min(999_999_999, Math.floor((rem * 1e9) / units));
    return;
  }
  // Finer than 2^-30 s: precision beyond a double is not needed for analysis.
  const t = high * 4294967296 + low;
  const s = Math.floor(t / units);
  tsSec = s;
  tsNsec = Math.min(999_999_999, Math.max(0, Math.floor(((t - s * units) * 1e9) / units)));
}
