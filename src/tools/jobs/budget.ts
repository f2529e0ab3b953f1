/**
 * The `wait` budget for long tools other than `run` (SPEC §10): `sync`, `package_manage`, the VoIP
 * captures. {@link withWaitBudget} wraps a tool: a call that ends within `-run-wait` answers as
 * before; one that does not answers with a `job_id` and goes on as a job backed by this server (its
 * progress messages become the job's output, its own result is `job_output`'s `result` once done).
 * Such a job cannot outlive the server: a later server reports it `lost` (from its host record).
 */
import { z } from "zod";
import { describeError } from "../../errors.ts";
import { newJobId } from "../../ssh/jobs/ids.ts";
import type { JobStore } from "../../ssh/jobs/store.ts";
import type { ToolContext, ToolDefinition, ToolReply } from "../define.ts";
import { BACKGROUND_JOBS, type BackgroundEnd } from "./background.ts";
import { DEFAULT_RUN_WAIT_MS, JOB_BACKING } from "./schemas.ts";

/** How to describe a call of the wrapped tool as a job. */
export interface BudgetOptions<Args> {
  /** The connection the job belongs to (for `jobs` and its host record). */
  target(args: Args): string | undefined;
  /** What the call does, one line (e.g. "sync web1:/srv → web2:/srv"). */
  preview(args: Args): string;
  /** Its deadline in seconds, if it has one. */
  timeoutSeconds?(args: Args, ctx: ToolContext): number | null;
}

/** The fields a job answer adds; every other field of the tool's result is then absent. */
const jobShape = {
  job_id: z.string().optional().describe(
    "Set when the work is still going on after the wait: call job_output with this job_id until it ended; its `result` is this tool's result",
  ),
  status: z.literal("running").optional().describe("Present with job_id: the work is still going on"),
  backing: JOB_BACKING.optional().describe("With job_id: server (the work runs inside this server process)"),
};

// deno-lint-ignore no-explicit-any
type AnyObject = z.ZodObject<any>;

/** The tool's output schema with every field optional (descriptions kept) plus the job fields. */
function withJobFields(output: AnyObject): AnyObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(output.shape as Record<string, z.ZodType>)) {
    const optional = field instanceof z.ZodOptional ? field : field.optional();
    shape[key] = field.description === undefined ? optional : optional.describe(field.description);
  }
  return z.object({ ...shape, ...jobShape });
}

/** Wraps a long tool so that it answers within the wait budget (see the module doc). */
export function withWaitBudget<Args>(tool: ToolDefinition, options: BudgetOptions<Args>): ToolDefinition {
  return Object.freeze({
    ...tool,
    description: tool.description.length <= 520
      ? `${tool.description} Past the wait (-run-wait, 25 s) it answers with a job_id: call job_output.`
      : tool.description,
    output: withJobFields(tool.output),
    handler: (args: Record<string, unknown>, ctx: ToolContext) => budgeted(tool, options, args as Args, ctx),
  }) as ToolDefinition;
}

async function budgeted<Args>(
  tool: ToolDefinition,
  options: BudgetOptions<Args>,
  args: Args,
  ctx: ToolContext,
): Promise<ToolReply<Record<string, unknown>>> {
  const controller = new AbortController();
  const forward = () => controller.abort(ctx.signal.reason);
  if (ctx.signal.aborted) forward();
  ctx.signal.addEventListener("abort", forward, { once: true });
  // Set once the call became a job: progress messages then become the job's output.
  const sink: { log?: (line: string) => void } = {};
  const inner: ToolContext = {
    ...ctx,
    signal: controller.signal,
    progress: (progress, total, message) => {
      if (sink.log !== undefined) {
        if (message) sink.log(`${message}${total === undefined ? "" : ` (${progress}/${total})`}`);
      } else ctx.progress(progress, total, message);
    },
  };
  const startedAt = new Date();
  const work = tool.handler(args as never, inner);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) =>
    timer = setTimeout(() => resolve("expired"), ctx.limits.runWaitMs ?? DEFAULT_RUN_WAIT_MS)
  );
  let outcome: Awaited<typeof work> | "expired";
  try {
    outcome = await Promise.race([work, expired]);
  } catch (error) {
    ctx.signal.removeEventListener("abort", forward);
    throw error;
  } finally {
    clearTimeout(timer);
  }
  if (outcome !== "expired") {
    ctx.signal.removeEventListener("abort", forward);
    return outcome as ToolReply<Record<string, unknown>>;
  }
  // Past the wait: the work goes on as a job of this server, tied to the session, not to the call.
  ctx.signal.removeEventListener("abort", forward);
  const onSessionEnd = () => controller.abort(ctx.sessionSignal.reason);
  ctx.sessionSignal.addEventListener("abort", onSessionEnd, { once: true });
  const alias = await ctx.connections.resolve(options.target(args));
  const preview = options.preview(args);
  const timeoutSeconds = options.timeoutSeconds?.(args, ctx) ?? null;
  let store: JobStore | undefined;
  let id: string;
  try {
    store = (await ctx.connections.jobs(alias)).jobs;
    id = await store.record({ preview, tool: tool.name, timeoutSeconds: timeoutSeconds ?? 0 }, {
      owner: ctx.caller.principal,
    });
  } catch {
    store = undefined;
    id = newJobId();
  }
  const job = BACKGROUND_JOBS.start({
    id,
    principal: ctx.caller.principal,
    alias,
    tool: tool.name,
    preview,
    timeoutSeconds,
    startedAt,
    store,
    release: ctx.keepSessionBusy(),
    cancel: () => controller.abort(new DOMException("The job was cancelled", "AbortError")),
  });
  const encoder = new TextEncoder();
  sink.log = (line) => {
    job.stdout.push(encoder.encode(line + "\n"));
    job.changed();
  };
  work.then(
    (reply): BackgroundEnd => ({
      status: "exited",
      exitCode: reply.isError ? 1 : 0,
      result: {
        data: reply.data as Record<string, unknown>,
        text: reply.text ?? JSON.stringify(reply.data),
        isError: reply.isError ?? false,
      },
    }),
    (error: unknown): BackgroundEnd => {
      const { message, hint } = describeError(error);
      const text = `${message}\nNext: ${hint}`;
      if (controller.signal.aborted) return { status: "killed", result: { data: {}, text, isError: true } };
      return { status: "exited", exitCode: 1, result: { data: {}, text, isError: true } };
    },
  ).then((end) => job.finish(end)).finally(() =>
    ctx.sessionSignal.removeEventListener("abort", onSessionEnd)
  );
  const next = { job_id: id, offset: 0, wait: 30 };
  return {
    data: { job_id: id, status: "running", backing: "server" },
    text:
      `[still running after ${
        Math.round((Date.now() - startedAt.getTime()) / 1000)
      } s · job ${id} · ${alias} · ` +
      `runs inside this server process] ${tool.name} is still working: call job_output with ${
        JSON.stringify(next)
      } until status is not running; its result is then in \`result\`. job_cancel stops it. Do not call ${tool.name} again.`,
  };
}
