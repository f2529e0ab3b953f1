/**
 * Which connections a `run{targets}` call means: each entry is an alias, or a glob (`*` any run of
 * characters, `?` exactly one) over the session's aliases. Pure, so that the approval wrapper can
 * list the same set in its one question before anything runs.
 *
 * @module
 */
import { ToolError } from "../../errors.ts";
import { wildcardMatch } from "../../ssh/config/match.ts";

/** The most targets one call may expand to. */
export const MAX_TARGETS = 1000;

/** Whether a `targets` entry is a glob rather than an alias. */
export function isTargetGlob(entry: string): boolean {
  return /[*?]/.test(entry);
}

/**
 * The aliases `entries` name, in the order given (a glob's matches sorted by name, digits as
 * numbers: web-2 before web-10), each once. A plain entry is kept even when no connection has that name: the run reports it in its own
 * result (or connects it on demand) without spoiling the others. A glob that matches nothing is an
 * error, because the model would otherwise believe it ran somewhere.
 *
 * @example
 * ```ts
 * expandTargets(["web-*", "db"], ["web-1", "db", "web-2"]); // ["web-1", "web-2", "db"]
 * ```
 */
export function expandTargets(entries: readonly string[], aliases: readonly string[]): string[] {
  const out = new Set<string>();
  for (const entry of entries) {
    if (!isTargetGlob(entry)) {
      out.add(entry);
      continue;
    }
    const matches = aliases.filter((alias) => wildcardMatch(entry, alias))
      .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    if (matches.length === 0) {
      throw new ToolError(`Cannot run on "${entry}": no connection of this session matches it`, {
        hint: aliases.length === 0
          ? "Call `connect` for each host first."
          : `Aliases are: ${aliases.slice(0, 20).join(", ")}${aliases.length > 20 ? ", …" : ""}.`,
      });
    }
    for (const alias of matches) out.add(alias);
  }
  if (out.size > MAX_TARGETS) {
    throw new RangeError(
      `Cannot run on ${out.size} targets: at most ${MAX_TARGETS} per call; split the set (e.g. narrower globs)`,
    );
  }
  return [...out];
}
