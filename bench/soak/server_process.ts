/**
 * The HTTP server under test as a process the soak can SIGKILL and start again on the same port and
 * data dir (as a supervisor would), under exactly the start task's permission flags. Every lifetime
 * is an "epoch"; its stderr is kept and scanned for crashes, and an exit the soak did not cause is
 * recorded as one.
 *
 * @module
 */
import { serverEnv, startTaskArgs } from "../../tests/_helpers/server.ts";

/** Lines of server stderr that mean a crash or a bug, whatever the exit status. */
export const CRASH_PATTERN = /Uncaught|unhandled|panicked|RUST_BACKTRACE|Segmentation fault|FATAL/i;

/** An exit of a server process the soak did not ask for. */
export interface UnexpectedExit {
  /** Which lifetime. */
  epoch: number;
  /** Exit code. */
  code: number;
  /** Signal, if any. */
  signal: string | null;
  /** The last lines of its stderr. */
  tail: string;
  /** When. */
  at: number;
  /** A clean shutdown on a signal the soak did not send (another process stopped it). */
  outside: boolean;
}

/** Options of {@link SoakServer}. */
export interface SoakServerOptions {
  /** HOME of the process (its data dir lives inside). */
  home: string;
  /** Extra CLI flags after main.ts. */
  args: string[];
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A restartable `main.ts -mode http` process. */
export class SoakServer implements AsyncDisposable {
  readonly port = freePort();
  readonly url = `http://127.0.0.1:${this.port}`;
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Incremented on every start. */
  epoch = 0;
  /** Times the soak SIGKILLed the server. */
  kills = 0;
  #options: SoakServerOptions;
  #child: Deno.ChildProcess | undefined;
  #expectExit = false;
  #stderr: string[] = [];
  #pumps: Promise<void>[] = [];
  #exited: Promise<void> = Promise.resolve();
  /** When the soak had the server down: from the kill to the first healthy answer after it. */
  readonly downWindows: Array<{ from: number; to?: number; outside?: boolean }> = [];
  #disposed = false;

  constructor(options: SoakServerOptions) {
    this.#options = options;
  }

  /** Pid of the running process. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Whether the process runs. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** All stderr so far, every lifetime, each prefixed with its epoch. */
  stderr(): string {
    return this.#stderr.join("");
  }

  /** Starts a new lifetime and waits until /healthz answers. */
  async start(): Promise<void> {
    if (this.#child) return;
    const epoch = ++this.epoch;
    const args = [
      ...await startTaskArgs(this.#options.home),
      "-mode",
      "http",
      "-port",
      String(this.port),
      ...this.#options.args,
    ];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env: serverEnv(this.#options.home),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#expectExit = false;
    const decoder = new TextDecoder();
    const collect = (stream: ReadableStream<Uint8Array>) =>
      stream.pipeTo(
        new WritableStream({ write: (c) => void this.#stderr.push(`[e${epoch}] ${decoder.decode(c)}`) }),
      ).catch(() => {});
    this.#pumps = [collect(child.stderr), collect(child.stdout)];
    this.#exited = child.status.then(async (status) => {
      await Promise.all(this.#pumps);
      if (this.#child === child) this.#child = undefined;
      if (!this.#expectExit) {
        const text = this.#stderr.filter((l) => l.startsWith(`[e${epoch}]`)).join("");
        // Exit 0 after "shutting down" is the server's answer to SIGINT/SIGTERM, which the soak did not
        // send: another process on this machine stopped it (not a crash).
        const outside = status.code === 0 && /INFO ssh-mcp\.main: shutting down/.test(text) &&
          !CRASH_PATTERN.test(text);
        this.unexpectedExits.push({
          epoch,
          code: status.code,
          signal: status.signal,
          tail: text.slice(-2000),
          at: Date.now(),
          outside,
        });
        // As a supervisor would: start it again, so the run goes on.
        if (!this.#disposed) {
          this.downWindows.push({ from: Date.now(), outside: true });
          this.start().catch((error) => this.#stderr.push(`[soak] restart failed: ${error}\n`));
        }
      }
    });
    const deadline = Date.now() + 30_000;
    while (true) {
      if (this.#child !== child) throw new Error(`server exited at start:\n${this.stderr().slice(-2000)}`);
      if (await this.healthy(1000)) {
        const window = this.downWindows.at(-1);
        if (window !== undefined && window.to === undefined) window.to = Date.now();
        return;
      }
      if (Date.now() > deadline) throw new Error(`server did not start:\n${this.stderr().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Whether /healthz answers 200 within `timeoutMs`. */
  async healthy(timeoutMs: number): Promise<boolean> {
    try {
      const r = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
      await r.body?.cancel();
      return r.ok;
    } catch {
      return false;
    }
  }

  /** SIGKILLs the process (no shutdown of any kind) and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#expectExit = true;
    this.downWindows.push({ from: Date.now() });
    this.kills++;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#exited;
  }

  /** SIGTERM, as an operator's stop; returns the exit code and how long the shutdown took. */
  async stop(): Promise<{ code: number; ms: number } | undefined> {
    this.#disposed = true;
    const child = this.#child;
    if (!child) return undefined;
    this.#expectExit = true;
    const started = Date.now();
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    const status = await child.status;
    await this.#exited;
    return { code: status.code, ms: Date.now() - started };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    const child = this.#child;
    if (!child) return;
    this.#expectExit = true;
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 15_000);
    try {
      child.kill("SIGTERM");
    } catch {
      // gone
    }
    await this.#exited;
    clearTimeout(timer);
  }
}
