import assert from "node:assert/strict";
import { decodeFrame, ipv6ToString, type Packet, parsePcap } from "../../src/sip/packets.ts";
import {
  buildFrames,
  buildIpPackets,
  encapsulate,
  LINK_TYPES,
  type LinkKind,
  type PacketSpec,
  PcapWriter,
  writePcap,
  writePcapng,
} from "../_helpers/pcap_builder.ts";

const text = (p: Packet | undefined) => new TextDecoder().decode(p?.payload);
const v4: PacketSpec = {
  ts: 1,
  src: "192.168.1.10",
  dst: "192.168.1.20",
  sport: 5060,
  dport: 5070,
  payload: "hello v4",
};
const v6: PacketSpec = {
  ts: 1,
  src: "2001:db8::1",
  dst: "2001:db8::2:0:0:3",
  sport: 5062,
  dport: 5064,
  payload: "hello v6",
};

Deno.test("decodeFrame() decodes UDP over IPv4 and IPv6 on every supported link type", () => {
  const kinds: LinkKind[] = ["ethernet", "sll", "sll2", "raw", "null", "loop"];
  for (const kind of kinds) {
    for (const spec of [v4, v6]) {
      const [frame] = buildFrames(spec, kind);
      const p = decodeFrame(LINK_TYPES[kind], frame!);
      assert.equal(text(p), spec.payload, `${kind} ${spec.src}`);
      assert.equal(p?.src, spec.src === v6.src ? "2001:db8::1" : "192.168.1.10");
      assert.equal(p?.sport, spec.sport);
      assert.equal(p?.dport, spec.dport);
      assert.equal(p?.proto, "udp");
    }
  }
  assert.equal(text(decodeFrame(228, buildFrames(v4, "raw4")[0]!)), "hello v4");
  assert.equal(text(decodeFrame(229, buildFrames(v6, "raw6")[0]!)), "hello v6");
});

Deno.test("decodeFrame() reads BSD null family values in either byte order (AF_INET6 = 10, 24, 28, 30)", () => {
  const ip = buildIpPackets(v6)[0]!;
  for (const family of [10, 24, 28, 30]) {
    for (const le of [true, false]) {
      const frame = new Uint8Array(4 + ip.length);
      new DataView(frame.buffer).setUint32(0, family, le);
      frame.set(ip, 4);
      assert.equal(text(decodeFrame(0, frame)), "hello v6", `family ${family} le=${le}`);
    }
  }
});

Deno.test("decodeFrame() skips 802.1Q and QinQ VLAN tags", () => {
  for (const vlan of [[100], [200, 100], [1, 2, 3]]) {
    const [frame] = buildFrames({ ...v4, vlan }, "ethernet");
    assert.equal(text(decodeFrame(1, frame!)), "hello v4");
  }
});

Deno.test("decodeFrame() trims Ethernet padding using the IPv4 total length", () => {
  const [frame] = buildFrames({ ...v4, payload: "x" }, "ethernet");
  const padded = new Uint8Array(60);
  padded.set(frame!);
  assert.equal(text(decodeFrame(1, padded)), "x");
});

Deno.test("decodeFrame() decodes TCP sequence numbers, flags and payload offset", () => {
  const [frame] = buildFrames({ ...v4, proto: "tcp", seq: 0xfffffff0, tcpFlags: 0x19 }, "ethernet");
  const p = decodeFrame(1, frame!);
  assert.equal(p?.proto, "tcp");
  assert.equal(p?.seq, 0xfffffff0);
  assert.equal(p?.flags, 0x19);
  assert.equal(text(p), "hello v4");
});

Deno.test("decodeFrame() skips IPv6 hop-by-hop and destination-options headers", () => {
  const ip = buildIpPackets(v6)[0]!;
  // Insert Hop-by-Hop (0) → Destination Options (60) → UDP (17), 8 bytes each.
  const out = new Uint8Array(ip.length + 16);
  out.set(ip.subarray(0, 40));
  out.set([60, 0, 1, 4, 0, 0, 0, 0], 40);
  out.set([17, 0, 1, 4, 0, 0, 0, 0], 48);
  out.set(ip.subarray(40), 56);
  out[6] = 0;
  new DataView(out.buffer).setUint16(4, ip.length - 40 + 16);
  assert.equal(text(decodeFrame(101, out)), "hello v6");
});

Deno.test("parsePcap() reassembles IPv4 fragments in order and in reverse order", () => {
  const payload = "F".repeat(3000);
  for (const fragmentsReversed of [false, true]) {
    const r = parsePcap(writePcap([{ ...v4, payload, fragmentSize: 1480, fragmentsReversed, ipId: 77 }]));
    assert.equal(r.frames, 3);
    assert.equal(r.packets.length, 1);
    assert.equal(r.packets[0]!.frame, 3);
    assert.equal(text(r.packets[0]), payload);
    assert.equal(r.stats.fragments, 2);
    assert.equal(r.stats.reassembly.reassembled, 1);
  }
});

Deno.test("parsePcap() reassembles IPv6 Fragment-header fragments", () => {
  const payload = "6".repeat(2500);
  const r = parsePcap(writePcap([{ ...v6, payload, fragmentSize: 1232, ipId: 0x12345678 }]));
  assert.equal(r.packets.length, 1);
  assert.equal(text(r.packets[0]), payload);
  assert.equal(r.packets[0]!.sport, 5062);
});

Deno.test("parsePcap() keeps fragments of different datagrams apart and drops incomplete ones", () => {
  const a = buildFrames({ ...v4, payload: "A".repeat(100), fragmentSize: 48, ipId: 1 }, "ethernet");
  const b = buildFrames({ ...v4, payload: "B".repeat(100), fragmentSize: 48, ipId: 2 }, "ethernet");
  const w = new PcapWriter();
  for (const f of [a[0]!, b[0]!, a[1]!, b[1]!, b[2]!]) w.addFrame(1, f); // a's last fragment never comes
  const bytes = w.bytes();
  const r = parsePcap(bytes);
  assert.equal(r.packets.length, 1);
  assert.equal(text(r.packets[0]), "B".repeat(100));
  assert.equal(r.stats.fragments, 4);
});

Deno.test("parsePcap() counts non-IP, other-IP and malformed frames instead of failing", () => {
  const bytes = writePcap([
    { ts: 1, src: "10.0.0.1", dst: "10.0.0.2", ethertype: 0x0806, payload: new Uint8Array(28) },
    { ts: 2, src: "10.0.0.1", dst: "10.0.0.2", proto: 1, payload: new Uint8Array(8) },
    v4,
  ]);
  const r = parsePcap(bytes);
  assert.equal(r.packets.length, 1);
  assert.equal(r.stats.nonIp, 1);
  assert.equal(r.stats.otherIp, 1);
  assert.equal(parsePcap(writePcap([v4], { snaplen: 20 })).stats.malformed, 1);
});

Deno.test("parsePcap() decodes a pcapng with Ethernet and Linux-cooked interfaces together", () => {
  const bytes = writePcapng([{ ...v4, iface: 0 }, { ...v6, iface: 1 }], {
    interfaces: [{ link: "ethernet" }, { link: "sll" }],
  });
  const r = parsePcap(bytes);
  assert.deepEqual(r.packets.map((p) => [p.iface, p.ipVersion, text(p)]), [[0, 4, "hello v4"], [
    1,
    6,
    "hello v6",
  ]]);
});

Deno.test("packet timestamps carry seconds, nanoseconds and a float with sub-µs precision", () => {
  const r = parsePcap(
    writePcap([{ ...v4, ts: { sec: 1_700_000_000, nsec: 250_000_500 } }], { nanosecond: true }),
  );
  const p = r.packets[0]!;
  assert.equal(p.sec, 1_700_000_000);
  assert.equal(p.nsec, 250_000_500);
  assert.ok(Math.abs(p.ts - 1_700_000_000.2500005) < 3e-7);
});

Deno.test("payloads are views into the capture, not copies", () => {
  const bytes = writePcap([v4]);
  const p = parsePcap(bytes).packets[0]!;
  assert.equal(p.payload.buffer, bytes.buffer);
});

Deno.test("ipv6ToString() follows RFC 5952", () => {
  const cases: [number[], string][] = [
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], "2001:db8::1"],
    [[0, 0, 0, 0, 0, 0, 0, 1], "::1"],
    [[0, 0, 0, 0, 0, 0, 0, 0], "::"],
    [[0x2001, 0xdb8, 0, 1, 0, 0, 0, 1], "2001:db8:0:1::1"],
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], "2001:0:0:1::1"],
    [[0xfe80, 1, 2, 3, 4, 5, 6, 7], "fe80:1:2:3:4:5:6:7"],
    [[1, 0, 2, 3, 4, 5, 6, 7], "1:0:2:3:4:5:6:7"],
  ];
  for (const [groups, want] of cases) {
    const dv = new DataView(new ArrayBuffer(16));
    groups.forEach((g, i) => dv.setUint16(i * 2, g));
    assert.equal(ipv6ToString(dv, 0), want);
  }
});

Deno.test("unsupported link types are counted, not thrown", () => {
  const frame = encapsulate(buildIpPackets(v4)[0]!, "raw", {});
  assert.equal(decodeFrame(147, frame), undefined);
  const r = parsePcap(writePcap([v4], { link: "ethernet" }));
  assert.equal(r.stats.unsupportedLink, 0);
});
