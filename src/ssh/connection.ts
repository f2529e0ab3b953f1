/**
 * The seam between tools and ssh2: what a live SSH connection can do. `client.ts` implements it over
 * ssh2; tool unit tests may fake it (the one allowed fake), end-to-end tests never do.
 */
import type { Buffer } from "node:buffer";
import type { Duplex, Readable, Writable } from "node:stream";

/** A remote command's channel, as the executor sees it. */
export interface RemoteProcess {
  /** Remote stdout. */
  stdout: Readable;
  /** Remote stderr. */
  stderr: Readable;
  /** Remote stdin. */
  stdin: Writable;
  /**
   * Resolves when the channel closes: with the exit code, or the signal name, or neither when the
   * connection dropped before the remote side reported one.
   */
  done: Promise<{ code: number | null; signal: string | null }>;
  /** Closes the channel (does not kill the remote process: see exec.ts). */
  close(): void;
}

/** SFTP operations used by the file tools (a thin typed face of ssh2's SFTP). */
export interface SftpSession {
  /** The raw ssh2 SFTP wrapper (typed loosely to keep ssh2 types inside client.ts). */
  // deno-lint-ignore no-explicit-any
  readonly raw: any;
  /** Closes the SFTP channel. */
  close(): void;
}

/** Options of {@link SshConnection.exec}. */
export interface ExecOptions {
  /** Gives up waiting for a free channel. */
  signal?: AbortSignal;
  /** Skips the channel queue (used to kill a process group when every channel is busy). */
  priority?: boolean;
}

/** A live SSH connection. */
export interface SshConnection extends AsyncDisposable {
  /** Runs `command` (text for the remote login shell) on a new exec channel; queues when all are busy. */
  exec(command: string, options?: ExecOptions): Promise<RemoteProcess>;
  /** Opens a direct-tcpip channel to host:port from the remote side (jump hosts). */
  forward(host: string, port: number): Promise<Duplex>;
  /** Opens an SFTP session on a new channel. */
  sftp(): Promise<SftpSession>;
  /** Resolves when the connection is gone, with the reason. */
  readonly closed: Promise<Error | undefined>;
  /** True until the connection closes. */
  readonly alive: boolean;
  /** The server's identification banner, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3". */
  readonly serverBanner: string;
  /** Ends the connection. */
  close(): Promise<void>;
}

/** Bytes from a stream chunk. */
export type Chunk = Buffer | Uint8Array | string;
