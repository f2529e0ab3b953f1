/**
 * The scripts every executor sends (exec channels and warm shells alike): the command's own script
 * with its pid marker (and sudo), the out-of-band kill of a process group, and the random markers.
 *
 * The remote login shell is a session leader (sshd calls setsid; a warm shell's child is started
 * with setsid), so `$$` is also the process group of everything the command starts, including
 * `nohup` and background children.
 *
 * @module
 */
import { joinCommands, sh, type ShellCommand } from "../../shell/sh.ts";
import type { ExecRequest, SshConnection } from "../connection.ts";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The random markers of one command (the pid line, sudo's start line, sudo's prompt). */
export interface Markers {
  /** Tags the `<marker>:<pid>` line printed before the command. */
  pid: string;
  /** Printed on stderr when sudo has started the command. */
  start: string;
  /** sudo's password prompt. */
  prompt: string;
}

/**
 * A random marker: `mcp` and `bytes` random bytes in hex. Output cannot forge it.
 *
 * @example
 * ```ts
 * nonce(); // "mcp3f9a…" (9 random bytes)
 * ```
 */
export function nonce(bytes = 9): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes));
  return "mcp" + Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The script the remote login shell runs: pid marker, then the command (through sudo if asked). */
export function buildScript(
  request: Pick<ExecRequest, "command" | "cwd" | "env" | "sudo">,
  markers: Markers,
): ShellCommand {
  const lines: ShellCommand[] = [];
  for (const [name, value] of Object.entries(request.env ?? {})) {
    if (!ENV_NAME.test(name)) {
      throw new TypeError(`Cannot set environment variable "${name}": not a shell identifier`);
    }
    lines.push(sh`export ${name}=${value}`);
  }
  if (request.cwd !== undefined) lines.push(sh`cd -- ${request.cwd} || exit 1`);
  lines.push(request.command);
  const inner = joinCommands(lines, "\n");
  const pidLine = sh`printf '%s:%s\n' ${markers.pid} "$$"`;
  if (request.sudo === undefined) return joinCommands([pidLine, inner], "\n");
  const mode = request.sudo.password === undefined ? sh`-n` : sh`-S -p ${markers.prompt}`;
  const script = joinCommands([sh`printf '%s\n' ${markers.start} >&2`, inner], "\n");
  return sh`${pidLine}; exec sudo ${mode} -- /bin/sh -c ${script.text}`;
}

/**
 * Kills a remote process group out of band, on a priority channel: TERM first (sudo relays it to its
 * child), KILL shortly after for whatever ignored it. No `kill -0` polling (orphaned zombies keep a
 * group "alive" until init reaps them) and no `--` (dash's kill rejects it before a negative pid).
 * Never throws: a connection that is going away has nothing left to kill with.
 */
export async function killProcessGroup(connection: SshConnection, pgid: number): Promise<void> {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`Cannot kill process group ${pgid}`);
  const script =
    sh`kill -TERM -${pgid} 2>/dev/null; sleep 0.2 2>/dev/null || sleep 1; kill -KILL -${pgid} 2>/dev/null; true`;
  try {
    if (!connection.alive) return;
    const killer = await connection.exec(script.text, { priority: true });
    killer.stdin.end();
    killer.stdout.resume();
    killer.stderr.resume();
    await killer.done;
  } catch {
    // The connection is going away.
  }
}
