/**
 * The bookkeeping every executor shares for one command: the capped output buffers, the deadline
 * timer, the cancellation listener, the kill reason and the out-of-band kill in flight, and the one
 * builder of the {@link ExecResult}. The exec channel (`channel.ts`) and the warm shell
 * (`warm_shell.ts`) differ only in how output arrives and how a kill is carried out.
 *
 * @module
 */
import type { ExecRequest, ExecResult } from "../connection.ts";
import { HeadTailBuffer } from "./output_buffer.ts";

/** Why a command was killed: its deadline passed, its call was cancelled, or sudo refused. */
export type KillReason = "timeout" | "cancel" | "sudo";

/** How a command ended, as its executor saw it. */
export interface RunEnd {
  /** Exit code, or null. */
  code: number | null;
  /** Signal name, or null. */
  signal: string | null;
  /** The link (or the shell) went away before the command finished. */
  lost: boolean;
  /** The stderr to report instead of the captured one (e.g. what sudo said before it refused). */
  stderr?: HeadTailBuffer;
}

/**
 * One command's shared state. The executor feeds {@link stdout} and {@link stderr}, is told to kill
 * through `onKill` (once, for the first reason), records its kill in {@link killing}, and calls
 * {@link finish} when the command ended.
 */
export class RunCore {
  /** Captured stdout. */
  readonly stdout: HeadTailBuffer;
  /** Captured stderr. */
  readonly stderr: HeadTailBuffer;
  /** Why the command is being killed, once it is. */
  kill: KillReason | undefined;
  /** The out-of-band kill in flight; the result waits for it (its channel closes first). */
  killing: Promise<void> | undefined;
  #request: ExecRequest;
  #executor: ExecResult["executor"];
  #started: number;
  #timer: ReturnType<typeof setTimeout>;
  #onAbort: () => void;
  #onKill: (reason: KillReason) => void;
  #ended = false;

  /** Starts the deadline and listens for cancellation; `started` is when the wall time starts. */
  constructor(
    request: ExecRequest,
    options: { executor: ExecResult["executor"]; onKill: (reason: KillReason) => void; started?: number },
  ) {
    this.#request = request;
    this.#executor = options.executor;
    this.#onKill = options.onKill;
    this.#started = options.started ?? performance.now();
    this.stdout = new HeadTailBuffer(request.maxOutputBytes, request.observe?.stdout);
    this.stderr = new HeadTailBuffer(request.maxOutputBytes, request.observe?.stderr);
    this.#timer = setTimeout(() => this.requestKill("timeout"), request.timeoutMs);
    this.#onAbort = () => this.requestKill("cancel");
    request.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Whether {@link finish} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Asks for the command to be killed; only the first reason counts, and none after the end. */
  requestKill(reason: KillReason): void {
    if (this.kill !== undefined || this.#ended) return;
    this.kill = reason;
    this.#onKill(reason);
  }

  /** Stops the timer and the listener, waits for a kill in flight, and builds the result. */
  async finish(end: RunEnd): Promise<ExecResult> {
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#request.signal?.removeEventListener("abort", this.#onAbort);
    // Taken now: the wall time ends when the command did, not when its kill channel closed.
    const duration = Math.round(performance.now() - this.#started);
    await this.killing;
    const stderr = end.stderr ?? this.stderr;
    return {
      stdout: this.stdout.text(),
      stderr: stderr.text(),
      exit_code: end.code,
      signal: end.signal,
      timed_out: this.kill === "timeout",
      cancelled: this.kill === "cancel",
      connection_lost: end.lost,
      ...(this.kill === "sudo" ? { sudo_failed: true } : {}),
      truncated: this.stdout.truncated || stderr.truncated,
      stdout_bytes: this.stdout.totalBytes,
      stderr_bytes: stderr.totalBytes,
      duration_ms: duration,
      executor: this.#executor,
    };
  }
}
