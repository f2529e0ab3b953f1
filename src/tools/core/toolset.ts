/**
 * Core toolset: connect, disconnect, run, identity, info, connections.
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { raw } from "../../shell/sh.ts";
import { defineTool, type Toolset } from "../define.ts";
import { runOnTargets } from "../fleet/run.ts";
import { targetsInput, withFleetOutput } from "../fleet/schema.ts";
import { describeExec, execFailed } from "../remote.ts";
import { runJobShape, waitSeconds } from "../jobs/schemas.ts";
import { runCommand } from "./run.ts";
import { HINTS, target, timeoutSeconds } from "../schemas.ts";

const hostKeySchema = z.object({
  status: z.enum(["known", "recorded", "unverified"]).describe(
    "known: matched known_hosts; recorded: new key saved",
  ),
  fingerprint: z.string().describe("SHA256 fingerprint of the host key"),
  message: z.string().describe("What the host-key check did"),
});

const connect = defineTool({
  name: "connect",
  title: "Connect over SSH",
  description:
    "Opens (or reuses) a persistent SSH connection and names it with an alias used as `target` by other tools. " +
    "Auth order: private_key_path, the server's identity key (see `identity`), ssh-agent, ~/.ssh default keys, password. " +
    "Use `via` to reach a host through an already connected jump host. On auth failure call `identity` and install its key.",
  input: z.object({
    host: z.string().min(1).max(255).describe(
      "Host name or IP (as seen from the jump host with `via`), or a Host alias of ~/.ssh/config: HostName, User, Port, IdentityFile and ProxyJump apply; explicit arguments win",
    ),
    username: z.string().min(1).max(64).optional().describe(
      "Remote user name (default: User from ~/.ssh/config)",
    ),
    port: z.number().int().min(1).max(65535).optional().describe(
      "SSH port (default: Port from ~/.ssh/config, else 22)",
    ),
    password: z.string().max(1024).optional().describe("Password for password/keyboard-interactive auth"),
    private_key_path: z.string().max(4096).optional().describe(
      "Path of a private key file inside ~/.ssh or the server's data dir",
    ),
    passphrase: z.string().max(1024).optional().describe("Passphrase of the private key"),
    alias: z.string().min(1).max(200).regex(/^[^\s]+$/).optional().describe(
      "Name for this connection (default: the ~/.ssh/config Host name given as host, else user@host, plus :port when not 22)",
    ),
    via: z.string().min(1).max(200).optional().describe("Alias of a connected jump host to tunnel through"),
    sudo_password: z.string().max(1024).optional().describe("Password used by `run` with sudo: true"),
  }),
  output: z.object({
    alias: z.string().describe("Alias to pass as `target`"),
    target: z.string().describe("user@host:port"),
    via: z.string().optional().describe("Jump host alias"),
    reused: z.boolean().describe("True when an existing connection was reused"),
    host_key: hostKeySchema.describe("Host-key verification result"),
    banner: z.string().describe("Server identification string"),
    jumps: z.array(z.string()).optional().describe(
      "Jump hosts connected first (from ~/.ssh/config ProxyJump)",
    ),
    warnings: z.array(z.string()).optional().describe("What ~/.ssh/config resolution ignored or degraded"),
  }),
  // Read-only: it changes nothing on the host (only the server's own connection state), and a
  // -read-only server must still be able to reach hosts.
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  handler: async (args, ctx) => {
    const outcome = await ctx.connections.connect({
      host: args.host,
      port: args.port,
      username: args.username,
      password: args.password,
      privateKeyPath: args.private_key_path,
      passphrase: args.passphrase,
      alias: args.alias,
      via: args.via,
      sudoPassword: args.sudo_password,
    }, ctx.signal);
    const data = {
      alias: outcome.alias,
      target: outcome.target,
      ...(outcome.via === undefined ? {} : { via: outcome.via }),
      reused: outcome.reused,
      host_key: outcome.hostKey,
      banner: outcome.banner,
      ...(outcome.jumps?.length ? { jumps: outcome.jumps } : {}),
      ...(outcome.warnings?.length ? { warnings: outcome.warnings } : {}),
    };
    const text = `${outcome.reused ? "Reusing" : "Connected"} ${outcome.alias} (${outcome.target}${
      outcome.via ? ` via ${outcome.via}` : ""
    }). Host key ${outcome.hostKey.fingerprint}: ${outcome.hostKey.message}`;
    return { data, text };
  },
});

const disconnect = defineTool({
  name: "disconnect",
  title: "Disconnect",
  description:
    "Closes one SSH connection by alias (and any connection tunnelled through it), or every connection of this session with all: true.",
  input: z.object({
    alias: z.string().min(1).max(200).optional().describe("Alias to close (default: the most recently used)"),
    all: z.boolean().optional().describe("Close every connection of this session"),
  }),
  output: z.object({ closed: z.array(z.string()).describe("Aliases that were closed") }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (args, ctx) => {
    let closed: string[];
    if (args.all) closed = await ctx.connections.disconnectAll();
    else {
      const alias = args.alias ?? ctx.connections.list().find((c) => c.default)?.alias;
      if (alias === undefined) return { data: { closed: [] }, text: "No connection to close." };
      closed = await ctx.connections.disconnect(alias);
    }
    return {
      data: { closed },
      text: closed.length ? `Closed ${closed.join(", ")}.` : "No connection to close.",
    };
  },
});

const execResultShape = {
  alias: z.string().describe("Connection the command ran on"),
  stdout: z.string().describe("Standard output (head and tail when truncated)"),
  stderr: z.string().describe("Standard error (head and tail when truncated)"),
  exit_code: z.number().int().nullable().describe("Exit code; null when killed or unknown"),
  signal: z.string().nullable().describe("Signal that ended the command, if any"),
  timed_out: z.boolean().describe("The deadline passed and the process group was killed"),
  cancelled: z.boolean().describe("The call was cancelled and the process group was killed"),
  connection_lost: z.boolean().describe("The link dropped mid-command: outcome unknown, it was not re-run"),
  sudo_failed: z.boolean().optional().describe("sudo refused the password"),
  truncated: z.boolean().describe("Output was cut to the -max-output cap"),
  stdout_bytes: z.number().int().describe("Total stdout bytes produced"),
  stderr_bytes: z.number().int().describe("Total stderr bytes produced"),
  duration_ms: z.number().int().describe("Wall time in ms"),
  executor: z.enum(["exec", "shell"]).describe("exec channel or warm shell"),
};

const run = defineTool({
  name: "run",
  title: "Run a shell command",
  description:
    "Runs a shell command on a connected host and returns stdout, stderr and the exit code separately. " +
    "Each call is a fresh process (cwd, variables do not carry over: pass cwd/env). At the timeout the whole " +
    "process group is killed. If the command outlives `wait` (25 s) the result has a job_id and status " +
    "running: it goes on; call job_output with that job_id, do not run it again. For long work give a " +
    "`timeout` (it then runs detached on the host). connection_lost: outcome unknown, check before " +
    "re-running. With `targets` it runs on many hosts at once and returns results[] and groups[].",
  input: z.object({
    command: z.string().min(1).max(1_000_000).describe("Shell command line, run by the login shell"),
    target,
    targets: targetsInput,
    timeout: timeoutSeconds,
    wait: waitSeconds.describe(
      "Seconds to wait for the end before answering with a job_id (default: the server's -run-wait, 25; at most 50). 0: start it as a job on the host and answer at once",
    ),
    cwd: z.string().max(4096).optional().describe("Working directory (default: the user's home)"),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(100_000)).optional().describe(
      "Environment variables to set (visible in the remote process table: pass secrets via stdin)",
    ),
    stdin: z.string().max(4_000_000).optional().describe("Text fed to the command's standard input"),
    sudo: z.boolean().optional().describe(
      "Run as root via sudo (uses sudo_password from connect when given, else sudo -n which fails fast)",
    ),
  }),
  // Single-target fields are present without `targets`; results/groups/failed only with it.
  output: withFleetOutput({ ...execResultShape, ...runJobShape }),
  annotations: HINTS.changeRemote,
  handler: async (args, ctx) => {
    if (args.targets !== undefined) return await runOnTargets({ ...args, targets: args.targets }, ctx);
    return await runCommand(args, ctx);
  },
});

const identity = defineTool({
  name: "identity",
  title: "Server's public SSH key",
  description:
    "Returns this server's own public SSH key (ed25519). Append the line to ~/.ssh/authorized_keys of the remote user, then `connect` without a password.",
  input: z.object({}),
  output: z.object({
    public_key: z.string().describe("OpenSSH public key line for authorized_keys"),
    fingerprint: z.string().describe("SHA256 fingerprint"),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: (_args, ctx) => {
    const { publicKey, fingerprint } = ctx.identity;
    return Promise.resolve({
      data: { public_key: publicKey, fingerprint },
      text: `${publicKey}\n\nFingerprint ${fingerprint}. Install with:\n` +
        `mkdir -p ~/.ssh && chmod 700 ~/.ssh && echo '${publicKey}' >> ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys`,
    });
  },
});

// One remote round trip; every probe degrades to an empty value on minimal systems.
const INFO_SCRIPT = `if [ -r /etc/os-release ]; then . /etc/os-release; fi
printf 'os=%s\\n' "\${PRETTY_NAME:-$(uname -s)}"
printf 'kernel=%s\\n' "$(uname -r)"
printf 'arch=%s\\n' "$(uname -m)"
printf 'hostname=%s\\n' "$(hostname 2>/dev/null || uname -n)"
printf 'uptime=%s\\n' "$(cut -d' ' -f1 /proc/uptime 2>/dev/null)"
printf 'cpus=%s\\n' "$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null)"
printf 'mem_total_kb=%s\\n' "$(awk '/^MemTotal:/{print $2}' /proc/meminfo 2>/dev/null)"
printf 'mem_available_kb=%s\\n' "$(awk '/^MemAvailable:/{print $2}' /proc/meminfo 2>/dev/null)"
printf 'shell=%s\\n' "\${SHELL:-}"
printf 'user=%s\\n' "$(id -un 2>/dev/null)"
printf 'uid=%s\\n' "$(id -u 2>/dev/null)"
if ! command -v sudo >/dev/null 2>&1; then echo sudo=none; elif sudo -n true >/dev/null 2>&1; then echo sudo=passwordless; else echo sudo=password; fi
if command -v docker >/dev/null 2>&1; then if docker info >/dev/null 2>&1; then echo docker=available; else echo docker=no-access; fi; else echo docker=none; fi`;

const info = defineTool({
  name: "info",
  title: "Remote system information",
  description:
    "Reports OS, kernel, architecture, hostname, uptime, CPU count, memory, login shell, user, and whether sudo and docker are usable on a connected host.",
  input: z.object({ target }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    os: z.string().describe("OS name (PRETTY_NAME)"),
    kernel: z.string().describe("Kernel release"),
    arch: z.string().describe("Machine architecture"),
    hostname: z.string().describe("Host name"),
    uptime_seconds: z.number().nullable().describe("Seconds since boot"),
    cpus: z.number().nullable().describe("Online CPUs"),
    memory_total_bytes: z.number().nullable().describe("Total memory"),
    memory_available_bytes: z.number().nullable().describe("Available memory"),
    shell: z.string().describe("Login shell"),
    user: z.string().describe("Remote user"),
    uid: z.number().nullable().describe("Remote uid"),
    sudo: z.enum(["none", "passwordless", "password"]).describe("sudo availability"),
    docker: z.enum(["none", "no-access", "available"]).describe("docker CLI/daemon availability"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const result = await ctx.connections.exec(args.target, {
      command: raw(INFO_SCRIPT),
      timeoutMs: Math.min(ctx.limits.commandTimeoutMs, 30_000),
      maxOutputBytes: 65536,
      signal: ctx.signal,
    });
    if (execFailed(result) || result.exit_code !== 0) {
      throw new ToolError(`Cannot read system information on "${result.alias}": ${describeExec(result)}`);
    }
    const values = new Map<string, string>();
    for (const line of result.stdout.split("\n")) {
      const at = line.indexOf("=");
      if (at > 0) values.set(line.slice(0, at), line.slice(at + 1));
    }
    const num = (key: string, scale = 1) => {
      const v = Number.parseFloat(values.get(key) ?? "");
      return Number.isFinite(v) ? Math.round(v * scale) : null;
    };
    const data = {
      alias: result.alias,
      os: values.get("os") ?? "",
      kernel: values.get("kernel") ?? "",
      arch: values.get("arch") ?? "",
      hostname: values.get("hostname") ?? "",
      uptime_seconds: num("uptime"),
      cpus: num("cpus"),
      memory_total_bytes: num("mem_total_kb", 1024),
      memory_available_bytes: num("mem_available_kb", 1024),
      shell: values.get("shell") ?? "",
      user: values.get("user") ?? "",
      uid: num("uid"),
      sudo: (values.get("sudo") ?? "none") as "none" | "passwordless" | "password",
      docker: (values.get("docker") ?? "none") as "none" | "no-access" | "available",
    };
    return { data };
  },
});

const connections = defineTool({
  name: "connections",
  title: "List connections",
  description:
    "Lists this session's SSH connections with alias, target, jump host, state, idle time and which one is the default target. Use it to find aliases for `target`.",
  input: z.object({}),
  output: z.object({
    connections: z.array(z.object({
      alias: z.string().describe("Alias"),
      target: z.string().describe("user@host:port"),
      via: z.string().optional().describe("Jump host alias"),
      state: z.enum(["connected", "reconnecting", "disconnected"]).describe("Link state"),
      idle_seconds: z.number().describe("Seconds since last use"),
      host_key_fingerprint: z.string().describe("Host key fingerprint"),
      default: z.boolean().describe("Whether tools without `target` use it"),
    })).describe("Connections of this session"),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: (_args, ctx) => {
    const list = ctx.connections.list();
    const text = list.length === 0
      ? "No connections. Call `connect` first."
      : list.map((c) =>
        `${c.default ? "*" : " "} ${c.alias}  ${c.target}${c.via ? ` via ${c.via}` : ""}  ${c.state}`
      )
        .join("\n");
    return Promise.resolve({ data: { connections: list }, text });
  },
});

/** The core toolset. */
export const CORE: Toolset = { name: "core", tools: [connect, disconnect, run, identity, info, connections] };
