/**
 * One worker of the workload: an MCP client with its own session, its own SSH connections (aliases
 * prefixed with its name) and its own files, running weighted operations one at a time until told to
 * stop. The worker classifies every failure (explained by a fault, a known bug, or unexplained),
 * reconnects after its session was lost, and checks the session-lifetime invariant on the way.
 *
 * @module
 */
import type { Bed } from "./bed.ts";
import type { Reply, SoakClient } from "./clients.ts";
import type { FaultLog } from "./faults.ts";
import type { FileLedger, Journal, OpRecord, Outcome } from "./ledger.ts";
import type { Invariants } from "./invariants.ts";

/** A connection the worker keeps. */
export interface Login {
  /** Alias (`<worker>-<host>`). */
  alias: string;
  /** Host of the bed (`plain`, `slow`, `rekey`, `bastion`, `target`). */
  host: string;
  /** Arguments of `connect` (without alias). */
  args: Record<string, unknown>;
}

/** Shared state of all workers. */
export interface WorkContext {
  bed: Bed;
  journal: Journal;
  ledger: FileLedger;
  faults: FaultLog;
  invariants: Invariants;
  /** -session-timeout of the servers, ms. */
  sessionTimeoutMs: number;
  /** Every worker's aliases (for the cross-session probe). */
  aliases: () => string[];
  /** Aborted when the workload stops. */
  stop: AbortSignal;
  log: (line: string) => void;
}

/** An operation: what it does with a worker. */
export type Operation = (w: Worker) => Promise<void>;

/** Error codes that mean nothing was started on the host. */
export const PRESTART_CODES = new Set([
  "unknown_connection",
  "host_key_changed",
  "host_key_unknown",
  "host_key_revoked",
  "auth_failed",
  "connect_failed",
  "connect_timeout",
]);

/** How the known ssh2 re-key bug shows (a link that breaks while the server re-keys mid-transfer). */
const REKEY_SYMPTOM =
  /No response from server|connection dropped|connection (was )?(lost|closed|reset)|ECONNRESET|handshake|\bkex\b/i;

/** Transport errors that mean the server no longer knows the session. */
const SESSION_GONE = /\b404\b|Session not found/i;

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** A worker; see the module doc. */
export class Worker {
  readonly name: string;
  readonly client: SoakClient;
  readonly logins: Login[];
  readonly ctx: WorkContext;
  /** Files the worker owns: path → current content (when known). */
  readonly files = new Map<string, Uint8Array>();
  #weights: Array<[Operation, number]>;
  #needConnect = true;
  /** Session epoch in which every login was connected. */
  #connectedEpoch = "";
  #lastServedAt = 0;
  #lastServedEpoch = "";
  #lastCallMs = 0;
  #lostSession = false;
  #lastLong: { end: number; ms: number } | undefined;
  #dir: string | undefined;

  constructor(
    name: string,
    client: SoakClient,
    logins: Login[],
    weights: Array<[Operation, number]>,
    ctx: WorkContext,
  ) {
    this.name = name;
    this.client = client;
    this.logins = logins;
    this.#weights = weights;
    this.ctx = ctx;
  }

  /** The worker's marker file. */
  get marks(): string {
    return this.ctx.bed.markFile(this.name);
  }

  /** The worker's directory (mcptest-owned). */
  async dir(): Promise<string> {
    this.#dir ??= await this.ctx.bed.workDir(this.name);
    return this.#dir;
  }

  /** Whether the server offers the jobs tools (SPEC §10). */
  get hasJobs(): boolean {
    return this.client.tools.includes("job_output");
  }

  /** The login for a host. */
  login(host: string): Login {
    const login = this.logins.find((l) => l.host === host);
    if (!login) throw new Error(`${this.name} has no login for ${host}`);
    return login;
  }

  /** Tags an op on `hosts` depends on. */
  tags(...hosts: string[]): string[] {
    const transport = this.client.kind.startsWith("http") ? "server" : `stdio:${this.name}`;
    const tags = [...hosts, transport];
    if (hosts.includes("slow")) tags.push("plain");
    return tags;
  }

  /** Runs operations until the workload stops. */
  async loop(): Promise<void> {
    const total = this.#weights.reduce((s, [, w]) => s + w, 0);
    while (!this.ctx.stop.aborted) {
      // A new server process or client means a new, empty session.
      if (this.client.sessionEpoch !== this.#connectedEpoch) this.#needConnect = true;
      if (this.#needConnect && !await this.connectAll()) {
        await sleep(1500, this.ctx.stop);
        continue;
      }
      let pick = Math.random() * total;
      const op = this.#weights.find(([, w]) => (pick -= w) < 0)?.[0] ?? this.#weights[0]![0];
      try {
        await op(this);
      } catch (error) {
        this.ctx.log(`${this.name}: operation threw: ${(error as Error).stack ?? error}`);
      }
      await sleep(300 + Math.random() * 600, this.ctx.stop);
    }
  }

  /** Connects again when the session was lost or is a new one (a restarted server); false when that failed. */
  async ensureConnected(): Promise<boolean> {
    if (this.client.sessionEpoch !== this.#connectedEpoch) this.#needConnect = true;
    return this.#needConnect ? await this.connectAll() : true;
  }

  /** Connects every login in order (jump hosts first); false when one failed. */
  async connectAll(): Promise<boolean> {
    for (const login of this.logins) {
      const op = this.begin("connect", [login.host], login.alias, "none");
      const reply = await this.call(op, "connect", { ...login.args, alias: login.alias });
      if (!reply.ok) {
        this.fail(op, reply);
        return false;
      }
      this.succeed(op);
    }
    this.#needConnect = false;
    this.#connectedEpoch = this.client.sessionEpoch;
    return true;
  }

  /** Starts recording an op. */
  begin(kind: string, hosts: string[], alias: string, marks: OpRecord["marks"]): OpRecord {
    this.#lostSession = false;
    return this.ctx.journal.start({
      worker: this.name,
      kind,
      alias,
      host: hosts[0]!,
      tags: this.tags(...hosts),
      marks,
    });
  }

  /**
   * Calls a tool for an op. Notices a lost session (HTTP 404, or an alias the session no longer
   * knows) and checks that it was not lost too early.
   */
  async call(
    op: OpRecord,
    tool: string,
    args: Record<string, unknown>,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<Reply> {
    const epoch = this.client.sessionEpoch;
    const started = Date.now();
    const reply = await this.client.call(tool, args, options);
    const now = Date.now();
    if (reply.code !== undefined) op.code = reply.code;
    // An alias of another session is unknown by design (the cross-session probe), not a lost session.
    const own = this.logins.map((l) => l.alias);
    const targets = [args.target, args.source_node, args.dest_node].filter((a) => typeof a === "string");
    const gone = (reply.transportError !== undefined && SESSION_GONE.test(reply.transportError)) ||
      (reply.code === "unknown_connection" && targets.every((a) => own.includes(a as string)));
    if (gone && tool !== "connect") {
      this.#needConnect = true;
      this.#lostSession = true;
      // A server (or client) restart at any time since the last answer explains a lost session.
      if (
        epoch === this.#connectedEpoch && epoch === this.#lastServedEpoch &&
        this.client.sessionEpoch === epoch &&
        this.#lastServedAt > 0
      ) {
        const idle = started - this.#lastServedAt;
        const T = this.ctx.sessionTimeoutMs;
        const long = this.#lastLong === undefined
          ? ""
          : `; its last call longer than that (${(this.#lastLong.ms / 1000).toFixed(1)} s) ended ${
            ((started - this.#lastLong.end) / 1000).toFixed(1)
          } s before`;
        this.ctx.invariants.check(
          "session_kept",
          idle >= T - 1500,
          `${this.name} (${this.client.kind}): the session was gone ${
            (idle / 1000).toFixed(1)
          } s after its ` +
            `previous call ended (that call took ${
              (this.#lastCallMs / 1000).toFixed(1)
            } s; -session-timeout ` +
            `${T / 1000} s${long}): ${(reply.transportError ?? reply.text).slice(0, 160)}`,
        );
      }
      return reply;
    }
    if (reply.transportError === undefined) {
      // The session survived its idle time after a call longer than the session timeout.
      if (epoch === this.#lastServedEpoch && this.#lastCallMs > this.ctx.sessionTimeoutMs) {
        this.ctx.invariants.check("session_kept", true);
      }
      this.#lastServedAt = now;
      this.#lastServedEpoch = this.client.sessionEpoch;
      this.#lastCallMs = now - started;
      if (this.#lastCallMs > this.ctx.sessionTimeoutMs) this.#lastLong = { end: now, ms: this.#lastCallMs };
    }
    return reply;
  }

  /** Ends an op as a success. */
  succeed(op: OpRecord, outcome: Outcome = "ok", detail?: string): void {
    this.ctx.journal.end(op, outcome, detail);
  }

  /**
   * Ends an op as a failure and says why: a fault that explains it, the known re-key bug, or
   * nothing. A refusal the fault calls for (changed host key, full disk) is `refused_ok`.
   */
  fail(op: OpRecord, reply: Reply, detail?: string): Outcome {
    const now = Date.now();
    const text = detail ?? reply.transportError ?? reply.text;
    const lostTransport = reply.transportError !== undefined || reply.code === "unknown_connection";
    const fault = this.ctx.faults.explains(op.tags, op.started, now, lostTransport);
    const lost = this.#lostSession;
    this.#lostSession = false;
    let outcome: Outcome;
    if (fault?.kind === "host_key_change" && reply.code === "host_key_changed") outcome = "refused_ok";
    else if (fault?.kind === "disk_full" && /space|ENOSPC|full|quota/i.test(text)) outcome = "refused_ok";
    else if (fault !== undefined) outcome = "failed_in_fault";
    else if (lost) outcome = "session_lost";
    else if (op.tags.includes("rekey") && reply.code !== "unknown_connection" && REKEY_SYMPTOM.test(text)) {
      outcome = "known_bug";
    } else outcome = "failed_unexplained";
    this.ctx.journal.end(op, outcome, fault ? `[${fault.kind}] ${text}` : text);
    if (outcome === "failed_unexplained") {
      this.ctx.log(`${this.name}: ${op.kind} on ${op.alias} failed: ${text.slice(0, 300)}`);
    }
    return outcome;
  }

  /** The markers an op may have written, given how a command call ended. */
  static marksAfter(reply: Reply): OpRecord["marks"] {
    if (reply.ok) return "exactly_one";
    if (
      reply.transportError === undefined && reply.data === undefined && PRESTART_CODES.has(reply.code ?? "")
    ) {
      return "zero";
    }
    return "at_most_one";
  }
}
