/**
 * Docker toolset: docker_ps, docker_logs, docker_op, docker_ip, docker_find_by_ip, docker_networks,
 * docker_cp_from, docker_cp_to. Every command is built with `sh`; container names are validated and
 * passed after `--`; structured output comes from `--format '{{json .}}'` and inspect templates.
 * Works with the docker CLI (against dockerd or podman's API) and with podman's own CLI.
 */
import { z } from "zod";
import { ToolError } from "../errors.ts";
import { joinCommands, sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../ssh/exec.ts";
import { defineTool, type ToolContext, type Toolset } from "./define.ts";
import {
  assertContainerName,
  classifyDockerFailure,
  CONTAINER_NAME,
  type ContainerState,
  dockerFailureHint,
  dockerMessage,
  INSPECT_FORMAT,
  normalizeIp,
  normalizeNetwork,
  normalizePsRow,
  parseInspected,
  parseJsonStream,
  parseProbe,
  parseState,
} from "./docker_parse.ts";
import { newMarker, runScript, splitSections } from "./remote_script.ts";
import { HINTS, remotePath, target, timeoutSeconds } from "./schemas.ts";

/** Input fragment: a validated container name or id. */
export const containerName = z.string().min(1).max(255).regex(
  CONTAINER_NAME,
  "a container name or id: letters, digits, _ . - and not starting with -",
);

/** Input fragment: run docker through sudo. */
export const dockerSudo = z.boolean().optional().describe(
  "Run docker through sudo (sudo_password from connect, else sudo -n) when this user cannot reach the docker socket",
);

// Finds docker where package managers put it, and turns "not installed" into a recognisable line.
const PRELUDE = sh`PATH="$PATH:/usr/local/bin:/usr/bin:/bin:/snap/bin"; export PATH
command -v docker >/dev/null 2>&1 || { echo 'ssh-mcp: docker: command not found' >&2; exit 127; }`;

/** Prefixes a script with the docker lookup (PATH extras, "not installed" detection). */
export function withDockerPrelude(command: ShellCommand): ShellCommand {
  return joinCommands([PRELUDE, command], "\n");
}

/** Options of {@link runDocker}. */
export interface DockerRunOptions {
  /** What the script does, for messages ("list containers"). */
  action: string;
  /** Run through sudo. */
  sudo?: boolean;
  /** Deadline in ms. */
  timeoutMs?: number;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
}

/**
 * Runs a docker script on a connection. A failed docker command becomes a {@link ToolError} whose
 * hint says what to do (install docker, use sudo or the docker group, check the container name).
 */
export async function runDocker(
  ctx: ToolContext,
  targetAlias: string | undefined,
  command: ShellCommand,
  options: DockerRunOptions,
): Promise<ExecResult & { alias: string }> {
  const result = await runScript(ctx, targetAlias, withDockerPrelude(command), {
    action: options.action,
    sudo: options.sudo,
    timeoutMs: options.timeoutMs,
  });
  if (result.exit_code !== 0 && !options.allowFailure) throw dockerError(result, options.action);
  return result;
}

/** The {@link ToolError} for a failed docker command. */
export function dockerError(result: ExecResult & { alias: string }, action: string): ToolError {
  const failure = classifyDockerFailure(result.stderr, result.exit_code);
  const message = failure === "missing"
    ? "docker is not installed"
    : dockerMessage(result.stderr) || `exit ${result.exit_code}`;
  return new ToolError(`Cannot ${action} on "${result.alias}": ${message}`, {
    hint: dockerFailureHint(failure),
  });
}

function deadlineMs(ctx: ToolContext, seconds: number | undefined): number {
  const ms = seconds === undefined ? ctx.limits.commandTimeoutMs : seconds * 1000;
  if (ms > ctx.limits.maxCommandTimeoutMs) {
    throw new RangeError(
      `Cannot use timeout ${seconds} s: the server allows at most ${ctx.limits.maxCommandTimeoutMs / 1000} s`,
    );
  }
  return ms;
}

// ---------------------------------------------------------------------------------------------
// docker_ps

const containerSchema = z.object({
  id: z.string().describe("Short container id"),
  name: z.string().describe("Container name"),
  image: z.string().describe("Image"),
  command: z.string().describe("Command"),
  state: z.string().describe("running, exited, paused, created…"),
  status: z.string().describe('Human status, e.g. "Up 5 minutes"'),
  created: z.string().describe("Creation time"),
  ports: z.array(z.string()).describe("Published or exposed ports"),
  networks: z.array(z.string()).describe("Attached networks"),
  labels: z.record(z.string(), z.string()).describe("Labels"),
});

const dockerPs = defineTool({
  name: "docker_ps",
  title: "List containers",
  description:
    "Lists containers on a connected host (running ones; all: true adds stopped ones) with id, name, image, " +
    "state, status, ports, networks and labels. Use the names with the other docker_* and db_* tools.",
  input: z.object({
    all: z.boolean().optional().describe("Include stopped containers"),
    target,
    sudo: dockerSudo,
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    containers: z.array(containerSchema).describe("Containers"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const result = await runDocker(
      ctx,
      args.target,
      sh`docker ps ${args.all ? ["-a"] : []} --no-trunc --format ${"{{json .}}"}`,
      { action: "list containers", sudo: args.sudo },
    );
    const containers = parseJsonStream(result.stdout).map(normalizePsRow)
      .sort((a, b) => a.name.localeCompare(b.name));
    const lines = containers.map((c) =>
      `${c.name.padEnd(24)} ${c.id} ${c.image.padEnd(28)} ${c.status}${
        c.ports.length ? `  ${c.ports.join(", ")}` : ""
      }`
    );
    const text = containers.length === 0
      ? `No ${args.all ? "" : "running "}containers on ${result.alias}.`
      : `${containers.length} container(s) on ${result.alias}:\n${lines.join("\n")}`;
    return { data: { alias: result.alias, containers }, text };
  },
});

// ---------------------------------------------------------------------------------------------
// docker_logs

const dockerLogs = defineTool({
  name: "docker_logs",
  title: "Container logs",
  description:
    "Returns the last `lines` lines of a container's log with its stdout and stderr kept apart (their " +
    "interleaving is lost; timestamps: true helps to merge). since limits the window (10m, 2h, RFC 3339); " +
    "grep keeps lines matching an extended regular expression, the last `lines` matches of each stream.",
  input: z.object({
    container: containerName.describe("Container name or id (see docker_ps)"),
    lines: z.number().int().min(1).max(10_000).default(100).describe(
      "Last lines of the log (both streams together; with grep: matches per stream), 1–10000",
    ),
    since: z.string().max(64).regex(/^[0-9][0-9A-Za-z:.+-]*$/, "a duration (10m) or a timestamp")
      .optional().describe("Only logs since this duration ago (10m, 1h30m) or timestamp (RFC 3339)"),
    grep: z.string().min(1).max(1000).optional().describe(
      "Extended regular expression (grep -E); only matching lines",
    ),
    timestamps: z.boolean().optional().describe("Prefix each line with its RFC 3339 timestamp"),
    target,
    sudo: dockerSudo,
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    container: z.string().describe("Container"),
    stdout: z.string().describe("The container's standard output lines"),
    stderr: z.string().describe("The container's standard error lines"),
    truncated: z.boolean().describe("Output was cut to the -max-output cap (head and tail kept)"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    assertContainerName(args.container);
    // With grep the whole window is searched (no --tail; podman's CLI does not take "all").
    const options = [
      ...(args.grep === undefined ? ["--tail", String(args.lines)] : []),
      ...(args.since === undefined ? [] : ["--since", args.since]),
      ...(args.timestamps ? ["--timestamps"] : []),
    ];
    const action = `read the logs of "${args.container}"`;
    let stdout: string;
    let stderr: string;
    let truncated: boolean;
    let alias: string;
    if (args.grep === undefined) {
      const { alias: name } = await ctx.connections.get(args.target, ctx.signal);
      const result = await ctx.connections.exec(name, {
        command: withDockerPrelude(sh`docker logs ${options} -- ${args.container}`),
        timeoutMs: Math.min(ctx.limits.commandTimeoutMs, 60_000),
        maxOutputBytes: ctx.limits.maxOutputBytes,
        signal: ctx.signal,
        sudo: args.sudo ? { password: ctx.connections.sudoPasswordOf(name) } : undefined,
      });
      if (result.timed_out || result.cancelled || result.connection_lost || result.sudo_failed) {
        throw new ToolError(`Cannot ${action} on "${result.alias}": the command did not finish`, {
          hint: result.sudo_failed ? "Call `connect` with sudo_password, or retry without sudo." : "Retry.",
        });
      }
      if (result.exit_code !== 0) throw dockerError(result, action);
      ({ stdout, stderr, truncated, alias } = result);
    } else {
      const marker = newMarker();
      const result = await runDocker(
        ctx,
        args.target,
        sh`M=${marker}; P=${args.grep}; N=${args.lines}; C=${args.container}
docker inspect --type container --format '{{.Id}}' -- "$C" >/dev/null || exit
if echo | grep -a '' >/dev/null 2>&1; then GA=-a; else GA=; fi
printf '%s stdout\n' "$M"; docker logs ${options} -- "$C" 2>/dev/null | grep $GA -E -e "$P" | tail -n "$N"
printf '%s stderr\n' "$M"; docker logs ${options} -- "$C" 2>&1 >/dev/null | grep $GA -E -e "$P" | tail -n "$N"
printf '%s end\n' "$M"`,
        { action, sudo: args.sudo },
      );
      const sections = splitSections(result.stdout, marker);
      stdout = withNewline(sections.get("stdout") ?? "");
      stderr = withNewline(sections.get("stderr") ?? "");
      truncated = result.truncated;
      alias = result.alias;
    }
    const data = { alias, container: args.container, stdout, stderr, truncated };
    const text = [
      stdout.replace(/\n$/, ""),
      stderr ? `[stderr]\n${stderr.replace(/\n$/, "")}` : "",
      `[${args.container} on ${alias}${truncated ? " · truncated" : ""}]`,
    ].filter((p) => p !== "").join("\n");
    return { data, text };
  },
});

function withNewline(text: string): string {
  return text === "" || text.endsWith("\n") ? text : text + "\n";
}

// ---------------------------------------------------------------------------------------------
// docker_op

const stateSchema = z.object({
  status: z.string().describe("created, running, paused, restarting, exited, dead"),
  running: z.boolean().describe("Whether it runs"),
  paused: z.boolean().describe("Whether it is paused"),
  exit_code: z.number().nullable().describe("Last exit code"),
  started_at: z.string().nullable().describe("Start time"),
  finished_at: z.string().nullable().describe("Stop time (null while running)"),
  health: z.string().nullable().describe("Health status when the image has a health check"),
});

const ACTIONS = ["start", "stop", "restart", "pause", "unpause", "kill", "remove"] as const;

function opCommand(action: typeof ACTIONS[number], grace: number, force: boolean): ShellCommand {
  switch (action) {
    case "stop":
    case "restart":
      return sh`docker ${action} -t ${grace} -- "$C" >/dev/null || exit`;
    case "remove":
      return sh`docker rm ${force ? ["-f"] : []} -- "$C" >/dev/null || exit`;
    default:
      return sh`docker ${action} -- "$C" >/dev/null || exit`;
  }
}

const dockerOp = defineTool({
  name: "docker_op",
  title: "Start, stop or remove a container",
  description:
    "Runs start, stop, restart, pause, unpause, kill or remove on a container and reports its state " +
    "afterwards (remove: removed: true). stop/restart wait `grace` seconds before killing. remove of a " +
    "running container needs force: true.",
  input: z.object({
    container: containerName.describe("Container name or id (see docker_ps)"),
    action: z.enum(ACTIONS).describe("start | stop | restart | pause | unpause | kill | remove"),
    grace: z.number().int().min(0).max(600).default(10).describe(
      "stop/restart: seconds to wait before SIGKILL",
    ),
    force: z.boolean().optional().describe("remove: also remove a running container"),
    target,
    sudo: dockerSudo,
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    container: z.string().describe("Container"),
    action: z.string().describe("Action performed"),
    removed: z.boolean().describe("The container no longer exists"),
    state: stateSchema.nullable().describe("State after the action (null when removed)"),
  }),
  annotations: HINTS.changeRemote,
  handler: async (args, ctx) => {
    assertContainerName(args.container);
    const marker = newMarker();
    const action = `${args.action} container "${args.container}"`;
    const result = await runDocker(
      ctx,
      args.target,
      sh`M=${marker}; C=${args.container}
${opCommand(args.action, args.grace, args.force === true)}
printf '%s state\n' "$M"
docker inspect --type container --format '{{json .State}}' -- "$C" 2>/dev/null || echo gone`,
      {
        action,
        sudo: args.sudo,
        timeoutMs: Math.min(
          ctx.limits.maxCommandTimeoutMs,
          Math.max(ctx.limits.commandTimeoutMs, (args.grace + 30) * 1000),
        ),
      },
    );
    const raw = (splitSections(result.stdout, marker).get("state") ?? "").trim();
    const removed = raw === "gone" || raw === "";
    const state: ContainerState | null = removed ? null : parseState(parseJsonStream(raw)[0]);
    const data = { alias: result.alias, container: args.container, action: args.action, removed, state };
    const text = removed
      ? `${args.container}: ${args.action} done; the container no longer exists.`
      : `${args.container}: ${args.action} done; now ${state?.status}${
        state?.exit_code && !state.running ? ` (exit ${state.exit_code})` : ""
      }.`;
    return { data, text };
  },
});

// ---------------------------------------------------------------------------------------------
// docker_ip, docker_find_by_ip

const attachmentSchema = z.object({
  network: z.string().describe("Network name"),
  ip: z.string().nullable().describe("IPv4 address"),
  prefix_len: z.number().nullable().describe("IPv4 prefix length"),
  gateway: z.string().nullable().describe("Gateway"),
  ipv6: z.string().nullable().describe("Global IPv6 address"),
  mac: z.string().nullable().describe("MAC address"),
});

const dockerIp = defineTool({
  name: "docker_ip",
  title: "Container IP addresses",
  description:
    "Returns a container's IP address (first network) and every network attachment with IPv4, prefix, " +
    "gateway, IPv6 and MAC. A stopped container or one in host network mode has no own address (ip: null).",
  input: z.object({
    container: containerName.describe("Container name or id (see docker_ps)"),
    target,
    sudo: dockerSudo,
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    container: z.string().describe("Container name"),
    id: z.string().describe("Short container id"),
    ip: z.string().nullable().describe("Primary IPv4 address (null when none)"),
    network_mode: z.string().describe("bridge, host, none, container:… or a network name"),
    running: z.boolean().describe("Whether the container runs"),
    networks: z.array(attachmentSchema).describe("Network attachments"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    assertContainerName(args.container);
    const result = await runDocker(
      ctx,
      args.target,
      sh`docker inspect --type container --format ${INSPECT_FORMAT} -- ${args.container}`,
      { action: `inspect container "${args.container}"`, sudo: args.sudo },
    );
    const raw = parseJsonStream(result.stdout)[0];
    if (raw === undefined) {
      throw new ToolError(`Cannot read the addresses of "${args.container}": docker printed nothing`);
    }
    const c = parseInspected(raw);
    const ip = c.networks.find((n) => n.ip !== null)?.ip ?? null;
    const data = {
      alias: result.alias,
      container: c.name,
      id: c.id.slice(0, 12),
      ip,
      network_mode: c.network_mode,
      running: c.state.running,
      networks: c.networks,
    };
    const text = ip === null
      ? `${c.name} has no IP address (${c.state.running ? `network mode ${c.network_mode}` : "not running"}).`
      : `${c.name}: ${ip}\n${
        c.networks.map((n) => `  ${n.network}: ${n.ip ?? "-"}/${n.prefix_len ?? ""}`).join("\n")
      }`;
    return { data, text };
  },
});

// Inspects every running container in one call (the id list is the shell's own word splitting).
const INSPECT_RUNNING = sh`ids=$(docker ps -q --no-trunc) || exit
[ -z "$ids" ] && exit 0
docker inspect --type container --format "$F" $ids`;

const dockerFindByIp = defineTool({
  name: "docker_find_by_ip",
  title: "Find a container by IP",
  description:
    "Finds the running container(s) that own an IPv4 or IPv6 address on any docker network, e.g. to name " +
    "the peer seen in a log line or a packet capture.",
  input: z.object({
    ip: z.string().min(2).max(45).describe("IPv4 or IPv6 address, e.g. 172.17.0.3"),
    target,
    sudo: dockerSudo,
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    ip: z.string().describe("Address searched"),
    matches: z.array(z.object({
      id: z.string().describe("Short container id"),
      name: z.string().describe("Container name"),
      image: z.string().describe("Image"),
      network: z.string().describe("Network on which it has the address"),
    })).describe("Containers with this address (empty when none)"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const ip = normalizeIp(args.ip);
    const result = await runDocker(
      ctx,
      args.target,
      joinCommands([sh`F=${INSPECT_FORMAT}`, INSPECT_RUNNING], "\n"),
      { action: "inspect the running containers", sudo: args.sudo },
    );
    const matches = [];
    for (const c of parseJsonStream(result.stdout).map(parseInspected)) {
      for (const n of c.networks) {
        if (n.ip === ip || n.ipv6?.toLowerCase() === ip) {
          matches.push({ id: c.id.slice(0, 12), name: c.name, image: c.image, network: n.network });
        }
      }
    }
    const text = matches.length === 0
      ? `No running container on ${result.alias} has ${ip}.`
      : matches.map((m) => `${ip} is ${m.name} (${m.id}, ${m.image}) on ${m.network}`).join("\n");
    return { data: { alias: result.alias, ip, matches }, text };
  },
});

// ---------------------------------------------------------------------------------------------
// docker_networks

const dockerNetworks = defineTool({
  name: "docker_networks",
  title: "List docker networks",
  description:
    "Lists docker networks with driver, scope, subnets and gateways, and the containers attached to each " +
    "with their addresses.",
  input: z.object({ target, sudo: dockerSudo }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    networks: z.array(z.object({
      name: z.string().describe("Network name"),
      id: z.string().describe("Short network id"),
      driver: z.string().describe("bridge, host, macvlan, overlay…"),
      scope: z.string().describe("local, swarm, global"),
      internal: z.boolean().describe("No outside connectivity"),
      subnets: z.array(z.object({
        subnet: z.string().describe("CIDR"),
        gateway: z.string().nullable().describe("Gateway"),
      })).describe("IPAM subnets"),
      containers: z.array(z.object({
        id: z.string().describe("Short container id"),
        name: z.string().describe("Container name"),
        ipv4: z.string().nullable().describe("IPv4 address"),
        ipv6: z.string().nullable().describe("IPv6 address"),
        mac: z.string().nullable().describe("MAC address"),
      })).describe("Attached containers"),
    })).describe("Networks"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const result = await runDocker(
      ctx,
      args.target,
      sh`ids=$(docker network ls -q --no-trunc) || exit
[ -z "$ids" ] && exit 0
docker network inspect $ids`,
      { action: "list networks", sudo: args.sudo },
    );
    const networks = parseJsonStream(result.stdout).map(normalizeNetwork)
      .sort((a, b) => a.name.localeCompare(b.name));
    const text = networks.map((n) =>
      `${n.name} (${n.driver}, ${n.subnets.map((s) => s.subnet).join(", ") || "no subnet"})${
        n.containers.map((c) => `\n  ${c.name} ${c.ipv4 ?? ""}`).join("")
      }`
    ).join("\n");
    return { data: { alias: result.alias, networks }, text: text || "No networks." };
  },
});

// ---------------------------------------------------------------------------------------------
// docker_cp_from, docker_cp_to

/** A host path operand that docker cp cannot mistake for `container:path` or an option. */
function hostPathAssignment(path: string): ShellCommand {
  if (path === "~") return sh`H="$HOME"`;
  if (path.startsWith("~/")) return sh`H="$HOME"/${path.slice(2)}`;
  return sh`H=${path.startsWith("/") ? path : `./${path}`}`;
}

// probe (host) and cprobe (container, through docker cp's tar stream, so the container needs no
// tools and may be stopped) print `file <bytes> <sha256>`, `dir <files> <bytes>` or `missing`.
// Sizes come from `wc -c` and tar's listing; only a file's sha256 reads the data a second time.
const HOST_PROBE = sh`probe() {
  if [ -d "$1" ]; then printf 'dir %s\n' "$(find "$1" -type f -exec wc -c {} + | awk '$2 != "total" {n++; s+=$1} END {printf "%d %d", n, s}')"
  elif [ -f "$1" ]; then printf 'file %s %s\n' "$(wc -c < "$1")" "$(sha256sum < "$1" 2>/dev/null | cut -c1-64)"
  else echo missing; fi
}
cprobe() {
  l=$(docker cp -- "$C:$1" - 2>/dev/null | tar -tvf - 2>/dev/null)
  case "$l" in
    d*) printf 'dir %s\n' "$(printf '%s\n' "$l" | awk '$1 ~ /^-/ {n++; s+=$3} END {printf "%d %d", n, s}')" ;;
    -*) printf 'file %s %s\n' "$(printf '%s\n' "$l" | awk 'NR == 1 {print $3}')" \
          "$(docker cp -- "$C:$1" - | tar -xOf - | sha256sum 2>/dev/null | cut -c1-64)" ;;
    *) echo missing ;;
  esac
}`;

const copyOutput = z.object({
  alias: z.string().describe("Connection used"),
  container: z.string().describe("Container"),
  source: z.string().describe("Path copied from"),
  destination: z.string().describe("Resulting path (inside a directory destination when it existed)"),
  type: z.enum(["file", "directory"]).describe("What was copied"),
  bytes: z.number().nullable().describe("Bytes at the destination (directories: sum of regular files)"),
  files: z.number().nullable().describe("Regular files (directories only)"),
  sha256: z.string().nullable().describe("sha256 of a copied file"),
  verified: z.boolean().describe("Source and destination sizes (and sha256 for files) match"),
});

function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  return trimmed.slice(trimmed.lastIndexOf("/") + 1) || "/";
}

function copyResult(
  result: ExecResult & { alias: string },
  marker: string,
  meta: { container: string; source: string; direction: string },
) {
  const sections = splitSections(result.stdout, marker);
  const src = parseProbe(sections.get("src") ?? "missing");
  const dst = parseProbe(sections.get("dst") ?? "missing");
  const destination = (sections.get("path") ?? "").trim();
  if (dst.type === "missing") {
    throw new ToolError(
      `Cannot verify the copy ${meta.direction}: nothing found at "${destination}" afterwards`,
      {
        hint: "Check the paths (a destination inside a missing directory fails) and retry.",
      },
    );
  }
  const verified = src.type === dst.type && src.bytes === dst.bytes && src.files === dst.files &&
    (src.sha256 === null || dst.sha256 === null || src.sha256 === dst.sha256);
  const data = {
    alias: result.alias,
    container: meta.container,
    source: meta.source,
    destination,
    type: dst.type,
    bytes: dst.bytes,
    files: dst.files,
    sha256: dst.sha256,
    verified,
  };
  const text = `Copied ${meta.direction}: ${meta.source} → ${destination} (${dst.type}, ${dst.bytes} bytes${
    dst.files === null ? "" : `, ${dst.files} files`
  }) · ${verified ? "verified" : `NOT verified: source ${src.bytes} bytes, destination ${dst.bytes} bytes`}`;
  return { data, text, isError: !verified };
}

const dockerCpFrom = defineTool({
  name: "docker_cp_from",
  title: "Copy out of a container",
  description:
    "Copies a file or directory from a container to a path on the SSH host (docker cp, binary-safe) and " +
    "verifies size (and sha256 for a file) on both sides. An existing host directory receives the item " +
    "inside it. Use `read` or `sync` afterwards to bring it further.",
  input: z.object({
    container: containerName.describe("Container name or id (see docker_ps)"),
    container_path: remotePath.describe("Path inside the container (absolute, or relative to its workdir)"),
    host_path: remotePath.describe("Destination on the SSH host (relative to the home directory; ~ allowed)"),
    timeout: timeoutSeconds,
    target,
    sudo: dockerSudo,
  }),
  output: copyOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    assertContainerName(args.container);
    const marker = newMarker();
    const into = args.container_path.endsWith("/.") ? "" : basename(args.container_path);
    const result = await runDocker(
      ctx,
      args.target,
      sh`M=${marker}; C=${args.container}; S=${args.container_path}; B=${into}; ${
        hostPathAssignment(args.host_path)
      }
${HOST_PROBE}
if [ -d "$H" ] && [ -n "$B" ]; then R="$H/$B"; else R="$H"; fi
docker cp -- "$C:$S" "$H" || exit
printf '%s path\n%s\n' "$M" "$R"
printf '%s dst\n' "$M"; probe "$R"
printf '%s src\n' "$M"; cprobe "$S"`,
      {
        action: `copy "${args.container_path}" out of "${args.container}"`,
        sudo: args.sudo,
        timeoutMs: deadlineMs(ctx, args.timeout),
      },
    );
    return copyResult(result, marker, {
      container: args.container,
      source: `${args.container}:${args.container_path}`,
      direction: "from the container",
    });
  },
});

const dockerCpTo = defineTool({
  name: "docker_cp_to",
  title: "Copy into a container",
  description:
    "Copies a file or directory from a path on the SSH host into a container (docker cp, binary-safe) and " +
    "verifies size (and sha256 for a file) on both sides. An existing container directory receives the " +
    "item inside it. Put the file on the host first with `write` or `sync`.",
  input: z.object({
    container: containerName.describe("Container name or id (see docker_ps)"),
    host_path: remotePath.describe("Source on the SSH host (relative to the home directory; ~ allowed)"),
    container_path: remotePath.describe("Destination inside the container"),
    timeout: timeoutSeconds,
    target,
    sudo: dockerSudo,
  }),
  output: copyOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    assertContainerName(args.container);
    const marker = newMarker();
    const result = await runDocker(
      ctx,
      args.target,
      sh`M=${marker}; C=${args.container}; D=${args.container_path}; ${hostPathAssignment(args.host_path)}
${HOST_PROBE}
[ -e "$H" ] || { echo "ssh-mcp: no such file or directory on the host: $H" >&2; exit 2; }
B=$(basename -- "$H")
case "$H" in */.) B= ;; esac
if [ -n "$B" ] && [ "$(docker cp -- "$C:$D" - 2>/dev/null | head -c 4096 | tar -tvf - 2>/dev/null | head -n 1 | cut -c1)" = d ]; then
  R="$D/$B"; else R="$D"; fi
docker cp -- "$H" "$C:$D" || exit
printf '%s path\n%s\n' "$M" "$R"
printf '%s src\n' "$M"; probe "$H"
printf '%s dst\n' "$M"; cprobe "$R"`,
      {
        action: `copy "${args.host_path}" into "${args.container}"`,
        sudo: args.sudo,
        timeoutMs: deadlineMs(ctx, args.timeout),
      },
    );
    return copyResult(result, marker, {
      container: args.container,
      source: args.host_path,
      direction: "into the container",
    });
  },
});

/** The docker toolset. */
export const DOCKER: Toolset = {
  name: "docker",
  tools: [dockerPs, dockerLogs, dockerOp, dockerIp, dockerFindByIp, dockerNetworks, dockerCpFrom, dockerCpTo],
};
