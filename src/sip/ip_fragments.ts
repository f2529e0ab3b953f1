/**
 * IP fragment reassembly (IPv4 and the IPv6 Fragment header) with bounded memory. Pure (no I/O).
 *
 * @module
 */

/** Limits of an {@link IpReassembler}. */
export interface IpReassemblerOptions {
  /** Datagrams under reassembly at once; the oldest is dropped beyond this. Default 256. */
  maxDatagrams?: number;
  /** A datagram not completed within this many frames after its first fragment is dropped. Default 10000. */
  maxAgeFrames?: number;
  /** Largest reassembled datagram payload in bytes. Default 65535. */
  maxBytes?: number;
}

interface Piece {
  off: number;
  data: Uint8Array;
}

interface Pending {
  pieces: Piece[];
  /** Payload length, known once the last fragment arrived; -1 before. */
  total: number;
  bytes: number;
  firstFrame: number;
  /** Upper-layer protocol from the first fragment (IPv6 puts it only there). */
  proto: number;
}

/** One fragment for {@link IpReassembler.add}. */
export interface IpFragment {
  /** Byte offset of `data` in the original payload. */
  offset: number;
  /** More fragments follow (MF flag / IPv6 M flag). */
  more: boolean;
  /** The fragment's bytes. */
  data: Uint8Array;
  /** Upper-layer protocol it carries (-1 when unknown). */
  proto: number;
  /** Frame number it arrived in; ages pending datagrams. */
  frame: number;
}

/** Counters of an {@link IpReassembler}. */
export interface IpReassemblyStats {
  /** Fragments accepted. */
  fragments: number;
  /** Datagrams completed. */
  reassembled: number;
  /** Datagrams dropped because they were too old or too many were pending. */
  expired: number;
  /** Fragments rejected as malformed (beyond maxBytes, or conflicting ends). */
  invalid: number;
}

/**
 * Collects fragments keyed by (version, addresses, protocol, id) and returns the payload once it is
 * complete. Overlapping fragments are accepted; later bytes win.
 *
 * @example
 * ```ts
 * const r = new IpReassembler();
 * r.add("k", { offset: 0, more: true, data: first, proto: 17, frame: 1 }); // undefined: incomplete
 * const whole = r.add("k", { offset: 8, more: false, data: rest, proto: 17, frame: 2 }); // first + rest
 * ```
 */
export class IpReassembler {
  #pending = new Map<string, Pending>();
  #maxDatagrams: number;
  #maxAge: number;
  #maxBytes: number;
  /** Protocol of the last datagram returned by {@link add}. */
  lastProto = 0;
  /** Counters since construction. */
  readonly stats: IpReassemblyStats = { fragments: 0, reassembled: 0, expired: 0, invalid: 0 };

  /** Creates a reassembler with the given limits. */
  constructor(options: IpReassemblerOptions = {}) {
    this.#maxDatagrams = Math.max(1, options.maxDatagrams ?? 256);
    this.#maxAge = Math.max(1, options.maxAgeFrames ?? 10_000);
    this.#maxBytes = Math.max(1, options.maxBytes ?? 65_535);
  }

  /** Datagrams currently waiting for fragments. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Adds a fragment; returns the whole payload when this fragment completes it.
   * `proto` is the upper-layer protocol carried by the fragment (-1 if unknown for non-first IPv6
   * fragments); the completed datagram's protocol is then in {@link lastProto}.
   */
  add(key: string, fragment: IpFragment): Uint8Array | undefined {
    const { offset, more, data, proto, frame } = fragment;
    this.#expire(frame);
    const end = offset + data.length;
    if (end > this.#maxBytes || (more && data.length === 0)) {
      this.stats.invalid++;
      return undefined;
    }
    this.stats.fragments++;
    let p = this.#pending.get(key);
    if (p === undefined) {
      if (this.#pending.size >= this.#maxDatagrams) this.#dropOldest();
      p = { pieces: [], total: -1, bytes: 0, firstFrame: frame, proto: -1 };
      this.#pending.set(key, p);
    }
    if (offset === 0 || p.proto < 0) p.proto = proto;
    if (p.pieces.length >= 2048) {
      // Thousands of tiny or repeated fragments: an attack or corruption, not a datagram.
      this.stats.invalid++;
      this.#pending.delete(key);
      return undefined;
    }
    if (!more) {
      if (p.total >= 0 && p.total !== end) {
        this.stats.invalid++;
        this.#pending.delete(key);
        return undefined;
      }
      p.total = end;
    }
    p.pieces.push({ off: offset, data });
    p.bytes += data.length;
    if (p.total < 0 || p.bytes < p.total) return undefined;
    p.pieces.sort((a, b) => a.off - b.off);
    let covered = 0;
    for (const piece of p.pieces) {
      if (covered >= p.total) break;
      if (piece.off > covered) return undefined;
      covered = Math.max(covered, piece.off + piece.data.length);
    }
    if (covered < p.total) return undefined;
    const out = new Uint8Array(p.total);
    for (const piece of p.pieces) {
      // Pieces beyond the end announced by the last fragment are inconsistent; ignore their excess.
      if (piece.off < p.total) out.set(piece.data.subarray(0, p.total - piece.off), piece.off);
    }
    this.#pending.delete(key);
    this.stats.reassembled++;
    this.lastProto = p.proto;
    return out;
  }

  #expire(frame: number): void {
    // Map iteration is in insertion order, so the oldest datagrams come first.
    for (const [key, p] of this.#pending) {
      if (frame - p.firstFrame <= this.#maxAge) break;
      this.#pending.delete(key);
      this.stats.expired++;
    }
  }

  #dropOldest(): void {
    for (const key of this.#pending.keys()) {
      this.#pending.delete(key);
      this.stats.expired++;
      return;
    }
  }
}
