/**
 * Captures kept in server memory for the analysis tools, owned by the session that made them: an id
 * looked up by another session finds nothing (SPEC §4, zero leakage). Bounded in count per session,
 * in bytes per session and overall, and in age; the least recently used captures are evicted first.
 * A session's captures are dropped when it closes (or is reaped); otherwise they age out or are evicted.
 */
import type { Caller } from "../define.ts";

/** Where and how a capture was taken. */
export interface CaptureMeta {
  /** Connection the capture ran on. */
  alias: string;
  /** Interface captured on. */
  interface: string;
  /** BPF filter used. */
  filter: string;
  /** Container whose network namespace was captured, if any. */
  container: string | null;
  /** ISO time the capture started. */
  capturedAt: string;
}

/** A stored capture. */
export interface StoredCapture {
  /** `cap_<16 hex>`. */
  id: string;
  /** The pcap file. */
  bytes: Uint8Array;
  /** Where it came from. */
  meta: CaptureMeta;
  /** ms since the epoch of the last put or get. */
  lastUsed: number;
}

/** Limits of a {@link CaptureStore}. */
export interface CaptureStoreLimits {
  /** Captures kept per session (default 8). */
  perSession?: number;
  /** Bytes kept per session (default 256 MiB). */
  sessionBytes?: number;
  /** Bytes kept over all sessions (default 512 MiB). */
  totalBytes?: number;
  /** A capture unused for this long is dropped (default 1 h). */
  ttlMs?: number;
}

/** Shape of a capture id. */
export const CAPTURE_ID = /^cap_[0-9a-f]{16}$/;

/**
 * A fresh capture id: 64 random bits, so ids cannot be guessed across sessions either.
 *
 * @example
 * ```ts
 * newCaptureId(); // "cap_9f1c2a4b7e0d3f56"
 * ```
 */
export function newCaptureId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `cap_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Session-owned capture storage. */
export class CaptureStore {
  #owners = new Map<string, Map<string, StoredCapture>>();
  #perSession: number;
  #sessionBytes: number;
  #totalBytes: number;
  #ttlMs: number;
  #now: () => number;

  /** Creates a store; `now` is injectable for tests. */
  constructor(limits: CaptureStoreLimits = {}, now: () => number = Date.now) {
    this.#perSession = limits.perSession ?? 8;
    this.#sessionBytes = limits.sessionBytes ?? 256 * 1024 * 1024;
    this.#totalBytes = limits.totalBytes ?? 512 * 1024 * 1024;
    this.#ttlMs = limits.ttlMs ?? 60 * 60 * 1000;
    this.#now = now;
  }

  /**
   * Stores a capture for `caller`'s session under a new id and returns the id. When `sessionEnded`
   * aborts (the session closed or was reaped) the session's captures are dropped at once.
   */
  put(caller: Caller, bytes: Uint8Array, meta: CaptureMeta, sessionEnded?: AbortSignal): string {
    if (bytes.length > this.#sessionBytes || bytes.length > this.#totalBytes) {
      throw new RangeError(
        `Cannot keep a capture of ${bytes.length} bytes: the store holds at most ${
          Math.min(this.#sessionBytes, this.#totalBytes)
        } per session`,
      );
    }
    const now = this.#now();
    this.#sweep(now);
    const key = ownerKey(caller);
    let mine = this.#owners.get(key);
    if (mine === undefined) {
      mine = new Map();
      this.#owners.set(key, mine);
      const owned = mine;
      sessionEnded?.addEventListener("abort", () => {
        if (this.#owners.get(key) === owned) this.#owners.delete(key);
      }, { once: true });
    }
    const id = newCaptureId();
    mine.set(id, { id, bytes, meta, lastUsed: now });
    this.#evict(mine, key, id);
    return id;
  }

  /** The capture `id` of `caller`'s session, or undefined (unknown, expired or another session's). */
  get(caller: Caller, id: string): StoredCapture | undefined {
    const now = this.#now();
    this.#sweep(now);
    const found = this.#owners.get(ownerKey(caller))?.get(id);
    if (found !== undefined) found.lastUsed = now;
    return found;
  }

  /** Number of captures and bytes held (for tests and diagnostics). */
  get size(): { captures: number; bytes: number } {
    let captures = 0;
    let bytes = 0;
    for (const mine of this.#owners.values()) {
      for (const c of mine.values()) {
        captures++;
        bytes += c.bytes.length;
      }
    }
    return { captures, bytes };
  }

  #sweep(now: number): void {
    for (const [key, mine] of this.#owners) {
      for (const [id, c] of mine) if (now - c.lastUsed > this.#ttlMs) mine.delete(id);
      if (mine.size === 0) this.#owners.delete(key);
    }
  }

  #evict(mine: Map<string, StoredCapture>, key: string, keep: string): void {
    const bytesOf = (m: Map<string, StoredCapture>) =>
      [...m.values()].reduce((n, c) => n + c.bytes.length, 0);
    while (mine.size > this.#perSession || bytesOf(mine) > this.#sessionBytes) {
      const oldest = [...mine.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0]!;
      mine.delete(oldest.id);
    }
    while (this.size.bytes > this.#totalBytes) {
      let victim: { key: string; capture: StoredCapture } | undefined;
      for (const [k, m] of this.#owners) {
        for (const c of m.values()) {
          if (c.id === keep) continue;
          if (victim === undefined || c.lastUsed < victim.capture.lastUsed) victim = { key: k, capture: c };
        }
      }
      if (victim === undefined) break;
      this.#owners.get(victim.key)?.delete(victim.capture.id);
    }
    if (mine.size === 0) this.#owners.delete(key);
  }
}

// Principal and session together: a session id is unique anyway, the principal makes it explicit.
function ownerKey(caller: Caller): string {
  return `${caller.principal}\u0000${caller.sessionId}`;
}

/** The server's capture store (one per process, partitioned by session). */
export const CAPTURES: CaptureStore = new CaptureStore();
