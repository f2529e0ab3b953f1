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
