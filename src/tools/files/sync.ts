/**
 * The `sync` file tool: a file or directory tree copied between two connections (or within one)
 * over SFTP, streamed through this server (see `sftp_copy.ts`).
 *
 * @module
 */
import { posix } from "node:path";
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { copy } from "../../ssh/sftp/copy.ts";
import { defineTool } from "../define.ts";
import { reopener, sessionOf } from "./common.ts";
import { HINTS, remotePath } from "../schemas.ts";

/** `sync`: copies a file or directory tree between connections. */
export const sync = defineTool({
  name: "sync",
  title: "Copy between hosts",
  description:
    "Copies a file or directory tree from one connection to another (or within one) over SFTP, streamed through this server with bounded memory. " +
    "Each file lands atomically with its mode and mtime; symlinks inside a tree stay symlinks; size and sha256 are verified. " +
    "dest_path is the copy's own path. Files only at the destination are kept. Sends progress.",
  input: z.object({
    source_node: z.string().min(1).max(200).describe("Alias of the connection to copy from"),
    source_path: remotePath.describe("File or directory to copy"),
    dest_node: z.string().min(1).max(200).describe(
      "Alias of the connection to copy to (may equal source_node)",
    ),
    dest_path: remotePath.describe("Path the copy gets (not its parent); missing parents are created"),
  }),
  output: z.object({
    source_node: z.string().describe("Source alias"),
    dest_node: z.string().describe("Destination alias"),
    source_path: z.string().describe("Absolute source path"),
    dest_path: z.string().describe("Destination path"),
    type: z.enum(["file", "directory"]).describe("What was copied"),
    files: z.number().int().describe("Files copied"),
    directories: z.number().int().describe("Directories created or updated"),
    symlinks: z.number().int().describe("Symlinks recreated"),
    bytes: z.number().int().describe("Content bytes copied"),
    sha256: z.string().nullable().describe("Hex sha256 of a single copied file (null for trees)"),
    skipped: z.array(z.string()).describe("Sockets, fifos and devices not copied"),
    duration_ms: z.number().int().describe("Wall time in ms"),
  }),
  annotations: HINTS.changeRemote,
  handler: async (args, ctx) => {
    const started = Date.now();
    const src = await sessionOf(ctx, args.source_node);
    const dst = await sessionOf(ctx, args.dest_node);
    // Two aliases are the same host when they reach the same user@host:port the same way.
    const targets = new Map(ctx.connections.list().map((c) => [c.alias, `${c.target} via ${c.via ?? "-"}`]));
    const sourcePath = await src.sftp.realpath(args.source_path);
    if (await src.sftp.lstatIfExists(sourcePath) === undefined) {
      throw new ToolError(`Cannot sync "${args.source_path}": it does not exist on ${src.alias}`, {
        hint: "Check the source path with `list_dir` on the source connection.",
      });
    }
    if (src.alias === dst.alias || targets.get(src.alias) === targets.get(dst.alias)) {
      const destPath = await dst.sftp.realpath(args.dest_path).catch(() => posix.normalize(args.dest_path));
      if (destPath === sourcePath || destPath.startsWith(`${sourcePath}/`)) {
        throw new ToolError(
          `Cannot sync "${args.source_path}" to "${args.dest_path}" on the same host: the destination is the source${
            destPath === sourcePath ? "" : " or inside it"
          }`,
          { hint: "Choose a destination path outside the source." },
        );
      }
    }
    let lastReport = 0;
    const outcome = await copy(
      { sftp: src.sftp, path: sourcePath },
      { sftp: dst.sftp, path: args.dest_path },
      {
        signal: ctx.signal,
        reopenDest: reopener(ctx, dst.alias),
        onProgress: (copied, total, current) => {
          const now = Date.now();
          if (now - lastReport < 1000 && copied < total) return;
          lastReport = now;
          ctx.progress(copied, total, `copied ${copied} of ${total} bytes (${current})`);
        },
      },
    );
    const data = {
      source_node: src.alias,
      dest_node: dst.alias,
      source_path: sourcePath,
      dest_path: args.dest_path,
      type: outcome.type,
      files: outcome.files,
      directories: outcome.directories,
      symlinks: outcome.symlinks,
      bytes: outcome.bytes,
      sha256: outcome.sha256 ?? null,
      skipped: outcome.skipped,
      duration_ms: Date.now() - started,
    };
    const what = outcome.type === "file"
      ? `${outcome.bytes} bytes, sha256 ${outcome.sha256}`
      : `${outcome.files} files, ${outcome.directories} directories, ${outcome.symlinks} symlinks, ${outcome.bytes} bytes`;
    const skipped = outcome.skipped.length
      ? ` · skipped (not regular files): ${outcome.skipped.join(", ")}`
      : "";
    return {
      data,
      text:
        `Copied ${src.alias}:${sourcePath} → ${dst.alias}:${args.dest_path} (${what}) in ${data.duration_ms} ms${skipped}`,
    };
  },
});
