/**
 * Jobs toolset (SPEC §10): `job_output` reads a job's output by offsets (long-polling for more),
 * `job_cancel` stops it, `jobs` lists a host's jobs. Jobs come from `run` (a command that outlived
 * its `wait`, or one started with `wait: 0` or a long `timeout`) and from other long tools.
 */
import { z } from "zod";
import type { JobView } from "../../ssh/jobs/parse.ts";
import { completeUtf8Length } from "../../ssh/jobs/utf8.ts";
import { JobError } from "../../ssh/jobs/errors.ts";
import { defineTool, type Toolset } from "../define.ts";
import { target } from "../schemas.ts";
import { BACKGROUND_JOBS, type BackgroundJob } from "./background.ts";
import { withJob } from "./find.ts";
import type { OffsetBuffer } from "./offset_buffer.ts";
import { jobPageShape, jobViewShape, MAX_WAIT_SECONDS, waitSeconds } from "./schemas.ts";

const jobId = z.string().min(1).max(100).describe("The job_id returned by `run` (or listed by `jobs`)");
const jobTarget = target.describe(
  "Connection the job runs on (default: searched among this session's connections)",
);

/** A one-line summary of a job for the model. */
function summary(view: JobView & { alias: string }): string {
  const state = view.status === "running"
    ? "still running"
    : view.status === "exited"
    ? `exited ${view.exit_code}`
    : view.status === "killed"
    ? `killed by ${view.signal ?? "a signal"}${view.cancelled ? " (cancelled)" : ""}`
    : view.status === "timed_out"
    ? `timed out after ${view.timeout_seconds} s (killed by ${view.signal ?? "a signal"})`
    : `lost: ${view.reason ?? "outcome unknown"}`;
  return `job ${view.job_id} on ${view.alias} (${view.backing}): ${state}`;
}

const PAGE_BYTES_FLOOR = 4096;

/** A page of a background job's buffers, cut like a host page. */
function bufferPage(
  buffer: OffsetBuffer,
  offset: number,
  max: number,
  final: boolean,
  name: string,
  id: string,
) {
  if (offset > buffer.total) {
    throw new JobError(
      "bad_offset",
      `Cannot read job ${id} from ${name} ${offset}: the stream has only ${buffer.total} bytes so far`,
      {
        hint: `Pass the ${
          name === "offset" ? "next_offset" : "stderr_next_offset"
        } the previous call returned (or 0).`,
      },
    );
  }
  const { start, bytes } = buffer.read(offset, max);
  const reachesEnd = start + bytes.length >= buffer.total;
  let keep = final && reachesEnd ? bytes.length : completeUtf8Length(bytes);
  if (keep === 0 && !reachesEnd) keep = bytes.length;
  return { text: new TextDecoder().decode(bytes.subarray(0, keep)), start, next: start + keep };
}

async function serverPage(job: BackgroundJob, args: PageArgs, max: number, signal: AbortSignal) {
  const offset = args.offset ?? 0;
  const stderrOffset = args.stderr_offset ?? 0;
  if (job.running && job.stdout.total === offset && job.stderr.total === stderrOffset) {
    await job.waitForChange((args.wait ?? 0) * 1000, signal);
  }
  const view = job.view();
  const final = view.status !== "running";
  const out = bufferPage(job.stdout, offset, max, final, "offset", job.id);
  const err = bufferPage(job.stderr, stderrOffset, max, final, "stderr_offset", job.id);
  return {
    ...view,
    alias: job.alias,
    stdout: out.text,
    stderr: err.text,
    offset: out.start,
    next_offset: out.next,
    stderr_offset: err.start,
    stderr_next_offset: err.next,
    skipped_bytes: out.start - offset + err.start - stderrOffset,
    more: out.next < job.stdout.total || err.next < job.stderr.total,
    ...(job.result === undefined ? {} : { result: job.result.data, result_text: job.result.text }),
  };
}

interface PageArgs {
  offset?: number;
  stderr_offset?: number;
  wait?: number;
}

const jobOutput = defineTool({
  name: "job_output",
  title: "Read a job's output",
  description:
    "Returns a job's status and its output after the given byte offsets. While the job runs, waits up to " +
    "`wait` seconds for new output or its end. Pass next_offset/stderr_next_offset back as offset/" +
    "stderr_offset to read on; repeat until status is not running and more is false. status lost means " +
    "the outcome is unknown (see reason): check the host before re-running anything.",
  input: z.object({
    job_id: jobId,
    offset: z.number().int().min(0).optional().describe("Stdout byte offset to read from (default 0)"),
    stderr_offset: z.number().int().min(0).optional().describe("Stderr byte offset to read from (default 0)"),
    wait: waitSeconds.describe(
      `Seconds to wait for new output or the end while nothing new is there (default 0, at most ${MAX_WAIT_SECONDS})`,
    ),
    target: jobTarget,
  }),
  output: z.object({
    ...jobViewShape,
    ...jobPageShape,
    result: z.record(z.string(), z.unknown()).optional().describe(
      "For jobs of tools other than run: the tool's own result once it ended",
    ),
    result_text: z.string().optional().describe("The tool's result as text once it ended"),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    const max = Math.max(PAGE_BYTES_FLOOR, ctx.limits.maxOutputBytes);
    const data = await withJob(ctx, args.job_id, args.target, async (found) => {
      if (found.kind === "server") return await serverPage(found.job, args, max, ctx.signal);
      const page = await found.store.read(args.job_id, {
        owner: ctx.caller.principal,
        offset: args.offset,
        stderrOffset: args.stderr_offset,
        maxBytes: max,
        waitSeconds: args.wait ?? 0,
        signal: ctx.signal,
      });
      return { ...page, alias: found.alias };
    });
    const parts: string[] = [];
    if (data.skipped_bytes > 0) parts.push(`…[${data.skipped_bytes} bytes deleted by the output cap]…`);
    if (data.stdout) parts.push(data.stdout.replace(/\n$/, ""));
    if (data.stderr) parts.push(`[stderr]\n${data.stderr.replace(/\n$/, "")}`);
    if ("result_text" in data && data.result_text) parts.push(`[result]\n${data.result_text}`);
    const next = { job_id: data.job_id, offset: data.next_offset, stderr_offset: data.stderr_next_offset };
    parts.push(
      `[${
        summary(data)
      } · bytes ${data.next_offset}/${data.stdout_bytes} stdout, ${data.stderr_next_offset}/${data.stderr_bytes} stderr]`,
    );
    if (data.more) parts.push(`More output is there: call job_output with ${JSON.stringify(next)}.`);
    else if (data.status === "running") {
      parts.push(`Still running: call job_output with ${JSON.stringify({ ...next, wait: 30 })}.`);
    }
    return { data, text: parts.join("\n") };
  },
});

const killedShape = z.object({
  pid: z.number().int().describe("Process id"),
  command: z.string().describe("Its command name"),
  stage: z.enum(["term", "kill", "left"]).describe(
    "term: got SIGTERM; kill: survived TERM for 2 s and got SIGKILL; left: still there (e.g. a root process under sudo)",
  ),
});

const jobCancel = defineTool({
  name: "job_cancel",
  title: "Cancel a job",
  description:
    "Stops a running job: SIGTERM to its whole process group, SIGKILL 2 s later to what is left, and says " +
    "which processes were killed. A job that already ended is left as it is. Returns the job's final status.",
  input: z.object({ job_id: jobId, target: jobTarget }),
  output: z.object({
    ...jobViewShape,
    already_ended: z.boolean().describe("The job had ended before: nothing was killed"),
    killed: z.array(killedShape).describe("Processes of the job's group and what they got (host jobs)"),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    const data = await withJob(ctx, args.job_id, args.target, async (found) => {
      if (found.kind === "server") {
        const job = found.job;
        const alreadyEnded = !job.running;
        job.cancel();
        for (let i = 0; i < 50 && job.running; i++) await job.waitForChange(100, ctx.signal);
        return { ...job.view(), alias: job.alias, already_ended: alreadyEnded, killed: [] };
      }
      const report = await found.store.cancel(args.job_id, {
        owner: ctx.caller.principal,
        signal: ctx.signal,
      });
      return {
        ...report.view,
        alias: found.alias,
        already_ended: report.already_ended,
        killed: report.members.map((m) => ({ pid: m.pid, command: m.comm, stage: m.stage })),
      };
    });
    const killed = data.killed.length === 0
      ? data.already_ended ? "It had already ended: nothing was killed." : "Its work was stopped."
      : `Killed: ${data.killed.map((k) => `${k.pid} ${k.command} (${k.stage})`).join(", ")}.`;
    return { data, text: `${summary(data)}. ${killed}` };
  },
});

const jobs = defineTool({
  name: "jobs",
  title: "List jobs",
  description:
    "Lists your jobs on a connection's host: running ones first, then those that ended (also jobs started " +
    "before a server restart). Deletes jobs that ended over 7 days ago. Use job_output to read one.",
  input: z.object({ target }),
  output: z.object({
    alias: z.string().describe("Connection listed"),
    jobs: z.array(z.object({ ...jobViewShape })).describe(
      "Running jobs first (newest first), then ended ones",
    ),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    const { alias, jobs: store } = await ctx.connections.jobs(args.target, ctx.signal);
    const onHost = await store.list({ owner: ctx.caller.principal, signal: ctx.signal });
    const background = new Map(
      BACKGROUND_JOBS.list(ctx.caller.principal, alias).map((job) => [job.id, job]),
    );
    const listed = onHost.map((view) => {
      const job = background.get(view.job_id);
      background.delete(view.job_id);
      return job === undefined ? { ...view, alias } : { ...job.view(), alias };
    });
    // Background jobs without a host record (it could not be written) still show.
    listed.push(...[...background.values()].map((job) => ({ ...job.view(), alias })));
    const running = listed.filter((j) => j.status === "running");
    const ended = listed.filter((j) => j.status !== "running");
    const all = [...running, ...ended];
    const text = all.length === 0
      ? `No jobs on ${alias}.`
      : all.map((j) => `${summary(j)} · ${j.command}`).join("\n");
    return { data: { alias, jobs: all }, text };
  },
});

/** The jobs toolset. */
export const JOBS: Toolset = { name: "jobs", tools: [jobOutput, jobCancel, jobs] };
