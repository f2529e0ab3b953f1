/**
 * The file tools that change a file over SFTP: write (whole content) and edit (exact replacements,
 * with a diff of the replaced regions). Both land atomically through `Sftp.atomicWrite`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { octalMode, type Sftp } from "../../ssh/sftp/sftp.ts";
import { defineTool } from "../define.ts";
import { binaryError, decodeText, joinParts, reopener, sessionOf, sha256Hex } from "./common.ts";
import { HINTS, remotePath, target } from "../schemas.ts";

/** Largest file `edit` loads. */
const EDIT_MAX_BYTES = 32 * 1024 * 1024;
/** Longest diff `edit` returns. */
const DIFF_MAX_CHARS = 4000;

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

/** `write`: replaces or creates a file atomically. */
export const write = defineTool({
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

/** `edit`: replaces exact text in a file, atomically, and returns a diff. */
export const edit = defineTool({
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
