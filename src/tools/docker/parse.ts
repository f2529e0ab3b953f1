/**
 * Pure parsers for the docker toolset: `--format '{{json .}}'` streams from the docker CLI and from
 * podman's own CLI (which prints a JSON array with other field shapes), `inspect` templates, network
 * inspection, `cp` probes, and the classification of docker failures into advice. No I/O.
 */

/** Container names as docker accepts them; ids (12–64 hex) match too. Never starts with `-`. */
export const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * Throws a `TypeError` unless `name` is a plausible container name or id (defence in depth: the
 * input schemas check the same pattern before a handler runs).
 *
 * @example
 * ```ts
 * assertContainerName("web-1"); // ok
 * assertContainerName("-rf");   // throws TypeError
 * ```
 */
export function assertContainerName(name: string): void {
  if (name.length > 255 || !CONTAINER_NAME.test(name)) {
    throw new TypeError(
      `Cannot use container "${name.slice(0, 80)}": a name or id is letters, digits, "_", "." or "-", ` +
        "not starting with - (see docker_ps for the names)",
    );
  }
}

/** One container as `docker_ps` reports it, whichever CLI produced the row. */
export interface ContainerSummary {
  /** Short id (12 hex digits). */
  id: string;
  /** Primary name. */
  name: string;
  /** Image reference. */
  image: string;
  /** Command line. */
  command: string;
  /** created, running, paused, restarting, exited, dead… */
  state: string;
  /** Human status, e.g. "Up 5 minutes". */
  status: string;
  /** Creation time (ISO 8601 when the CLI gives a timestamp, else its text). */
  created: string;
  /** Published or exposed ports, e.g. "0.0.0.0:8080->80/tcp". */
  ports: string[];
  /** Networks the container is attached to. */
  networks: string[];
  /** Labels. */
  labels: Record<string, string>;
}

/**
 * Parses `--format '{{json .}}'` output: one JSON object per line (docker CLI) or a JSON array
 * (podman CLI). Lines that are not JSON are skipped.
 */
export function parseJsonStream(text: string): Record<string, unknown>[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  if (trimmed.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return parsed.filter(isRecord);
    } catch {
      // fall through: maybe one array per line
    }
  }
  const out: Record<string, unknown>[] = [];
  for (const line of trimmed.split("\n")) {
    const l = line.trim();
    if (!l.startsWith("{") && !l.startsWith("[")) continue;
    try {
      const parsed: unknown = JSON.parse(l);
      if (Array.isArray(parsed)) out.push(...parsed.filter(isRecord));
      else if (isRecord(parsed)) out.push(parsed);
    } catch {
      // not JSON: a warning line
    }
  }
  return out;
}

/** Docker's comma-joined "k=v,k2=v2" label text, where values may themselves contain commas. */
export function parseLabelText(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let last: string | undefined;
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) {
      last = part.slice(0, eq);
      labels[last] = part.slice(eq + 1);
    } else if (last !== undefined) labels[last] += `,${part}`;
  }
  return labels;
}

/** Normalises one `ps` row from the docker CLI or podman's CLI. */
export function normalizePsRow(row: Record<string, unknown>): ContainerSummary {
  const names = Array.isArray(row.Names)
    ? row.Names.map(String)
    : str(row.Names).split(",").filter((n) => n !== "");
  const command = Array.isArray(row.Command)
    ? row.Command.map(String).join(" ")
    : str(row.Command).replace(/^"(.*)"$/s, "$1");
  let ports: string[];
  if (Array.isArray(row.Ports)) {
    ports = row.Ports.filter(isRecord).map((p) => {
      const proto = str(p.protocol) || "tcp";
      const inner = `${p.container_port}/${proto}`;
      return p.host_port ? `${str(p.host_ip) || "0.0.0.0"}:${p.host_port}->${inner}` : inner;
    });
  } else ports = str(row.Ports).split(/,\s*/).filter((p) => p !== "");
  const labels = isRecord(row.Labels)
    ? Object.fromEntries(Object.entries(row.Labels).map(([k, v]) => [k, String(v)]))
    : parseLabelText(str(row.Labels));
  const networks = Array.isArray(row.Networks)
    ? row.Networks.map(String)
    : str(row.Networks).split(",").filter((n) => n !== "");
  const created = typeof row.Created === "number" && row.Created > 0
    ? new Date(row.Created * 1000).toISOString()
    : str(row.CreatedAt);
  return {
    id: str(row.ID ?? row.Id).slice(0, 12),
    name: names[0] ?? "",
    image: str(row.Image),
    command,
    state: str(row.State).toLowerCase(),
    status: str(row.Status),
    created,
    ports,
    networks,
    labels,
  };
}

/**
 * A `docker inspect` template that prints one JSON object per container. Only top-level objects that
 * always exist are named: the docker CLI fails on a missing map key (e.g. `.Config.ExposedPorts`).
 */
export const INSPECT_FORMAT = '{"id":{{json .Id}},"name":{{json .Name}},"state":{{json .State}},' +
  '"config":{{json .Config}},"host":{{json .HostConfig}},"net":{{json .NetworkSettings}}}';

/** One network attachment of a container. */
export interface NetworkAttachment {
  /** Network name. */
  network: string;
  /** IPv4 address, or null. */
  ip: string | null;
  /** IPv4 prefix length, or null. */
  prefix_len: number | null;
  /** Gateway, or null. */
  gateway: string | null;
  /** Global IPv6 address, or null. */
  ipv6: string | null;
  /** MAC address, or null. */
  mac: string | null;
}

/** State after an operation, from `.State`. */
export interface ContainerState {
  /** created, running, paused, restarting, exited, dead. */
  status: string;
  /** Whether it runs. */
  running: boolean;
  /** Whether it is paused. */
  paused: boolean;
  /** Last exit code. */
  exit_code: number | null;
  /** Start time. */
  started_at: string | null;
  /** Stop time (null while running). */
  finished_at: string | null;
  /** Health status when the image has a health check. */
  health: string | null;
}

/** What the tools read from one container's `inspect` (never its environment). */
export interface InspectedContainer {
  /** Full id. */
  id: string;
  /** Name without docker's leading slash. */
  name: string;
  /** Image reference. */
  image: string;
  /** State. */
  state: ContainerState;
  /** bridge, host, none, container:…, or a network name. */
  network_mode: string;
  /** Network attachments. */
  networks: NetworkAttachment[];
  /** Entrypoint and command, joined. */
  command: string;
  /** Exposed and published container ports ("5432/tcp"). */
  ports: string[];
  /** Published host bindings ("0.0.0.0:15432->5432/tcp"). */
  published: string[];
}

function nonEmpty(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function isoOrNull(value: unknown): string | null {
  const s = nonEmpty(value);
  return s === null || s.startsWith("0001-01-01") ? null : s;
}

/** Parses `.State` of `inspect`. */
export function parseState(raw: unknown): ContainerState {
  const s = isRecord(raw) ? raw : {};
  const health = isRecord(s.Health) ? nonEmpty(s.Health.Status) : null;
  return {
    status: str(s.Status).toLowerCase(),
    running: s.Running === true,
    paused: s.Paused === true,
    exit_code: typeof s.ExitCode === "number" ? s.ExitCode : null,
    started_at: isoOrNull(s.StartedAt),
    finished_at: s.Running === true ? null : isoOrNull(s.FinishedAt),
    health,
  };
}

/**
 * Parses an object printed with {@link INSPECT_FORMAT}. The container's environment is read only by
 * {@link containerEnv}, so it cannot leak into results by accident.
 */
export function parseInspected(raw: Record<string, unknown>): InspectedContainer {
  const config = isRecord(raw.config) ? raw.config : {};
  const host = isRecord(raw.host) ? raw.host : {};
  const net = isRecord(raw.net) ? raw.net : {};
  const networks: NetworkAttachment[] = [];
  if (isRecord(net.Networks)) {
    for (const [network, value] of Object.entries(net.Networks)) {
      const n = isRecord(value) ? value : {};
      networks.push({
        network,
        ip: nonEmpty(n.IPAddress),
        prefix_len: typeof n.IPPrefixLen === "number" && n.IPAddress ? n.IPPrefixLen : null,
        gateway: nonEmpty(n.Gateway),
        ipv6: nonEmpty(n.GlobalIPv6Address),
        mac: nonEmpty(n.MacAddress),
      });
    }
  }
  networks.sort((a, b) => a.network.localeCompare(b.network));
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.map(String) : typeof v === "string" && v !== "" ? [v] : [];
  const ports = new Set<string>(isRecord(config.ExposedPorts) ? Object.keys(config.ExposedPorts) : []);
  const published: string[] = [];
  if (isRecord(net.Ports)) {
    for (const [port, bindings] of Object.entries(net.Ports)) {
      ports.add(port);
      if (!Array.isArray(bindings)) continue;
      for (const b of bindings.filter(isRecord)) {
        published.push(`${str(b.HostIp) || "0.0.0.0"}:${str(b.HostPort)}->${port}`);
      }
    }
  }
  return {
    id: str(raw.id),
    name: str(raw.name).replace(/^\//, ""),
    image: str(config.Image),
    state: parseState(raw.state),
    network_mode: str(host.NetworkMode),
    networks,
    command: [...strings(config.Entrypoint), ...strings(config.Cmd)].join(" "),
    ports: [...ports].sort(),
    published: published.sort(),
  };
}

/** The container's environment as a map (used only to pick known database settings). */
export function containerEnv(raw: Record<string, unknown>): Map<string, string> {
  const env = new Map<string, string>();
  const list = isRecord(raw.config) ? raw.config.Env : undefined;
  if (!Array.isArray(list)) return env;
  for (const entry of list) {
    if (typeof entry !== "string") continue;
    const eq = entry.indexOf("=");
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** One network as `docker_networks` reports it. */
export interface NetworkSummary {
  /** Name. */
  name: string;
  /** Short id. */
  id: string;
  /** bridge, host, macvlan, overlay… */
  driver: string;
  /** local, swarm, global. */
  scope: string;
  /** No outside connectivity. */
  internal: boolean;
  /** Subnets with gateways. */
  subnets: { subnet: string; gateway: string | null }[];
  /** Attached containers (docker API only; podman's own CLI does not list them). */
  containers: { id: string; name: string; ipv4: string | null; ipv6: string | null; mac: string | null }[];
}

/** Normalises one `network inspect` object from docker (or the podman compat API) or podman's CLI. */
export function normalizeNetwork(raw: Record<string, unknown>): NetworkSummary {
  const subnets: NetworkSummary["subnets"] = [];
  const ipam = isRecord(raw.IPAM) ? raw.IPAM : {};
  if (Array.isArray(ipam.Config)) {
    for (const c of ipam.Config.filter(isRecord)) {
      if (c.Subnet) subnets.push({ subnet: str(c.Subnet), gateway: nonEmpty(c.Gateway) });
    }
  }
  if (Array.isArray(raw.subnets)) {
    for (const c of raw.subnets.filter(isRecord)) {
      subnets.push({ subnet: str(c.subnet), gateway: nonEmpty(c.gateway) });
    }
  }
  const containers: NetworkSummary["containers"] = [];
  if (isRecord(raw.Containers)) {
    for (const [id, value] of Object.entries(raw.Containers)) {
      const c = isRecord(value) ? value : {};
      containers.push({
        id: id.slice(0, 12),
        name: str(c.Name),
        ipv4: nonEmpty(str(c.IPv4Address).replace(/\/\d+$/, "")),
        ipv6: nonEmpty(str(c.IPv6Address).replace(/\/\d+$/, "")),
        mac: nonEmpty(c.MacAddress),
      });
    }
  }
  containers.sort((a, b) => a.name.localeCompare(b.name));
  return {
    name: str(raw.Name ?? raw.name),
    id: str(raw.Id ?? raw.id).slice(0, 12),
    driver: str(raw.Driver ?? raw.driver),
    scope: str(raw.Scope) || "local",
    internal: raw.Internal === true || raw.internal === true,
    subnets,
    containers,
  };
}

/**
 * Validates an IPv4 or IPv6 address and returns it in a comparable form (IPv6 lowercased).
 *
 * @throws {TypeError} when `ip` is neither.
 */
export function normalizeIp(ip: string): string {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4 && v4.slice(1).every((o) => Number(o) <= 255)) return v4.slice(1).map(Number).join(".");
  if (/^[0-9a-fA-F:.]+$/.test(ip) && ip.includes(":") && ip.length <= 45) return ip.toLowerCase();
  throw new TypeError(`Cannot search for IP "${ip.slice(0, 60)}": not an IPv4 or IPv6 address`);
}

/** What a `cp` probe found at a path. */
export interface PathProbe {
  /** file, directory, or missing. */
  type: "file" | "directory" | "missing";
  /** Bytes (a directory: sum of its regular files). */
  bytes: number | null;
  /** Regular files (directories only). */
  files: number | null;
  /** sha256 of a file, when sha256sum exists. */
  sha256: string | null;
}

/**
 * Parses a probe line: `file <bytes> [<sha256>]`, `dir <files> <bytes>` or `missing`.
 *
 * @example
 * ```ts
 * parseProbe("file 12 ab…"); // { type: "file", bytes: 12, files: null, sha256: "ab…" }
 * ```
 */
export function parseProbe(line: string): PathProbe {
  const [kind, a, b] = line.trim().split(/\s+/);
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
  if (kind === "file") {
    return { type: "file", bytes: num(a), files: null, sha256: /^[0-9a-f]{64}$/.test(b ?? "") ? b! : null };
  }
  if (kind === "dir") return { type: "directory", bytes: num(b), files: num(a), sha256: null };
  return { type: "missing", bytes: null, files: null, sha256: null };
}

/** Why a docker command failed, for advice. */
export type DockerFailure = "missing" | "no_access" | "daemon_down" | "no_such_container" | "other";

/** Classifies a failed docker command by its exit code and stderr. */
export function classifyDockerFailure(stderr: string, exitCode: number | null): DockerFailure {
  if (
    /permission denied while trying to connect|docker\.sock.*permission denied|connect: permission denied/i
      .test(stderr)
  ) {
    return "no_access";
  }
  if (
    exitCode === 127 || /ssh-mcp: docker: command not found|docker: (command )?not found/i.test(stderr)
  ) return "missing";
  if (/cannot connect to the docker daemon|is the docker daemon running|connection refused/i.test(stderr)) {
    return "daemon_down";
  }
  if (/no such container|no container with (name or id|id)|no such object/i.test(stderr)) {
    return "no_such_container";
  }
  return "other";
}

/** Advice for a {@link DockerFailure}. */
export function dockerFailureHint(failure: DockerFailure): string {
  switch (failure) {
    case "missing":
      return "docker is not installed (or not on PATH) on this host. Install docker or podman-docker, or connect to the host that runs the containers.";
    case "no_access":
      return "This user cannot reach the docker socket. Retry with sudo: true (needs sudo_password at connect), or add the user to the docker group (sudo usermod -aG docker USER, then reconnect).";
    case "daemon_down":
      return "The docker daemon is not running or DOCKER_HOST points nowhere. Start it (systemctl start docker) or check with `run` `docker info`.";
    case "no_such_container":
      return "Check the name with docker_ps (all: true lists stopped containers too).";
    case "other":
      return "Read the message above; docker_ps shows the containers and their state.";
  }
}

/** The first meaningful line of docker's stderr, without the "Error response from daemon:" prefix. */
export function dockerMessage(stderr: string): string {
  const line = stderr.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  return line.replace(/^Error( response from daemon)?:\s*/i, "").slice(0, 500);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string {
  return value === undefined || value === null ? "" : String(value);
}
