import assert from "node:assert/strict";
import fc from "fast-check";
import { completeUtf8Length, leadingContinuationBytes } from "../../../src/ssh/jobs/utf8.ts";

Deno.test("completeUtf8Length() never cuts inside a character and never holds back a complete one", () => {
  fc.assert(fc.property(fc.string({ unit: "grapheme" }), fc.nat(64), (text, cut) => {
    const bytes = new TextEncoder().encode(text);
    const prefix = bytes.subarray(0, Math.min(cut, bytes.length));
    const n = completeUtf8Length(prefix);
    assert.ok(n <= prefix.length && prefix.length - n <= 3);
    const decoded = new TextDecoder("utf-8", { fatal: true }).decode(prefix.subarray(0, n));
    assert.ok(text.startsWith(decoded));
    if (prefix.length === bytes.length) assert.equal(n, bytes.length);
  }));
});

Deno.test("completeUtf8Length() does not hold back bytes that are not UTF-8", () => {
  assert.equal(completeUtf8Length(new Uint8Array([0x41, 0xff])), 2);
  assert.equal(completeUtf8Length(new Uint8Array([0x80, 0x80, 0x80, 0x80])), 4);
  assert.equal(completeUtf8Length(new Uint8Array([0x41, 0xe2, 0x82])), 1);
  assert.equal(completeUtf8Length(new Uint8Array([0xf0, 0x9f, 0x98, 0x80])), 4);
  assert.equal(leadingContinuationBytes(new Uint8Array([0x82, 0xac, 0x41])), 2);
});
