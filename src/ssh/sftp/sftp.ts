/**
 * Typed SFTP helpers over one cached SFTP channel per connection: metadata, pipelined reads that
 * hash as they go, directory listings, and the entry point of atomic writes (temp file, fsync,
 * posix-rename) that keep mode and owner — implemented in `sftp_write.ts`. The bounded-memory
 * streaming copy between two connections is in `sftp_copy.ts`; the raw ssh2 slice, status codes and
 * error translation in `sftp_raw.ts`.
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
import {
  type Callback,
  DEPTH,
  expandHome,
  FALLBACK_CHUNK,
  isMissing,
  MAX_CHUNK,
  type RawAttrs,
  type RawEntry,
  type RawSftp,
  type SetAttrs,
  sftpError,
  type SftpSession,
  toStat,
} from "./channel.ts";
import {
  type AtomicWriteOptions,
  type SftpPort,
  SftpWriter,
  tempPathFor,
  type WriteOutcome,
} from "./atomic_write.ts";

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

/** One entry of {@link Sftp.list}. */
export interface DirEntry extends FileStat {
  /** File name (no directory part). */
  name: string;
  /** Owner name as the server's `ls -l` style listing shows it (a number when unknown). */
  owner: string;
  /** Group name, likewise. */
  group: string;
  /** Where a symlink points (as stored, not resolved). */
  target?: string;
}

/** Options of {@link Sftp.list}. */
export interface ListOptions {
  /** Include names starting with a dot. */
  all?: boolean;
  /** Keep at most this many entries (after sorting); the rest are counted in `omitted`. */
  limit?: number;
}

/** Result of {@link Sftp.list}. */
export interface DirListing {
  /** Absolute path of the directory. */
  path: string;
  /** Entries sorted by name. */
  entries: DirEntry[];
  /** Entries matching the filter (before the limit). */
  total: number;
  /** Entries left out by the limit. */
  omitted: number;
}

/** Options of {@link Sftp.readEach}. */
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

/** Result of {@link Sftp.readEach}. */
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
// formatting

/** `0644`-style octal text of permission bits. */
export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

const TYPE_CHARS: Record<FileType, string> = {
  file: "-",
  directory: "d",
  symlink: "l",
  fifo: "p",
  socket: "s",
  char_device: "c",
  block_device: "b",
  unknown: "?",
};

/**
 * `ls -l` style permission text, e.g. `-rwxr-sr-t`.
 *
 * @example
 * ```ts
 * symbolicMode("file", 0o4755); // "-rwsr-xr-x"
 * ```
 */
export function symbolicMode(type: FileType, mode: number): string {
  const bit = (mask: number, char: string) => (mode & mask ? char : "-");
  const special = (exec: number, flag: number, set: string) =>
    mode & flag ? (mode & exec ? set : set.toUpperCase()) : bit(exec, "x");
  return TYPE_CHARS[type] +
    bit(0o400, "r") + bit(0o200, "w") + special(0o100, 0o4000, "s") +
    bit(0o040, "r") + bit(0o020, "w") + special(0o010, 0o2000, "s") +
    bit(0o004, "r") + bit(0o002, "w") + special(0o001, 0o1000, "t");
}

/** Owner and group names from an OpenSSH `longname` (`-rw-r--r--  1 root  root  12 Jan 1 00:00 x`). */
function ownerGroup(longname: string, attrs: RawAttrs): { owner: string; group: string } {
  const fields = longname.trim().split(/\s+/);
  return { owner: fields[2] ?? String(attrs.uid), group: fields[3] ?? String(attrs.gid) };
}

// ---------------------------------------------------------------------------------------------
// the session

/**
 * Opens a new, unshared SFTP session on `connection`. Tools never call this: they use the shared
 * session of `Connections.sftp` (cached per connection by the manager).
 *
 * @example
 * ```ts
 * const sftp = await openSftp(connection);
 * const { entries } = await sftp.list("/etc");
 * ```
 */
export async function openSftp(connection: { sftp(): Promise<SftpSession> }): Promise<Sftp> {
  return new Sftp(await connection.sftp());
}

/**
 * One SFTP channel with typed, promise-based operations. Tools obtain the shared one of a connection
 * from `Connections.sftp` (the manager caches one per connection: each channel holds one of the
 * connection's channel permits, and requests are multiplexed).
 */
export class Sftp {
  #raw: RawSftp;
  #session: SftpSession;
  #alive = true;

  /** Wraps an open SFTP channel; `onClose` runs once when it closes. */
  constructor(session: SftpSession, onClose: () => void = () => {}) {
    this.#session = session;
    this.#raw = session.raw as RawSftp;
    const closed = () => {
      if (!this.#alive) return;
      this.#alive = false;
      onClose();
    };
    this.#raw.once("close", closed);
    this.#raw.once("end", closed);
    // A protocol error is emitted as an event; unhandled, it would crash the process.
    this.#raw.on("error", closed);
  }

  /** False once the channel closed (the connection dropped or {@link close} was called). */
  get alive(): boolean {
    return this.#alive;
  }

  /** Largest read the server accepts in one request. */
  get readChunk(): number {
    return Math.min(MAX_CHUNK, this.#raw._maxReadLen ?? FALLBACK_CHUNK);
  }

  /** Largest write the server accepts in one request. */
  get writeChunk(): number {
    return Math.min(MAX_CHUNK, this.#raw._maxWriteLen ?? FALLBACK_CHUNK);
  }

  /** Whether the server announced an extension, e.g. `posix-rename@openssh.com`. */
  hasExtension(name: string): boolean {
    return this.#raw._extensions?.[name] !== undefined;
  }

  /** Closes the channel. */
  close(): void {
    this.#alive = false;
    this.#session.close();
  }

  /** Calls a raw method; fails fast on a closed channel (ssh2 would never call back). */
  #call<T>(action: string, path: string, invoke: (cb: Callback<T>) => void): Promise<T> {
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
    return toStat(await this.#call<RawAttrs>("stat", path, (cb) => this.#raw.stat(p, cb)));
  }

  /** Metadata of `path` itself (a symlink is reported as one). */
  async lstat(path: string): Promise<FileStat> {
    const p = expandHome(path);
    return toStat(await this.#call<RawAttrs>("stat", path, (cb) => this.#raw.lstat(p, cb)));
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
    return this.#call<string>("resolve", path, (cb) => this.#raw.realpath(p, cb));
  }

  /** The target of a symlink, as stored. */
  readlink(path: string): Promise<string> {
    return this.#call<string>("read the link", path, (cb) => this.#raw.readlink(expandHome(path), cb));
  }

  /** Removes a file or symlink. */
  unlink(path: string): Promise<void> {
    return this.#call<void>("remove", path, (cb) => this.#raw.unlink(expandHome(path), cb));
  }

  /** Creates `path` and its missing parents (like `mkdir -p`). */
  async mkdirs(path: string, mode = 0o755): Promise<void> {
    const p = expandHome(path);
    // Not realpath: it fails when more than the last component is missing.
    const absolute = posix.isAbsolute(p) ? posix.normalize(p) : posix.join(await this.realpath("."), p);
    const missing: string[] = [];
    for (let dir = absolute; dir !== "/" && dir !== "."; dir = posix.dirname(dir)) {
      const stat = await this.#statIfExists(dir);
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
        await this.#call<void>("create directory", dir, (cb) => this.#raw.mkdir(dir, { mode }, cb));
      } catch (error) {
        // Another writer may have created it meanwhile.
        if ((await this.#statIfExists(dir))?.type !== "directory") throw error;
      }
    }
  }

  async #statIfExists(path: string): Promise<FileStat | undefined> {
    try {
      return await this.stat(path);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Lists a directory: entries with type, size, mode, owner and group names, and symlink targets. */
  async list(path: string, options: ListOptions = {}): Promise<DirListing> {
    const absolute = await this.realpath(path);
    const stat = await this.stat(absolute);
    if (stat.type !== "directory") {
      throw new ToolError(`Cannot list "${path}": it is a ${stat.type}, not a directory`, {
        hint: "Use `read` for files, or list its parent directory.",
      });
    }
    const raw = await this.#call<RawEntry[]>("list", path, (cb) => this.#raw.readdir(absolute, cb));
    const wanted = raw.filter((e) =>
      e.filename !== "." && e.filename !== ".." && (options.all || !e.filename.startsWith("."))
    );
    wanted.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
    const limit = options.limit ?? wanted.length;
    const kept = wanted.slice(0, limit);
    const entries = await Promise.all(kept.map(async (e): Promise<DirEntry> => {
      const entry: DirEntry = { name: e.filename, ...toStat(e.attrs), ...ownerGroup(e.longname, e.attrs) };
      if (entry.type === "symlink") {
        entry.target = await this.readlink(posix.join(absolute, e.filename)).catch(() => "?");
      }
      return entry;
    }));
    return { path: absolute, entries, total: wanted.length, omitted: wanted.length - kept.length };
  }

  async #open(path: string, flags: string, attrs: SetAttrs = {}): Promise<Buffer> {
    return await this.#call<Buffer>(
      flags.startsWith("r") ? "open" : "create",
      path,
      (cb) => this.#raw.open(path, flags, attrs, cb),
    );
  }

  #closeHandle(handle: Buffer): Promise<void> {
    if (!this.#alive) return Promise.resolve();
    return new Promise((resolve) => this.#raw.close(handle, () => resolve()));
  }

  /**
   * Reads `[start, end)` of an open file in order with up to {@link DEPTH} requests in flight; `end`
   * undefined reads to EOF. A yielded chunk is only valid until the next one is requested (buffers
   * are reused), which also gives back-pressure: nothing more is requested while the consumer works.
   */
  async *#chunks(
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
      const result = this.#call<number>("read", path, (cb) => this.#raw.read(handle, buf, 0, len, pos, cb));
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
    const handle = await this.#open(p, "r");
    const hash = createHash("sha256");
    let position = start;
    let stopped = false;
    try {
      for await (const chunk of this.#chunks(handle, path, start, end, options.signal)) {
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
      await this.#closeHandle(handle);
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

  /**
   * Replaces (or creates) a file atomically: the content goes to an exclusive temp file in the same
   * directory, is fsynced, gets the old file's owner, group and mode, and is renamed over the target
   * with `posix-rename@openssh.com`. Readers see the old or the new content, never a mix; on any
   * failure the temp file is removed (through `reopen` when the link dropped).
   */
  async atomicWrite(
    path: string,
    content: Uint8Array | AsyncIterable<Uint8Array>,
    options: AtomicWriteOptions = {},
  ): Promise<WriteOutcome> {
    return await new SftpWriter(this.#port()).write(path, content, options);
  }

  /** The private parts a write needs (see {@link SftpPort}). */
  #port(): SftpPort {
    return {
      sftp: this,
      raw: this.#raw,
      alive: () => this.#alive,
      call: (action, path, invoke) => this.#call(action, path, invoke),
      closeHandle: (handle) => this.#closeHandle(handle),
      statIfExists: (path) => this.#statIfExists(path),
    };
  }

  /** Creates (or atomically replaces) a symlink at `path` pointing to `target`. */
  async symlink(target: string, path: string): Promise<void> {
    const temp = tempPathFor(path);
    await this.#call<void>("create the symlink", path, (cb) => this.#raw.symlink(target, temp, cb));
    try {
      await this.#call<void>("replace", path, (cb) => this.#raw.ext_openssh_rename(temp, path, cb));
    } catch (error) {
      await this.unlink(temp).catch(() => {});
      throw error;
    }
  }

  /** Sets permission bits (and optionally times) of a path. */
  setMode(path: string, mode: number, times?: { atime: number; mtime: number }): Promise<void> {
    const attrs = times ? { mode, atime: times.atime, mtime: times.mtime } : { mode };
    return this.#call<void>("set the mode of", path, (cb) => this.#raw.setstat(path, attrs, cb));
  }

  /** Opens `path` for reading and streams it (see {@link Sftp.readEach}); the caller must close. */
  async openStream(
    path: string,
    signal?: AbortSignal,
  ): Promise<{ chunks: AsyncGenerator<Buffer>; stat: FileStat; close: () => Promise<void> }> {
    const handle = await this.#open(path, "r");
    try {
      const stat = toStat(await this.#call<RawAttrs>("stat", path, (cb) => this.#raw.fstat(handle, cb)));
      const end = stat.size > 0 ? stat.size : undefined;
      return {
        chunks: this.#chunks(handle, path, 0, end, signal),
        stat,
        close: () => this.#closeHandle(handle),
      };
    } catch (error) {
      await this.#closeHandle(handle);
      throw error;
    }
  }
}
