/**
 * The soak's invariants, checked while the workload runs and once more at the end: files are old or
 * new (never partial), no command ran twice, no process of a finished or cancelled call remains, no
 * statement of a cancelled `db_query` keeps running, no temp file of an atomic write is left behind,
 * the server never crashes and `/healthz` answers throughout (except while the soak itself has the
 * server down).
 *
 * @module
 */
import { run } from "../../tests/_helpers/sshd.ts";
import type { Bed } from "./bed.ts";
import type { FileLedger, Journal, OpRecord } from "./ledger.ts";
import { cpuMsOf, listProcs, processesByEnv, startedAt } from "./procs.ts";
import { CRASH_PATTERN, type SoakServer } from "./server_process.ts";

/** How much later than its deadline a process may still go away before it counts as left behind. */
const LINGER_LIMIT_MS = 20_000;

/** How long /healthz may take to answer on a loaded machine. */
const HEALTH_TIMEOUT_MS = 10_000;

/** Names of the invariants, in report order. */
export const INVARIANTS = {
  files_old_or_new: "every file holds its old or its new content, never a partial one (sha256 vs ledger)",
  no_double_run: "no command ran twice (append-only execution markers)",
  truthful_status:
    "a success really happened exactly once with the right output; a refusal ran nothing; a wrong success never",
  no_leftover_processes: "no remote process of a finished, timed-out or cancelled call remains",
  no_leftover_statements: "no statement of a finished or cancelled db_query keeps running",
  no_temp_files: "no temp file of an atomic write survives (except writes cut by SIGKILL of the server)",
  no_cross_session: "a session sees no alias, output or command of another session",
  session_kept: "a session is not reaped while in use nor within -session-timeout after its last call ended",
  host_key_change_refused: "a changed host key is refused before authentication, with both fingerprints",
  no_crash: "no unhandled rejection, crash or unexpected exit of any server process",
  healthz_answers: "/healthz answers throughout (except while the soak has the server down)",
  resources_flat: "server RSS, FD count and SSH channel count stay flat after warm-up",
  jobs_truthful: "every job ends exited/killed/timed_out with its full output, or lost with a reason",
} as const;

/** An invariant name. */
export type InvariantName = keyof typeof INVARIANTS;

/** Tally of one invariant. */
export interface InvariantTally {
  checks: number;
  violations: number;
  examples: string[];
  /** Set when the machine could not check it. */
  unchecked?: string;
}

/** Counts checks and violations per invariant. */
export class Invariants {
  readonly tallies = new Map<InvariantName, InvariantTally>(
    Object.keys(INVARIANTS).map((
      name,
    ) => [name as InvariantName, { checks: 0, violations: 0, examples: [] }]),
  );
  #onViolation: (name: InvariantName, detail: string) => void;

  constructor(onViolation: (name: InvariantName, detail: string) => void = () => {}) {
    this.#onViolation = onViolation;
  }

  /** Records one check; `detail` says what broke when `ok` is false. */
  check(name: InvariantName, ok: boolean, detail = ""): void {
    const tally = this.tallies.get(name)!;
    tally.checks++;
    if (ok) return;
    tally.violations++;
    if (tally.examples.length < 6) tally.examples.push(detail.slice(0, 600));
    this.#onViolation(name, detail);
  }

  /** Marks an invariant the machine could not check. */
  unchecked(name: InvariantName, why: string): void {
    this.tallies.get(name)!.unchecked = why;
  }

  /** Whether any invariant broke. */
  get broken(): boolean {
    return [...this.tallies.values()].some((t) => t.violations > 0);
  }
}

/** Dependencies of {@link Monitor}. */
export interface MonitorOptions {
  bed: Bed;
  server: SoakServer;
  journal: Journal;
  ledger: FileLedger;
  invariants: Invariants;
  /** Workers whose marker files exist. */
  workers: () => string[];
}

/** Lines of the marker files, per op id: how often each event was recorded. */
async function readMarks(bed: Bed, workers: string[]): Promise<Map<string, Map<string, number>>> {
  const result = new Map<string, Map<string, number>>();
  for (const worker of workers) {
    const text = await Deno.readTextFile(bed.markFile(worker)).catch(() => "");
    for (const line of text.split("\n")) {
      const [event, id] = line.split(" ");
      if (!event || !id) continue;
      const counts = result.get(id) ?? new Map<string, number>();
      counts.set(event, (counts.get(event) ?? 0) + 1);
      result.set(id, counts);
    }
  }
  return result;
}

/** Continuous checks on a timer, and the final pass. */
export class Monitor {
  #o: MonitorOptions;
  #timers: ReturnType<typeof setInterval>[] = [];
  #busy = false;
  #doubleSeen = new Set<string>();
  /** /healthz probes and failures. */
  readonly health = {
    probes: 0,
    failures: 0,
    purposeful: 0,
    outside: 0,
    soakStalled: 0,
    longestGapMs: 0,
    slowestMs: 0,
  };
  #lags: Array<[number, number]> = [];
  #lingering = new Map<string, { op: OpRecord; procs: string[]; statement?: boolean; pids?: number[] }>();
  /** Processes and statements that went away, but later than their op's deadline. */
  readonly slowKills: string[] = [];
  #probing = false;
  #probes: Promise<void> = Promise.resolve();
  #lastHealthy = Date.now();

  constructor(options: MonitorOptions) {
    this.#o = options;
  }

  /** Starts the timers: checks every 3 s, and /healthz probed one after another, a second apart. */
  start(): void {
    this.#timers.push(setInterval(() => void this.#tick(), 3000));
    // The soak's own event loop: a probe that times out while the soak itself stalled proves nothing.
    let expected = Date.now() + 250;
    this.#timers.push(setInterval(() => {
      const now = Date.now();
      this.#lags.push([now, Math.max(0, now - expected)]);
      if (this.#lags.length > 2000) this.#lags.splice(0, 1000);
      expected = now + 250;
    }, 250));
    this.#probing = true;
    this.#probes = (async () => {
      while (this.#probing) {
        await this.#probeHealth();
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
  }

  /** Stops the timers. */
  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#probing = false;
    await this.#probes;
  }

  async #probeHealth(): Promise<void> {
    const { server, invariants } = this.#o;
    const pid = server.pid;
    const cpuBefore = pid === undefined ? undefined : cpuMsOf(pid);
    const from = Date.now();
    const ok = await server.healthy(HEALTH_TIMEOUT_MS);
    const to = Date.now();
    this.health.probes++;
    if (ok) {
      this.#lastHealthy = to;
      this.health.slowestMs = Math.max(this.health.slowestMs, to - from);
      invariants.check("healthz_answers", true);
      return;
    }
    // A probe that overlapped the soak's own kill-and-restart of the server proves nothing.
    const down = server.downWindows.find((w) => w.from <= to && (w.to === undefined || w.to >= from));
    if (down !== undefined) {
      if (down.outside) this.health.outside++;
      else this.health.purposeful++;
      return;
    }
    const stalled = Math.max(
      0,
      ...this.#lags.filter(([t]) => t >= from && t <= to + 500).map(([, lag]) => lag),
    );
    if (stalled > 2000) {
      this.health.soakStalled++;
      return;
    }
    this.health.failures++;
    this.health.longestGapMs = Math.max(this.health.longestGapMs, to - this.#lastHealthy);
    const cpuAfter = pid === undefined ? undefined : cpuMsOf(pid);
    const cpu = cpuBefore === undefined || cpuAfter === undefined
      ? "the process is gone"
      : `the server used ${cpuAfter - cpuBefore} ms of CPU meanwhile`;
    const load = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ").slice(0, 3).join(" ");
    invariants.check(
      "healthz_answers",
      false,
      `/healthz did not answer within ${HEALTH_TIMEOUT_MS / 1000} s at ${
        new Date(from).toISOString()
      } (${cpu}; load ${load})`,
    );
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.checkMarks(false);
      await this.checkLeftovers(Date.now());
      await this.#checkLingering(Date.now(), false);
      await this.checkFiles();
    } catch (error) {
      console.error(`monitor: ${(error as Error).message}`);
    } finally {
      this.#busy = false;
    }
  }

  /** Every ledger file against what it may hold. */
  async checkFiles(): Promise<void> {
    const { ledger, invariants } = this.#o;
    for (const path of ledger.paths) {
      const violation = await ledger.check(path);
      invariants.check(
        "files_old_or_new",
        violation === undefined,
        violation &&
          `${path}: sha256 ${violation.actual.slice(0, 16)}… is none of ${
            violation.expected.map((s) => s.slice(0, 16)).join(", ")
          }`,
      );
    }
  }

  /**
   * Markers: no op ran twice; at the end, each op's count matches what its outcome claims
   * (`final`), e.g. a success ran exactly once and a refusal never.
   */
  async checkMarks(final: boolean): Promise<void> {
    const { bed, journal, invariants } = this.#o;
    const marks = await readMarks(bed, this.#o.workers());
    for (const [id, counts] of marks) {
      for (const [event, n] of counts) {
        const key = `${id} ${event}`;
        if (this.#doubleSeen.has(key)) continue;
        if (n > 1) {
          this.#doubleSeen.add(key);
          invariants.check("no_double_run", false, `${id}: "${event}" recorded ${n} times`);
        }
      }
    }
    if (!final) return;
    for (const op of journal.ops) {
      if (op.marks === "none" || op.ended === undefined) continue;
      const n = marks.get(op.id)?.get("start") ?? 0;
      invariants.check("no_double_run", n <= 1, `${op.id} (${op.kind}): started ${n} times`);
      const expected = op.marks === "exactly_one" ? n === 1 : op.marks === "zero" ? n === 0 : n <= 1;
      invariants.check(
        "truthful_status",
        expected,
        `${op.id} (${op.kind}, ${op.outcome}${
          op.detail ? `: ${op.detail.slice(0, 200)}` : ""
        }): ran ${n} time(s), ` +
          `expected ${op.marks.replaceAll("_", " ")}`,
      );
    }
  }

  /** Processes of ops past their `goneBy` (and, for db ops, statements) must be gone. */
  async checkLeftovers(now: number): Promise<void> {
    const { journal, invariants } = this.#o;
    const due = journal.ops.filter((op) => op.goneBy !== undefined && !op.goneChecked && op.goneBy <= now);
    if (due.length === 0) return;
    const byOp = processesByEnv("SOAK_OP");
    const statements = due.some((op) => op.kind.startsWith("db_"))
      ? await this.#activeStatements()
      : undefined;
    for (const op of due) {
      op.goneChecked = true;
      if (op.kind.startsWith("db_")) {
        if (statements === undefined) continue;
        const left = statements.filter((q) => q.includes(op.id));
        if (left.length === 0) invariants.check("no_leftover_statements", true);
        else {this.#lingering.set(op.id, {
            op,
            procs: [`statement ${left[0]!.slice(0, 100)}`],
            statement: true,
          });}
        continue;
      }
      if (op.kind === "capture") {
        // Only a tcpdump that started before this capture ended is its own (the next one may run).
        const left = tcpdumpsOf(this.#o.bed).filter((pid) =>
          (startedAt(pid) ?? Infinity) <= (op.ended ?? now) - 1000
        );
        if (left.length === 0) invariants.check("no_leftover_processes", true);
        else this.#lingering.set(op.id, { op, procs: left.map((pid) => `${pid} tcpdump`), pids: left });
        continue;
      }
      const procs = byOp.get(op.id) ?? [];
      if (procs.length === 0) invariants.check("no_leftover_processes", true);
      else this.#lingering.set(op.id, { op, procs: procs.map((p) => `${p.pid} ${p.comm}`) });
    }
  }

  /**
   * Processes still there at their op's deadline: gone within {@link LINGER_LIMIT_MS} more they were
   * only slow (a note); later, or still there at the end, they were left behind (a violation).
   */
  async #checkLingering(now: number, final: boolean): Promise<void> {
    if (this.#lingering.size === 0) return;
    const byOp = processesByEnv("SOAK_OP");
    const statements = [...this.#lingering.values()].some((l) => l.statement)
      ? await this.#activeStatements()
      : undefined;
    for (const [id, { op, procs, statement, pids }] of this.#lingering) {
      const invariant = statement ? "no_leftover_statements" : "no_leftover_processes";
      if (statement && statements === undefined) continue; // PostgreSQL did not answer: look again later
      const alive = statement
        ? statements!.some((q) => q.includes(id))
        : pids
        ? pids.some((pid) => startedAt(pid) !== undefined)
        : (byOp.get(id) ?? []).length > 0;
      const late = now - op.goneBy!;
      const ended = op.ended ?? op.goneBy!;
      const what = `${op.id} (${op.kind}, ${op.outcome}${op.detail ? `: ${op.detail.slice(0, 120)}` : ""}): ${
        procs.join(", ")
      }`;
      if (!alive) {
        this.#lingering.delete(id);
        const after = `${((now - ended) / 1000).toFixed(0)} s after the call ended`;
        if (late <= LINGER_LIMIT_MS) {
          this.slowKills.push(`${what} gone ${after}`);
          this.#o.invariants.check(invariant, true);
        } else this.#o.invariants.check(invariant, false, `${what} still there, gone only ${after}`);
      } else if (late > LINGER_LIMIT_MS || final) {
        this.#lingering.delete(id);
        this.#o.invariants.check(
          invariant,
          false,
          `${what} still there ${((now - ended) / 1000).toFixed(0)} s after the call ended`,
        );
      }
    }
  }

  async #activeStatements(): Promise<string[] | undefined> {
    const name = this.#o.bed.postgres;
    if (name === undefined) return undefined;
    const r = await run("docker", [
      "exec",
      name,
      "psql",
      "-U",
      "postgres",
      "-tAc",
      "SELECT query FROM pg_stat_activity WHERE state <> 'idle' AND pid <> pg_backend_pid()",
    ]);
    return r.success ? r.stdout.split("\n").filter(Boolean) : undefined;
  }

  /** Temp files of atomic writes left in the workers' directories. */
  async checkTempFiles(dirs: string[]): Promise<void> {
    const { journal, invariants } = this.#o;
    for (const dir of dirs) {
      const temps: string[] = [];
      try {
        for await (const entry of Deno.readDir(dir)) {
          if (/^\..*\.mcp-[0-9a-f]{24}\.tmp$/.test(entry.name)) temps.push(entry.name);
        }
      } catch {
        continue; // never created
      }
      // A write whose server was SIGKILLed mid-call cannot clean up after itself.
      const excused = journal.ops.filter((op) =>
        op.serverKilledDuring && ["write", "edit", "disk_write", "sync_big"].includes(op.kind) &&
        op.tags.some((t) =>
          t.startsWith("dir:") && t.slice(4) === dir
        )
      ).length;
      // A failure that said "could not be removed: delete it once the host is reachable" told the truth.
      const reported = temps.filter((t) => journal.ops.some((op) => (op.detail ?? "").includes(t)));
      invariants.check(
        "no_temp_files",
        temps.length - reported.length <= excused,
        `${dir}: ${temps.length} temp file(s) left (${reported.length} reported by the failed call, ${excused} excused by server kills): ${
          temps.slice(0, 3).join(", ")
        }`,
      );
    }
  }

  /**
   * Crash lines and unexpected exits of every server process. A clean shutdown on a signal from
   * outside the soak is not a crash: it goes to `notes`.
   */
  checkCrashes(found: {
    stdioExits: Array<{ client: string; generation: number; tail: string }>;
    stdioCrashLines: string[];
    notes: string[];
  }): void {
    const { server, invariants } = this.#o;
    const { notes, stdioExits: stdio } = found;
    const lines = server.stderr().split("\n").filter((l) => CRASH_PATTERN.test(l));
    invariants.check("no_crash", lines.length === 0, `HTTP server stderr: ${lines.slice(0, 3).join(" | ")}`);
    invariants.check(
      "no_crash",
      found.stdioCrashLines.length === 0,
      `stdio server stderr: ${found.stdioCrashLines.slice(0, 3).join(" | ")}`,
    );
    for (const exit of server.unexpectedExits) {
      if (exit.outside) {
        notes.push(
          `the HTTP server (epoch ${exit.epoch}) was stopped by a SIGINT/SIGTERM from another process on this machine at ` +
            `${new Date(exit.at).toISOString()} (clean exit 0); the soak restarted it`,
        );
        continue;
      }
      invariants.check(
        "no_crash",
        false,
        `HTTP server epoch ${exit.epoch} exited on its own (code ${exit.code}, signal ${exit.signal}): ${
          exit.tail.slice(-400)
        }`,
      );
    }
    for (const exit of stdio) {
      // The stdio transport does not expose the exit status: a crash shows in stderr.
      const crashed = CRASH_PATTERN.test(exit.tail) || / ERROR /.test(exit.tail);
      if (!crashed) {
        notes.push(
          `${exit.client}'s stdio server (generation ${exit.generation}) ended without a crash message; its client started a new one`,
        );
        continue;
      }
      invariants.check(
        "no_crash",
        false,
        `${exit.client} stdio server (generation ${exit.generation}): ${exit.tail.slice(-400)}`,
      );
    }
  }

  /** The final pass: waits (bounded) for the last process deadlines, then checks everything. */
  async finish(dirs: string[]): Promise<void> {
    const pending = this.#o.journal.ops.filter((op) => op.goneBy !== undefined && !op.goneChecked);
    const latest = Math.max(0, ...pending.map((op) => op.goneBy!));
    const wait = Math.min(40_000, latest - Date.now());
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await this.checkLeftovers(Number.POSITIVE_INFINITY);
    const lingerUntil = Date.now() + LINGER_LIMIT_MS;
    while (this.#lingering.size > 0 && Date.now() < lingerUntil) {
      await this.#checkLingering(Date.now(), false);
      await new Promise((r) => setTimeout(r, 1000));
    }
    await this.#checkLingering(Date.now(), true);
    await this.checkMarks(true);
    await this.checkFiles();
    await this.checkTempFiles(dirs);
  }
}

/**
 * tcpdump processes of the plain host's sessions: their chain of parents reaches its sshd (sudo
 * drops SSH_CONNECTION from the environment; an orphan is adopted by the daemon, a subreaper).
 */
function tcpdumpsOf(bed: Bed): number[] {
  const daemon = bed.plain.pid;
  if (daemon === undefined) return [];
  const procs = listProcs();
  const parent = new Map(procs.map((p) => [p.pid, p.ppid]));
  return procs.filter((p) => {
    if (p.comm !== "tcpdump") return false;
    for (let pid: number | undefined = p.ppid, hops = 0; pid !== undefined && pid > 1 && hops < 64; hops++) {
      if (pid === daemon) return true;
      pid = parent.get(pid);
    }
    return false;
  }).map((p) => p.pid);
}

/** The op's end for reports: "kind outcome". */
export function describeOp(op: OpRecord): string {
  return `${op.id} ${op.kind} ${op.outcome ?? "running"}`;
}
