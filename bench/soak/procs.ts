/**
 * What the soak reads from /proc: the process table, environments (every remote command of the
 * workload carries `SOAK_OP=<op id>` in its environment, inherited by all its children), memory and
 * descriptor counts, and the session channels the test sshds serve.
 *
 * The test sshds run on this machine (network namespaces share the file system and the process
 * table), so "remote" processes and files are checked here directly, never through the server under
 * test.
 *
 * @module
 */

/** One row of the process table. */
export interface Proc {
  /** Process id. */
  readonly pid: number;
  /** Parent pid. */
  readonly ppid: number;
  /** Command name (15 characters at most). */
  readonly comm: string;
}

/** The live (non-zombie) processes. */
export function listProcs(): Proc[] {
  const result: Proc[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue; // exited meanwhile
    }
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") continue;
    result.push({ pid: Number(entry.name), ppid: Number(fields[1]), comm: stat.slice(open + 1, close) });
  }
  return result;
}

/** One variable of a process's environment, or undefined (gone, or no such variable). */
export function envOf(pid: number, name: string): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(`/proc/${pid}/environ`);
  } catch {
    return undefined;
  }
  const text = new TextDecoder("latin1").decode(bytes);
  const key = `${name}=`;
  let at = text.startsWith(key) ? 0 : text.indexOf(`\0${key}`);
  if (at === -1) return undefined;
  if (at > 0) at++;
  const end = text.indexOf("\0", at);
  return text.slice(at + key.length, end === -1 ? undefined : end);
}

/**
 * Live processes whose environment has `name` set, grouped by its value.
 *
 * @example
 * ```ts
 * const byOp = processesByEnv("SOAK_OP"); // Map { "w1-17" => [4242, 4243] }
 * ```
 */
export function processesByEnv(name: string): Map<string, Proc[]> {
  const result = new Map<string, Proc[]>();
  for (const proc of listProcs()) {
    const value = envOf(proc.pid, name);
    if (value === undefined) continue;
    const list = result.get(value) ?? [];
    list.push(proc);
    result.set(value, list);
  }
  return result;
}

/** Resident memory of a process in bytes, or undefined when it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * Established TCP connections to 127.0.0.1:`port` from this machine's clients: the soak's own HTTP
 * clients keep idle keep-alive connections open, which the server cannot close, so they are not the
 * server's leak (they are subtracted from its descriptors).
 */
export function inboundConnections(port: number): number {
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  let n = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(table);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const [, localAddress, , state] = line.trim().split(/\s+/);
      if (localAddress?.endsWith(local) && state === "01") n++;
    }
  }
  return n;
}

/** Open file descriptors of a process, or undefined when it is gone. */
export function fdCountOf(pid: number): number | undefined {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return undefined;
  }
}

/**
 * Session channels an OpenSSH daemon serves: with privilege separation each connection is a
 * `[priv]` child of the listener, which forks the user's `@notty` process, which forks one process
 * per session channel (exec, shell, the sftp subsystem). So the channels are the processes three
 * levels below the listener.
 */
export function sessionChannels(daemonPid: number, procs: readonly Proc[] = listProcs()): number {
  const children = new Map<number, Proc[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  let level = [daemonPid];
  for (let depth = 0; depth < 3; depth++) {
    level = level.flatMap((pid) => (children.get(pid) ?? []).map((p) => p.pid));
  }
  return level.length;
}

/** Per-connection processes of an sshd (its direct children): killing them cuts the links. */
export function connectionProcesses(daemonPid: number, procs: readonly Proc[] = listProcs()): number[] {
  return procs.filter((p) => p.ppid === daemonPid && p.comm.startsWith("sshd")).map((p) => p.pid);
}

/** CPU time (user + system) a process has used, in ms, or undefined when it is gone. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

let bootMs: number | undefined;

/** When a live process started (ms since the epoch, 10 ms resolution), or undefined when it is gone. */
export function startedAt(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields[0] === "Z" || fields[0] === "X") return undefined;
    bootMs ??= Number(/^btime (\d+)$/m.exec(Deno.readTextFileSync("/proc/stat"))?.[1] ?? 0) * 1000;
    // starttime is field 22 of stat(5), in clock ticks (100 per second) since boot.
    return bootMs + Number(fields[19]) * 10;
  } catch {
    return undefined;
  }
}
