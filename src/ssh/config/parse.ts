/**
 * The syntax layer of the ssh config resolver: the `ssh-config` tokeniser's section tree flattened
 * into directives, the values of the options we honour (Port, yes/no flags, StrictHostKeyChecking,
 * ProxyJump), and the error for a configuration that cannot be used. Pure.
 *
 * @module
 */
import { type Line, LineType, parse } from "ssh-config";

/** Values of `StrictHostKeyChecking` (`true` is reported as `yes`, `false` as `no`). */
export type StrictHostKeyChecking = "yes" | "no" | "accept-new" | "ask" | "off";

/** One hop of a `ProxyJump` list: `[user@]host[:port]` or `ssh://[user@]host[:port]`. */
export interface JumpHop {
  /** User given in the hop (else the hop's own config, else the caller's default). */
  readonly user?: string;
  /** Host name or alias of the hop (IPv6 without brackets). */
  readonly host: string;
  /** Port given in the hop. */
  readonly port?: number;
}

/** The configuration cannot be used: a syntax error or an invalid value of an option we honour. */
export class SshConfigError extends Error {
  /** Always `"config_invalid"`, for callers that switch on codes. */
  readonly code = "config_invalid" as const;
  /** File at fault. */
  readonly path: string;

  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SshConfigError";
    this.path = path;
  }
}

/** One directive, flattened out of the parser's section tree. */
export interface Entry {
  /** Lowercased keyword. */
  readonly keyword: string;
  /** Arguments, quotes removed. */
  readonly args: readonly string[];
  /** The value as one string (for single-valued keywords that may contain spaces when quoted). */
  readonly value: string;
}

/**
 * Parses a `ProxyJump` value (`none` gives `[]`): comma-separated `[user@]host[:port]` or
 * `ssh://[user@]host[:port]`, IPv6 addresses in brackets.
 *
 * @example
 * ```ts
 * parseProxyJump("ops@bastion:2222,[fd00::1]"); // [{user:"ops",host:"bastion",port:2222},{host:"fd00::1"}]
 * ```
 */
export function parseProxyJump(value: string): JumpHop[] {
  if (value.trim().toLowerCase() === "none") return [];
  try {
    return parseJumps(value.trim(), undefined);
  } catch (error) {
    throw new TypeError((error as Error).message);
  }
}

/** Keywords the `ssh-config` parser splits into several arguments (its RE_MULTI_VALUE_DIRECTIVE). */
const MULTI_VALUED: ReadonlySet<string> = new Set([
  "globalknownhostsfile",
  "host",
  "ipqos",
  "sendenv",
  "userknownhostsfile",
  "proxycommand",
  "knownhostscommand",
  "match",
  "canonicaldomains",
  "include",
]);

export function flatten(path: string, text: string): Entry[] {
  let lines: Line[];
  try {
    lines = parse(text);
  } catch (error) {
    throw new SshConfigError(
      path,
      `Cannot parse ssh config "${path}": ${
        (error as Error).message
      }; fix the file or pass explicit connect arguments`,
      { cause: error },
    );
  }
  const entries: Entry[] = [];
  const visit = (list: readonly Line[]) => {
    for (const line of list) {
      if (line.type !== LineType.DIRECTIVE || line.param === "") continue;
      const keyword = line.param.toLowerCase();
      // The parser returns a lone argument of a multi-valued keyword as a plain (unquoted) string.
      const args = typeof line.value === "string"
        ? (line.quoted || MULTI_VALUED.has(keyword)
          ? [line.value]
          : line.value.split(/[ \t]+/).filter(Boolean))
        : line.value.map((v) => v.val);
      const value = typeof line.value === "string" ? line.value : args.join(" ");
      entries.push({ keyword, args, value });
      if ("config" in line) visit(line.config);
    }
  };
  visit(lines);
  return entries;
}

export function parsePort(value: string, path: string, keyword: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new SshConfigError(
      path,
      `Cannot use ${keyword} "${value}" in ${path}: expected a port from 1 to 65535`,
    );
  }
  return port;
}

export function parseFlag(value: string, path: string, keyword: string): boolean {
  if (/^(yes|true)$/i.test(value)) return true;
  if (/^(no|false)$/i.test(value)) return false;
  throw new SshConfigError(path, `Cannot use ${keyword} "${value}" in ${path}: expected yes or no`);
}

export function parseStrict(value: string, path: string): StrictHostKeyChecking {
  const v = value.toLowerCase();
  if (v === "true" || v === "yes") return "yes";
  if (v === "false" || v === "no") return "no";
  if (v === "off" || v === "ask" || v === "accept-new") return v;
  throw new SshConfigError(
    path,
    `Cannot use StrictHostKeyChecking "${value}" in ${path}: expected yes, no, accept-new, ask or off`,
  );
}

export function parseJumps(value: string, path: string | undefined): JumpHop[] {
  return value.split(",").map((spec) => {
    const hop = parseHop(spec);
    if (hop === undefined) {
      throw new SshConfigError(
        path ?? "",
        `Cannot use ProxyJump "${value}"${path === undefined ? "" : ` in ${path}`}: "${spec}" is not ` +
          "[user@]host[:port] or ssh://[user@]host[:port]",
      );
    }
    return hop;
  });
}

function parseHop(spec: string): JumpHop | undefined {
  let rest = spec;
  if (/^ssh:\/\//i.test(rest)) {
    rest = rest.slice(6);
    if (rest.endsWith("/")) rest = rest.slice(0, -1);
  }
  let user: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at !== -1) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (user === "") return undefined;
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close === -1) return undefined;
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== "") {
      if (!after.startsWith(":")) return undefined;
      portText = after.slice(1);
    }
  } else {
    const parts = rest.split(":");
    if (parts.length > 2) return undefined;
    host = parts[0]!;
    portText = parts[1];
  }
  if (host === "" || /[\s/]/.test(host)) return undefined;
  let port: number | undefined;
  if (portText !== undefined) {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return undefined;
  }
  return { ...(user === undefined ? {} : { user }), host, ...(port === undefined ? {} : { port }) };
}
