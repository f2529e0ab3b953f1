/**
 * The SFTP session tools use: {@link SftpChannel}'s primitives (metadata, pipelined reads that hash as
 * they go) plus directory listings, streams, symlinks, modes and the entry point of atomic writes
 * (temp file, fsync, posix-rename, keeping mode and owner: `atomic_write.ts`). Layers, bottom-up:
 * `channel.ts` (raw protocol, FileStat) → `atomic_write.ts` → `sftp.ts` → `copy.ts` (the
 * bounded-memory streaming copy between two sessions).
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { posix } from "node:path";
import { ToolError } from "../../errors.ts";
import {
  type FileStat,
  type FileType,
  type RawAttrs,
  type RawEntry,
  SftpChannel,
  type SftpSession,
  toStat,
} from "./channel.ts";
import { atomicWrite, type AtomicWriteOptions, tempPathFor, type WriteOutcome } from "./atomic_write.ts";

// ---------------------------------------------------------------------------------------------
// public types

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
export class Sftp extends SftpChannel {
  /** Lists a directory: entries with type, size, mode, owner and group names, and symlink targets. */
  async list(path: string, options: ListOptions = {}): Promise<DirListing> {
    const absolute = await this.realpath(path);
    const stat = await this.stat(absolute);
    if (stat.type !== "directory") {
      throw new ToolError(`Cannot list "${path}": it is a ${stat.type}, not a directory`, {
        hint: "Use `read` for files, or list its parent directory.",
      });
    }
    const raw = await this.call<RawEntry[]>("list", path, (cb) => this.raw.readdir(absolute, cb));
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
    return await atomicWrite(this, path, content, options);
  }

  /** Creates (or atomically replaces) a symlink at `path` pointing to `target`. */
  async symlink(target: string, path: string): Promise<void> {
    const temp = tempPathFor(path);
    await this.call<void>("create the symlink", path, (cb) => this.raw.symlink(target, temp, cb));
    try {
      await this.call<void>("replace", path, (cb) => this.raw.ext_openssh_rename(temp, path, cb));
    } catch (error) {
      await this.unlink(temp).catch(() => {});
      throw error;
    }
  }

  /** Sets permission bits (and optionally times) of a path. */
  setMode(path: string, mode: number, times?: { atime: number; mtime: number }): Promise<void> {
    const attrs = times ? { mode, atime: times.atime, mtime: times.mtime } : { mode };
    return this.call<void>("set the mode of", path, (cb) => this.raw.setstat(path, attrs, cb));
  }

  /** Opens `path` for reading and streams it (see {@link Sftp.readEach}); the caller must close. */
  async openStream(
    path: string,
    signal?: AbortSignal,
  ): Promise<{ chunks: AsyncGenerator<Buffer>; stat: FileStat; close: () => Promise<void> }> {
    const handle = await this.openHandle(path, "r");
    try {
      const stat = toStat(await this.call<RawAttrs>("stat", path, (cb) => this.raw.fstat(handle, cb)));
      const end = stat.size > 0 ? stat.size : undefined;
      return {
        chunks: this.readChunks(handle, path, 0, end, signal),
        stat,
        close: () => this.closeHandle(handle),
      };
    } catch (error) {
      await this.closeHandle(handle);
      throw error;
    }
  }
}
