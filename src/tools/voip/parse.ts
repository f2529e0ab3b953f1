/**
 * Pure helpers of the VoIP capture tools: argument validation (BPF filters, interfaces, hosts, port
 * ranges), the capture filters, and tcpdump's messages. No I/O.
 */

// ---------------------------------------------------------------------------------------------
// validation

/** Longest BPF filter accepted. */
export const MAX_FILTER_LENGTH = 1024;

/**
 * Characters a BPF filter may use: enough for `host`, `net 10.0.0.0/8`, `portrange 10000-20000`,
 * `ip[6:2] & 0x1fff != 0`, `ether host aa:bb:…`, `and`/`or`/`not`/`&&`/`||`/`!`. No quotes, `$`,
 * backticks, `;`, backslashes, tabs or line breaks.
 */
const BPF_CHARS = /^[A-Za-z0-9_.:/\[\]()!&|<>=+* -]*$/;
/** A word starting with "-" and something other than a digit or space ("-w", "--foo"). */
const OPTION_WORD = /(?:^|[\s(!])-(?=[^\s\d])/;

/**
 * Throws unless `filter` fits the conservative BPF grammar above. The filter reaches tcpdump as one
 * quoted argument after `--`, so this is defence in depth: no word may even look like an option.
 *
 * @example
 * ```ts
 * assertBpfFilter("udp port 5060 or portrange 10000-20000"); // ok
 * assertBpfFilter("-w /tmp/x");                              // throws TypeError
 * ```
 */
export function assertBpfFilter(filter: string): void {
  if (filter.length > MAX_FILTER_LENGTH) {
    throw new RangeError(
      `Cannot use a filter of ${filter.length} characters: at most ${MAX_FILTER_LENGTH} are allowed`,
    );
  }
  if (!BPF_CHARS.test(filter)) {
    throw new TypeError(
      `Cannot use filter "${preview(filter)}": a BPF filter may only contain letters, digits, spaces and ` +
        '_ . : / [ ] ( ) ! & | < > = + * -, e.g. "udp port 5060 or portrange 10000-20000"',
    );
  }
  if (OPTION_WORD.test(filter)) {
    throw new TypeError(
      `Cannot use filter "${preview(filter)}": a word starts with "-"; tcpdump options cannot be passed ` +
        'through the filter (write BPF only, e.g. "host 10.0.0.5 and udp")',
    );
  }
}

/** Whether {@link assertBpfFilter} accepts `filter`. */
export function isBpfFilter(filter: string): boolean {
  try {
    assertBpfFilter(filter);
    return true;
  } catch {
    return false;
  }
}

/** Interface names: `any`, `eth0`, `ens3.100`, `br-1a2b`, `veth@if3`; never starting with "-". */
export const INTERFACE_NAME = /^(?!-)[A-Za-z0-9_.:@-]{1,32}$/;

/** Throws a `TypeError` unless `name` is a plausible interface name (see {@link INTERFACE_NAME}). */
export function assertInterface(name: string): void {
  if (!INTERFACE_NAME.test(name)) {
    throw new TypeError(
      `Cannot capture on interface "${
        preview(name)
      }": use "any" or a name of letters, digits and _ . : @ - ` +
        "(1–32 characters, not starting with -); `run` `ip -br link` lists the interfaces",
    );
  }
}

const LABEL = "(?!-)[A-Za-z0-9_-]{1,63}(?<!-)";
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*\\.?$`);
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6 = /^(?=.*:)[0-9A-Fa-f:.]{2,45}$/;

/** Throws a `TypeError` unless `host` is a host name, an IPv4 address or an IPv6 address. */
export function assertHost(host: string): void {
  if (IPV4.test(host) || IPV6.test(host) || (HOSTNAME.test(host) && !/^[\d.]+$/.test(host))) return;
  throw new TypeError(
    `Cannot check host "${
      preview(host)
    }": give a host name (letters, digits, - _ and dots) or an IPv4/IPv6 ` +
      "address",
  );
}

/** Whether {@link assertHost} accepts `host`. */
export function isHost(host: string): boolean {
  try {
    assertHost(host);
    return true;
  } catch {
    return false;
  }
}

/** A UDP port range "low-high". */
export interface PortRange {
  /** First port. */
  low: number;
  /** Last port. */
  high: number;
}

/** Parses "10000-20000" (or a single port "4000"); undefined when malformed or out of order. */
export function parsePortRange(text: string): PortRange | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return undefined;
  const low = Number(m[1]);
  const high = Number(m[2] ?? m[1]);
  if (low < 1 || high > 65535 || low > high) return undefined;
  return { low, high };
}

// ---------------------------------------------------------------------------------------------
// capture filters

/**
 * Filter of `voip_sip_capture`: the SIP ports (UDP and TCP), non-first IPv4 fragments (a large INVITE
 * over UDP is fragmented and only its first fragment carries ports), and optionally an RTP port range.
 *
 * @example
 * ```ts
 * sipFilter([5060]); // "port 5060 or ((ip[6:2] & 0x1fff) != 0)"
 * ```
 */
export function sipFilter(ports: readonly number[], rtp?: PortRange): string {
  const sip = ports.map((p) => `port ${int(p)}`).join(" or ");
  const parts = [sip, "((ip[6:2] & 0x1fff) != 0)"];
  if (rtp) parts.push(`(udp and ${portRange(rtp)})`);
  return parts.join(" or ");
}

/** Filter of `voip_rtp_capture`: all UDP, or only the RTP range plus SIP ports (for SDP). */
export function rtpFilter(rtp?: PortRange, sipPorts: readonly number[] = [5060, 5061]): string {
  if (!rtp) return "udp";
  return `udp and (${portRange(rtp)} or ${sipPorts.map((p) => `port ${int(p)}`).join(" or ")})`;
}

/** Filter of `voip_packet_check`: all UDP plus SIP over TCP on the given ports. */
export function packetCheckFilter(ports: readonly number[] = [5060, 5061]): string {
  return `udp or (tcp and (${ports.map((p) => `port ${int(p)}`).join(" or ")}))`;
}

function portRange(r: PortRange): string {
  return r.low === r.high ? `port ${int(r.low)}` : `portrange ${int(r.low)}-${int(r.high)}`;
}

function int(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new RangeError(`Cannot use port ${n}: not 1–65535`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// tcpdump output

/** tcpdump's closing statistics (null when it did not print them). */
export interface TcpdumpStats {
  /** Packets written to the file. */
  captured: number | null;
  /** Packets that matched the filter. */
  received_by_filter: number | null;
  /** Packets the kernel dropped because tcpdump was too slow. */
  dropped_by_kernel: number | null;
}

/** Reads tcpdump's "N packets captured / received by filter / dropped by kernel" lines. */
export function parseTcpdumpStats(stderr: string): TcpdumpStats {
  const find = (what: string) => {
    const m = new RegExp(`^(\\d+) packets? ${what}`, "m").exec(stderr);
    return m ? Number(m[1]) : null;
  };
  return {
    captured: find("captured"),
    received_by_filter: find("received by filter"),
    dropped_by_kernel: find("dropped by kernel"),
  };
}

/** Why tcpdump (or nsenter) refused to capture. */
export type CaptureFailure = "no_rights" | "bad_interface" | "bad_filter" | "other";

/** Classifies tcpdump's or nsenter's error text. */
export function classifyCaptureFailure(stderr: string): CaptureFailure {
  if (/permission|not permitted|cannot open \/proc\/\d+\/ns/i.test(stderr)) return "no_rights";
  if (/no such device|doesn't exist|no suitable device|SIOCG|not up/i.test(stderr)) return "bad_interface";
  if (
    /syntax error|can't parse filter|illegal|unknown (host|port|protocol)|expression rejects/i.test(stderr)
  ) {
    return "bad_filter";
  }
  return "other";
}

/** What the model should do about a {@link CaptureFailure}. */
export function captureFailureHint(failure: CaptureFailure): string {
  switch (failure) {
    case "no_rights":
      return "Capturing needs root (or CAP_NET_RAW, and root for a container's namespace): retry with sudo: true " +
        "(pass sudo_password to `connect` if sudo asks for one), or connect as root.";
    case "bad_interface":
      return 'Check the interface name: `run` `ip -br link` lists them (inside a container too); "any" captures on all.';
    case "bad_filter":
      return 'Fix the BPF filter, e.g. "udp port 5060", "host 10.0.0.5 and portrange 10000-20000".';
    case "other":
      return "Read tcpdump's message above; `run` `tcpdump --version` checks the installation.";
  }
}

/** The first non-empty line of tcpdump's stderr that is not its "listening on" banner. */
export function tcpdumpMessage(stderr: string): string {
  return stderr.split("\n").map((l) => l.trim()).find((l) =>
    l !== "" && !/^tcpdump: (listening on|data link type|verbose output suppressed)/.test(l) &&
    !/^\d+ packets? /.test(l)
  ) ?? "";
}

/** `key=value` lines of a script section. */
export function keyValues(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return out;
}

/** A value shortened for error messages. */
export function preview(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
