/**
 * The concrete `Host` names of an OpenSSH client configuration (`Host web db-1` → `web`, `db-1`),
 * included files too. Patterns with wildcards or negation name no host and are left out: a typo must
 * never match `Host *` and connect somewhere.
 */
import { readDirSync, readFileSync, type SshConfigLocation } from "./connect_plan.ts";
import { resolveHostConfig } from "./resolve.ts";

// A name no Host line can be written for, so that resolving it reads every line without matching.
const PROBE = "ssh-mcp.list-hosts.invalid";

/**
 * Lists the concrete `Host` names in file order; an absent or unreadable file has none.
 *
 * @throws {import("./resolve.ts").SshConfigError} when the file cannot be parsed.
 * @example
 * ```ts
 * configHostNames({ path: "/home/me/.ssh/config", home: "/home/me" }); // ["web", "db-1"]
 * ```
 */
export function configHostNames(location: SshConfigLocation | undefined): string[] {
  if (location === undefined) return [];
  let text: string | undefined;
  try {
    text = readFileSync(location.path);
  } catch {
    return [];
  }
  if (text === undefined) return [];
  const names = new Set<string>();
  resolveHostConfig(text, PROBE, {
    home: location.home,
    path: location.path,
    readFile: readFileSync,
    readDir: readDirSync,
    onHostLine: (patterns) => {
      for (const pattern of patterns) if (!/[*?!]/.test(pattern) && pattern !== PROBE) names.add(pattern);
    },
  });
  return [...names];
}
