/**
 * Which connections a call acts on, for the per-host policy and the approval questions: the alias
 * in `target` (or the session's default connection, which is then pinned into the arguments so the
 * handler acts on exactly the host that was checked), every host of `run{targets}` (the globs expanded
 * and pinned into the arguments, so one question covers exactly the set that runs), both ends of
 * `sync`, and for `connect` the host as its arguments name it.
 */
import { UnknownConnectionError } from "../../errors.ts";
import type { ConnectionInfo, Connections } from "../../ssh/connection.ts";
import type { ToolDefinition } from "../define.ts";
import { expandTargets } from "../fleet/select.ts";
import type { HostRule } from "../policy.ts";

/** A connection a call acts on. */
export interface CallTarget {
  /** The alias (for `connect`: the alias asked for, or the host as given). */
  readonly alias: string;
  /** `user@host:port` when known. */
  readonly address?: string;
  /** Names a policy glob is matched against: alias, `user@host`, host name. */
  readonly names: readonly string[];
  /** Whether the call may change this host (false for reads, and for the source of `sync`). */
  readonly writes: boolean;
}

/** A connection a call acts on, with the policy rule that governs it. */
export interface GuardedTarget extends CallTarget {
  /** The first rule matching it, if any. */
  readonly rule?: HostRule;
}

/** Where a tool names its connections: `[argument, writes]` pairs beyond the usual `target`. */
const ENDPOINTS: Readonly<Record<string, ReadonlyArray<readonly [string, boolean]>>> = {
  sync: [["source_node", false], ["dest_node", true]],
};

/** `alias (user@host:port)`, or the alias alone. */
export function describeTarget(target: CallTarget): string {
  return target.address === undefined || target.address === target.alias
    ? target.alias
    : `${target.alias} (${target.address})`;
}

function hostOf(address: string): { user: string; host: string } {
  const at = address.indexOf("@");
  const colon = address.lastIndexOf(":");
  return { user: address.slice(0, at), host: address.slice(at + 1, colon > at ? colon : undefined) };
}

function fromConnection(info: ConnectionInfo, writes: boolean): CallTarget {
  const { user, host } = hostOf(info.target);
  return { alias: info.alias, address: info.target, names: [info.alias, `${user}@${host}`, host], writes };
}

function connectTarget(args: Record<string, unknown>): CallTarget {
  const host = String(args.host ?? "");
  const user = typeof args.username === "string" ? args.username : undefined;
  const port = typeof args.port === "number" ? args.port : 22;
  // As the manager names it (defaultAlias), when ~/.ssh/config does not change the user or port.
  const alias = typeof args.alias === "string"
    ? args.alias
    : user === undefined
    ? host
    : `${user}@${host}${port === 22 ? "" : `:${port}`}`;
  return {
    alias,
    address: `${user ?? "(user from ~/.ssh/config)"}@${host}:${port}`,
    names: [alias, ...(user === undefined ? [] : [`${user}@${host}`]), host],
    writes: false,
  };
}

/**
 * The connections `args` make the tool act on. When the tool takes a `target` and none was given,
 * the session's default connection (if there is one) is resolved and written into `args.target`.
 *
 * @throws {UnknownConnectionError} for a named alias the session does not have.
 */
export function resolveTargets(
  tool: ToolDefinition,
  args: Record<string, unknown>,
  connections: Connections,
): CallTarget[] {
  if (tool.name === "connect") return [connectTarget(args)];
  const list = connections.list();
  const byAlias = new Map(list.map((c) => [c.alias, c]));
  const writes = !tool.annotations.readOnlyHint;
  const endpoints = ENDPOINTS[tool.name];
  // An alias that does not exist is refused here, as the handler would refuse it: checking nothing
  // and letting a concurrent `connect` create it before the handler looks would skip the policy.
  const known = (alias: string) => {
    const info = byAlias.get(alias);
    if (info === undefined) throw new UnknownConnectionError(alias, [...byAlias.keys()]);
    return info;
  };
  if (endpoints !== undefined) {
    return endpoints.map(([field, changes]) => fromConnection(known(String(args[field])), changes && writes));
  }
  if (Array.isArray(args.targets)) {
    const aliases = expandTargets(args.targets.map(String), [...byAlias.keys()]);
    args.targets = aliases;
    return aliases.map((alias) => fromConnection(known(alias), writes));
  }
  if (!("target" in tool.input.shape)) return [];
  if (args.target === undefined) {
    const fallback = list.find((c) => c.default) ?? (list.length === 1 ? list[0] : undefined);
    // No connection at all: nothing to check (some tools, e.g. analysing a stored capture, need none).
    if (fallback === undefined) return [];
    args.target = fallback.alias;
  }
  return [fromConnection(known(String(args.target)), writes)];
}
