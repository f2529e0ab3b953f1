/**
 * Copies a file or a directory tree between two SFTP sessions (or within one) with bounded memory:
 * each file streams through {@link Sftp.openStream} into {@link Sftp.atomicWrite}, a few files at a
 * time, and a directory tree is walked first (breadth-first) so that progress can report a total.
 *
 * @module
 */
import { posix } from "node:path";
import { ToolError } from "../../errors.ts";
import type { Sftp } from "./sftp.ts";
import { expandHome, type FileStat } from "./channel.ts";

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
 * const outcome = await copy({ sftp: a, path: "/srv/data" }, { sftp: b, path: "/backup/data" });
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
