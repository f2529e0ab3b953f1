/**
 * The configuration's types and its error: what `parseConfig` (src/config.ts) produces.
 *
 * @module
 */
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
