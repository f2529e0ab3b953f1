/**
 * Real SIP traffic on loopback, cross-checked against tshark: a kamailio registrar/proxy with digest
 * authentication, sipsak registering, and baresip user agents (one on TCP) making an answered call
 * with RTP, a call rejected with 486, a cancelled call and an answered call over TCP. tcpdump captures
 * it; our calls, registrations, response codes, SDP and RTP statistics must agree with tshark.
 */

import assert from "node:assert/strict";
import { analyseCapture } from "../../src/sip/capture.ts";
import { extractSdp } from "../../src/sip/sdp.ts";
import { callStats, registrations } from "../../src/sip/sip_stats.ts";
import { requirePrograms } from "../_helpers/require.ts";
import {
  pickPorts,
  type SipPorts,
  sipTraffic,
  startKamailio,
  startLogged,
  stopProcess,
  waitForLog,
} from "../_helpers/sip_traffic.ts";

const ready = requirePrograms("kamailio", "sipsak", "baresip", "tcpdump", "tshark");
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Decode-as rules for every SIP port of a run: the ports are random, and one that happens to be
 * registered to another dissector would otherwise hide SIP from tshark (a flaky comparison).
 */
function sipDecodeAs(p: SipPorts): string[] {
  return [p.kamailio, ...Object.values(p.ua)].flatMap((
    n,
  ) => ["-d", `udp.port==${n},sip`, "-d", `tcp.port==${n},sip`]);
}

async function tshark(path: string, args: string[], decodeAs: string[]): Promise<string> {
  const out = await new Deno.Command("tshark", {
    args: ["-n", ...decodeAs, "-r", path, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assert.ok(out.success, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

/** Generates the traffic and returns the capture path. */
async function generate(dir: string, p: SipPorts): Promise<string> {
  const cap = `${dir}/real.pcap`;
  const uaPorts = Object.values(p.ua).map((n) => `port ${n}`).join(" or ");
  const filter = `port ${p.kamailio} or ${uaPorts} or portrange ${p.rtp[0]}-${p.rtp[1]}`;
  const tcpdump = startLogged(
    ["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", cap, filter],
    `${dir}/tcpdump.log`,
  );
  let kamailio: Deno.ChildProcess | undefined;
  try {
    await waitForLog(`${dir}/tcpdump.log`, /listening on/);
    kamailio = await startKamailio(dir, p.kamailio);
    await sleep(300);
    await sipTraffic(dir, p, {
      agents: [
        { user: "bob", answermode: "auto" },
        { user: "dave", answermode: "manual" },
        { user: "erin", answermode: "auto", transport: "tcp" },
        { user: "alice", answermode: "manual" },
      ],
      calls: [
        { to: "bob", outcome: "answered", holdMs: 2000 }, // about 2 s of RTP
        { to: "dave", outcome: "rejected", holdMs: 300 }, // 486
        { to: "dave", outcome: "cancelled", holdMs: 300 }, // CANCEL, 487
        { to: "erin", outcome: "answered", holdMs: 1000, pauseMs: 500 }, // over TCP
      ],
    });
    return cap;
  } finally {
    // sipTraffic stopped the user agents (they unregister); then the proxy, then the capture so it sees
    // everything.
    await sleep(200);
    if (kamailio) await stopProcess(kamailio);
    await stopProcess(tcpdump);
  }
}

function messageItems(bytes: Uint8Array): string[] {
  return analyseCapture(bytes).messages.map((m) =>
    `${m.frame} ${m.callId} ${m.kind === "request" ? m.method : m.status}`
  )
    .sort();
}

function tsharkItems(text: string): string[] {
  const items: string[] = [];
  for (const line of text.split("\n")) {
    const [frame, ids, methods, codes] = line.split("\t");
    if (!ids) continue;
    const idList = ids.split(",");
    const labels = [...(methods ? methods.split(",") : []), ...(codes ? codes.split(",") : [])];
    labels.forEach((l, i) => items.push(`${frame} ${idList[i] ?? idList[0]} ${l}`));
  }
  return items.sort();
}

Deno.test({
  name: "real kamailio/sipsak/baresip traffic: calls, registrations, codes, SDP and RTP agree with tshark",
  ignore: !ready,
  sanitizeResources: true,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "sip_real_" });
    try {
      // 20000–32699: tests/tools/voip/toolset_test.ts uses 10000–19999, so the two can run in parallel;
      // below Linux's ephemeral range (32768–60999), where any outgoing connection may hold a port (a
      // baresip once failed with "Address already in use" on 35218).
      const ports = pickPorts({
        from: 20_000,
        blocks: 127,
        users: ["alice", "bob", "dave", "erin"],
        rtpEnd: 99,
      });
      const cap = await generate(dir, ports);
      const bytes = await Deno.readFile(cap);
      const a = analyseCapture(bytes);
      assert.equal(a.truncated, false);

      // Every SIP message, frame by frame, as tshark sees it (UDP and TCP).
      const decodeAs = sipDecodeAs(ports);
      const fields = await tshark(cap, [
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "sip.Call-ID",
        "-e",
        "sip.Method",
        "-e",
        "sip.Status-Code",
      ], decodeAs);
      assert.deepEqual(messageItems(bytes), tsharkItems(fields));
      assert.ok(a.messages.some((m) => m.transport === "tcp"), "erin's traffic is SIP over TCP");

      // Request and response counts as in -z sip,stat.
      const stat = await tshark(cap, ["-q", "-z", "sip,stat"], decodeAs);
      const responses: Record<string, number> = {};
      for (const m of stat.matchAll(/^\s+SIP (\d{3}) .*?:\s+(\d+) Packets/gm)) {
        responses[m[1]!] = Number(m[2]);
      }
      const requests: Record<string, number> = {};
      for (const m of stat.matchAll(/^\s+([A-Z]+)\s+:\s+(\d+) Packets/gm)) requests[m[1]!] = Number(m[2]);
      assert.deepEqual(a.counts.sipResponses, responses);
      assert.deepEqual(a.counts.sipRequests, requests);

      // Calls: two answered, one 486, one cancelled (487); each seen on two hops but counted once.
      const calls = callStats(a.messages);
      assert.equal(calls.total, 4);
      assert.equal(calls.answered, 2);
      assert.equal(calls.failed, 1);
      assert.equal(calls.cancelled, 1);
      assert.deepEqual(calls.failedByCode, { "486": 1, "487": 1 });
      const answered = calls.calls.filter((c) => c.state === "answered");
      assert.ok(answered.every((c) => c.durationS !== undefined && c.durationS > 0.5 && c.durationS < 5));
      assert.ok(answered.every((c) => c.pddRingMs !== undefined && c.pddRingMs < 1000));

      // Registrations: every AOR was challenged (401) and then accepted (200).
      const regs = registrations(a.messages);
      const aors = regs.map((r) => r.aor.replace(/:\d+$/, "")).sort();
      assert.deepEqual(aors, [
        "sip:alice@127.0.0.1",
        "sip:bob@127.0.0.1",
        "sip:carol@127.0.0.1",
        "sip:dave@127.0.0.1",
        "sip:erin@127.0.0.1",
      ]);
      for (const r of regs) {
        assert.equal(r.challenged, true, r.aor);
        assert.deepEqual(r.statuses.slice(0, 2), [401, 200], r.aor);
      }

      // SDP: each answered call has a PCMU offer and answer.
      const sdp = extractSdp(a.messages).filter((x) => x.answer !== undefined);
      assert.ok(sdp.length >= 2);
      for (const x of sdp) {
        assert.ok(x.offer.sdp.media[0]?.codecs.some((c) => c.name === "PCMU"));
        assert.equal(x.answer?.sdp.media[0]?.codecs[0]?.name, "PCMU");
        assert.ok((x.answer?.sdp.media[0]?.port ?? 0) >= ports.rtp[0]);
      }

      // RTP: the same streams with the same packets, loss and jitter as tshark.
      const rtpText = await tshark(cap, ["-q", "-z", "rtp,streams"], decodeAs);
      const re =
        /^\s*[\d.]+\s+[\d.]+\s+\S+\s+(\d+)\s+\S+\s+(\d+)\s+(0x[0-9a-fA-F]+)\s+.+?\s+(\d+)\s+(-?\d+) \([-\d.]+%\)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s+([\d.]+)/gm;
      const theirs = [...rtpText.matchAll(re)].map((m) => ({
        key: `${m[3]!.toLowerCase()} ${m[1]} ${m[2]}`,
        packets: Number(m[4]),
        lost: Number(m[5]),
        meanJitter: Number(m[6]),
        maxJitter: Number(m[7]),
      })).sort((x, y) => x.key.localeCompare(y.key));
      const ours = a.rtpStreams.map((s) => ({
        key: `${s.ssrcHex} ${s.sport} ${s.dport}`,
        packets: s.packets,
        lost: s.lost,
        meanJitter: s.meanJitterMs,
        maxJitter: s.maxJitterMs,
      })).sort((x, y) => x.key.localeCompare(y.key));
      assert.ok(theirs.length >= 4, rtpText);
      assert.deepEqual(
        ours.map((s) => [s.key, s.packets, s.lost]),
        theirs.map((s) => [s.key, s.packets, s.lost]),
      );
      for (const [i, s] of ours.entries()) {
        assert.ok(
          Math.abs(s.maxJitter - theirs[i]!.maxJitter) < 0.05,
          `${s.key} max jitter ${s.maxJitter} vs ${theirs[i]!.maxJitter}`,
        );
      }
      assert.ok(a.rtpStreams.every((s) => s.codec === "PCMU" && s.sdpMatched && s.mos > 4));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
