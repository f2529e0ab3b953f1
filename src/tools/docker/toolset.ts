/**
 * Docker toolset: docker_ps, docker_logs, docker_op, docker_ip, docker_find_by_ip, docker_networks,
 * docker_cp_from, docker_cp_to (those two in `docker_copy.ts`; shared helpers in `docker_run.ts`).
 * Every command is built with `sh`; container names are validated and passed after `--`; structured
 * output comes from `--format '{{json .}}'` and inspect templates. Works with the docker CLI (against
 * dockerd or podman's API) and with podman's own CLI.
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { joinCommands, sh, type ShellCommand } from "../../shell/sh.ts";
import { defineTool, type Toolset } from "../define.ts";
import { dockerCpFrom, dockerCpTo } from "./copy.ts";
import {
  assertContainerName,
  type ContainerState,
  INSPECT_FORMAT,
  normalizeIp,
  normalizeNetwork,
  normalizePsRow,
  parseInspected,
  parseJsonStream,
  parseState,
} from "./parse.ts";
import { containerName, dockerError, dockerSudo, runDocker, withDockerPrelude } from "./run.ts";
import { newMarker, splitSections } from "../remote.ts";
import { HINTS, target } from "../schemas.ts";

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
      const result = await ctx.connections.exec(args.target, {
        command: withDockerPrelude(sh`docker logs ${options} -- ${args.container}`),
        timeoutMs: Math.min(ctx.limits.commandTimeoutMs, 60_000),
        maxOutputBytes: ctx.limits.maxOutputBytes,
        signal: ctx.signal,
        sudo: args.sudo,
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
// A container that stops between `docker ps` and `docker inspect` fails the whole inspect: list again and
// retry (twice, quietly), so that other containers coming and going do not fail the call.
export const INSPECT_RUNNING = sh`for attempt in 1 2 3; do
  ids=$(docker ps -q --no-trunc) || exit
  [ -z "$ids" ] && exit 0
  if [ "$attempt" -lt 3 ]; then
    out=$(docker inspect --type container --format "$F" $ids 2>/dev/null) && { printf '%s\n' "$out"; exit 0; }
  else
    docker inspect --type container --format "$F" $ids
  fi
done`;

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

/** The docker toolset. */
export const DOCKER: Toolset = {
  name: "docker",
  tools: [dockerPs, dockerLogs, dockerOp, dockerIp, dockerFindByIp, dockerNetworks, dockerCpFrom, dockerCpTo],
};
