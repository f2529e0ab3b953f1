/**
 * VoIP parsing benchmark (SPEC §9): builds a ≥ 100 MB capture of mixed SIP and RTP traffic, times our
 * parse + SIP statistics + RTP statistics, and times `tshark -r file -q -z sip,stat` on the same file.
 *
 * Run alone: `deno run -A bench/sip_bench.ts`.
 */

import { PcapWriter } from "../tests/_helpers/pcap_builder.ts";
import { answeredCall, cancelledCall, registerWithChallenge, rejectedCall } from "../tests/sip/scenarios.ts";
import { analyseCapture } from "../src/sip/capture.ts";
import { callStats, registrations } from "../src/sip/sip_stats.ts";

/** Options of {@link runSipBench}. */
export interface SipBenchOptions {
  /** Capture size to build, in MB (10^6 bytes). Default 100. */
  targetMb?: number;
  /** Timed runs of our parser (best is reported). Default 3. */
  runs?: number;
}

/**
 * Builds the benchmark capture: per round a registration, an answered call (with 250 RTP packets each
 * way unless `sipOnly`), a rejected and a cancelled call.
 */
export function buildBenchCapture(
  targetBytes: number,
  sipOnly = false,
): { bytes: Uint8Array; calls: number; frames: number } {
  const w = new PcapWriter();
  let round = 0;
  const t0 = 1_700_000_000;
  while (w.size < targetBytes) {
    const t = t0 + round * 10;
    const a = { ip: `10.1.${(round >> 8) & 255}.${round & 255}`, port: 5060, user: `u${round}` };
    const b = { ip: "10.2.0.1", port: 5060, user: `v${round}` };
    const specs = [
      ...registerWithChallenge({
        a,
        registrar: { ip: "10.0.0.9", port: 5060, user: "reg" },
        callId: `reg-${round}`,
        t0: t,
      }),
      ...answeredCall({
        a,
        b,
        callId: `call-${round}@bench`,
        t0: t + 0.1,
        rtpPackets: sipOnly ? 0 : 250,
        ssrc: 0x10000 + round * 2,
        mediaPorts: [20000 + (round % 1000) * 2, 30000 + (round % 1000) * 2],
      }),
      ...rejectedCall({ a, b, callId: `rej-${round}@bench`, t0: t + 7 }),
      ...cancelledCall({ a, b, callId: `can-${round}@bench`, t0: t + 7.5 }),
    ];
    specs.sort((x, y) => (x.ts as number) - (y.ts as number));
    for (const s of specs) w.add(s);
    round++;
  }
  return { bytes: w.bytes(), calls: round * 3, frames: w.frames };
}

async function timeTshark(path: string): Promise<number | string> {
  try {
    const t = performance.now();
    const out = await new Deno.Command("tshark", {
      args: ["-r", path, "-q", "-z", "sip,stat"],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    const ms = performance.now() - t;
    return out.success ? ms : `tshark failed: ${new TextDecoder().decode(out.stderr).slice(0, 200)}`;
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? "tshark not installed" : String(e);
  }
}

interface Leg {
  mb: number;
  frames: number;
  parseMs: number;
  tshark: number | string;
  summary: Record<string, number>;
}

async function leg(target: number, runs: number, sipOnly: boolean): Promise<Leg & { buildMs: number }> {
  const tb = performance.now();
  const { bytes, frames } = buildBenchCapture(target, sipOnly);
  const buildMs = performance.now() - tb;
  const dir = await Deno.makeTempDir({ prefix: "sip_bench_" });
  try {
    const path = `${dir}/bench.pcap`;
    await Deno.writeFile(path, bytes);
    let best = Infinity;
    let summary: Record<string, number> = {};
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const a = analyseCapture(bytes);
      const stats = callStats(a.messages);
      const regs = registrations(a.messages);
      best = Math.min(best, performance.now() - t);
      summary = {
        sip_messages: a.messages.length,
        calls: stats.total,
        answered: stats.answered,
        registrations: regs.length,
        rtp_streams: a.rtpStreams.length,
        rtp_packets: a.counts.rtp,
      };
    }
    return {
      mb: bytes.length / 1e6,
      frames,
      parseMs: best,
      tshark: await timeTshark(path),
      summary,
      buildMs,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs the benchmark and returns its numbers: the mixed SIP + RTP capture (times in ms, throughput in
 * MB/s, `tshark_ratio` = tshark time / our time), then the same for a signalling-only capture
 * (`sip_only_*`), the worst case for us since every packet is a SIP message.
 */
export async function runSipBench(options: SipBenchOptions = {}): Promise<Record<string, number | string>> {
  const target = (options.targetMb ?? 100) * 1e6;
  const runs = Math.max(1, options.runs ?? 3);
  const out: Record<string, number | string> = {};
  for (const sipOnly of [false, true]) {
    const r = await leg(target, runs, sipOnly);
    const p = sipOnly ? "sip_only_" : "";
    out[`${p}capture_mb`] = Math.round(r.mb * 10) / 10;
    out[`${p}frames`] = r.frames;
    out[`${p}build_ms`] = Math.round(r.buildMs);
    out[`${p}parse_ms`] = Math.round(r.parseMs);
    out[`${p}parse_mb_per_s`] = Math.round(r.mb / (r.parseMs / 1000));
    for (const [k, v] of Object.entries(r.summary)) if (!sipOnly || !k.startsWith("rtp")) out[`${p}${k}`] = v;
    out[`${p}tshark_sip_stat_ms`] = typeof r.tshark === "number" ? Math.round(r.tshark) : r.tshark;
    out[`${p}tshark_ratio`] = typeof r.tshark === "number"
      ? Math.round((r.tshark / r.parseMs) * 10) / 10
      : "n/a";
  }
  return out;
}

if (import.meta.main) {
  const result = await runSipBench();
  for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(28)} ${v}`);
}
