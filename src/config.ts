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
import {
  type Config,
  ConfigError,
  type ConfigResult,
  HOST_KEY_POLICIES,
  type ParseConfigOptions,
} from "./config/types.ts";
import {
  DAY,
  FLAGS,
  helpText,
  invalid,
  KNOWN_ENV,
  LOOPBACK_NAMES,
  MIB,
  normaliseArgs,
  parseBoolean,
  seconds,
  show,
  spec,
  TOOLSET_NAMES,
} from "./config/flags.ts";
import {
  defaultDataDir,
  hostnameOf,
  IPV4,
  originHostname,
  parseAuthToken,
  parseConfirm,
  parseDir,
  parseEnum,
  parseInteger,
  parseList,
  parsePolicyPath,
  parseSessionHeader,
  parseToolsets,
} from "./config/values.ts";

export * from "./config/types.ts";
export { ENV_VARS, helpText, TOOLSET_NAMES } from "./config/flags.ts";
export { originHostname } from "./config/values.ts";

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
