/**
 * The fuzz properties, run inside a Worker by fuzz_test.ts so that a parser that never terminates is
 * caught by a watchdog instead of hanging the test run.
 *
 * Contract under test: every parser either returns or throws its own error type (PcapError for the
 * capture readers; nothing at all for the SIP, SDP, RTP and TCP layers).
 */

import fc from "fast-check";
import { analyseCapture } from "../../src/sip/capture.ts";
import { decodeFrame } from "../../src/sip/packets.ts";
import { PcapError, readFrames } from "../../src/sip/pcap.ts";
import { parseSipMessage } from "../../src/sip/sip.ts";
import { parseSdp } from "../../src/sip/sdp.ts";
import { classifyRtp, RtpAnalyzer } from "../../src/sip/rtp.ts";
import { TcpReassembler } from "../../src/sip/tcp.ts";
import { IpReassembler } from "../../src/sip/ip_fragments.ts";
import { callFlow, renderLadder } from "../../src/sip/call_flow.ts";
import { callStats, registrations } from "../../src/sip/sip_stats.ts";
import { extractSdp } from "../../src/sip/sdp.ts";
import type { Packet } from "../../src/sip/packets.ts";
import { rtpPacket, writePcap, writePcapng } from "../_helpers/pcap_builder.ts";
import { answeredCall, cancelledCall, overTcp, registerWithChallenge, sdpBody } from "./scenarios.ts";

/** Message from the test to the worker. */
export interface FuzzRequest {
  /** Runs per property. */
  numRuns: number;
  /** fast-check seed. */
  seed: number;
}

/** Message from the worker to the test. */
export interface FuzzReport {
  /** Property name → null when it held, else the failure text. */
  results: Record<string, string | null>;
  /** Milliseconds for the whole run. */
  ms: number;
}

const enc = new TextEncoder();

/** Runs a parser on input; anything but PcapError escaping is a failure. */
function onlyPcapError(f: () => unknown): void {
  try {
    const r = f() as { messages?: unknown[] } | undefined;
    // Exercise the analysis layers on whatever was found, too.
    if (r && Array.isArray(r.messages)) {
      const m = r.messages as Parameters<typeof callStats>[0];
      callStats(m);
      registrations(m);
      extractSdp(m);
      renderLadder(callFlow(m));
      JSON.stringify(m); // forces the lazily parsed headers, Via and Contact
    }
  } catch (e) {
    if (!(e instanceof PcapError)) throw e;
  }
}

function corpus(): Uint8Array[] {
  const call = [...answeredCall({ rtpPackets: 6 }), ...registerWithChallenge()];
  const v6 = answeredCall({
    a: { ip: "2001:db8::a", port: 5060, user: "a" },
    b: { ip: "2001:db8::b", port: 5060, user: "b" },
    rtpPackets: 2,
  });
  return [
    writePcap(call),
    writePcap(overTcp(cancelledCall(), 50), { bigEndian: true, nanosecond: true }),
    writePcap([{
      ts: 1,
      src: "10.0.0.1",
      dst: "10.0.0.2",
      payload: "INVITE " + "x".repeat(3000),
      fragmentSize: 1000,
    }]),
    writePcap([{ ...call[0]!, vlan: [10, 20] }], { link: "sll2" }),
    writePcapng(v6.map((s, i) => ({ ...s, iface: i % 2 })), {
      interfaces: [{ link: "ethernet", tsresol: 9 }, { link: "null" }],
      extraBlocks: true,
    }),
    writePcapng(call.slice(0, 3), { simple: true, interfaces: [{ link: "raw" }], bigEndian: true }),
    // Real tool output (tcpdump SLL2 nanosecond pcap, editcap pcapng).
    Deno.readFileSync(new URL("../testdata/sip/baresip_any_ns.pcap", import.meta.url)),
    Deno.readFileSync(new URL("../testdata/sip/baresip_lo.pcapng", import.meta.url)),
  ];
}

type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; at: number }
  | { kind: "u32"; at: number; value: number }
  | { kind: "u16"; at: number; value: number }
  | { kind: "delete"; at: number; len: number }
  | { kind: "insert"; at: number; bytes: Uint8Array };

const extreme = fc.constantFrom(0, 1, 3, 7, 8, 11, 12, 16, 19, 20, 0x7f, 0xff, 0x100, 0xfff8, 0xffff);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("u32" as const),
    at: fc.nat(),
    value: fc.oneof(fc.nat(), extreme, fc.constant(0xffffffff), fc.constant(0x7fffffff)),
  }),
  fc.record({ kind: fc.constant("u16" as const), at: fc.nat(), value: fc.oneof(fc.nat(0xffff), extreme) }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 32 }),
  }),
);

function mutate(input: Uint8Array, ms: Mutation[]): Uint8Array {
  let b: Uint8Array = input.slice();
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (m.kind) {
      case "flip":
        b[at] = b[at]! ^ (1 << m.bit);
        break;
      case "truncate":
        b = b.subarray(0, at);
        break;
      case "u32":
        if (at + 4 <= b.length) dv.setUint32(at, m.value >>> 0, (m.at & 1) === 0);
        break;
      case "u16":
        if (at + 2 <= b.length) dv.setUint16(at, m.value, (m.at & 1) === 0);
        break;
      case "delete": {
        const out = new Uint8Array(b.length - Math.min(m.len, b.length - at));
        out.set(b.subarray(0, at));
        out.set(b.subarray(at + m.len), at);
        b = out;
        break;
      }
      case "insert": {
        const out = new Uint8Array(b.length + m.bytes.length);
        out.set(b.subarray(0, at));
        out.set(m.bytes, at);
        out.set(b.subarray(at), at + m.bytes.length);
        b = out;
        break;
      }
    }
  }
  return b;
}

/** Record-header offsets of a pcap: aiming corruptions at length fields finds more than chance. */
function recordOffsets(pcap: Uint8Array): number[] {
  const dv = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const out: number[] = [];
  for (let off = 24; off + 16 <= pcap.length; off += 16 + dv.getUint32(off + 8, true)) out.push(off);
  return out;
}

const SIP = answeredCall()[0]!.payload as string;

function properties(numRuns: number, seed: number): Record<string, () => void> {
  const items = corpus();
  const le = items[0]!;
  const offsets = recordOffsets(le);
  const run = <T>(arb: fc.Arbitrary<T>, check: (v: T) => void) => () =>
    fc.assert(fc.property(arb, check), { numRuns, seed, endOnFailure: true });
  return {
    "random bytes → capture parsers": run(fc.uint8Array({ maxLength: 2048 }), (b) => {
      onlyPcapError(() => analyseCapture(b));
      onlyPcapError(() => readFrames(b));
    }),
    "random records after a valid header → capture parsers": run(
      fc.tuple(fc.constantFrom(0, 5), fc.uint8Array({ maxLength: 4096 })),
      ([which, tail]) => {
        const head = items[which]!.subarray(0, which === 0 ? 24 : 28 + 20 + 4);
        const b = new Uint8Array(head.length + tail.length);
        b.set(head);
        b.set(tail, head.length);
        onlyPcapError(() => analyseCapture(b));
      },
    ),
    "mutated valid captures → capture parsers": run(
      fc.tuple(fc.nat(items.length - 1), fc.array(mutation, { minLength: 1, maxLength: 6 })),
      ([which, ms]) => onlyPcapError(() => analyseCapture(mutate(items[which]!, ms))),
    ),
    "corrupted record length fields → capture parsers": run(
      fc.tuple(fc.constantFrom(...offsets), fc.constantFrom(0, 8, 12), fc.oneof(fc.nat(), extreme)),
      ([off, field, value]) => {
        const b = le.slice();
        new DataView(b.buffer).setUint32(off + field, value >>> 0, true);
        onlyPcapError(() => analyseCapture(b));
      },
    ),
    "random frames of every link type → decodeFrame": run(
      fc.tuple(fc.constantFrom(0, 1, 101, 108, 113, 228, 229, 276, 7), fc.uint8Array({ maxLength: 200 })),
      ([link, b]) => void decodeFrame(link, b),
    ),
    "mutated SIP text → parseSipMessage and parseSdp never throw": run(
      fc.tuple(fc.array(mutation, { maxLength: 8 }), fc.string({ maxLength: 200 })),
      ([ms, extra]) => {
        const b = mutate(enc.encode(SIP + extra), ms);
        const r = parseSipMessage(b);
        if (r.ok) {
          parseSdp(r.message.body);
          JSON.stringify(r.message);
        }
        parseSdp(b);
        parseSdp(extra);
      },
    ),
    "random SDP-like lines → parseSdp never throws": run(
      fc.array(
        fc.tuple(fc.constantFrom("v", "o", "s", "c", "t", "m", "a", "b", "x"), fc.string({ maxLength: 40 })),
        { maxLength: 30 },
      ),
      (lines) => void parseSdp(lines.map(([k, v]) => `${k}=${v}`).join("\r\n") + sdpBody("1.2.3.4", 5)),
    ),
    "random RTP sequences → RtpAnalyzer never throws": run(
      fc.array(fc.tuple(fc.nat(0xffff), fc.nat(), fc.nat(127), fc.nat(3), fc.uint8Array({ maxLength: 20 })), {
        maxLength: 200,
      }),
      (list) => {
        const rtp = new RtpAnalyzer();
        list.forEach(([seq, ts, pt, ssrc, junk], i) => {
          const payload = i % 7 === 6 ? junk : rtpPacket({ seq, timestamp: ts, pt, ssrc, payloadSize: 4 });
          classifyRtp(payload);
          rtp.add({
            frame: i,
            ts: i * 0.02,
            sec: 0,
            nsec: i * 1e7,
            src: "a",
            dst: "b",
            sport: 4000,
            dport: 4002,
            proto: "udp",
            payload,
          });
        });
        for (const s of rtp.streams()) {
          if (!Number.isFinite(s.jitterMs) || !Number.isFinite(s.mos)) throw new Error("non-finite stat");
        }
      },
    ),
    "random TCP segments → TcpReassembler never throws": run(
      fc.array(fc.tuple(fc.nat(400), fc.nat(SIP.length), fc.nat(120), fc.nat(0x1f)), { maxLength: 60 }),
      (segs) => {
        const t = new TcpReassembler({ maxPendingSegments: 8 });
        const bytes = enc.encode(SIP + SIP);
        for (const [seq, from, len, flags] of segs) {
          const p: Packet = {
            frame: 1,
            ts: 0,
            sec: 0,
            nsec: 0,
            src: "a",
            dst: "b",
            sport: 1,
            dport: 2,
            proto: "tcp",
            payload: bytes.subarray(from, from + len),
            seq: (0xfffffe00 + seq) >>> 0,
            flags,
            ipVersion: 4,
            iface: 0,
          };
          for (const d of t.push(p)) parseSipMessage(d.payload);
        }
        t.flush();
      },
    ),
    "random fragments → IpReassembler stays bounded": run(
      fc.array(fc.tuple(fc.nat(3), fc.nat(70_000), fc.boolean(), fc.nat(1500)), { maxLength: 300 }),
      (frags) => {
        const r = new IpReassembler({ maxDatagrams: 4, maxAgeFrames: 50 });
        frags.forEach(([k, off, more, len], i) =>
          r.add(`k${k}`, { offset: off & ~7, more, data: new Uint8Array(len), proto: 17, frame: i })
        );
        if (r.pending > 4) throw new Error("more datagrams pending than allowed");
      },
    ),
  };
}

/** The worker global scope (typed by hand: this file is type-checked together with window code). */
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<FuzzRequest>) => void) | null;
  postMessage(message: FuzzReport): void;
};

scope.onmessage = (e: MessageEvent<FuzzRequest>) => {
  const t = performance.now();
  const results: Record<string, string | null> = {};
  for (const [name, prop] of Object.entries(properties(e.data.numRuns, e.data.seed))) {
    try {
      prop();
      results[name] = null;
    } catch (err) {
      // fast-check keeps the parser's own error as the cause: show its stack, that is the bug.
      const cause = err instanceof Error && err.cause instanceof Error ? `\n${err.cause.stack}` : "";
      results[name] = `${String(err instanceof Error ? err.message : err).slice(0, 3000)}${cause}`;
    }
  }
  const report: FuzzReport = { results, ms: performance.now() - t };
  scope.postMessage(report);
};
