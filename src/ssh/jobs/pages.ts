/**
 * Turning the slices a job script returned into what callers see: a page of a stream (UTF-8 cut
 * safely, offsets exact, gaps skipped) or the inline head-and-tail output of a finished job.
 * Pure: no I/O.
 */
import { JobError } from "./errors.ts";
import type { JobView, Slice } from "./parse.ts";
import { completeUtf8Length } from "./utf8.ts";

/** The output a finished job gives back inline (the shape of a command result). */
export interface InlineOutput {
  /** Stdout text: everything, or head and tail with a marker when longer than `maxBytes`. */
  stdout: string;
  /** Stderr text, likewise. */
  stderr: string;
  /** Whether either stream was cut. */
  truncated: boolean;
}

/** See the module doc. */
export function checkOffset(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Cannot read from ${name} ${value}: offsets are whole numbers of bytes ≥ 0`);
  }
}

/** See the module doc. */
export function emptyView(id: string): JobView {
  return {
    job_id: id,
    backing: "host",
    status: "lost",
    exit_code: null,
    signal: null,
    cancelled: false,
    command: "",
    command_digest: "",
    tool: "",
    started_at: null,
    ended_at: null,
    timeout_seconds: null,
    stdout_bytes: 0,
    stderr_bytes: 0,
    dropped_bytes: 0,
  };
}

/** See the module doc. */
export function startOf(view: JobView): number {
  return view.started_at === null ? 0 : Date.parse(view.started_at) / 1000;
}

/** See the module doc. */
export function endOf(view: JobView): number {
  return view.ended_at === null ? startOf(view) : Date.parse(view.ended_at) / 1000;
}

/** One stream of a page: its text, where it starts (after any gap) and the next offset. */
/** See the module doc. */
export function page(
  slices: readonly Slice[],
  stream: "o" | "e",
  offset: number,
  total: number,
  final: boolean,
  name: string,
  id: string,
): { text: string; start: number; next: number } {
  if (offset > total) {
    throw new JobError(
      "bad_offset",
      `Cannot read job ${id} from ${name} ${offset}: the stream has only ${total} bytes so far`,
      {
        hint: `Pass the ${
          name === "offset" ? "next_offset" : "stderr_next_offset"
        } the previous call returned (or 0).`,
      },
    );
  }
  const slice = slices.find((s) => s.stream === stream);
  if (slice === undefined) return { text: "", start: offset, next: offset };
  const reachesEnd = slice.offset + slice.bytes.length >= total;
  let keep = final && reachesEnd ? slice.bytes.length : completeUtf8Length(slice.bytes);
  // A character cut by the output cap's deleted range can never complete: pass it on as it is.
  if (keep === 0 && !reachesEnd) keep = slice.bytes.length;
  return {
    text: new TextDecoder().decode(slice.bytes.subarray(0, keep)),
    start: slice.offset,
    next: slice.offset + keep,
  };
}

/** Head and tail slices of a finished job, as a command result shows them. */
/** See the module doc. */
export function inlineOutput(view: JobView, slices: readonly Slice[], maxBytes: number): InlineOutput {
  const text = (stream: "o" | "e", total: number): { text: string; truncated: boolean } => {
    const parts = slices.filter((s) => s.stream === stream);
    const decoder = new TextDecoder();
    if (parts.length <= 1) {
      const bytes = parts[0]?.bytes ?? new Uint8Array();
      const omitted = total - bytes.length;
      return omitted > 0
        ? { text: `${decoder.decode(bytes)}\n…[${omitted} bytes omitted]…\n`, truncated: true }
        : { text: decoder.decode(bytes), truncated: false };
    }
    const [head, tail] = [parts[0]!, parts[parts.length - 1]!];
    const omitted = tail.offset - (head.offset + head.bytes.length);
    return {
      text: `${decoder.decode(head.bytes)}\n…[${omitted} bytes omitted]…\n${decoder.decode(tail.bytes)}`,
      truncated: true,
    };
  };
  void maxBytes;
  const out = text("o", view.stdout_bytes);
  const err = text("e", view.stderr_bytes);
  return { stdout: out.text, stderr: err.text, truncated: out.truncated || err.truncated };
}
