/**
 * Bounded capture of a byte stream: the first and last bytes are kept, the middle is counted and
 * dropped, so a `yes`-style flood costs constant memory while the stream keeps draining.
 */

/** First size of the head, bytes; it doubles as output arrives, up to half the limit. */
const FIRST_HEAD_BYTES = 16 * 1024;
/** Size of a tail block, bytes (small chunks are packed into blocks; a bigger chunk is its own block). */
const TAIL_BLOCK_BYTES = 64 * 1024;

interface Block {
  bytes: Uint8Array;
  length: number;
}

/**
 * Keeps at most `limit` bytes: the first half and the most recent half. Memory follows the output, not
 * the limit: `run true` under an 8 MiB cap holds a few bytes, not 8 MiB (every command used to
 * allocate its cap up front, twice — the soak's server RSS rose by hundreds of MiB).
 */
export class HeadTailBuffer {
  #limit: number;
  #headCap: number;
  #tailCap: number;
  #head: Uint8Array;
  #headLength = 0;
  /** The most recent bytes past the head, oldest first, in blocks; the first `#skip` bytes are dropped. */
  #blocks: Block[] = [];
  #skip = 0;
  #tailLength = 0;
  #total = 0;
  #observer: ((chunk: Uint8Array) => void) | undefined;

  /**
   * Creates a buffer keeping at most `limit` bytes (≥ 2); `observer` sees every chunk as it is pushed
   * (e.g. a job that keeps the output of a command that outlived its call).
   */
  constructor(limit: number, observer?: (chunk: Uint8Array) => void) {
    if (!Number.isInteger(limit) || limit < 2) throw new RangeError(`Cannot cap output at ${limit} bytes`);
    this.#limit = limit;
    this.#observer = observer;
    this.#headCap = Math.ceil(limit / 2);
    this.#tailCap = Math.floor(limit / 2);
    this.#head = new Uint8Array(0);
  }

  /** Bytes seen so far. */
  get totalBytes(): number {
    return this.#total;
  }

  /** Whether bytes were dropped. */
  get truncated(): boolean {
    return this.#total > this.#limit;
  }

  /** Appends a chunk. */
  push(chunk: Uint8Array): void {
    this.#observer?.(chunk);
    this.#total += chunk.length;
    let offset = 0;
    if (this.#headLength < this.#headCap) {
      const n = Math.min(chunk.length, this.#headCap - this.#headLength);
      this.#growHead(this.#headLength + n);
      this.#head.set(chunk.subarray(0, n), this.#headLength);
      this.#headLength += n;
      offset = n;
    }
    const rest = chunk.subarray(offset);
    if (rest.length === 0 || this.#tailCap === 0) return;
    if (rest.length >= this.#tailCap) {
      const bytes = rest.slice(rest.length - this.#tailCap);
      this.#blocks = [{ bytes, length: bytes.length }];
      this.#skip = 0;
      this.#tailLength = bytes.length;
      return;
    }
    this.#append(rest);
    let excess = this.#tailLength - this.#tailCap;
    while (excess > 0) {
      const first = this.#blocks[0]!;
      const kept = first.length - this.#skip;
      if (kept <= excess) {
        this.#blocks.shift();
        this.#skip = 0;
        this.#tailLength -= kept;
        excess -= kept;
      } else {
        this.#skip += excess;
        this.#tailLength -= excess;
        excess = 0;
      }
    }
  }

  #append(bytes: Uint8Array): void {
    this.#tailLength += bytes.length;
    let rest = bytes;
    const last = this.#blocks.at(-1);
    if (last !== undefined && last.length < last.bytes.length) {
      const n = Math.min(rest.length, last.bytes.length - last.length);
      last.bytes.set(rest.subarray(0, n), last.length);
      last.length += n;
      rest = rest.subarray(n);
    }
    if (rest.length === 0) return;
    const block = new Uint8Array(Math.max(rest.length, Math.min(TAIL_BLOCK_BYTES, this.#tailCap)));
    block.set(rest);
    this.#blocks.push({ bytes: block, length: rest.length });
  }

  #growHead(needed: number): void {
    if (needed <= this.#head.length) return;
    const size = Math.min(this.#headCap, Math.max(needed, FIRST_HEAD_BYTES, this.#head.length * 2));
    const grown = new Uint8Array(size);
    grown.set(this.#head.subarray(0, this.#headLength));
    this.#head = grown;
  }

  /** The kept bytes: head, then tail (without a marker). */
  parts(): { head: Uint8Array; tail: Uint8Array; omitted: number } {
    const tail = new Uint8Array(this.#tailLength);
    let at = 0;
    for (const [i, block] of this.#blocks.entries()) {
      const piece = block.bytes.subarray(i === 0 ? this.#skip : 0, block.length);
      tail.set(piece, at);
      at += piece.length;
    }
    const head = this.#head.subarray(0, this.#headLength);
    return { head, tail, omitted: this.#total - head.length - tail.length };
  }

  /** The kept text (UTF-8, lossy), with a marker where bytes were omitted. */
  text(): string {
    const { head, tail, omitted } = this.parts();
    const decoder = new TextDecoder();
    if (omitted === 0) return decoder.decode(concat(head, tail));
    return `${decoder.decode(head)}\n…[${omitted} bytes omitted]…\n${decoder.decode(tail)}`;
  }

  /** All kept bytes when nothing was omitted. */
  bytes(): Uint8Array {
    const { head, tail } = this.parts();
    return concat(head, tail);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
