/**
 * Reading the answers of the job scripts (scripts.ts) and turning a job's files into its status.
 * Pure: no I/O. A record that cannot be read is a `lost` job with the reason, never a success.
 */
import { Buffer } from "node:buffer";
import { JOB_FORMAT } from "./wrapper.ts";

/** A job's status (SPEC §10). */
export type JobStatus = "running" | "exited" | "killed" | "timed_out" | "lost";

/** The files of one job directory, as a script printed them. */
export interface JobRecord {
  /** Directory name (the id). */
  id: string;
  /** `meta` lines (key → value); empty when the file is missing. */
  meta: Map<string, string>;
  /** Whether a `meta` file was there. */
  hasMeta: boolean;
  /** First line of `state`. */
  state: string;
  /** Whether the wrapper process still runs. */
  alive: boolean;
  /** The command's process group. */
  pgid: number | null;
  /** Whether job_cancel marked it. */
  cancelMarker: boolean;
  /** Output segment file names present. */
  files: string[];
  /** Bytes each stream received so far (absent when the record gave none). */
  totals: { o?: number; e?: number };
}

/** A slice of a stream. */
export interface Slice {
  /** `o` (stdout) or `e` (stderr). */
  stream: "o" | "e";
  /** Byte offset of the first byte. */
  offset: number;
  /** The bytes. */
  bytes: Uint8Array;
}

/** A process a cancel saw, and at which stage. */
export interface GroupMember {
  /** `term`: got TERM; `kill`: still there after TERM, got KILL; `left`: still there after KILL. */
  stage: "term" | "kill" | "left";
  /** Process id. */
  pid: number;
  /** Its command name. */
  comm: string;
}

/** Everything a script answered. */
export interface ScriptAnswer {
  /** `@error <code> <detail>`. */
  error?: { code: string; detail: string };
  /** `@missing`: no such directory. */
  missing: boolean;
  /** `@notfound`: the job belongs to another owner. */
  notFound: boolean;
  /** `@started <pid>`: the wrapper's pid. */
  startedPid?: number;
  /** The host's clock (epoch seconds). */
  now?: number;
  /** The host's boot id (Linux), "" elsewhere. */
  boot?: string;
  /** Job records in order. */
  records: JobRecord[];
  /** Byte slices in order. */
  slices: Slice[];
  /** Processes a cancel reported. */
  members: GroupMember[];
}

/**
 * Parses a script's stdout.
 *
 * @throws {Error} when a framed slice is not terminated (the answer was cut).
 */
export function parseAnswer(bytes: Uint8Array): ScriptAnswer {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const answer: ScriptAnswer = { missing: false, notFound: false, records: [], slices: [], members: [] };
  let record: JobRecord | undefined;
  let at = 0;
  while (at < data.length) {
    let end = data.indexOf(10, at);
    if (end < 0) end = data.length;
    const line = data.subarray(at, end).toString("utf8");
    at = end + 1;
    const space = line.indexOf(" ");
    const tag = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? "" : line.slice(space + 1);
    switch (tag) {
      case "@d": {
        const [stream, offset, nonce] = rest.split(" ");
        if ((stream !== "o" && stream !== "e") || nonce === undefined || !/^\d+$/.test(offset ?? "")) {
          throw new Error(`Cannot read a job answer: bad slice header "${line.slice(0, 80)}"`);
        }
        const close = data.indexOf(nonce, at);
        if (close < 0) throw new Error("Cannot read a job answer: a slice was cut short");
        answer.slices.push({
          stream,
          offset: Number(offset),
          bytes: new Uint8Array(data.subarray(at, close)),
        });
        at = close + nonce.length + 1;
        break;
      }
      case "@error": {
        const cut = rest.indexOf(" ");
        answer.error = cut < 0
          ? { code: rest, detail: "" }
          : { code: rest.slice(0, cut), detail: rest.slice(cut + 1) };
        break;
      }
      case "@missing":
        answer.missing = true;
        break;
      case "@notfound":
        answer.notFound = true;
        break;
      case "@started":
        if (/^\d+$/.test(rest)) answer.startedPid = Number(rest);
        break;
      case "@t":
        if (/^\d+$/.test(rest)) answer.now = Number(rest);
        break;
      case "@boot":
        answer.boot = rest;
        break;
      case "@term":
      case "@kill":
      case "@left": {
        const m = /^(\d+) (.*)$/.exec(rest);
        if (m) {
          answer.members.push({
            stage: tag.slice(1) as GroupMember["stage"],
            pid: Number(m[1]),
            comm: m[2]!,
          });
        }
        break;
      }
      case "@job":
        record = {
          id: rest,
          meta: new Map(),
          hasMeta: false,
          state: "",
          alive: false,
          pgid: null,
          cancelMarker: false,
          files: [],
          totals: {},
        };
        answer.records.push(record);
        break;
      default:
        if (record !== undefined) readRecordLine(record, tag, rest);
    }
  }
  return answer;
}

function readRecordLine(record: JobRecord, tag: string, rest: string): void {
  switch (tag) {
    case "m": {
      record.hasMeta = true;
      const eq = rest.indexOf("=");
      if (eq > 0 && !record.meta.has(rest.slice(0, eq))) {
        record.meta.set(rest.slice(0, eq), rest.slice(eq + 1));
      }
      break;
    }
    case "s":
      record.state = rest;
      break;
    case "a":
      record.alive = rest === "1";
      break;
    case "g":
      record.pgid = /^\d+$/.test(rest) ? Number(rest) : null;
      break;
    case "c":
      record.cancelMarker = true;
      break;
    case "f":
      record.files.push(rest);
      break;
    case "z": {
      const [stream, n] = rest.split(" ");
      if ((stream === "o" || stream === "e") && /^\d+$/.test(n ?? "")) record.totals[stream] = Number(n);
      break;
    }
  }
}

/** What a job is, from its record. Field names are snake_case: they are returned to the model. */
export interface JobView {
  /** Job id. */
  job_id: string;
  /** Where it runs: detached on the host, or inside a server process (sync, a run past its wait…). */
  backing: "host" | "server";
  /** Status. */
  status: JobStatus;
  /** Exit code when it exited (also set for `timed_out`/`killed` when the shell reported one). */
  exit_code: number | null;
  /** Signal that ended it, e.g. "SIGTERM". */
  signal: string | null;
  /** job_cancel stopped it. */
  cancelled: boolean;
  /** Why the job is `lost`. */
  reason?: string;
  /** First line of the command. */
  command: string;
  /** `sha256:` digest of the command. */
  command_digest: string;
  /** What started it. */
  tool: string;
  /** Start time, ISO. */
  started_at: string | null;
  /** End time, ISO (finished jobs). */
  ended_at: string | null;
  /** Deadline, seconds. */
  timeout_seconds: number | null;
  /** Bytes of stdout and stderr received so far. */
  stdout_bytes: number;
  /** Stderr bytes. */
  stderr_bytes: number;
  /** Bytes dropped from the middle of a stream by the output cap (stdout, stderr). */
  dropped_bytes: number;
  /** Writing the output failed on the host (e.g. a full disk): output after that point is missing. */
  output_incomplete?: boolean;
}

/** Context for deriving a status: the host's clock and boot id. */
export interface HostClock {
  /** Epoch seconds on the host. */
  now?: number;
  /** Boot id of the host now. */
  boot?: string;
}

const SEGMENT_NAME = /^([oe])\.([a-z]{4})$/;

/** The index of a 4-letter split suffix. */
export function segmentIndex(suffix: string): number {
  let v = 0;
  for (const ch of suffix) v = v * 26 + (ch.charCodeAt(0) - 97);
  return v;
}

/** Bytes deleted from the middle of a stream: missing segment names before the last one. */
function dropped(record: JobRecord, stream: "o" | "e", segment: number): number {
  const indexes = record.files.map((f) => SEGMENT_NAME.exec(f)).filter((m) => m !== null && m[1] === stream)
    .map((m) => segmentIndex(m![2]!)).sort((a, b) => a - b);
  if (indexes.length === 0) return 0;
  const last = indexes[indexes.length - 1]!;
  return (last + 1 - indexes.length) * segment;
}

function fields(line: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const word of line.split(" ")) {
    const eq = word.indexOf("=");
    if (eq > 0) out.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return out;
}

function iso(seconds: string | undefined): string | null {
  if (seconds === undefined || !/^\d+$/.test(seconds)) return null;
  return new Date(Number(seconds) * 1000).toISOString();
}

/** The status and facts of a job, from its record. */
export function viewOf(record: JobRecord, host: HostClock): JobView {
  const meta = record.meta;
  const segment = Number(meta.get("seg") ?? "0");
  const view: JobView = {
    job_id: record.id,
    backing: meta.get("backing") === "server" ? "server" : "host",
    status: "lost",
    exit_code: null,
    signal: null,
    cancelled: record.cancelMarker,
    command: meta.get("preview") ?? "",
    command_digest: meta.get("cmd_digest") ?? "",
    tool: meta.get("tool") ?? "",
    started_at: iso(meta.get("started")),
    ended_at: null,
    timeout_seconds: /^\d+$/.test(meta.get("timeout") ?? "") ? Number(meta.get("timeout")) : null,
    stdout_bytes: record.totals.o ?? 0,
    stderr_bytes: record.totals.e ?? 0,
    dropped_bytes: segment > 0 ? dropped(record, "o", segment) + dropped(record, "e", segment) : 0,
  };
  if (!record.hasMeta || meta.get("v") !== String(JOB_FORMAT) || !meta.has("owner") || !(segment > 0)) {
    view.reason = record.hasMeta
      ? "its record on the host is corrupted (meta file unreadable or from another version)"
      : "its record on the host is incomplete (no meta file): the directory was damaged or half-deleted";
    return view;
  }
  const state = record.state.trimEnd();
  if (state.startsWith("end ") && state.endsWith(" .")) {
    const f = fields(state);
    const status = f.get("status");
    view.ended_at = iso(f.get("ended"));
    view.cancelled = f.get("cancelled") === "1" || record.cancelMarker;
    if (f.get("out_failed") !== "0" || f.get("err_failed") !== "0") view.output_incomplete = true;
    const code = f.get("code") ?? "-";
    const signal = f.get("signal") ?? "-";
    view.exit_code = /^\d+$/.test(code) ? Number(code) : null;
    view.signal = /^[A-Z][A-Z0-9+-]*$/.test(signal) ? `SIG${signal}` : null;
    if (status === "exited" || status === "killed" || status === "timed_out") {
      view.status = status;
      return view;
    }
    view.reason = status === "error"
      ? `the wrapper could not start the command (${f.get("reason") ?? "unknown step"} failed on the host)`
      : `its end record is unreadable ("${state.slice(0, 60)}")`;
    return view;
  }
  if (meta.get("backing") === "server") {
    view.reason =
      "it ran inside the server process that started it, which has ended (restart or crash) before it did: its outcome is unknown";
    return view;
  }
  if (record.alive) {
    view.status = "running";
    return view;
  }
  const boot = meta.get("boot");
  view.reason = boot && host.boot && boot !== host.boot
    ? "the host restarted while it ran: the command was stopped and its end was never recorded"
    : "its wrapper process ended without recording the end (killed with SIGKILL, out of memory, or its files were changed)";
  return view;
}
