/**
 * `upload` and `download`: files between the server's machine (its transfer dir, -transfer-dir) and
 * a connection over SFTP, streamed with bounded memory and atomic on the receiving side, so the bytes
 * never pass through the model. Each transfer is a function of its own ({@link uploadFile},
 * {@link downloadFile}) so that a jobs runner can take over transfers that outlast the wait budget.
 *
 * @module
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { octalMode } from "../../ssh/sftp/sftp.ts";
import { defineTool, type ToolContext } from "../define.ts";
import { reopener, sessionOf } from "./common.ts";
import { openLocal, resolveLocalSource, resolveLocalTarget, writeLocalAtomic } from "./local_files.ts";
import { remotePath, target } from "../schemas.ts";

/** Permission bits carried across (setuid, setgid and sticky are not). */
const MODE_BITS = 0o777;

const localPath = z.string().min(1).max(4096);

/** What a transfer reports (the shared output of both tools). */
export interface TransferData {
  /** Connection used. */
  alias: string;
  /** Path in the transfer dir, relative to it. */
  local_path: string;
  /** Absolute remote path. */
  remote_path: string;
  /** Bytes transferred. */
  size: number;
  /** Hex sha256 of the content. */
  sha256: string;
  /** Octal permission bits given to the new file. */
  mode: string;
  /** True when no file existed at the destination. */
  created: boolean;
  /** Wall time in ms. */
  duration_ms: number;
  [key: string]: unknown;
}

const transferOutput = z.object({
  alias: z.string().describe("Connection used"),
  local_path: z.string().describe("Path in the server's transfer dir, relative to it"),
  remote_path: z.string().describe("Absolute path on the host"),
  size: z.number().int().describe("Bytes transferred (checked against the source's size)"),
  sha256: z.string().describe("Hex sha256 of the content (the same on both sides)"),
  mode: z.string().describe("Octal permission bits of the new file (the source's rwx bits)"),
  created: z.boolean().describe("True when no file existed at the destination"),
  duration_ms: z.number().int().describe("Wall time in ms"),
});

/** Progress at most once a second, and at the end. */
function progressReporter(ctx: ToolContext, verb: string): (bytes: number, total: number) => void {
  let last = 0;
  return (bytes, total) => {
    const now = Date.now();
    if (now - last < 1000 && bytes < total) return;
    last = now;
    ctx.progress(bytes, total, `${verb} ${bytes} of ${total} bytes`);
  };
}

function transferDir(ctx: ToolContext): string {
  const dir = ctx.limits.transferDir;
  if (dir === undefined) {
    throw new ToolError("Cannot transfer files: this server has no transfer dir", {
      hint: "The operator must start the server with -transfer-dir.",
    });
  }
  return dir;
}

/** Arguments of {@link uploadFile}. */
export interface UploadArgs {
  /** Path in the transfer dir. */
  local_path: string;
  /** Destination on the host. */
  remote_path: string;
  /** Connection alias (default: the most recent). */
  target?: string;
}

/** Streams a file of the transfer dir to the host, replacing the remote file atomically. */
export async function uploadFile(args: UploadArgs, ctx: ToolContext): Promise<TransferData> {
  const started = Date.now();
  const source = await resolveLocalSource(transferDir(ctx), args.local_path);
  const { alias, sftp } = await sessionOf(ctx, args.target);
  await using reader = await openLocal(source.path, args.local_path);
  const total = reader.info.size;
  const report = progressReporter(ctx, "uploaded");
  const mode = (reader.info.mode ?? 0o644) & MODE_BITS;
  const outcome = await sftp.atomicWrite(args.remote_path, reader.chunks, {
    mode,
    createDirs: true,
    signal: ctx.signal,
    reopen: reopener(ctx, alias),
    onProgress: (bytes) => report(bytes, total),
  });
  // The remote side hashed and size-checked (fstat) what it was sent; the local side what it read.
  if (outcome.size !== total || outcome.sha256 !== reader.sha256()) {
    throw new ToolError(`Cannot upload "${args.local_path}": the bytes sent differ from the file read`, {
      hint: "Retry; if it persists, check the server's stderr log.",
    });
  }
  report(total, total);
  return {
    alias,
    local_path: source.relative,
    remote_path: outcome.path,
    size: outcome.size,
    sha256: outcome.sha256,
    mode: octalMode(outcome.mode),
    created: outcome.created,
    duration_ms: Date.now() - started,
  };
}

/** Arguments of {@link downloadFile}. */
export interface DownloadArgs {
  /** File on the host. */
  remote_path: string;
  /** Destination in the transfer dir. */
  local_path: string;
  /** Connection alias (default: the most recent). */
  target?: string;
}

/** Streams a remote file into the transfer dir, replacing the local file atomically. */
export async function downloadFile(args: DownloadArgs, ctx: ToolContext): Promise<TransferData> {
  const started = Date.now();
  const dir = transferDir(ctx);
  const { alias, sftp } = await sessionOf(ctx, args.target);
  const remote = await sftp.realpath(args.remote_path);
  const stat = await sftp.stat(remote);
  if (stat.type !== "file") {
    throw new ToolError(`Cannot download "${args.remote_path}": it is a ${stat.type}, not a regular file`, {
      hint: "Only regular files can be downloaded; use `list_dir` to find the file.",
    });
  }
  // Checked only once the remote file is known to be a file, so a refusal creates no directory.
  const local = await resolveLocalTarget(dir, args.local_path);
  const stream = await sftp.openStream(remote, ctx.signal);
  const mode = stat.mode & MODE_BITS;
  const report = progressReporter(ctx, "downloaded");
  try {
    const outcome = await writeLocalAtomic(local.path, stream.chunks, {
      mode,
      expectedSize: stream.stat.size,
      signal: ctx.signal,
      onProgress: (bytes) => report(bytes, stream.stat.size),
    });
    report(outcome.size, outcome.size);
    return {
      alias,
      local_path: local.relative,
      remote_path: remote,
      size: outcome.size,
      sha256: outcome.sha256,
      mode: octalMode(mode),
      created: !local.exists,
      duration_ms: Date.now() - started,
    };
  } finally {
    await stream.close();
  }
}

function describeTransfer(data: TransferData, arrow: string): string {
  return `${arrow} (${data.size} bytes, sha256 ${data.sha256}, mode ${data.mode}${
    data.created ? ", new file" : ", replaced"
  }) in ${data.duration_ms} ms`;
}

/** `upload`: a file of the server's transfer dir to a host. */
export const upload = defineTool({
  name: "upload",
  title: "Upload a local file",
  description:
    "Copies a file from the server's transfer dir (-transfer-dir) to a host over SFTP, streamed without passing " +
    "through the model. The remote file is replaced atomically with the local rwx mode; missing parents are " +
    "created; size and sha256 are returned. local_path is relative to the transfer dir.",
  input: z.object({
    local_path: localPath.describe(
      "File in the server's transfer dir, relative to it (no `..`; symlinks must stay inside)",
    ),
    remote_path: remotePath.describe("Destination file path on the host (not its directory)"),
    target,
  }),
  output: transferOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    const data = await uploadFile(args, ctx);
    return {
      data,
      text: describeTransfer(data, `Uploaded ${data.local_path} → ${data.alias}:${data.remote_path}`),
    };
  },
});

/** `download`: a file of a host into the server's transfer dir. */
export const download = defineTool({
  name: "download",
  title: "Download to a local file",
  description:
    "Copies a file from a host into the server's transfer dir (-transfer-dir) over SFTP, streamed without passing " +
    "through the model. The local file is replaced atomically with the remote rwx mode and verified by sha256 " +
    "after it landed. Not offered under -read-only: it writes on the server's machine.",
  input: z.object({
    remote_path: remotePath.describe("File on the host"),
    local_path: localPath.describe(
      "Destination in the server's transfer dir, relative to it (no `..`); missing directories are created",
    ),
    target,
  }),
  output: transferOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    const data = await downloadFile(args, ctx);
    return {
      data,
      text: describeTransfer(data, `Downloaded ${data.alias}:${data.remote_path} → ${data.local_path}`),
    };
  },
});
