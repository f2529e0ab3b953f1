/**
 * Jobs backed by the server process (SPEC §10): work that outlived its call's `wait` budget but cannot
 * outlive the server — a `run` started on the fast path, `sync`, `package_manage`, a capture. They keep
 * their output here (head and tail, by offset), keep their session busy so its connections stay open,
 * and leave a record on the host (JobStore.record) so that a later server reports them `lost`, never a
 * wrong success.
 *
 * One registry per server process (jobs of every session, found by id and owner).
 */
import { ownerDigest } from "../../ssh/jobs/ids.ts";
import type { JobStatus, JobView } from "../../ssh/jobs/parse.ts";
import type { JobStore } from "../../ssh/jobs/store.ts";
import { OffsetBuffer } from "./offset_buffer.ts";

/** How a background job ended. */
export interface BackgroundEnd {
  /** Final status. */
  status: Exclude<JobStatus, "running">;
  /** Exit code, when there is one. */
  exitCode?: number | null;
  /** Signal name ("SIGTERM"), when one ended it. */
  signal?: string | null;
  /** Why it is `lost`. */
  reason?: string;
  /** The tool's own result (tools other than `run`): structured data and text. */
  result?: { data: Record<string, unknown>; text: string; isError: boolean };
}

/** What a background job is started with. */
export interface BackgroundJobInit {
  /** The id (from the host record, or a fresh one when no record could be written). */
  id: string;
  /** The calling principal. */
  principal: string;
  /** Connection alias the work runs on. */
  alias: string;
  /** The tool that started it. */
  tool: string;
  /** What it does (the command for `run`). */
  preview: string;
  /** Deadline, seconds (null when the tool has none). */
  timeoutSeconds: number | null;
  /** Wall time the work started (before the call's wait ran out). */
  startedAt: Date;
  /** The store holding its host record, to record the end. */
  store?: JobStore;
  /** Releases the session hold when the job ends. */
  release: () => void;
  /** Stops the work (job_cancel). */
  cancel: () => void;
  /** Buffers the work has been writing into since it started (default: new, empty ones). */
  stdout?: OffsetBuffer;
  /** Stderr buffer, likewise. */
  stderr?: OffsetBuffer;
}

const KEEP_FINISHED_MS = 60 * 60 * 1000;
const MAX_FINISHED = 200;

/** One job the server runs itself. */
export class BackgroundJob {
  /** Job id. */
  readonly id: string;
  /** Owner digest (as on the host). */
  readonly owner: string;
  /** Connection alias. */
  readonly alias: string;
  /** Tool that started it. */
  readonly tool: string;
  /** What it does. */
  readonly preview: string;
  /** Deadline, seconds. */
  readonly timeoutSeconds: number | null;
  /** Start time. */
  readonly startedAt: Date;
  /** Stdout (or the tool's progress log), by offset. */
  readonly stdout: OffsetBuffer;
  /** Stderr, by offset. */
  readonly stderr: OffsetBuffer;
  #end: (BackgroundEnd & { at: Date }) | undefined;
  #cancelled = false;
  #init: BackgroundJobInit;
  #waiters: Array<() => void> = [];

  /** A running job (see {@link BackgroundJobs.start}). */
  constructor(init: BackgroundJobInit) {
    this.#init = init;
    this.id = init.id;
    this.owner = ownerDigest(init.principal);
    this.alias = init.alias;
    this.tool = init.tool;
    this.preview = init.preview;
    this.timeoutSeconds = init.timeoutSeconds;
    this.startedAt = init.startedAt;
    this.stdout = init.stdout ?? new OffsetBuffer();
    this.stderr = init.stderr ?? new OffsetBuffer();
  }

  /** Whether it is still running. */
  get running(): boolean {
    return this.#end === undefined;
  }

  /** When it ended. */
  get endedAt(): Date | undefined {
    return this.#end?.at;
  }

  /** The tool's result once ended (tools other than `run`). */
  get result(): BackgroundEnd["result"] {
    return this.#end?.result;
  }

  /** Output arrived: wakes long-polls. */
  changed(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Stops the work; the end follows when it has stopped. */
  cancel(): void {
    if (this.#end !== undefined) return;
    this.#cancelled = true;
    this.#init.cancel();
  }

  /** Records the end: wakes long-polls, releases the session, writes the host record's end. */
  finish(end: BackgroundEnd): void {
    if (this.#end !== undefined) return;
    this.#end = { ...end, at: new Date() };
    this.changed();
    this.#init.release();
    if (end.status !== "lost") {
      void this.#init.store?.recordEnd(this.id, {
        status: end.status,
        exitCode: end.exitCode ?? null,
        signal: end.signal ?? null,
        cancelled: this.#cancelled,
      }).catch(() => undefined); // best effort: the link may be gone, the record then reads as lost
    }
  }

  /** Resolves on new output, the end, `ms` elapsed or `signal`. */
  async waitForChange(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#end !== undefined || ms <= 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => wake = resolve);
    this.#waiters.push(wake);
    const onAbort = () => wake();
    signal?.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(wake, ms);
    try {
      await woken;
    } finally {
      clearTimeout(timer);
      timer = undefined;
      signal?.removeEventListener("abort", onAbort);
      const index = this.#waiters.indexOf(wake);
      if (index >= 0) this.#waiters.splice(index, 1);
    }
  }

  /** The job as job tools show it. */
  view(): JobView {
    const end = this.#end;
    return {
      job_id: this.id,
      backing: "server",
      status: end?.status ?? "running",
      exit_code: end?.exitCode ?? null,
      signal: end?.signal ?? null,
      cancelled: this.#cancelled,
      ...(end?.reason === undefined ? {} : { reason: end.reason }),
      command: this.preview.length > 200 ? this.preview.slice(0, 199) + "…" : this.preview,
      command_digest: "",
      tool: this.tool,
      started_at: this.startedAt.toISOString(),
      ended_at: end === undefined ? null : end.at.toISOString(),
      timeout_seconds: this.timeoutSeconds,
      stdout_bytes: this.stdout.total,
      stderr_bytes: this.stderr.total,
      dropped_bytes: this.stdout.dropped + this.stderr.dropped,
    };
  }
}

/** The server's background jobs. */
export class BackgroundJobs {
  #jobs = new Map<string, BackgroundJob>();

  /** Registers a running job. */
  start(init: BackgroundJobInit): BackgroundJob {
    this.#prune();
    const job = new BackgroundJob(init);
    this.#jobs.set(job.id, job);
    return job;
  }

  /** The job `id` if `principal` owns it. */
  get(id: string, principal: string): BackgroundJob | undefined {
    const job = this.#jobs.get(id);
    return job !== undefined && job.owner === ownerDigest(principal) ? job : undefined;
  }

  /** The principal's jobs on `alias` (all aliases when undefined). */
  list(principal: string, alias?: string): BackgroundJob[] {
    const owner = ownerDigest(principal);
    return [...this.#jobs.values()].filter((j) =>
      j.owner === owner && (alias === undefined || j.alias === alias)
    );
  }

  /** Forgets jobs that ended over an hour ago, and the oldest beyond a cap (their host record stays). */
  #prune(): void {
    const now = Date.now();
    const finished = [...this.#jobs.values()].filter((j) => !j.running)
      .sort((a, b) => b.endedAt!.getTime() - a.endedAt!.getTime());
    for (const [i, job] of finished.entries()) {
      if (i >= MAX_FINISHED || now - job.endedAt!.getTime() > KEEP_FINISHED_MS) this.#jobs.delete(job.id);
    }
  }
}

/** The registry of this server process. */
export const BACKGROUND_JOBS: BackgroundJobs = new BackgroundJobs();
