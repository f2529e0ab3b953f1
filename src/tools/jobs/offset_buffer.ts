/**
 * A stream's bytes kept for reading by offset, in bounded memory: the first `head` bytes and the
 * newest `tail` bytes; reading inside the dropped middle resumes where the kept bytes do.
 */

/** Options of {@link OffsetBuffer}. */
export interface OffsetBufferOptions {
  /** Bytes kept from the start (default 1 MiB). */
  head?: number;
  /** Newest bytes kept (default 4 MiB). */
  tail?: number;
}

/** What {@link OffsetBuffer.read} returns. */
export interface OffsetRead {
  /** Offset of the first byte returned (after `offset` when it fell in the dropped middle). */
  start: number;
  /** The bytes. */
  bytes: Uint8Array;
}

/**
 * Keeps the head and the tail of a stream with their absolute offsets.
 *
 * @example
 * ```ts
 * const buffer = new OffsetBuffer({ head: 4, tail: 4 });
 * buffer.push(new TextEncoder().encode("0123456789"));
 * buffer.read(2, 100); // => { start: 2, bytes: "23" } — then read(4, …) resumes at 6: "6789"
 * ```
 */
export class OffsetBuffer {
  #headCap: number;
  #tailCap: number;
  #head: Uint8Array[] = [];
  #headLength = 0;
  #tail: Uint8Array[] = [];
  #tailLength = 0;
  #total = 0;

  /** An empty buffer. */
  constructor(options: OffsetBufferOptions = {}) {
    this.#headCap = options.head ?? 1024 * 1024;
    this.#tailCap = options.tail ?? 4 * 1024 * 1024;
  }

  /** Bytes the stream received. */
  get total(): number {
    return this.#total;
  }

  /** Bytes dropped from the middle. */
  get dropped(): number {
    return this.#total - this.#headLength - this.#tailLength;
  }

  /** Appends a chunk (copied: callers may reuse theirs). */
  push(chunk: Uint8Array): void {
    let rest = chunk;
    if (this.#headLength < this.#headCap) {
      const n = Math.min(rest.length, this.#headCap - this.#headLength);
      this.#head.push(rest.slice(0, n));
      this.#headLength += n;
      rest = rest.subarray(n);
    }
    this.#total += chunk.length;
    if (rest.length === 0) return;
    this.#tail.push(rest.slice());
    this.#tailLength += rest.length;
    while (this.#tailLength - (this.#tail[0]?.length ?? 0) >= this.#tailCap) {
      this.#tailLength -= this.#tail.shift()!.length;
    }
    const first = this.#tail[0];
    if (first !== undefined && this.#tailLength > this.#tailCap) {
      const cut = this.#tailLength - this.#tailCap;
      this.#tail[0] = first.subarray(cut);
      this.#tailLength -= cut;
    }
  }

  /** Up to `max` bytes from `offset` (or from where the kept bytes resume after it). */
  read(offset: number, max: number): OffsetRead {
    const tailStart = this.#total - this.#tailLength;
    if (offset < this.#headLength) {
      return { start: offset, bytes: slice(this.#head, offset, Math.min(max, this.#headLength - offset)) };
    }
    const start = Math.max(offset, tailStart);
    if (start >= this.#total) return { start: Math.min(offset, this.#total), bytes: new Uint8Array() };
    return { start, bytes: slice(this.#tail, start - tailStart, Math.min(max, this.#total - start)) };
  }
}

function slice(chunks: readonly Uint8Array[], from: number, length: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, length));
  let skip = from, at = 0;
  for (const chunk of chunks) {
    if (at >= out.length) break;
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    const part = chunk.subarray(skip, skip + out.length - at);
    out.set(part, at);
    at += part.length;
    skip = 0;
  }
  return out;
}
