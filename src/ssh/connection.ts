/**
 * The narrow interfaces of ssh/: what tools see of a session's connections ({@link Connections}, implemented
 * by `manager.ts`: exec, SFTP, sudo and reconnect behind one alias), the requests and results they
 * exchange, and the seam to ssh2 ({@link SshConnection}, implemented by `client.ts` over ssh2; tool unit
 * tests may fake it, the one allowed fake, end-to-end tests never do).
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import type { Duplex, Readable, Writable } from "node:stream";
import type { ShellCommand } from "../shell/sh.ts";
import type { HostKeyVerdict } from "./host_keys/policy.ts";
import type { JobStore } from "./jobs/store.ts";
import type { SftpSession } from "./sftp/channel.ts";
import type { Sftp } from "./sftp/sftp.ts";

export type { SftpSession };

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

// ---------------------------------------------------------------------------------------------
// commands

/** What to run. */
export interface ExecRequest {
  /** The script, built with `sh` (user text only ever arrives here as sh`eval ${text}`). */
  command: ShellCommand;
  /** Working directory; the command fails with exit 1 when it does not exist. */
  cwd?: string;
  /** Environment variables (names must be shell identifiers). Not for secrets: use `stdin`. */
  env?: Readonly<Record<string, string>>;
  /** Bytes for the command's stdin; `/dev/null`-like EOF when absent. */
  stdin?: Uint8Array;
  /** Run through sudo: with the password over stdin when given, else `sudo -n`. */
  sudo?: { password?: string };
  /** Deadline in ms; the process group is killed when it passes. */
  timeoutMs: number;
  /** Per-stream cap in bytes (head and tail kept). */
  maxOutputBytes: number;
  /** Cancels the command (the process group is killed). */
  signal?: AbortSignal;
  /** Sees the output as it arrives, uncapped (the result keeps only `maxOutputBytes`). */
  observe?: OutputObserver;
}

/** Receives a command's output chunks as they arrive. */
export interface OutputObserver {
  /** A stdout chunk. */
  stdout?(chunk: Uint8Array): void;
  /** A stderr chunk. */
  stderr?(chunk: Uint8Array): void;
}

/** What happened. Field names are snake_case because they are returned to the model as is. */
export interface ExecResult {
  /** Captured stdout (UTF-8, lossy), head and tail when truncated. */
  stdout: string;
  /** Captured stderr. */
  stderr: string;
  /** Exit code, or null when killed by a signal or the outcome is unknown. */
  exit_code: number | null;
  /** Signal name (e.g. "TERM") when the command died from one. */
  signal: string | null;
  /** The deadline passed and the process group was killed. */
  timed_out: boolean;
  /** The call was cancelled and the process group was killed. */
  cancelled: boolean;
  /** The link dropped before the command finished: its outcome is unknown. It is never re-run. */
  connection_lost: boolean;
  /** sudo refused the given password. */
  sudo_failed?: boolean;
  /** Whether either stream was truncated. */
  truncated: boolean;
  /** Total bytes the command wrote to stdout. */
  stdout_bytes: number;
  /** Total bytes the command wrote to stderr. */
  stderr_bytes: number;
  /** Wall time in ms. */
  duration_ms: number;
  /** Which executor ran it. */
  executor: "exec" | "shell";
}

// ---------------------------------------------------------------------------------------------
// what tools see: a session's connections

/** What a caller asks `connect` for: like {@link ConnectSpec}, but the user may come from ~/.ssh/config. */
export type ConnectRequest = Omit<ConnectSpec, "username" | "identityFiles" | "identitiesOnly"> & {
  username?: string;
};

/** Arguments of one connection. Secrets stay in memory only for reconnects. */
export interface ConnectSpec {
  /** Host name or address (as seen from the jump host with `via`). */
  host: string;
  /** TCP port, default 22. */
  port?: number;
  /** Remote user. */
  username: string;
  /** Password (password and keyboard-interactive auth; also sudo when no sudo password). */
  password?: string;
  /** Private key path inside ~/.ssh or the data dir. */
  privateKeyPath?: string;
  /** Passphrase of the key. */
  passphrase?: string;
  /** Name for the connection; default `user@host[:port]`. */
  alias?: string;
  /** Alias of an existing connection to tunnel through. */
  via?: string;
  /** Password for `sudo -S`. */
  sudoPassword?: string;
  /** IdentityFile entries (from ~/.ssh/config). */
  identityFiles?: readonly string[];
  /** IdentitiesOnly (from ~/.ssh/config). */
  identitiesOnly?: boolean;
}

/** What a connect reports. */
export interface ConnectOutcome {
  /** The alias to pass as `target`. */
  alias: string;
  /** `user@host:port`. */
  target: string;
  /** Jump alias, if any. */
  via?: string;
  /** True when an existing live connection was reused. */
  reused: boolean;
  /** Host-key verdict of this hop. */
  hostKey: HostKeyVerdict;
  /** Server identification. */
  banner: string;
  /** Jump hosts connected (or reused) first, from ~/.ssh/config ProxyJump. */
  jumps?: string[];
  /** What ~/.ssh/config resolution ignored or degraded. */
  warnings?: string[];
}

/** A connection as listed by the `connections` tool. */
export interface ConnectionInfo {
  /** Alias. */
  alias: string;
  /** `user@host:port`. */
  target: string;
  /** Jump alias. */
  via?: string;
  /** "connected", "reconnecting" or "disconnected" (reconnects on next use). */
  state: "connected" | "reconnecting" | "disconnected";
  /** Seconds since last use. */
  idle_seconds: number;
  /** Host key fingerprint. */
  host_key_fingerprint: string;
  /** Whether this is the default target. */
  default: boolean;
}

/** What a tool asks {@link Connections.exec} to run: an {@link ExecRequest} whose sudo password the manager adds. */
export interface RunRequest extends Omit<ExecRequest, "sudo"> {
  /** Run through sudo, with the sudo password given at `connect` (else `sudo -n`). */
  sudo?: boolean;
}

/**
 * The connections of one session, as tools see them (implemented by `ConnectionManager`). A `target`
 * is an alias; undefined means the most recently used connection. Every method that reaches a host
 * reconnects a dropped link first; only opening a channel (which has not started anything) is retried
 * after a reconnect, never a command that was running.
 */
export interface Connections {
  /** Connects (or reuses a connection to the same target under the same alias). */
  connect(request: ConnectRequest, signal?: AbortSignal): Promise<ConnectOutcome>;
  /** The alias `target` names (default: the most recently used), its link reconnected if it dropped. */
  resolve(target: string | undefined, signal?: AbortSignal): Promise<string>;
  /** Runs a command on a warm shell or an exec channel of `target`. */
  exec(target: string | undefined, request: RunRequest): Promise<ExecResult & { alias: string }>;
  /** The shared SFTP session of `target` (one channel per connection, reopened when it closed). */
  sftp(target: string | undefined, signal?: AbortSignal): Promise<{ alias: string; sftp: Sftp }>;
  /**
   * The job store of `target` (SPEC §10): jobs started on its host, kept across reconnects; its
   * scripts run on exec channels, a start that waits for the end on a warm shell.
   */
  jobs(target: string | undefined, signal?: AbortSignal): Promise<{ alias: string; jobs: JobStore }>;
  /** Closes one connection and everything tunnelled through it; returns the aliases closed. */
  disconnect(alias: string): Promise<string[]>;
  /** Closes every connection; returns the aliases closed. */
  disconnectAll(): Promise<string[]>;
  /** The session's connections. */
  list(): ConnectionInfo[];
  /** The concrete `Host` names of ~/.ssh/config `connect` resolves (for connect on demand). */
  configHosts(): string[];
}
