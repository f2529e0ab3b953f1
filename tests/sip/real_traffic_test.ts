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

const ready = requirePrograms("kamailio", "sipsak", "baresip", "tcpdump", "tshark");
const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Ports {
  kamailio: number;
  ua: Record<string, number>;
  ctl: Record<string, number>;
  rtp: [number, number];
}

function pickPorts(): Ports {
  // Spaced ports: baresip also opens TLS on its SIP port + 1.
  const base = 20_000 + Math.floor(Math.random() * 300) * 100;
  const users = ["alice", "bob", "dave", "erin"];
  return {
    kamailio: base,
    ua: Object.fromEntries(users.map((u, i) => [u, base + 10 + i * 4])),
    ctl: Object.fromEntries(users.map((u, i) => [u, base + 40 + i])),
    rtp: [base + 50, base + 99],
  };
}

function kamailioConfig(port: number): string {
  return `#!KAMAILIO
debug=2
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
listen=udp:127.0.0.1:${port}
listen=tcp:127.0.0.1:${port}
alias="127.0.0.1:${port}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("REGISTER")) {
    if (!pv_www_authenticate("$td", "secret", "0")) { www_challenge("$td", "0"); exit; }
    if (!save("location")) { sl_reply_error(); }
    exit;
  }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
    sl_send_reply("404", "Not here");
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
  t_check_trans();
  if (is_method("INVITE")) { record_route(); }
  if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
  t_relay();
}
`;
}

function baresipConfig(p: Ports, user: string): string {
  return [
    "poll_method epoll",
    `sip_listen 127.0.0.1:${p.ua[user]}`,
    "audio_player aufile,/dev/null",
    "audio_source ausine,440",
    "audio_alert aufile,/dev/null",
    "ausrc_srate 48000",
    "ausrc_channels 2",
    `rtp_ports ${p.rtp[0]}-${p.rtp[1]}`,
    "module_path /usr/lib/baresip/modules",
    "module g711.so",
    "module ausine.so",
    "module aufile.so",
    "module_app account.so",
    "module_app menu.so",
    "module_app ctrl_tcp.so",
    `ctrl_tcp_listen 127.0.0.1:${p.ctl[user]}`,
    "",
  ].join("\n");
}

/** Starts `argv` with stdout and stderr in `log` (a file, so no pipes need draining). */
function start(argv: string[], log: string): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >"$LOG" 2>&1', "sh", ...argv],
    env: { LOG: log },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function waitForLog(path: string, pattern: RegExp, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (pattern.test(text)) return;
    await sleep(50);
  }
  throw new Error(
    `timed out waiting for ${pattern} in ${path}:\n${
      (await Deno.readTextFile(path).catch(() => "")).slice(-2000)
    }`,
  );
}

/** Sends one baresip ctrl_tcp command (netstring-framed JSON). */
async function ctl(port: number, command: string, params = ""): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const body = JSON.stringify({ command, params, token: command });
    await conn.write(enc.encode(`${enc.encode(body).length}:${body},`));
    const buf = new Uint8Array(4096);
    await conn.read(buf);
  } finally {
    conn.close();
  }
}

async function stop(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch {
    // already gone
  }
  await p.status;
}

async function tshark(path: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("tshark", {
    args: ["-n", "-r", path, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assert.ok(out.success, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

/** Generates the traffic and returns the capture path. */
async function generate(dir: string, p: Ports): Promise<string> {
  const procs: Deno.ChildProcess[] = [];
  const cap = `${dir}/real.pcap`;
  try {
    const uaPorts = Object.values(p.ua).map((n) => `port ${n}`).join(" or ");
    const filter = `port ${p.kamailio} or ${uaPorts} or portrange ${p.rtp[0]}-${p.rtp[1]}`;
    const tcpdump = start(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", cap, filter], `${dir}/tcpdump.log`);
    procs.push(tcpdump);
    await waitForLog(`${dir}/tcpdump.log`, /listening on/);
    await Deno.writeTextFile(`${dir}/k.cfg`, kamailioConfig(p.kamailio));
    procs.push(
      start(
        ["kamailio", "-f", `${dir}/k.cfg`, "-DD", "-E", "-m", "64", "-M", "8", "-Y", dir, "-n", "2"],
        `${dir}/k.log`,
      ),
    );
    await waitForLog(`${dir}/k.log`, /main\(\): processes/);
    await sleep(300);
    const sipsak = await new Deno.Command("sipsak", {
      args: [
        "-U",
        "-i",
        "-s",
        `sip:carol@127.0.0.1:${p.kamailio}`,
        "-a",
        "secret",
        "-u",
        "carol",
        "-x",
        "600",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(sipsak.success, dec.decode(sipsak.stdout) + dec.decode(sipsak.stderr));
    for (
      const [user, mode, transport] of [["bob", "auto", "udp"], ["dave", "manual", "udp"], [
        "erin",
        "auto",
        "tcp",
      ], [
        "alice",
        "manual",
        "udp",
      ]] as const
    ) {
      const home = `${dir}/${user}`;
      await Deno.mkdir(home);
      await Deno.writeTextFile(`${home}/config`, baresipConfig(p, user));
      const t = transport === "tcp" ? ";transport=tcp" : "";
      await Deno.writeTextFile(
        `${home}/accounts`,
        `<sip:${user}@127.0.0.1:${p.kamailio}${t}>;auth_pass=secret;answermode=${mode};audio_codecs=PCMU\n`,
      );
      procs.push(start(["baresip", "-f", home], `${home}/log`));
      await waitForLog(`${home}/log`, /200 OK/);
    }
    const dial = (to: string) => ctl(p.ctl.alice!, "dial", `sip:${to}@127.0.0.1:${p.kamailio}`);
    const ringing = async (user: string, n: number) => {
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        const text = await Deno.readTextFile(`${dir}/${user}/log`);
        if ((text.match(/Incoming call|answering call/g) ?? []).length >= n) return;
        await sleep(50);
      }
      throw new Error(`${user} never rang`);
    };
    await dial("bob"); // answered, about 2 s of RTP
    await ringing("bob", 1);
    await sleep(2000);
    await ctl(p.ctl.alice!, "hangup");
    await sleep(300);
    await dial("dave"); // rejected by dave: 486
    await ringing("dave", 1);
    await sleep(300);
    await ctl(p.ctl.dave!, "hangup");
    await sleep(300);
    await dial("dave"); // cancelled by alice: CANCEL, 487
    await ringing("dave", 2);
    await sleep(300);
    await ctl(p.ctl.alice!, "hangup");
    await sleep(300);
    await dial("erin"); // answered over TCP
    await ringing("erin", 1);
    await sleep(1000);
    await ctl(p.ctl.alice!, "hangup");
    await sleep(500);
    return cap;
  } finally {
    // User agents first (they unregister), then the proxy, then the capture so it sees everything.
    for (const proc of procs.slice(2).reverse()) await stop(proc);
    await sleep(200);
    for (const proc of procs.slice(0, 2).reverse()) await stop(proc);
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
      const ports = pickPorts();
      const cap = await generate(dir, ports);
      const bytes = await Deno.readFile(cap);
      const a = analyseCapture(bytes);
      assert.equal(a.truncated, false);

      // Every SIP message, frame by frame, as tshark sees it (UDP and TCP).
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
      ]);
      assert.deepEqual(messageItems(bytes), tsharkItems(fields));
      assert.ok(a.messages.some((m) => m.transport === "tcp"), "erin's traffic is SIP over TCP");

      // Request and response counts as in -z sip,stat.
      const stat = await tshark(cap, ["-q", "-z", "sip,stat"]);
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
      const rtpText = await tshark(cap, ["-q", "-z", "rtp,streams"]);
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
