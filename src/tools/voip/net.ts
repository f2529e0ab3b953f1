/**
 * VoIP toolset, host side: voip_discover_containers (docker/podman containers and host processes of
 * SIP/RTP software, recognised by image, command, name and ports) and voip_network_diagnostics (DNS,
 * ping, traceroute/tracepath and TCP/UDP port checks from the remote host, UDP with a SIP OPTIONS
 * probe). One remote script per call; every program is optional and its absence is reported.
 */
import { z } from "zod";
import { joinCommands, sh, type ShellCommand } from "../../shell/sh.ts";
import { defineTool } from "../define.ts";
import { dockerError } from "../docker/run.ts";
import { normalizePsRow } from "../docker/parse.ts";
import { newMarker, runScript, runSections, sectionedScript, splitSections } from "../remote.ts";
import { HINTS, notes as sourceNotes, target } from "../schemas.ts";
import {
  classifyVoipContainer,
  parsePing,
  parsePortChecks,
  parseRoute,
  parseVoipProcesses,
  sipOptionsProbe,
} from "./net_parse.ts";
import { assertHost, isHost } from "./parse.ts";

const notes = sourceNotes.describe("Missing programs or sources, and what that means for the result");

// ---------------------------------------------------------------------------------------------
// voip_discover_containers

const RC_LINE = /^ssh-mcp-rc=(\d+)$/m;

export const VOIP_DISCOVER_CONTAINERS = defineTool({
  name: "voip_discover_containers",
  title: "Find VoIP containers",
  description:
    "Finds SIP/RTP software in docker or podman containers (Asterisk, FreeSWITCH, Kamailio, OpenSIPS, " +
    "rtpengine, rtpproxy, drachtio, Homer…) by image, command, name and ports (5060, RTP ranges, AMI/ESL), " +
    "with the evidence, plus matching processes on the host. Says so when docker is not installed. Use the " +
    "names as `container` in the capture tools.",
  input: z.object({
    all: z.boolean().optional().describe("Include stopped containers"),
    target,
    sudo: z.boolean().optional().describe(
      "Run through sudo (sudo_password from connect, else sudo -n) when this user cannot reach the docker socket",
    ),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    docker: z.enum(["available", "missing"]).describe("Whether a docker CLI was found"),
    examined: z.number().int().describe("Containers looked at"),
    containers: z.array(z.object({
      id: z.string().describe("Short container id"),
      name: z.string().describe("Container name (use as `container`)"),
      image: z.string().describe("Image"),
      state: z.string().describe("running, exited, …"),
      status: z.string().describe("Human status"),
      ports: z.array(z.string()).describe("Published or exposed ports"),
      kind: z.string().describe(
        'Recognised software, e.g. "asterisk"; "sip_unknown" when only ports suggest VoIP',
      ),
      role: z.string().describe("pbx, sip_proxy, media_relay, … (unknown for sip_unknown)"),
      confidence: z.enum(["high", "medium", "low"]).describe(
        "high: image or command names it; medium: only the container name; low: only ports",
      ),
      evidence: z.array(z.string()).describe("The clues, one per line"),
    })).describe("Containers that look like VoIP software"),
    host_processes: z.array(z.object({
      pid: z.number().int().describe("Process id"),
      name: z.string().describe("Command name"),
      kind: z.string().describe("Recognised software"),
      command: z.string().describe("Command line (first 300 characters)"),
    })).describe("VoIP processes visible on the host (processes inside containers included)"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { result, sections } = await runSections(
      ctx,
      args.target,
      sh`PATH="$PATH:/usr/local/bin:/snap/bin"; export PATH
s ps; ps -eo pid=,comm=,args= 2>/dev/null
if command -v docker >/dev/null 2>&1; then
  s docker; docker ps ${args.all ? ["-a"] : []} --no-trunc --format ${"{{json .}}"} 2>&1; echo "ssh-mcp-rc=$?"
else s nodocker
fi
s end`,
      { action: "list VoIP containers", sudo: args.sudo },
    );
    const processes = parseVoipProcesses(sections.get("ps") ?? "");
    const out: string[] = [];
    if (!sections.has("docker")) {
      out.push("docker is not installed on this host (no docker CLI on PATH): no containers to examine");
      const data = {
        alias: result.alias,
        docker: "missing" as const,
        examined: 0,
        containers: [],
        host_processes: processes,
        notes: out,
      };
      return { data, text: discoverText(data) };
    }
    const text = sections.get("docker") ?? "";
    const rc = Number(RC_LINE.exec(text)?.[1] ?? "1");
    const lines = text.split("\n").filter((l) => !RC_LINE.test(l));
    if (rc !== 0) {
      const message = lines.join("\n");
      throw dockerError({ ...result, stderr: message, exit_code: rc }, "list VoIP containers");
    }
    const rows = lines.filter((l) => l.startsWith("{")).flatMap((l) => {
      try {
        return [normalizePsRow(JSON.parse(l))];
      } catch {
        return [];
      }
    });
    const containers = rows.flatMap((c) => {
      const match = classifyVoipContainer(c);
      return match === undefined ? [] : [{
        id: c.id,
        name: c.name,
        image: c.image,
        state: c.state,
        status: c.status,
        ports: c.ports,
        ...match,
      }];
    });
    const data = {
      alias: result.alias,
      docker: "available" as const,
      examined: rows.length,
      containers,
      host_processes: processes,
      notes: out,
    };
    return { data, text: discoverText(data) };
  },
});

function discoverText(d: {
  alias: string;
  docker: string;
  examined: number;
  containers: {
    name: string;
    image: string;
    state: string;
    kind: string;
    confidence: string;
    evidence: string[];
  }[];
  host_processes: { pid: number; kind: string; command: string }[];
  notes: string[];
}): string {
  const lines = [
    `VoIP discovery on ${d.alias}: ${d.containers.length} of ${d.examined} container(s) look like VoIP`,
  ];
  for (const c of d.containers) {
    lines.push(
      `${c.name} (${c.image}, ${c.state}): ${c.kind}, ${c.confidence} confidence — ${c.evidence.join("; ")}`,
    );
  }
  if (d.host_processes.length > 0) {
    lines.push("Host processes:", ...d.host_processes.map((p) => `  ${p.pid} ${p.kind}: ${p.command}`));
  }
  lines.push(...d.notes);
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// voip_network_diagnostics

const portArg = z.number().int().min(1).max(65535);

/** The diagnostics script; exported for tests. */
export function diagnosticsScript(
  host: string,
  tcpPorts: readonly number[],
  udpPorts: readonly number[],
  marker: string,
): ShellCommand {
  assertHost(host);
  const parts: ShellCommand[] = [
    sectionedScript(
      marker,
      sh`PATH="$PATH:/usr/local/sbin:/usr/local/bin"; export PATH
TO=; if command -v timeout >/dev/null 2>&1; then TO=timeout; fi
b() { if [ -n "$TO" ]; then timeout "$@"; else shift; "$@"; fi; }
one() { printf '%s' "$1" | tr '\r\n' '  ' | head -c 300; }
s resolve
if command -v getent >/dev/null 2>&1; then getent ahosts "$H" 2>/dev/null | while read -r a rest; do echo "$a"; done | uniq | head -n 10; fi
s ping
if command -v ping >/dev/null 2>&1; then b 15 ping -n -c 3 -W 2 -- "$H" 2>&1; echo "ssh-mcp-rc=$?"; else echo unavailable; fi
s route
if command -v traceroute >/dev/null 2>&1; then echo tool=traceroute; b 30 traceroute -n -w 1 -q 1 -m 15 "$H" 2>&1
elif command -v tracepath >/dev/null 2>&1; then echo tool=tracepath; b 30 tracepath -n -m 15 "$H" 2>&1
else echo unavailable; fi
s ports`,
      { vars: sh`H=${host}; PROBE=${sipOptionsProbe(host)}` },
    ),
  ];
  if (tcpPorts.length > 0) {
    parts.push(sh`for p in ${tcpPorts.map(String)}; do
  if command -v bash >/dev/null 2>&1; then
    out=$(b 4 bash -c 'exec 3<>"/dev/tcp/$1/$2"' ssh-mcp "$H" "$p" 2>&1); rc=$?; m=bash
  elif command -v nc >/dev/null 2>&1; then
    out=$(b 4 nc -z -w 3 "$H" "$p" 2>&1); rc=$?; m=nc
  else out=; rc=-; m=none; fi
  printf 'tcp %s %s %s %s\n' "$p" "$m" "$rc" "$(one "$out")"
done`);
  }
  if (udpPorts.length > 0) {
    // One datagram each way: the probe is written by cat from a file (printf writes piecemeal) and the
    // reply read by one dd read (bash's read takes a byte per read, which would drop the rest).
    parts.push(sh`PF=$(mktemp 2>/dev/null) || PF=/tmp/ssh-mcp-probe.$$
printf '%s' "$PROBE" >"$PF"
for p in ${udpPorts.map(String)}; do
  if command -v bash >/dev/null 2>&1; then
    out=$(b 4 bash -c 'exec 3<>"/dev/udp/$1/$2" || exit 3; cat "$3" >&3 || exit 4; dd bs=65535 count=1 <&3 2>&1 | head -n 1' ssh-mcp "$H" "$p" "$PF" 2>&1); rc=$?; m=bash
  elif command -v nc >/dev/null 2>&1; then
    out=$(b 4 nc -z -u -w 2 "$H" "$p" 2>&1); rc=$?; m=nc
  else out=; rc=-; m=none; fi
  printf 'udp %s %s %s %s\n' "$p" "$m" "$rc" "$(one "$out")"
done
rm -f "$PF"`);
  }
  parts.push(sh`s end`);
  return joinCommands(parts, "\n");
}

export const VOIP_NETWORK_DIAGNOSTICS = defineTool({
  name: "voip_network_diagnostics",
  title: "Network path checks for VoIP",
  description:
    "From the remote host: resolves a host, pings it (3 echoes), traces the route (traceroute or tracepath, " +
    "15 hops) and checks ports — TCP by connecting, UDP by sending a SIP OPTIONS (a reply proves a SIP " +
    "service, ICMP unreachable means closed, silence is open|filtered). Missing tools are reported.",
  input: z.object({
    host: z.string().min(1).max(253).refine(isHost, "a host name or an IPv4/IPv6 address").describe(
      "Host name or IP address to check (e.g. the SIP trunk or registrar)",
    ),
    ports: z.array(portArg).max(20).default([5060]).describe("Ports to check (default [5060], at most 20)"),
    protocols: z.array(z.enum(["tcp", "udp"])).min(1).max(2).default(["udp", "tcp"]).describe(
      'Protocols to check each port with (default ["udp", "tcp"])',
    ),
    target,
  }),
  output: z.object({
    alias: z.string().describe("Connection the checks ran from"),
    host: z.string().describe("Host checked"),
    resolved: z.array(z.string()).describe("Addresses the host resolved to (getent ahosts; empty if none)"),
    ping: z.object({
      available: z.boolean().describe("ping is installed"),
      transmitted: z.number().int().nullable().describe("Echo requests sent"),
      received: z.number().int().nullable().describe("Replies received"),
      loss_percent: z.number().nullable().describe("Loss in percent"),
      rtt_min_ms: z.number().nullable().describe("Fastest round trip, ms"),
      rtt_avg_ms: z.number().nullable().describe("Mean round trip, ms"),
      rtt_max_ms: z.number().nullable().describe("Slowest round trip, ms"),
      output: z.string().describe("Last lines of ping's output"),
    }).describe("ICMP echo"),
    route: z.object({
      tool: z.enum(["traceroute", "tracepath"]).nullable().describe("Program used (null: neither installed)"),
      hops: z.array(z.object({
        hop: z.number().int().describe("Hop number"),
        address: z.string().nullable().describe("Router that answered (null: no answer)"),
        rtt_ms: z.number().nullable().describe("Round trip, ms"),
      })).describe("Hops in order"),
      reached: z.boolean().nullable().describe("The last hop is the host (null: unknown)"),
    }).describe("Route to the host"),
    ports: z.array(z.object({
      port: z.number().int().describe("Port"),
      protocol: z.enum(["tcp", "udp"]).describe("Protocol"),
      state: z.enum(["open", "closed", "timeout", "open|filtered", "unknown"]).describe(
        "open: connected (TCP) or a SIP reply (UDP); closed: refused / ICMP unreachable; timeout: no TCP " +
          "answer; open|filtered: UDP silence; unknown: no checker available",
      ),
      sip_response: z.string().nullable().describe("Status line of the SIP reply to OPTIONS (UDP)"),
      method: z.enum(["bash", "nc", "none"]).describe("How it was checked"),
      detail: z.string().describe("What the checker said"),
    })).describe("Port checks"),
    notes,
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const ports = [...new Set(args.ports)];
    const protocols = new Set(args.protocols);
    const marker = newMarker();
    const command = diagnosticsScript(
      args.host,
      protocols.has("tcp") ? ports : [],
      protocols.has("udp") ? ports : [],
      marker,
    );
    const result = await runScript(ctx, args.target, command, {
      action: `check the network path to ${args.host}`,
    });
    const sections = splitSections(result.stdout, marker);
    const notesOut: string[] = [];
    const resolved = (sections.get("resolve") ?? "").split("\n").map((l) => l.trim()).filter((l) => l !== "");
    if (resolved.length === 0 && !/^[\d.:A-Fa-f]+$/.test(args.host)) {
      notesOut.push(`${args.host} did not resolve`);
    }
    const pingText = sections.get("ping") ?? "unavailable";
    const pingAvailable = pingText.trim() !== "unavailable";
    if (!pingAvailable) notesOut.push("ping is not installed (iputils-ping or busybox): no ICMP check");
    const routeText = sections.get("route") ?? "unavailable";
    const tool = /^tool=(traceroute|tracepath)$/m.exec(routeText)?.[1] as
      | "traceroute"
      | "tracepath"
      | undefined;
    if (tool === undefined) notesOut.push("neither traceroute nor tracepath is installed: no route");
    const hops = tool === undefined ? [] : parseRoute(routeText.replace(/^tool=.*$/m, ""));
    const last = hops.at(-1)?.address ?? null;
    const targets = new Set([args.host, ...resolved]);
    const checks = parsePortChecks(sections.get("ports") ?? "");
    if (checks.some((c) => c.method === "none")) {
      notesOut.push("neither bash nor nc is available: ports unchecked");
    }
    const data = {
      alias: result.alias,
      host: args.host,
      resolved,
      ping: {
        available: pingAvailable,
        ...parsePing(pingText),
        output: pingAvailable
          ? pingText.replace(/^ssh-mcp-rc=\d+$/m, "").trim().split("\n").slice(-4).join("\n")
          : "",
      },
      route: {
        tool: tool ?? null,
        hops,
        reached: tool === undefined ? null : last !== null && targets.has(last),
      },
      ports: checks,
      notes: notesOut,
    };
    return { data, text: diagnosticsText(data) };
  },
});

function diagnosticsText(d: {
  alias: string;
  host: string;
  resolved: string[];
  ping: ReturnType<typeof parsePing> & { available: boolean };
  route: { tool: string | null; hops: { hop: number; address: string | null; rtt_ms: number | null }[] };
  ports: ReturnType<typeof parsePortChecks>;
  notes: string[];
}): string {
  const lines = [
    `Network checks from ${d.alias} to ${d.host}${d.resolved.length ? ` (${d.resolved.join(", ")})` : ""}:`,
  ];
  if (d.ping.available) {
    lines.push(
      `ping: ${d.ping.received ?? "?"}/${d.ping.transmitted ?? "?"} replies, ${
        d.ping.loss_percent ?? "?"
      }% loss` +
        (d.ping.rtt_avg_ms !== null ? `, rtt avg ${d.ping.rtt_avg_ms} ms (max ${d.ping.rtt_max_ms})` : ""),
    );
  }
  if (d.route.tool) {
    lines.push(`${d.route.tool}: ${d.route.hops.map((h) => `${h.hop} ${h.address ?? "*"}`).join(" → ")}`);
  }
  for (const p of d.ports) {
    lines.push(`${p.protocol}/${p.port}: ${p.state}${p.sip_response ? ` (${p.sip_response})` : ""}`);
  }
  lines.push(...d.notes);
  return lines.join("\n");
}
