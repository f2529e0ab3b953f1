/**
 * The server machine's side of `upload` and `download`: paths confined to the transfer dir
 * (-transfer-dir), streamed reads, and atomic writes (exclusive temp file in the same directory,
 * fsync, re-read and hashed, chmod, rename).
 *
 * Deno's permissions check paths lexically, so a symlink inside the granted directory would lead out
 * of it; every path is therefore also resolved with realpath and checked against the real root, and
 * `..` is refused outright. What remains is a race with a local user who swaps a checked directory
 * for a symlink between the check and the write: such a user can already write the transfer dir.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, dirname, isAbsolute, join, normalize, relative } from "node:path";
import { ToolError } from "../../errors.ts";

/** Bytes read from a local file per chunk. */
const READ_CHUNK = 256 * 1024;

function refused(given: string, why: string): ToolError {
  return new ToolError(`Cannot use local path "${given}": ${why}; nothing was read or written`, {
    hint: 'Pass a path relative to the server\'s transfer dir (-transfer-dir), e.g. "reports/db.sql".',
  });
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith("/") ? root : `${root}/`);
}

async function realRoot(root: string): Promise<string> {
  try {
    return await Deno.realPath(root);
  } catch (error) {
    throw new ToolError(`Cannot use the transfer dir: ${(error as Error).message}`, {
      hint: "The operator must create it (or pass another -transfer-dir) and restart the server.",
    });
  }
}

/** The path segments of `given` below `root`, after the lexical checks (no `..`, not outside). */
function segmentsOf(root: string, given: string): string[] {
  if (given.includes("\0")) throw refused(given, "it contains a NUL byte");
  if (given.split(/[/\\]/).includes("..")) throw refused(given, '".." is not allowed');
  let rel = given;
  if (isAbsolute(given)) {
    const normal = normalize(given);
    if (!inside(root, normal)) throw refused(given, "absolute paths must lie inside the transfer dir");
    rel = relative(root, normal);
  }
  const segments = rel.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.length === 0) throw refused(given, "it names the transfer dir itself, not a file in it");
  return segments;
}

/** realpath of an existing path, which must stay inside `root`. */
async function realInside(root: string, path: string, given: string): Promise<string> {
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch {
    throw refused(given, "it is a symlink that leads nowhere");
  }
  if (!inside(root, real)) throw refused(given, "a symlink leads out of the transfer dir");
  return real;
}

async function lstatIfExists(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** A local file to upload, resolved inside the transfer dir. */
export interface LocalSource {
  /** Real path of the file. */
  path: string;
  /** The path relative to the transfer dir. */
  relative: string;
}

/**
 * Resolves `given` (relative to `root`, or absolute inside it) to an existing regular file whose real
 * path is inside the real `root`.
 *
 * @example
 * ```ts
 * const { path } = await resolveLocalSource("/data/transfer", "dumps/db.sql");
 * ```
 */
export async function resolveLocalSource(root: string, given: string): Promise<LocalSource> {
  const realRootPath = await realRoot(root);
  const segments = segmentsOf(realRootPath, given);
  const full = join(realRootPath, ...segments);
  if (await lstatIfExists(full) === undefined) {
    throw new ToolError(`Cannot upload "${given}": no such file in the transfer dir`, {
      hint: "Put the file into the server's transfer dir (-transfer-dir) first, or check the name.",
    });
  }
  const real = await realInside(realRootPath, full, given);
  const info = await Deno.stat(real);
  if (!info.isFile) throw refused(given, "it is not a regular file");
  return { path: real, relative: relative(realRootPath, real) };
}

/** Where a download lands, inside the transfer dir. */
export interface LocalTarget {
  /** The file to replace or create (a symlink inside the dir is written through). */
  path: string;
  /** The path relative to the transfer dir. */
  relative: string;
  /** Whether a file existed there. */
  exists: boolean;
}

/**
 * Resolves `given` for writing: every existing parent is checked with realpath to stay inside `root`,
 * missing parents are created (0700) one by one inside it, and an existing symlink at the end must be
 * a regular file inside `root` (it is written through).
 */
export async function resolveLocalTarget(root: string, given: string): Promise<LocalTarget> {
  const realRootPath = await realRoot(root);
  const segments = segmentsOf(realRootPath, given);
  const last = segments.pop()!;
  // Every symlink is checked before any directory is created: once a component is missing, all
  // components after it are created here and cannot be symlinks.
  let dir = realRootPath;
  for (const segment of segments) {
    const next = join(dir, segment);
    const info = await lstatIfExists(next);
    const notDir = () => refused(given, `"${relative(realRootPath, next)}" is not a directory`);
    if (info === undefined) {
      await Deno.mkdir(next, { mode: 0o700 });
      dir = next;
    } else if (info.isSymlink) {
      dir = await realInside(realRootPath, next, given);
      if (!(await Deno.stat(dir)).isDirectory) throw notDir();
    } else if (info.isDirectory) dir = next;
    else throw notDir();
  }
  let path = join(dir, last);
  const info = await lstatIfExists(path);
  if (info?.isSymlink) path = await realInside(realRootPath, path, given);
  const target = info === undefined ? undefined : await Deno.stat(path);
  if (target !== undefined && !target.isFile) {
    throw refused(given, `it is a ${target.isDirectory ? "directory" : "special file"}, not a regular file`);
  }
  return { path, relative: relative(realRootPath, path), exists: target !== undefined };
}

/** An open local file streamed in chunks, hashed as it is read. */
export interface LocalReader {
  /** Size and mode when opened. */
  info: Deno.FileInfo;
  /**
   * The content; throws when the file changed size or mtime while it was read (so an atomic write
   * fed by it replaces nothing).
   */
  chunks: AsyncGenerator<Uint8Array>;
  /** Bytes read so far. */
  readonly bytes: number;
  /** Hex sha256 of everything read (complete once `chunks` is done). */
  sha256(): string;
}

/**
 * Opens a local file for streaming. The caller disposes the reader (closes the file).
 *
 * @example
 * ```ts
 * await using reader = await openLocal(path, "db.sql");
 * for await (const chunk of reader.chunks) send(chunk);
 * ```
 */
export async function openLocal(path: string, shown: string): Promise<LocalReader & AsyncDisposable> {
  const file = await Deno.open(path, { read: true });
  const info = await file.stat();
  const hash = createHash("sha256");
  let bytes = 0;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      // A fresh buffer per chunk: writers may hold chunks while their writes are in flight.
      const buffer = new Uint8Array(READ_CHUNK);
      const n = await file.read(buffer);
      if (n === null) break;
      const chunk = buffer.subarray(0, n);
      hash.update(chunk);
      bytes += n;
      yield chunk;
    }
    const now = await file.stat();
    if (bytes !== info.size || now.size !== info.size || now.mtime?.getTime() !== info.mtime?.getTime()) {
      throw new ToolError(`Cannot upload "${shown}": it changed while being read; nothing was replaced`, {
        hint: "Retry once nothing is writing the file any more.",
      });
    }
  }
  return {
    info,
    chunks: chunks(),
    get bytes() {
      return bytes;
    },
    sha256: () => hash.copy().digest("hex"),
    [Symbol.asyncDispose]: () => Promise.resolve(file.close()),
  };
}

/** Options of {@link writeLocalAtomic}. */
export interface LocalWriteOptions {
  /** Permission bits of the new file. */
  mode: number;
  /** The size the content must have (checked before the rename). */
  expectedSize?: number;
  /** Bytes written so far, after each chunk. */
  onProgress?: (bytes: number) => void;
  /** Aborts the write (the temp file is removed). */
  signal?: AbortSignal;
}

/** What {@link writeLocalAtomic} wrote. */
export interface LocalWriteOutcome {
  /** Bytes written. */
  size: number;
  /** Hex sha256 of the file as re-read from disk before the rename. */
  sha256: string;
}

function tempPathOf(path: string): string {
  const random = Array.from(
    crypto.getRandomValues(new Uint8Array(12)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  return join(dirname(path), `.${basename(path).slice(0, 200)}.mcp-${random}.tmp`);
}

async function hashFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(READ_CHUNK);
  for (;;) {
    signal?.throwIfAborted();
    const n = await file.read(buffer);
    if (n === null) return hash.digest("hex");
    hash.update(buffer.subarray(0, n));
  }
}

/**
 * Replaces (or creates) a local file atomically: the content goes to an exclusive temp file (0600)
 * in the same directory, is fsynced, re-read and hashed, checked against the hash of what arrived
 * (and `expectedSize`), given `mode`, and renamed over `path`. On any failure the temp file is removed
 * and `path` is untouched.
 */
export async function writeLocalAtomic(
  path: string,
  content: AsyncIterable<Uint8Array>,
  options: LocalWriteOptions,
): Promise<LocalWriteOutcome> {
  const temp = tempPathOf(path);
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
  let open = true;
  try {
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of content) {
      options.signal?.throwIfAborted();
      hash.update(chunk);
      for (let at = 0; at < chunk.byteLength;) at += await file.write(chunk.subarray(at));
      size += chunk.byteLength;
      options.onProgress?.(size);
    }
    await file.syncData();
    file.close();
    open = false;
    if (options.expectedSize !== undefined && size !== options.expectedSize) {
      throw new ToolError(
        `Cannot save "${
          basename(path)
        }": ${size} bytes arrived of ${options.expectedSize}; nothing was replaced`,
        { hint: "The remote file changed while it was read: retry when nothing writes it." },
      );
    }
    const sent = hash.digest("hex");
    const landed = await hashFile(temp, options.signal);
    if (landed !== sent) {
      throw new ToolError(`Cannot save "${basename(path)}": the bytes on disk differ from those received`, {
        hint: "Check the local disk, then retry.",
      });
    }
    await Deno.chmod(temp, options.mode);
    options.signal?.throwIfAborted();
    await Deno.rename(temp, path);
    return { size, sha256: landed };
  } catch (error) {
    if (open) file.close();
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
