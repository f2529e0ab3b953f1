import assert from "node:assert/strict";
import { isCapture, PcapError, readFrames, scanCapture } from "../../src/sip/pcap.ts";
import { type PacketSpec, writePcap, writePcapng } from "../_helpers/pcap_builder.ts";

const specs: PacketSpec[] = [
  { ts: { sec: 1_700_000_000, nsec: 123_456_789 }, src: "10.0.0.1", dst: "10.0.0.2", payload: "one" },
  { ts: { sec: 1_700_000_001, nsec: 999_999_999 }, src: "10.0.0.2", dst: "10.0.0.1", payload: "two!" },
  { ts: { sec: 1_700_000_002, nsec: 0 }, src: "10.0.0.1", dst: "10.0.0.2", payload: "three" },
];

Deno.test("readFrames() reads little- and big-endian microsecond pcap with identical results", () => {
  for (const bigEndian of [false, true]) {
    const { frames, info } = readFrames(writePcap(specs, { bigEndian }));
    assert.equal(info.format, "pcap");
    assert.equal(info.bigEndian, bigEndian);
    assert.equal(info.truncated, false);
    assert.deepEqual(info.linkTypes, [1]);
    assert.deepEqual(frames.map((f) => [f.frame, f.sec, f.nsec]), [
      [1, 1_700_000_000, 123_456_000],
      [2, 1_700_000_001, 999_999_000],
      [3, 1_700_000_002, 0],
    ]);
    assert.equal(frames[0]!.data.length, 14 + 20 + 8 + 3);
  }
});

Deno.test("readFrames() keeps full nanosecond precision of nanosecond pcap in both byte orders", () => {
  for (const bigEndian of [false, true]) {
    const { frames } = readFrames(writePcap(specs, { nanosecond: true, bigEndian }));
    assert.deepEqual(frames.map((f) => f.nsec), [123_456_789, 999_999_999, 0]);
  }
});

Deno.test("readFrames() reads pcapng in both byte orders, with µs and ns if_tsresol", () => {
  for (const bigEndian of [false, true]) {
    for (const tsresol of [undefined, 9]) {
      const { frames, info } = readFrames(
        writePcapng(specs, { bigEndian, interfaces: [{ link: "ethernet", tsresol }] }),
      );
      assert.equal(info.format, "pcapng");
      assert.equal(info.bigEndian, bigEndian);
      assert.equal(frames.length, 3);
      assert.deepEqual(
        frames.map((f) => f.nsec),
        tsresol === 9 ? [123_456_789, 999_999_999, 0] : [123_456_000, 999_999_000, 0],
      );
      assert.equal(frames[2]!.sec, 1_700_000_002);
    }
  }
});

Deno.test("readFrames() converts a binary (2^-n) pcapng timestamp resolution", () => {
  const { frames } = readFrames(
    writePcapng([specs[0]!], { interfaces: [{ link: "ethernet", tsresol: 0x80 | 20 }] }),
  );
  assert.equal(frames[0]!.sec, 1_700_000_000);
  // 2^-20 s ticks: floor(0.123456789 * 2^20) = 129453 ticks = 123455.81… µs
  assert.equal(frames[0]!.nsec, Math.floor((129453 * 1e9) / 2 ** 20));
});

Deno.test("readFrames() gives each pcapng interface its own link type and skips unknown blocks", () => {
  const bytes = writePcapng([
    { ...specs[0]!, iface: 0 },
    { ...specs[1]!, iface: 1 },
  ], { interfaces: [{ link: "ethernet" }, { link: "sll2" }], extraBlocks: true });
  const { frames, info } = readFrames(bytes);
  assert.deepEqual(info.linkTypes, [1, 276]);
  assert.deepEqual(frames.map((f) => [f.iface, f.linkType]), [[0, 1], [1, 276]]);
  assert.equal(info.warnings.length, 0);
});

Deno.test("readFrames() reads Simple Packet Blocks with the interface's link type", () => {
  const { frames } = readFrames(writePcapng(specs, { simple: true, interfaces: [{ link: "raw" }] }));
  assert.equal(frames.length, 3);
  assert.equal(frames[0]!.linkType, 101);
  assert.equal(frames[0]!.data.length, 20 + 8 + 3);
});

Deno.test("readFrames() reads a pcapng with two sections of different byte order", () => {
  const a = writePcapng([specs[0]!]);
  const b = writePcapng([specs[1]!], { bigEndian: true, interfaces: [{ link: "raw" }] });
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  const { frames } = readFrames(both);
  assert.deepEqual(frames.map((f) => f.linkType), [1, 101]);
});

Deno.test("a truncated final pcap record is a warning, not an error, and earlier frames survive", () => {
  const full = writePcap(specs);
  for (const cut of [1, 5, 17, full.length - 24 - 2 * (16 + 45) - 16 - 1]) {
    const { frames, info } = readFrames(full.subarray(0, full.length - cut));
    assert.equal(info.truncated, true, `cut ${cut}`);
    assert.equal(frames.length, 2);
    assert.equal(info.warnings.length, 1);
  }
});

Deno.test("a truncated final pcapng block is a warning, not an error", () => {
  const full = writePcapng(specs);
  const { frames, info } = readFrames(full.subarray(0, full.length - 10));
  assert.equal(info.truncated, true);
  assert.equal(frames.length, 2);
});

Deno.test("an implausible pcap record length stops the scan with a warning", () => {
  const bytes = writePcap(specs);
  new DataView(bytes.buffer).setUint32(24 + 8, 0x7fffffff, true);
  const { frames, info } = readFrames(bytes);
  assert.equal(frames.length, 0);
  assert.equal(info.truncated, true);
  assert.match(info.warnings[0]!, /implausible/);
});

Deno.test("scanCapture() throws PcapError bad_magic for non-captures and truncated for tiny files", () => {
  const sink = { onFrame() {} };
  assert.throws(() => scanCapture(new TextEncoder().encode("hello world, not a pcap"), sink), (e) => {
    assert.ok(e instanceof PcapError);
    assert.equal(e.code, "bad_magic");
    assert.match(e.message, /^Cannot read capture/);
    return true;
  });
  assert.throws(
    () => scanCapture(new Uint8Array([0xd4, 0xc3]), sink),
    (e) => e instanceof PcapError && e.code === "truncated",
  );
  assert.throws(
    () => scanCapture(writePcap([]).subarray(0, 20), sink),
    (e) => e instanceof PcapError && e.code === "truncated",
  );
  assert.throws(
    () => scanCapture(writePcapng([]).subarray(0, 20), sink),
    (e) => e instanceof PcapError && e.code === "truncated",
  );
});

Deno.test("scanCapture() rejects a pcapng major version other than 1 as unsupported", () => {
  const bytes = writePcapng([]);
  new DataView(bytes.buffer).setUint16(12, 2, true);
  assert.throws(
    () => scanCapture(bytes, { onFrame() {} }),
    (e) => e instanceof PcapError && e.code === "unsupported",
  );
});

Deno.test("isCapture() recognises all four pcap magics and pcapng", () => {
  assert.ok(isCapture(writePcap([])));
  assert.ok(isCapture(writePcap([], { bigEndian: true, nanosecond: true })));
  assert.ok(isCapture(writePcapng([])));
  assert.ok(!isCapture(new TextEncoder().encode("GIF89a")));
});

Deno.test("an empty pcap (header only) has zero frames and is not truncated", () => {
  const { frames, info } = readFrames(writePcap([]));
  assert.equal(frames.length, 0);
  assert.equal(info.truncated, false);
});
