/**
 * The server's resources: `ssh://connections` (this session's connections), `ssh://known-hosts` (the
 * host keys the server trusts, fingerprints only) and `ssh://jobs/{job_id}` (a job's status and output).
 *
 * Nothing of another session shows: keys the server recorded itself (`accept-new`, in the data dir)
 * are listed only for hosts this session is connected to, since they reveal where other sessions went;
 * the operator's own known_hosts is configuration and listed whole.
 */
import { listKnownHosts } from "../ssh/host_keys/listing.ts";
import type { ConnectionInfo } from "../ssh/connection.ts";
import { jobIds } from "./completers.ts";
import { defineResource, defineResourceTemplate, type ResourceBody } from "./define.ts";

/** `ssh://connections`. */
export const CONNECTIONS_RESOURCE = defineResource({
  name: "connections",
  uri: "ssh://connections",
  title: "SSH connections of this session",
  description:
    "This session's SSH connections: alias (pass it as `target`), user@host:port, jump host, state, idle " +
    "seconds, host-key fingerprint and which one is the default target. Same data as the `connections` tool.",
  mimeType: "application/json",
  read: (request) => Promise.resolve({ json: { connections: request.scope.connections.list() } }),
});

/** `ssh://known-hosts`. */
export const KNOWN_HOSTS_RESOURCE = defineResource({
  name: "known-hosts",
  uri: "ssh://known-hosts",
  title: "Trusted host keys",
  description:
    "The host keys the server trusts (known_hosts lines: hosts, key type, SHA256 fingerprint, file; never key " +
    "material). `recorded` keys were saved by the server on first connect (accept-new); `used_by` names this " +
    "session's connections that match a line.",
  mimeType: "application/json",
  read: async (request) => {
    const connections = request.scope.connections.list();
    const listed = await listKnownHosts(request.deps.knownHosts, request.signal);
    const keys = [];
    for (const { matches, ...key } of listed) {
      const usedBy: string[] = [];
      for (const connection of connections) {
        const address = addressOf(connection);
        if (address !== undefined && await matches(address.host, address.port)) usedBy.push(connection.alias);
      }
      if (key.recorded && usedBy.length === 0) continue;
      keys.push({ ...key, ...(usedBy.length > 0 ? { used_by: usedBy } : {}) });
    }
    return { json: { files: request.deps.knownHosts.map((f) => f.path), keys } };
  },
});

/** `ssh://jobs/{job_id}`. */
export const JOBS_RESOURCE = defineResourceTemplate({
  name: "job",
  uriTemplate: "ssh://jobs/{job_id}",
  title: "A job's status and output",
  description:
    "Status (running, exited, killed, timed_out, lost), exit code and output so far of a job that `run` (or " +
    "another long tool) handed back. Subscribe to be told when it changes; it settles when the job ends.",
  mimeType: "application/json",
  subscribable: true,
  list: async (request) =>
    (await request.deps.jobs.list(request)).map((job) => ({
      uri: `ssh://jobs/${encodeURIComponent(job.job_id)}`,
      name: `job ${job.job_id}`,
      description: [job.status, job.target, job.label].filter(Boolean).join(" · "),
    })),
  read: async (request, variables) => {
    const job = await request.deps.jobs.read(request, variables.job_id ?? "");
    return job === undefined ? undefined : { json: job };
  },
  complete: { job_id: jobIds },
  settled: (body: ResourceBody) => "json" in body && (body.json as { status?: unknown }).status !== "running",
});

/** Every resource of the server, in `resources/list` order. */
export const SSH_RESOURCES = [CONNECTIONS_RESOURCE, KNOWN_HOSTS_RESOURCE, JOBS_RESOURCE] as const;

/** Host and port of a connection's `user@host:port` target. */
function addressOf(connection: ConnectionInfo): { host: string; port: number } | undefined {
  const target = connection.target;
  const at = target.lastIndexOf("@");
  const colon = target.lastIndexOf(":");
  if (colon <= at) return undefined;
  const port = Number(target.slice(colon + 1));
  return Number.isInteger(port) ? { host: target.slice(at + 1, colon), port } : undefined;
}
