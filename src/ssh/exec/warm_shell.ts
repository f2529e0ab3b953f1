/**
 * The warm-shell executor (SPEC §6, §9): per connection, a small pool of long-lived remote POSIX
 * shells, each running one command at a time as a fresh child with the semantics of an exec channel,
 * so that a command costs one network round trip instead of two (channel open + exec request).
 *
 * How a command runs. A warm shell is `/bin/sh -s` started by the login shell over one exec channel
 * (so it has the login environment and the home directory as cwd) that reads its program from the
 * channel's stdin once: a prelude and a loop. The loop keeps the next child already started and
 * waiting: `setsid "$SHELL" -c <boot>`, a fresh login shell in its own session and process group,
 * exactly as sshd starts an exec channel's shell, whose start-up (exec, rc files) is paid before the
 * command arrives. The child reads its frame from the channel itself (see `commandFrame`):
 *
 *     <nonce> <0|1>\n<script>\n<nonce>\n[<stdin text>\n<nonce>\n]
 *
 * then takes `/dev/null` (or the given text) as stdin and `eval`s the script: a command costs one
 * write, the command itself and one answer. The nonce is random per command, so no line of the script
 * or of the text can end a part early. The script is the exec channel's own (`buildScript` of
 * script.ts: pid marker, env, cwd, command), so stdout carries the same pid marker that deadlines and
 * cancellation use to kill the process group out of band. When the command has been answered, the
 * loop starts the next child (off the critical path). Each warm shell holds at most one pre-started
 * child, so a connection holds at most `maxShells` of them.
 *
 * The child writes straight to the channel's stdout and stderr: no copy, binary-safe. When the child
 * has exited and no process still holds those pipes (an exec channel's EOF rule: `sleep 9 &` keeps
 * the command running, `nohup x >/dev/null 2>&1 &` does not), the shell writes a trailer carrying a
 * nonce that is random per command, on both streams: `<nonce> <status> <signal|->` on stdout and
 * `<nonce>` on stderr. Command output cannot forge it, and since a shell runs one command at a time
 * the streams of two commands never interleave.
 *
 * Exit code or signal. A POSIX shell reports a child killed by signal N as status 128+N, like an
 * `exit 128+N`. The script therefore ends by recording its status in a file when it ends normally;
 * a status above 128 without that record is a death by signal (named by `kill -l`). That file and
 * the child's pid live in a private dir, `$TMPDIR/ssh-mcp.<shell pid>.XXXXXX`, removed when the shell
 * ends, or by the next shell of the same user when it was killed with SIGKILL.
 *
 * Deadlines and cancellation kill the child's process group out of band over a priority exec
 * channel (as exec channels do, with script.ts's kill); the warm shell then writes its trailer and serves the next command. A
 * shell that does not finish within a grace period after the kill is closed and replaced; a command
 * whose shell or connection died reports `connection_lost` and is never re-run.
 *
 * Falls back to exec channels (`executor: "exec"`) when the login shell is not a POSIX shell, `setsid`
 * or `mktemp` is missing, a shell cannot start, for `sudo` (its password prompt needs the exec
 * channel's interleaved stdin), for stdin that is not UTF-8 text without NUL bytes, and for frames
 * over 1 MiB.
 *
 * Known differences from an exec channel (tests/ssh/exec/equivalence_test.ts checks the rest):
 * - `exit N` (or `exec` of a program that exits N) with N in 129..192 inside the command reads as a
 *   death by signal N-128: the shell's `$?` cannot tell them apart and `exit` skips the record. A
 *   status of 128+N from a command the script ran (e.g. `sleep` killed) is reported as an exit code.
 * - `$PPID` is the warm shell, not sshd; stdin, when not given, is `/dev/null` instead of an empty pipe,
 *   and given stdin text is a file in the shell's private dir, not a pipe.
 * - The script runs under `eval` inside a loop of the child's boot program: a top-level `break` or
 *   `continue` (an error under an exec channel) ends the script; `$BASH_EXECUTION_STRING` and the
 *   child's command line show the boot program, not the script.
 * - Exports made by the login shell's rc files before they return for non-interactive shells are
 *   applied twice (once for the warm shell, once by the child's own rc run): e.g. a PATH entry that
 *   such a file prepends appears twice. `SHLVL` is corrected.
 * - Without /proc (non-Linux), the end of a command with background children is when its process
 *   group is empty, not when its output pipes close.
 */
import { Buffer } from "node:buffer";
import type { ExecRequest, ExecResult, RemoteProcess, SshConnection } from "../connection.ts";
import { execute } from "./channel.ts";
import { RunCore } from "./run.ts";
import { killProcessGroup, nonce } from "./script.ts";
import {
  buildShellScript,
  commandFrame,
  PidExtractor,
  preludeFrame,
  stdinText,
  TrailerScanner,
} from "./shell_protocol.ts";

/** Options of {@link ShellPool}. */
export interface ShellPoolOptions {
  /** Most warm shells kept per connection (each holds one channel of the connection's 8). Default 4. */
  maxShells?: number;
  /** How long a new shell may take to report ready before the exec channel is used. Default 10 s. */
  startTimeoutMs?: number;
}

/** Why a command did not go to a warm shell (see {@link ShellPool.lastFallback}). */
export type FallbackReason =
  | "sudo"
  | "binary_stdin"
  | "frame_too_large"
  | "unsupported"
  | "start_failed";

const DEFAULT_MAX_SHELLS = 4;
const DEFAULT_START_TIMEOUT_MS = 10_000;
/** Longest time to wait for the trailer after the process group was killed. */
const KILL_GRACE_MS = 3000;
/** Frames above this go over exec channels: the child's `read` takes its frame byte by byte, line by line. */
const MAX_FRAME_BYTES = 64 * 1024;
/** Start-up output of a pre-started child held for its command (an exec channel would show it). */
const MAX_EARLY_BYTES = 64 * 1024;
/** After a failed start, exec channels are used for this long before a shell is tried again. */
const RETRY_AFTER_MS = 30_000;
/** The error a shell start fails with; `permanent` means the host cannot run warm shells at all. */
class ShellStartError extends Error {
  constructor(message: string, readonly permanent: boolean) {
    super(message);
    this.name = "ShellStartError";
  }
}

/** One command on a warm shell: output until the trailer, the pid marker taken out of stdout. */
class ShellRun {
  readonly finished: Promise<ExecResult>;
  #resolve!: (result: Promise<ExecResult>) => void;
  #core: RunCore;
  #shell: WarmShell;
  #pidExtractor: PidExtractor;
  #outScanner: TrailerScanner;
  #errScanner: TrailerScanner;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(shell: WarmShell, request: ExecRequest, markers: { pid: string }, runNonce: string) {
    this.#shell = shell;
    this.finished = new Promise((resolve) => this.#resolve = resolve);
    this.#core = new RunCore(request, { executor: "shell", onKill: () => this.#onKill() });
    this.#pidExtractor = new PidExtractor(markers.pid, (b) => this.#core.stdout.push(b));
    this.#outScanner = new TrailerScanner(runNonce, (b) => {
      this.#pidExtractor.push(b);
      const pid = this.#pidExtractor.pid;
      if (this.#core.kill !== undefined && this.#core.killing === undefined && pid !== undefined) {
        this.#core.killing = killProcessGroup(this.#shell.connection, pid);
      }
    });
    this.#errScanner = new TrailerScanner(runNonce, (b) => this.#core.stderr.push(b));
  }

  onStdout(chunk: Buffer): void {
    this.#outScanner.push(chunk);
    this.#checkDone();
  }

  onStderr(chunk: Buffer): void {
    this.#errScanner.push(chunk);
    this.#checkDone();
  }

  /** The shell's channel closed before the trailer: the outcome is unknown. */
  onShellGone(): void {
    this.#end(null, null, this.#core.kill === undefined);
  }

  #checkDone(): void {
    const trailer = this.#outScanner.trailer;
    if (trailer === undefined || this.#errScanner.trailer === undefined) return;
    const [, status, signal] = trailer.split(" ");
    const code = Number(status);
    // ssh2 names signals as "SIGTERM"; `kill -l` as "TERM".
    if (signal !== undefined && /^[A-Z][A-Z0-9+-]*$/.test(signal)) this.#end(null, `SIG${signal}`, false);
    else this.#end(Number.isInteger(code) ? code : null, null, false);
  }

  #onKill(): void {
    // When the kill cannot run, the grace timer replaces the shell.
    const pid = this.#pidExtractor.pid;
    if (pid !== undefined) this.#core.killing = killProcessGroup(this.#shell.connection, pid);
    // Whatever happens to the kill, a shell that does not finish the command in time is replaced.
    this.#graceTimer = setTimeout(() => this.#shell.destroy(), KILL_GRACE_MS);
  }

  #end(code: number | null, signal: string | null, lost: boolean): void {
    if (this.#core.ended) return;
    clearTimeout(this.#graceTimer);
    this.#pidExtractor.flush();
    // The out-of-band kill finishes (its channel closes) before the caller sees the result.
    this.#resolve(this.#core.finish({ code, signal, lost }));
  }
}

/** One long-lived remote shell. */
class WarmShell {
  readonly connection: SshConnection;
  #process: RemoteProcess;
  #dir = "";
  #run: ShellRun | undefined;
  #alive = true;
  #onGone: ((shell: WarmShell) => void) | undefined;
  #early: { out: Buffer[]; err: Buffer[]; bytes: number } = { out: [], err: [], bytes: 0 };

  private constructor(connection: SshConnection, process: RemoteProcess) {
    this.connection = connection;
    this.#process = process;
    process.done.then(() => this.#gone());
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Opens the channel, sends the prelude and waits for the ready line. */
  static async start(connection: SshConnection, timeoutMs: number): Promise<WarmShell> {
    let process: RemoteProcess;
    try {
      process = await connection.exec("exec /bin/sh -s");
    } catch (error) {
      throw new ShellStartError(`Cannot open a channel for a warm shell: ${(error as Error).message}`, false);
    }
    const shell = new WarmShell(connection, process);
    try {
      await shell.#handshake(timeoutMs);
    } catch (error) {
      shell.destroy();
      throw error;
    }
    return shell;
  }

  #handshake(timeoutMs: number): Promise<void> {
    const startNonce = nonce(12);
    const process = this.#process;
    process.stdin.on("error", () => {});
    return new Promise<void>((resolve, reject) => {
      let out = Buffer.alloc(0);
      let err = Buffer.alloc(0);
      let ready: string | undefined;
      let errReady = false;
      const needle = Buffer.from(startNonce + " ");
      const errNeedle = Buffer.from(startNonce + "\n");
      const fail = (error: ShellStartError) => {
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new ShellStartError(`Cannot start a warm shell: no answer within ${timeoutMs} ms`, false)),
        timeoutMs,
      );
      const settle = () => {
        if (ready === undefined || !errReady) return;
        clearTimeout(timer);
        process.stdout.removeListener("data", onOut);
        process.stderr.removeListener("data", onErr);
        const [state, dir] = ready.split(" ");
        if (state !== "ok" || dir === undefined || dir === "") {
          return reject(new ShellStartError(`Cannot start a warm shell: ${state}`, true));
        }
        this.#dir = dir;
        const after = out.subarray(out.indexOf(10, out.indexOf(needle)) + 1);
        if (after.length > 0) this.#hold("out", Buffer.from(after));
        process.stdout.on(
          "data",
          (chunk: Buffer) => this.#run ? this.#run.onStdout(chunk) : this.#hold("out", chunk),
        );
        process.stderr.on(
          "data",
          (chunk: Buffer) => this.#run ? this.#run.onStderr(chunk) : this.#hold("err", chunk),
        );
        resolve();
      };
      // Anything before the ready lines is noise from the login shell's rc files.
      const onOut = (chunk: Buffer) => {
        out = Buffer.concat([out, chunk]);
        const at = out.indexOf(needle);
        if (at < 0) {
          if (out.length > 65536) out = out.subarray(out.length - needle.length);
          return;
        }
        const newline = out.indexOf(10, at);
        if (newline < 0) return;
        ready = out.subarray(at + needle.length, newline).toString();
        settle();
      };
      const onErr = (chunk: Buffer) => {
        err = Buffer.concat([err, chunk]);
        if (err.indexOf(errNeedle) >= 0) {
          errReady = true;
          settle();
        } else if (err.length > 65536) err = err.subarray(err.length - errNeedle.length);
      };
      process.stdout.on("data", onOut);
      process.stderr.on("data", onErr);
      process.done.then(() =>
        fail(new ShellStartError("Cannot start a warm shell: the channel closed", ready !== undefined))
      );
      process.stdin.write(preludeFrame(startNonce));
    });
  }

  /** Runs one command; the caller holds this shell exclusively. Undefined when the shell is gone. */
  run(request: ExecRequest, input: string | undefined): Promise<ExecResult> | undefined {
    if (!this.#alive) return undefined; // nothing was sent: the caller may use another shell
    const markers = { pid: nonce(12), start: nonce(12), prompt: nonce(12) };
    const runNonce = nonce(12);
    const script = buildShellScript(request, markers, this.#dir);
    const run = new ShellRun(this, request, markers, runNonce);
    this.#run = run;
    // What the pre-started child's rc files printed before its command arrived is the command's output.
    for (const chunk of this.#early.out.splice(0)) run.onStdout(chunk);
    for (const chunk of this.#early.err.splice(0)) run.onStderr(chunk);
    this.#early.bytes = 0;
    this.#process.stdin.write(commandFrame(runNonce, script, input));
    return run.finished.finally(() => {
      if (this.#run === run) this.#run = undefined;
    });
  }

  /** Output while no command runs: the next child's start-up, held (bounded) for its command. */
  #hold(stream: "out" | "err", chunk: Buffer): void {
    if (this.#early.bytes + chunk.length > MAX_EARLY_BYTES) return;
    this.#early.bytes += chunk.length;
    this.#early[stream].push(chunk);
  }

  /** Closes the channel (the remote loop sees EOF and removes its temp dir). */
  destroy(): void {
    if (!this.#alive) return;
    this.#alive = false;
    try {
      this.#process.stdin.end();
    } catch {
      // already closed
    }
    this.#process.close();
    this.#gone();
  }

  /** Ends the loop gracefully after the current command. */
  close(): Promise<void> {
    if (this.#alive) {
      try {
        this.#process.stdin.end();
      } catch {
        // already closed
      }
    }
    const timer = setTimeout(() => this.#process.close(), 2000);
    return this.#process.done.then(() => clearTimeout(timer));
  }

  #gone(): void {
    this.#alive = false;
    const run = this.#run;
    this.#run = undefined;
    run?.onShellGone();
    const onGone = this.#onGone;
    this.#onGone = undefined;
    onGone?.(this);
  }

  /** Reports the shell's end to the pool (set after the handshake, so a failed start is reported once). */
  watch(onGone: (shell: WarmShell) => void): void {
    if (this.#alive) this.#onGone = onGone;
    else onGone(this);
  }
}

/**
 * The warm shells of one connection, with exec-channel fallback. Concurrent commands use up to
 * `maxShells` shells (started on demand, idle ones kept) and queue beyond that.
 *
 * @example
 * ```ts
 * await using pool = new ShellPool(connection);
 * const result = await pool.execute({ command: sh`uname -a`, timeoutMs: 10_000, maxOutputBytes: 51200 });
 * result.executor; // => "shell" (or "exec" where warm shells cannot run)
 * ```
 */
export class ShellPool implements AsyncDisposable {
  #connection: SshConnection;
  #max: number;
  #startTimeoutMs: number;
  #shells = new Set<WarmShell>();
  #idle: WarmShell[] = [];
  #starting = 0;
  #waiters: Array<(shell: WarmShell | undefined) => void> = [];
  #unsupported: string | undefined;
  #retryAt = 0;
  #closed = false;
  #lastFallback: FallbackReason | undefined;

  /** Creates an empty pool; shells start on first use. */
  constructor(connection: SshConnection, options: ShellPoolOptions = {}) {
    const max = options.maxShells ?? DEFAULT_MAX_SHELLS;
    if (!Number.isInteger(max) || max < 1 || max > 8) {
      throw new RangeError(`Cannot keep ${max} warm shells: use 1 to 8 (a connection has 8 channels)`);
    }
    this.#connection = connection;
    this.#max = max;
    this.#startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    connection.closed.then(() => this.#flushWaiters());
  }

  /** Live warm shells (busy or idle). */
  get size(): number {
    return this.#shells.size;
  }

  /** Why the last command went over an exec channel, if it did. */
  get lastFallback(): FallbackReason | undefined {
    return this.#lastFallback;
  }

  /** Set when the host cannot run warm shells (e.g. "no-setsid"); every command then uses exec channels. */
  get unsupportedReason(): string | undefined {
    return this.#unsupported;
  }

  /** Runs a command on a warm shell, or on an exec channel where a warm shell cannot run it. */
  async execute(request: ExecRequest): Promise<ExecResult> {
    if (!(request.timeoutMs > 0)) {
      throw new RangeError(`Cannot run with a timeout of ${request.timeoutMs} ms`);
    }
    request.signal?.throwIfAborted();
    const input = stdinText(request.stdin);
    const reason: FallbackReason | undefined = request.sudo !== undefined
      ? "sudo"
      : input === null
      ? "binary_stdin"
      : request.command.text.length + (input?.length ?? 0) > MAX_FRAME_BYTES
      ? "frame_too_large"
      : undefined;
    if (reason !== undefined) return await this.#fallback(request, reason);
    // A shell that died between being picked and being written to ran nothing: pick again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const shell = await this.#acquire(request.signal);
      if (shell === undefined) break;
      const running = shell.run(request, input ?? undefined);
      if (running === undefined) continue;
      this.#lastFallback = undefined;
      try {
        return await running;
      } finally {
        this.#release(shell);
      }
    }
    return await this.#fallback(request, this.#unsupported === undefined ? "start_failed" : "unsupported");
  }

  /** Ends every shell (each finishes its current command first). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flushWaiters();
    await Promise.all([...this.#shells].map((shell) => shell.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #fallback(request: ExecRequest, reason: FallbackReason): Promise<ExecResult> {
    this.#lastFallback = reason;
    return execute(this.#connection, request);
  }

  #acquire(signal: AbortSignal | undefined): Promise<WarmShell | undefined> {
    while (this.#idle.length > 0) {
      const shell = this.#idle.pop()!;
      if (shell.alive) return Promise.resolve(shell);
    }
    if (this.#closed || this.#unsupported !== undefined || !this.#connection.alive) {
      return Promise.resolve(undefined);
    }
    if (this.#shells.size === 0 && this.#starting === 0 && Date.now() < this.#retryAt) {
      return Promise.resolve(undefined);
    }
    return new Promise((resolve, reject) => {
      const waiter = (shell: WarmShell | undefined) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(shell);
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      if (this.#shells.size + this.#starting < this.#max) this.#grow();
    });
  }

  #grow(): void {
    this.#starting++;
    WarmShell.start(this.#connection, this.#startTimeoutMs).then(
      (shell) => {
        this.#starting--;
        if (this.#closed) return void shell.close();
        this.#shells.add(shell);
        shell.watch((gone) => this.#forget(gone));
        this.#release(shell);
      },
      (error: unknown) => {
        this.#starting--;
        if (error instanceof ShellStartError && error.permanent) {
          this.#unsupported = error.message.replace(/^Cannot start a warm shell: /, "");
        } else this.#retryAt = Date.now() + RETRY_AFTER_MS;
        // Waiters go to the exec channel unless a running shell will free up for them.
        if (this.#shells.size === 0 && this.#starting === 0) this.#flushWaiters();
        else if (this.#unsupported !== undefined) this.#flushWaiters();
      },
    );
  }

  #release(shell: WarmShell): void {
    if (!shell.alive || !this.#shells.has(shell)) return;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(shell);
    else this.#idle.push(shell);
  }

  #forget(shell: WarmShell): void {
    this.#shells.delete(shell);
    const index = this.#idle.indexOf(shell);
    if (index >= 0) this.#idle.splice(index, 1);
    // Queued commands need a replacement shell (or the exec channel when none can start).
    if (this.#waiters.length > 0 && !this.#closed && this.#connection.alive) {
      if (this.#shells.size + this.#starting < this.#max) this.#grow();
    } else if (!this.#connection.alive) this.#flushWaiters();
  }

  #flushWaiters(): void {
    const waiters = this.#waiters.splice(0);
    for (const waiter of waiters) waiter(undefined);
  }
}
