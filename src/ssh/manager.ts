/**
 * The SSH connections of one session, the one per-connection façade tools see (through the
 * {@link Connections} interface): aliases, jump chains (`via`), transparent reconnect with backoff, the
 * "most recently used" default target, and every per-connection cache (warm shells, the SFTP session).
 *
 * A command that was running when its link dropped is never re-run here or anywhere: only opening a
 * channel (which has not started anything) is retried after a reconnect.
 */
import { SshError, UnknownConnectionError } from "../errors.ts";
import { type AuthMethod, openConnection, type OpenOptions } from "./client.ts";
import type {
  ConnectionInfo,
  Connections,
  ConnectOutcome,
  ConnectRequest,
  ConnectSpec,
  ExecResult,
  RemoteProcess,
  RunRequest,
  SshConnection,
} from "./connection.ts";
import {
  type ConnectPlan,
  planConnect,
  SshConfigError,
  type SshConfigLocation,
} from "./config/connect_plan.ts";
import { configHostNames } from "./config/hosts.ts";
import { authMethods, type CredentialSources } from "./credentials.ts";
import type { HostKeyVerdict, PreferredHostKeyAlgorithms, VerifyHostKey } from "./host_keys/policy.ts";
import { collectAnswer } from "./jobs/exec_shell.ts";
import { type JobShell, JobStore } from "./jobs/store.ts";
import { Link } from "./link.ts";
import type { Sftp } from "./sftp/sftp.ts";

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

/**
 * One alias: what it connects to and how, and its current {@link Link} (the live connection with its
 * caches; replaced on reconnect). State that must outlive a reconnect (e.g. a job store) belongs here.
 */
class Managed {
  link: Link | undefined;
  reconnecting: Promise<Link> | undefined;
  lastUsed = Date.now();
  hostKey: HostKeyVerdict;
  nextAttemptAt = 0;
  failures = 0;
  /** The alias's jobs: they live on the host, so the store outlives every link. */
  jobs: JobStore | undefined;

  constructor(
    readonly alias: string,
    readonly spec: Readonly<ConnectSpec> & { port: number },
    readonly auth: readonly AuthMethod[],
    link: Link,
    hostKey: HostKeyVerdict,
  ) {
    this.link = link;
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
export class ConnectionManager implements Connections, AsyncDisposable {
  #options: ManagerOptions;
  #connections = new Map<string, Managed>();
  #mostRecent: string | undefined;
  #disposed = false;

  /** Creates an empty manager. */
  constructor(options: ManagerOptions) {
    this.#options = options;
  }

  /** Number of connections (live or waiting to reconnect). */
  get size(): number {
    return this.#connections.size;
  }

  /** The concrete `Host` names of ~/.ssh/config (none when it is absent or cannot be parsed). */
  configHosts(): string[] {
    try {
      return configHostNames(this.#options.sshConfig);
    } catch {
      return [];
    }
  }

  /**
   * Connects (or reuses a connection to the same target under the same alias). The host may be a
   * `Host` alias of ~/.ssh/config: HostName, User, Port, IdentityFile, IdentitiesOnly and ProxyJump
   * apply (explicit arguments win), and the connection is named after that Host unless `alias` is
   * given; each jump host is connected first under its own alias and verified like any other.
   * Secrets given for the target are never used for a jump host.
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
        (this.configHosts().includes(request.host)
          ? request.host
          : defaultAlias({ username: target.username, host: request.host, port: target.port })),
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
      const link = await this.#ensure(existing, signal);
      this.#touch(existing);
      return this.#outcome(existing, link.connection, true);
    }
    const auth = await authMethods(spec, this.#options.credentials);
    if (auth.length === 0) {
      throw new SshError(
        "auth_failed",
        `Cannot log in to ${spec.username}@${spec.host}: no password, key, agent or identity key is available`,
      );
    }
    let verdict: HostKeyVerdict | undefined;
    const link = new Link(await this.#open(full, auth, (v) => verdict = v, signal));
    const managed = new Managed(alias, Object.freeze(full), auth, link, verdict!);
    this.#connections.set(alias, managed);
    this.#watch(managed, link);
    this.#touch(managed);
    return this.#outcome(managed, link.connection, false);
  }

  /** The live connection for `alias` (default: most recently used), reconnecting if it dropped. */
  async get(alias?: string, signal?: AbortSignal): Promise<{ alias: string; connection: SshConnection }> {
    const { managed, link } = await this.#live(alias, signal);
    return { alias: managed.alias, connection: link.connection };
  }

  /** The alias `target` names (default: the most recently used), reconnecting it if it dropped. */
  async resolve(target: string | undefined, signal?: AbortSignal): Promise<string> {
    return (await this.#live(target, signal)).managed.alias;
  }

  /**
   * Runs a command on `target` (a warm shell, or an exec channel where one cannot run it); `sudo`
   * uses the sudo password given at connect. If the connection is found dead when the channel is
   * opened, it is reconnected once and the channel opened again: nothing had started yet.
   */
  async exec(target: string | undefined, request: RunRequest): Promise<ExecResult & { alias: string }> {
    const { sudo, ...rest } = request;
    return await this.#withReconnect(target, request.signal, async (managed, link) => ({
      ...(await link.shells.execute({
        ...rest,
        ...(sudo ? { sudo: { password: managed.spec.sudoPassword } } : {}),
      })),
      alias: managed.alias,
    }));
  }

  /**
   * The SFTP session of `target`, shared by every file operation on its connection (opened on first
   * use, reopened after it closed). A link found dead when the channel is opened is reconnected once.
   */
  async sftp(target: string | undefined, signal?: AbortSignal): Promise<{ alias: string; sftp: Sftp }> {
    return await this.#withReconnect(target, signal, async (managed, link) => ({
      alias: managed.alias,
      sftp: await link.sftp(),
    }));
  }

  /**
   * The job store of `target`. Job scripts run once on the link live when they start, never again
   * after a drop (a start must not run twice): a drop is an error the caller reports.
   */
  async jobs(target: string | undefined, signal?: AbortSignal): Promise<{ alias: string; jobs: JobStore }> {
    const { managed } = await this.#live(target, signal);
    managed.jobs ??= new JobStore(this.#jobShell(managed), {
      label: `"${managed.alias}"`,
      sudoPassword: () => managed.spec.sudoPassword,
    });
    return { alias: managed.alias, jobs: managed.jobs };
  }

  #jobShell(managed: Managed): JobShell {
    const live = async (signal?: AbortSignal) => (await this.#live(managed.alias, signal)).link;
    // A start that waits for the end runs once: a drop reports, never re-runs.
    return {
      // Opening the channel starts nothing yet: when the link dies under it (refused, or found dead),
      // the link is replaced and the channel opened once more.
      run: async (script, options) => {
        for (let attempt = 0;; attempt++) {
          const link = await live(options.signal);
          let process: RemoteProcess;
          try {
            process = await link.connection.exec(script.text, { signal: options.signal });
          } catch (error) {
            const retry = error instanceof SshError &&
              (error.code === "connection_lost" || error.code === "channel_failed");
            if (!retry || attempt > 0) throw error;
            await Promise.race([link.connection.closed, sleep(1000)]);
            if (link.connection.alive) throw error;
            continue;
          }
          return await collectAnswer(process, options);
        }
      },
      runFast: async (script, options) => {
        const result = await (await live(options.signal)).shells.execute({
          command: script,
          stdin: options.stdin,
          timeoutMs: options.timeoutMs,
          maxOutputBytes: options.maxAnswerBytes,
          signal: options.signal,
        });
        if (result.connection_lost) {
          throw new SshError(
            "connection_lost",
            `The connection to "${managed.alias}" dropped while a job started`,
          );
        }
        return new TextEncoder().encode(result.stdout);
      },
    };
  }

  async #live(target: string | undefined, signal?: AbortSignal): Promise<{ managed: Managed; link: Link }> {
    this.#checkOpen();
    const managed = this.#lookup(target);
    const link = await this.#ensure(managed, signal);
    this.#touch(managed);
    return { managed, link };
  }

  /** Runs `open` on a live link; when it fails with `connection_lost`, reconnects once and retries. */
  async #withReconnect<T>(
    target: string | undefined,
    signal: AbortSignal | undefined,
    open: (managed: Managed, link: Link) => Promise<T>,
  ): Promise<T> {
    const { managed, link } = await this.#live(target, signal);
    try {
      return await open(managed, link);
    } catch (error) {
      if (!(error instanceof SshError) || error.code !== "connection_lost") throw error;
      const again = await this.#live(managed.alias, signal);
      return await open(again.managed, again.link);
    }
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
      await managed.link?.close();
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
      await managed?.link?.close();
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
      state: m.link?.connection.alive ? "connected" : m.reconnecting ? "reconnecting" : "disconnected",
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

  #watch(managed: Managed, link: Link): void {
    link.connection.closed.then(() => {
      if (managed.link === link) managed.link = undefined;
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

  /** Returns a live link, reconnecting with backoff when the old one dropped. */
  #ensure(managed: Managed, signal?: AbortSignal): Promise<Link> {
    if (managed.link?.connection.alive) return Promise.resolve(managed.link);
    managed.reconnecting ??= this.#reconnect(managed, signal).finally(() => managed.reconnecting = undefined);
    return managed.reconnecting;
  }

  async #reconnect(managed: Managed, signal?: AbortSignal): Promise<Link> {
    const deadline = Date.now() + this.#options.connectTimeoutMs;
    let lastError: unknown;
    while (true) {
      const wait = Math.max(0, managed.nextAttemptAt - Date.now());
      if (Date.now() + wait > deadline) break;
      if (wait > 0) await sleep(wait, signal);
      try {
        const link = new Link(
          await this.#open(managed.spec, managed.auth, (v) => managed.hostKey = v, signal),
        );
        managed.link = link;
        managed.failures = 0;
        managed.nextAttemptAt = 0;
        this.#watch(managed, link);
        return link;
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
