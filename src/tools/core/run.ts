/**
 * How `run` spends its `wait` budget (SPEC §10). Two paths, chosen before anything runs:
 *
 * - **The fast path** (the default: no `timeout` beyond the budget): exactly today's execution on a
 *   warm shell, one round trip. A command that ends within the budget returns today's result, with
 *   nothing added on its way. One that does not becomes a job backed by this server process: the call
 *   answers with a `job_id` and the output so far, the command goes on (its output kept here), the
 *   session stays busy, and a record on the host makes a later server report it `lost`.
 * - **A job on the host** (`wait: 0`, or a `timeout` longer than the budget: the caller says the work is
 *   long): the command starts detached under the job wrapper (ssh/jobs/), which survives a dropped
 *   link and a server restart and enforces the timeout itself. The same round trip waits on the host
 *   for the end within the budget, so a quick command still answers at once with today's result.
 *
 * Why not always the wrapper: it starts a dozen processes (FIFOs, `split`, a watchdog, `setsid`), which
 * would multiply the cost of `run true` (docs/performance.md); a command cannot be moved into it once
 * it runs. Cancelling the call while it waits kills the command on both paths, as before.
 */
import { sh } from "../../shell/sh.ts";
import type { ExecResult } from "../../ssh/connection.ts";
import { JobError } from "../../ssh/jobs/errors.ts";
import { newJobId } from "../../ssh/jobs/ids.ts";
import type { JobStore } from "../../ssh/jobs/store.ts";
import { completeUtf8Length } from "../../ssh/jobs/utf8.ts";
import type { ToolContext, ToolReply } from "../define.ts";
import { BACKGROUND_JOBS, type BackgroundEnd } from "../jobs/background.ts";
import { OffsetBuffer } from "../jobs/offset_buffer.ts";
import { DEFAULT_RUN_WAIT_MS } from "../jobs/schemas.ts";
import { describeExec, execFailed, resolveTimeout } from "../remote.ts";

/** The arguments of `run`. */
export interface RunArgs {
  /** Shell command line. */
  command: string;
  /** Connection alias. */
  target?: string;
  /** Deadline, seconds. */
  timeout?: number;
  /** Budget, seconds (0: a job at once). */
  wait?: number;
  /** Working directory. */
  cwd?: string;
  /** Environment variables. */
  env?: Record<string, string>;
  /** Stdin text. */
  stdin?: string;
  /** Through sudo. */
  sudo?: boolean;
}

/** What `run` returns: a command result, plus the job fields while it still runs. */
export type RunData = ExecResult & {
  alias: string;
  job_id?: string;
  status?: "running";
  backing?: "host" | "server";
  next_offset?: number;
  stderr_next_offset?: number;
};

/** Runs `run`: the fast path or a job on the host, answering within the `wait` budget. */
export async function runCommand(args: RunArgs, ctx: ToolContext): Promise<ToolReply<RunData>> {
  const timeoutMs = resolveTimeout(ctx, args.timeout);
  const waitMs = args.wait === undefined
    ? ctx.limits.runWaitMs ?? DEFAULT_RUN_WAIT_MS
    : Math.round(args.wait * 1000);
  const started = Date.now();
  const ticker = setInterval(
    () => ctx.progress(Math.round((Date.now() - started) / 1000), timeoutMs / 1000, "running"),
    1000,
  );
  try {
    const onHost = waitMs === 0 || (args.timeout !== undefined && timeoutMs > waitMs);
    return onHost
      ? await runOnHost(args, ctx, { timeoutMs, waitMs })
      : await runFast(args, ctx, { timeoutMs, waitMs });
  } finally {
    clearInterval(ticker);
  }
}

interface Budget {
  timeoutMs: number;
  waitMs: number;
}

function stdinOf(args: RunArgs): Uint8Array | undefined {
  return args.stdin === undefined ? undefined : new TextEncoder().encode(args.stdin);
}

/** Today's execution; past the budget, the command goes on as a job of this server. */
async function runFast(args: RunArgs, ctx: ToolContext, budget: Budget): Promise<ToolReply<RunData>> {
  const controller = new AbortController();
  const forwardAbort = () => controller.abort(ctx.signal.reason);
  if (ctx.signal.aborted) forwardAbort();
  ctx.signal.addEventListener("abort", forwardAbort, { once: true });
  const out = new OffsetBuffer();
  const err = new OffsetBuffer();
  let onOutput = () => {};
  const startedAt = new Date();
  const execution = ctx.connections.exec(args.target, {
    command: sh`eval ${args.command}`,
    cwd: args.cwd,
    env: args.env,
    stdin: stdinOf(args),
    sudo: args.sudo,
    timeoutMs: budget.timeoutMs,
    maxOutputBytes: ctx.limits.maxOutputBytes,
    signal: controller.signal,
    observe: {
      stdout: (chunk) => {
        out.push(chunk);
        onOutput();
      },
      stderr: (chunk) => {
        err.push(chunk);
        onOutput();
      },
    },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) =>
    timer = setTimeout(() => resolve("expired"), budget.waitMs)
  );
  let outcome: Awaited<typeof execution> | "expired";
  try {
    outcome = budget.timeoutMs <= budget.waitMs ? await execution : await Promise.race([execution, expired]);
  } finally {
    clearTimeout(timer);
  }
  if (outcome !== "expired") {
    ctx.signal.removeEventListener("abort", forwardAbort);
    return { data: outcome, text: describeExec(outcome), isError: execFailed(outcome) };
  }
  // Past the budget: the command goes on as a job of this server, no longer tied to the call.
  ctx.signal.removeEventListener("abort", forwardAbort);
  const onSessionEnd = () => controller.abort(ctx.sessionSignal.reason);
  ctx.sessionSignal.addEventListener("abort", onSessionEnd, { once: true });
  const alias = await ctx.connections.resolve(args.target);
  let store: JobStore | undefined;
  let id: string;
  try {
    store = (await ctx.connections.jobs(alias)).jobs;
    id = await store.record(
      { preview: args.command, tool: "run", timeoutSeconds: Math.ceil(budget.timeoutMs / 1000) },
      { owner: ctx.caller.principal },
    );
  } catch {
    // No record on the host (read-only home…): the job still runs; a later server will not know it.
    store = undefined;
    id = newJobId();
  }
  const job = BACKGROUND_JOBS.start({
    id,
    principal: ctx.caller.principal,
    alias,
    tool: "run",
    preview: args.command,
    timeoutSeconds: Math.ceil(budget.timeoutMs / 1000),
    startedAt,
    store,
    release: ctx.keepSessionBusy(),
    cancel: () => controller.abort(new DOMException("The job was cancelled", "AbortError")),
    stdout: out,
    stderr: err,
  });
  onOutput = () => job.changed();
  execution.then(
    (result) => job.finish(endOfExec(result)),
    (error: unknown) =>
      job.finish({
        status: "lost",
        reason: `the command failed to run: ${(error as Error).message ?? error}`,
      }),
  ).finally(() => ctx.sessionSignal.removeEventListener("abort", onSessionEnd));
  const page = firstPage(out, err, ctx.limits.maxOutputBytes);
  return jobReply({
    alias,
    id,
    backing: "server",
    stdout: page.stdout,
    stderr: page.stderr,
    nextOffset: page.next,
    stderrNextOffset: page.stderrNext,
    stdoutBytes: out.total,
    stderrBytes: err.total,
    durationMs: Date.now() - startedAt.getTime(),
  });
}

/** The status a command result gives its job. */
function endOfExec(result: ExecResult): BackgroundEnd {
  if (result.connection_lost) {
    return { status: "lost", reason: "the connection dropped while it ran: its outcome is unknown" };
  }
  if (result.timed_out) return { status: "timed_out", exitCode: result.exit_code, signal: result.signal };
  if (result.cancelled || result.signal !== null) {
    return { status: "killed", exitCode: result.exit_code, signal: result.signal };
  }
  return { status: "exited", exitCode: result.exit_code, signal: null };
}

function firstPage(out: OffsetBuffer, err: OffsetBuffer, max: number) {
  const decode = (buffer: OffsetBuffer) => {
    const { start, bytes } = buffer.read(0, max);
    const keep = completeUtf8Length(bytes);
    return { text: new TextDecoder().decode(bytes.subarray(0, keep)), next: start + keep };
  };
  const o = decode(out);
  const e = decode(err);
  return { stdout: o.text, next: o.next, stderr: e.text, stderrNext: e.next };
}

/** A job on the host: started detached, waited for on the host within the budget. */
async function runOnHost(args: RunArgs, ctx: ToolContext, budget: Budget): Promise<ToolReply<RunData>> {
  const started = Date.now();
  const { alias, jobs } = await ctx.connections.jobs(args.target, ctx.signal);
  const waiting = budget.waitMs > 0
    ? AbortSignal.any([ctx.signal, AbortSignal.timeout(budget.waitMs)])
    : undefined;
  const { job_id: id, finished } = await jobs.start({
    command: sh`eval ${args.command}`,
    preview: args.command,
    cwd: args.cwd,
    env: args.env,
    stdin: stdinOf(args),
    sudo: args.sudo ? true : undefined,
    timeoutSeconds: Math.ceil(budget.timeoutMs / 1000),
  }, {
    owner: ctx.caller.principal,
    signal: waiting,
    follow: waiting === undefined ? undefined : { maxBytes: ctx.limits.maxOutputBytes },
  });
  const owner = { owner: ctx.caller.principal };
  if (finished !== undefined) {
    const { view, output } = finished;
    const result: RunData = {
      alias,
      stdout: output.stdout,
      stderr: output.stderr,
      exit_code: view.exit_code,
      signal: view.signal,
      timed_out: view.status === "timed_out",
      cancelled: false,
      connection_lost: view.status === "lost",
      truncated: output.truncated,
      stdout_bytes: view.stdout_bytes,
      stderr_bytes: view.stderr_bytes,
      duration_ms: Date.now() - started,
      executor: "shell",
    };
    return { data: result, text: describeExec(result), isError: execFailed(result) };
  }
  if (ctx.signal.aborted) {
    // The caller cancelled while it waited: an explicit request to stop the work.
    const unstopped = await cancelStarting(jobs, id, owner);
    const page = await jobs.read(id, { ...owner, maxBytes: ctx.limits.maxOutputBytes }).catch(() =>
      undefined
    );
    const result: RunData = {
      alias,
      stdout: page?.stdout ?? "",
      stderr: page?.stderr ?? "",
      exit_code: page?.exit_code ?? null,
      signal: page?.signal ?? null,
      timed_out: false,
      cancelled: true,
      connection_lost: false,
      truncated: page?.more ?? false,
      stdout_bytes: page?.stdout_bytes ?? 0,
      stderr_bytes: page?.stderr_bytes ?? 0,
      duration_ms: Date.now() - started,
      executor: "shell",
    };
    const text = describeExec(result) +
      (unstopped === undefined
        ? ""
        : `\nCould not stop job ${id} on ${alias}: ${unstopped}; it may still run (see \`jobs\`, \`job_cancel\`).`);
    return { data: result, text, isError: true };
  }
  const page = budget.waitMs > 0
    ? await jobs.read(id, { ...owner, maxBytes: ctx.limits.maxOutputBytes })
    : undefined;
  return jobReply({
    alias,
    id,
    backing: "host",
    stdout: page?.stdout ?? "",
    stderr: page?.stderr ?? "",
    nextOffset: page?.next_offset ?? 0,
    stderrNextOffset: page?.stderr_next_offset ?? 0,
    stdoutBytes: page?.stdout_bytes ?? 0,
    stderrBytes: page?.stderr_bytes ?? 0,
    durationMs: Date.now() - started,
  });
}

/** How long a cancel looks for a job whose start was cut short before the host recorded it. */
const CANCEL_FIND_MS = 3_000;

/**
 * Cancels a job whose start the caller abandoned. An exec channel closed mid-start does not stop the
 * remote start script, so the job may be recorded a moment after the cancel looks for it: "not found"
 * is asked again for a few seconds. Resolves with why it could not be stopped, if so.
 */
async function cancelStarting(jobs: JobStore, id: string, owner: { owner: string }) {
  const deadline = Date.now() + CANCEL_FIND_MS;
  for (;;) {
    try {
      await jobs.cancel(id, owner);
      return undefined;
    } catch (error) {
      const notYet = error instanceof JobError && error.code === "not_found" && Date.now() < deadline;
      if (!notYet) {
        return error instanceof JobError && error.code === "not_found"
          ? undefined // never started
          : (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

interface JobReplyInput {
  alias: string;
  id: string;
  backing: "host" | "server";
  stdout: string;
  stderr: string;
  nextOffset: number;
  stderrNextOffset: number;
  stdoutBytes: number;
  stderrBytes: number;
  durationMs: number;
}

/** The answer of a `run` still running: the job, the output so far, and what to call next. */
function jobReply(input: JobReplyInput): ToolReply<RunData> {
  const next = {
    job_id: input.id,
    offset: input.nextOffset,
    stderr_offset: input.stderrNextOffset,
    wait: 30,
  };
  const parts: string[] = [];
  if (input.stdout) parts.push(input.stdout.replace(/\n$/, ""));
  if (input.stderr) parts.push(`[stderr]\n${input.stderr.replace(/\n$/, "")}`);
  parts.push(
    `[still running after ${Math.round(input.durationMs / 1000)} s · job ${input.id} · ${input.alias} · ${
      input.backing === "host"
        ? "detached on the host: it survives a dropped link and a server restart"
        : "runs inside this server process"
    }]`,
    `The command is still running: call job_output with ${JSON.stringify(next)} ` +
      "for new output and its end (repeat until status is not running); job_cancel stops it. Do not run it again.",
  );
  return {
    data: {
      alias: input.alias,
      stdout: input.stdout,
      stderr: input.stderr,
      exit_code: null,
      signal: null,
      timed_out: false,
      cancelled: false,
      connection_lost: false,
      truncated: false,
      stdout_bytes: input.stdoutBytes,
      stderr_bytes: input.stderrBytes,
      duration_ms: input.durationMs,
      executor: "shell",
      job_id: input.id,
      status: "running",
      backing: input.backing,
      next_offset: input.nextOffset,
      stderr_next_offset: input.stderrNextOffset,
    },
    text: parts.join("\n"),
  };
}
