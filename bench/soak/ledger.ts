/**
 * The soak's record of what should be true on the hosts: for every file the workload writes, the
 * contents it may have (sha256 of the last confirmed content, plus the content of a write whose
 * outcome is not known yet); for every operation, its outcome and the time by which no process of
 * it may remain.
 *
 * Each file belongs to one worker, which runs one operation at a time, so a file has at most two
 * acceptable contents at any moment: the old and the new. Anything else is a partial or foreign write.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Hex sha256 of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Hex sha256 of a local file, streamed; undefined when it does not exist. */
export async function sha256OfFile(path: string): Promise<string | undefined> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const hash = createHash("sha256");
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** The sha256 the ledger uses for "the file does not exist". */
export const ABSENT = "absent";

interface Entry {
  /** Contents the file may have right now. */
  possible: Set<string>;
  /** Cache of the last hash computed by a check: (mtime, size, inode) → sha256. */
  seen?: { key: string; sha: string };
}

/** A broken expectation about a file. */
export interface FileViolation {
  /** File path. */
  path: string;
  /** What it holds. */
  actual: string;
  /** What it may hold. */
  expected: string[];
  /** When it was found. */
  at: number;
}

/**
 * Acceptable contents per file.
 *
 * @example
 * ```ts
 * const ledger = new FileLedger();
 * ledger.settle("/tmp/a", ABSENT);
 * ledger.begin("/tmp/a", "ab12…"); // a write is in flight: old or new
 * ledger.settle("/tmp/a", "ab12…"); // confirmed
 * ```
 */
export class FileLedger {
  #entries = new Map<string, Entry>();
  /** Checks made. */
  checks = 0;
  /** Violations found. */
  readonly violations: FileViolation[] = [];

  /** Paths tracked. */
  get paths(): string[] {
    return [...this.#entries.keys()];
  }

  /** The file holds exactly `sha` (after a confirmed write, or after reading it). */
  settle(path: string, sha: string): void {
    const entry = this.#entries.get(path);
    if (entry === undefined) this.#entries.set(path, { possible: new Set([sha]) });
    else entry.possible = new Set([sha]);
  }

  /** A write of `sha` starts: until settled, the file may hold the old or the new content. */
  begin(path: string, sha: string): void {
    const entry = this.#entries.get(path);
    if (entry === undefined) this.#entries.set(path, { possible: new Set([ABSENT, sha]) });
    else entry.possible.add(sha);
  }

  /** Contents the file may hold now. */
  possible(path: string): string[] {
    return [...(this.#entries.get(path)?.possible ?? [])];
  }

  /**
   * Hashes the file and compares it with what it may hold before and after the read (a write may
   * settle meanwhile). Records and returns a violation when it holds anything else.
   */
  async check(path: string): Promise<FileViolation | undefined> {
    const entry = this.#entries.get(path);
    if (entry === undefined) return undefined;
    const before = new Set(entry.possible);
    const actual = await this.#hash(path, entry);
    for (const sha of entry.possible) before.add(sha);
    this.checks++;
    if (before.has(actual)) return undefined;
    // A write may have begun and ended between the two snapshots: look once more.
    const again = await this.#hash(path, entry, true);
    if (entry.possible.has(again)) return undefined;
    const violation = { path, actual: again, expected: [...before, ...entry.possible], at: Date.now() };
    this.violations.push(violation);
    return violation;
  }

  /** The file's actual sha256 (ABSENT when missing), from the cache when unchanged. */
  async actual(path: string): Promise<string> {
    const entry = this.#entries.get(path) ?? { possible: new Set<string>() };
    return await this.#hash(path, entry, true);
  }

  async #hash(path: string, entry: Entry, fresh = false): Promise<string> {
    let key: string;
    try {
      const info = await Deno.stat(path);
      key = `${info.mtime?.getTime()}:${info.size}:${info.ino}`;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return ABSENT;
      throw error;
    }
    if (!fresh && entry.seen?.key === key) return entry.seen.sha;
    const sha = await sha256OfFile(path) ?? ABSENT;
    entry.seen = { key, sha };
    return sha;
  }
}

/** How an operation ended, as the soak classifies it. */
export type Outcome =
  /** Did what was asked. */
  | "ok"
  /** Failed while a fault that explains it was active (or recently ended). */
  | "failed_in_fault"
  /** Failed with no fault to explain it. */
  | "failed_unexplained"
  /** The link dropped mid-command: outcome unknown (not re-run). */
  | "connection_lost"
  /** Killed at its deadline (asked for). */
  | "timed_out"
  /** Cancelled by the client (asked for). */
  | "cancelled"
  /** The server or the client went away mid-call (asked for, or a server kill). */
  | "abandoned"
  /** Refused as expected (foreign alias, changed host key, full disk). */
  | "refused_ok"
  /** Failed with a known, reported bug. */
  | "known_bug"
  /** The server no longer knew the session (counted by the session_kept invariant when too early). */
  | "session_lost";

/** One operation of the workload. */
export interface OpRecord {
  /** Unique id, also the `SOAK_OP` value of its remote processes and its marker line. */
  id: string;
  /** Worker name. */
  worker: string;
  /** Kind of operation (`short_run`, `write`, …). */
  kind: string;
  /** Connection alias it used. */
  alias: string;
  /** Host of the bed it ran against (`plain`, `rekey`, `target`, …). */
  host: string;
  /** What it depends on, matched with the `affects` of faults (host names, `server`, `stdio:<worker>`). */
  tags: string[];
  started: number;
  ended?: number;
  outcome?: Outcome;
  /** Error text or a note. */
  detail?: string;
  /** `ssh-mcp/error-code` of an error result. */
  code?: string;
  /** Execution markers this op's command writes (0 for ops that run no marked command). */
  marks: "none" | "exactly_one" | "at_most_one" | "zero";
  /** Time after which no process carrying this op's id may exist (undefined: not checked). */
  goneBy?: number;
  /** Set once the leftover check passed or failed. */
  goneChecked?: boolean;
  /** The server process (epoch) was killed while this op ran. */
  serverKilledDuring?: boolean;
}

/**
 * Every operation the workload ran, in start order.
 *
 * @example
 * ```ts
 * const journal = new Journal("r1");
 * const op = journal.start({ worker: "w1", kind: "short_run", alias: "w1-plain", host: "plain", marks: "exactly_one" });
 * journal.end(op, "ok");
 * ```
 */
export class Journal {
  readonly ops: OpRecord[] = [];
  #run: string;
  #next = 0;

  /** `run` tags every op id, so markers of an earlier soak never match. */
  constructor(run: string) {
    this.#run = run;
  }

  /** Records an operation's start. */
  start(init: Omit<OpRecord, "id" | "started">): OpRecord {
    const op: OpRecord = {
      ...init,
      id: `soak-${this.#run}-${init.worker}-${++this.#next}`,
      started: Date.now(),
    };
    this.ops.push(op);
    return op;
  }

  /** Records its end. */
  end(op: OpRecord, outcome: Outcome, detail?: string): void {
    op.ended = Date.now();
    op.outcome = outcome;
    if (detail !== undefined) op.detail = detail.length > 800 ? `${detail.slice(0, 800)}…` : detail;
  }

  /** Ops still running. */
  running(): OpRecord[] {
    return this.ops.filter((op) => op.ended === undefined);
  }
}
