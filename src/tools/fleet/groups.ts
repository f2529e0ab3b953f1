/**
 * The answers of a fleet run joined into groups of identical answers, and the text the model reads:
 * the groups first, so that 50 identical hosts read as one line.
 *
 * @module
 */

/** One target's answer. Field names are snake_case because they are returned to the model as is. */
export interface TargetResult {
  /** The alias (as given, or as a glob matched it). */
  target: string;
  /** Exit code; null when the command did not end normally (or never ran). */
  exit_code: number | null;
  /** Signal that ended the command, if any. */
  signal: string | null;
  /** Standard output (head and tail when truncated). */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** Why this target has no normal answer (unreachable, timed out, connection lost…); null otherwise. */
  error: string | null;
  /** Output was cut to the -max-output cap. */
  truncated: boolean;
  /** Wall time in ms (0 when the command never started). */
  duration_ms: number;
  /** The job that is still running the command, when the wait budget ran out (SPEC §10). */
  job_id?: string;
}

/** Targets whose answers are identical. */
export interface TargetGroup {
  /** The targets, in the order of `results`. */
  targets: string[];
  /** Their exit code. */
  exit_code: number | null;
  /** Their signal. */
  signal: string | null;
  /** Their standard output. */
  stdout: string;
  /** Their standard error. */
  stderr: string;
  /** Their error (null when the command answered). */
  error: string | null;
}

/** Whether a target gave no answer of its own (an error), as opposed to any exit code. */
export function targetFailed(result: TargetResult): boolean {
  return result.error !== null;
}

function answerKey(result: TargetResult): string {
  const running = result.job_id === undefined ? null : "running";
  return JSON.stringify([
    result.exit_code,
    result.signal,
    result.stdout,
    result.stderr,
    result.error,
    running,
  ]);
}

/**
 * Joins targets whose answers (exit code, signal, stdout, stderr, error) are identical. Groups come
 * largest first; equal sizes keep the order of their first target.
 *
 * @example
 * ```ts
 * const groups = groupResults(results); // [{ targets: ["web-1", "web-2"], exit_code: 0, … }]
 * ```
 */
export function groupResults(results: readonly TargetResult[]): TargetGroup[] {
  const groups = new Map<string, TargetGroup>();
  for (const r of results) {
    const key = answerKey(r);
    const group = groups.get(key);
    if (group !== undefined) group.targets.push(r.target);
    else {
      groups.set(key, {
        targets: [r.target],
        exit_code: r.exit_code,
        signal: r.signal,
        stdout: r.stdout,
        stderr: r.stderr,
        error: r.error,
      });
    }
  }
  // Array.prototype.sort is stable: equal sizes keep their first-seen order.
  return [...groups.values()].sort((a, b) => b.targets.length - a.targets.length);
}

const NAMES_SHOWN = 12;

function names(targets: readonly string[]): string {
  if (targets.length <= NAMES_SHOWN) return targets.join(", ");
  return `${targets.slice(0, NAMES_SHOWN).join(", ")}, … (${targets.length - NAMES_SHOWN} more)`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function status(group: TargetGroup, running: boolean): string {
  if (running) return "still running (see job_id in results; poll with job_output)";
  if (group.error !== null) return `failed: ${group.error}`;
  if (group.signal !== null) return `killed by ${group.signal}`;
  return `exit ${group.exit_code}`;
}

/**
 * The text for the model: one summary line that leads with the groups, then each group once with
 * its targets and output.
 *
 * @example
 * ```ts
 * describeFleet(results, groupResults(results));
 * // "50 targets: 50 identical, exit 0.\n── 50 targets: web-01, … · exit 0\nok"
 * ```
 */
export function describeFleet(results: readonly TargetResult[], groups: readonly TargetGroup[]): string {
  const runningOf = (group: TargetGroup) =>
    results.some((r) => r.target === group.targets[0] && r.job_id !== undefined);
  const summary = groups.map((g) => {
    const what = status(g, runningOf(g));
    return g.targets.length === 1
      ? `${g.targets[0]}: ${what.split("\n")[0]}`
      : `${g.targets.length} identical, ${what.split("\n")[0]}`;
  });
  const lead = groups.length === 1 && results.length > 1
    ? `${plural(results.length, "target")}: all identical, ${status(groups[0]!, runningOf(groups[0]!))}.`
    : `${plural(results.length, "target")}, ${plural(groups.length, "different answer")}: ${
      summary.join("; ")
    }.`;
  const sections = groups.map((g) => {
    const parts = [
      `── ${plural(g.targets.length, "target")}: ${names(g.targets)} · ${status(g, runningOf(g))}`,
    ];
    if (g.stdout) parts.push(g.stdout.replace(/\n$/, ""));
    if (g.stderr) parts.push(`[stderr]\n${g.stderr.replace(/\n$/, "")}`);
    return parts.join("\n");
  });
  const truncated = results.filter((r) => r.truncated).length;
  const tail = truncated === 0 ? [] : [`[output truncated on ${plural(truncated, "target")}]`];
  return [lead, ...sections, ...tail].join("\n");
}
