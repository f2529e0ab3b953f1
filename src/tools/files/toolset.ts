/**
 * Files toolset over SFTP only (no shell): read, write, edit, list_dir, sync. read and list_dir are
 * here; write and edit in `files_write.ts`, sync in `files_sync.ts`.
 */
import { withWaitBudget } from "../jobs/budget.ts";
import { Buffer } from "node:buffer";
import { z } from "zod";
import { octalMode, type Sftp, symbolicMode } from "../../ssh/sftp/sftp.ts";
import { defineTool, type Toolset } from "../define.ts";
import { binaryError, decodeText, isoTime, joinParts, sessionOf } from "./common.ts";
import { sync } from "./sync.ts";
import { download, upload } from "./transfer.ts";
import { edit, write } from "./write.ts";
import { HINTS, remotePath, target } from "../schemas.ts";

/** Files larger than this are not hashed whole by `read` (sha256 is then null). */
const READ_HASH_LIMIT = 256 * 1024 * 1024;
/** Entries `list_dir` returns at most. */
const LIST_LIMIT = 1000;
/** Bytes checked for NUL and invalid UTF-8 before a text read. */
const SNIFF_BYTES = 8192;
/** Lines `read` returns when no limit is given. */
const DEFAULT_LINES = 2000;

/** Whether bytes contain a NUL or are not UTF-8 (a sequence cut at the end is allowed). */
function looksBinary(bytes: Uint8Array): string | undefined {
  if (bytes.includes(0)) return "it contains NUL bytes";
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
  } catch {
    return "it is not valid UTF-8";
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// read

const readOutput = z.object({
  alias: z.string().describe("Connection used"),
  path: z.string().describe("Path as given"),
  encoding: z.enum(["utf8", "base64"]).describe("Encoding of content"),
  content: z.string().describe("The window: text lines (utf8) or base64 of the bytes"),
  size: z.number().int().describe("Total file size in bytes"),
  sha256: z.string().nullable().describe(
    "Hex sha256 of the whole file (pass as expected_sha256 to write/edit); null for files over 256 MiB",
  ),
  mtime: z.string().describe("Modification time, ISO 8601"),
  offset: z.number().int().describe("First line (utf8, 1-based) or first byte (base64, 0-based) returned"),
  returned: z.number().int().describe("Lines (utf8) or bytes (base64) returned"),
  total_lines: z.number().int().nullable().optional().describe(
    "Lines in the file (utf8; null when not counted)",
  ),
  truncated: z.boolean().describe("More content exists beyond this window"),
  next_offset: z.number().int().nullable().describe("offset to pass to continue reading, null at the end"),
});

interface LineWindow {
  parts: Uint8Array[];
  bytes: number;
  first: number;
  last: number;
  cutLine: boolean;
}

async function readLines(
  sftp: Sftp,
  path: string,
  first: number,
  limit: number,
  cap: number,
  signal: AbortSignal,
): Promise<
  { window: LineWindow; size: number; sha256: string | null; mtime: number; totalLines: number | null }
> {
  const window: LineWindow = { parts: [], bytes: 0, first, last: first - 1, cutLine: false };
  const sniff = new Uint8Array(SNIFF_BYTES);
  let sniffed = 0;
  let line = 1;
  let lineStart = 0; // window.bytes when the current line began
  let full = false; // window complete (limit reached or cap hit)
  let lastByte = -1;
  const summary = await sftp.readEach(path, (chunk, _position, stat) => {
    if (sniffed < SNIFF_BYTES) {
      const take = chunk.subarray(0, SNIFF_BYTES - sniffed);
      sniff.set(take, sniffed);
      sniffed += take.length;
      const problem = looksBinary(sniff.subarray(0, sniffed));
      if (problem) throw binaryError(path, problem);
    }
    lastByte = chunk[chunk.length - 1]!;
    let at = 0;
    while (at < chunk.length) {
      const nl = chunk.indexOf(10, at);
      const end = nl === -1 ? chunk.length : nl + 1;
      if (!full && line >= first) {
        if (line >= first + limit) full = true;
        else {
          const piece = chunk.subarray(at, end);
          if (window.bytes + piece.length <= cap) {
            window.parts.push(piece.slice());
            window.bytes += piece.length;
            if (nl !== -1 || window.last < line) window.last = line;
          } else {
            full = true;
            if (lineStart > 0) dropTo(window, lineStart, line - 1);
            else {
              window.parts.push(piece.slice(0, cap - window.bytes));
              window.bytes = cap;
              window.cutLine = true;
              window.last = line;
            }
          }
        }
      }
      if (nl === -1) break;
      line++;
      lineStart = window.bytes;
      at = end;
    }
    // Past the window, keep reading only to hash and count lines of files that are not huge.
    return !(full && stat.size > READ_HASH_LIMIT);
  }, { signal });
  const totalLines = summary.complete ? line - 1 + (lastByte !== 10 && summary.size > 0 ? 1 : 0) : null;
  return {
    window,
    size: summary.complete ? summary.size : summary.stat.size,
    sha256: summary.complete ? summary.sha256 : null,
    mtime: summary.stat.mtime,
    totalLines,
  };
}

function dropTo(window: LineWindow, bytes: number, last: number): void {
  let kept = 0;
  const parts: Uint8Array[] = [];
  for (const part of window.parts) {
    if (kept >= bytes) break;
    const piece = part.subarray(0, Math.min(part.length, bytes - kept));
    parts.push(piece);
    kept += piece.length;
  }
  window.parts = parts;
  window.bytes = kept;
  window.last = last;
}

/** Cuts at a UTF-8 character boundary. */
function utf8Prefix(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  let back = 0;
  while (end - back > 0 && back < 4 && (bytes[end - back - 1]! & 0xc0) === 0x80) back++;
  const lead = bytes[end - back - 1];
  if (lead !== undefined && lead >= 0xc0) {
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (back + 1 < need) end = end - back - 1;
  }
  return bytes.subarray(0, end);
}

const read = defineTool({
  name: "read",
  title: "Read a file",
  description:
    "Reads a remote file over SFTP. utf8 (default): a window of lines, offset = first line (1-based), limit = line count (default 2000). " +
    "base64: a byte window, offset = first byte (0-based). Returns size, mtime and the sha256 of the whole file (pass it to write/edit " +
    'as expected_sha256). Binary files are refused in utf8: use encoding "base64". Content is capped at -max-output; continue with next_offset.',
  input: z.object({
    path: remotePath.describe("File path, absolute or relative to the login user's home"),
    target,
    offset: z.number().int().min(0).optional().describe(
      "utf8: first line, 1-based (default 1). base64: first byte, 0-based (default 0)",
    ),
    limit: z.number().int().positive().optional().describe(
      "utf8: number of lines (default 2000). base64: number of bytes (default: as many as fit in -max-output)",
    ),
    encoding: z.enum(["utf8", "base64"]).default("utf8").describe(
      "utf8 for text (line window) or base64 for binary files (byte window)",
    ),
  }),
  output: readOutput,
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { alias, sftp } = await sessionOf(ctx, args.target);
    const cap = ctx.limits.maxOutputBytes;
    if (args.encoding === "base64") {
      const start = args.offset ?? 0;
      const want = Math.min(args.limit ?? Infinity, Math.floor(cap / 4) * 3);
      const stat = await sftp.stat(args.path);
      const whole = stat.size <= READ_HASH_LIMIT;
      const parts: Uint8Array[] = [];
      let got = 0;
      const summary = await sftp.readEach(
        args.path,
        (chunk, position) => {
          const from = Math.max(start, position);
          const to = Math.min(start + want, position + chunk.length);
          if (to > from) {
            parts.push(chunk.slice(from - position, to - position));
            got += to - from;
          }
          return whole || position + chunk.length < start + want;
        },
        whole
          ? { signal: ctx.signal }
          : { signal: ctx.signal, start, end: Math.min(stat.size, start + want) },
      );
      const size = summary.complete ? summary.size : summary.stat.size;
      const next = start + got < size ? start + got : null;
      const content = Buffer.from(joinParts(parts, got)).toString("base64");
      const data = {
        alias,
        path: args.path,
        encoding: "base64" as const,
        content,
        size,
        sha256: summary.complete ? summary.sha256 : null,
        mtime: isoTime(summary.stat.mtime),
        offset: start,
        returned: got,
        truncated: next !== null,
        next_offset: next,
      };
      const footer = `[bytes ${start}–${start + got} of ${size} · sha256 ${data.sha256 ?? "not computed"}${
        next === null ? "" : ` · more: offset ${next}`
      }]`;
      return { data, text: `${content}\n${footer}` };
    }
    const first = Math.max(1, args.offset ?? 1);
    const limit = args.limit ?? DEFAULT_LINES;
    const result = await readLines(sftp, args.path, first, limit, cap, ctx.signal);
    const { window } = result;
    let bytes = joinParts(window.parts, window.bytes);
    if (window.cutLine) bytes = utf8Prefix(bytes);
    const content = decodeText(args.path, bytes);
    const returned = Math.max(0, window.last - first + 1);
    const more = window.cutLine || result.totalLines === null || window.last < result.totalLines;
    const next = window.cutLine ? window.last + 1 : more && returned > 0 ? window.last + 1 : null;
    const data = {
      alias,
      path: args.path,
      encoding: "utf8" as const,
      content,
      size: result.size,
      sha256: result.sha256,
      mtime: isoTime(result.mtime),
      offset: first,
      returned,
      total_lines: result.totalLines,
      truncated: next !== null,
      next_offset: next,
    };
    const range = returned === 0 ? "no lines" : `lines ${first}–${window.last}`;
    const footer = `[${range} of ${result.totalLines ?? "?"} · ${result.size} bytes · sha256 ${
      result.sha256 ?? "not computed"
    }${window.cutLine ? ` · line ${window.last} cut at -max-output` : ""}${
      next === null ? "" : ` · more: offset ${next}`
    }]`;
    return { data, text: `${content}${content.endsWith("\n") || content === "" ? "" : "\n"}${footer}` };
  },
});

// ---------------------------------------------------------------------------------------------
// list_dir

const entrySchema = z.object({
  name: z.string().describe("File name"),
  type: z.enum(["file", "directory", "symlink", "fifo", "socket", "char_device", "block_device", "unknown"])
    .describe("Kind of entry (a symlink is not followed)"),
  size: z.number().int().describe("Size in bytes"),
  mode: z.string().describe("Permission bits, octal (e.g. 0755)"),
  permissions: z.string().describe("ls -l style, e.g. -rw-r--r--"),
  owner: z.string().describe("Owner name"),
  group: z.string().describe("Group name"),
  uid: z.number().int().describe("Owner uid"),
  gid: z.number().int().describe("Group gid"),
  mtime: z.string().describe("Modification time, ISO 8601"),
  target: z.string().optional().describe("Symlink target, as stored"),
});

const listDir = defineTool({
  name: "list_dir",
  title: "List a directory",
  description:
    "Lists a remote directory over SFTP: name, type, size, mode (octal and rwx), owner, group, mtime and symlink target of each entry, sorted by name. " +
    "Hidden entries only with all: true. At most 1000 entries are returned; `omitted` counts the rest.",
  input: z.object({
    path: remotePath.describe("Directory path, absolute or relative to the login user's home"),
    target,
    all: z.boolean().optional().describe("Include entries whose name starts with a dot"),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    path: z.string().describe("Absolute path of the directory"),
    entries: z.array(entrySchema).describe("Entries sorted by name"),
    total: z.number().int().describe("Entries matching (before the cap)"),
    omitted: z.number().int().describe("Entries left out by the 1000-entry cap"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { alias, sftp } = await sessionOf(ctx, args.target);
    const listing = await sftp.list(args.path, { all: args.all, limit: LIST_LIMIT });
    const entries = listing.entries.map((e) => ({
      name: e.name,
      type: e.type,
      size: e.size,
      mode: octalMode(e.mode),
      permissions: symbolicMode(e.type, e.mode),
      owner: e.owner,
      group: e.group,
      uid: e.uid,
      gid: e.gid,
      mtime: isoTime(e.mtime),
      ...(e.target === undefined ? {} : { target: e.target }),
    }));
    const lines = entries.map((e) =>
      `${e.permissions} ${e.owner} ${e.group} ${e.size} ${e.mtime.slice(0, 19)} ${e.name}${
        e.target === undefined ? "" : ` -> ${e.target}`
      }`
    );
    lines.push(
      `[${listing.path}: ${listing.total} entr${listing.total === 1 ? "y" : "ies"}${
        listing.omitted ? `, ${listing.omitted} not shown` : ""
      }]`,
    );
    return {
      data: { alias, path: listing.path, entries, total: listing.total, omitted: listing.omitted },
      text: lines.join("\n"),
    };
  },
});

/** The files toolset. */
export const FILES: Toolset = {
  name: "files",
  tools: [
    read,
    write,
    edit,
    listDir,
    withWaitBudget<{ source_node: string; source_path: string; dest_node: string; dest_path: string }>(sync, {
      target: (args) => args.dest_node,
      preview: (args) => `sync ${args.source_node}:${args.source_path} → ${args.dest_node}:${args.dest_path}`,
    }),
    withWaitBudget<{ local_path: string; remote_path: string; target?: string }>(upload, {
      target: (args) => args.target,
      preview: (args) => `upload ${args.local_path} → ${args.target ?? "(default)"}:${args.remote_path}`,
    }),
    withWaitBudget<{ local_path: string; remote_path: string; target?: string }>(download, {
      target: (args) => args.target,
      preview: (args) => `download ${args.target ?? "(default)"}:${args.remote_path} → ${args.local_path}`,
    }),
  ],
};
