/**
 * The error a job operation fails with: a code for callers and a message that says what to do.
 */
import { ToolError } from "../../errors.ts";

/** Why a job operation failed. */
export type JobErrorCode =
  | "not_found"
  | "bad_id"
  | "bad_offset"
  | "no_home"
  | "not_writable"
  | "disk_full"
  | "missing_tool"
  | "start_failed"
  | "protocol";

/** A job operation that failed; the message names the job or the host and the next step. */
export class JobError extends ToolError {
  /** What went wrong. */
  readonly code: JobErrorCode;

  constructor(code: JobErrorCode, message: string, options?: ErrorOptions & { hint?: string }) {
    super(message, options);
    this.name = "JobError";
    this.code = code;
  }
}

/** The error for a start script's `@error <code> <detail>` line, on the host named `label`. */
export function startError(error: { code: string; detail: string }, label: string): JobError {
  const where = `on ${label}`;
  const detail = error.detail.trim();
  if (error.code === "tools") {
    const what = detail === "setsid"
      ? "neither `setsid` (util-linux) nor Perl's POSIX module, needed to detach the job from the SSH session"
      : `\`${detail}\`, needed to record the job's output`;
    return new JobError("missing_tool", `Cannot start a job ${where}: the host has ${what}`, {
      hint: detail === "setsid"
        ? "Install util-linux (Linux) or perl on the host, or run the command without a job (a `timeout` within the `wait` budget)."
        : "Install coreutils on the host, or run the command without a job (a `timeout` within the `wait` budget).",
    });
  }
  if (/no space|quota/i.test(detail)) {
    return new JobError("disk_full", `Cannot start a job ${where}: the disk is full (${detail})`, {
      hint:
        "Free space in the remote user's home (old jobs: call `jobs` to clean up finished ones), then retry.",
    });
  }
  if (error.code === "owner") {
    return new JobError("not_writable", `Cannot start a job ${where}: ${detail} belongs to another user`, {
      hint: "Fix the owner of that directory (it must belong to the SSH user), then retry.",
    });
  }
  const hint =
    "Jobs keep their files in ${XDG_STATE_HOME:-~/.local/state}/ssh-mcp/jobs of the SSH user: make that writable (a read-only or full home cannot hold jobs; `jobs` deletes finished ones), or run the command without a job (a `timeout` within the `wait` budget).";
  if (error.code === "mkdir" || /read-only|permission denied/i.test(detail)) {
    return new JobError(
      "not_writable",
      `Cannot start a job ${where}: cannot create the job's files (${detail})`,
      {
        hint,
      },
    );
  }
  if (error.code === "write") {
    // The directory was created, so a write that fails is a full disk or quota in practice.
    return new JobError(
      "disk_full",
      `Cannot start a job ${where}: writing the job's files failed, the disk is probably full (${detail})`,
      { hint },
    );
  }
  return new JobError("start_failed", `Cannot start a job ${where}: ${error.code} ${detail}`.trim());
}
