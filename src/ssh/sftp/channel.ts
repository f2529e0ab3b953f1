/**
 * The SFTP protocol layer under `sftp.ts`: the slice of ssh2's SFTPWrapper the helpers use
 * (ssh2 types stay inside client.ts), the SFTP v3 status codes and request sizing, and the
 * translation of raw replies into {@link FileStat}s and errors that name the path and say what to do.
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { SshError, ToolError } from "../../errors.ts";
import type { FileStat, FileType } from "./sftp.ts";

// ---------------------------------------------------------------------------------------------
// the slice of ssh2's SFTPWrapper used here (ssh2 types stay inside client.ts)

/** An SFTP channel as `SshConnection.sftp()` opens it (a thin typed face of ssh2's SFTP). */
export interface SftpSession {
  /** The raw ssh2 SFTP wrapper (typed loosely to keep ssh2 types inside client.ts). */
  // deno-lint-ignore no-explicit-any
  readonly raw: any;
  /** Closes the SFTP channel. */
  close(): void;
}

/** File attributes as ssh2 reports them. */
export interface RawAttrs {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atime: number;
  mtime: number;
}

/** Attributes ssh2 accepts when creating or changing a file. */
export interface SetAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
  atime?: number;
  mtime?: number;
}

/** One `readdir` entry as ssh2 reports it. */
export interface RawEntry {
  filename: string;
  longname: string;
  attrs: RawAttrs;
}

/** An ssh2 SFTP error; `code` is the SFTP status when the server answered. */
export type RawError = Error & { code?: number | string };
/** ssh2's node-style callback. */
export type Callback<T> = (error: RawError | undefined | null, value: T) => void;

/** The methods of ssh2's SFTPWrapper the helpers call. */
export interface RawSftp {
  open(path: string, flags: string, attrs: SetAttrs, cb: Callback<Buffer>): void;
  close(handle: Buffer, cb: Callback<void>): void;
  read(
    handle: Buffer,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    cb: (error: RawError | undefined | null, bytesRead: number) => void,
  ): void;
  write(
    handle: Buffer,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    cb: Callback<void>,
  ): void;
  fstat(handle: Buffer, cb: Callback<RawAttrs>): void;
  fsetstat(handle: Buffer, attrs: SetAttrs, cb: Callback<void>): void;
  stat(path: string, cb: Callback<RawAttrs>): void;
  lstat(path: string, cb: Callback<RawAttrs>): void;
  setstat(path: string, attrs: SetAttrs, cb: Callback<void>): void;
  readdir(path: string, cb: Callback<RawEntry[]>): void;
  readlink(path: string, cb: Callback<string>): void;
  realpath(path: string, cb: Callback<string>): void;
  mkdir(path: string, attrs: SetAttrs, cb: Callback<void>): void;
  unlink(path: string, cb: Callback<void>): void;
  symlink(target: string, linkPath: string, cb: Callback<void>): void;
  ext_openssh_rename(from: string, to: string, cb: Callback<void>): void;
  ext_openssh_fsync(handle: Buffer, cb: Callback<void>): void;
  ext_openssh_statvfs(path: string, cb: Callback<{ f_bavail: number; f_frsize: number }>): void;
  once(event: "close" | "end", listener: () => void): void;
  on(event: "error", listener: () => void): void;
  _extensions?: Record<string, string>;
  _maxReadLen?: number;
  _maxWriteLen?: number;
}

/** SFTP v3 status codes. */
export const STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  OP_UNSUPPORTED: 8,
} as const;
const S_IFMT = 0o170000;

/** Requests in flight per transfer: 16 × 255 KiB keeps loopback and LAN links busy (measured). */
export const DEPTH = 16;
/** Used when the server does not announce limits (the SFTP draft's guaranteed minimum). */
export const FALLBACK_CHUNK = 32_000;
/** Upper bound of one request, whatever the server announces. */
export const MAX_CHUNK = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// errors

/** Turns an SFTP failure into an error that names the path and says what to do. */
export function sftpError(action: string, path: string, error: unknown): Error {
  if (error instanceof ToolError || error instanceof SshError) return error;
  if (error instanceof DOMException && error.name === "AbortError") return error;
  const raw = error as RawError;
  const where = `Cannot ${action} "${path}"`;
  switch (raw?.code) {
    case STATUS.NO_SUCH_FILE:
      return new ToolError(`${where}: no such file or directory`, {
        cause: error,
        hint:
          "Check the path (relative paths start at the login user's home); `list_dir` on the parent shows what exists. To create parent directories pass create_dirs: true.",
      });
    case STATUS.PERMISSION_DENIED:
      return new ToolError(`${where}: permission denied`, {
        cause: error,
        hint:
          "The login user lacks access. Connect as a user who has it (e.g. root), or change the permissions with `run` (chmod/chown) if that is intended.",
      });
    case STATUS.FAILURE:
      return new ToolError(`${where}: the server reported a failure (${raw.message})`, {
        cause: error,
        hint:
          "Common causes: the path is a directory, a parent is not a directory, or the disk is full (check with `run` df -h).",
      });
    case STATUS.OP_UNSUPPORTED:
      return new ToolError(`${where}: the SFTP server does not support this operation`, { cause: error });
  }
  const message = raw?.message ?? String(error);
  if (/No response from server|not open|closed|ECONNRESET|EPIPE/i.test(message)) {
    return new SshError("connection_lost", `${where}: the connection dropped (${message})`, { cause: error });
  }
  return new SshError("sftp_failed", `${where}: ${message}`, { cause: error });
}

/** Whether an SFTP failure (raw or translated) means that nothing exists at the path. */
export function isMissing(error: unknown): boolean {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  return (cause as RawError | undefined)?.code === STATUS.NO_SUCH_FILE;
}

/** Whether an error means the connection dropped. */
export function isLost(error: unknown): boolean {
  return error instanceof SshError && error.code === "connection_lost";
}

// ---------------------------------------------------------------------------------------------
// small pure helpers

function typeOf(mode: number): FileType {
  switch (mode & S_IFMT) {
    case 0o100000:
      return "file";
    case 0o040000:
      return "directory";
    case 0o120000:
      return "symlink";
    case 0o010000:
      return "fifo";
    case 0o140000:
      return "socket";
    case 0o020000:
      return "char_device";
    case 0o060000:
      return "block_device";
    default:
      return "unknown";
  }
}

/** The public {@link FileStat} of raw attributes. */
export function toStat(attrs: RawAttrs): FileStat {
  return {
    type: typeOf(attrs.mode),
    size: attrs.size,
    mode: attrs.mode & 0o7777,
    uid: attrs.uid,
    gid: attrs.gid,
    atime: attrs.atime,
    mtime: attrs.mtime,
  };
}

/** SFTP paths have no `~`: the server starts relative paths in the login user's home. */
export function expandHome(path: string): string {
  if (path === "~") return ".";
  if (path.startsWith("~/")) return path.slice(2) || ".";
  return path;
}
