/**
 * The SFTP protocol layer, the bottom of sftp/: the slice of ssh2's SFTPWrapper used (ssh2 types stay
 * inside client.ts), the SFTP v3 status codes and request sizing, the translation of raw replies into
 * {@link FileStat}s and errors that name the path and say what to do, and {@link SftpChannel}: typed,
 * promise-based primitives (metadata, pipelined reads that hash as they go) that `atomic_write.ts`
 * and `sftp.ts` build on.
 *
 * Throughput comes from large requests (the server's `limits@openssh.com` read/write size, 255 KiB on
 * OpenSSH) with many outstanding at once; memory stays bounded because at most `depth` chunks are in
 * flight per transfer and chunk buffers are reused.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { SshError, ToolError } from "../../errors.ts";

// ---------------------------------------------------------------------------------------------
// public types

/** Kind of a directory entry, from the mode's type bits. */
export type FileType =
  | "file"
  | "directory"
  | "symlink"
  | "fifo"
  | "socket"
  | "char_device"
  | "block_device"
  | "unknown";

/** File metadata as SFTP v3 reports it. */
export interface FileStat {
  /** Kind of file. */
  type: FileType;
  /** Size in bytes. */
  size: number;
  /** Permission bits including setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  /** Numeric owner. */
  uid: number;
  /** Numeric group. */
  gid: number;
  /** Access time, seconds since the epoch. */
  atime: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
}

/** Options of {@link SftpChannel.readEach}. */
export interface ReadEachOptions {
  /** First byte to read (default 0). */
  start?: number;
  /** Byte after the last one to read (default: the size at open). */
  end?: number;
  /** Refuse files larger than this many bytes (checked before reading). */
  maxBytes?: number;
  /** Aborts the read. */
  signal?: AbortSignal;
}

/** Result of {@link SftpChannel.readEach}. */
export interface ReadSummary {
  /** Metadata of the file when it was opened. */
  stat: FileStat;
  /** Bytes read. */
  size: number;
  /** Hex sha256 of the bytes read. */
  sha256: string;
  /** True when the whole file was read, so `sha256` is the file's. */
  complete: boolean;
}

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

// ---------------------------------------------------------------------------------------------
// the channel

/** One SFTP channel with typed, promise-based primitives; `Sftp` (sftp.ts) adds the rest. */
export class SftpChannel {
  /** The raw ssh2 channel (protocol level: `sftp.ts` and `atomic_write.ts` build on it). */
  readonly raw: RawSftp;
  #session: SftpSession;
  #alive = true;

  /** Wraps an open SFTP channel; `onClose` runs once when it closes. */
  constructor(session: SftpSession, onClose: () => void = () => {}) {
    this.#session = session;
    this.raw = session.raw as RawSftp;
    const closed = () => {
      if (!this.#alive) return;
      this.#alive = false;
      onClose();
    };
    this.raw.once("close", closed);
    this.raw.once("end", closed);
    // A protocol error is emitted as an event; unhandled, it would crash the process.
    this.raw.on("error", closed);
  }

  /** False once the channel closed (the connection dropped or {@link close} was called). */
  get alive(): boolean {
    return this.#alive;
  }

  /** Largest read the server accepts in one request. */
  get readChunk(): number {
    return Math.min(MAX_CHUNK, this.raw._maxReadLen ?? FALLBACK_CHUNK);
  }

  /** Largest write the server accepts in one request. */
  get writeChunk(): number {
    return Math.min(MAX_CHUNK, this.raw._maxWriteLen ?? FALLBACK_CHUNK);
  }

  /** Whether the server announced an extension, e.g. `posix-rename@openssh.com`. */
  hasExtension(name: string): boolean {
    return this.raw._extensions?.[name] !== undefined;
  }

  /** Closes the channel. */
  close(): void {
    this.#alive = false;
    this.#session.close();
  }

  /**
   * Calls a raw method, translating failures with {@link sftpError}; fails fast on a closed channel
   * (ssh2 would never call back).
   */
  call<T>(action: string, path: string, invoke: (cb: Callback<T>) => void): Promise<T> {
    if (!this.#alive) {
      return Promise.reject(
        new SshError("connection_lost", `Cannot ${action} "${path}": the SFTP channel is closed`),
      );
    }
    return new Promise<T>((resolve, reject) => {
      try {
        invoke((error, value) => (error ? reject(sftpError(action, path, error)) : resolve(value)));
      } catch (error) {
        reject(sftpError(action, path, error));
      }
    });
  }

  /** Metadata of `path`, following symlinks. */
  async stat(path: string): Promise<FileStat> {
    const p = expandHome(path);
    return toStat(await this.call<RawAttrs>("stat", path, (cb) => this.raw.stat(p, cb)));
  }

  /** Metadata of `path` itself (a symlink is reported as one). */
  async lstat(path: string): Promise<FileStat> {
    const p = expandHome(path);
    return toStat(await this.call<RawAttrs>("stat", path, (cb) => this.raw.lstat(p, cb)));
  }

  /** Metadata of `path`, or undefined when nothing exists there. */
  async lstatIfExists(path: string): Promise<FileStat | undefined> {
    try {
      return await this.lstat(path);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Absolute, symlink-free form of `path` (the last component may be missing). */
  realpath(path: string): Promise<string> {
    const p = expandHome(path);
    return this.call<string>("resolve", path, (cb) => this.raw.realpath(p, cb));
  }

  /** The target of a symlink, as stored. */
  readlink(path: string): Promise<string> {
    return this.call<string>("read the link", path, (cb) => this.raw.readlink(expandHome(path), cb));
  }

  /** Removes a file or symlink. */
  unlink(path: string): Promise<void> {
    return this.call<void>("remove", path, (cb) => this.raw.unlink(expandHome(path), cb));
  }

  /** Creates `path` and its missing parents (like `mkdir -p`). */
  async mkdirs(path: string, mode = 0o755): Promise<void> {
    const p = expandHome(path);
    // Not realpath: it fails when more than the last component is missing.
    const absolute = posix.isAbsolute(p) ? posix.normalize(p) : posix.join(await this.realpath("."), p);
    const missing: string[] = [];
    for (let dir = absolute; dir !== "/" && dir !== "."; dir = posix.dirname(dir)) {
      const stat = await this.statIfExists(dir);
      if (stat?.type === "directory") break;
      if (stat !== undefined) {
        throw new ToolError(`Cannot create directory "${dir}": a ${stat.type} exists there`, {
          hint: "Choose another path or remove that file first.",
        });
      }
      missing.unshift(dir);
    }
    for (const dir of missing) {
      try {
        await this.call<void>("create directory", dir, (cb) => this.raw.mkdir(dir, { mode }, cb));
      } catch (error) {
        // Another writer may have created it meanwhile.
        if ((await this.statIfExists(dir))?.type !== "directory") throw error;
      }
    }
  }

  /** Metadata of `path` (following symlinks), or undefined when nothing exists there. */
  async statIfExists(path: string): Promise<FileStat | undefined> {
    try {
      return await this.stat(path);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Opens a file handle (`flags` as ssh2 takes them). */
  async openHandle(path: string, flags: string, attrs: SetAttrs = {}): Promise<Buffer> {
    return await this.call<Buffer>(
      flags.startsWith("r") ? "open" : "create",
      path,
      (cb) => this.raw.open(path, flags, attrs, cb),
    );
  }

  /** Closes a file handle, ignoring errors. */
  closeHandle(handle: Buffer): Promise<void> {
    if (!this.#alive) return Promise.resolve();
    return new Promise((resolve) => this.raw.close(handle, () => resolve()));
  }

  /**
   * Reads `[start, end)` of an open file in order with up to {@link DEPTH} requests in flight; `end`
   * undefined reads to EOF. A yielded chunk is only valid until the next one is requested (buffers
   * are reused), which also gives back-pressure: nothing more is requested while the consumer works.
   */
  async *readChunks(
    handle: Buffer,
    path: string,
    start: number,
    end: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Buffer> {
    const size = this.readChunk;
    const pool: Buffer[] = [];
    const pending: Array<{ pos: number; len: number; buf: Buffer; result: Promise<number> }> = [];
    const issue = (pos: number, len: number) => {
      const buf = pool.pop() ?? Buffer.allocUnsafe(size);
      const result = this.call<number>("read", path, (cb) => this.raw.read(handle, buf, 0, len, pos, cb));
      result.catch(() => {}); // awaited in order below; an abandoned one must not be unhandled
      return { pos, len, buf, result };
    };
    let next = start;
    let eof = false;
    while (true) {
      while (!eof && pending.length < DEPTH && (end === undefined || next < end)) {
        const len = end === undefined ? size : Math.min(size, end - next);
        pending.push(issue(next, len));
        next += len;
      }
      const head = pending.shift();
      if (head === undefined) return;
      const n = await head.result;
      signal?.throwIfAborted();
      if (n === 0) {
        eof = true; // later requests lie beyond EOF; their answers are ignored
        pending.length = 0;
        return;
      }
      if (n < head.len) pending.unshift(issue(head.pos + n, head.len - n));
      yield head.buf.subarray(0, n);
      pool.push(head.buf);
    }
  }

  /**
   * Streams a file (or `[start, end)` of it) through sha256, handing each chunk to `onChunk`; the
   * chunk is valid only during the call, and returning `false` stops the read. Files are read up to
   * the size seen at open; files that report size 0 (such as /proc files) are read to EOF.
   */
  async readEach(
    path: string,
    onChunk: (chunk: Buffer, position: number, stat: FileStat) => boolean | void,
    options: ReadEachOptions = {},
  ): Promise<ReadSummary> {
    const p = expandHome(path);
    const stat = await this.stat(p);
    if (stat.type === "directory") {
      throw new ToolError(`Cannot read "${path}": it is a directory`, {
        hint: "Use `list_dir` to see its entries, then read a file inside it.",
      });
    }
    if (stat.type !== "file") {
      throw new ToolError(`Cannot read "${path}": it is a ${stat.type}, not a regular file`);
    }
    if (options.maxBytes !== undefined && stat.size > options.maxBytes) {
      throw new ToolError(
        `Cannot read "${path}": it has ${stat.size} bytes, more than the ${options.maxBytes} this operation allows`,
        { hint: "Use `read` with offset/limit for a window, or `run` with a command for large files." },
      );
    }
    const start = options.start ?? 0;
    const end = options.end ?? (stat.size > 0 ? stat.size : undefined);
    const handle = await this.openHandle(p, "r");
    const hash = createHash("sha256");
    let position = start;
    let stopped = false;
    try {
      for await (const chunk of this.readChunks(handle, path, start, end, options.signal)) {
        hash.update(chunk);
        if (onChunk(chunk, position, stat) === false) stopped = true;
        position += chunk.length;
        if (options.maxBytes !== undefined && position > options.maxBytes) {
          throw new ToolError(
            `Cannot read "${path}": it grew past ${options.maxBytes} bytes while being read`,
          );
        }
        if (stopped) break;
      }
    } finally {
      await this.closeHandle(handle);
    }
    return {
      stat,
      size: position - start,
      sha256: hash.digest("hex"),
      complete: start === 0 && !stopped && options.end === undefined,
    };
  }

  /** Hex sha256 of a file's content. */
  async sha256(path: string, signal?: AbortSignal): Promise<string> {
    return (await this.readEach(path, () => {}, { signal })).sha256;
  }

  /**
   * Resolves where a write to `path` lands: a symlink (chain) is followed to its target, so the
   * link stays a link. Returns the target path and its metadata (undefined when it does not exist).
   */
  async resolveForWrite(path: string): Promise<{ path: string; symlink?: string; existing?: FileStat }> {
    const p = expandHome(path);
    const own = await this.lstatIfExists(p);
    if (own?.type !== "symlink") return { path: p, existing: own };
    const real = await this.realpath(p);
    return { path: real, symlink: p, existing: await this.lstatIfExists(real) };
  }
}
