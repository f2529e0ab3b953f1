/**
 * Starts the real server as a subprocess under exactly the permission flags of the `start` task
 * (read from deno.json), with a private HOME, and connects real SDK clients to it.
 */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * The `deno run …` argv of the start task, exactly as deno.json has it (the flags name no path, so
 * `home` changes nothing in them; it stays a parameter for the callers).
 */
export async function startTaskArgs(_home: string): Promise<string[]> {
  const deno = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const task: string = deno.tasks.start;
  const words = task.split(/\s+/).filter(Boolean);
  if (words[0] !== "deno") throw new Error(`start task must begin with deno: ${task}`);
  if (task.includes("$")) throw new Error(`start task must not depend on the shell: ${task}`);
  return words.slice(1).map((w) => (w === "main.ts" ? `${ROOT}main.ts` : w));
}

/**
 * `deno run` + exactly the flags the compile task bakes into the binary (without what only `deno
 * compile` takes: `--include`, `--output`, `--target`), for `script` (main.ts by default).
 */
export async function compileTaskRunArgs(script = `${ROOT}main.ts`): Promise<string[]> {
  const deno = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const words: string[] = deno.tasks.compile.split(/\s+/).filter(Boolean);
  if (words[0] !== "deno" || words[1] !== "compile") throw new Error(`compile task: ${deno.tasks.compile}`);
  const only = ["--include", "--output", "--target"];
  const flags = words.slice(2, -1).filter((w, i, all) => !only.includes(w) && !only.includes(all[i - 1]!));
  return ["run", ...flags, script];
}

/**
 * Environment for a server subprocess: a private HOME, but the caller's Deno cache (the cache lives
 * under HOME by default, and a fresh one would re-download every npm package).
 */
export function serverEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const denoDir = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
  return {
    HOME: home,
    DENO_DIR: denoDir,
    NO_COLOR: "1",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    ...extra,
  };
}

/** Options of {@link startHttpServer} and {@link stdioClient}. */
export interface ServerProcessOptions {
  /** Extra CLI args (after main.ts). */
  args?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** HOME to use (a fresh temp dir by default). */
  home?: string;
}

/** A fresh HOME with an empty ~/.ssh. */
export async function makeHome(): Promise<string> {
  const home = await Deno.makeTempDir({ prefix: "ssh-mcp-home-" });
  await Deno.mkdir(`${home}/.ssh`, { mode: 0o700 });
  return home;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A running HTTP server process. */
export interface HttpServerProcess extends AsyncDisposable {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  /** Port. */
  port: number;
  /** HOME of the process. */
  home: string;
  /** Data dir. */
  dataDir: string;
  /** stderr so far. */
  stderr(): string;
  /** The child. */
  child: Deno.ChildProcess;
  /** Sends a signal and waits for exit; returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Starts `main.ts -mode http` on a free port and waits for /healthz. */
export async function startHttpServer(options: ServerProcessOptions = {}): Promise<HttpServerProcess> {
  const home = options.home ?? await makeHome();
  const port = freePort();
  const args = [
    ...await startTaskArgs(home),
    "-mode",
    "http",
    "-port",
    String(port),
    ...(options.args ?? []),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: serverEnv(home, options.env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let err = "";
  const decoder = new TextDecoder();
  const pumps = [
    child.stderr.pipeTo(new WritableStream({ write: (c) => void (err += decoder.decode(c)) })).catch(
      () => {},
    ),
    child.stdout.pipeTo(new WritableStream({ write: (c) => void (err += decoder.decode(c)) })).catch(
      () => {},
    ),
  ];
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  let status: Deno.CommandStatus | undefined;
  child.status.then((s) => status = s);
  while (true) {
    if (status !== undefined) throw new Error(`server exited early (${status.code}):\n${err}`);
    try {
      const r = await fetch(`${url}/healthz`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`server did not start:\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  let stopped: Promise<number> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    stopped ??= (async () => {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      const s = await child.status;
      await Promise.all(pumps);
      return s.code;
    })();
    return stopped;
  };
  return {
    url,
    port,
    home,
    dataDir: `${home}/.local/share/ssh-mcp`,
    stderr: () => err,
    child,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      if (options.home === undefined) await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

/** Protocol era a client speaks. */
export type Era = "legacy" | "modern";

function clientFor(era: Era): Client {
  return new Client(
    { name: "ssh-mcp-tests", version: "1.0.0" },
    era === "modern" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {},
  );
}

/** An SDK client over HTTP in the given era. */
export async function httpClient(
  server: { url: string },
  era: Era,
  headers: Record<string, string> = {},
): Promise<Client & AsyncDisposable> {
  const client = clientFor(era);
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
    requestInit: { headers },
  });
  await client.connect(transport);
  return Object.assign(client, {
    async [Symbol.asyncDispose]() {
      if (era === "legacy") await transport.terminateSession().catch(() => {});
      await client.close();
    },
  });
}

/** A stdio client that launches the server itself (same flags as the start task). */
export async function stdioClient(
  era: Era,
  options: ServerProcessOptions = {},
): Promise<{ client: Client; home: string; stderr: () => string } & AsyncDisposable> {
  const home = options.home ?? await makeHome();
  const args = [...await startTaskArgs(home), "-mode", "stdio", ...(options.args ?? [])];
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args,
    env: serverEnv(home, options.env),
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (chunk: Uint8Array) => void (err += new TextDecoder().decode(chunk)));
  const client = clientFor(era);
  await client.connect(transport);
  return {
    client,
    home,
    stderr: () => err,
    async [Symbol.asyncDispose]() {
      await client.close();
      if (options.home === undefined) await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

/** The text of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? "").join("");
}
