/**
 * Glue for end-to-end tests: a real sshd plus the real server process plus an SDK client.
 */
import type { Client } from "@modelcontextprotocol/client";
import {
  type Era,
  httpClient,
  type HttpServerProcess,
  type ServerProcessOptions,
  startHttpServer,
} from "./server.ts";
import { type SshdOptions, startSshd, type TestSshd, type TestUserName } from "./sshd.ts";

/** Arguments of `connect` for a test user logging in with its password. */
export function passwordLogin(
  sshd: TestSshd,
  user: Exclude<TestUserName, "root"> = "mcptest",
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { host: sshd.host, port: sshd.port, username: user, password: sshd.users[user].password, ...extra };
}

/** Options of {@link withConnectedClient}. */
export interface ConnectedClientOptions {
  /** Protocol era of the HTTP client (default "modern"). */
  era?: Era;
  /** Options of the sshd. */
  sshd?: SshdOptions;
  /** Options of the server process (extra flags, env, HOME). */
  server?: ServerProcessOptions;
  /** Test user to log in as with its password (default "mcptest"). */
  user?: Exclude<TestUserName, "root">;
  /** Extra `connect` arguments (e.g. `{ alias: "bed", sudo_password }`). */
  connect?: Record<string, unknown>;
}

/** A real sshd, the server process over HTTP, and an SDK client already connected to the sshd. */
export interface ConnectedClient extends AsyncDisposable {
  /** The sshd. */
  sshd: TestSshd;
  /** The server process. */
  server: HttpServerProcess;
  /** The SDK client. */
  client: Client & AsyncDisposable;
  /** What `connect` returned (`alias`, `target`, `host_key`…). */
  connected: Record<string, unknown>;
}

/**
 * The end-to-end set-up most tool tests repeat: sshd + server + client + `connect` with a test user's
 * password. Disposes the client, then the server, then the sshd.
 *
 * @example
 * ```ts
 * await using bed = await withConnectedClient({ connect: { alias: "bed" } });
 * await call(bed.client, "run", { command: "id -un" });
 * ```
 */
export async function withConnectedClient(options: ConnectedClientOptions = {}): Promise<ConnectedClient> {
  const stack = new AsyncDisposableStack();
  try {
    const sshd = stack.use(await startSshd(options.sshd));
    const server = stack.use(await startHttpServer(options.server));
    const client = stack.use(await httpClient(server, options.era ?? "modern"));
    const connected = await call(client, "connect", passwordLogin(sshd, options.user, options.connect));
    const owned = stack.move();
    return { sshd, server, client, connected, [Symbol.asyncDispose]: () => owned.disposeAsync() };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/** Copies a test key into the server's ~/.ssh and returns its path there. */
export async function installKey(home: string, keyPath: string, name: string): Promise<string> {
  const target = `${home}/.ssh/${name}`;
  await Deno.copyFile(keyPath, target);
  await Deno.chmod(target, 0o600);
  return target;
}

/** Clients whose tools were listed (so the SDK validates structured results). */
const listed = new WeakSet<Client>();

/** Calls a tool and returns its structured content, failing on isError. */
export async function call<T = Record<string, unknown>>(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<T> {
  // Real clients list tools first, and then the SDK client checks every structuredContent against the
  // tool's outputSchema (a field the schema does not declare is a ProtocolError that loses the result).
  if (!listed.has(client)) {
    listed.add(client);
    await client.listTools();
  }
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) {
    const text = (result.content as Array<{ text?: string }>).map((c) => c.text ?? "").join("");
    throw new Error(`${name} failed: ${text}`);
  }
  return result.structuredContent as T;
}

/** Local live processes other than this one (not zombies) for which `describe` returns a description. */
function liveProcesses(describe: (pid: string) => string | undefined): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const description = describe(entry.name);
      if (description !== undefined) found.push(description);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** Local processes (not zombies) whose command line contains `needle`, as "pid: command line". */
export function processesMatching(needle: string): string[] {
  return liveProcesses((pid) => {
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
    return cmdline.includes(needle) ? `${pid}: ${cmdline}` : undefined;
  });
}

/** Pids of local processes (not zombies) whose environment holds exactly `entry` (e.g. "HOME=/x"). */
export function processesWithEnv(entry: string): number[] {
  return liveProcesses((pid) =>
    Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0").includes(entry) ? pid : undefined
  ).map(Number);
}

/** Resident memory of a process in bytes. */
export function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
  return kb * 1024;
}

/**
 * Polls `read` until `done` accepts its value or `ms` pass; returns the last value. For facts a daemon
 * records a moment after the client sees the effect (sshd's monitor logs acceptance asynchronously).
 */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 2000,
): Promise<T> {
  const until = Date.now() + ms;
  let value = await read();
  while (!done(value) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

/** A tool result as the tests inspect it. */
export interface ToolReply {
  /** `structuredContent`. */
  // deno-lint-ignore no-explicit-any
  data: any;
  /** The text content. */
  text: string;
  /** Whether the result is an `isError` result. */
  isError: boolean;
}

/** Tool-calling helpers that add `defaults` (e.g. `{ target: "bed" }`) to the arguments of every tool that accepts them. */
export interface ToolCalls {
  /** Calls a tool and returns its reply, error or not. */
  call(client: Client, name: string, args?: Record<string, unknown>): Promise<ToolReply>;
  /** Calls a tool and asserts that it succeeded. */
  ok(client: Client, name: string, args?: Record<string, unknown>): Promise<ToolReply>;
  /**
   * Calls a tool that must refuse the arguments and returns the message. A schema error may arrive as
   * a protocol error instead of an `isError` result; an accepted call fails the test.
   */
  refused(client: Client, name: string, args: Record<string, unknown>): Promise<string>;
}

/**
 * Builds {@link ToolCalls} for a test file.
 *
 * @example
 * ```ts
 * const { call, ok, refused } = toolCalls({ target: "bed" });
 * ```
 */
export function toolCalls(defaults: Record<string, unknown> = {}): ToolCalls {
  // Inputs are strict, so a default goes only to the tools that accept it (`connect` takes no target).
  const accepted = new WeakMap<Client, Promise<Map<string, Set<string>>>>();
  const acceptedBy = (client: Client, name: string) => {
    let names = accepted.get(client);
    if (names === undefined) {
      names = client.listTools().then(({ tools }) =>
        new Map(tools.map((t) => [t.name, new Set(Object.keys(t.inputSchema.properties ?? {}))]))
      );
      accepted.set(client, names);
    }
    return names.then((map) => map.get(name) ?? new Set<string>());
  };
  const call = async (
    client: Client,
    name: string,
    args: Record<string, unknown> = {},
  ): Promise<ToolReply> => {
    const known = Object.keys(defaults).length === 0 ? new Set<string>() : await acceptedBy(client, name);
    const applied = Object.fromEntries(Object.entries(defaults).filter(([key]) => known.has(key)));
    const result = await client.callTool({ name, arguments: { ...applied, ...args } });
    const text = (result.content as Array<{ text?: string }> | undefined ?? []).map((c) => c.text ?? "").join(
      "",
    );
    return { data: result.structuredContent, text, isError: result.isError === true };
  };
  return {
    call,
    async ok(client, name, args = {}) {
      const reply = await call(client, name, args);
      if (reply.isError) throw new Error(`${name} failed: ${reply.text}`);
      return reply;
    },
    async refused(client, name, args) {
      let reply: ToolReply;
      try {
        reply = await call(client, name, args);
      } catch (error) {
        return String(error);
      }
      if (!reply.isError) throw new Error(`${name} accepted ${JSON.stringify(args)}: ${reply.text}`);
      return reply.text;
    },
  };
}
