/**
 * Cutting byte pages of UTF-8 text without splitting a character between two pages.
 */

/**
 * The length of the longest prefix of `bytes` that does not end inside a UTF-8 sequence. Bytes that
 * are not UTF-8 at all are never held back (a binary stream still makes progress).
 *
 * @example
 * ```ts
 * completeUtf8Length(new TextEncoder().encode("aé").subarray(0, 2)); // => 1
 * ```
 */
export function completeUtf8Length(bytes: Uint8Array): number {
  const n = bytes.length;
  // A sequence is at most 4 bytes: look back at most 3 for its lead byte.
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

/** Bytes at the start of `bytes` that continue a sequence begun before it (at most 3). */
export function leadingContinuationBytes(bytes: Uint8Array): number {
  let i = 0;
  while (i < 3 && i < bytes.length && (bytes[i]! & 0xc0) === 0x80) i++;
  return i;
}
