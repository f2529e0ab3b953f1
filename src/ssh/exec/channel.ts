/**
 * Runs one remote command with exec-channel semantics and the guarantees of SPEC §6: a deadline,
 * cancellation that kills the remote process group out of band, separate capped streams, sudo with
 * the password over stdin, and an honest `connection_lost` when the link drops mid-command.
 *
 * The remote login shell is a session leader (sshd calls setsid), so `$$` is also the process group
 * of everything the command starts, including `nohup` and background children.
 */
import { Buffer } from "node:buffer";
import { joinCommands, sh, type ShellCommand } from "../../shell/sh.ts";
import type { ExecRequest, ExecResult, RemoteProcess, SshConnection } from "../connection.ts";
import { HeadTailBuffer } from "./output_buffer.ts";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Longest time to wait for the remote side to confirm a kill before closing the channel. */
const KILL_GRACE_MS = 3000;

function nonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9));
  return "mcp" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The script the remote login shell runs: pid marker, then the command (through sudo if asked). */
export function buildScript(
  request: Pick<ExecRequest, "command" | "cwd" | "env" | "sudo">,
  markers: { pid: string; start: string; prompt: string },
): ShellCommand {
  const lines: ShellCommand[] = [];
  for (const [name, value] of Object.entries(request.env ?? {})) {
    if (!ENV_NAME.test(name)) {
      throw new TypeError(`Cannot set environment variable "${name}": not a shell identifier`);
    }
    lines.push(sh`export ${name}=${value}`);
  }
  if (request.cwd !== undefined) lines.push(sh`cd -- ${request.cwd} || exit 1`);
  lines.push(request.command);
  const inner = joinCommands(lines, "\n");
  const pidLine = sh`printf '%s:%s\n' ${markers.pid} "$$"`;
  if (request.sudo === undefined) return joinCommands([pidLine, inner], "\n");
  const mode = request.sudo.password === undefined ? sh`-n` : sh`-S -p ${markers.prompt}`;
  const script = joinCommands([sh`printf '%s\n' ${markers.start} >&2`, inner], "\n");
  return sh`${pidLine}; exec sudo ${mode} -- /bin/sh -c ${script.text}`;
}

/**
 * Kills a remote process group out of band, on a priority channel: TERM first (sudo relays it to its
 * child), KILL shortly after for whatever ignored it. No `kill -0` polling (orphaned zombies keep a
 * group "alive" until init reaps them) and no `--` (dash's kill rejects it before a negative pid).
 * Never throws: a connection that is going away has nothing left to kill with.
 */
export async function killProcessGroup(connection: SshConnection, pgid: number): Promise<void> {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`Cannot kill process group ${pgid}`);
  const script =
    sh`kill -TERM -${pgid} 2>/dev/null; sleep 0.2 2>/dev/null || sleep 1; kill -KILL -${pgid} 2>/dev/null; true`;
  try {
    if (!connection.alive) return;
    const killer = await connection.exec(script.text, { priority: true });
    killer.stdin.end();
    killer.stdout.resume();
    killer.stderr.resume();
    await killer.done;
  } catch {
    // The connection is going away.
  }
}

/**
 * Runs a command on a new exec channel.
 *
 * @example
 * ```ts
 * const result = await execute(conn, { command: sh`uname -a`, timeoutMs: 10_000, maxOutputBytes: 51200 });
 * ```
 */
export async function execute(connection: SshConnection, request: ExecRequest): Promise<ExecResult> {
  if (!(request.timeoutMs > 0)) throw new RangeError(`Cannot run with a timeout of ${request.timeoutMs} ms`);
  request.signal?.throwIfAborted();
  const markers = { pid: nonce(), start: nonce(), prompt: `[sudo] ${nonce()}:` };
  const script = buildScript(request, markers);
  const started = performance.now();
  const process = await connection.exec(script.text, { signal: request.signal });
  return await new Run(connection, process, request, markers, started).finished;
}

class Run {
  readonly finished: Promise<ExecResult>;
  #connection: SshConnection;
  #process: RemoteProcess;
  #request: ExecRequest;
  #markers: { pid: string; start: string; prompt: string };
  #stdout: HeadTailBuffer;
  #stderr: HeadTailBuffer;
  #stdoutPre: Buffer[] = [];
  #stderrPre: Buffer[] = [];
  #pid: number | undefined;
  #started = false;
  #prompts = 0;
  #kill: "timeout" | "cancel" | "sudo" | undefined;
  #killing: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout>;

  constructor(
    connection: SshConnection,
    process: RemoteProcess,
    request: ExecRequest,
    markers: { pid: string; start: string; prompt: string },
    started: number,
  ) {
    this.#connection = connection;
    this.#process = process;
    this.#request = request;
    this.#markers = markers;
    this.#stdout = new HeadTailBuffer(request.maxOutputBytes);
    this.#stderr = new HeadTailBuffer(request.maxOutputBytes);
    this.#started = request.sudo === undefined;
    process.stdout.on("data", (chunk: Buffer) => this.#onStdout(chunk));
    process.stderr.on("data", (chunk: Buffer) => this.#onStderr(chunk));
    process.stdin.on("error", () => {});
    if (request.sudo === undefined) this.#writeStdin();
    this.#timer = setTimeout(() => this.#requestKill("timeout"), request.timeoutMs);
    const onAbort = () => this.#requestKill("cancel");
    request.signal?.addEventListener("abort", onAbort, { once: true });
    this.finished = process.done.then(async ({ code, signal }) => {
      clearTimeout(this.#timer);
      request.signal?.removeEventListener("abort", onAbort);
      await this.#killing;
      return this.#result(code, signal, started);
    });
  }

  #writeStdin(): void {
    const stdin = this.#request.stdin;
    if (stdin !== undefined && stdin.length > 0) this.#process.stdin.end(Buffer.from(stdin));
    else this.#process.stdin.end();
  }

  #onStdout(chunk: Buffer): void {
    if (this.#pid !== undefined) return this.#stdout.push(chunk);
    this.#stdoutPre.push(chunk);
    const text = Buffer.concat(this.#stdoutPre);
    const newline = text.indexOf(10);
    if (newline < 0) return;
    const line = text.subarray(0, newline).toString();
    const [tag, pid] = line.split(":");
    this.#stdoutPre = [];
    if (tag === this.#markers.pid && pid !== undefined && /^\d+$/.test(pid)) {
      this.#pid = Number(pid);
      this.#stdout.push(text.subarray(newline + 1));
      if (this.#kill !== undefined) this.#killing ??= this.#killGroup();
    } else {
      this.#pid = -1; // no marker: a non-POSIX or noisy login shell; keep everything
      this.#stdout.push(text);
    }
  }

  #onStderr(chunk: Buffer): void {
    if (this.#started) return this.#stderr.push(chunk);
    this.#stderrPre.push(chunk);
    let text = Buffer.concat(this.#stderrPre).toString("latin1");
    const prompts = text.split(this.#markers.prompt).length - 1;
    if (prompts > this.#prompts) {
      this.#prompts = prompts;
      if (prompts === 1 && this.#request.sudo?.password !== undefined) {
        this.#process.stdin.write(Buffer.from(this.#request.sudo.password + "\n"));
      } else this.#requestKill("sudo");
    }
    const startAt = text.indexOf(this.#markers.start + "\n");
    if (startAt < 0) return;
    this.#started = true;
    const before = text.slice(0, startAt).split(this.#markers.prompt).join("");
    text = text.slice(startAt + this.#markers.start.length + 1);
    this.#stderrPre = [];
    // Lines sudo printed before the command started (e.g. its lecture) are dropped; only a failure matters.
    void before;
    this.#stderr.push(Buffer.from(text, "latin1"));
    this.#writeStdin();
  }

  #requestKill(reason: "timeout" | "cancel" | "sudo"): void {
    if (this.#kill !== undefined) return;
    this.#kill = reason;
    if (this.#pid !== undefined && this.#pid > 0) this.#killing = this.#killGroup();
    else if (this.#pid === -1) this.#process.close();
    else setTimeout(() => this.#killing === undefined && this.#process.close(), KILL_GRACE_MS);
  }

  async #killGroup(): Promise<void> {
    const grace = setTimeout(() => this.#process.close(), KILL_GRACE_MS);
    try {
      await killProcessGroup(this.#connection, this.#pid as number);
    } finally {
      clearTimeout(grace);
      this.#process.close();
    }
  }

  #result(code: number | null, signal: string | null, started: number): ExecResult {
    let stderr = this.#stderr;
    if (!this.#started && this.#stderrPre.length > 0) {
      // sudo never started the command: show what it said, minus our prompt.
      stderr = new HeadTailBuffer(this.#request.maxOutputBytes);
      const text = Buffer.concat(this.#stderrPre).toString().split(this.#markers.prompt).join("");
      stderr.push(new TextEncoder().encode(text));
    }
    const killed = this.#kill !== undefined;
    return {
      stdout: this.#stdout.text(),
      stderr: stderr.text(),
      exit_code: code,
      signal,
      timed_out: this.#kill === "timeout",
      cancelled: this.#kill === "cancel",
      connection_lost: !killed && code === null && signal === null,
      ...(this.#kill === "sudo" ? { sudo_failed: true } : {}),
      truncated: this.#stdout.truncated || stderr.truncated,
      stdout_bytes: this.#stdout.totalBytes,
      stderr_bytes: stderr.totalBytes,
      duration_ms: Math.round(performance.now() - started),
      executor: "exec",
    };
  }
}
