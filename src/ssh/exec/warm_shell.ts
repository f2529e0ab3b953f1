/**
 * The warm-shell executor (SPEC §6, §9): per connection, a small pool of long-lived remote POSIX
 * shells, each running one command at a time as a fresh child with the semantics of an exec channel,
 * so that a command costs one network round trip instead of two (channel open + exec request).
 *
 * How a command runs. A warm shell is `/bin/sh -s` started by the login shell over one exec channel
 * (so it has the login environment and the home directory as cwd) that reads its program from the
 * channel's stdin: first a prelude that defines `__mcp_run`, then one line per command:
 *
 *     __mcp_run <nonce> <0|1> '<script>' ['<stdin>']
 *
 * Every word is quoted by `sh`, so the frame is parsed by the shell itself: no byte counting, and no
 * command text can end a frame early. `__mcp_run` runs `setsid "$SHELL" -c <script>`: a fresh login
 * shell in its own session and process group, exactly as sshd starts an exec channel's shell, with
 * stdin from `/dev/null` (or a pipe fed with the given text). The script is the exec channel's own
 * (`buildScript` of exec.ts: pid marker, env, cwd, command), so stdout carries the same pid marker
 * that deadlines and cancellation use to kill the process group out of band.
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
 * channel (as exec.ts does); the warm shell then writes its trailer and serves the next command. A
 * shell that does not finish within a grace period after the kill is closed and replaced; a command
 * whose shell or connection died reports `connection_lost` and is never re-run.
 *
 * Falls back to exec channels (`executor: "exec"`) when the login shell is not a POSIX shell, `setsid`
 * or `mktemp` is missing, a shell cannot start, for `sudo` (its password prompt needs the exec
 * channel's interleaved stdin), for stdin that is not UTF-8 text without NUL bytes, and for frames
 * over 1 MiB.
 *
 * Known differences from an exec channel (tests/ssh/exec_equivalence_test.ts checks the rest):
 * - `exit N` (or `exec` of a program that exits N) with N in 129..192 inside the command reads as a
 *   death by signal N-128: the shell's `$?` cannot tell them apart and `exit` skips the record. A
 *   status of 128+N from a command the script ran (e.g. `sleep` killed) is reported as an exit code.
 * - `$PPID` is the warm shell, not sshd; stdin, when not given, is `/dev/null` instead of an empty pipe.
 * - Exports made by the login shell's rc files before they return for non-interactive shells are
 *   applied twice (once for the warm shell, once by the child's own rc run): e.g. a PATH entry that
 *   such a file prepends appears twice. `SHLVL` is corrected.
 * - Without /proc (non-Linux), the end of a command with background children is when its process
 *   group is empty, not when its output pipes close.
 */
import { Buffer } from "node:buffer";
import { joinCommands, raw, sh, type ShellCommand } from "../../shell/sh.ts";
import type { ExecRequest, ExecResult, RemoteProcess, SshConnection } from "../connection.ts";
import { buildScript, execute, killProcessGroup } from "./channel.ts";
import { HeadTailBuffer } from "./output_buffer.ts";

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
/** Frames above this go over exec channels: bash as /bin/sh reads a script from a pipe byte by byte. */
const MAX_FRAME_BYTES = 1 << 20;
/** After a failed start, exec channels are used for this long before a shell is tried again. */
const RETRY_AFTER_MS = 30_000;
/** Bytes held while looking for the pid marker before they are passed on as output. */
const MAX_PRE_MARKER_BYTES = 64 * 1024;

// The warm shell's program. Names start with __mcp_ and are never exported, so the child (a fresh
// exec of the login shell) sees none of them. `\$` is a literal `$` here. The shell's own messages
// (e.g. "Terminated" for a child killed by a signal) go to /dev/null, as sshd prints none; the
// channel's stderr stays on fd 9, which no child inherits.
const PRELUDE = `exec 9>&2 2>/dev/null
__mcp_ready() { printf '%s %s\\n' "$__mcp_nonce" "$1"; printf '%s\\n' "$__mcp_nonce" >&9; }
command -v setsid >/dev/null 2>&1 || { __mcp_ready no-setsid; exit 0; }
case \${SHELL##*/} in
  sh|bash|dash|ash|ksh|ksh93|mksh|lksh|pdksh|oksh|zsh|yash|posh|busybox) ;;
  *) __mcp_ready no-posix-login-shell; exit 0 ;;
esac
# A shell killed by SIGKILL (sshd's, when it is stopped) leaves its dir behind: each start removes
# those of its user whose shell (the pid in the name) is gone.
for __mcp_o in "\${TMPDIR:-/tmp}"/ssh-mcp.[0-9]*.*; do
  [ -d "$__mcp_o" ] && [ -O "$__mcp_o" ] || continue
  __mcp_l=\${__mcp_o##*/ssh-mcp.}
  kill -0 "\${__mcp_l%%.*}" || rm -rf -- "$__mcp_o" </dev/null 9>&-
done
__mcp_d=$(mktemp -d "\${TMPDIR:-/tmp}/ssh-mcp.$$.XXXXXX" </dev/null 9>&-) || { __mcp_ready no-mktemp; exit 0; }
trap 'rm -rf -- "$__mcp_d"' EXIT
trap 'exit 129' HUP
trap 'exit 141' PIPE
trap 'exit 143' TERM
# bash and zsh raised SHLVL when they started (the login shell, and /bin/sh when it is bash): undo it,
# so the child computes the level an exec channel's shell has (and bash reads ~/.bashrc as under sshd).
__mcp_l=\${SHLVL:-0}
case $__mcp_l in ''|*[!0-9]*) __mcp_l=1 ;; esac
case \${SHELL##*/} in bash|zsh) __mcp_l=$((__mcp_l - 1)) ;; esac
[ -n "\${BASH_VERSION:-}" ] && __mcp_l=$((__mcp_l - 1))
if [ "$__mcp_l" -gt 0 ]; then SHLVL=$__mcp_l; export SHLVL; else unset SHLVL; fi
# sshd starts the shell as argv[0] = its base name ($0 = "bash"); do the same when PATH finds it.
__mcp_sh=$SHELL
__mcp_p=$(command -v "\${SHELL##*/}" 9>&-) && [ "$__mcp_p" -ef "$SHELL" ] && __mcp_sh=\${SHELL##*/}
# Whether a process other than this shell still holds our stdout or stderr (Linux /proc).
__mcp_held() {
  for __mcp_f in /proc/[0-9]*/fd/*; do
    case $__mcp_f in "/proc/$$/"*) continue ;; esac
    if [ "$__mcp_f" -ef "/proc/$$/fd/1" ] || [ "$__mcp_f" -ef "/proc/$$/fd/9" ]; then return 0; fi
  done
  return 1
}
# An exec channel ends at EOF of its pipes: wait while background children still hold them.
__mcp_drain() {
  if [ -e "/proc/$$/fd/1" ]; then
    while __mcp_held; do sleep 0.05 </dev/null 9>&- || sleep 1 </dev/null 9>&-; done
  else
    while kill -0 "-$1"; do sleep 0.05 </dev/null 9>&- || sleep 1 </dev/null 9>&-; done
  fi
}
__mcp_run() {
  : >"$__mcp_d/p"
  : >"$__mcp_d/s"
  # The child's redirections are made inside a subshell: this shell's fd 2 stays /dev/null meanwhile.
  if [ "$2" = 1 ]; then
    printf '%s' "$4" | (exec setsid "$__mcp_sh" -c "$3" 2>&9 9>&-)
  else
    (exec setsid "$__mcp_sh" -c "$3" </dev/null 2>&9 9>&-)
  fi
  __mcp_st=$?
  __mcp_p=
  read -r __mcp_p <"$__mcp_d/p"
  case $__mcp_p in
    ''|*[!0-9]*) ;;
    *) if kill -0 "-$__mcp_p"; then __mcp_drain "$__mcp_p"; fi ;;
  esac
  __mcp_n=
  read -r __mcp_n <"$__mcp_d/s"
  __mcp_sig=-
  if [ -z "$__mcp_n" ] && [ "$__mcp_st" -gt 128 ]; then
    __mcp_sig=$(kill -l "$__mcp_st") || __mcp_sig=-
    [ -n "$__mcp_sig" ] || __mcp_sig=-
  fi
  printf '%s\\n' "$1" >&9
  printf '%s %s %s\\n' "$1" "$__mcp_st" "$__mcp_sig"
}
__mcp_ready "ok $__mcp_d"`;

function nonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "mcp" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The child's script: the exec channel's script, plus the pid written for the warm shell's drain
 * check, plus the record of a normal end (so that `exit 143` and a death by SIGTERM differ).
 */
export function buildShellScript(
  request: Pick<ExecRequest, "command" | "cwd" | "env">,
  markers: { pid: string; start: string; prompt: string },
  dir: string,
): ShellCommand {
  // The pid write shares the first line, so error messages quote the same line numbers as over exec.
  const script = joinCommands([sh`printf '%s\n' "$$" >${dir + "/p"}`, buildScript(request, markers)], "; ");
  return joinCommands([script, sh`__mcp_s=$?; printf '%s' "$__mcp_s" >${dir + "/s"}; exit "$__mcp_s"`], "\n");
}

/** The stdin text of a request when it can travel inside a frame (UTF-8 without NUL), else null. */
function stdinText(stdin: Uint8Array | undefined): string | null | undefined {
  if (stdin === undefined || stdin.length === 0) return undefined;
  if (stdin.includes(0)) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(stdin);
  } catch {
    return null;
  }
}

/**
 * Passes a byte stream through until `needle` appears, then collects the rest of that line. Holds
 * back at most `needle.length - 1` bytes, so memory stays bounded whatever the stream.
 */
class TrailerScanner {
  #needle: Buffer;
  #pending: Buffer = Buffer.alloc(0);
  #line: Buffer | undefined;
  #onData: (bytes: Buffer) => void;
  /** The text after the needle up to the newline, once complete. */
  trailer: string | undefined;

  constructor(needle: string, onData: (bytes: Buffer) => void) {
    this.#needle = Buffer.from(needle);
    this.#onData = onData;
  }

  push(chunk: Buffer): void {
    if (this.trailer !== undefined) return; // output after the trailer: a leak, not this command's
    if (this.#line !== undefined) return this.#collect(chunk);
    const data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const at = data.indexOf(this.#needle);
    if (at >= 0) {
      if (at > 0) this.#onData(data.subarray(0, at));
      this.#pending = Buffer.alloc(0);
      this.#line = Buffer.alloc(0);
      return this.#collect(data.subarray(at + this.#needle.length));
    }
    // Hold back only a tail that could be the start of the needle, so output is never delayed.
    let keep = Math.min(data.length, this.#needle.length - 1);
    while (keep > 0 && !data.subarray(data.length - keep).equals(this.#needle.subarray(0, keep))) keep--;
    if (data.length > keep) this.#onData(data.subarray(0, data.length - keep));
    this.#pending = Buffer.from(data.subarray(data.length - keep));
  }

  #collect(chunk: Buffer): void {
    const line = Buffer.concat([this.#line!, chunk]);
    const newline = line.indexOf(10);
    if (newline < 0) {
      this.#line = line.length > 256 ? line.subarray(0, 256) : line;
      return;
    }
    this.trailer = line.subarray(0, newline).toString("latin1");
    this.#line = undefined;
  }
}

/** Finds and removes the child's `<marker>:<pid>` line; everything else is output. */
class PidExtractor {
  #marker: Buffer;
  #held: Buffer = Buffer.alloc(0);
  #onData: (bytes: Buffer) => void;
  pid: number | undefined;
  #done = false;

  constructor(marker: string, onData: (bytes: Buffer) => void) {
    this.#marker = Buffer.from(marker + ":");
    this.#onData = onData;
  }

  push(chunk: Buffer): void {
    if (this.#done) return this.#onData(chunk);
    const data = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    const at = data.indexOf(this.#marker);
    if (at >= 0) {
      const newline = data.indexOf(10, at);
      if (newline >= 0) {
        const digits = data.subarray(at + this.#marker.length, newline).toString("latin1");
        if (/^\d+$/.test(digits)) this.pid = Number(digits);
        this.#done = true;
        this.#held = Buffer.alloc(0);
        if (at > 0) this.#onData(data.subarray(0, at));
        if (newline + 1 < data.length) this.#onData(data.subarray(newline + 1));
        return;
      }
    }
    if (data.length > MAX_PRE_MARKER_BYTES && at < 0) {
      const keep = this.#marker.length + 24;
      this.#onData(data.subarray(0, data.length - keep));
      this.#held = Buffer.from(data.subarray(data.length - keep));
    } else this.#held = Buffer.from(data);
  }

  /** Passes on what is held (the command ended without printing its marker). */
  flush(): void {
    if (this.#held.length > 0) this.#onData(this.#held);
    this.#held = Buffer.alloc(0);
    this.#done = true;
  }
}

/** The error a shell start fails with; `permanent` means the host cannot run warm shells at all. */
class ShellStartError extends Error {
  constructor(message: string, readonly permanent: boolean) {
    super(message);
    this.name = "ShellStartError";
  }
}

/** One command on a warm shell. */
class ShellRun {
  readonly finished: Promise<ExecResult>;
  #resolve!: (result: ExecResult) => void;
  #shell: WarmShell;
  #request: ExecRequest;
  #nonce: string;
  #stdout: HeadTailBuffer;
  #stderr: HeadTailBuffer;
  #pidExtractor: PidExtractor;
  #outScanner: TrailerScanner;
  #errScanner: TrailerScanner;
  #started: number;
  #kill: "timeout" | "cancel" | undefined;
  #killing: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout>;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #onAbort: () => void;
  #ended = false;

  constructor(shell: WarmShell, request: ExecRequest, markers: { pid: string }, runNonce: string) {
    this.#shell = shell;
    this.#request = request;
    this.#nonce = runNonce;
    this.#stdout = new HeadTailBuffer(request.maxOutputBytes);
    this.#stderr = new HeadTailBuffer(request.maxOutputBytes);
    this.#pidExtractor = new PidExtractor(markers.pid, (b) => this.#stdout.push(b));
    this.#outScanner = new TrailerScanner(runNonce, (b) => {
      this.#pidExtractor.push(b);
      if (this.#kill !== undefined && this.#killing === undefined && this.#pidExtractor.pid !== undefined) {
        this.#killing = this.#killGroup(this.#pidExtractor.pid);
      }
    });
    this.#errScanner = new TrailerScanner(runNonce, (b) => this.#stderr.push(b));
    this.finished = new Promise((resolve) => this.#resolve = resolve);
    this.#started = performance.now();
    this.#timer = setTimeout(() => this.#requestKill("timeout"), request.timeoutMs);
    this.#onAbort = () => this.#requestKill("cancel");
    request.signal?.addEventListener("abort", this.#onAbort, { once: true });
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
    this.#end(null, null, this.#kill === undefined);
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

  #requestKill(reason: "timeout" | "cancel"): void {
    if (this.#kill !== undefined || this.#ended) return;
    this.#kill = reason;
    const pid = this.#pidExtractor.pid;
    if (pid !== undefined) this.#killing = this.#killGroup(pid);
    // Whatever happens to the kill, a shell that does not finish the command in time is replaced.
    this.#graceTimer = setTimeout(() => this.#shell.destroy(), KILL_GRACE_MS);
  }

  async #killGroup(pid: number): Promise<void> {
    // When the kill cannot run, the grace timer replaces the shell.
    await killProcessGroup(this.#shell.connection, pid);
  }

  #end(code: number | null, signal: string | null, lost: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#graceTimer);
    this.#request.signal?.removeEventListener("abort", this.#onAbort);
    this.#pidExtractor.flush();
    const killing = this.#killing ?? Promise.resolve();
    const result: ExecResult = {
      stdout: this.#stdout.text(),
      stderr: this.#stderr.text(),
      exit_code: code,
      signal,
      timed_out: this.#kill === "timeout",
      cancelled: this.#kill === "cancel",
      connection_lost: lost,
      truncated: this.#stdout.truncated || this.#stderr.truncated,
      stdout_bytes: this.#stdout.totalBytes,
      stderr_bytes: this.#stderr.totalBytes,
      duration_ms: Math.round(performance.now() - this.#started),
      executor: "shell",
    };
    // The out-of-band kill finishes (its channel closes) before the caller sees the result.
    killing.then(() => this.#resolve(result));
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
    const startNonce = nonce();
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
        process.stdout.on("data", (chunk: Buffer) => this.#run?.onStdout(chunk));
        process.stderr.on("data", (chunk: Buffer) => this.#run?.onStderr(chunk));
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
      process.stdin.write(joinCommands([sh`__mcp_nonce=${startNonce}`, raw(PRELUDE)], "\n").text + "\n");
    });
  }

  /** Runs one command; the caller holds this shell exclusively. Undefined when the shell is gone. */
  run(request: ExecRequest, input: string | undefined): Promise<ExecResult> | undefined {
    if (!this.#alive) return undefined; // nothing was sent: the caller may use another shell
    const markers = { pid: nonce(), start: nonce(), prompt: nonce() };
    const runNonce = nonce();
    const script = buildShellScript(request, markers, this.#dir);
    const frame = input === undefined
      ? sh`__mcp_run ${runNonce} 0 ${script.text}`
      : sh`__mcp_run ${runNonce} 1 ${script.text} ${input}`;
    const run = new ShellRun(this, request, markers, runNonce);
    this.#run = run;
    this.#process.stdin.write(frame.text + "\n");
    return run.finished.finally(() => {
      if (this.#run === run) this.#run = undefined;
    });
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
