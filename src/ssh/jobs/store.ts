/**
 * The job store of one SSH connection (SPEC §10): start a command as a job on the host, read its output
 * by byte offsets (long-polling for more), cancel it, list the principal's jobs and clean up old ones.
 *
 * The store keeps nothing that matters in memory: every answer is rebuilt from the job's files on the
 * host (wrapper.ts), so a new server process sees exactly what the old one left. The one thing it
 * remembers is which ids it started itself, so that a job whose directory was deleted reads as `lost`
 * instead of "not found".
 *
 * @example
 * ```ts
 * const store = new JobStore(execShell(connection), { label: "web1" });
 * const { job_id } = await store.start({ command: sh`eval ${"make"}`, preview: "make", timeoutSeconds: 600 },
 *   { owner: "local" });
 * const page = await store.read(job_id, { owner: "local", offset: 0, stderrOffset: 0, waitSeconds: 10 });
 * ```
 */
import { joinCommands, raw, type ShellCommand } from "../../shell/sh.ts";
import { JobError, startError } from "./errors.ts";
import { checkOffset, emptyView, endOf, type InlineOutput, inlineOutput, page, startOf } from "./pages.ts";
import { type JobStartSpec, runScript, startStdin } from "./start_input.ts";
import { commandDigest, frameNonce, isJobId, newJobId, ownerDigest } from "./ids.ts";
import { type GroupMember, type JobView, parseAnswer, type ScriptAnswer, viewOf } from "./parse.ts";
import {
  cancelScript,
  type JobRoot,
  listScript,
  readScript,
  recordEndScript,
  recordScript,
  removeScript,
  startScript,
} from "./scripts.ts";

/** Options of {@link JobShell.run}. */
export interface JobShellOptions {
  /** Bytes for the script's stdin. */
  stdin?: Uint8Array;
  /** Gives up after this long (the scripts bound their own waits; this is a safety net). */
  timeoutMs: number;
  /** Gives up waiting (what already ran on the host stays done). */
  signal?: AbortSignal;
}

/** Runs a job script on the host and returns its stdout bytes (how: exec channel or warm shell). */
export interface JobShell {
  /** Runs `script` with a POSIX shell; rejects when the script could not run or the link dropped. */
  run(script: ShellCommand, options: JobShellOptions): Promise<Uint8Array>;
  /**
   * Runs a start that waits for the job's end in one round trip (a warm shell); its answer may come
   * back decoded as UTF-8 text, which suits a result shown as text. On abort it resolves with what
   * arrived (the start line), having stopped the waiting script, not the job. Absent: `run` is used.
   */
  runFast?(script: ShellCommand, options: JobShellOptions & { maxAnswerBytes: number }): Promise<Uint8Array>;
}

/** Options of {@link JobStore}. */
export interface JobStoreOptions {
  /** Jobs directory (default: `${XDG_STATE_HOME:-$HOME/.local/state}/ssh-mcp/jobs` of the SSH user). */
  root?: JobRoot;
  /** Name of the connection in messages (its alias). */
  label?: string;
  /** Output segment size in bytes (default 4 MiB). */
  segmentBytes?: number;
  /** Segments kept from the start of each stream (default 8: 32 MiB). */
  headSegments?: number;
  /** Newest segments kept of each stream (default 8: 32 MiB). */
  tailSegments?: number;
  /** Finished jobs older than this are deleted when listing (default 7 days). */
  retentionSeconds?: number;
  /** At most this many finished jobs are kept on the host (default 200; the oldest go first). */
  maxFinished?: number;
  /** The POSIX shell that runs the wrapper on the host (default `/bin/sh`; tests use bash, dash, ash). */
  wrapperShell?: string;
  /** The sudo password given at connect, for starts with `sudo: true`. */
  sudoPassword?: () => string | undefined;
}

/** Who asks, and how long to wait. */
export interface JobCallOptions {
  /** The calling principal: only its own jobs are visible. */
  owner: string;
  /** Gives up waiting. */
  signal?: AbortSignal;
}

/** Options of {@link JobStore.start}. */
export interface JobStartOptions extends JobCallOptions {
  /** Wait for the end in the same round trip and return up to `maxBytes` per stream (head and tail). */
  follow?: { maxBytes: number };
}

/** What a start returns. */
export interface JobStarted {
  /** The new job's id. */
  job_id: string;
  /** The wrapper's pid on the host. */
  pid: number | null;
  /** With `follow`, once the job ended: its status and output. */
  finished?: { view: JobView; output: InlineOutput };
}

/** Options of {@link JobStore.read}. */
export interface JobReadOptions extends JobCallOptions {
  /** Stdout byte offset (default 0). */
  offset?: number;
  /** Stderr byte offset (default 0). */
  stderrOffset?: number;
  /** Most bytes per stream (default 51200). */
  maxBytes?: number;
  /** Seconds to wait for new output or the end (default 0, at most 50). */
  waitSeconds?: number;
}

/** One page of a job's output. Field names are snake_case: they are returned to the model. */
export interface JobPage extends JobView {
  /** New stdout since `offset` (UTF-8; a character is never split between pages). */
  stdout: string;
  /** New stderr since `stderr_offset`. */
  stderr: string;
  /** The stdout offset this page starts at (after a gap, where the kept bytes resume). */
  offset: number;
  /** Pass as `offset` next time. */
  next_offset: number;
  /** The stderr offset this page starts at. */
  stderr_offset: number;
  /** Pass as `stderr_offset` next time. */
  stderr_next_offset: number;
  /** Bytes skipped because the output cap deleted them (stdout + stderr). */
  skipped_bytes: number;
  /** Whether more output is already there (call again without waiting). */
  more: boolean;
}

/** What a cancel did. */
export interface JobCancelReport {
  /** The job afterwards. */
  view: JobView;
  /** Processes of the group: TERMed, then KILLed, and any still there (e.g. root processes under sudo). */
  members: GroupMember[];
  /** Whether the job had already ended (nothing was killed). */
  already_ended: boolean;
}

/** How a server-run job ended, for its host record. */
export interface RecordedEnd {
  /** Final status. */
  status: "exited" | "killed" | "timed_out" | "lost";
  /** Exit code, when there is one. */
  exitCode: number | null;
  /** Signal name ("SIGTERM"), when one ended it. */
  signal: string | null;
  /** Whether job_cancel stopped it. */
  cancelled: boolean;
}

const MIB = 1024 * 1024;
const SCRIPT_TIMEOUT_MS = 30_000;
const MAX_WAIT_SECONDS = 50;
// zsh as the login shell: plain sh rules (no error on a glob without matches). A no-op elsewhere.
const ZSH_AS_SH = `[ -n "\${ZSH_VERSION:-}" ] && emulate sh`;

/** The job store of one connection. */
export class JobStore {
  #shell: JobShell;
  #root: JobRoot;
  #label: string;
  #segment: number;
  #head: number;
  #tail: number;
  #retention: number;
  #maxFinished: number;
  #wrapperShell: string;
  #sudoPassword: (() => string | undefined) | undefined;
  #started = new Set<string>();

  /** A store over `shell`; nothing is read or written until the first call. */
  constructor(shell: JobShell, options: JobStoreOptions = {}) {
    this.#shell = shell;
    this.#root = options.root ?? { kind: "xdg" };
    this.#label = options.label ?? "the host";
    this.#segment = options.segmentBytes ?? 4 * MIB;
    this.#head = options.headSegments ?? 8;
    this.#tail = options.tailSegments ?? 8;
    this.#retention = options.retentionSeconds ?? 7 * 86400;
    this.#maxFinished = options.maxFinished ?? 200;
    this.#wrapperShell = options.wrapperShell ?? "/bin/sh";
    this.#sudoPassword = options.sudoPassword;
    for (
      const [name, value, min] of [["segmentBytes", this.#segment, 1024], ["headSegments", this.#head, 1], [
        "tailSegments",
        this.#tail,
        1,
      ]] as const
    ) {
      if (!Number.isInteger(value) || value < min) throw new RangeError(`Cannot use ${name} ${value}`);
    }
  }

  /**
   * Starts a job: one round trip that writes its files and starts the wrapper detached. With `follow`,
   * the same round trip then waits for the end and returns the output; abort `signal` to stop waiting
   * (the job keeps running: read it with {@link read}).
   */
  async start(spec: JobStartSpec, options: JobStartOptions): Promise<JobStarted> {
    if (!Number.isInteger(spec.timeoutSeconds) || spec.timeoutSeconds < 1) {
      throw new RangeError(
        `Cannot start a job with a timeout of ${spec.timeoutSeconds} s: use whole seconds ≥ 1`,
      );
    }
    const id = newJobId();
    const nonce = frameNonce();
    const password = spec.sudo === undefined
      ? undefined
      : spec.sudo === true
      ? this.#sudoPassword?.()
      : spec.sudo.password;
    const sudo = spec.sudo === undefined ? undefined : password === undefined ? "nopassword" : "password";
    const script = startScript({
      root: this.#root,
      meta: {
        id,
        owner: ownerDigest(options.owner),
        commandDigest: commandDigest(spec.preview),
        preview: spec.preview.length > 200 ? spec.preview.slice(0, 199) + "…" : spec.preview,
        timeoutSeconds: spec.timeoutSeconds,
        segmentBytes: this.#segment,
        headSegments: this.#head,
        tailSegments: this.#tail,
        tool: spec.tool ?? "run",
      },
      run: runScript(spec),
      hasStdin: spec.stdin !== undefined && spec.stdin.length > 0,
      sudo,
      follow: options.follow === undefined ? undefined : { maxBytes: options.follow.maxBytes, nonce },
      shell: this.#wrapperShell,
    });
    const stdin = startStdin(spec, password);
    this.#started.add(id);
    const shellOptions = {
      stdin,
      signal: options.signal,
      timeoutMs: options.follow === undefined
        ? SCRIPT_TIMEOUT_MS
        : spec.timeoutSeconds * 1000 + SCRIPT_TIMEOUT_MS,
    };
    const follow = options.follow;
    let bytes: Uint8Array;
    try {
      bytes = follow !== undefined && this.#shell.runFast !== undefined
        ? await this.#shell.runFast(withZsh(script), {
          ...shellOptions,
          maxAnswerBytes: 2 * follow.maxBytes + 65_536,
        })
        : await this.#shell.run(withZsh(script), shellOptions);
    } catch (error) {
      // Stopped waiting (an exec channel rejects on abort): the script may have started the job, so
      // the caller gets its id to cancel or read, as when the answer ends before the start line.
      if (options.signal?.aborted) return { job_id: id, pid: null };
      throw error;
    }
    const answer = parseAnswer(bytes);
    if (answer.error !== undefined) {
      this.#started.delete(id);
      throw startError(answer.error, this.#label);
    }
    if (answer.startedPid === undefined && options.signal?.aborted) return { job_id: id, pid: null };
    if (answer.startedPid === undefined) {
      throw new JobError(
        "protocol",
        `Cannot tell whether job ${id} started on ${this.#label}: the host's answer had no start line`,
        { hint: `Call \`jobs\` to see whether it runs before starting it again.` },
      );
    }
    const started: JobStarted = { job_id: id, pid: answer.startedPid };
    const record = answer.records[0];
    if (options.follow !== undefined && record !== undefined) {
      const view = viewOf(record, answer);
      if (view.status !== "running") {
        started.finished = { view, output: inlineOutput(view, answer.slices, options.follow.maxBytes) };
      }
    }
    return started;
  }

  /** The job's status and its output after the given offsets, waiting up to `waitSeconds` for news. */
  async read(id: string, options: JobReadOptions): Promise<JobPage> {
    this.#checkId(id);
    const offset = options.offset ?? 0;
    const stderrOffset = options.stderrOffset ?? 0;
    const maxBytes = options.maxBytes ?? 51_200;
    const waitSeconds = options.waitSeconds ?? 0;
    checkOffset("offset", offset);
    checkOffset("stderr_offset", stderrOffset);
    if (!Number.isInteger(maxBytes) || maxBytes < 4) {
      throw new RangeError(`Cannot read ${maxBytes} bytes per page`);
    }
    if (!(waitSeconds >= 0 && waitSeconds <= MAX_WAIT_SECONDS)) {
      throw new RangeError(`Cannot wait ${waitSeconds} s for a job: use 0 to ${MAX_WAIT_SECONDS} seconds`);
    }
    const nonce = frameNonce();
    const answer = await this.#call(
      readScript({
        root: this.#root,
        id,
        owner: ownerDigest(options.owner),
        offset,
        stderrOffset,
        maxBytes,
        waitSeconds,
        nonce,
      }),
      options.signal,
      waitSeconds * 1000 + SCRIPT_TIMEOUT_MS,
    );
    const view = this.#single(id, answer);
    const final = view.status !== "running";
    const out = page(answer.slices, "o", offset, view.stdout_bytes, final, "offset", view.job_id);
    const err = page(
      answer.slices,
      "e",
      stderrOffset,
      view.stderr_bytes,
      final,
      "stderr_offset",
      view.job_id,
    );
    return {
      ...view,
      stdout: out.text,
      stderr: err.text,
      offset: out.start,
      next_offset: out.next,
      stderr_offset: err.start,
      stderr_next_offset: err.next,
      skipped_bytes: out.start - offset + err.start - stderrOffset,
      more: out.next < view.stdout_bytes || err.next < view.stderr_bytes,
    };
  }

  /** Kills the job's process group (TERM, then KILL after 2 s) and reports what died. */
  async cancel(id: string, options: JobCallOptions): Promise<JobCancelReport> {
    this.#checkId(id);
    const answer = await this.#call(
      cancelScript({ root: this.#root, id, owner: ownerDigest(options.owner) }),
      options.signal,
      SCRIPT_TIMEOUT_MS,
    );
    const view = this.#single(id, answer);
    return { view, members: answer.members, already_ended: answer.members.length === 0 };
  }

  /**
   * The owner's jobs on this host, running first (newest first), then finished ones (most recently
   * ended first). Deletes finished jobs past the retention (any owner's) and the oldest beyond the cap.
   */
  async list(options: JobCallOptions): Promise<JobView[]> {
    const answer = await this.#call(listScript(this.#root), options.signal, SCRIPT_TIMEOUT_MS);
    const owner = ownerDigest(options.owner);
    const all = answer.records.filter((r) => isJobId(r.id)).map((r) => ({
      record: r,
      view: viewOf(r, answer),
    }));
    const now = answer.now ?? Math.floor(Date.now() / 1000);
    const finished = all.filter((j) => j.view.status !== "running")
      .sort((a, b) => endOf(b.view) - endOf(a.view));
    const expired = finished.filter((j, i) =>
      i >= this.#maxFinished || now - endOf(j.view) > this.#retention
    );
    if (expired.length > 0) {
      await this.#call(
        removeScript(this.#root, expired.map((j) => j.view.job_id)),
        options.signal,
        SCRIPT_TIMEOUT_MS,
      )
        .catch(() => undefined); // cleaning up is best effort; the listing stands
    }
    const gone = new Set(expired.map((j) => j.view.job_id));
    const mine = all.filter((j) => j.record.meta.get("owner") === owner && !gone.has(j.view.job_id))
      .map((j) => j.view);
    const running = mine.filter((v) => v.status === "running").sort((a, b) => startOf(b) - startOf(a));
    const done = mine.filter((v) => v.status !== "running").sort((a, b) => endOf(b) - endOf(a));
    return [...running, ...done];
  }

  /**
   * Writes the host record of a job that runs inside the server process (sync, package_manage, a
   * capture, a `run` that outlived its wait): listed like any job, and `lost` to a later server
   * unless its end was recorded with {@link recordEnd}. Returns the new id.
   */
  async record(
    spec: { preview: string; tool: string; timeoutSeconds: number },
    options: JobCallOptions,
  ): Promise<string> {
    const id = newJobId();
    const answer = await this.#call(
      recordScript(this.#root, {
        id,
        owner: ownerDigest(options.owner),
        commandDigest: commandDigest(spec.preview),
        preview: spec.preview.length > 200 ? spec.preview.slice(0, 199) + "…" : spec.preview,
        timeoutSeconds: spec.timeoutSeconds,
        segmentBytes: this.#segment,
        headSegments: this.#head,
        tailSegments: this.#tail,
        tool: spec.tool,
      }),
      options.signal,
      SCRIPT_TIMEOUT_MS,
    );
    if (answer.error !== undefined) throw startError(answer.error, this.#label);
    this.#started.add(id);
    return id;
  }

  /** Records the end of a server-run job (see {@link record}). */
  async recordEnd(id: string, end: RecordedEnd, signal?: AbortSignal): Promise<void> {
    this.#checkId(id);
    const fields = [
      `status=${end.status}`,
      `code=${end.exitCode ?? "-"}`,
      `signal=${end.signal?.replace(/^SIG/, "") ?? "-"}`,
      `ended=${Math.floor(Date.now() / 1000)}`,
      "out_failed=0 err_failed=0",
      `cancelled=${end.cancelled ? 1 : 0}`,
      `timed_out=${end.status === "timed_out" ? 1 : 0}`,
    ].join(" ");
    await this.#call(recordEndScript(this.#root, id, fields), signal, SCRIPT_TIMEOUT_MS);
  }

  async #call(
    script: ShellCommand,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<ScriptAnswer> {
    const answer = parseAnswer(await this.#shell.run(withZsh(script), { signal, timeoutMs }));
    if (answer.error !== undefined && answer.error.code === "nohome") {
      throw new JobError(
        "no_home",
        `Cannot use jobs on ${this.#label}: the remote user has no home directory (HOME is unset or not absolute)`,
        {
          hint:
            "Give the SSH user a home directory, or set XDG_STATE_HOME to an absolute path in its environment.",
        },
      );
    }
    return answer;
  }

  #checkId(id: string): void {
    if (typeof id !== "string" || !isJobId(id)) {
      throw new JobError(
        "bad_id",
        `Cannot find job "${String(id).slice(0, 80)}": a job id is "j" followed by 26 letters and digits`,
        {
          hint:
            "Pass the job_id exactly as `run` or `jobs` returned it; call `jobs` to list this host's jobs.",
        },
      );
    }
  }

  /** The one record of a per-job answer, or the right error. */
  #single(id: string, answer: ScriptAnswer): JobView {
    const record = answer.records[0];
    if (answer.missing || answer.notFound || record === undefined) {
      if (answer.missing && this.#started.has(id)) {
        return {
          ...emptyView(id),
          reason: "its directory on the host was deleted: output and status are gone",
        };
      }
      throw new JobError("not_found", `Cannot find job ${id} on ${this.#label}`, {
        hint:
          "Job ids belong to the connection (host and user) they were started on and to the client that started them. Call `jobs` with the right `target` to list yours.",
      });
    }
    return viewOf(record, answer);
  }
}

function withZsh(script: ShellCommand): ShellCommand {
  return joinCommands([raw(ZSH_AS_SH), script], "\n");
}

/** The script the login shell evaluates: exports, cd, then the command. */
export { runScript };
export type { InlineOutput, JobStartSpec };
