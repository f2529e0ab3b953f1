/**
 * Small process utilities of the test bed: run a program, walk and kill process trees, wait for
 * processes to go, and a file lock between test processes (shared with jump.ts).
 *
 * @module
 */
// ---------------------------------------------------------------------------------------------
// small process utilities (shared with jump.ts)

/** Result of {@link run}. */
export interface RunResult {
  readonly code: number;
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Throw a descriptive `Error` when the program exits non-zero (default `false`). */
  check?: boolean;
}

/**
 * Runs a program to completion, collecting its output.
 *
 * @example
 * ```ts
 * const { stdout } = await run("ssh-keygen", ["-lf", "key.pub"], { check: true });
 * ```
 */
export async function run(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args: [...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
    signal: options.signal,
  }).spawn();
  // Write concurrently with reading, or a large input and output could deadlock on full pipes.
  const writing = options.stdin === undefined ? Promise.resolve() : (async () => {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(
        typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
      );
      await writer.close();
    } catch {
      // the program exited without reading everything; its exit status tells the story
    }
  })();
  const out = await child.output();
  await writing;
  const result = {
    code: out.code,
    success: out.success,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (options.check && !result.success) {
    throw new Error(
      `Cannot run "${[cmd, ...args].join(" ")}": exit code ${result.code}: ${
        result.stderr.trim() || result.stdout.trim()
      }`,
    );
  }
  return result;
}

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
}

export function listProcesses(options: { zombies?: boolean } = {}): ProcInfo[] {
  const result: ProcInfo[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue; // exited meanwhile
    }
    // comm may contain spaces and parentheses; the fields after the last ")" are plain.
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    if (fields[0] === "Z" && !options.zombies) continue; // they hold nothing and ignore signals
    result.push({ pid: Number(entry.name), ppid: Number(fields[1]), comm: stat.slice(open + 1, close) });
  }
  return result;
}

/** Pids of `rootPid` (if alive) and all its descendants, found through /proc parent links. */
export function processTree(rootPid: number): number[] {
  return treeOf([rootPid], listProcesses()).map((p) => p.pid);
}

export function treeOf(roots: readonly number[], procs: readonly ProcInfo[]): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  const byPid = new Map<number, ProcInfo>();
  for (const p of procs) {
    byPid.set(p.pid, p);
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const seen = new Set<number>();
  const result: ProcInfo[] = [];
  const queue = roots.map((pid) => byPid.get(pid)).filter((p): p is ProcInfo => p !== undefined);
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (seen.has(p.pid)) continue;
    seen.add(p.pid);
    result.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return result;
}

export function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGSTOPs the trees under `roots()` until no new process appears (a stopped process cannot fork),
 * so the snapshot is complete. Returns the stopped pids.
 */
export function freeze(roots: () => number[], filter: (p: ProcInfo) => boolean = () => true): number[] {
  const stopped = new Set<number>();
  for (let round = 0; round < 100; round++) {
    let grew = false;
    for (const p of treeOf(roots(), listProcesses())) {
      if (stopped.has(p.pid) || !filter(p)) continue;
      signal(p.pid, "SIGSTOP");
      stopped.add(p.pid);
      grew = true;
    }
    if (!grew) break;
  }
  return [...stopped];
}

/**
 * Kills the processes `roots()` returns and all their descendants, frozen first so none escapes by
 * forking (`roots` is re-evaluated while freezing). Returns the killed pids.
 */
export function killProcessTree(roots: () => number[]): number[] {
  const pids = freeze(roots);
  for (const pid of pids) signal(pid, "SIGKILL");
  return pids;
}

/**
 * Pids whose environment says they belong to an SSH session with the server `host:port`; catches
 * processes that daemonized out of the sshd tree (their parent is then init).
 */
export function sessionProcesses(host: string, port: number): number[] {
  const suffix = ` ${host} ${port}`;
  const result: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let environ: Uint8Array;
    try {
      environ = Deno.readFileSync(`/proc/${entry.name}/environ`);
    } catch {
      continue;
    }
    const text = new TextDecoder("latin1").decode(environ);
    const start = text.indexOf("SSH_CONNECTION=");
    if (start === -1 || (start > 0 && text[start - 1] !== "\0")) continue;
    const end = text.indexOf("\0", start);
    const value = text.slice(start + "SSH_CONNECTION=".length, end === -1 ? undefined : end);
    if (value.endsWith(suffix)) result.push(Number(entry.name));
  }
  return result;
}

/** Waits until none of `pids` is alive (zombies count as gone) or `timeoutMs` passes. */
export async function waitGone(pids: readonly number[], timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids;
  while (alive.length > 0 && Date.now() < deadline) {
    const living = new Set(listProcesses().map((p) => p.pid));
    alive = alive.filter((pid) => living.has(pid));
    if (alive.length > 0) await delay(5);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Runs `fn` holding an exclusive flock on `path`, which serializes parallel test processes. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  using file = await Deno.open(path, { create: true, write: true, mode: 0o666 });
  await file.lock(true);
  try {
    return await fn();
  } finally {
    await file.unlock();
  }
}
