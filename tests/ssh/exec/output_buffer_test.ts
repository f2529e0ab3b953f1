/**
 * HeadTailBuffer keeps exactly the first half and the last half of a stream under its limit, for any
 * chunking (a property test against the obvious model), and its memory follows the output, not the limit.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { HeadTailBuffer } from "../../../src/ssh/exec/output_buffer.ts";

Deno.test("head and tail are the model's for any limit and any chunking", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 300 }),
      fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 40 }),
      (limit, chunks) => {
        const buffer = new HeadTailBuffer(limit);
        for (const chunk of chunks) buffer.push(chunk);
        const all = Uint8Array.from(chunks.flatMap((c) => [...c]));
        const headCap = Math.ceil(limit / 2);
        const tailCap = Math.floor(limit / 2);
        const head = all.subarray(0, headCap);
        const afterHead = all.subarray(head.length);
        const tail = afterHead.subarray(Math.max(0, afterHead.length - tailCap));
        const parts = buffer.parts();
        assert.deepEqual([...parts.head], [...head]);
        assert.deepEqual([...parts.tail], [...tail]);
        assert.equal(parts.omitted, all.length - head.length - tail.length);
        assert.equal(buffer.totalBytes, all.length);
        assert.equal(buffer.truncated, all.length > limit);
        if (!buffer.truncated) assert.deepEqual([...buffer.bytes()], [...all]);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("a small output under a large cap holds small buffers; a 1-byte flood stays bounded by the cap", () => {
  const small = new HeadTailBuffer(64 * 1024 * 1024);
  small.push(new TextEncoder().encode("hi\n"));
  assert.equal(small.text(), "hi\n");
  // Before: 32 MiB for the head and 32 MiB for the tail, allocated by the constructor.
  const reachable = (small as unknown as { parts(): { head: Uint8Array } }).parts().head.buffer.byteLength;
  assert.ok(reachable <= 16 * 1024, `head buffer ${reachable} bytes`);

  const flood = new HeadTailBuffer(1024);
  for (let i = 0; i < 200_000; i++) flood.push(Uint8Array.of(i % 256));
  const { head, tail, omitted } = flood.parts();
  assert.equal(head.length + tail.length, 1024);
  assert.equal(omitted, 200_000 - 1024);
  assert.equal(tail.at(-1), (200_000 - 1) % 256);
});
