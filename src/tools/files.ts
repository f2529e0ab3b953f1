/**
 * Files toolset over SFTP only (no shell): read, write, edit, list_dir, sync.
 */
import { Buffer } from "node:buffer";
import { posix } from "node:path";
import { z } from "zod";
import { ToolError } from "../errors.ts";
import { copy, octalMode, openSftp, type Sftp, symbolicMode } from "../ssh/sftp.ts";
import { defineTool, type ToolContext, type Toolset } from "./define.ts";
import { HINTS, remotePath, target } from "./schemas.ts";

/** Files larger than this are not hashed whole by `read` (sha256 is then null). */
const READ_HASH_LIMIT = 256 * 1024 * 1024;
/** Largest file `edit` loads. */
const EDIT_MAX_BYTES = 32 * 1024 * 1024;
/** Entries `list_dir` returns at most. */
const LIST_LIMIT = 1000;
/** Bytes checked for NUL and invalid UTF-8 before a text read. */
const SNIFF_BYTES = 8192;
/** Longest diff `edit` returns. */
const DIFF_MAX_CHARS = 4000;
/** Lines `read` returns when no limit is given. */
const DEFAULT_LINES = 2000;

const sha256Hex = z.string().regex(/^[0-9a-fA-F]{64}$/, "64 hex digits");

async function sessionOf(
  ctx: ToolContext,
  alias: string | undefined,
): Promise<{ alias: string; sftp: Sftp }> {
  const { alias: name, connection } = await ctx.connections.get(alias, ctx.signal);
  return { alias: name, sftp: await openSftp(connection) };
}

/** A fresh session for temp-file cleanup after a dropped link (reconnects if needed). */
function reopener(ctx: ToolContext, alias: string): () => Promise<Sftp> {
  return async () => openSftp((await ctx.connections.get(alias)).connection);
}

function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

function binaryError(path: string, detail: string): ToolError {
  return new ToolError(`Cannot read "${path}" as text: ${detail}`, {
    hint: 'It looks binary: call `read` again with encoding: "base64" (offset/limit are then bytes).',
  });
}

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

function decodeText(path: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw binaryError(path, "it is not valid UTF-8");
  }
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

function joinParts(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
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
// write

const writeOutput = z.object({
  alias: z.string().describe("Connection used"),
  path: z.string().describe("File written (a symlink's target when path was a symlink)"),
  symlink: z.string().optional().describe("The symlink written through, kept as a link"),
  created: z.boolean().describe("True when the file did not exist before"),
  size: z.number().int().describe("Bytes written"),
  sha256: z.string().describe("Hex sha256 of the new content"),
  mode: z.string().describe("Permission bits now, octal (e.g. 0644)"),
  uid: z.number().int().describe("Owner uid now"),
  gid: z.number().int().describe("Group gid now"),
  owner_preserved: z.boolean().nullable().describe(
    "Whether the previous owner and group were kept (null for a new file; false when not root)",
  ),
});

function writeReply(alias: string, outcome: Awaited<ReturnType<Sftp["atomicWrite"]>>) {
  return {
    alias,
    path: outcome.path,
    ...(outcome.symlink === undefined ? {} : { symlink: outcome.symlink }),
    created: outcome.created,
    size: outcome.size,
    sha256: outcome.sha256,
    mode: octalMode(outcome.mode),
    uid: outcome.uid,
    gid: outcome.gid,
    owner_preserved: outcome.ownerPreserved,
  };
}

function writeSummary(data: ReturnType<typeof writeReply>): string {
  const owner = data.owner_preserved === false
    ? ` · owner not kept (now uid ${data.uid}): only root can keep another user's ownership`
    : "";
  return `${data.created ? "Created" : "Replaced"} ${data.path}${
    data.symlink ? ` (through symlink ${data.symlink})` : ""
  } atomically: ${data.size} bytes · mode ${data.mode} · sha256 ${data.sha256}${owner}`;
}

const write = defineTool({
  name: "write",
  title: "Write a file",
  description:
    "Writes a whole file over SFTP atomically (temp file in the same directory, fsync, rename): readers see the old or the new content, never a mix. " +
    "An existing file keeps its mode, owner and group; a symlink stays a link and its target is replaced. " +
    "Pass expected_sha256 (from `read`) to refuse the write if the file changed meanwhile.",
  input: z.object({
    path: remotePath.describe("File path, absolute or relative to the login user's home"),
    content: z.string().max(16_000_000).describe(
      "The complete new content (text, or base64 with encoding: base64)",
    ),
    target,
    encoding: z.enum(["utf8", "base64"]).default("utf8").describe("How content is encoded (default utf8)"),
    mode: z.string().regex(/^0?[0-7]{3,4}$/, "octal like 0644").optional().describe(
      "Permission bits in octal, e.g. 0644 (default: the existing file's mode, else 0644)",
    ),
    create_dirs: z.boolean().optional().describe("Create missing parent directories (mode 0755)"),
    expected_sha256: sha256Hex.optional().describe(
      "Write only if the current content has this sha256 (from `read`); otherwise nothing is written",
    ),
  }),
  output: writeOutput,
  annotations: HINTS.changeRemote,
  handler: async (args, ctx) => {
    let bytes: Uint8Array;
    if (args.encoding === "base64") {
      const clean = args.content.replace(/\s+/g, "");
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
        throw new TypeError("Cannot decode content: it is not valid base64");
      }
      bytes = Buffer.from(clean, "base64");
    } else bytes = new TextEncoder().encode(args.content);
    const { alias, sftp } = await sessionOf(ctx, args.target);
    const outcome = await sftp.atomicWrite(args.path, bytes, {
      mode: args.mode === undefined ? undefined : Number.parseInt(args.mode, 8),
      createDirs: args.create_dirs,
      expectedSha256: args.expected_sha256,
      reopen: reopener(ctx, alias),
      signal: ctx.signal,
    });
    const data = writeReply(alias, outcome);
    return { data, text: writeSummary(data) };
  },
});

// ---------------------------------------------------------------------------------------------
// edit

function occurrences(text: string, needle: string): number[] {
  const found: number[] = [];
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) {
    found.push(at);
  }
  return found;
}

/** 1-based line numbers of ascending offsets. */
function lineNumbers(text: string, offsets: readonly number[]): number[] {
  const lines: number[] = [];
  let line = 1;
  let from = 0;
  for (const offset of offsets) {
    for (let nl = text.indexOf("\n", from); nl !== -1 && nl < offset; nl = text.indexOf("\n", nl + 1)) {
      line++;
      from = nl + 1;
    }
    lines.push(line);
  }
  return lines;
}

interface Block {
  os: number;
  oe: number;
  ns: number;
  ne: number;
}

/**
 * A unified diff of the replaced regions only (2 lines of context), from the match offsets, so
 * that no general diff algorithm is needed.
 */
export function editDiff(
  path: string,
  before: string,
  after: string,
  edit: { at: readonly number[]; oldLength: number; newLength: number },
): string {
  // A final newline ends the last line; it does not start another one.
  const linesOf = (text: string) => (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n");
  const oldLines = linesOf(before);
  const newLines = linesOf(after);
  const shift = edit.newLength - edit.oldLength;
  const starts = lineNumbers(before, edit.at);
  const ends = lineNumbers(before, edit.at.map((o) => o + edit.oldLength));
  const newOffsets = edit.at.map((o, i) => o + i * shift);
  const newStarts = lineNumbers(after, newOffsets);
  const newEnds = lineNumbers(after, newOffsets.map((o) => o + edit.newLength));
  const blocks: Block[] = [];
  for (let i = 0; i < edit.at.length; i++) {
    const b = { os: starts[i]! - 1, oe: ends[i]! - 1, ns: newStarts[i]! - 1, ne: newEnds[i]! - 1 };
    while (b.os <= b.oe && b.ns <= b.ne && oldLines[b.os] === newLines[b.ns]) {
      b.os++;
      b.ns++;
    }
    while (b.oe >= b.os && b.ne >= b.ns && oldLines[b.oe] === newLines[b.ne]) {
      b.oe--;
      b.ne--;
    }
    const last = blocks[blocks.length - 1];
    if (last !== undefined && b.os <= last.oe) {
      last.oe = Math.max(last.oe, b.oe);
      last.ne = Math.max(last.ne, b.ne);
    } else blocks.push(b);
  }
  const context = 2;
  const out = [`--- ${path}`, `+++ ${path}`];
  const show = (line: string) => line.replace(/\r$/, "");
  let i = 0;
  while (i < blocks.length) {
    let j = i;
    while (j + 1 < blocks.length && blocks[j + 1]!.os - blocks[j]!.oe - 1 <= 2 * context) j++;
    const first = blocks[i]!;
    const lastBlock = blocks[j]!;
    const oldStart = Math.max(0, first.os - context);
    const newStart = first.ns - (first.os - oldStart);
    const oldEnd = Math.min(oldLines.length - 1, lastBlock.oe + context);
    const newEnd = lastBlock.ne + (oldEnd - lastBlock.oe);
    out.push(`@@ -${oldStart + 1},${oldEnd - oldStart + 1} +${newStart + 1},${newEnd - newStart + 1} @@`);
    let o = oldStart;
    for (let k = i; k <= j; k++) {
      const b = blocks[k]!;
      for (; o < b.os; o++) out.push(` ${show(oldLines[o]!)}`);
      for (let x = b.os; x <= b.oe; x++) out.push(`-${show(oldLines[x]!)}`);
      for (let x = b.ns; x <= b.ne; x++) out.push(`+${show(newLines[x]!)}`);
      o = b.oe + 1;
    }
    for (; o <= oldEnd; o++) out.push(` ${show(oldLines[o]!)}`);
    i = j + 1;
  }
  const text = out.join("\n");
  return text.length <= DIFF_MAX_CHARS ? text : `${text.slice(0, DIFF_MAX_CHARS)}\n… (diff truncated)`;
}

const toCrlf = (s: string) => s.replace(/\r?\n/g, "\r\n");

const edit = defineTool({
  name: "edit",
  title: "Edit a file",
  description:
    "Replaces old_text with new_text in a remote file, atomically like `write` (mode, owner and symlinks kept). old_text must occur exactly once " +
    "(include surrounding lines to make it unique) unless replace_all is true; the error lists the matching lines. " +
    "CRLF files stay CRLF. Returns the count and a short unified diff.",
  input: z.object({
    path: remotePath.describe("File path, absolute or relative to the login user's home"),
    old_text: z.string().min(1).max(4_000_000).describe(
      "Exact text to replace (whitespace and indentation matter)",
    ),
    new_text: z.string().max(4_000_000).describe("Replacement text"),
    target,
    replace_all: z.boolean().default(false).describe(
      "Replace every occurrence instead of requiring exactly one",
    ),
    expected_sha256: sha256Hex.optional().describe(
      "Edit only if the current content has this sha256 (from `read`); otherwise nothing is written",
    ),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    path: z.string().describe("File written (a symlink's target when path was a symlink)"),
    replacements: z.number().int().describe("Occurrences replaced"),
    diff: z.string().describe("Unified diff of the changed lines"),
    previous_sha256: z.string().describe("Hex sha256 before the edit"),
    sha256: z.string().describe("Hex sha256 after the edit"),
    size: z.number().int().describe("New size in bytes"),
    owner_preserved: z.boolean().nullable().describe("Whether owner and group were kept"),
  }),
  annotations: HINTS.changeRemote,
  handler: async (args, ctx) => {
    const { alias, sftp } = await sessionOf(ctx, args.target);
    const parts: Uint8Array[] = [];
    const summary = await sftp.readEach(args.path, (chunk) => void parts.push(chunk.slice()), {
      maxBytes: EDIT_MAX_BYTES,
      signal: ctx.signal,
    });
    if (args.expected_sha256 !== undefined && args.expected_sha256.toLowerCase() !== summary.sha256) {
      throw new ToolError(
        `Cannot edit "${args.path}": it changed since it was read (sha256 is ${summary.sha256}, expected ${args.expected_sha256}); nothing was written`,
        { hint: "Read the file again and redo the edit on the current content." },
      );
    }
    const bytes = joinParts(parts, summary.size);
    if (bytes.includes(0)) throw binaryError(args.path, "it contains NUL bytes");
    const before = decodeText(args.path, bytes);
    // A file whose every line ends in CRLF is matched and written with CRLF whatever the model typed;
    // a mixed file is tried as typed first.
    const crlf = before.includes("\r\n");
    const allCrlf = crlf && !/(^|[^\r])\n/.test(before);
    let oldText = allCrlf ? toCrlf(args.old_text) : args.old_text;
    let newText = allCrlf ? toCrlf(args.new_text) : args.new_text;
    let at = occurrences(before, oldText);
    if (at.length === 0 && crlf && !allCrlf && toCrlf(oldText) !== oldText) {
      [oldText, newText] = [toCrlf(oldText), toCrlf(newText)];
      at = occurrences(before, oldText);
    }
    if (at.length === 0) {
      throw new ToolError(`Cannot edit "${args.path}": old_text was not found`, {
        hint:
          "Copy the text exactly from `read` (whitespace, indentation and line endings matter), without the line-number footer.",
      });
    }
    if (at.length > 1 && !args.replace_all) {
      const lines = lineNumbers(before, at.slice(0, 10));
      throw new ToolError(
        `Cannot edit "${args.path}": old_text occurs ${at.length} times (at lines ${lines.join(", ")}${
          at.length > 10 ? ", …" : ""
        })`,
        { hint: "Include surrounding lines in old_text so it matches once, or pass replace_all: true." },
      );
    }
    if (oldText === newText) {
      throw new ToolError(`Cannot edit "${args.path}": old_text and new_text are identical`, {
        hint: "Nothing to change.",
      });
    }
    const pieces: string[] = [];
    let from = 0;
    for (const offset of at) {
      pieces.push(before.slice(from, offset), newText);
      from = offset + oldText.length;
    }
    pieces.push(before.slice(from));
    const after = pieces.join("");
    const outcome = await sftp.atomicWrite(args.path, new TextEncoder().encode(after), {
      // Also guards the time between this read and the rename against a concurrent writer.
      expectedSha256: summary.sha256,
      reopen: reopener(ctx, alias),
      signal: ctx.signal,
    });
    const diff = editDiff(args.path, before, after, {
      at,
      oldLength: oldText.length,
      newLength: newText.length,
    });
    const data = {
      alias,
      path: outcome.path,
      replacements: at.length,
      diff,
      previous_sha256: summary.sha256,
      sha256: outcome.sha256,
      size: outcome.size,
      owner_preserved: outcome.ownerPreserved,
    };
    return {
      data,
      text: `Replaced ${at.length} occurrence${
        at.length === 1 ? "" : "s"
      } in ${outcome.path} · sha256 ${outcome.sha256}\n${diff}`,
    };
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

// ---------------------------------------------------------------------------------------------
// sync

const sync = defineTool({
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

/** The files toolset. */
export const FILES: Toolset = { name: "files", tools: [read, write, edit, listDir, sync] };
