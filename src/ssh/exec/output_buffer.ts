/**
 * Bounded capture of a byte stream: the first and last bytes are kept, the middle is counted and
 * dropped, so a `yes`-style flood costs constant memory while the stream keeps draining.
 */

/** Keeps at most `limit` bytes: the first half and the most recent half. */
export class HeadTailBuffer {
  #limit: number;
  #head: Uint8Array;
  #headLength = 0;
  #tail: Uint8Array;
  #tailStart = 0;
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
    this.#head = new Uint8Array(Math.ceil(limit / 2));
    this.#tail = new Uint8Array(Math.floor(limit / 2));
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
    if (this.#headLength < this.#head.length) {
      const n = Math.min(chunk.length, this.#head.length - this.#headLength);
      this.#head.set(chunk.subarray(0, n), this.#headLength);
      this.#headLength += n;
      offset = n;
    }
    const rest = chunk.subarray(offset);
    const size = this.#tail.length;
    if (rest.length === 0 || size === 0) return;
    if (rest.length >= size) {
      this.#tail.set(rest.subarray(rest.length - size));
      this.#tailStart = 0;
      this.#tailLength = size;
      return;
    }
    for (let i = 0; i < rest.length;) {
      const end = (this.#tailStart + this.#tailLength) % size;
      const n = Math.min(rest.length - i, size - end);
      this.#tail.set(rest.subarray(i, i + n), end);
      i += n;
      const overflow = this.#tailLength + n - size;
      if (overflow > 0) {
        this.#tailStart = (this.#tailStart + overflow) % size;
        this.#tailLength = size;
      } else this.#tailLength += n;
    }
  }

  /** The kept bytes: head, then tail (without a marker). */
  parts(): { head: Uint8Array; tail: Uint8Array; omitted: number } {
    const size = this.#tail.length;
    const tail = new Uint8Array(this.#tailLength);
    const first = Math.min(this.#tailLength, size - this.#tailStart);
    tail.set(this.#tail.subarray(this.#tailStart, this.#tailStart + first));
    tail.set(this.#tail.subarray(0, this.#tailLength - first), first);
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
