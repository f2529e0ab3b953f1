/**
 * The start-up half of the sandbox (SPEC §1): which paths this server may use, checked before anything
 * is served, and the Deno permissions of the Worker that then runs the server.
 *
 * The process starts with the wide file permissions of `flags.ts` (no path is known when a binary is
 * built). Here, with this user's HOME and configuration known, every directory is resolved, checked
 * against what the process may really do (its Deno permissions, then the file system: created 0700
 * when missing, writable), and granted to the Worker by name, with its realpath. A problem the user must
 * fix stops start-up with one line (a {@link ConfigError}: `main.ts` prints it and exits 2) that names
 * the flag, its environment variable, the path and the fix; an unusable ssh-agent socket only warns.
 *
 * Deno checks paths lexically: a symlink inside a granted directory leads out of it. Paths that a
 * model supplies are therefore also resolved with realpath and checked against these roots by the code
 * that opens them (`src/ssh/credentials.ts` for keys).
 */
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "../config.ts";

/** A directory a flag names (the data dir; later the transfer dir). */
export interface SandboxDir {
  /** The path as configured (absolute or relative to the working directory). */
  readonly path: string;
  /** The flag that sets it, for messages: `-data-dir`. */
  readonly flag: string;
  /** Its environment variable, for messages: `SSH_MCP_DATA_DIR`. */
  readonly env: string;
  /** Read-write: created 0700 when missing and checked writable. Read-only otherwise. */
  readonly writable: boolean;
}

/** Options of {@link planSandbox}. */
export interface SandboxOptions {
  /** The user's home directory (`HOME`); `~/.ssh` is read-only in the sandbox. */
  readonly home?: string;
  /** The directories flags name, in order. */
  readonly dirs: readonly SandboxDir[];
  /** The ssh-agent socket (`SSH_AUTH_SOCK`), if set. */
  readonly agentSocket?: string;
  /**
   * Code the Worker reads as files while it loads, read-only: vendor/ssh2, which Deno loads as CommonJS
   * through `require()`, and that needs read permission where ES modules need none.
   */
  readonly code?: readonly string[];
}

/** What the server may use, decided at start-up. */
export interface SandboxPlan {
  /** Absolute path of `~/.ssh`, when there is a home. */
  readonly sshDir?: string;
  /** Absolute paths of {@link SandboxOptions.dirs}, in the same order. */
  readonly dirs: readonly string[];
  /** The ssh-agent socket, when it is usable; absent when unset or skipped (see {@link warnings}). */
  readonly agentSocket?: string;
  /** Permissions of the Worker that runs the server: these paths, the network, nothing else. */
  readonly permissions: Deno.PermissionOptionsObject;
  /** One line each, for the log: why the ssh-agent was skipped. */
  readonly warnings: readonly string[];
}

const START_FLAGS = "the flags of `deno task start` (--allow-read --allow-write)";

async function granted(name: "read" | "write", path: string): Promise<boolean> {
  return (await Deno.permissions.query({ name, path })).state === "granted";
}

function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!;
}

async function realPathOrSame(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch {
    return path; // missing: granted by name, nothing to follow
  }
}

/** Checks one directory and returns the names to grant: the absolute path and its realpath. */
async function checkDir(dir: SandboxDir): Promise<string[]> {
  const path = resolve(dir.path);
  const where = `${dir.flag} ${JSON.stringify(path)} (env ${dir.env})`;
  const fail = (message: string) => new ConfigError(dir.flag, message, { env: dir.env });
  for (const access of dir.writable ? ["read", "write"] as const : ["read"] as const) {
    if (!await granted(access, path)) {
      throw fail(
        `Cannot use ${where}: this process has no Deno permission to ${access} it; start ssh-mcp with ` +
          `${START_FLAGS}, or add the directory to --allow-read${dir.writable ? " and --allow-write" : ""}`,
      );
    }
  }
  if (!dir.writable) return [...new Set([path, await realPathOrSame(path)])];
  try {
    await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw fail(
      `Cannot create ${where}: ${reason(error)}; create it for the user running ssh-mcp ` +
        `(sudo install -d -m 0700 -o "$(id -un)" ${JSON.stringify(path)}) or pass another ${dir.flag}`,
    );
  }
  if (!(await Deno.stat(path)).isDirectory) {
    throw fail(`Cannot use ${where}: it is not a directory; pass a directory to ${dir.flag}`);
  }
  try {
    const probe = await Deno.makeTempFile({ dir: path, prefix: ".ssh-mcp-write-test-" });
    await Deno.remove(probe);
  } catch (error) {
    throw fail(
      `Cannot write in ${where}: ${reason(error)}; let the user running ssh-mcp write there ` +
        `(sudo chown "$(id -un)" ${JSON.stringify(path)}) or pass another ${dir.flag}`,
    );
  }
  return [...new Set([path, await Deno.realPath(path)])];
}

/** The agent socket when usable, else the warning that says why it is skipped. */
async function checkAgent(socket: string): Promise<{ socket: string } | { warning: string }> {
  const skip = (why: string) => ({
    warning: `ssh-agent skipped: SSH_AUTH_SOCK ${JSON.stringify(socket)} ${why}`,
  });
  if (!isAbsolute(socket)) return skip("is not an absolute path");
  if (!await granted("read", socket) || !await granted("write", socket)) {
    return skip(
      `is outside what this process may use; start ssh-mcp with ${START_FLAGS}, or add the socket to ` +
        `--allow-read and --allow-write`,
    );
  }
  try {
    if (!(await Deno.stat(socket)).isSocket) return skip("is not a socket");
  } catch (error) {
    return skip(`cannot be used: ${reason(error)} (is the agent running?)`);
  }
  return { socket };
}

/**
 * Checks and prepares everything the server may touch and returns the Worker's permissions.
 *
 * @throws {ConfigError} when a directory cannot be used: the message is one line naming the flag, its
 * environment variable, the path and the command or flag that fixes it.
 *
 * @example
 * ```ts
 * const plan = await planSandbox({
 *   home: "/home/me",
 *   dirs: [{ path: "/home/me/.local/share/ssh-mcp", flag: "-data-dir", env: "SSH_MCP_DATA_DIR", writable: true }],
 * });
 * new Worker(url, { type: "module", deno: { permissions: plan.permissions } });
 * ```
 */
export async function planSandbox(options: SandboxOptions): Promise<SandboxPlan> {
  const read: string[] = [];
  const write: string[] = [];
  const dirs: string[] = [];
  for (const dir of options.dirs) {
    const names = await checkDir(dir);
    dirs.push(names[0]!);
    read.push(...names);
    if (dir.writable) write.push(...names);
  }
  let sshDir: string | undefined;
  if (options.home !== undefined && options.home !== "") {
    sshDir = resolve(options.home, ".ssh");
    if (!await granted("read", sshDir)) {
      throw new ConfigError(
        "HOME",
        `Cannot read ~/.ssh (${JSON.stringify(sshDir)}, from env HOME): this process has no Deno ` +
          `permission to read it; start ssh-mcp with ${START_FLAGS}, or add it to --allow-read`,
        { env: "HOME" },
      );
    }
    read.push(sshDir, await realPathOrSame(sshDir));
  }
  const warnings: string[] = [];
  let agentSocket: string | undefined;
  if (options.agentSocket !== undefined && options.agentSocket !== "") {
    const agent = await checkAgent(options.agentSocket);
    if ("warning" in agent) warnings.push(agent.warning);
    else {
      agentSocket = agent.socket;
      read.push(agent.socket);
      write.push(agent.socket);
    }
  }
  read.push(...options.code ?? []);
  const list = (paths: string[]) => paths.length === 0 ? false : [...new Set(paths)];
  return {
    ...(sshDir === undefined ? {} : { sshDir }),
    dirs,
    ...(agentSocket === undefined ? {} : { agentSocket }),
    permissions: {
      read: list(read),
      write: list(write),
      net: true,
      env: false,
      sys: false,
      run: false,
      ffi: false,
      import: false,
    },
    warnings,
  };
}
