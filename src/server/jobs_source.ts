/**
 * The seam between the MCP surface (the `ssh://jobs/{job_id}` resources, job-id completion, resource
 * subscriptions) and the job store of SPEC §10. The surface needs only these two reads; whoever owns
 * jobs implements them for a session, and `createServer` takes the implementation as `jobs`.
 *
 * Both reads are per session: a job of another principal or session is "not found", never listed.
 */
import type { SessionRequest } from "./in_session.ts";

/** One job as `resources/list` and completions show it. */
export interface JobSummary {
  /** The job id (as `job_output` takes it). */
  job_id: string;
  /** `running` | `exited` | `killed` | `timed_out` | `lost`. */
  status: string;
  /** Connection alias the job runs on. */
  target?: string;
  /** A short label (e.g. the first line of the command, secrets never included). */
  label?: string;
}

/** Reads the caller's jobs. */
export interface JobSource {
  /** The session's jobs, running first. */
  list(request: SessionRequest): Promise<JobSummary[]>;
  /**
   * One job's status and output so far (JSON, as `job_output` reports it), or `undefined` when the
   * session has no such job. Must include `status`; a status other than `running` ends subscriptions.
   */
  read(
    request: SessionRequest,
    jobId: string,
  ): Promise<(Record<string, unknown> & { status: string }) | undefined>;
}

/** The source used until jobs exist: no jobs. */
export const NO_JOBS: JobSource = {
  list: () => Promise.resolve([]),
  read: () => Promise.resolve(undefined),
};
