/**
 * Value parsers of the flags: each returns the parsed value or throws the one-line ConfigError that
 * names its flag, its env var and the accepted values.
 *
 * @module
 */
import { ConfigError, CONFIRM_KINDS, type ConfirmKind } from "./types.ts";
import { invalid, RESERVED_HEADERS, spec, TOOLSET_NAMES } from "./flags.ts";
// ---------------------------------------------------------------------------------------------------
// Value parsers. Each returns the parsed value or throws the one-line ConfigError for its flag.

export function parseInteger(
  name: string,
  text: string,
  range: { min: number; max: number; expected?: string },
): number {
  const t = text.trim();
  const n = /^\d{1,15}$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) throw invalid(name, text, range.expected);
  return n;
}

export function parseEnum<T extends string>(name: string, text: string, allowed: readonly T[]): T {
  const t = text.trim().toLowerCase();
  const found = allowed.find((a) => a === t);
  if (found === undefined) throw invalid(name, text);
  return found;
}

export const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Normalises a host name or IP (IPv6 with or without brackets) to the `URL.hostname` form, or returns
 * `undefined` when it is not one: ports, paths, spaces and non-canonical IPv4 (`127.1`, `8000`) are
 * refused because they are almost always a mistake in a bind address or an allowlist.
 */
export function hostnameOf(text: string): string | undefined {
  const t = text.trim();
  if (t === "" || /[\s/?#@\\%,]/.test(t)) return undefined;
  const bracketed = t.includes(":") && !t.startsWith("[") ? `[${t}]` : t;
  let url: URL;
  try {
    url = new URL(`http://${bracketed}`);
  } catch {
    return undefined;
  }
  if (url.port !== "" || !isHostname(url.hostname)) return undefined;
  if (IPV4.test(url.hostname) && url.hostname !== t) return undefined;
  if (/^[\d.]+$/.test(t) && !IPV4.test(t)) return undefined;
  return url.hostname;
}

/** `URL.hostname` output that is a DNS name, dotted IPv4 or bracketed IPv6 (not `*`, `a$b`…). */
export function isHostname(name: string): boolean {
  return IPV4.test(name) || /^\[[0-9a-f:.]+\]$/.test(name) ||
    /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_.])?$/.test(name);
}

export function parseList(name: string, text: string, item: (entry: string) => string | undefined): string[] {
  const entries = text.split(",").map((e) => e.trim()).filter((e) => e !== "");
  if (entries.length === 0) throw invalid(name, text);
  const out: string[] = [];
  for (const entry of entries) {
    const host = item(entry);
    if (host === undefined) throw invalid(name, entry);
    if (!out.includes(host)) out.push(host);
  }
  return out;
}

/**
 * The hostname of an origin (`scheme://host[:port]`, http or https, nothing after the authority) or
 * of a bare host name, in `URL.hostname` form; `undefined` when it is neither.
 *
 * @example
 * ```ts
 * originHostname("https://App.Example.com:8443"); // "app.example.com"
 * ```
 */
export function originHostname(entry: string): string | undefined {
  if (!entry.includes("://")) return hostnameOf(entry);
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return undefined;
  }
  const bare = url.pathname === "/" && url.search === "" && url.hash === "" && url.username === "" &&
    url.password === "";
  if ((url.protocol !== "http:" && url.protocol !== "https:") || !bare) return undefined;
  return isHostname(url.hostname) ? url.hostname : undefined;
}

export function parseToolsets(text: string): string[] {
  const entries = text.split(",").map((e) => e.trim().toLowerCase()).filter((e) => e !== "");
  if (entries.length === 0 || (entries.length === 1 && entries[0] === "all")) return [...TOOLSET_NAMES];
  for (const entry of entries) {
    if (!(TOOLSET_NAMES as readonly string[]).includes(entry)) throw invalid("toolsets", entry);
  }
  return TOOLSET_NAMES.filter((t) => entries.includes(t));
}

export function parseConfirm(text: string): ConfirmKind[] {
  const entries = text.split(",").map((e) => e.trim().toLowerCase()).filter((e) => e !== "");
  if (entries.length === 0 || (entries.length === 1 && entries[0] === "none")) return [];
  for (const entry of entries) {
    if (!(CONFIRM_KINDS as readonly string[]).includes(entry)) throw invalid("confirm", entry);
  }
  return CONFIRM_KINDS.filter((k) => entries.includes(k));
}

export function parsePolicyPath(text: string): string {
  if (text.trim() === "" || text.includes("\0")) throw invalid("policy", text);
  return text;
}

const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function parseSessionHeader(text: string): string {
  const t = text.trim();
  if (!HEADER_TOKEN.test(t) || RESERVED_HEADERS.includes(t.toLowerCase())) {
    throw invalid("session-header", text);
  }
  return t;
}

export function parseAuthToken(text: string): string {
  // Never echo the value: it is a secret even when it is a bad one.
  if (text.length < 32) {
    throw invalid("auth-token", undefined, `${spec("auth-token").accepts}; got ${text.length} characters`);
  }
  if (!/^[\x21-\x7e]+$/.test(text)) throw invalid("auth-token", undefined);
  return text;
}

export function parseDir(name: "data-dir" | "transfer-dir", text: string): string {
  if (text.trim() === "" || text.includes("\0")) throw invalid(name, text);
  return text;
}

export function defaultDataDir(env: Record<string, string | undefined>, home: string | undefined): string {
  const xdg = env.XDG_DATA_HOME;
  // The XDG spec says relative values are invalid and must be ignored.
  if (xdg !== undefined && xdg.startsWith("/")) return `${xdg.replace(/\/+$/, "")}/ssh-mcp`;
  if (home !== undefined && home !== "") return `${home.replace(/[/\\]+$/, "")}/.local/share/ssh-mcp`;
  throw new ConfigError(
    "-data-dir",
    "Cannot choose a data directory: neither XDG_DATA_HOME nor HOME is set; " +
      "pass -data-dir <path> (env SSH_MCP_DATA_DIR)",
    { env: "SSH_MCP_DATA_DIR" },
  );
}
