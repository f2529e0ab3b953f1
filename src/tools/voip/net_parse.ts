/**
 * Pure helpers of voip_discover_containers and voip_network_diagnostics: recognising VoIP software in
 * containers and processes, the SIP OPTIONS probe, and parsers of ping, traceroute/tracepath and the
 * port-check lines. No I/O.
 */
import { preview } from "./parse.ts";

// ---------------------------------------------------------------------------------------------
// VoIP container heuristics

/** What a container was recognised as. */
export interface VoipMatch {
  /** Software, e.g. "asterisk"; "sip_unknown" when only ports suggest VoIP. */
  kind: string;
  /** Role of that software. */
  role: string;
  /** high: image or command names it; medium: only the container name; low: only ports. */
  confidence: "high" | "medium" | "low";
  /** Why, one line per clue. */
  evidence: string[];
}

const SOFTWARE: ReadonlyArray<{ kind: string; role: string; pattern: RegExp }> = [
  { kind: "asterisk", role: "pbx", pattern: /asterisk|freepbx|issabel|vitalpbx/i },
  { kind: "freeswitch", role: "pbx", pattern: /freeswitch|fusionpbx/i },
  { kind: "kamailio", role: "sip_proxy", pattern: /kamailio/i },
  { kind: "opensips", role: "sip_proxy", pattern: /opensips/i },
  { kind: "flexisip", role: "sip_proxy", pattern: /flexisip/i },
  { kind: "drachtio", role: "sip_server", pattern: /drachtio|jambonz/i },
  { kind: "rtpengine", role: "media_relay", pattern: /rtpengine/i },
  { kind: "rtpproxy", role: "media_relay", pattern: /rtpproxy/i },
  { kind: "sems", role: "media_server", pattern: /(^|[^a-z])sems([^a-z]|$)/i },
  { kind: "yate", role: "pbx", pattern: /(^|[^a-z])yate([^a-z]|$)/i },
  { kind: "wazo", role: "pbx", pattern: /wazo/i },
  { kind: "homer", role: "sip_monitoring", pattern: /homer|heplify/i },
  { kind: "janus", role: "webrtc_gateway", pattern: /janus/i },
  { kind: "coturn", role: "turn_server", pattern: /coturn|turnserver/i },
  { kind: "sipp", role: "test_tool", pattern: /(^|[^a-z])sipp([^a-z]|$)/i },
  { kind: "baresip", role: "user_agent", pattern: /baresip/i },
];

const PORT_ROLES: ReadonlyMap<number, string> = new Map([
  [5060, "SIP"],
  [5061, "SIP over TLS"],
  [5080, "SIP (FreeSWITCH external profile)"],
  [5038, "Asterisk AMI"],
  [8088, "Asterisk HTTP/ARI"],
  [8021, "FreeSWITCH event socket"],
  [2223, "rtpengine control"],
  [22222, "rtpproxy control"],
  [9060, "HEP capture"],
  [3478, "STUN/TURN"],
]);

/** Container facts the heuristics look at. */
export interface ContainerFacts {
  /** Container name. */
  name: string;
  /** Image reference. */
  image: string;
  /** Command line. */
  command: string;
  /** Port strings as docker prints them ("0.0.0.0:5060->5060/udp", "10000-20000/udp"). */
  ports: readonly string[];
}

/**
 * Recognises VoIP software in a container by image, command, name and ports; undefined when nothing
 * suggests VoIP.
 *
 * @example
 * ```ts
 * classifyVoipContainer({ name: "pbx", image: "andrius/asterisk:18", command: "", ports: [] })?.kind; // "asterisk"
 * ```
 */
export function classifyVoipContainer(c: ContainerFacts): VoipMatch | undefined {
  const evidence: string[] = [];
  let found: { kind: string; role: string } | undefined;
  let confidence: VoipMatch["confidence"] = "low";
  for (const s of SOFTWARE) {
    const where = [["image", c.image], ["command", c.command]].filter(([, v]) => s.pattern.test(v!));
    if (where.length > 0) {
      found ??= s;
      confidence = "high";
      for (const [field, value] of where) evidence.push(`${field} "${preview(value!)}" names ${s.kind}`);
    } else if (s.pattern.test(c.name)) {
      if (found === undefined) {
        found = s;
        confidence = "medium";
      }
      evidence.push(`container name "${c.name}" names ${s.kind}`);
    }
  }
  for (const p of containerPorts(c.ports)) {
    const role = PORT_ROLES.get(p.port);
    if (role) evidence.push(`port ${p.port}/${p.protocol} (${role})`);
    else if (p.count >= 100 && p.protocol === "udp" && p.port >= 1024) {
      evidence.push(`UDP port range ${p.port}-${p.port + p.count - 1} (typical RTP range)`);
    }
  }
  if (found === undefined && evidence.length === 0) return undefined;
  return {
    kind: found?.kind ?? "sip_unknown",
    role: found?.role ?? "unknown",
    confidence,
    evidence,
  };
}

/** Container-side ports of docker's port strings. */
export function containerPorts(
  ports: readonly string[],
): { port: number; count: number; protocol: string }[] {
  const out: { port: number; count: number; protocol: string }[] = [];
  const seen = new Set<string>();
  for (const text of ports) {
    for (const m of text.matchAll(/(?:^|->|[\s,])(\d{1,5})(?:-(\d{1,5}))?\/(tcp|udp|sctp)/g)) {
      const low = Number(m[1]);
      const high = Number(m[2] ?? m[1]);
      const key = `${low}-${high}/${m[3]}`;
      if (seen.has(key) || high < low) continue;
      seen.add(key);
      out.push({ port: low, count: high - low + 1, protocol: m[3]! });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// network diagnostics

/** Ping summary. */
export interface PingSummary {
  /** Echo requests sent. */
  transmitted: number | null;
  /** Replies received. */
  received: number | null;
  /** Loss in percent. */
  loss_percent: number | null;
  /** Fastest round trip in ms. */
  rtt_min_ms: number | null;
  /** Mean round trip in ms. */
  rtt_avg_ms: number | null;
  /** Slowest round trip in ms. */
  rtt_max_ms: number | null;
}

/** Parses iputils or busybox ping output. */
export function parsePing(text: string): PingSummary {
  const counts = /(\d+) packets transmitted, (\d+) (?:packets )?received.*?([\d.]+)% packet loss/.exec(text);
  const rtt = /(?:rtt|round-trip) min\/avg\/max(?:\/\w+)? = ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(text);
  return {
    transmitted: counts ? Number(counts[1]) : null,
    received: counts ? Number(counts[2]) : null,
    loss_percent: counts ? Number(counts[3]) : null,
    rtt_min_ms: rtt ? Number(rtt[1]) : null,
    rtt_avg_ms: rtt ? Number(rtt[2]) : null,
    rtt_max_ms: rtt ? Number(rtt[3]) : null,
  };
}

/** One hop of a route. */
export interface Hop {
  /** Hop number (TTL). */
  hop: number;
  /** Address that answered (null: no answer, "*"). */
  address: string | null;
  /** Round trip in ms (null without answer). */
  rtt_ms: number | null;
}

/** Parses `traceroute -n` or `tracepath -n` output (first answer per hop). */
export function parseRoute(text: string): Hop[] {
  const hops = new Map<number, Hop>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\??:?\s+(.*)$/.exec(line);
    if (!m) continue;
    const hop = Number(m[1]);
    const rest = m[2]!;
    const addr = /^(?:\[LOCALHOST\]\s+)?([0-9A-Fa-f.:]+[0-9A-Fa-f])\b/.exec(rest);
    const ms = /([\d.]+)\s*ms/.exec(rest);
    const entry: Hop = {
      hop,
      address: addr && !/^no reply/.test(rest) ? addr[1]! : null,
      rtt_ms: ms ? Number(ms[1]) : null,
    };
    const prev = hops.get(hop);
    if (prev === undefined || (prev.address === null && entry.address !== null)) hops.set(hop, entry);
  }
  return [...hops.values()].sort((a, b) => a.hop - b.hop);
}

/** State of a port check. */
export type PortState = "open" | "closed" | "timeout" | "open|filtered" | "unknown";

/** One port check. */
export interface PortCheck {
  /** Port. */
  port: number;
  /** tcp or udp. */
  protocol: "tcp" | "udp";
  /** Outcome. */
  state: PortState;
  /** First line of a SIP reply to OPTIONS (UDP), else null. */
  sip_response: string | null;
  /** How it was checked. */
  method: "bash" | "nc" | "none";
  /** What the checker said (trimmed). */
  detail: string;
}

/**
 * Parses the lines `<proto> <port> <method> <exit code> <text>` the diagnostics script prints.
 * TCP: exit 0 = connected; 124 (timeout) = no answer; else refused/unreachable. UDP (SIP OPTIONS over
 * bash /dev/udp): a reply line = open; "refused" = ICMP port unreachable; timeout = open|filtered.
 */
export function parsePortChecks(text: string): PortCheck[] {
  const out: PortCheck[] = [];
  for (const line of text.split("\n")) {
    const m = /^(tcp|udp) (\d+) (bash|nc|none) (\d+|-) ?(.*)$/.exec(line);
    if (!m) continue;
    const protocol = m[1] as "tcp" | "udp";
    const method = m[3] as PortCheck["method"];
    const rc = m[4] === "-" ? -1 : Number(m[4]);
    const detail = m[5]!.trim().slice(0, 300);
    let state: PortState;
    let sip: string | null = null;
    if (method === "none") state = "unknown";
    else if (protocol === "tcp") {
      state = rc === 0 ? "open" : rc === 124 || /timed out/i.test(detail) ? "timeout" : "closed";
    } else if (method === "bash") {
      const reply = /SIP\/2\.0 \d{3}.*/.exec(detail);
      if (reply) {
        state = "open";
        sip = reply[0].trim();
      } else if (/refused/i.test(detail)) state = "closed";
      else if (rc === 0) state = "open";
      else state = "open|filtered";
    } else state = rc === 0 ? "open|filtered" : "closed";
    out.push({ port: Number(m[2]), protocol, state, sip_response: sip, method, detail });
  }
  return out;
}

/** A SIP OPTIONS request for probing UDP ports of `host` (CRLF line ends, random identifiers). */
export function sipOptionsProbe(host: string): string {
  const hex = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
  const h = host.includes(":") ? `[${host}]` : host;
  return [
    `OPTIONS sip:${h} SIP/2.0`,
    // rport (RFC 3581): the reply goes to the probe's source port, whatever the Via says.
    `Via: SIP/2.0/UDP 0.0.0.0:9;branch=z9hG4bK${hex()};rport`,
    "Max-Forwards: 70",
    `From: <sip:ssh-mcp@invalid>;tag=${hex()}`,
    `To: <sip:${h}>`,
    `Call-ID: ${hex()}@ssh-mcp`,
    "CSeq: 1 OPTIONS",
    "Accept: application/sdp",
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/** A VoIP process seen in the host's process list. */
export interface VoipProcess {
  /** Process id. */
  pid: number;
  /** Command name. */
  name: string;
  /** Recognised software. */
  kind: string;
  /** Command line (first 300 characters). */
  command: string;
}

/** VoIP processes in `ps -eo pid=,comm=,args=` output, by command name or the program path. */
export function parseVoipProcesses(text: string): VoipProcess[] {
  const out: VoipProcess[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const program = (m[3]!.split(/\s+/)[0] ?? "").split("/").pop() ?? "";
    const s = SOFTWARE.find((x) => x.pattern.test(m[2]!) || x.pattern.test(program));
    if (s === undefined) continue;
    out.push({ pid: Number(m[1]), name: m[2]!, kind: s.kind, command: m[3]!.slice(0, 300) });
    if (out.length >= 100) break;
  }
  return out;
}
