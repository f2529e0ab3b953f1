/**
 * The SSH connections of one session: aliases, jump chains (`via`), transparent reconnect with
 * backoff, and the "most recently used" default target.
 *
 * A command that was running when its link dropped is never re-run here or anywhere: only opening a
 * channel (which has not started anything) is retried after a reconnect.
 */
import { SshError, UnknownConnectionError } from "../errors.ts";
import { type AuthMethod, openConnection, type OpenOptions } from "./client.ts";
import type { SshConnection } from "./connection.ts";
import {
  type ConnectPlan,
  planConnect,
  SshConfigError,
  type SshConfigLocation,
} from "./config/connect_plan.ts";
import { authMethods, type CredentialSources } from "./credentials.ts";
import type { ExecRequest, ExecResult } from "./exec/channel.ts";
import type { HostKeyVerdict, PreferredHostKeyAlgorithms, VerifyHostKey } from "./host_keys/verifier.ts";
import { ShellPool } from "./exec/warm_shell.ts";

/** What a caller asks `connect` for: like {@link ConnectSpec}, but the user may come from ~/.ssh/config. */
export type ConnectRequest = Omit<ConnectSpec, "username" | "identityFiles" | "identitiesOnly"> & {
  username?: string;
};

/** Arguments of one connection. Secrets stay in memory only for reconnects. */
export interface ConnectSpec {
  /** Host name or address (as seen from the jump host with `via`). */
  host: string;
  /** TCP port, default 22. */
  port?: number;
  /** Remote user. */
  username: string;
  /** Password (password and keyboard-interactive auth; also sudo when no sudo password). */
  password?: string;
  /** Private key path inside ~/.ssh or the data dir. */
  privateKeyPath?: string;
  /** Passphrase of the key. */
  passphrase?: string;
  /** Name for the connection; default `user@host[:port]`. */
  alias?: string;
  /** Alias of an existing connection to tunnel through. */
  via?: string;
  /** Password for `sudo -S`. */
  sudoPassword?: string;
  /** IdentityFile entries (from ~/.ssh/config). */
  identityFiles?: readonly string[];
  /** IdentitiesOnly (from ~/.ssh/config). */
  identitiesOnly?: boolean;
}

/** What a connect reports. */
export interface ConnectOutcome {
  /** The alias to pass as `target`. */
  alias: string;
  /** `user@host:port`. */
  target: string;
  /** Jump alias, if any. */
  via?: string;
  /** True when an existing live connection was reused. */
  reused: boolean;
  /** Host-key verdict of this hop. */
  hostKey: HostKeyVerdict;
  /** Server identification. */
  banner: string;
  /** Jump hosts connected (or reused) first, from ~/.ssh/config ProxyJump. */
  jumps?: string[];
  /** What ~/.ssh/config resolution ignored or degraded. */
  warnings?: string[];
}

/** A connection as listed by the `connections` tool. */
export interface ConnectionInfo {
  /** Alias. */
  alias: string;
  /** `user@host:port`. */
  target: string;
  /** Jump alias. */
  via?: string;
  /** "connected", "reconnecting" or "disconnected" (reconnects on next use). */
  state: "connected" | "reconnecting" | "disconnected";
  /** Seconds since last use. */
  idle_seconds: number;
  /** Host key fingerprint. */
  host_key_fingerprint: string;
  /** Whether this is the default target. */
  default: boolean;
}

/** Fixed dependencies of a manager (built once by main.ts). */
export interface ManagerOptions {
  /** Host-key policy. */
  verifyHostKey: VerifyHostKey;
  /** Host-key algorithms to prefer per host (known key types first). */
  preferredHostKeyAlgorithms?: PreferredHostKeyAlgorithms;
  /** Where keys come from. */
  credentials: CredentialSources;
  /** Connect deadline, ms. */
  connectTimeoutMs: number;
  /** Keepalive interval, ms. */
  keepaliveIntervalMs: number;
  /** Keepalive count. */
  keepaliveCountMax: number;
  /** ~/.ssh/config to apply to `connect` (absent: none). */
  sshConfig?: SshConfigLocation;
  /** Opens a connection (the ssh2 client by default). */
  open?: (options: OpenOptions) => Promise<SshConnection>;
}

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 30_000;

class Managed {
  connection: SshConnection | undefined;
  reconnecting: Promise<SshConnection> | undefined;
  lastUsed = Date.now();
  hostKey: HostKeyVerdict;
  nextAttemptAt = 0;
  failures = 0;

  constructor(
    readonly alias: string,
    readonly spec: Readonly<ConnectSpec> & { port: number },
    readonly auth: readonly AuthMethod[],
    connection: SshConnection,
    hostKey: HostKeyVerdict,
  ) {
    this.connection = connection;
    this.hostKey = hostKey;
  }

  get target(): string {
    return `${this.spec.username}@${this.spec.host}:${this.spec.port}`;
  }
}

/** Default alias: `user@host`, plus `:port` when not 22. */
export function defaultAlias(spec: Pick<ConnectSpec, "username" | "host" | "port">): string {
  const port = spec.port ?? 22;
  return `${spec.username}@${spec.host}${port === 22 ? "" : `:${port}`}`;
}

/** The connections of one session. */
export class ConnectionManager implements AsyncDisposable {
  #options: ManagerOptions;
  #connections = new Map<string, Managed>();
  #mostRecent: string | undefined;
  #disposed = false;
  // Warm shells per live connection (shell_session.ts); they end with their connection.
  #shells = new WeakMap<SshConnection, ShellPool>();

  /** Creates an empty manager. */
  constructor(options: ManagerOptions) {
    this.#options = options;
  }

  /** Number of connections (live or waiting to reconnect). */
  get size(): number {
    return this.#connections.size;
  }

  /**
   * Connects (or reuses a connection to the same target under the same alias). The host may be a
   * `Host` alias of ~/.ssh/config: HostName, User, Port, IdentityFile, IdentitiesOnly and ProxyJump
   * apply (explicit arguments win); each jump host is connected first under its own alias and
   * verified like any other. Secrets given for the target are never used for a jump host.
   */
  async connect(request: ConnectRequest, signal?: AbortSignal): Promise<ConnectOutcome> {
    this.#checkOpen();
    let plan: ConnectPlan;
    try {
      plan = planConnect(request, this.#options.sshConfig);
    } catch (error) {
      if (error instanceof SshConfigError) {
        throw new SshError("config_invalid", error.message, { cause: error });
      }
      throw error;
    }
    const jumps: string[] = [];
    for (const hop of plan.hops) {
      const outcome = await this.#connectOne({
        host: hop.host,
        port: hop.port,
        username: hop.username,
        alias: hop.alias,
        via: hop.via,
        identityFiles: hop.identityFiles,
        identitiesOnly: hop.identitiesOnly,
      }, signal);
      jumps.push(outcome.alias);
    }
    const { target } = plan;
    const outcome = await this.#connectOne({
      ...request,
      host: target.host,
      port: target.port,
      username: target.username,
      via: target.via,
      identityFiles: target.identityFiles,
      identitiesOnly: target.identitiesOnly,
      alias: request.alias ??
        defaultAlias({ username: target.username, host: request.host, port: target.port }),
    }, signal);
    return { ...outcome, jumps, warnings: plan.warnings };
  }

  async #connectOne(spec: ConnectSpec & { port: number }, signal?: AbortSignal): Promise<ConnectOutcome> {
    const port = spec.port;
    const full = spec;
    const alias = spec.alias ?? defaultAlias(full);
    const existing = this.#connections.get(alias);
    if (existing !== undefined) {
      const same = existing.spec.host === spec.host && existing.spec.port === port &&
        existing.spec.username === spec.username && existing.spec.via === spec.via;
      if (!same) {
        throw new SshError(
          "alias_conflict",
          `Cannot connect alias "${alias}" to ${spec.username}@${spec.host}:${port}: it already points to ${existing.target}`,
        );
      }
      const connection = await this.#ensure(existing, signal);
      this.#touch(existing);
      return this.#outcome(existing, connection, true);
    }
    const auth = await authMethods(spec, this.#options.credentials);
    if (auth.length === 0) {
      throw new SshError(
        "auth_failed",
        `Cannot log in to ${spec.username}@${spec.host}: no password, key, agent or identity key is available`,
      );
    }
    let verdict: HostKeyVerdict | undefined;
    const connection = await this.#open(full, auth, (v) => verdict = v, signal);
    const managed = new Managed(alias, Object.freeze(full), auth, connection, verdict!);
    this.#connections.set(alias, managed);
    this.#watch(managed, connection);
    this.#touch(managed);
    return this.#outcome(managed, connection, false);
  }

  /** The live connection for `alias` (default: most recently used), reconnecting if it dropped. */
  async get(alias?: string, signal?: AbortSignal): Promise<{ alias: string; connection: SshConnection }> {
    this.#checkOpen();
    const managed = this.#lookup(alias);
    const connection = await this.#ensure(managed, signal);
    this.#touch(managed);
    return { alias: managed.alias, connection };
  }

  /** The sudo password given at connect, if any. */
  sudoPasswordOf(alias: string): string | undefined {
    return this.#connections.get(alias)?.spec.sudoPassword;
  }

  /**
   * Runs a command on `alias`. If the connection is found dead when the channel is opened, it is
   * reconnected once and the channel opened again: nothing had started yet.
   */
  async exec(alias: string | undefined, request: ExecRequest): Promise<ExecResult & { alias: string }> {
    let { alias: name, connection } = await this.get(alias, request.signal);
    try {
      return { ...(await this.#shellsOf(connection).execute(request)), alias: name };
    } catch (error) {
      if (!(error instanceof SshError) || error.code !== "connection_lost") throw error;
      ({ alias: name, connection } = await this.get(name, request.signal));
      return { ...(await this.#shellsOf(connection).execute(request)), alias: name };
    }
  }

  /** The warm-shell pool of a connection (commands fall back to exec channels where shells cannot run). */
  #shellsOf(connection: SshConnection): ShellPool {
    let pool = this.#shells.get(connection);
    if (pool === undefined) {
      pool = new ShellPool(connection);
      this.#shells.set(connection, pool);
    }
    return pool;
  }

  /** Closes one connection (and everything tunnelled through it). */
  async disconnect(alias: string): Promise<string[]> {
    this.#lookup(alias);
    const closed: string[] = [];
    for (const dependent of [...this.#connections.values()].filter((m) => m.spec.via === alias)) {
      closed.push(...await this.disconnect(dependent.alias));
    }
    const managed = this.#connections.get(alias);
    if (managed !== undefined) {
      this.#connections.delete(alias);
      if (this.#mostRecent === alias) this.#mostRecent = undefined;
      await managed.connection?.[Symbol.asyncDispose]();
      closed.push(alias);
    }
    return closed;
  }

  /** Closes every connection. */
  async disconnectAll(): Promise<string[]> {
    const aliases = [...this.#connections.keys()];
    // Dependents first, so tunnels close before their carriers.
    const ordered = aliases.sort((a, b) => this.#depth(b) - this.#depth(a));
    for (const alias of ordered) {
      const managed = this.#connections.get(alias);
      this.#connections.delete(alias);
      await managed?.connection?.[Symbol.asyncDispose]();
    }
    this.#mostRecent = undefined;
    return ordered;
  }

  /** The session's connections. */
  list(): ConnectionInfo[] {
    const now = Date.now();
    return [...this.#connections.values()].map((m) => ({
      alias: m.alias,
      target: m.target,
      ...(m.spec.via === undefined ? {} : { via: m.spec.via }),
      state: m.connection?.alive ? "connected" : m.reconnecting ? "reconnecting" : "disconnected",
      idle_seconds: Math.round((now - m.lastUsed) / 1000),
      host_key_fingerprint: m.hostKey.fingerprint,
      default: m.alias === this.#mostRecent,
    }));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    await this.disconnectAll();
    this.#disposed = true;
  }

  #checkOpen(): void {
    if (this.#disposed) {
      throw new SshError("connection_lost", "Cannot use connections: the session was closed");
    }
  }

  #depth(alias: string): number {
    let depth = 0;
    for (let m = this.#connections.get(alias); m?.spec.via !== undefined && depth < 32; depth++) {
      m = this.#connections.get(m.spec.via);
    }
    return depth;
  }

  #lookup(alias: string | undefined): Managed {
    const name = alias ?? this.#mostRecent ??
      (this.#connections.size === 1 ? [...this.#connections.keys()][0] : undefined);
    const managed = name === undefined ? undefined : this.#connections.get(name);
    if (managed === undefined) throw new UnknownConnectionError(alias, [...this.#connections.keys()]);
    return managed;
  }

  #touch(managed: Managed): void {
    managed.lastUsed = Date.now();
    this.#mostRecent = managed.alias;
  }

  #outcome(managed: Managed, connection: SshConnection, reused: boolean): ConnectOutcome {
    return {
      alias: managed.alias,
      target: managed.target,
      ...(managed.spec.via === undefined ? {} : { via: managed.spec.via }),
      reused,
      hostKey: managed.hostKey,
      banner: connection.serverBanner,
    };
  }

  #watch(managed: Managed, connection: SshConnection): void {
    connection.closed.then(() => {
      if (managed.connection === connection) managed.connection = undefined;
    });
  }

  async #open(
    spec: ConnectSpec & { port: number },
    auth: readonly AuthMethod[],
    onVerdict: (verdict: HostKeyVerdict) => void,
    signal?: AbortSignal,
  ): Promise<SshConnection> {
    let sock;
    if (spec.via !== undefined) {
      const carrier = await this.get(spec.via, signal);
      sock = await carrier.connection.forward(spec.host, spec.port);
    }
    const open = this.#options.open ?? openConnection;
    const preferred = await this.#options.preferredHostKeyAlgorithms?.(spec.host, spec.port) ?? [];
    return await open({
      preferredHostKeyAlgorithms: preferred,
      host: spec.host,
      port: spec.port,
      username: spec.username,
      auth,
      sock,
      signal,
      connectTimeoutMs: this.#options.connectTimeoutMs,
      keepaliveIntervalMs: this.#options.keepaliveIntervalMs,
      keepaliveCountMax: this.#options.keepaliveCountMax,
      checkHostKey: async (blob) => {
        onVerdict(await this.#options.verifyHostKey(spec.host, spec.port, blob));
        return true;
      },
    });
  }

  /** Returns a live connection, reconnecting with backoff when the old one dropped. */
  #ensure(managed: Managed, signal?: AbortSignal): Promise<SshConnection> {
    if (managed.connection?.alive) return Promise.resolve(managed.connection);
    managed.reconnecting ??= this.#reconnect(managed, signal).finally(() => managed.reconnecting = undefined);
    return managed.reconnecting;
  }

  async #reconnect(managed: Managed, signal?: AbortSignal): Promise<SshConnection> {
    const deadline = Date.now() + this.#options.connectTimeoutMs;
    let lastError: unknown;
    while (true) {
      const wait = Math.max(0, managed.nextAttemptAt - Date.now());
      if (Date.now() + wait > deadline) break;
      if (wait > 0) await sleep(wait, signal);
      try {
        const connection = await this.#open(managed.spec, managed.auth, (v) => managed.hostKey = v, signal);
        managed.connection = connection;
        managed.failures = 0;
        managed.nextAttemptAt = 0;
        this.#watch(managed, connection);
        return connection;
      } catch (error) {
        lastError = error;
        if (error instanceof SshError && error.code.startsWith("host_key")) throw error;
        if (error instanceof SshError && error.code === "auth_failed") throw error;
        if (signal?.aborted) throw error;
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** managed.failures++);
        managed.nextAttemptAt = Date.now() + delay * (0.8 + Math.random() * 0.4);
      }
    }
    throw new SshError(
      "connection_lost",
      `Cannot reconnect "${managed.alias}" (${managed.target}): ${
        (lastError as Error | undefined)?.message ?? "gave up"
      }`,
      { cause: lastError },
    );
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
