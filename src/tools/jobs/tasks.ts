/**
 * The MCP Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663, protocol 2026-07-28) over the job
 * store: a `tools/call` whose request declares the extension, and whose tool answers with a job, gets a
 * `CreateTaskResult` (`resultType: "task"`, the task id is the job id) instead; `tasks/get` returns the
 * task (with the tool's final result inline once it ended) and `tasks/cancel` cancels the job. A task is
 * returned only once the job exists on the host (or its record does), so `tasks/get` finds it at once.
 * Clients that do not declare the extension never get a task: they get the job answer.
 */
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import { JobError } from "../../ssh/jobs/errors.ts";
import type { JobView } from "../../ssh/jobs/parse.ts";
import { completeUtf8Length } from "../../ssh/jobs/utf8.ts";
import type { ToolLimits } from "../define.ts";
import { callInfoOf, type OpenScope } from "../middleware/call.ts";
import { describeExec, execFailed } from "../remote.ts";
import type { BackgroundJob } from "./background.ts";
import { type FoundJob, withJob } from "./find.ts";

/** The extension's identifier. */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** How often a client should poll, ms (a hint). */
const POLL_INTERVAL_MS = 5000;

/** Whether the request declared the Tasks extension in its (2026-07-28) per-request capabilities. */
export function declaresTasks(sdk: ServerContext): boolean {
  const envelope = sdk.mcpReq.envelope as Record<string, unknown> | undefined;
  const capabilities = envelope?.[CLIENT_CAPABILITIES_META_KEY] as
    | { extensions?: Record<string, unknown> }
    | undefined;
  return capabilities?.extensions?.[TASKS_EXTENSION] !== undefined;
}

/** A job answer (`job_id` and `status: "running"`) as a CreateTaskResult; other results unchanged. */
export function asTask(result: CallToolResult): CallToolResult {
  const data = result.structuredContent as { job_id?: unknown; status?: unknown } | undefined;
  if (typeof data?.job_id !== "string" || data.status !== "running") return result;
  const now = new Date().toISOString();
  const text = result.content?.map((c) => (c.type === "text" ? c.text : "")).join("") ?? "";
  // structuredContent and content stay: the tool's output schema is checked before the result leaves.
  return {
    ...result,
    resultType: "task",
    taskId: data.job_id,
    status: "working",
    statusMessage: text.slice(0, 500),
    createdAt: now,
    lastUpdatedAt: now,
    ttlMs: null,
    pollIntervalMs: POLL_INTERVAL_MS,
  } as CallToolResult;
}

/** Options of {@link registerTasks}. */
export interface TasksOptions {
  /** Session lookup (the same as for tool calls). */
  openScope: OpenScope;
  /** Output limits. */
  limits: ToolLimits;
}

/** Declares the extension and answers `tasks/get` and `tasks/cancel` from the job store. */
export function registerTasks(server: McpServer, options: TasksOptions): void {
  server.server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } } as never);
  const handle = async <T>(
    ctx: ServerContext,
    taskId: unknown,
    use: (found: FoundJob, principal: string) => Promise<T>,
  ) => {
    if (!declaresTasks(ctx)) {
      throw new ProtocolError(-32021 as ProtocolErrorCode, "Missing required client capability", {
        requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
      });
    }
    const scope = await options.openScope(callInfoOf(ctx));
    try {
      const jobCtx = { connections: scope.connections, caller: scope.caller, signal: ctx.mcpReq.signal };
      return await withJob(jobCtx, String(taskId), undefined, (found) => use(found, scope.caller.principal));
    } catch (error) {
      if (error instanceof JobError && (error.code === "not_found" || error.code === "bad_id")) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, "Failed to retrieve task: Task not found");
      }
      throw error;
    } finally {
      scope.end();
    }
  };
  const params = { params: z.object({ taskId: z.string().max(200) }).passthrough() };
  server.server.setRequestHandler("tasks/get", params, (request, ctx) =>
    handle(
      ctx,
      request.taskId,
      (found, principal) => taskOf(found, request.taskId, principal, options.limits.maxOutputBytes),
    ));
  server.server.setRequestHandler(
    "tasks/cancel",
    params,
    (request, ctx) =>
      handle(ctx, request.taskId, async (found, principal) => {
        if (found.kind === "server") found.job.cancel();
        else await found.store.cancel(request.taskId, { owner: principal });
        return {};
      }),
  );
}

/** The task of a job: working, cancelled, or completed with the tool's result inline. */
async function taskOf(
  found: FoundJob,
  id: string,
  principal: string,
  max: number,
): Promise<Record<string, unknown>> {
  const view = found.kind === "server"
    ? { ...found.job.view(), alias: found.job.alias }
    : { ...await found.store.read(id, { owner: principal, maxBytes: 4 }), alias: found.alias };
  const task = {
    taskId: id,
    createdAt: view.started_at ?? new Date().toISOString(),
    lastUpdatedAt: view.ended_at ?? new Date().toISOString(),
    ttlMs: null,
    pollIntervalMs: POLL_INTERVAL_MS,
  };
  if (view.status === "running") {
    return { ...task, status: "working", statusMessage: `still running on ${view.alias}` };
  }
  if (view.cancelled) {
    return { ...task, status: "cancelled", statusMessage: "cancelled with job_cancel or tasks/cancel" };
  }
  const result = found.kind === "server" && found.job.result !== undefined
    ? {
      content: [{ type: "text", text: found.job.result.text }],
      structuredContent: found.job.result.data,
      isError: found.job.result.isError,
    }
    : await commandResult(found, view, principal, max);
  return { ...task, status: "completed", result };
}

/** A finished command job as `run`'s result: head and tail of each stream, exit code or signal. */
async function commandResult(
  found: FoundJob,
  view: JobView & { alias: string },
  principal: string,
  max: number,
): Promise<CallToolResult> {
  const half = Math.floor(max / 2);
  const stream = async (which: "o" | "e", total: number) => {
    const read = async (offset: number, bytes: number) => {
      if (found.kind === "server") return decode(found.job, which, offset, bytes);
      const page = await found.store.read(view.job_id, {
        owner: principal,
        offset: which === "o" ? offset : view.stdout_bytes,
        stderrOffset: which === "e" ? offset : 0,
        maxBytes: bytes,
      });
      return which === "o" ? page.stdout : page.stderr;
    };
    if (total <= max) return { text: await read(0, max), truncated: false };
    return {
      text: `${await read(0, max - half)}\n…[${total - max} bytes omitted]…\n${await read(
        total - half,
        half,
      )}`,
      truncated: true,
    };
  };
  const out = await stream("o", view.stdout_bytes);
  const err = await stream("e", view.stderr_bytes);
  const data = {
    alias: view.alias,
    stdout: out.text,
    stderr: err.text,
    exit_code: view.exit_code,
    signal: view.signal,
    timed_out: view.status === "timed_out",
    cancelled: view.cancelled,
    connection_lost: view.status === "lost",
    truncated: out.truncated || err.truncated,
    stdout_bytes: view.stdout_bytes,
    stderr_bytes: view.stderr_bytes,
    duration_ms: view.started_at && view.ended_at
      ? Date.parse(view.ended_at) - Date.parse(view.started_at)
      : 0,
    executor: "shell" as const,
  };
  const text = describeExec(data) + (view.reason ? `\n${view.reason}` : "");
  return { content: [{ type: "text", text }], structuredContent: data, isError: execFailed(data) };
}

function decode(job: BackgroundJob, which: "o" | "e", offset: number, max: number): string {
  const { bytes } = (which === "o" ? job.stdout : job.stderr).read(offset, max);
  return new TextDecoder().decode(bytes.subarray(0, completeUtf8Length(bytes) || bytes.length));
}
