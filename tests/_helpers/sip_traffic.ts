/**
 * Real SIP traffic on loopback for the parser test (tests/sip/real_traffic_test.ts) and the VoIP tool
 * test (tests/tools/voip_test.ts): a kamailio registrar/proxy with digest authentication, sipsak
 * registering carol, and baresip user agents registering and then calling from alice (answered,
 * rejected with 486, cancelled with 487, optionally over TCP).
 *
 * Each test picks its own port range (see {@link pickPorts}) so the two can run in parallel.
 */
import assert from "node:assert/strict";

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The user agent that places every call. */
const CALLER = "alice";

/** Ports for one run of the scenario. */
export interface SipPorts {
  /** kamailio's SIP port (UDP and TCP). */
  kamailio: number;
  /** Each baresip user's SIP port. */
  ua: Record<string, number>;
  /** Each baresip user's ctrl_tcp port. */
  ctl: Record<string, number>;
  /** The RTP port range baresip uses, both ends included. */
  rtp: [number, number];
}

/** Where {@link pickPorts} puts the ports. */
export interface PickPortsOptions {
  /** Lowest base port; the base is this plus a random multiple of 100. */
  from: number;
  /** How many 100-port blocks above `from` the base may start in. */
  blocks: number;
  /** The baresip users; the i-th gets SIP port base + 10 + 4i and ctrl_tcp port base + 40 + i. */
  users: readonly string[];
  /** The RTP range's last port, as an offset from the base (its first is base + 50). */
  rtpEnd: number;
  /** Offset from the base of a port nothing listens on, when the test needs one; above `rtpEnd`. */
  closed?: number;
}

/** Picks a random block of 100 ports for kamailio, the user agents and RTP. */
export function pickPorts(options: PickPortsOptions & { closed: number }): SipPorts & { closed: number };
/** Picks a random block of 100 ports for kamailio, the user agents and RTP. */
export function pickPorts(options: PickPortsOptions): SipPorts;
export function pickPorts(options: PickPortsOptions): SipPorts & { closed?: number } {
  const { from, blocks, users, rtpEnd, closed } = options;
  if (rtpEnd < 50 || rtpEnd > 99 || (closed !== undefined && (closed <= rtpEnd || closed > 99))) {
    throw new RangeError(
      `Cannot pick ports with rtpEnd ${rtpEnd} and closed ${closed}: need 50 ≤ rtpEnd < closed ≤ 99`,
    );
  }
  // Spaced ports: baresip also opens TLS on its SIP port + 1.
  const base = from + Math.floor(Math.random() * blocks) * 100;
  return {
    kamailio: base,
    ua: Object.fromEntries(users.map((u, i) => [u, base + 10 + i * 4])),
    ctl: Object.fromEntries(users.map((u, i) => [u, base + 40 + i])),
    rtp: [base + 50, base + rtpEnd],
    ...(closed === undefined ? {} : { closed: base + closed }),
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

function baresipConfig(p: SipPorts, user: string): string {
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
export function startLogged(argv: string[], log: string): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >"$LOG" 2>&1', "sh", ...argv],
    env: { LOG: log },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Stops a process with SIGTERM (if it still runs) and waits for it. */
export async function stopProcess(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch {
    // already gone
  }
  await p.status;
}

/** How long and for how many matches {@link waitForLog} waits. */
export interface WaitForLogOptions {
  /** How many matches of the pattern the log must hold; 1 unless given. */
  count?: number;
  /** Give up after this long; 5000 ms unless given. */
  timeoutMs?: number;
}

/** Polls the file `path` until `pattern` occurs in it `count` times; throws with its tail on timeout. */
export async function waitForLog(
  path: string,
  pattern: RegExp,
  options: WaitForLogOptions = {},
): Promise<void> {
  const { count = 1, timeoutMs = 5000 } = options;
  const global = new RegExp(pattern.source, "g");
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if ((text.match(global) ?? []).length >= count) return;
    await sleep(50);
  }
  const tail = (await Deno.readTextFile(path).catch(() => "")).slice(-2000);
  throw new Error(
    `Cannot find ${pattern} ${count} time(s) in "${path}" within ${timeoutMs} ms; its end:\n${tail}`,
  );
}

/**
 * Writes `dir`/k.cfg, starts kamailio on `port` logging to `dir`/k.log and waits until its processes
 * are up. The caller stops it with {@link stopProcess}; on a failed start it is stopped here.
 */
export async function startKamailio(
  dir: string,
  port: number,
  options: Pick<WaitForLogOptions, "timeoutMs"> = {},
): Promise<Deno.ChildProcess> {
  await Deno.writeTextFile(`${dir}/k.cfg`, kamailioConfig(port));
  const kamailio = startLogged(
    ["kamailio", "-f", `${dir}/k.cfg`, "-DD", "-E", "-m", "64", "-M", "8", "-Y", dir, "-n", "2"],
    `${dir}/k.log`,
  );
  try {
    await waitForLog(`${dir}/k.log`, /main\(\): processes/, options);
  } catch (error) {
    await stopProcess(kamailio);
    throw error;
  }
  return kamailio;
}

/** Sends one baresip ctrl_tcp command (netstring-framed JSON). */
async function ctl(port: number, command: string, params = ""): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const body = JSON.stringify({ command, params, token: command });
    await conn.write(enc.encode(`${enc.encode(body).length}:${body},`));
    await conn.read(new Uint8Array(4096));
  } finally {
    conn.close();
  }
}

/** One baresip user agent; it registers with kamailio (401 challenge, then 200) when started. */
export interface SipAgent {
  /** The user, also the name of its home directory under the scenario's dir. */
  user: string;
  /** `auto` answers incoming calls; `manual` lets them ring. */
  answermode: "auto" | "manual";
  /** The transport to kamailio; UDP unless given. */
  transport?: "udp" | "tcp";
}

/** One call from alice. */
export interface SipCall {
  /** The user alice dials. */
  to: string;
  /**
   * `answered`: alice hangs up after `holdMs` of media; `rejected`: the callee hangs up while it rings
   * (486); `cancelled`: alice hangs up while it rings (CANCEL, 487).
   */
  outcome: "answered" | "rejected" | "cancelled";
  /** Time from the callee ringing (or answering) to the hang-up. */
  holdMs: number;
  /** Pause after the hang-up; 300 ms unless given. */
  pauseMs?: number;
}

/** What {@link sipTraffic} does. */
export interface SipTrafficOptions {
  /** The user agents, started in this order; one of them must be `alice`, who places every call. */
  agents: readonly SipAgent[];
  /** The calls alice places, in order. */
  calls: readonly SipCall[];
  /** Timeout of each wait for a registration or a ring; 5000 ms unless given. */
  timeoutMs?: number;
  /** Runs after the last call, while the user agents are still up. */
  during?: () => Promise<void>;
}

/**
 * Against a running kamailio (see {@link startKamailio}): sipsak registers carol, each agent starts in
 * `dir`/<user> and registers, then alice places the calls. The user agents are stopped (they
 * unregister) before this returns, last started first.
 */
export async function sipTraffic(dir: string, p: SipPorts, options: SipTrafficOptions): Promise<void> {
  const { agents, calls, timeoutMs = 5000, during } = options;
  const procs: Deno.ChildProcess[] = [];
  try {
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
    for (const { user, answermode, transport } of agents) {
      const home = `${dir}/${user}`;
      await Deno.mkdir(home);
      await Deno.writeTextFile(`${home}/config`, baresipConfig(p, user));
      const t = transport === "tcp" ? ";transport=tcp" : "";
      await Deno.writeTextFile(
        `${home}/accounts`,
        `<sip:${user}@127.0.0.1:${p.kamailio}${t}>;auth_pass=secret;answermode=${answermode};audio_codecs=PCMU\n`,
      );
      procs.push(startLogged(["baresip", "-f", home], `${home}/log`));
      await waitForLog(`${home}/log`, /200 OK/, { timeoutMs });
    }
    const rings: Record<string, number> = {};
    for (const { to, outcome, holdMs, pauseMs = 300 } of calls) {
      rings[to] = (rings[to] ?? 0) + 1;
      await ctl(p.ctl[CALLER]!, "dial", `sip:${to}@127.0.0.1:${p.kamailio}`);
      await waitForLog(`${dir}/${to}/log`, /Incoming call|answering call/, { count: rings[to], timeoutMs });
      await sleep(holdMs);
      await ctl(p.ctl[outcome === "rejected" ? to : CALLER]!, "hangup");
      await sleep(pauseMs);
    }
    await during?.();
  } finally {
    for (const proc of procs.reverse()) await stopProcess(proc);
  }
}
