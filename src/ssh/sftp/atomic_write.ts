/**
 * Atomic writes over SFTP: the content goes to an exclusive temp file next to the target, is
 * fsynced, gets the old file's owner, group and mode, and is renamed over the target with
 * `posix-rename@openssh.com`. `Sftp.atomicWrite` is the entry point; this module holds the
 * machinery and the temp-file naming, on top of the protocol layer ({@link SftpChannel}).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, type Hash } from "node:crypto";
import { posix } from "node:path";
import { ToolError } from "../../errors.ts";
import {
  DEPTH,
  type FileStat,
  isLost,
  isMissing,
  type RawAttrs,
  type RawError,
  type SetAttrs,
  SftpChannel,
  sftpError,
  STATUS,
  toStat,
} from "./channel.ts";

/** Options of `Sftp.atomicWrite`. */
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
  reopen?: () => Promise<SftpChannel>;
  /** Aborts the write (the temp file is removed). */
  signal?: AbortSignal;
}

/** Result of `Sftp.atomicWrite`. */
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

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** `.<name>.mcp-<random>.tmp` next to `path`; the name is cut so the result fits NAME_MAX (255). */
export function tempPathFor(path: string): string {
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

/**
 * Replaces (or creates) a file atomically over `sftp` (see `Sftp.atomicWrite`).
 *
 * @example
 * ```ts
 * const outcome = await atomicWrite(sftp, "/etc/motd", new TextEncoder().encode("hello\n"));
 * ```
 */
export function atomicWrite(
  sftp: SftpChannel,
  path: string,
  content: Uint8Array | AsyncIterable<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<WriteOutcome> {
  return new Writer(sftp).write(path, content, options);
}

/** One atomic write. */
class Writer {
  #sftp: SftpChannel;

  constructor(sftp: SftpChannel) {
    this.#sftp = sftp;
  }

  /**
   * Replaces (or creates) a file atomically: the content goes to an exclusive temp file in the same
   * directory, is fsynced, gets the old file's owner, group and mode, and is renamed over the target
   * with `posix-rename@openssh.com`. Readers see the old or the new content, never a mix; on any
   * failure the temp file is removed (through `reopen` when the link dropped).
   */
  async write(
    path: string,
    content: Uint8Array | AsyncIterable<Uint8Array>,
    options: AtomicWriteOptions = {},
  ): Promise<WriteOutcome> {
    options.signal?.throwIfAborted();
    if (!this.#sftp.hasExtension("posix-rename@openssh.com")) {
      throw new ToolError(
        `Cannot write "${path}" atomically: the SFTP server lacks posix-rename@openssh.com`,
        {
          hint:
            "This server cannot replace files atomically over SFTP, so nothing was written. Use `run` with a shell command if a non-atomic write is acceptable.",
        },
      );
    }
    const target = await this.#sftp.resolveForWrite(path);
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
      if (options.createDirs) await this.#sftp.mkdirs(dir);
      else {
        const parent = await this.#sftp.statIfExists(dir);
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
      handle = await this.#sftp.call<Buffer>(
        "create a file in",
        dir,
        (cb) => this.#sftp.raw.open(temp, "wx", { mode: 0o600 }, cb),
      );
      const source = content instanceof Uint8Array ? sliced(content, this.#sftp.writeChunk) : content;
      // Failures below name the file being written; the temp file is an implementation detail.
      const { size, sha256 } = await this.#writeAll(handle, path, source, options);
      if (this.#sftp.hasExtension("fsync@openssh.com")) {
        const h = handle;
        await this.#sftp.call<void>("fsync", path, (cb) => this.#sftp.raw.ext_openssh_fsync(h, cb));
      }
      const written = toStat(
        await this.#sftp.call<RawAttrs>("stat", path, (cb) => this.#sftp.raw.fstat(handle!, cb)),
      );
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
      await this.#sftp.call<void>(
        "set the mode of",
        path,
        (cb) =>
          this.#sftp.raw.fsetstat(
            handle!,
            times ? { mode, atime: times.atime, mtime: times.mtime } : { mode },
            cb,
          ),
      );
      const closing = handle;
      handle = undefined;
      await this.#sftp.call<void>("close", path, (cb) => this.#sftp.raw.close(closing, cb));
      if (options.expectedSha256 !== undefined) {
        const now = await this.#sftp.sha256(target.path, options.signal);
        if (now !== options.expectedSha256.toLowerCase()) {
          throw new ToolError(
            `Cannot write "${path}": it changed since it was read (sha256 is ${now}, expected ${options.expectedSha256}); nothing was written`,
            { hint: "Read the file again, redo the change on the current content, and pass its new sha256." },
          );
        }
      }
      options.signal?.throwIfAborted();
      await this.#sftp.call<void>(
        "replace",
        target.path,
        (cb) => this.#sftp.raw.ext_openssh_rename(temp, target.path, cb),
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
      if (handle !== undefined) await this.#sftp.closeHandle(handle);
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
      this.#sftp.call<void>("change the owner of", path, (cb) => this.#sftp.raw.fsetstat(handle, attrs, cb));
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
        for (let at = 0; at < chunk.byteLength; at += this.#sftp.writeChunk) {
          const piece = asBuffer(chunk.subarray(at, at + this.#sftp.writeChunk));
          if (inflight.length >= DEPTH) await inflight.shift();
          const pos = position;
          // ssh2 copies the bytes into its packet synchronously, so the chunk may be reused after this.
          const done = this.#sftp.call<void>(
            "write",
            path,
            (cb) => this.#sftp.raw.write(handle, piece, 0, piece.length, pos, cb),
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
  async #removeTemp(temp: string, reopen: (() => Promise<SftpChannel>) | undefined): Promise<boolean> {
    const attempt = async (sftp: SftpChannel) => {
      try {
        await sftp.unlink(temp);
        return true;
      } catch (error) {
        return isMissing(error);
      }
    };
    if (this.#sftp.alive && await attempt(this.#sftp)) return false;
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
    if (cause !== STATUS.FAILURE || !this.#sftp.alive || !this.#sftp.hasExtension("statvfs@openssh.com")) {
      return error;
    }
    try {
      const fs = await this.#sftp.call<{ f_bavail: number; f_frsize: number }>(
        "check free space of",
        dir,
        (cb) => this.#sftp.raw.ext_openssh_statvfs(dir, cb),
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
}
