/**
 * Where completion values come from: the session's aliases and the `Host` names of ~/.ssh/config,
 * the session's job ids, and — from a connected host, never by connecting — container and service
 * names. Remote look-ups are short (5 s), cached for 15 s per connection, and fail quietly (no values).
 */
import { raw, type ShellCommand } from "../shell/sh.ts";
import type { Connections } from "../ssh/connection.ts";
import type { Completer, CompletionRequest } from "./define.ts";

const REMOTE_TIMEOUT_MS = 5_000;
const CACHE_MS = 15_000;

/** Aliases of the session (default first), then ~/.ssh/config hosts not yet connected. */
export const targets: Completer = (request) => {
  const aliases = request.scope.connections.list()
    .sort((a, b) => Number(b.default) - Number(a.default))
    .map((c) => c.alias);
  return Promise.resolve([...new Set([...aliases, ...request.deps.configHosts()])]);
};

/** The session's job ids, running first. */
export const jobIds: Completer = async (request) =>
  (await request.deps.jobs.list(request)).map((j) => j.job_id);

const CONTAINERS_SCRIPT = `docker ps --format '{{.Names}}' 2>/dev/null ||
  podman ps --format '{{.Names}}' 2>/dev/null`;
// Failed units first: they are what a runbook about a failed service is after.
const SERVICES_SCRIPT = `systemctl list-units --type=service --state=failed --no-legend --plain 2>/dev/null
systemctl list-units --type=service --all --no-legend --plain 2>/dev/null`;
const CONTAINERS = raw(CONTAINERS_SCRIPT);
const SERVICES = raw(SERVICES_SCRIPT);

/** Names of the containers running on the `target` argument's connection (or the default one). */
export const containers: Completer = (request) => remoteLines(request, "containers", CONTAINERS);

/** Service units on the `target` argument's connection (or the default one), failed ones first. */
export const services: Completer = async (request) =>
  serviceNames(await remoteLines(request, "services", SERVICES));

/**
 * Unit names (without `.service`) from `systemctl list-units --plain --no-legend` lines, in order.
 *
 * @example
 * ```ts
 * serviceNames(["nginx.service loaded failed failed A web server"]); // ["nginx"]
 * ```
 */
export function serviceNames(lines: readonly string[]): string[] {
  return lines
    .map((line) => line.replace(/^[●*]\s*/, "").split(/\s+/)[0]!)
    .filter((unit) => unit.endsWith(".service"))
    .map((unit) => unit.slice(0, -".service".length));
}

const caches = new WeakMap<Connections, Map<string, { at: number; lines: string[] }>>();

async function remoteLines(
  request: CompletionRequest,
  kind: string,
  script: ShellCommand,
): Promise<string[]> {
  const connections = request.scope.connections;
  const wanted = request.arguments.target;
  const listed = connections.list();
  const alias = wanted === undefined || wanted === ""
    ? (listed.find((c) => c.default) ?? (listed.length === 1 ? listed[0] : undefined))?.alias
    : listed.find((c) => c.alias === wanted)?.alias;
  if (alias === undefined) return [];
  let cache = caches.get(connections);
  if (cache === undefined) caches.set(connections, cache = new Map());
  const key = `${alias}\u0000${kind}`;
  const hit = cache.get(key);
  if (hit !== undefined && Date.now() - hit.at < CACHE_MS) return hit.lines;
  try {
    const result = await connections.exec(alias, {
      command: script,
      timeoutMs: REMOTE_TIMEOUT_MS,
      maxOutputBytes: 256 * 1024,
      signal: request.signal,
    });
    const lines = result.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
    cache.set(key, { at: Date.now(), lines });
    return lines;
  } catch {
    return [];
  }
}
