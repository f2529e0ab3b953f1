/**
 * The zod fragments `run` adds for fleet runs: the `targets` input and the `results`/`groups` output.
 *
 * @module
 */
import { z } from "zod";

/** Input: the targets of a fleet run. */
export const targetsInput = z.array(z.string().min(1).max(200)).min(1).max(256).optional().describe(
  "Run on several connections at once instead of `target`: aliases, or globs over this session's aliases " +
    "(`web-*`, `db-?`). Each target runs under the same timeout; identical answers are grouped.",
);

const answer = {
  exit_code: z.number().int().nullable().describe("Exit code; null when killed, unreachable or unknown"),
  signal: z.string().nullable().describe("Signal that ended the command, if any"),
  stdout: z.string().describe("Standard output (head and tail when truncated)"),
  stderr: z.string().describe("Standard error (head and tail when truncated)"),
  error: z.string().nullable().describe(
    "Why there is no normal answer (unreachable, connection lost, timed out…); null when the command answered",
  ),
};

/** Output fields of a fleet run (present only when `targets` was given). */
export const fleetOutputShape = {
  results: z.array(z.object({
    target: z.string().describe("Alias"),
    ...answer,
    truncated: z.boolean().describe("Output was cut to the -max-output cap"),
    duration_ms: z.number().int().describe("Wall time on this target in ms"),
    job_id: z.string().optional().describe("Job still running the command (poll it with job_output)"),
  })).optional().describe("With `targets`: one answer per target, in the order named"),
  groups: z.array(z.object({
    targets: z.array(z.string()).describe("Targets that gave this identical answer"),
    ...answer,
  })).optional().describe("With `targets`: identical answers joined, largest group first"),
  failed: z.number().int().optional().describe(
    "With `targets`: how many targets gave no answer (isError only when all did)",
  ),
};

/**
 * `run`'s output: the single-target fields made optional (they keep their descriptions) plus
 * {@link fleetOutputShape}.
 */
export function withFleetOutput<S extends z.ZodRawShape>(shape: S) {
  const optional = Object.fromEntries(
    Object.entries(shape).map(([key, field]) => {
      const type = field as z.ZodType;
      return [key, type.optional().describe(`${type.description ?? key} (without targets)`)];
    }),
  ) as unknown as { [K in keyof S]: z.ZodOptional<S[K]> };
  return z.object(shape).partial().extend(optional).extend(fleetOutputShape);
}
