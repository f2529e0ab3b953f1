/**
 * What a start sends besides its script: the script the login shell evaluates, and the start's stdin
 * (the sudo password line, then the command's own stdin).
 */
import { joinCommands, sh, type ShellCommand } from "../../shell/sh.ts";

/** What to start. */
export interface JobStartSpec {
  /** The command for the login shell (user text arrives as sh`eval ${text}`). */
  command: ShellCommand;
  /** What the command is, for listings and the digest (the user's text for `run`). */
  preview: string;
  /** Working directory; the command fails with exit 1 when it does not exist. */
  cwd?: string;
  /** Environment variables (names must be shell identifiers). */
  env?: Readonly<Record<string, string>>;
  /** Bytes for the command's stdin (stored in the job dir only until the command has opened it). */
  stdin?: Uint8Array;
  /** Run through sudo: with the password over a pipe when given, else `sudo -n`. */
  sudo?: { password?: string } | true;
  /** Deadline in whole seconds, enforced on the host. */
  timeoutSeconds: number;
  /** What started it, for listings (default "run"). */
  tool?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function runScript(spec: Pick<JobStartSpec, "command" | "cwd" | "env">): ShellCommand {
  const lines: ShellCommand[] = [];
  for (const [name, value] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME.test(name)) {
      throw new TypeError(`Cannot set environment variable "${name}": not a shell identifier`);
    }
    lines.push(sh`export ${name}=${value}`);
  }
  if (spec.cwd !== undefined) lines.push(sh`cd -- ${spec.cwd} || exit 1`);
  lines.push(spec.command);
  return joinCommands(lines, "\n");
}

/** The start's stdin: the sudo password line (if any), then the command's stdin. */
export function startStdin(spec: JobStartSpec, password: string | undefined): Uint8Array | undefined {
  const parts: Uint8Array[] = [];
  if (password !== undefined) {
    if (/[\r\n]/.test(password)) throw new TypeError("Cannot use a sudo password with a line break");
    parts.push(new TextEncoder().encode(password + "\n"));
  }
  if (spec.stdin !== undefined && spec.stdin.length > 0) parts.push(spec.stdin);
  if (parts.length === 0) return undefined;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
