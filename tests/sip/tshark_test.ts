/**
 * Cross-checks our parsers against tshark on builder-made captures: SIP messages (Call-ID, method,
 * status), `-z sip,stat` counts and `-z rtp,streams` packets/lost (and jitter for in-order streams).
 */

import assert from "node:assert/strict";
import { analyseCapture } from "../../src/sip/capture.ts";
import { requirePrograms } from "../_helpers/require.ts";
import { type PacketSpec, rtpPacket, writePcap, writePcapng } from "../_helpers/pcap_builder.ts";
import {
  answeredCall,
  cancelledCall,
  overTcp,
  registerWithChallenge,
  rejectedCall,
  sipText,
} from "./scenarios.ts";

const haveTshark = requirePrograms("tshark");
const byTime = (specs: PacketSpec[]) => [...specs].sort((a, b) => (a.ts as number) - (b.ts as number));

async function tshark(bytes: Uint8Array, args: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sip_tshark_" });
  try {
    const path = `${dir}/c.pcap`;
    await Deno.writeFile(path, bytes);
    const out = await new Deno.Command("tshark", {
      args: ["-n", "-r", path, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** SIP messages as sorted "Call-ID label" lines plus how many messages each frame holds. */
function ours(bytes: Uint8Array): { items: string[]; perFrame: Map<number, number> } {
  const messages = analyseCapture(bytes).messages;
  const perFrame = new Map<number, number>();
  for (const m of messages) perFrame.set(m.frame, (perFrame.get(m.frame) ?? 0) + 1);
  const items = messages.map((m) => `${m.callId} ${m.kind === "request" ? m.method : m.status}`).sort();
  return { items, perFrame };
}

async function theirs(bytes: Uint8Array): Promise<{ items: string[]; perFrame: Map<number, number> }> {
  const text = await tshark(bytes, [
    "-T",
    "fields",
    "-E",
    "separator=/t",
    "-e",
    "frame.number",
    "-e",
    "sip.Call-ID",
    "-e",
    "sip.Method",
    "-e",
    "sip.Status-Code",
  ]);
  const items: string[] = [];
  const perFrame = new Map<number, number>();
  for (const line of text.split("\n")) {
    const [frame, ids, methods, codes] = line.split("\t");
    if (!ids) continue;
    const idList = ids.split(",");
    const labels = [...(methods ? methods.split(",") : []), ...(codes ? codes.split(",") : [])];
    assert.equal(labels.length, idList.length, line);
    // Messages of one frame share a Call-ID in these captures, so pairing by position is safe.
    labels.forEach((l, i) => items.push(`${idList[i]} ${l}`));
    perFrame.set(Number(frame), idList.length);
  }
  return { items: items.sort(), perFrame };
}

const mixed = () =>
  byTime([
    ...answeredCall({ rtpPackets: 5 }),
    ...rejectedCall(),
    ...cancelledCall(),
    ...registerWithChallenge(),
  ]);

const captures: [string, () => Uint8Array][] = [
  ["UDP mix on Ethernet", () => writePcap(mixed())],
  [
    "TCP cut into 40-byte segments, big-endian nanosecond pcap",
    () => writePcap(overTcp(answeredCall(), 40), { bigEndian: true, nanosecond: true }),
  ],
  ["several messages in one TCP segment", () => {
    const specs = answeredCall();
    const back = specs.filter((s) => s.src === "10.0.0.2" && (s.ts as number) < 1_700_000_002);
    const joined = back.map((s) => s.payload).join("");
    return writePcap(overTcp([specs[0]!, { ...back[0]!, payload: joined }, ...specs.slice(4)], 4000));
  }],
  ["IPv6 on a pcapng with Ethernet and Linux-cooked v2 interfaces", () => {
    const a = { ip: "2001:db8::a", port: 5060, user: "alice" };
    const b = { ip: "2001:db8::b", port: 5060, user: "bob" };
    return writePcapng(answeredCall({ a, b }).map((s, i) => ({ ...s, iface: i % 2 })), {
      interfaces: [{ link: "ethernet" }, { link: "sll2" }],
    });
  }],
  ["IP-fragmented INVITE (IPv4 and IPv6)", () => {
    const big = (id: string) =>
      sipText({
        start: "INVITE sip:b@x SIP/2.0",
        headers: [
          `Call-ID: ${id}`,
          "CSeq: 1 INVITE",
          "From: <sip:a@x>;tag=1",
          "To: <sip:b@x>",
          "Via: SIP/2.0/UDP x;branch=z9hG4bK1",
          "X-Pad: " + "p".repeat(4000),
        ],
      });
    return writePcap([
      { ts: 1, src: "10.0.0.1", dst: "10.0.0.2", payload: big("frag4"), fragmentSize: 1480, ipId: 9 },
      {
        ts: 2,
        src: "2001:db8::1",
        dst: "2001:db8::2",
        payload: big("frag6"),
        fragmentSize: 1232,
        ipId: 9,
        fragmentsReversed: true,
      },
    ]);
  }],
  ["QinQ-tagged Ethernet and compact headers", () =>
    writePcap(
      answeredCall().map((s) => ({
        ...s,
        vlan: [100, 200],
        payload: String(s.payload).replace("Call-ID:", "i:").replace("From:", "f:").replace("To:", "t:"),
      })),
    )],
];

for (const [name, build] of captures) {
  Deno.test({
    name: `SIP messages agree with tshark: ${name}`,
    ignore: !haveTshark,
    fn: async () => {
      const bytes = build();
      const mine = ours(bytes);
      const ref = await theirs(bytes);
      assert.ok(ref.items.length > 0);
      assert.deepEqual(mine.items, ref.items);
      assert.deepEqual([...mine.perFrame].sort(), [...ref.perFrame].sort());
    },
  });
}

Deno.test({
  name: "request and response counts agree with tshark -z sip,stat",
  ignore: !haveTshark,
  fn: async () => {
    const bytes = writePcap(mixed());
    const text = await tshark(bytes, ["-q", "-z", "sip,stat"]);
    const counts = analyseCapture(bytes).counts;
    assert.equal(Number(/Number of SIP messages: (\d+)/.exec(text)?.[1]), counts.sip);
    const responses: Record<string, number> = {};
    for (const m of text.matchAll(/^\s+SIP (\d{3}) .*?:\s+(\d+) Packets/gm)) responses[m[1]!] = Number(m[2]);
    const requests: Record<string, number> = {};
    for (const m of text.matchAll(/^\s+([A-Z]+)\s+:\s+(\d+) Packets/gm)) requests[m[1]!] = Number(m[2]);
    assert.deepEqual(responses, counts.sipResponses);
    assert.deepEqual(requests, counts.sipRequests);
  },
});

interface TsharkStream {
  ssrc: string;
  packets: number;
  lost: number;
  maxDeltaMs: number;
  meanJitterMs: number;
  maxJitterMs: number;
}

function rtpStreamsOf(text: string): TsharkStream[] {
  const out: TsharkStream[] = [];
  const re =
    /^\s*[\d.]+\s+[\d.]+\s+\S+\s+\d+\s+\S+\s+\d+\s+(0x[0-9a-fA-F]+)\s+.+?\s+(\d+)\s+(-?\d+) \([-\d.]+%\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)/gm;
  for (const m of text.matchAll(re)) {
    out.push({
      ssrc: m[1]!.toLowerCase(),
      packets: Number(m[2]),
      lost: Number(m[3]),
      maxDeltaMs: Number(m[6]),
      meanJitterMs: Number(m[8]),
      maxJitterMs: Number(m[9]),
    });
  }
  return out.sort((a, b) => a.ssrc.localeCompare(b.ssrc));
}

Deno.test({
  name:
    "RTP stream packets and loss agree with tshark -z rtp,streams (loss, duplicates, reordering, wraparound, jitter)",
  ignore: !haveTshark,
  fn: async () => {
    const call = answeredCall({ rtpPackets: 0, talk: 30 });
    const media: PacketSpec[] = [];
    const add = (ssrc: number, seq: number, ticks: number, at: number, dir: 0 | 1) =>
      media.push({
        ts: 1_700_000_002 + at,
        src: dir === 0 ? "10.0.0.1" : "10.0.0.2",
        dst: dir === 0 ? "10.0.0.2" : "10.0.0.1",
        sport: dir === 0 ? 40000 : 50000,
        dport: dir === 0 ? 50000 : 40000,
        payload: rtpPacket({ seq: seq & 0xffff, timestamp: ticks, ssrc }),
      });
    // A → B: wraps at 65535, loses 3 packets, duplicates 2, reorders 2.
    const seqs = [
      65525,
      65526,
      65528,
      65527,
      65529,
      65529,
      65530,
      65532,
      65533,
      65534,
      65535,
      0,
      1,
      1,
      3,
      2,
      4,
      6,
      7,
      9,
      10,
    ];
    seqs.forEach((s, i) => add(0xa1, s, ((s - 65525) & 0xffff) * 160, i * 0.02 + (i % 3) * 0.002, 0));
    // B → A: in order with irregular arrival: jitter must match exactly.
    const late = [0, 3, 7, 1, 0, 12, 2, 5, 0, 9, 4, 4, 0, 1, 15, 0, 2, 2, 8, 0];
    late.forEach((ms, i) => add(0xb2, 300 + i, i * 160, i * 0.02 + ms / 1000 + 0.005, 1));
    const bytes = writePcap(byTime([...call, ...media]));
    const ref = rtpStreamsOf(await tshark(bytes, ["-q", "-z", "rtp,streams"]));
    const mine = analyseCapture(bytes).rtpStreams.sort((a, b) => a.ssrcHex.localeCompare(b.ssrcHex));
    assert.equal(ref.length, 2);
    assert.deepEqual(
      mine.map((s) => [s.ssrcHex, s.packets, s.lost]),
      ref.map((s) => [s.ssrc, s.packets, s.lost]),
    );
    assert.deepEqual(mine.map((s) => s.maxDeltaMs), ref.map((s) => s.maxDeltaMs));
    const inOrder = mine[1]!, refInOrder = ref[1]!;
    assert.ok(
      Math.abs(inOrder.maxJitterMs - refInOrder.maxJitterMs) <= 0.001,
      `${inOrder.maxJitterMs} vs ${refInOrder.maxJitterMs}`,
    );
    assert.ok(
      Math.abs(inOrder.meanJitterMs - refInOrder.meanJitterMs) <= 0.001,
      `${inOrder.meanJitterMs} vs ${refInOrder.meanJitterMs}`,
    );
  },
});
