/**
 * Finding a job by id for the job tools: a job this server runs itself (the background registry), or
 * a job on the host of one of the session's connections (the given `target`, else each in turn: a
 * host that does not hold the id answers at once).
 */
import { JobError } from "../../ssh/jobs/errors.ts";
import { isJobId } from "../../ssh/jobs/ids.ts";
import type { JobStore } from "../../ssh/jobs/store.ts";
import type { ToolContext } from "../define.ts";
import { BACKGROUND_JOBS, type BackgroundJob } from "./background.ts";

/** Where a job was found. */
export type FoundJob =
  | { kind: "server"; job: BackgroundJob }
  | { kind: "host"; alias: string; store: JobStore };

/**
 * Runs `use` on the job's store (host jobs) or returns the background job; a host answering
 * `not_found` passes the search on to the next connection.
 */
export async function withJob<T>(
  ctx: Pick<ToolContext, "connections" | "caller" | "signal">,
  id: string,
  target: string | undefined,
  use: (found: FoundJob) => Promise<T>,
): Promise<T> {
  if (!isJobId(id)) {
    throw new JobError(
      "bad_id",
      `Cannot find job "${id.slice(0, 80)}": a job id is "j" followed by 26 letters and digits`,
      {
        hint: "Pass the job_id exactly as `run` or `jobs` returned it; call `jobs` to list a host's jobs.",
      },
    );
  }
  const background = BACKGROUND_JOBS.get(id, ctx.caller.principal);
  if (background !== undefined && (target === undefined || background.alias === target)) {
    return await use({ kind: "server", job: background });
  }
  const aliases = target !== undefined ? [target] : ctx.connections.list().map((c) => c.alias);
  for (const alias of aliases) {
    const { jobs } = await ctx.connections.jobs(alias, ctx.signal);
    try {
      return await use({ kind: "host", alias, store: jobs });
    } catch (error) {
      if (!(error instanceof JobError) || error.code !== "not_found") throw error;
    }
  }
  throw new JobError(
    "not_found",
    aliases.length === 0
      ? `Cannot find job ${id}: this session has no connection (after a server restart, connect again first)`
      : `Cannot find job ${id} on ${aliases.map((a) => `"${a}"`).join(", ")}`,
    {
      hint: aliases.length === 0
        ? "Call `connect` to the host the job runs on (same user), then call again."
        : "A job belongs to the host and user it was started on, and to the client that started it: `connect` to that host, or call `jobs` to list this host's jobs.",
    },
  );
}
