import assert from "node:assert/strict";
import type { Packet } from "../../src/sip/packets.ts";
import { contentLength, TcpReassembler } from "../../src/sip/tcp.ts";
import { sipText } from "./scenarios.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function seg(seq: number, data: string | Uint8Array, opts: Partial<Packet> = {}): Packet {
  const payload = typeof data === "string" ? enc.encode(data) : data;
  return {
    frame: 1,
    ts: 1,
    sec: 1,
    nsec: 0,
    src: "10.0.0.1",
    dst: "10.0.0.2",
    sport: 40000,
    dport: 5060,
    proto: "tcp",
    payload,
    seq,
    flags: 0x18,
    ipVersion: 4,
    iface: 0,
    ...opts,
  };
}

const M1 = sipText({
  start: "OPTIONS sip:b@x SIP/2.0",
  headers: ["Call-ID: one", "CSeq: 1 OPTIONS", "From: <sip:a@x>;tag=1", "To: <sip:b@x>"],
  body: "body-one",
});
const M2 = sipText({
  start: "SIP/2.0 200 OK",
  headers: ["i: two", "CSeq: 1 OPTIONS", "f: <sip:a@x>;tag=1", "t: <sip:b@x>;tag=2"],
});
const M3 = sipText({
  start: "MESSAGE sip:b@x SIP/2.0",
  headers: ["Call-ID: three", "CSeq: 2 MESSAGE"],
  body: "hi",
});

function run(t: TcpReassembler, packets: Packet[]): string[] {
  const out = packets.flatMap((p) => t.push(p));
  out.push(...t.flush());
  return out.map((d) => dec.decode(d.payload));
}

Deno.test("a SIP message split over three segments is reassembled at the segment that completes it", () => {
  const t = new TcpReassembler();
  const a = seg(1000, M1.slice(0, 10), { frame: 1 });
  const b = seg(1010, M1.slice(10, 60), { frame: 2 });
  const c = seg(1060, M1.slice(60), { frame: 3 });
  assert.deepEqual([...t.push(a), ...t.push(b)], []);
  const out = t.push(c);
  assert.equal(out.length, 1);
  assert.equal(dec.decode(out[0]!.payload), M1);
  assert.equal(out[0]!.frame, 3);
});

Deno.test("several SIP messages in one segment are split by Content-Length (compact l: too)", () => {
  const t = new TcpReassembler();
  const compact = M3.replace("Content-Length: 2", "l:2");
  assert.deepEqual(run(t, [seg(1, M1 + M2 + compact)]), [M1, M2, compact]);
});

Deno.test("a message that ends mid-segment continues with the rest of the next segment", () => {
  const t = new TcpReassembler();
  const all = M1 + M2 + M3;
  const cut = M1.length + 5;
  assert.deepEqual(run(t, [seg(1, all.slice(0, cut)), seg(1 + cut, all.slice(cut))]), [M1, M2, M3]);
});

Deno.test("retransmissions and overlapping segments deliver each byte once", () => {
  const t = new TcpReassembler();
  const all = M1 + M2;
  const s = (from: number, to: number) => seg(100 + from, all.slice(from, to));
  assert.deepEqual(run(t, [s(0, 50), s(0, 50), s(30, 120), s(100, all.length), s(100, all.length)]), [
    M1,
    M2,
  ]);
});

Deno.test("out-of-order segments are held until the gap fills", () => {
  const t = new TcpReassembler();
  const all = M1 + M2;
  const s = (from: number, to: number) => seg(5000 + from, all.slice(from, to));
  assert.deepEqual(run(t, [s(0, 40), s(80, all.length), s(40, 80)]), [M1, M2]);
});

Deno.test("sequence numbers wrap around 2^32", () => {
  const t = new TcpReassembler();
  const isn = 0xffffffff - 20;
  const all = M1 + M2;
  assert.deepEqual(
    run(t, [
      seg(isn, "", { flags: 0x02 }),
      seg(isn + 1, all.slice(0, 30)),
      seg((isn + 31) >>> 0, all.slice(30)),
    ]),
    [M1, M2],
  );
});

Deno.test("a gap that never fills is skipped, reported, and framing resumes at the next message", () => {
  const t = new TcpReassembler({ maxPendingSegments: 2 });
  const all = M1 + M2 + M3;
  const s = (from: number, to: number) => seg(1 + from, all.slice(from, to));
  const m2 = M1.length;
  const m3 = M1.length + M2.length;
  // Bytes 20..m2 of M1 are lost; M2 and M3 arrive and wait behind the gap.
  const out = run(t, [s(0, 20), s(m2, m3 - 10), s(m3 - 10, m3), s(m3, all.length)]);
  assert.deepEqual(out, [M2, M3]);
  assert.ok(t.issueCount >= 1);
  assert.match(t.issues[0]!.reason, /missing/);
});

Deno.test("CRLF keep-alives between messages are skipped", () => {
  const t = new TcpReassembler();
  assert.deepEqual(run(t, [seg(1, `\r\n\r\n${M1}\r\n\r\n${M2}`)]), [M1, M2]);
});

Deno.test("a connection whose first data is not SIP is ignored from then on", () => {
  const t = new TcpReassembler();
  const http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  const out = run(t, [seg(0, "", { flags: 0x02 }), seg(1, http), seg(1 + http.length, M1)]);
  assert.deepEqual(out, []);
});

Deno.test("a stream first seen mid-message (capture started late) resynchronises at the next start line", () => {
  const t = new TcpReassembler();
  const tail = M2.slice(25);
  assert.deepEqual(run(t, [seg(1, tail + M1.slice(0, 30)), seg(1 + tail.length + 30, M1.slice(30))]), [M1]);
});

Deno.test("a stream seen mid-way that never shows a SIP start line gives up after 64 KiB", () => {
  const t = new TcpReassembler();
  const junk = "x".repeat(999) + "\n";
  const packets = Array.from({ length: 70 }, (_, i) => seg(1 + i * 1000, junk));
  packets.push(seg(1 + 70 * 1000, M1));
  assert.deepEqual(run(t, packets), []);
});

Deno.test("an incomplete message at the end of the capture is reported", () => {
  const t = new TcpReassembler();
  assert.deepEqual(run(t, [seg(1, M1.slice(0, M1.length - 3))]), []);
  assert.match(t.issues[0]!.reason, /incomplete/);
});

Deno.test("a huge Content-Length or an endless header section is dropped, memory stays bounded", () => {
  const t = new TcpReassembler({ maxHeaderBytes: 1024, maxBodyBytes: 100 });
  const big = "INVITE sip:a@b SIP/2.0\r\nContent-Length: 5000\r\n\r\n";
  assert.deepEqual(run(t, [seg(1, big)]), []);
  assert.match(t.issues[0]!.reason, /Content-Length 5000/);
  const t2 = new TcpReassembler({ maxHeaderBytes: 1024 });
  const packets = [seg(1, "INVITE sip:a@b SIP/2.0\r\n")];
  for (let i = 0; i < 50; i++) packets.push(seg(1 + 24 + i * 100, "X".repeat(98) + "\r\n"));
  assert.deepEqual(run(t2, packets), []);
  assert.match(t2.issues[0]!.reason, /header section longer/);
});

Deno.test("the two directions of a connection are separate streams", () => {
  const t = new TcpReassembler();
  const back = { src: "10.0.0.2", dst: "10.0.0.1", sport: 5060, dport: 40000 };
  const out = run(t, [seg(1, M1.slice(0, 20)), seg(900, M2, back), seg(21, M1.slice(20))]);
  assert.deepEqual(out, [M2, M1]);
});

Deno.test("contentLength() reads long and compact forms, any case, and -1 when absent", () => {
  const h = (s: string) => enc.encode(s);
  assert.equal(contentLength(h("X: 1\r\nContent-Length: 42\r\n")), 42);
  assert.equal(contentLength(h("x: 1\r\nCONTENT-LENGTH :  7\r\n")), 7);
  assert.equal(contentLength(h("l: 9\r\n")), 9);
  assert.equal(contentLength(h("Call-ID: l\r\n")), -1);
  assert.equal(contentLength(h("Content-Length: abc\r\n")), -1);
});

Deno.test("a large message arriving one byte per segment is reassembled in linear time", () => {
  const t = new TcpReassembler({ maxBodyBytes: 1 << 20 });
  const body = "b".repeat(200_000);
  const big =
    sipText({ start: "MESSAGE sip:b@x SIP/2.0", headers: ["Call-ID: big", "CSeq: 1 MESSAGE"], body }) + M1;
  const bytes = enc.encode(big);
  const start = performance.now();
  const out = [];
  for (let i = 0; i < bytes.length; i++) out.push(...t.push(seg(1 + i, bytes.subarray(i, i + 1))));
  assert.equal(out.length, 2);
  assert.equal(dec.decode(out[0]!.payload).length, big.length - M1.length);
  assert.equal(dec.decode(out[1]!.payload), M1, "earlier output is not overwritten by later appends");
  assert.ok(performance.now() - start < 3000, `took ${performance.now() - start} ms`);
});
