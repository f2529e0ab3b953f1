/**
 * Running docker on a host, shared by the docker tools and the tools that reach into containers:
 * the input fragments for a container and sudo, the docker lookup prelude, and the mapping of a
 * failed docker command to an error whose hint says what to do.
 *
 * @module
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { joinCommands, sh, type ShellCommand } from "../../shell/sh.ts";
import type { ExecResult } from "../../ssh/connection.ts";
import type { ToolContext } from "../define.ts";
import { classifyDockerFailure, CONTAINER_NAME, dockerFailureHint, dockerMessage } from "./parse.ts";
import { runScript } from "../remote.ts";

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
