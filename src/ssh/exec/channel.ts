/**
 * Runs one remote command with exec-channel semantics and the guarantees of SPEC §6: a deadline,
 * cancellation that kills the remote process group out of band, separate capped streams, sudo with
 * the password over stdin, and an honest `connection_lost` when the link drops mid-command. The
 * script and the kill are `script.ts`'s; the timer, cancellation and result are `run.ts`'s.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { ExecRequest, ExecResult, RemoteProcess, SshConnection } from "../connection.ts";
import { HeadTailBuffer } from "./output_buffer.ts";
import { RunCore } from "./run.ts";
import { buildScript, killProcessGroup, type Markers, nonce } from "./script.ts";

/** Longest time to wait for the remote side to confirm a kill before closing the channel. */
const KILL_GRACE_MS = 3000;

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

/** One command on an exec channel: the pid marker on stdout, sudo's prompt and start line on stderr. */
class Run {
  readonly finished: Promise<ExecResult>;
  #core: RunCore;
  #connection: SshConnection;
  #process: RemoteProcess;
  #request: ExecRequest;
  #markers: Markers;
  #stdoutPre: Buffer[] = [];
  #stderrPre: Buffer[] = [];
  #pid: number | undefined;
  #started = false;
  #prompts = 0;

  constructor(
    connection: SshConnection,
    process: RemoteProcess,
    request: ExecRequest,
    markers: Markers,
    started: number,
  ) {
    this.#connection = connection;
    this.#process = process;
    this.#request = request;
    this.#markers = markers;
    this.#started = request.sudo === undefined;
    this.#core = new RunCore(request, { executor: "exec", onKill: () => this.#onKill(), started });
    process.stdout.on("data", (chunk: Buffer) => this.#onStdout(chunk));
    process.stderr.on("data", (chunk: Buffer) => this.#onStderr(chunk));
    process.stdin.on("error", () => {});
    if (request.sudo === undefined) this.#writeStdin();
    this.finished = process.done.then(({ code, signal }) =>
      this.#core.finish({
        code,
        signal,
        lost: this.#core.kill === undefined && code === null && signal === null,
        stderr: this.#sudoStderr(),
      })
    );
  }

  #writeStdin(): void {
    const stdin = this.#request.stdin;
    if (stdin !== undefined && stdin.length > 0) this.#process.stdin.end(Buffer.from(stdin));
    else this.#process.stdin.end();
  }

  #onStdout(chunk: Buffer): void {
    if (this.#pid !== undefined) return this.#core.stdout.push(chunk);
    this.#stdoutPre.push(chunk);
    const text = Buffer.concat(this.#stdoutPre);
    const newline = text.indexOf(10);
    if (newline < 0) return;
    const line = text.subarray(0, newline).toString();
    const [tag, pid] = line.split(":");
    this.#stdoutPre = [];
    if (tag === this.#markers.pid && pid !== undefined && /^\d+$/.test(pid)) {
      this.#pid = Number(pid);
      this.#core.stdout.push(text.subarray(newline + 1));
      if (this.#core.kill !== undefined) this.#core.killing ??= this.#killGroup();
    } else {
      this.#pid = -1; // no marker: a non-POSIX or noisy login shell; keep everything
      this.#core.stdout.push(text);
    }
  }

  #onStderr(chunk: Buffer): void {
    if (this.#started) return this.#core.stderr.push(chunk);
    this.#stderrPre.push(chunk);
    let text = Buffer.concat(this.#stderrPre).toString("latin1");
    const prompts = text.split(this.#markers.prompt).length - 1;
    if (prompts > this.#prompts) {
      this.#prompts = prompts;
      if (prompts === 1 && this.#request.sudo?.password !== undefined) {
        this.#process.stdin.write(Buffer.from(this.#request.sudo.password + "\n"));
      } else this.#core.requestKill("sudo");
    }
    const startAt = text.indexOf(this.#markers.start + "\n");
    if (startAt < 0) return;
    this.#started = true;
    // Lines sudo printed before the command started (e.g. its lecture) are dropped; only a failure matters.
    text = text.slice(startAt + this.#markers.start.length + 1);
    this.#stderrPre = [];
    this.#core.stderr.push(Buffer.from(text, "latin1"));
    this.#writeStdin();
  }

  #onKill(): void {
    if (this.#pid !== undefined && this.#pid > 0) this.#core.killing = this.#killGroup();
    else if (this.#pid === -1) this.#process.close();
    else setTimeout(() => this.#core.killing === undefined && this.#process.close(), KILL_GRACE_MS);
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

  /** When sudo never started the command: what it said, minus our prompt. */
  #sudoStderr(): HeadTailBuffer | undefined {
    if (this.#started || this.#stderrPre.length === 0) return undefined;
    const stderr = new HeadTailBuffer(this.#request.maxOutputBytes);
    const text = Buffer.concat(this.#stderrPre).toString().split(this.#markers.prompt).join("");
    stderr.push(new TextEncoder().encode(text));
    return stderr;
  }
}
