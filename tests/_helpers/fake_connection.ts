/**
 * A fake {@link SshConnection}: the one fake the developers' guide allows, at the seam of
 * src/ssh/connection.ts, for tool unit tests. Commands are answered by a test's `respond` function
 * with canned output; nothing is executed. End-to-end tests never use it (they start a real sshd).
 *
 * What it plays faithfully: the exec channel's pid marker line (so the executor sees a POSIX login
 * shell), the warm-shell handshake answered with "no-setsid" (so every command goes over exec
 * channels, deterministically), exit codes, and a connection that can be dropped.
 */
import { Buffer } from "node:buffer";
import { type Duplex, PassThrough } from "node:stream";
import type { OpenOptions } from "../../src/ssh/client.ts";
import type { ExecOptions, RemoteProcess, SftpSession, SshConnection } from "../../src/ssh/connection.ts";

/** What a fake command prints and how it ends. */
export interface FakeReply {
  /** Bytes on stdout (after the pid marker). */
  stdout?: string;
  /** Bytes on stderr. */
  stderr?: string;
  /** Exit code (default 0). */
  code?: number;
}

/** One command the fake was asked to run. */
export interface FakeCommand {
  /** The whole script the executor sent (pid marker line included). */
  script: string;
  /** The script without the executor's pid marker line: env, cwd and the tool's command. */
  body: string;
  /** The section marker of a sectioned script (`M=@@mcp…@@`), when there is one. */
  marker?: string;
  /** Bytes the executor wrote to stdin. */
  stdin: Promise<string>;
}

/** Answers a command; undefined means "command not found" (exit 127). */
export type Respond = (command: FakeCommand) => FakeReply | undefined | Promise<FakeReply | undefined>;

/** Options of {@link FakeConnection}. */
export interface FakeConnectionOptions {
  /** Answers every command that is not infrastructure (warm-shell start, kill). */
  respond: Respond;
  /** The server banner. */
  banner?: string;
}

const PID_LINE = /^printf '%s:%s\\n' '?(mcp[0-9a-f]+)'? "\$\$"(?:\n|; )/;
const MARKER = /(?:^|\n)M='?(@@mcp[0-9a-f]+@@)'?/;
const WARM_SHELL_NONCE = /__mcp_nonce='?(mcp[0-9a-f]+)'?/;
const FAKE_PID = 4242;

/**
 * Formats sectioned output the way a remote script's `s <name>` helper prints it.
 *
 * @example
 * ```ts
 * respond: (c) => ({ stdout: sections(c.marker!, { loadavg: "0.10 0.20 0.30 1/99 42" }) })
 * ```
 */
export function sections(marker: string, parts: Record<string, string>): string {
  return Object.entries(parts).map(([name, text]) => `\n${marker} ${name}\n${text}\n`).join("");
}

/** A fake live SSH connection. */
export class FakeConnection implements SshConnection {
  /** Every command sent to {@link FakeConnectionOptions.respond}, in order. */
  readonly commands: FakeCommand[] = [];
  readonly serverBanner: string;
  readonly closed: Promise<Error | undefined>;
  #respond: Respond;
  #alive = true;
  #close!: (reason: Error | undefined) => void;
  #running = new Set<(reply: FakeReply, code: number | null) => void>();

  /** Creates a live fake connection. */
  constructor(options: FakeConnectionOptions) {
    this.#respond = options.respond;
    this.serverBanner = options.banner ?? "SSH-2.0-FakeSSH_1.0";
    this.closed = new Promise((resolve) => this.#close = resolve);
  }

  get alive(): boolean {
    return this.#alive;
  }

  exec(command: string, options: ExecOptions = {}): Promise<RemoteProcess> {
    options.signal?.throwIfAborted();
    if (!this.#alive) return Promise.reject(new Error("Not connected"));
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const stdin = new StdinTap();
    let finish!: (outcome: { code: number | null; signal: string | null }) => void;
    const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => finish = resolve);
    const end = (reply: FakeReply, code: number | null) => {
      if (!this.#running.delete(end)) return;
      if (reply.stdout) stdout.write(reply.stdout);
      if (reply.stderr) stderr.write(reply.stderr);
      stdout.end();
      stderr.end();
      // Data events are delivered before the channel reports its exit, as with ssh2.
      setTimeout(() => finish({ code, signal: null }), 0);
    };
    this.#running.add(end);
    const process: RemoteProcess = { stdout, stderr, stdin: stdin.stream, done, close: () => end({}, null) };
    void this.#answer(command, stdin, end);
    return Promise.resolve(process);
  }

  async #answer(command: string, stdin: StdinTap, end: (reply: FakeReply, code: number | null) => void) {
    if (command === "exec /bin/sh -s") {
      // The warm-shell handshake: answer "no-setsid", so commands use exec channels.
      const nonce = (await stdin.waitFor(WARM_SHELL_NONCE))[1];
      return end({ stdout: `${nonce} no-setsid\n`, stderr: `${nonce}\n` }, 0);
    }
    if (/^kill -TERM -\d+ /.test(command)) return end({}, 0);
    const pid = PID_LINE.exec(command);
    const body = pid === null ? command : command.slice(pid[0].length);
    const fake: FakeCommand = { script: command, body, marker: MARKER.exec(body)?.[1], stdin: stdin.ended };
    this.commands.push(fake);
    let reply: FakeReply | undefined;
    try {
      reply = await this.#respond(fake);
    } catch (error) {
      reply = { stderr: `fake: ${(error as Error).message}\n`, code: 1 };
    }
    reply ??= { stderr: `fake: no canned reply for: ${body.slice(0, 200)}\n`, code: 127 };
    const marker = pid === null ? "" : `${pid[1]}:${FAKE_PID}\n`;
    end({ ...reply, stdout: marker + (reply.stdout ?? "") }, reply.code ?? 0);
  }

  forward(): Promise<Duplex> {
    return Promise.reject(new Error("FakeConnection cannot forward ports"));
  }

  sftp(): Promise<SftpSession> {
    return Promise.reject(new Error("FakeConnection has no SFTP"));
  }

  /** Drops the connection: running commands end without an exit status (`connection_lost`). */
  drop(reason = new Error("fake connection dropped")): void {
    if (!this.#alive) return;
    this.#alive = false;
    for (const end of [...this.#running]) end({}, null);
    this.#close(reason);
  }

  close(): Promise<void> {
    if (this.#alive) {
      this.#alive = false;
      for (const end of [...this.#running]) end({}, null);
      this.#close(undefined);
    }
    return Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A channel's stdin as the fake reads it: the text so far, a wait for a pattern, and its end. */
class StdinTap {
  readonly stream = new PassThrough();
  readonly ended: Promise<string>;
  #text = "";
  #waiters: Array<() => void> = [];

  constructor() {
    this.stream.on("data", (chunk: Buffer) => {
      this.#text += Buffer.from(chunk).toString();
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
    this.ended = new Promise((resolve) => this.stream.on("end", () => resolve(this.#text)));
  }

  async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    while (true) {
      const match = pattern.exec(this.#text);
      if (match !== null) return match;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }
}

/** An `open` for `ManagerOptions` that hands out a new {@link FakeConnection} per connect. */
export function fakeOpener(
  options: FakeConnectionOptions,
): { open: (options: OpenOptions) => Promise<SshConnection>; opened: FakeConnection[] } {
  const opened: FakeConnection[] = [];
  return {
    opened,
    open: async (open) => {
      // The host key check runs as in a real handshake (the policy sees a fixed fake key).
      await open.checkHostKey(new TextEncoder().encode(`fake-host-key ${open.host}:${open.port}`));
      const connection = new FakeConnection(options);
      opened.push(connection);
      return connection;
    },
  };
}
