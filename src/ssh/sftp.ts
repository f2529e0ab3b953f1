/**
 * Typed SFTP helpers over one cached SFTP channel per connection: metadata, pipelined reads that
 * hash as they go, atomic writes (temp file, fsync, posix-rename) that keep mode and owner, directory
 * listings, and a bounded-memory streaming copy between two connections.
 *
 * Throughput comes from large requests (the server's `limits@openssh.com` read/write size, 255 KiB on
 * OpenSSH) with many outstanding at once; memory stays bounded because at most `depth` chunks are in
 * flight per transfer and chunk buffers are reused.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, type Hash } from "node:crypto";
import { posix } from "node:path";
import { SshError, ToolError } from "../errors.ts";
import type { SftpSession, SshConnection } from "./connection.ts";

// ---------------------------------------------------------------------------------------------
// the slice of ssh2's SFTPWrapper used here (ssh2 types stay inside client.ts)

interface RawAttrs {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atime: number;
  mtime: number;
}

interface SetAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
  atime?: number;
  mtime?: number;
}

interface RawEntry {
  filename: string;
  longname: string;
  attrs: RawAttrs;
}

type RawError = Error & { code?: number | string };
type Callback<T> = (error: RawError | undefined | null, value: T) => void;

interface RawSftp {
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

const STATUS = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, OP_UNSUPPORTED: 8 } as const;
const S_IFMT = 0o170000;

/** Requests in flight per transfer: 16 × 255 KiB keeps loopback and LAN links busy (measured). */
const DEPTH = 16;
/** Used when the server does not announce limits (the SFTP draft's guaranteed minimum). */
const FALLBACK_CHUNK = 32_000;
/** Upper bound of one request, whatever the server announces. */
const MAX_CHUNK = 256 * 1024;

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

/** Options of {@link Sftp.atomicWrite}. */
export interface AtomicWriteOptions {
  /** Permission bits for the file (default: the existing file's, else 0o644). */
  mode?: number;
  /** Create missing parent directories (mode 0o755). */
  createDirs?: boolean;
  /**
   * The current content must hash to this (hex sha256), checked just before the rename; otherwise
   * nothing is replaced. A missing file never matches.
   */
  expectedSha256?: string;
  /** Access and modification times to give the file (default: now). */
  times?: { atime: number; mtime: number };
  /** Keep the existing file's owner and group (default true). */
  preserveOwner?: boolean;
  /** Called with the bytes written so far after each chunk. */
  onProgress?: (bytes: number) => void;
  /**
   * Opens a fresh session; used only to remove the temp file when this session died mid-write,
   * so that no temp file survives a dropped link.
   */
  reopen?: () => Promise<Sftp>;
  /** Aborts the write (the temp file is removed). */
  signal?: AbortSignal;
}

/** Result of {@link Sftp.atomicWrite}. */
export interface WriteOutcome {
  /** The file that was replaced or created (a symlink's target when `path` was a symlink). */
  path: string;
  /** The symlink that was written through, if any. */
  symlink?: string;
  /** True when no file existed before. */
  created: boolean;
  /** Bytes written. */
  size: number;
  /** Hex sha256 of the bytes written. */
  sha256: string;
  /** Permission bits of the file now. */
  mode: number;
  /** Owner and group now. */
  uid: number;
  /** Group now. */
  gid: number;
  /**
   * Whether owner and group were kept (null for a new file). False when the login user may not
   * chown (not root): the file then belongs to the login user, with the old mode.
   */
  ownerPreserved: boolean | null;
}

/** Options of {@link copy}. */
export interface CopyOptions {
  /** Progress: bytes copied so far, total bytes planned, the file being copied. */
  onProgress?: (copied: number, total: number, current: string) => void;
  /** Fresh destination session for temp-file cleanup after a dropped link. */
  reopenDest?: () => Promise<Sftp>;
  /** Aborts the copy. */
  signal?: AbortSignal;
}

/** Result of {@link copy}. */
export interface CopyOutcome {
  /** What the source was (a top-level symlink is followed). */
  type: "file" | "directory";
  /** Regular files copied. */
  files: number;
  /** Directories created or updated (including the top one). */
  directories: number;
  /** Symlinks recreated as symlinks. */
  symlinks: number;
  /** Bytes of file content copied. */
  bytes: number;
  /** Hex sha256 of the content, for a single-file copy. */
  sha256?: string;
  /** Relative paths of sockets, fifos and devices, which are not copied. */
  skipped: string[];
}

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

function isMissing(error: unknown): boolean {
  const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
  return (cause as RawError | undefined)?.code === STATUS.NO_SUCH_FILE;
}

function isLost(error: unknown): boolean {
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

function toStat(attrs: RawAttrs): FileStat {
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

/** SFTP paths have no `~`: the server starts relative paths in the login user's home. */
function expandHome(path: string): string {
  if (path === "~") return ".";
  if (path.startsWith("~/")) return path.slice(2) || ".";
  return path;
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** `.<name>.mcp-<random>.tmp` next to `path`; the name is cut so the result fits NAME_MAX (255). */
function tempPathFor(path: string): string {
  const dir = posix.dirname(path);
  let base = posix.basename(path);
  const bytes = new TextEncoder().encode(base);
  if (bytes.length > 200) base = new TextDecoder().decode(bytes.subarray(0, 200)).replace(/\uFFFD+$/, "");
  return posix.join(dir, `.${base}.mcp-${randomHex(12)}.tmp`);
}

/** Whether `name` is a temp file this module creates. */
export function isTempName(name: string): boolean {
  return /^\..*\.mcp-[0-9a-f]{24}\.tmp$/.test(name);
}

function asBuffer(bytes: Uint8Array): Buffer {
  // ssh2 requires a Buffer (and a plain Uint8Array was measured to send wrong bytes under Deno).
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

async function* sliced(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size);
}

// ---------------------------------------------------------------------------------------------
// the session

const sessions = new WeakMap<SshConnection, Promise<Sftp>>();

/**
 * The SFTP session of `connection`, opened on first use and cached: each SFTP channel holds one of
 * the connection's channel permits, so every file tool shares one (requests are multiplexed).
 *
 * @example
 * ```ts
 * const sftp = await openSftp(connection);
 * const { entries } = await sftp.list("/etc");
 * ```
 */
export async function openSftp(connection: SshConnection): Promise<Sftp> {
  for (let cached = sessions.get(connection); cached !== undefined; cached = sessions.get(connection)) {
    const sftp = await cached.catch(() => undefined);
    if (sftp?.alive) return sftp;
    if (sessions.get(connection) === cached) {
      sessions.delete(connection);
      break;
    }
  }
  if (!connection.alive) {
    throw new SshError("connection_lost", "Cannot start SFTP: the connection is closed");
  }
  // No await between the lookup above and this set: concurrent callers share one opening.
  const opening: Promise<Sftp> = connection.sftp().then((session) =>
    new Sftp(session, () => {
      if (sessions.get(connection) === opening) sessions.delete(connection);
    })
  );
  sessions.set(connection, opening);
  opening.catch(() => {
    if (sessions.get(connection) === opening) sessions.delete(connection);
  });
  return await opening;
}

/** One SFTP channel with typed, promise-based operations. Obtain it with {@link openSftp}. */
export class Sftp {
  #raw: RawSftp;
  #session: SftpSession;
  #alive = true;

  /** Internal: use {@link openSftp}. */
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
    options.signal?.throwIfAborted();
    if (!this.hasExtension("posix-rename@openssh.com")) {
      throw new ToolError(
        `Cannot write "${path}" atomically: the SFTP server lacks posix-rename@openssh.com`,
        {
          hint:
            "This server cannot replace files atomically over SFTP, so nothing was written. Use `run` with a shell command if a non-atomic write is acceptable.",
        },
      );
    }
    const target = await this.resolveForWrite(path);
    const existing = target.existing;
    if (existing !== undefined && existing.type !== "file") {
      throw new ToolError(`Cannot write "${path}": it is a ${existing.type}, not a regular file`, {
        hint: existing.type === "directory"
          ? "Give the path of a file inside the directory."
          : "Only regular files can be written.",
      });
    }
    const dir = posix.dirname(target.path);
    if (existing === undefined) {
      if (options.expectedSha256 !== undefined) {
        throw new ToolError(`Cannot write "${path}": it does not exist, so it cannot match expected_sha256`, {
          hint: "Omit expected_sha256 to create the file.",
        });
      }
      if (options.createDirs) await this.mkdirs(dir);
      else {
        const parent = await this.#statIfExists(dir);
        if (parent === undefined) {
          throw new ToolError(`Cannot write "${path}": the directory "${dir}" does not exist`, {
            hint: "Pass create_dirs: true to create it, or check the path.",
          });
        }
      }
    }
    const temp = tempPathFor(target.path);
    let handle: Buffer | undefined;
    try {
      // Exclusive create, private until complete; the message names the directory, not the temp name.
      handle = await this.#call<Buffer>(
        "create a file in",
        dir,
        (cb) => this.#raw.open(temp, "wx", { mode: 0o600 }, cb),
      );
      const source = content instanceof Uint8Array ? sliced(content, this.writeChunk) : content;
      // Failures below name the file being written; the temp file is an implementation detail.
      const { size, sha256 } = await this.#writeAll(handle, path, source, options);
      if (this.hasExtension("fsync@openssh.com")) {
        const h = handle;
        await this.#call<void>("fsync", path, (cb) => this.#raw.ext_openssh_fsync(h, cb));
      }
      const written = toStat(await this.#call<RawAttrs>("stat", path, (cb) => this.#raw.fstat(handle!, cb)));
      if (written.size !== size) {
        throw new ToolError(`Cannot write "${path}": ${written.size} bytes arrived of ${size} sent`);
      }
      let ownerPreserved: boolean | null = null;
      let { uid, gid } = written;
      if (existing !== undefined && options.preserveOwner !== false) {
        if (existing.uid !== uid || existing.gid !== gid) {
          // Owner first: chown clears setuid/setgid, so the mode is applied after it.
          ({ uid, gid } = await this.#chown(handle, path, existing, written));
        }
        ownerPreserved = uid === existing.uid && gid === existing.gid;
      }
      const mode = options.mode ?? existing?.mode ?? 0o644;
      const times = options.times;
      await this.#call<void>(
        "set the mode of",
        path,
        (cb) =>
          this.#raw.fsetstat(
            handle!,
            times ? { mode, atime: times.atime, mtime: times.mtime } : { mode },
            cb,
          ),
      );
      const closing = handle;
      handle = undefined;
      await this.#call<void>("close", path, (cb) => this.#raw.close(closing, cb));
      if (options.expectedSha256 !== undefined) {
        const now = await this.sha256(target.path, options.signal);
        if (now !== options.expectedSha256.toLowerCase()) {
          throw new ToolError(
            `Cannot write "${path}": it changed since it was read (sha256 is ${now}, expected ${options.expectedSha256}); nothing was written`,
            { hint: "Read the file again, redo the change on the current content, and pass its new sha256." },
          );
        }
      }
      options.signal?.throwIfAborted();
      await this.#call<void>(
        "replace",
        target.path,
        (cb) => this.#raw.ext_openssh_rename(temp, target.path, cb),
      );
      return {
        path: target.path,
        ...(target.symlink === undefined ? {} : { symlink: target.symlink }),
        created: existing === undefined,
        size,
        sha256,
        mode,
        uid,
        gid,
        ownerPreserved,
      };
    } catch (error) {
      // Explain before cleaning up: removing the temp file frees the space that shows a full disk.
      const mapped = await this.#explainWriteFailure(sftpError("write", path, error), dir);
      if (handle !== undefined) await this.#closeHandle(handle);
      if (await this.#removeTemp(temp, options.reopen)) {
        mapped.message +=
          ` (the temporary file "${temp}" could not be removed: delete it once the host is reachable)`;
      }
      throw mapped;
    }
  }

  async #chown(
    handle: Buffer,
    path: string,
    want: FileStat,
    have: FileStat,
  ): Promise<{ uid: number; gid: number }> {
    const set = (attrs: SetAttrs) =>
      this.#call<void>("change the owner of", path, (cb) => this.#raw.fsetstat(handle, attrs, cb));
    try {
      await set({ uid: want.uid, gid: want.gid });
      return { uid: want.uid, gid: want.gid };
    } catch (error) {
      if (isLost(error)) throw error;
    }
    try {
      // A non-root user may still give the file a group it belongs to.
      await set({ uid: have.uid, gid: want.gid });
      return { uid: have.uid, gid: want.gid };
    } catch (error) {
      if (isLost(error)) throw error;
      return { uid: have.uid, gid: have.gid };
    }
  }

  /** Writes every chunk of `source` at increasing offsets with up to {@link DEPTH} writes in flight. */
  async #writeAll(
    handle: Buffer,
    path: string,
    source: AsyncIterable<Uint8Array>,
    options: AtomicWriteOptions,
  ): Promise<{ size: number; sha256: string }> {
    const hash: Hash = createHash("sha256");
    const inflight: Promise<void>[] = [];
    let position = 0;
    try {
      for await (const chunk of source) {
        options.signal?.throwIfAborted();
        hash.update(chunk);
        for (let at = 0; at < chunk.byteLength; at += this.writeChunk) {
          const piece = asBuffer(chunk.subarray(at, at + this.writeChunk));
          if (inflight.length >= DEPTH) await inflight.shift();
          const pos = position;
          // ssh2 copies the bytes into its packet synchronously, so the chunk may be reused after this.
          const done = this.#call<void>(
            "write",
            path,
            (cb) => this.#raw.write(handle, piece, 0, piece.length, pos, cb),
          );
          done.catch(() => {});
          inflight.push(done);
          position += piece.length;
        }
        options.onProgress?.(position);
      }
      await Promise.all(inflight);
    } catch (error) {
      await Promise.allSettled(inflight);
      throw error;
    }
    return { size: position, sha256: hash.digest("hex") };
  }

  /** Removes a temp file; returns true when it may still exist. */
  async #removeTemp(temp: string, reopen: (() => Promise<Sftp>) | undefined): Promise<boolean> {
    const attempt = async (sftp: Sftp) => {
      try {
        await sftp.unlink(temp);
        return true;
      } catch (error) {
        return isMissing(error);
      }
    };
    if (this.#alive && await attempt(this)) return false;
    if (reopen === undefined) return true;
    try {
      return !await attempt(await reopen());
    } catch {
      return true;
    }
  }

  /** A generic SFTP failure during a write is most often a full disk: say so when statvfs agrees. */
  async #explainWriteFailure(error: Error, dir: string): Promise<Error> {
    const cause = (error.cause as RawError | undefined)?.code;
    if (cause !== STATUS.FAILURE || !this.#alive || !this.hasExtension("statvfs@openssh.com")) return error;
    try {
      const fs = await this.#call<{ f_bavail: number; f_frsize: number }>(
        "check free space of",
        dir,
        (cb) => this.#raw.ext_openssh_statvfs(dir, cb),
      );
      if (fs.f_bavail * fs.f_frsize < 1024 * 1024) {
        return new ToolError(`${error.message.replace(/: the server reported.*$/, "")}: the disk is full`, {
          cause: error,
          hint: "Free space on that file system (find large files with `run` du/df), then retry.",
        });
      }
    } catch {
      // keep the original error
    }
    return error;
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

// ---------------------------------------------------------------------------------------------
// copy between two sessions

interface PlanItem {
  rel: string;
  stat: FileStat;
  link?: string;
}

/** Parallel file copies in a tree; small files are round-trip bound, so a few overlap. */
const COPY_WORKERS = 4;

/**
 * Copies a file or a directory tree from one session to another (or within one), streaming with
 * bounded memory: chunks are read and written with a window of requests in flight, hashed on the
 * way, and each file lands atomically (temp file + rename) with its mode and times. Inside a tree,
 * symlinks are recreated as symlinks; a top-level symlink is followed. Files existing only at the
 * destination are kept.
 *
 * @example
 * ```ts
 * const outcome = await copy(await openSftp(a), "/srv/data", await openSftp(b), "/backup/data");
 * ```
 */
export async function copy(
  from: { sftp: Sftp; path: string },
  to: { sftp: Sftp; path: string },
  options: CopyOptions = {},
): Promise<CopyOutcome> {
  const src = from.sftp;
  const dst = to.sftp;
  const root = await src.realpath(from.path);
  const top = await src.stat(root);
  const destRoot = expandHome(to.path);
  const outcome: CopyOutcome = { type: "file", files: 0, directories: 0, symlinks: 0, bytes: 0, skipped: [] };
  let copied = 0;
  let total = 0;
  const progress = (current: string) => options.onProgress?.(copied, total, current);

  const copyFile = async (srcPath: string, destPath: string, stat: FileStat): Promise<string> => {
    const stream = await src.openStream(srcPath, options.signal);
    let counted = 0; // this file's bytes already in `copied` (files copy concurrently)
    try {
      const result = await dst.atomicWrite(destPath, stream.chunks, {
        mode: stat.mode,
        times: { atime: stat.atime, mtime: stat.mtime },
        preserveOwner: false,
        signal: options.signal,
        reopen: options.reopenDest,
        onProgress: (bytes) => {
          copied += bytes - counted;
          counted = bytes;
          progress(srcPath);
        },
      });
      if (result.size !== stream.stat.size && stream.stat.size > 0) {
        throw new ToolError(
          `Cannot copy "${srcPath}": it changed size while being copied (${stream.stat.size} → ${result.size} bytes)`,
          { hint: "Retry when the file is no longer being written." },
        );
      }
      copied += result.size - counted;
      counted = result.size;
      outcome.bytes += result.size;
      outcome.files++;
      return result.sha256;
    } finally {
      await stream.close();
    }
  };

  if (top.type === "file") {
    total = top.size;
    const existing = await dst.lstatIfExists(destRoot);
    if (existing?.type === "directory") {
      throw new ToolError(`Cannot copy "${from.path}" to "${to.path}": the destination is a directory`, {
        hint: `Give the full destination file path, e.g. "${posix.join(to.path, posix.basename(root))}".`,
      });
    }
    await dst.mkdirs(posix.dirname(destRoot));
    outcome.sha256 = await copyFile(root, destRoot, top);
    progress(root);
    return outcome;
  }
  if (top.type !== "directory") {
    throw new ToolError(
      `Cannot copy "${from.path}": it is a ${top.type}; only files and directories can be synced`,
    );
  }
  outcome.type = "directory";
  const plan = await walk(src, root, options.signal);
  total = plan.reduce((sum, item) => sum + (item.stat.type === "file" ? item.stat.size : 0), 0);
  const existing = await dst.lstatIfExists(destRoot);
  if (existing !== undefined && existing.type !== "directory") {
    throw new ToolError(
      `Cannot copy directory "${from.path}" to "${to.path}": the destination is a ${existing.type}`,
      {
        hint: "Choose a destination path that is a directory or does not exist yet.",
      },
    );
  }
  // Directories stay writable while filled; their real modes are applied last, deepest first.
  await dst.mkdirs(posix.dirname(destRoot));
  await dst.mkdirs(destRoot, 0o700);
  const dirs: PlanItem[] = [{ rel: "", stat: top }];
  for (const item of plan) {
    options.signal?.throwIfAborted();
    const destPath = posix.join(destRoot, item.rel);
    if (item.stat.type === "directory") {
      const there = await dst.lstatIfExists(destPath);
      if (there === undefined) await dst.mkdirs(destPath, 0o700);
      else if (there.type !== "directory") {
        throw new ToolError(`Cannot copy "${item.rel}": the destination "${destPath}" is a ${there.type}`, {
          hint: "Remove it at the destination or choose another destination path.",
        });
      }
      dirs.push(item);
    } else if (item.stat.type === "symlink") {
      await dst.symlink(item.link!, destPath);
      outcome.symlinks++;
    } else if (item.stat.type !== "file") {
      outcome.skipped.push(item.rel);
    }
  }
  const files = plan.filter((item) => item.stat.type === "file");
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const item = files[next++]!;
      await copyFile(posix.join(root, item.rel), posix.join(destRoot, item.rel), item.stat);
    }
  };
  await Promise.all(Array.from({ length: Math.min(COPY_WORKERS, files.length) }, worker));
  for (const dir of dirs.reverse()) {
    await dst.setMode(posix.join(destRoot, dir.rel), dir.stat.mode, {
      atime: dir.stat.atime,
      mtime: dir.stat.mtime,
    });
  }
  outcome.directories = dirs.length;
  progress(root);
  return outcome;
}

/** Every entry under `root` (relative paths, parents before children), with link targets. */
async function walk(sftp: Sftp, root: string, signal: AbortSignal | undefined): Promise<PlanItem[]> {
  const items: PlanItem[] = [];
  const queue = [""];
  while (queue.length > 0) {
    signal?.throwIfAborted();
    const rel = queue.shift()!;
    const listing = await sftp.list(posix.join(root, rel), { all: true });
    for (const entry of listing.entries) {
      const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const { name: _n, owner: _o, group: _g, target, ...stat } = entry;
      items.push({ rel: childRel, stat, ...(target === undefined ? {} : { link: target }) });
      if (entry.type === "directory") queue.push(childRel);
    }
  }
  return items;
}
