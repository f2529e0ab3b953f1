/**
 * `run{targets:[…]}`: one command on many connections, a bounded number at a time, each under the
 * usual deadline. Every target gets its own result; one that is unreachable or dies mid-command is
 * reported there and spoils nothing. `core`'s `run` delegates here when `targets` is given.
 *
 * @module
 */
import { describeError } from "../../errors.ts";
import { sh } from "../../shell/sh.ts";
import type { ExecResult, RunRequest } from "../../ssh/connection.ts";
import type { ToolContext, ToolReply } from "../define.ts";
import { resolveTimeout } from "../remote.ts";
import { describeFleet, groupResults, targetFailed, type TargetGroup, type TargetResult } from "./groups.ts";
import { expandTargets } from "./select.ts";

/** Targets worked on at once when the server sets no -fanout. */
export const DEFAULT_FANOUT = 8;

/**
 * Runs the command on one target (`request.signal` is the call's). The seam where the jobs runner
 * (SPEC §10) plugs in: a runner that hands back a job when the `wait` budget runs out returns the
 * output so far with `job_id` set.
 */
export type RunOnTarget = (
  alias: string,
  request: RunRequest,
) => Promise<ExecResult & { alias: string; job_id?: string }>;

/** The arguments of `run` that a fleet run uses. */
export interface FleetRunArgs {
  /** Shell command line. */
  command: string;
  /** Aliases and globs over aliases. */
  targets: readonly string[];
  /** Must be absent: `target` and `targets` exclude each other. */
  target?: string;
  /** Deadline per target, seconds. */
  timeout?: number;
  /** Working directory. */
  cwd?: string;
  /** Environment variables. */
  env?: Record<string, string>;
  /** Text for stdin (each target gets all of it). */
  stdin?: string;
  /** Run through sudo. */
  sudo?: boolean;
}

/** Options of {@link runOnTargets}. */
export interface FleetRunOptions {
  /** How to run on one target (default: `ctx.connections.exec` with the call's request). */
  runOne?: RunOnTarget;
}

/** The structured result of a fleet run (see `fleetOutputShape`). */
export interface FleetData {
  /** One per target, in the order the targets were named. */
  results: TargetResult[];
  /** Identical answers joined, largest group first. */
  groups: TargetGroup[];
  /** Targets that gave no answer of their own. */
  failed: number;
  /** Wall time of the whole call, ms. */
  duration_ms: number;
  [key: string]: unknown;
}

/** Why an exec result is not a normal answer, or null when it is one (any exit code is). */
function execError(result: ExecResult): string | null {
  if (result.connection_lost) return "connection lost mid-command: outcome unknown, it was not re-run";
  if (result.timed_out) return "timed out: the remote process group was killed";
  if (result.cancelled) return "cancelled: the remote process group was killed";
  if (result.sudo_failed) return "sudo refused the password given at connect (sudo_password)";
  return null;
}

function fromExec(target: string, result: ExecResult & { job_id?: string }): TargetResult {
  return {
    target,
    exit_code: result.exit_code,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    error: execError(result),
    truncated: result.truncated,
    duration_ms: result.duration_ms,
    ...(result.job_id === undefined ? {} : { job_id: result.job_id }),
  };
}

function fromError(target: string, error: unknown, ms: number): TargetResult {
  const { message } = describeError(error);
  return {
    target,
    exit_code: null,
    signal: null,
    stdout: "",
    stderr: "",
    error: message,
    truncated: false,
    duration_ms: ms,
  };
}

/** Options of {@link runBounded}. */
export interface RunBoundedOptions {
  /** At most this many targets at once. */
  fanout: number;
  /** Stops starting new targets (those left get a "cancelled" result). */
  signal: AbortSignal;
  /** Called after each target finished, with the count so far. */
  onFinished?: (done: number, total: number) => void;
}

/**
 * Runs `request` with `runOne` on every target with at most `fanout` at once; never throws: a target that fails
 * gets a result whose `error` says why.
 *
 * @example
 * ```ts
 * const results = await runBounded(["a", "b"], request, (alias, r) => conns.exec(alias, r), {
 *   fanout: 8, signal,
 * });
 * ```
 */
export async function runBounded(
  targets: readonly string[],
  request: Omit<RunRequest, "signal">,
  runOne: RunOnTarget,
  options: RunBoundedOptions,
): Promise<TargetResult[]> {
  const results: TargetResult[] = new Array(targets.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < targets.length) {
      const index = next++;
      const target = targets[index]!;
      const started = Date.now();
      if (options.signal.aborted) {
        results[index] = fromError(target, new DOMException("cancelled", "AbortError"), 0);
      } else {
        try {
          results[index] = fromExec(target, await runOne(target, { ...request, signal: options.signal }));
        } catch (error) {
          results[index] = fromError(target, error, Date.now() - started);
        }
      }
      options.onFinished?.(++done, targets.length);
    }
  };
  const workers = Math.max(1, Math.min(options.fanout, targets.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}

/**
 * The `run` handler's fleet branch: expands `targets`, runs the command on each (bounded by the
 * server's -fanout), groups identical answers and writes the text that leads with the groups.
 * `isError` only when every target failed.
 */
export async function runOnTargets(
  args: FleetRunArgs,
  ctx: ToolContext,
  options: FleetRunOptions = {},
): Promise<ToolReply<FleetData>> {
  if (args.target !== undefined) {
    throw new TypeError("Cannot use both target and targets: pass one alias as target, or a list as targets");
  }
  const started = Date.now();
  const targets = expandTargets(args.targets, ctx.connections.list().map((c) => c.alias));
  const request: Omit<RunRequest, "signal"> = {
    command: sh`eval ${args.command}`,
    cwd: args.cwd,
    env: args.env,
    stdin: args.stdin === undefined ? undefined : new TextEncoder().encode(args.stdin),
    sudo: args.sudo,
    timeoutMs: resolveTimeout(ctx, args.timeout),
    maxOutputBytes: ctx.limits.maxOutputBytes,
  };
  const runOne = options.runOne ?? ((alias, r) => ctx.connections.exec(alias, r));
  ctx.progress(0, targets.length, `0/${targets.length} targets finished`);
  const results = await runBounded(targets, request, runOne, {
    fanout: ctx.limits.fanout ?? DEFAULT_FANOUT,
    signal: ctx.signal,
    onFinished: (done, total) => ctx.progress(done, total, `${done}/${total} targets finished`),
  });
  const groups = groupResults(results);
  const failed = results.filter(targetFailed).length;
  return {
    data: { results, groups, failed, duration_ms: Date.now() - started },
    text: describeFleet(results, groups),
    isError: failed === results.length,
  };
}
