/**
 * Sessions: each owns a {@link ConnectionManager}. Pools are keyed by (principal, key) so that a key
 * presented under another principal finds nothing. Idle sessions are reaped; a session with a call in
 * flight never is.
 */
import { LimitError } from "../errors.ts";
import type { ConnectionManager } from "../ssh/manager.ts";

/** How long closing a session waits for cancelled calls to finish killing their remote work. */
const CANCEL_GRACE_MS = 5_000;

/** One session. */
export class Session implements AsyncDisposable {
  /** Owner. */
  readonly principal: string;
  /** Pool key within the principal. */
  readonly key: string;
  /** Public id used in logs and audit (never the raw key). */
  readonly id: string;
  #manager: ConnectionManager | undefined;
  #makeManager: () => ConnectionManager;
  #resources: AsyncDisposable[] = [];
  #inFlight = 0;
  #lastUsed: number;
  #clock: () => number;
  #abort = new AbortController();
  #idle: Array<() => void> = [];

  /** A session whose idle time is measured with `clock` (the pool's). */
  constructor(
    principal: string,
    key: string,
    id: string,
    makeManager: () => ConnectionManager,
    clock: () => number,
  ) {
    this.principal = principal;
    this.key = key;
    this.id = id;
    this.#makeManager = makeManager;
    this.#clock = clock;
    this.#lastUsed = clock();
  }

  /** The session's connections (created on first use: idle sessions stay small). */
  get connections(): ConnectionManager {
    this.#manager ??= this.#makeManager();
    return this.#manager;
  }

  /** Aborted when the session closes. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Calls currently running. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Time the last call started or ended (pool clock). */
  get lastUsed(): number {
    return this.#lastUsed;
  }

  /** Whether the session was closed. */
  get closed(): boolean {
    return this.#abort.signal.aborted;
  }

  /** Ties another resource's life to this session (e.g. a legacy MCP transport). */
  adopt(resource: AsyncDisposable): void {
    this.#resources.push(resource);
  }

  /**
   * Marks work started (a call, or a job a client waits on); returns the function that marks it ended.
   * The session is busy until every such function was called, and its idle time counts from the end
   * of the last one (read from the clock when it ends, not when it started).
   */
  enter(now: number = this.#clock()): () => void {
    this.#inFlight++;
    this.#lastUsed = Math.max(this.#lastUsed, now);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#inFlight--;
      this.#lastUsed = Math.max(this.#lastUsed, this.#clock());
      if (this.#inFlight === 0) { for (const resolve of this.#idle.splice(0)) resolve(); }
    };
  }

  /** Refreshes the idle clock without a call (e.g. a legacy GET stream or ping). */
  touch(now: number): void {
    this.#lastUsed = now;
  }

  /**
   * Closes the session: running calls are cancelled first (their handlers kill the remote process
   * groups over the still-open connections), then the connections are closed.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.closed) return;
    this.#abort.abort(new DOMException("The session was closed", "AbortError"));
    if (this.#inFlight > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#idle.push(resolve)),
        new Promise<void>((resolve) => timer = setTimeout(resolve, CANCEL_GRACE_MS)),
      ]);
      clearTimeout(timer);
      // Let the protocol layer write the cancelled results before transports close.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.#manager?.[Symbol.asyncDispose]();
    for (const resource of this.#resources.splice(0)) {
      await Promise.resolve(resource[Symbol.asyncDispose]()).catch(() => {});
    }
  }
}

/** Options of {@link SessionPool}. */
export interface PoolOptions {
  /** Creates a session's manager. */
  makeManager: () => ConnectionManager;
  /** Idle time after which a session without calls in flight is closed, ms. */
  idleTimeoutMs: number;
  /** Sessions one principal may hold. */
  maxPerPrincipal: number;
  /** Sessions in total. */
  maxTotal: number;
  /** Clock (tests use fake time). */
  now?: () => number;
  /** Called after a session is reaped (for logging). */
  onReap?: (session: Session) => void;
}

/** All sessions of the server. */
export class SessionPool implements AsyncDisposable {
  #options: PoolOptions;
  #sessions = new Map<string, Session>();
  #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #counter = 0;

  /** Creates an empty pool; call {@link startReaper} to reap on a timer. */
  constructor(options: PoolOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Number of sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The clock. */
  now(): number {
    return this.#now();
  }

  /** The session for (principal, key), if it exists. */
  find(principal: string, key: string): Session | undefined {
    return this.#sessions.get(mapKey(principal, key));
  }

  /** The session for (principal, key), created if needed; throws {@link LimitError} at the limits. */
  open(principal: string, key: string): Session {
    if (this.#closed) throw new LimitError("Cannot open a session: the server is shutting down", 503);
    const existing = this.find(principal, key);
    if (existing !== undefined) return existing;
    if (this.#sessions.size >= this.#options.maxTotal) {
      throw new LimitError(
        `Cannot open a session: the server holds its maximum of ${this.#options.maxTotal} sessions`,
        503,
      );
    }
    let own = 0;
    for (const s of this.#sessions.values()) if (s.principal === principal) own++;
    if (own >= this.#options.maxPerPrincipal) {
      throw new LimitError(
        `Cannot open a session: this client already holds ${own} sessions (limit ${this.#options.maxPerPrincipal}); end some (HTTP DELETE) or reuse a session key`,
        429,
      );
    }
    const id = `s${(++this.#counter).toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
    const session = new Session(principal, key, id, this.#options.makeManager, this.#now);
    this.#sessions.set(mapKey(principal, key), session);
    return session;
  }

  /** Closes one session. */
  async close(principal: string, key: string): Promise<boolean> {
    const k = mapKey(principal, key);
    const session = this.#sessions.get(k);
    if (session === undefined) return false;
    this.#sessions.delete(k);
    await session[Symbol.asyncDispose]();
    return true;
  }

  /** Closes sessions idle longer than the timeout with no call in flight; returns how many. */
  async reap(): Promise<number> {
    const cutoff = this.#now() - this.#options.idleTimeoutMs;
    const idle = [...this.#sessions.entries()].filter(([, s]) => s.inFlight === 0 && s.lastUsed <= cutoff);
    for (const [k, session] of idle) {
      this.#sessions.delete(k);
      await session[Symbol.asyncDispose]();
      this.#options.onReap?.(session);
    }
    return idle.length;
  }

  /** Reaps on a timer (a tenth of the timeout, at most every 30 s). */
  startReaper(): void {
    if (this.#timer !== undefined) return;
    const every = Math.max(100, Math.min(30_000, this.#options.idleTimeoutMs / 10));
    this.#timer = setInterval(() => void this.reap(), every);
    Deno.unrefTimer(this.#timer);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s[Symbol.asyncDispose]()));
  }
}

function mapKey(principal: string, key: string): string {
  return `${principal}\u0000${key}`;
}
