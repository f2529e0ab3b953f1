/**
 * The job source of the MCP surface (`ssh://jobs/{job_id}` resources, job-id completion, resource
 * subscriptions) over the jobs of SPEC §10: the caller's jobs on each of the session's connections
 * (host jobs from the job store, jobs this server runs from its registry).
 */
import { JobError } from "../ssh/jobs/errors.ts";
import { BACKGROUND_JOBS } from "../tools/jobs/background.ts";
import { withJob } from "../tools/jobs/find.ts";
import type { JobSource, JobSummary } from "./jobs_source.ts";

/** Bytes of each stream a job resource shows (its first bytes; job_output pages the rest). */
const RESOURCE_BYTES = 51_200;

/** The caller's jobs, read through its session's connections. */
export const SESSION_JOBS: JobSource = {
  async list({ scope, signal }) {
    const principal = scope.caller.principal;
    const found: JobSummary[] = [];
    const seen = new Set<string>();
    for (const { alias } of scope.connections.list()) {
      try {
        const { jobs } = await scope.connections.jobs(alias, signal);
        for (const view of await jobs.list({ owner: principal, signal })) {
          seen.add(view.job_id);
          const live = BACKGROUND_JOBS.get(view.job_id, principal);
          found.push({
            job_id: view.job_id,
            status: live?.view().status ?? view.status,
            target: alias,
            label: view.command,
          });
        }
      } catch {
        // a host that cannot be reached lists nothing now; its jobs stay on it
      }
      for (const job of BACKGROUND_JOBS.list(principal, alias)) {
        if (!seen.has(job.id)) {
          found.push({ job_id: job.id, status: job.view().status, target: alias, label: job.preview });
        }
      }
    }
    return [...found.filter((j) => j.status === "running"), ...found.filter((j) => j.status !== "running")];
  },

  async read({ scope, signal }, jobId) {
    const ctx = { connections: scope.connections, caller: scope.caller, signal };
    try {
      return await withJob(ctx, jobId, undefined, async (found) => {
        if (found.kind === "server") {
          const job = found.job;
          const decode = (which: "stdout" | "stderr") =>
            new TextDecoder().decode(job[which].read(0, RESOURCE_BYTES).bytes);
          return {
            ...job.view(),
            alias: job.alias,
            stdout: decode("stdout"),
            stderr: decode("stderr"),
            ...(job.result === undefined ? {} : { result: job.result.data, result_text: job.result.text }),
          };
        }
        const page = await found.store.read(jobId, {
          owner: scope.caller.principal,
          maxBytes: RESOURCE_BYTES,
          signal,
        });
        return { ...page, alias: found.alias };
      });
    } catch (error) {
      if (error instanceof JobError && (error.code === "not_found" || error.code === "bad_id")) {
        return undefined;
      }
      throw error;
    }
  },
};
