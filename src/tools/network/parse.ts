/**
 * Pure parsers for the network toolset: sockets (`ss`, `netstat`, /proc/net), `find` and `grep`
 * output, and package manager listings. No I/O.
 */

/** Canonical socket states (TCP states in lower snake case; `unconn` for unconnected UDP). */
export const SOCKET_STATES = [
  "listen",
  "established",
  "syn_sent",
  "syn_recv",
  "fin_wait1",
  "fin_wait2",
  "time_wait",
  "close",
  "close_wait",
  "last_ack",
  "closing",
  "unconn",
] as const;
/** One of {@link SOCKET_STATES}. */
export type SocketState = typeof SOCKET_STATES[number];

/** A socket. */
export interface SocketRow {
  /** tcp or udp. */
  protocol: "tcp" | "udp";
  /** Canonical state (or the tool's own word when unknown). */
  state: string;
  /** Local address ("0.0.0.0", "::", "*", "127.0.0.1"). */
  local_address: string;
  /** Local port, null for "*". */
  local_port: number | null;
  /** Peer address. */
  peer_address: string;
  /** Peer port, null for "*". */
  peer_port: number | null;
  /** Receive queue bytes, when known. */
  recv_q: number | null;
  /** Send queue bytes, when known. */
  send_q: number | null;
  /** Owning processes (visible for other users' sockets only to root). */
  processes: { pid: number; name: string }[];
  /** Owner uid (/proc/net source only). */
  uid: number | null;
}

/** Normalizes ss / netstat / /proc state words to {@link SOCKET_STATES}. */
export function normalizeState(word: string, protocol: "tcp" | "udp"): string {
  const w = word.toLowerCase().replaceAll("-", "_");
  if (w === "estab") return "established";
  if (w === "fin_wait_1") return "fin_wait1";
  if (w === "fin_wait_2") return "fin_wait2";
  if (w === "syn_received") return "syn_recv";
  if (w === "closed" || w === "close") return protocol === "udp" ? "unconn" : "close";
  if (w === "" && protocol === "udp") return "unconn";
  return w;
}

/** Splits "host:port" as ss and netstat print it ("[::]:22", "*:68", "127.0.0.53%lo:53", ":::22"). */
export function splitHostPort(text: string): { address: string; port: number | null } {
  const at = text.lastIndexOf(":");
  if (at === -1) return { address: text, port: null };
  let address = text.slice(0, at);
  const portText = text.slice(at + 1);
  const percent = address.indexOf("%");
  if (percent !== -1) address = address.slice(0, percent);
  if (address.startsWith("[") && address.endsWith("]")) address = address.slice(1, -1);
  return { address: address || "*", port: /^\d+$/.test(portText) ? Number(portText) : null };
}

/** Parses `ss -tunap` (with or without its header line). */
export function parseSs(text: string): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const netid = fields[0];
    if ((netid !== "tcp" && netid !== "udp") || fields.length < 6) continue;
    const local = splitHostPort(fields[4]!);
    const peer = splitHostPort(fields[5]!);
    const rest = fields.slice(6).join(" ");
    rows.push({
      protocol: netid,
      state: normalizeState(fields[1]!, netid),
      local_address: local.address,
      local_port: local.port,
      peer_address: peer.address,
      peer_port: peer.port,
      recv_q: toInt(fields[2]),
      send_q: toInt(fields[3]),
      processes: [...rest.matchAll(/\("((?:[^"\\]|\\.)*)",pid=(\d+)/g)].map((m) => ({
        pid: Number(m[2]),
        name: m[1]!,
      })),
      uid: null,
    });
  }
  return rows;
}

/** Parses `netstat -tunap` (net-tools or busybox). */
export function parseNetstat(text: string): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const proto = /^(tcp|udp)6?$/.exec(fields[0] ?? "")?.[1] as "tcp" | "udp" | undefined;
    if (proto === undefined || fields.length < 5 || !/^\d+$/.test(fields[1]!)) continue;
    const local = splitHostPort(fields[3]!);
    const peer = splitHostPort(fields[4]!);
    let i = 5;
    let state = "";
    if (fields[i] !== undefined && /^[A-Z][A-Z0-9_]*$/.test(fields[i]!)) state = fields[i++]!;
    const program = fields.slice(i).join(" ");
    const owner = /^(\d+)\/(.*)$/.exec(program);
    rows.push({
      protocol: proto,
      state: normalizeState(state, proto),
      local_address: local.address,
      local_port: local.port,
      peer_address: peer.address,
      peer_port: peer.port,
      recv_q: toInt(fields[1]),
      send_q: toInt(fields[2]),
      processes: owner ? [{ pid: Number(owner[1]), name: owner[2]!.trim() }] : [],
      uid: null,
    });
  }
  return rows;
}

const PROC_TCP_STATES: Record<string, string> = {
  "01": "established",
  "02": "syn_sent",
  "03": "syn_recv",
  "04": "fin_wait1",
  "05": "fin_wait2",
  "06": "time_wait",
  "07": "close",
  "08": "close_wait",
  "09": "last_ack",
  "0A": "listen",
  "0B": "closing",
};

/** Parses /proc/net/{tcp,tcp6,udp,udp6} content. */
export function parseProcNet(text: string, protocol: "tcp" | "udp"): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (!/^\d+:$/.test(fields[0] ?? "") || fields.length < 8) continue;
    const local = hexEndpoint(fields[1]!);
    const peer = hexEndpoint(fields[2]!);
    const st = fields[3]!.toUpperCase();
    const state = protocol === "udp"
      ? (st === "01" ? "established" : "unconn")
      : PROC_TCP_STATES[st] ?? `0x${st}`;
    const [tx, rx] = (fields[4] ?? "").split(":").map((h) => Number.parseInt(h, 16));
    rows.push({
      protocol,
      state,
      local_address: local.address,
      local_port: local.port,
      peer_address: peer.address,
      peer_port: peer.port,
      recv_q: Number.isFinite(rx) ? rx! : null,
      send_q: Number.isFinite(tx) ? tx! : null,
      processes: [],
      uid: toInt(fields[7]),
    });
  }
  return rows;
}

// The kernel prints addresses as 32-bit words in host (little-endian) byte order.
function hexEndpoint(text: string): { address: string; port: number | null } {
  const [hex = "", portHex = ""] = text.split(":");
  const port = Number.parseInt(portHex, 16);
  const bytes: number[] = [];
  for (let word = 0; word < hex.length / 8; word++) {
    const chunk = hex.slice(word * 8, word * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(Number.parseInt(chunk.slice(b * 2, b * 2 + 2), 16));
  }
  const address = bytes.length === 4 ? bytes.join(".") : bytes.length === 16 ? formatIpv6(bytes) : hex;
  return { address, port: port === 0 ? null : Number.isFinite(port) ? port : null };
}

function formatIpv6(bytes: number[]): string {
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join(".")}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLength = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLength && j - i > 1) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (best === -1) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLength).join(":")}`;
}

function toInt(text: string | undefined): number | null {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : null;
}

/** A `find` hit. */
export interface FoundFile {
  /** Path as find printed it. */
  path: string;
  /** file, directory, symlink or other (null without GNU find's -printf). */
  type: string | null;
  /** Size in bytes (GNU find only). */
  size_bytes: number | null;
  /** Modification time, ISO 8601 (GNU find only). */
  modified: string | null;
}

const FIND_TYPES: Record<string, string> = {
  f: "file",
  d: "directory",
  l: "symlink",
  s: "socket",
  p: "fifo",
  c: "char-device",
  b: "block-device",
};

/** Parses `find -printf '%y\t%s\t%T@\t%p\n'` lines (`gnu`) or plain `-print` lines. */
export function parseFindOutput(text: string, gnu: boolean): FoundFile[] {
  const files: FoundFile[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (!gnu) {
      files.push({ path: line, type: null, size_bytes: null, modified: null });
      continue;
    }
    const match = /^(\w)\t(\d+)\t([\d.]+)\t(.*)$/.exec(line);
    if (!match) continue;
    const seconds = Number(match[3]);
    files.push({
      path: match[4]!,
      type: FIND_TYPES[match[1]!] ?? "other",
      size_bytes: Number(match[2]),
      modified: Number.isFinite(seconds) ? new Date(Math.round(seconds * 1000)).toISOString() : null,
    });
  }
  return files;
}

/** A `grep -n` hit. */
export interface TextMatch {
  /** File. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** The matching line (cut). */
  text: string;
}

/**
 * Parses `grep -H -n` output. With `-Z` (GNU) the file name ends at a NUL byte, which makes names
 * with colons unambiguous; without it the first `:<digits>:` splits. "Binary file … matches" lines
 * are skipped.
 */
export function parseGrepOutput(text: string): TextMatch[] {
  const matches: TextMatch[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || /^Binary file .* matches$/.test(line)) continue;
    const nul = line.indexOf("\0");
    if (nul !== -1) {
      const rest = /^(\d+):(.*)$/s.exec(line.slice(nul + 1));
      if (rest) matches.push({ file: line.slice(0, nul), line: Number(rest[1]), text: rest[2]! });
      continue;
    }
    const match = /^(.*?):(\d+):(.*)$/s.exec(line);
    if (match) matches.push({ file: match[1]!, line: Number(match[2]), text: match[3]! });
  }
  return matches;
}

/** A package in a listing or search result. */
export interface PackageRow {
  /** Package name. */
  name: string;
  /** Version, when the listing shows one. */
  version: string | null;
  /** One-line description, when shown. */
  description: string | null;
}

/** Package managers {@link parsePackageList} and {@link parsePackageSearch} understand. */
export type PackageManager = "apt" | "dnf" | "yum" | "apk" | "zypper" | "pacman";

/**
 * Parses installed-package listings: `dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n'`
 * (only "ii"/"hi" rows), `rpm -qa --qf '%{NAME}\t%{VERSION}-%{RELEASE}\n'`, `apk info -v`, `pacman -Q`.
 */
export function parsePackageList(manager: PackageManager, text: string): PackageRow[] {
  const rows: PackageRow[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (manager === "apt") {
      const [name, version, status] = line.split("\t");
      if (name && version !== undefined && /^[hi]i/.test(status ?? "")) {
        rows.push({ name, version, description: null });
      }
    } else if (manager === "dnf" || manager === "yum" || manager === "zypper") {
      const [name, version] = line.split("\t");
      if (name && version) rows.push({ name, version, description: null });
    } else if (manager === "apk") {
      const match = /^(.+)-(\d[^-]*-r\d+)$/.exec(line.trim());
      if (match) rows.push({ name: match[1]!, version: match[2]!, description: null });
    } else {
      const match = /^(\S+)\s+(\S+)$/.exec(line.trim());
      if (match) rows.push({ name: match[1]!, version: match[2]!, description: null });
    }
  }
  return rows;
}

/** Parses search output of each manager into rows (zypper's table included). */
export function parsePackageSearch(manager: PackageManager, text: string): PackageRow[] {
  const rows: PackageRow[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    if (manager === "apt") {
      const match = /^(\S+) - (.*)$/.exec(line);
      if (match) rows.push({ name: match[1]!, version: null, description: match[2]! });
    } else if (manager === "dnf" || manager === "yum") {
      const match = /^(\S+?)(?:\.(?:x86_64|noarch|i686|aarch64|ppc64le|s390x|armv7hl|src))?\s+:\s+(.*)$/.exec(
        line,
      );
      if (match && !line.startsWith("=")) {
        rows.push({ name: match[1]!, version: null, description: match[2]! });
      }
    } else if (manager === "apk") {
      const match = /^(.+)-(\d[^-]*-r\d+)(?: - (.*))?$/.exec(line.trim());
      if (match) rows.push({ name: match[1]!, version: match[2]!, description: match[3] ?? null });
    } else if (manager === "zypper") {
      const cells = line.split("|").map((c) => c.trim());
      if (cells.length >= 3 && cells[1] && cells[1] !== "Name" && !/^-+$/.test(cells[1])) {
        rows.push({ name: cells[1], version: null, description: cells[2] || null });
      }
    } else {
      const match = /^\S+\/(\S+)\s+(\S+)/.exec(line);
      if (match) {
        const next = lines[i + 1];
        const description = next !== undefined && /^\s+/.test(next) ? next.trim() : null;
        if (description !== null) i++;
        rows.push({ name: match[1]!, version: match[2]!, description });
      }
    }
  }
  return rows;
}

/**
 * Installed versions by package name from the status probe of each manager (null: not installed):
 * dpkg-query `${Package}\t${db:Status-Abbrev}\t${Version}`, rpm `%{NAME}\t%{VERSION}-%{RELEASE}`,
 * `pacman -Q`, or for apk the `apk info -v` listing.
 */
export function parseInstalled(
  manager: PackageManager,
  text: string,
  names: readonly string[],
): Map<string, string | null> {
  const found = new Map<string, string>();
  if (manager === "apt") {
    for (const line of text.split("\n")) {
      const [name, status, version] = line.split("\t");
      if (name && version && /^[hi]i/.test(status ?? "")) found.set(name.replace(/:[a-z0-9]+$/, ""), version);
    }
  } else {
    for (const row of parsePackageList(manager, text)) if (row.version) found.set(row.name, row.version);
  }
  const result = new Map<string, string | null>();
  for (const name of names) {
    const bare = name.replace(/[=:].*$/, "");
    result.set(bare, found.get(bare) ?? null);
  }
  return result;
}
