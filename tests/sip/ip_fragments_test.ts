import assert from "node:assert/strict";
import { IpReassembler } from "../../src/sip/ip_fragments.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

Deno.test("IpReassembler returns the datagram when the last hole is filled, whatever the order", () => {
  const r = new IpReassembler();
  assert.equal(r.add("k", { offset: 16, more: false, data: bytes("CCCC"), proto: 17, frame: 1 }), undefined);
  assert.equal(
    r.add("k", { offset: 0, more: true, data: bytes("AAAAAAAA"), proto: 17, frame: 2 }),
    undefined,
  );
  assert.equal(
    str(r.add("k", { offset: 8, more: true, data: bytes("BBBBBBBB"), proto: 17, frame: 3 })),
    "AAAAAAAABBBBBBBBCCCC",
  );
  assert.equal(r.lastProto, 17);
  assert.equal(r.pending, 0);
  assert.deepEqual(r.stats, { fragments: 3, reassembled: 1, expired: 0, invalid: 0 });
});

Deno.test("IpReassembler accepts overlapping and duplicate fragments", () => {
  const r = new IpReassembler();
  r.add("k", { offset: 0, more: true, data: bytes("AAAAAAAAAAAAAAAA"), proto: 6, frame: 1 });
  r.add("k", { offset: 0, more: true, data: bytes("AAAAAAAAAAAAAAAA"), proto: 6, frame: 2 });
  assert.equal(
    str(r.add("k", { offset: 8, more: false, data: bytes("XXXXXXXXYY"), proto: 6, frame: 3 })),
    "AAAAAAAAXXXXXXXXYY",
  );
});

Deno.test("IpReassembler drops datagrams older than maxAgeFrames (timeout by frame count)", () => {
  const r = new IpReassembler({ maxAgeFrames: 10 });
  r.add("old", { offset: 0, more: true, data: bytes("AAAAAAAA"), proto: 17, frame: 1 });
  r.add("new", { offset: 0, more: true, data: bytes("AAAAAAAA"), proto: 17, frame: 5 });
  assert.equal(
    r.add("other", { offset: 0, more: true, data: bytes("AAAAAAAA"), proto: 17, frame: 12 }),
    undefined,
  );
  assert.equal(r.stats.expired, 1);
  assert.equal(
    r.add("old", { offset: 8, more: false, data: bytes("B"), proto: 17, frame: 13 }),
    undefined,
    "old was dropped; this starts afresh",
  );
  assert.equal(
    str(r.add("new", { offset: 8, more: false, data: bytes("B"), proto: 17, frame: 14 })),
    "AAAAAAAAB",
  );
});

Deno.test("IpReassembler holds at most maxDatagrams at once", () => {
  const r = new IpReassembler({ maxDatagrams: 3 });
  for (let i = 0; i < 100; i++) {
    r.add(`k${i}`, { offset: 0, more: true, data: bytes("AAAAAAAA"), proto: 17, frame: i });
  }
  assert.equal(r.pending, 3);
  assert.equal(r.stats.expired, 97);
});

Deno.test("IpReassembler rejects fragments beyond maxBytes and conflicting last fragments", () => {
  const r = new IpReassembler({ maxBytes: 100 });
  assert.equal(
    r.add("k", { offset: 96, more: false, data: bytes("AAAAAAAA"), proto: 17, frame: 1 }),
    undefined,
  );
  assert.equal(r.stats.invalid, 1);
  r.add("j", { offset: 8, more: false, data: bytes("AAAAAAAA"), proto: 17, frame: 2 });
  assert.equal(r.add("j", { offset: 8, more: false, data: bytes("AAAA"), proto: 17, frame: 3 }), undefined);
  assert.equal(r.stats.invalid, 2);
  assert.equal(r.pending, 0);
});

Deno.test("IpReassembler gives up on a datagram made of thousands of tiny fragments", () => {
  const r = new IpReassembler({ maxBytes: 1 << 20 });
  for (let i = 0; i < 5000; i++) {
    r.add("k", { offset: i * 8 + 8, more: true, data: bytes("AAAAAAAA"), proto: 17, frame: i });
  }
  assert.ok(r.stats.invalid > 0);
  assert.ok(r.pending <= 1);
});

Deno.test("IpReassembler ignores pieces beyond the end set by the last fragment (found by fuzzing)", () => {
  const r = new IpReassembler();
  r.add("k", { offset: 16, more: true, data: bytes("BBBBBBBB"), proto: 17, frame: 1 });
  assert.equal(
    str(r.add("k", { offset: 0, more: false, data: bytes("AAAAAAAA"), proto: 17, frame: 2 })),
    "AAAAAAAA",
  );
});
