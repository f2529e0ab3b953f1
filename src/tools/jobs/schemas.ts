/**
 * Schemas shared by the job tools and by the tools that answer with a job (`run`): the job's status
 * fields, a page of output, and the `wait` argument.
 */
import { z } from "zod";

/** The wait when the server was given none (-run-wait's default), ms. */
export const DEFAULT_RUN_WAIT_MS = 25_000;

/** Longest wait a call may ask for, seconds: below every common client timeout (60 s). */
export const MAX_WAIT_SECONDS = 50;

/** Statuses of a job. */
export const JOB_STATUS = z.enum(["running", "exited", "killed", "timed_out", "lost"]).describe(
  "running; exited (see exit_code); killed (by a signal, e.g. job_cancel); timed_out (its timeout killed it); lost (its outcome is unknown: see reason)",
);

/** Where a job lives. */
export const JOB_BACKING = z.enum(["host", "server"]).describe(
  "host: runs detached on the host and survives a dropped link and a server restart; server: runs inside this server process (lost if it restarts)",
);

/** The `wait` input of `run` and `job_output`. */
export const waitSeconds = z.number().min(0).max(MAX_WAIT_SECONDS).optional();

/** Fields describing a job (JobView of the store, plus where it runs). */
export const jobViewShape = {
  job_id: z.string().describe("The job's id"),
  alias: z.string().describe("Connection the job runs on"),
  backing: JOB_BACKING,
  status: JOB_STATUS,
  exit_code: z.number().int().nullable().describe(
    "Exit code once it exited; null while running or when killed",
  ),
  signal: z.string().nullable().describe("Signal that ended it (e.g. SIGTERM)"),
  cancelled: z.boolean().describe("job_cancel stopped it"),
  reason: z.string().optional().describe("Why the job is lost, or why its output is unavailable"),
  command: z.string().describe("The command (first line, shortened) or what the tool does"),
  command_digest: z.string().describe(
    'sha256 of the whole command ("sha256:<hex>"), empty for jobs of other tools',
  ),
  tool: z.string().describe("The tool that started it"),
  started_at: z.string().nullable().describe("Start time (ISO 8601)"),
  ended_at: z.string().nullable().describe("End time (ISO 8601) once it ended"),
  timeout_seconds: z.number().int().nullable().describe(
    "Its deadline; the host kills it then even without the server",
  ),
  stdout_bytes: z.number().int().describe("Bytes of stdout so far"),
  stderr_bytes: z.number().int().describe("Bytes of stderr so far"),
  dropped_bytes: z.number().int().describe(
    "Bytes deleted from the middle of the output by the cap (the head and the newest tail are kept)",
  ),
  output_incomplete: z.boolean().optional().describe(
    "Writing the output failed on the host (e.g. a full disk)",
  ),
};

/** Fields of a page of output. */
export const jobPageShape = {
  stdout: z.string().describe("New stdout from offset (UTF-8; a character is never split between pages)"),
  stderr: z.string().describe("New stderr from stderr_offset"),
  offset: z.number().int().describe(
    "Offset this stdout page starts at (later than asked when the cap deleted bytes)",
  ),
  next_offset: z.number().int().describe("Pass as `offset` next time"),
  stderr_offset: z.number().int().describe("Offset this stderr page starts at"),
  stderr_next_offset: z.number().int().describe("Pass as `stderr_offset` next time"),
  skipped_bytes: z.number().int().describe("Bytes skipped because the cap deleted them"),
  more: z.boolean().describe("More output is already available: call again at once"),
};

/** What `run` adds to its result when it answers with a job instead of the end. */
export const runJobShape = {
  job_id: z.string().optional().describe(
    "Set when the command is still running: call job_output with this job_id to get new output and the end",
  ),
  status: z.literal("running").optional().describe("Present with job_id: the command is still running"),
  backing: JOB_BACKING.optional().describe(
    "With job_id: host (detached on the host, survives a dropped link and a server restart) or server (runs inside this server process)",
  ),
  next_offset: z.number().int().optional().describe("With job_id: pass as `offset` to job_output"),
  stderr_next_offset: z.number().int().optional().describe(
    "With job_id: pass as `stderr_offset` to job_output",
  ),
};
