/**
 * The server configuration: flags > environment > defaults (SPEC §2), validated and frozen.
 *
 * Pure on purpose: no runtime API calls. `main.ts` passes the process arguments and environment in,
 * so every rule here is testable without a process and the permission sandbox stays in `main.ts`.
 *
 * Flags are written Go-style (`-mode stdio`, as in the seed) or GNU-style (`--mode stdio`,
 * `--mode=stdio`); boolean flags also take `-debug=false`. Every invalid value stops start-up with a
 * {@link ConfigError} whose one-line message names the flag, its env var and the accepted values.
 */
import { parseArgs } from "node:util";
import { VERSION } from "./version.ts";

/** Transport: `stdio` for one local MCP host, `http` for a shared server. */
export type Mode = "stdio" | "http";

/**
 * What to do with SSH host keys (`-host-keys`): reject unknown, learn unknown (reject changed), or
 * check nothing. Defined here, the lowest layer that both the configuration and ssh/host_keys use.
 */
export type HostKeyPolicy = "strict" | "accept-new" | "off";

/** Every accepted {@link HostKeyPolicy}, for validation and help text. */
export const HOST_KEY_POLICIES: readonly HostKeyPolicy[] = Object.freeze(["strict", "accept-new", "off"]);

/**
 * What `-confirm` can put before a human (SPEC §11): every `run`, every tool whose `destructiveHint` is
 * true, anything run with sudo, and trusting an unknown host key.
 */
export const CONFIRM_KINDS = ["run", "destructive", "sudo", "host-key"] as const;
/** One of {@link CONFIRM_KINDS}. */
export type ConfirmKind = typeof CONFIRM_KINDS[number];

/**
 * The validated configuration. Frozen, arrays included.
 *
 * **Host and origin allowlists** (`allowedHosts`, `allowedOrigins`) hold lowercase host names in the
 * form `new URL(...).hostname` produces: DNS names, dotted IPv4, and IPv6 in brackets (`[::1]`), never
 * a port. The HTTP guard takes the hostname part of the `Host` header and of the `Origin` header and
 * checks membership; `isAllowedHost` and `isAllowedOrigin` of transport/http_guard.ts implement exactly that.
 * Ports and schemes are not compared: loopback origins on any port are allowed by default.
 */
export interface Config {
  /** `-mode`: transport. */
  readonly mode: Mode;
  /** `-port`: HTTP port, 1–65535. */
  readonly port: number;
  /** `-host`: HTTP bind address as the server's `hostname` option takes it (IPv6 without brackets). */
  readonly host: string;
  /** `-debug`: debug logs on stderr. */
  readonly debug: boolean;
  /** `-global`: one shared connection pool for every client. */
  readonly global: boolean;
  /** `-data-dir`: identity key, known_hosts, captures, audit log. */
  readonly dataDir: string;
  /** `-auth-token`: bearer token for HTTP (≥ 32 chars); absent when not configured. */
  readonly authToken?: string;
  /** `-allowed-origins`: host names an `Origin` header may carry (see the interface note). */
  readonly allowedOrigins: readonly string[];
  /** `-allowed-hosts`: host names a `Host` header may carry (see the interface note). */
  readonly allowedHosts: readonly string[];
  /** `-host-keys`: host key policy. */
  readonly hostKeys: HostKeyPolicy;
  /** `-session-timeout`: idle seconds before a session is reaped. */
  readonly sessionTimeoutSeconds: number;
  /** `-command-timeout`: default `run` deadline, seconds (≤ `maxCommandTimeoutSeconds`). */
  readonly commandTimeoutSeconds: number;
  /** `-max-command-timeout`: largest deadline a call may request, seconds. */
  readonly maxCommandTimeoutSeconds: number;
  /** `-run-wait`: seconds `run` (and other long tools) wait before answering with a job (0–50). */
  readonly runWaitSeconds: number;
  /** `-max-output`: per-stream output bytes returned to the model. */
  readonly maxOutputBytes: number;
  /** `-session-header`: HTTP header carrying the sticky pool key, as written by the operator. */
  readonly sessionHeader: string;
  /** `-read-only`: expose only tools whose `readOnlyHint` is true. */
  readonly readOnly: boolean;
  /** `-toolsets`: enabled toolsets, deduplicated, in the order core, files, docker, monitoring, db, … */
  readonly toolsets: readonly string[];
  /** `-keepalive-interval`: SSH keepalive interval, seconds; 0 disables keepalives. */
  readonly keepaliveIntervalSeconds: number;
  /** `-keepalive-count`: unanswered keepalives before the connection is declared lost. */
  readonly keepaliveCountMax: number;
  /** `-max-sessions-per-principal`: live sessions one principal may hold (≤ `maxSessions`). */
  readonly maxSessionsPerPrincipal: number;
  /** `-max-sessions`: live sessions in the whole server. */
  readonly maxSessions: number;
  /** `-confirm`: what needs a human yes through elicitation, in {@link CONFIRM_KINDS} order. */
  readonly confirm: readonly ConfirmKind[];
  /** `-policy`: path of the per-host policy file (JSON); absent when not configured. */
  readonly policyFile?: string;
  /** `-fanout`: how many targets one `run{targets}` call works on at once. */
  readonly fanout: number;
  /** `-transfer-dir`: the only local directory `upload` reads from and `download` writes to. */
  readonly transferDir: string;
}

/** What {@link parseConfig} decided: run with a config, print help, or print the version. */
export type ConfigResult =
  | {
    readonly kind: "config";
    readonly config: Config;
    /** Non-fatal remarks for the log, e.g. an unknown `SSH_MCP_*` variable (likely a typo). */
    readonly warnings: readonly string[];
  }
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version"; readonly version: string };

/** Options of {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Home directory for the default data dir; falls back to `env.HOME`. */
  home?: string;
}

/** Invalid command line or environment; the message is one line that says what to change. */
export class ConfigError extends Error {
  /** The flag at fault in Go spelling (`-mode`), or the unrecognised argument as given. */
  readonly flag: string;
  /** The environment variable of that flag, when it has one. */
  readonly env: string | undefined;

  constructor(flag: string, message: string, options?: ErrorOptions & { env?: string }) {
    super(message, options);
    this.name = "ConfigError";
    this.flag = flag;
    this.env = options?.env;
  }
}

// ---------------------------------------------------------------------------------------------------
// The flag table: the single source for parsing, environment lookup, error messages and --help.

interface FlagSpec {
  /** Name without dashes. */
  readonly name: string;
  readonly type: "string" | "boolean";
  /** Absent for -help / -version. */
  readonly env?: string;
  /** As shown in --help. */
  readonly display: string;
  readonly meaning: string;
  /** "expected …" text of error messages. */
  readonly accepts: string;
}

/** The toolsets `-toolsets` selects from, in the seed's order (the tool layer's one source). */
export const TOOLSET_NAMES = [
  "core",
  "jobs",
  "files",
  "docker",
  "monitoring",
  "db",
  "network",
  "voip",
] as const;
const MIB = 1024 * 1024;
const DAY = 86_400;
const LOOPBACK_NAMES: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];
const RESERVED_HEADERS: readonly string[] = [
  "authorization",
  "host",
  "origin",
  "cookie",
  "content-type",
  "content-length",
  "transfer-encoding",
  "connection",
  "accept",
  "last-event-id",
  "mcp-session-id",
  "mcp-protocol-version",
];

const BOOLEAN_ACCEPTS = "true or false (also 1/0, yes/no)";
const seconds = (min: number, max: number) => `an integer number of seconds from ${min} to ${max}`;

const FLAGS: readonly FlagSpec[] = [
  {
    name: "mode",
    type: "string",
    env: "SSH_MCP_MODE",
    display: "http",
    meaning: "transport: stdio or http",
    accepts: "one of stdio, http",
  },
  {
    name: "port",
    type: "string",
    env: "PORT",
    display: "8000",
    meaning: "HTTP port",
    accepts: "an integer from 1 to 65535",
  },
  {
    name: "host",
    type: "string",
    env: "SSH_MCP_HOST",
    display: "127.0.0.1",
    meaning: "HTTP bind address (non-loopback requires -auth-token)",
    accepts: "an IP address or host name without port, e.g. 127.0.0.1, ::1, 0.0.0.0",
  },
  {
    name: "debug",
    type: "boolean",
    env: "SSH_MCP_DEBUG",
    display: "false",
    meaning: "debug logs (stderr)",
    accepts: BOOLEAN_ACCEPTS,
  },
  {
    name: "global",
    type: "boolean",
    env: "SSH_MCP_GLOBAL",
    display: "false",
    meaning: "one shared connection pool for every client",
    accepts: BOOLEAN_ACCEPTS,
  },
  {
    name: "data-dir",
    type: "string",
    env: "SSH_MCP_DATA_DIR",
    display: "~/.local/share/ssh-mcp",
    meaning: "identity key, known_hosts, captures, audit log",
    accepts: "a directory path",
  },
  {
    name: "auth-token",
    type: "string",
    env: "SSH_MCP_AUTH_TOKEN",
    display: "none",
    meaning: "bearer token for HTTP; required when bound off loopback",
    accepts: "at least 32 printable characters without spaces (generate one with: openssl rand -hex 32)",
  },
  {
    name: "allowed-origins",
    type: "string",
    env: "SSH_MCP_ALLOWED_ORIGINS",
    display: "loopback",
    meaning: "Origin allowlist: comma list of host names or origins",
    accepts:
      "a comma-separated list of host names or http(s) origins, e.g. localhost,https://app.example.com",
  },
  {
    name: "allowed-hosts",
    type: "string",
    env: "SSH_MCP_ALLOWED_HOSTS",
    display: "loopback, -host",
    meaning: "Host header allowlist: comma list of host names",
    accepts: "a comma-separated list of host names without port, e.g. localhost,mcp.example.com,[::1]",
  },
  {
    name: "host-keys",
    type: "string",
    env: "SSH_MCP_HOST_KEYS",
    display: "accept-new",
    meaning: "strict, accept-new or off (off warns on every connect)",
    accepts: "one of strict, accept-new, off",
  },
  {
    name: "session-timeout",
    type: "string",
    env: "SSH_MCP_SESSION_TIMEOUT",
    display: "300",
    meaning: "idle session reaping, seconds",
    accepts: seconds(1, DAY),
  },
  {
    name: "command-timeout",
    type: "string",
    env: "SSH_MCP_COMMAND_TIMEOUT",
    display: "120",
    meaning: "default run timeout, seconds",
    accepts: seconds(1, DAY),
  },
  {
    name: "max-command-timeout",
    type: "string",
    env: "SSH_MCP_MAX_COMMAND_TIMEOUT",
    display: "3600",
    meaning: "largest timeout a tool call may request, seconds",
    accepts: seconds(1, DAY),
  },
  {
    name: "run-wait",
    type: "string",
    env: "SSH_MCP_RUN_WAIT",
    display: "25",
    meaning: "seconds run waits before answering with a job (0: a job at once)",
    accepts: "an integer number of seconds from 0 to 50",
  },
  {
    name: "max-output",
    type: "string",
    env: "SSH_MCP_MAX_OUTPUT",
    display: "51200",
    meaning: "per-stream output bytes for the model (head+tail kept)",
    accepts: `an integer number of bytes from 1024 to ${64 * MIB}`,
  },
  {
    name: "session-header",
    type: "string",
    env: "SSH_MCP_SESSION_HEADER",
    display: "X-Session-Key",
    meaning: "header carrying the sticky pool key",
    accepts: "an HTTP header name (letters, digits, -), not a header HTTP or MCP already uses",
  },
  {
    name: "read-only",
    type: "boolean",
    env: "SSH_MCP_READ_ONLY",
    display: "false",
    meaning: "expose only read-only tools",
    accepts: BOOLEAN_ACCEPTS,
  },
  {
    name: "toolsets",
    type: "string",
    env: "SSH_MCP_TOOLSETS",
    display: "all",
    meaning: `comma list of ${TOOLSET_NAMES.join(",")}`,
    accepts: `a comma-separated list of ${TOOLSET_NAMES.join(", ")} (empty or "all" = all)`,
  },
  {
    name: "keepalive-interval",
    type: "string",
    env: "SSH_MCP_KEEPALIVE_INTERVAL",
    display: "15",
    meaning: "SSH keepalive interval, seconds (0 = off)",
    accepts: seconds(0, 3600),
  },
  {
    name: "keepalive-count",
    type: "string",
    env: "SSH_MCP_KEEPALIVE_COUNT",
    display: "3",
    meaning: "unanswered keepalives before a connection is lost",
    accepts: "an integer from 1 to 100",
  },
  {
    name: "max-sessions-per-principal",
    type: "string",
    env: "SSH_MCP_MAX_SESSIONS_PER_PRINCIPAL",
    display: "64",
    meaning: "live sessions one principal may hold",
    accepts: "an integer from 1 to 100000",
  },
  {
    name: "max-sessions",
    type: "string",
    env: "SSH_MCP_MAX_SESSIONS",
    display: "1024",
    meaning: "live sessions in the whole server",
    accepts: "an integer from 1 to 100000",
  },
  {
    name: "confirm",
    type: "string",
    env: "SSH_MCP_CONFIRM",
    display: "none",
    meaning: `ask a human first (elicitation): comma list of ${CONFIRM_KINDS.join(",")}`,
    accepts: `a comma-separated list of ${CONFIRM_KINDS.join(", ")} (empty or "none" = never ask)`,
  },
  {
    name: "policy",
    type: "string",
    env: "SSH_MCP_POLICY",
    display: "none",
    meaning: "per-host policy file (JSON; read-only, confirm, allowed commands per host)",
    accepts: "a path of a JSON policy file (see README: Approval and per-host policy)",
  },
  {
    name: "fanout",
    type: "string",
    env: "SSH_MCP_FANOUT",
    display: "8",
    meaning: "targets one run{targets} call works on at once",
    accepts: "an integer from 1 to 256",
  },
  {
    name: "transfer-dir",
    type: "string",
    env: "SSH_MCP_TRANSFER_DIR",
    display: "<data-dir>/transfer",
    meaning: "the only local directory upload reads from and download writes to",
    accepts: "a directory path",
  },
  { name: "help", type: "boolean", display: "", meaning: "print this help", accepts: "no value" },
  { name: "version", type: "boolean", display: "", meaning: "print the version", accepts: "no value" },
];

const BY_NAME: ReadonlyMap<string, FlagSpec> = new Map(FLAGS.map((f) => [f.name, f]));
const KNOWN_ENV: ReadonlySet<string> = new Set(FLAGS.flatMap((f) => f.env === undefined ? [] : [f.env]));

/**
 * Every environment variable the server reads: its own, plus HOME, XDG_DATA_HOME and SSH_AUTH_SOCK.
 * main.ts reads exactly these, and the permission flag `--allow-env` lists exactly these.
 */
export const ENV_VARS: readonly string[] = Object.freeze([
  ...KNOWN_ENV,
  "HOME",
  "XDG_DATA_HOME",
  "SSH_AUTH_SOCK",
]);
const VALID_FLAGS = FLAGS.map((f) => `-${f.name}`).join(", ");

function spec(name: string): FlagSpec {
  const found = BY_NAME.get(name);
  if (found === undefined) throw new TypeError(`Cannot find flag "${name}": not in the flag table`);
  return found;
}

/** Quotes a user value for a one-line message: JSON escapes newlines; long values are shortened. */
function show(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

function invalid(name: string, value: string | undefined, expected?: string): ConfigError {
  const f = spec(name);
  const what = value === undefined ? "Invalid value" : `Invalid value ${show(value)}`;
  return new ConfigError(
    `-${name}`,
    `${what} for -${name} (env ${f.env}): expected ${expected ?? f.accepts}`,
    {
      env: f.env,
    },
  );
}

// ---------------------------------------------------------------------------------------------------
// Argument normalisation: Go-style and GNU-style spellings → what node:util parseArgs understands.

function unknownFlag(token: string): ConfigError {
  return new ConfigError(token, `Unknown flag ${show(token)}: valid flags are ${VALID_FLAGS} (see --help)`);
}

/**
 * Rewrites `-flag` to `--flag`, binds every string flag to its value as `--flag=value` (so values
 * may start with a dash, as Go's flag package allows) and turns `--bool=false` into `--no-bool`.
 */
function normaliseArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const given = args[i]!;
    if (given === "--") {
      const rest = args[i + 1];
      if (rest !== undefined) throw unexpectedArgument(rest);
      break;
    }
    if (given === "-h") {
      out.push(given);
      continue;
    }
    if (!given.startsWith("-") || given === "-") throw unexpectedArgument(given);
    const token = /^-[A-Za-z]{2}/.test(given) ? `-${given}` : given;
    if (!token.startsWith("--")) throw unknownFlag(given);
    const eq = token.indexOf("=");
    const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const inline = eq === -1 ? undefined : token.slice(eq + 1);
    const flag = BY_NAME.get(name);
    if (flag === undefined) {
      const negated = name.startsWith("no-") ? BY_NAME.get(name.slice(3)) : undefined;
      if (negated?.type === "boolean" && negated.env !== undefined && inline === undefined) {
        out.push(token);
        continue;
      }
      throw unknownFlag(given);
    }
    if (flag.type === "boolean") {
      if (inline === undefined) {
        out.push(`--${name}`);
      } else {
        const value = parseBoolean(inline);
        if (value === undefined || flag.env === undefined) throw invalidBooleanFlag(flag, inline);
        out.push(value ? `--${name}` : `--no-${name}`);
      }
      continue;
    }
    if (inline !== undefined) {
      out.push(`--${name}=${inline}`);
    } else if (i + 1 < args.length) {
      out.push(`--${name}=${args[++i]}`);
    } else {
      throw new ConfigError(
        `-${name}`,
        `Missing value for -${name} (env ${flag.env}): expected ${flag.accepts}`,
        {
          env: flag.env,
        },
      );
    }
  }
  return out;
}

function invalidBooleanFlag(flag: FlagSpec, value: string): ConfigError {
  if (flag.env === undefined) {
    return new ConfigError(
      `-${flag.name}`,
      `Invalid value ${show(value)} for -${flag.name}: it takes no value`,
    );
  }
  return invalid(flag.name, value);
}

function unexpectedArgument(arg: string): ConfigError {
  return new ConfigError(
    arg,
    `Unexpected argument ${show(arg)}: ssh-mcp takes only flags, e.g. -mode stdio (see --help)`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Value parsers. Each returns the parsed value or throws the one-line ConfigError for its flag.

function parseBoolean(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "1" || t === "yes") return true;
  if (t === "false" || t === "0" || t === "no") return false;
  return undefined;
}

function parseInteger(
  name: string,
  text: string,
  range: { min: number; max: number; expected?: string },
): number {
  const t = text.trim();
  const n = /^\d{1,15}$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) throw invalid(name, text, range.expected);
  return n;
}

function parseEnum<T extends string>(name: string, text: string, allowed: readonly T[]): T {
  const t = text.trim().toLowerCase();
  const found = allowed.find((a) => a === t);
  if (found === undefined) throw invalid(name, text);
  return found;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Normalises a host name or IP (IPv6 with or without brackets) to the `URL.hostname` form, or returns
 * `undefined` when it is not one: ports, paths, spaces and non-canonical IPv4 (`127.1`, `8000`) are
 * refused because they are almost always a mistake in a bind address or an allowlist.
 */
function hostnameOf(text: string): string | undefined {
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
function isHostname(name: string): boolean {
  return IPV4.test(name) || /^\[[0-9a-f:.]+\]$/.test(name) ||
    /^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_.])?$/.test(name);
}

function parseList(name: string, text: string, item: (entry: string) => string | undefined): string[] {
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

function parseToolsets(text: string): string[] {
  const entries = text.split(",").map((e) => e.trim().toLowerCase()).filter((e) => e !== "");
  if (entries.length === 0 || (entries.length === 1 && entries[0] === "all")) return [...TOOLSET_NAMES];
  for (const entry of entries) {
    if (!(TOOLSET_NAMES as readonly string[]).includes(entry)) throw invalid("toolsets", entry);
  }
  return TOOLSET_NAMES.filter((t) => entries.includes(t));
}

function parseConfirm(text: string): ConfirmKind[] {
  const entries = text.split(",").map((e) => e.trim().toLowerCase()).filter((e) => e !== "");
  if (entries.length === 0 || (entries.length === 1 && entries[0] === "none")) return [];
  for (const entry of entries) {
    if (!(CONFIRM_KINDS as readonly string[]).includes(entry)) throw invalid("confirm", entry);
  }
  return CONFIRM_KINDS.filter((k) => entries.includes(k));
}

function parsePolicyPath(text: string): string {
  if (text.trim() === "" || text.includes("\0")) throw invalid("policy", text);
  return text;
}

const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function parseSessionHeader(text: string): string {
  const t = text.trim();
  if (!HEADER_TOKEN.test(t) || RESERVED_HEADERS.includes(t.toLowerCase())) {
    throw invalid("session-header", text);
  }
  return t;
}

function parseAuthToken(text: string): string {
  // Never echo the value: it is a secret even when it is a bad one.
  if (text.length < 32) {
    throw invalid("auth-token", undefined, `${spec("auth-token").accepts}; got ${text.length} characters`);
  }
  if (!/^[\x21-\x7e]+$/.test(text)) throw invalid("auth-token", undefined);
  return text;
}

function parseDir(name: "data-dir" | "transfer-dir", text: string): string {
  if (text.trim() === "" || text.includes("\0")) throw invalid(name, text);
  return text;
}

function defaultDataDir(env: Record<string, string | undefined>, home: string | undefined): string {
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

// ---------------------------------------------------------------------------------------------------
// Public API.

/**
 * Whether `host` (a bind address or a `URL.hostname`) is loopback: 127.0.0.0/8, ::1 (also as
 * IPv4-mapped 127/8) or `localhost`.
 *
 * @example
 * ```ts
 * isLoopbackHost("127.0.0.2"); // true
 * isLoopbackHost("0.0.0.0"); // false
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const name = hostnameOf(host);
  if (name === undefined) return false;
  return name === "localhost" || /^127\./.test(name) && IPV4.test(name) || name === "[::1]" ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(name);
}

/** Whether the server must have an auth token: HTTP mode bound to a non-loopback address (§8). */
export function requiresAuthToken(config: Pick<Config, "mode" | "host">): boolean {
  return config.mode === "http" && !isLoopbackHost(config.host);
}

/**
 * Reads the configuration from command-line `args` and the environment `env` (flags > env >
 * defaults). Pure: `main.ts` passes the process arguments and an object copy of the environment.
 *
 * Empty environment variables count as unset. Returns help or version requests instead of a config.
 *
 * @throws {ConfigError} on an unknown flag or any invalid value; the message is one line naming the
 * flag, its environment variable and the accepted values.
 *
 * @example
 * ```ts
 * const result = parseConfig(["-mode", "stdio"], { HOME: "/home/me" });
 * if (result.kind === "config") result.config.mode; // "stdio"
 * ```
 */
export function parseConfig(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: ParseConfigOptions = {},
): ConfigResult {
  const parsed = parseNormalised(normaliseArgs(args));
  if (parsed.help === true) return Object.freeze({ kind: "help", text: helpText() });
  if (parsed.version === true) return Object.freeze({ kind: "version", version: VERSION });

  /** The raw text of a setting: flag, else non-empty env var, else undefined (= default). */
  const raw = (name: string): string | undefined => {
    const value = parsed[name];
    if (typeof value === "string") return value;
    if (typeof value === "boolean") return String(value);
    const fromEnv = env[spec(name).env ?? ""];
    return fromEnv === undefined || fromEnv.trim() === "" ? undefined : fromEnv;
  };
  const bool = (name: string): boolean => {
    const text = raw(name);
    if (text === undefined) return false;
    const value = parseBoolean(text);
    if (value === undefined) throw invalid(name, text);
    return value;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const text = raw(name);
    return text === undefined ? fallback : parseInteger(name, text, { min, max });
  };

  const mode = raw("mode") === undefined
    ? "http"
    : parseEnum("mode", raw("mode")!, ["stdio", "http"] as const);
  const port = int("port", 8000, 1, 65_535);
  const hostText = raw("host");
  const hostname = hostText === undefined ? "127.0.0.1" : hostnameOf(hostText);
  if (hostname === undefined) throw invalid("host", hostText);
  const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  const debug = bool("debug");
  const global = bool("global");
  const dataDirText = raw("data-dir");
  const dataDir = dataDirText === undefined
    ? defaultDataDir(env, options.home ?? env.HOME)
    : parseDir("data-dir", dataDirText);
  const tokenText = raw("auth-token");
  const authToken = tokenText === undefined ? undefined : parseAuthToken(tokenText);

  const originsText = raw("allowed-origins");
  const allowedOrigins = originsText === undefined
    ? [...LOOPBACK_NAMES]
    : parseList("allowed-origins", originsText, originHostname);
  const hostsText = raw("allowed-hosts");
  const allowedHosts = hostsText === undefined
    ? [...LOOPBACK_NAMES, hostname].filter((h, i, all) =>
      h !== "0.0.0.0" && h !== "[::]" && all.indexOf(h) === i
    )
    : parseList("allowed-hosts", hostsText, hostnameOf);

  const hostKeysText = raw("host-keys");
  const hostKeys = hostKeysText === undefined
    ? "accept-new"
    : parseEnum("host-keys", hostKeysText, HOST_KEY_POLICIES);
  const sessionTimeoutSeconds = int("session-timeout", 300, 1, DAY);
  const maxCommandTimeoutSeconds = int("max-command-timeout", 3600, 1, DAY);
  // An explicit default above the explicit maximum is a contradiction; an implicit one just follows it.
  const commandTimeoutSeconds = raw("command-timeout") === undefined
    ? Math.min(120, maxCommandTimeoutSeconds)
    : parseInteger("command-timeout", raw("command-timeout")!, {
      min: 1,
      max: maxCommandTimeoutSeconds,
      expected: `${seconds(1, maxCommandTimeoutSeconds)} (the -max-command-timeout)`,
    });
  const runWaitSeconds = int("run-wait", 25, 0, 50);
  const maxOutputBytes = int("max-output", 51_200, 1024, 64 * MIB);
  const headerText = raw("session-header");
  const sessionHeader = headerText === undefined ? "X-Session-Key" : parseSessionHeader(headerText);
  const readOnly = bool("read-only");
  const toolsetsText = raw("toolsets");
  const toolsets = toolsetsText === undefined ? [...TOOLSET_NAMES] : parseToolsets(toolsetsText);
  const keepaliveIntervalSeconds = int("keepalive-interval", 15, 0, 3600);
  const keepaliveCountMax = int("keepalive-count", 3, 1, 100);
  const maxSessions = int("max-sessions", 1024, 1, 100_000);
  const maxSessionsPerPrincipal = raw("max-sessions-per-principal") === undefined
    ? Math.min(64, maxSessions)
    : parseInteger("max-sessions-per-principal", raw("max-sessions-per-principal")!, {
      min: 1,
      max: maxSessions,
      expected: `an integer from 1 to ${maxSessions} (the -max-sessions)`,
    });

  const confirmText = raw("confirm");
  const confirm = confirmText === undefined ? [] : parseConfirm(confirmText);
  const policyText = raw("policy");
  const policyFile = policyText === undefined ? undefined : parsePolicyPath(policyText);
  const fanout = int("fanout", 8, 1, 256);
  const transferText = raw("transfer-dir");
  const transferDir = transferText === undefined
    ? `${dataDir.replace(/\/+$/, "")}/transfer`
    : parseDir("transfer-dir", transferText);

  if (mode === "http" && authToken === undefined && !isLoopbackHost(host)) {
    throw new ConfigError(
      "-auth-token",
      `Cannot serve HTTP on non-loopback -host ${show(host)} (env SSH_MCP_HOST) without a token: ` +
        `set -auth-token (env SSH_MCP_AUTH_TOKEN) to ${spec("auth-token").accepts}, or bind 127.0.0.1`,
      { env: "SSH_MCP_AUTH_TOKEN" },
    );
  }

  const config: Config = {
    mode,
    port,
    host,
    debug,
    global,
    dataDir,
    ...(authToken === undefined ? {} : { authToken }),
    allowedOrigins,
    allowedHosts,
    hostKeys,
    sessionTimeoutSeconds,
    commandTimeoutSeconds,
    maxCommandTimeoutSeconds,
    runWaitSeconds,
    maxOutputBytes,
    sessionHeader,
    readOnly,
    toolsets,
    keepaliveIntervalSeconds,
    keepaliveCountMax,
    maxSessionsPerPrincipal,
    maxSessions,
    confirm,
    ...(policyFile === undefined ? {} : { policyFile }),
    fanout,
    transferDir,
  };
  const warnings = Object.keys(env)
    .filter((k) => k.startsWith("SSH_MCP_") && !KNOWN_ENV.has(k))
    .sort()
    .map((k) => `Ignoring unknown environment variable ${k}: not one of ${[...KNOWN_ENV].join(", ")}`);
  return Object.freeze({ kind: "config", config: deepFreeze(config), warnings: Object.freeze(warnings) });
}

function parseNormalised(args: string[]): Record<string, string | boolean | undefined> {
  const options = Object.fromEntries(
    FLAGS.map((f) => [f.name, f.name === "help" ? { type: f.type, short: "h" } : { type: f.type }]),
  );
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false, allowNegative: true }).values;
  } catch (error) {
    // normaliseArgs already refused everything parseArgs refuses; this keeps any surprise one line.
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError("", `Cannot parse the command line: ${message} (see --help)`, { cause: error });
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * The `--help` text: a usage line and the §2 table (flag, env, default, meaning), aligned.
 *
 * @example
 * ```ts
 * console.log(helpText());
 * ```
 */
export function helpText(): string {
  const header = ["flag", "env", "default", "meaning"];
  const rows = FLAGS.map((f) => [
    f.name === "help" ? "-h, -help" : `-${f.name}`,
    f.env ?? "",
    f.display,
    f.meaning,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]!)).join("  ");
  return [
    `ssh-mcp ${VERSION} — MCP server giving AI agents SSH access`,
    "",
    "Usage: ssh-mcp [flags]",
    "",
    "Flags are written -flag value, --flag value, -flag=value or --flag=value; boolean flags take",
    "-flag, -flag=true or -flag=false. Precedence: flags > environment > defaults. Environment booleans",
    "accept true/false, 1/0, yes/no; empty variables count as unset.",
    "",
    line(header),
    ...rows.map(line),
    "",
    "The data dir is $XDG_DATA_HOME/ssh-mcp when XDG_DATA_HOME is set. Allowlists hold host names (IPv6 in",
    "brackets), ignore ports and replace the default when given; the default is localhost,127.0.0.1,[::1]",
    "(plus the -host name unless it is 0.0.0.0 or ::).",
    `HTTP on a non-loopback -host requires -auth-token (generate one with: openssl rand -hex 32).`,
    "",
  ].join("\n");
}

/**
 * A copy of `config` safe for logs: the auth token is replaced by `"[redacted]"`.
 *
 * @example
 * ```ts
 * log.debug("config {config}", { config: redact(config) });
 * ```
 */
export function redact(config: Config): Record<string, unknown> {
  const copy: Record<string, unknown> = {
    ...config,
    allowedOrigins: [...config.allowedOrigins],
    allowedHosts: [...config.allowedHosts],
    toolsets: [...config.toolsets],
    confirm: [...config.confirm],
  };
  if (config.authToken !== undefined) copy.authToken = "[redacted]";
  return copy;
}
