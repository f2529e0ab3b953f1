/**
 * Connect on demand (SPEC §12): a `target` that is not a connected alias but names a `Host` of
 * ~/.ssh/config, or is written `user@host[:port]`, is connected before the tool runs — through
 * `ConnectionManager.connect`, so under exactly the rules of the `connect` tool (host-key policy,
 * IdentityFile/agent/default keys/identity key, ProxyJump) — and named after what was typed. Never
 * with a password: that needs `connect`. One-shot clients can then `run` in a single call.
 *
 * Only a concrete `Host` name counts: a wildcard block (`Host *`) must not turn every typo into a
 * connection attempt.
 */
import { type CallToolResult, isInputRequiredResult } from "@modelcontextprotocol/server";
import { SshError } from "../../errors.ts";
import type { Connections, ConnectOutcome, ConnectRequest } from "../../ssh/connection.ts";
import type { OnDemandConnection, Wrapper } from "./call.ts";

export type { OnDemandConnection } from "./call.ts";

/** Arguments that name the connection a tool works on. */
export const TARGET_ARGUMENTS = ["target", "via", "source_node", "dest_node"] as const;

const USER_AT_HOST =
  /^([A-Za-z0-9._][A-Za-z0-9._-]{0,63})@(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]{1,253})(?::(\d{1,5}))?$/;

/**
 * What `connect` would be asked for `target`, or `undefined` when it names neither a config Host nor
 * `user@host[:port]`.
 *
 * @example
 * ```ts
 * onDemandRequest("web", ["web"]); // { request: { host: "web", alias: "web" }, from: "ssh_config" }
 * onDemandRequest("ops@10.0.0.5:2222", []); // { request: { host: "10.0.0.5", username: "ops", port: 2222, alias: … }, … }
 * ```
 */
export function onDemandRequest(
  target: string,
  configHosts: readonly string[],
): { request: ConnectRequest; from: OnDemandConnection["from"] } | undefined {
  if (configHosts.includes(target)) return { request: { host: target, alias: target }, from: "ssh_config" };
  const match = USER_AT_HOST.exec(target);
  if (match === null) return undefined;
  const host = match[2]!.replace(/^\[(.*)\]$/, "$1");
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (host.startsWith("-") || (port !== undefined && (port < 1 || port > 65535))) return undefined;
  return {
    request: { host, username: match[1]!, ...(port === undefined ? {} : { port }), alias: target },
    from: "user@host",
  };
}

// Concurrent calls naming the same new target share one connect.
const pending = new WeakMap<Connections, Map<string, Promise<ConnectOutcome>>>();

/**
 * Connects every target-like argument of a call that needs it; returns what was connected. A failure
 * is rethrown with its code, prefixed with what was being attempted.
 */
export async function connectTargets(
  args: Readonly<Record<string, unknown>>,
  connections: Connections,
  signal: AbortSignal,
): Promise<OnDemandConnection[]> {
  const made: OnDemandConnection[] = [];
  for (const name of TARGET_ARGUMENTS) {
    const target = args[name];
    if (typeof target !== "string" || target === "") continue;
    if (connections.list().some((c) => c.alias === target)) continue;
    const planned = onDemandRequest(target, connections.configHosts());
    if (planned === undefined) continue;
    let inFlight = pending.get(connections);
    if (inFlight === undefined) pending.set(connections, inFlight = new Map());
    let connecting = inFlight.get(target);
    if (connecting === undefined) {
      connecting = connections.connect(planned.request, signal).finally(() => inFlight.delete(target));
      inFlight.set(target, connecting);
    }
    try {
      made.push({ alias: target, from: planned.from, outcome: await connecting });
    } catch (error) {
      throw explain(error, target, planned.from);
    }
  }
  return made;
}

function explain(error: unknown, target: string, from: OnDemandConnection["from"]): unknown {
  const what = `Cannot connect "${target}" on first use (${
    from === "ssh_config" ? "Host of ~/.ssh/config" : "user@host[:port]"
  }; no password is tried: use \`connect\` with a password if the host needs one)`;
  if (error instanceof SshError) {
    // A new host key the operator wants a human to confirm is asked by `connect` (not on demand).
    const ask = error.code === "host_key_unconfirmed"
      ? "; call `connect` for this host to have the human asked about the new key"
      : "";
    return new SshError(error.code, `${what}: ${error.message}${ask}`, {
      cause: error,
      details: error.details,
    });
  }
  if (error instanceof TypeError) return new TypeError(`${what}: ${error.message}`, { cause: error });
  return error;
}

/**
 * Adds what was connected to a result: a first text block for the model and
 * `_meta["ssh-mcp/connected"]` for programs.
 */
function addConnectedNote(
  result: CallToolResult,
  made: readonly OnDemandConnection[],
): CallToolResult {
  if (made.length === 0) return result;
  const lines = made.map(({ alias, from, outcome }) =>
    `Connected "${alias}" on first use (${outcome.target}${outcome.via ? ` via ${outcome.via}` : ""}, ${
      from === "ssh_config" ? "from ~/.ssh/config" : "as user@host"
    }). Host key ${outcome.hostKey.fingerprint}: ${outcome.hostKey.message}`
  );
  return {
    ...result,
    content: [{ type: "text", text: lines.join("\n") }, ...(result.content ?? [])],
    _meta: {
      ...(result._meta ?? {}),
      "ssh-mcp/connected": made.map(({ alias, outcome }) => ({
        alias,
        target: outcome.target,
        host_key: { status: outcome.hostKey.status, fingerprint: outcome.hostKey.fingerprint },
        ...(outcome.jumps?.length ? { jumps: outcome.jumps } : {}),
      })),
    },
  };
}

/**
 * Connects on demand once the session is entered (inside the scope wrapper), records what it connected
 * on the call and tells the client's log.
 */
export function withConnectOnDemand(): Wrapper {
  return (next) => async (call) => {
    const made = await connectTargets(call.args, call.scope!.connections, AbortSignal.any(call.signals));
    call.connected = made;
    for (const { alias, outcome } of made) {
      call.log("info", `connected "${alias}" on first use`, {
        alias,
        target: outcome.target,
        host_key: outcome.hostKey,
      });
    }
    return await next(call);
  };
}

/** Puts the note of what was connected on the final result, success or error (outside the errors wrapper). */
export function withConnectedNote(): Wrapper {
  return (next) => async (call) => {
    const result = await next(call);
    if (isInputRequiredResult(result) || !call.connected?.length) return result;
    return addConnectedNote(result as CallToolResult, call.connected);
  };
}
