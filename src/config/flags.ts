/**
 * The flag table (SPEC §2): the single source for parsing, environment lookup, error messages and
 * `--help`, and the normalisation of Go-style and GNU-style spellings for node:util parseArgs.
 *
 * @module
 */
import { ConfigError, CONFIRM_KINDS } from "./types.ts";
import { VERSION } from "../version.ts";
// ---------------------------------------------------------------------------------------------------
// The flag table: the single source for parsing, environment lookup, error messages and --help.

export interface FlagSpec {
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
export const MIB = 1024 * 1024;
export const DAY = 86_400;
export const LOOPBACK_NAMES: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];
export const RESERVED_HEADERS: readonly string[] = [
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
export const seconds = (min: number, max: number) => `an integer number of seconds from ${min} to ${max}`;

export const FLAGS: readonly FlagSpec[] = [
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
export const KNOWN_ENV: ReadonlySet<string> = new Set(
  FLAGS.flatMap((f) => f.env === undefined ? [] : [f.env]),
);

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

export function spec(name: string): FlagSpec {
  const found = BY_NAME.get(name);
  if (found === undefined) throw new TypeError(`Cannot find flag "${name}": not in the flag table`);
  return found;
}

/** Quotes a user value for a one-line message: JSON escapes newlines; long values are shortened. */
export function show(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

export function invalid(name: string, value: string | undefined, expected?: string): ConfigError {
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
export function normaliseArgs(args: readonly string[]): string[] {
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

/** `true`/`false` and their spellings (1/0, yes/no); undefined for anything else. */
export function parseBoolean(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "1" || t === "yes") return true;
  if (t === "false" || t === "0" || t === "no") return false;
  return undefined;
}
