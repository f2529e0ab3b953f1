/**
 * The MCP clients of the soak: the official SDK client over HTTP (to the shared {@link SoakServer})
 * or over stdio (launching its own server process), in either protocol era. A client that lost its
 * transport (server killed, session gone) is rebuilt on the next call; every rebuild is a new
 * "generation", so the workload can tell a session the server dropped on its own from one that
 * ended because the process or the client went away.
 *
 * @module
 */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { serverEnv, startTaskArgs } from "../../tests/_helpers/server.ts";
import { CRASH_PATTERN, type SoakServer } from "./server_process.ts";

/** Transport and protocol era of a client. */
export type ClientKind = "http-modern" | "http-legacy" | "stdio-modern" | "stdio-legacy";

/** A tool call's answer, or the transport failure that replaced it. */
export interface Reply {
  /** The call returned a result that is not `isError`. */
  ok: boolean;
  /** `structuredContent`. */
  // deno-lint-ignore no-explicit-any
  data: any;
  /** Text content. */
  text: string;
  /** `_meta["ssh-mcp/error-code"]` of an error result. */
  code?: string;
  /** Set when no result came back (transport error, timeout, abort). */
  transportError?: string;
}

/** Options of {@link SoakClient}. */
export interface SoakClientOptions {
  /** Name used in logs. */
  name: string;
  /** The HTTP server (HTTP kinds). */
  server?: SoakServer;
  /** HOME of the stdio server process (kept across generations, like a user's). */
  home?: string;
  /** Extra server flags (stdio kinds). */
  serverArgs?: string[];
  /** Sticky session key header (HTTP). */
  sessionKey?: string;
}

/** A stdio server that ended without being asked to. */
export interface StdioExit {
  /** Client name. */
  client: string;
  /** Generation. */
  generation: number;
  /** Last stderr. */
  tail: string;
  /** When. */
  at: number;
}

const MODERN = "2026-07-28";

/** One MCP client that rebuilds itself after its transport failed. */
export class SoakClient implements AsyncDisposable {
  readonly kind: ClientKind;
  readonly name: string;
  /** Incremented on every (re)connect. */
  generation = 0;
  /** stdio servers that ended on their own. */
  readonly stdioExits: StdioExit[] = [];
  #options: SoakClientOptions;
  #client: Client | undefined;
  #http: StreamableHTTPClientTransport | undefined;
  #stdio: StdioClientTransport | undefined;
  #connecting: Promise<Client> | undefined;
  #expectClose = false;
  #stderr: string[] = [];
  #tools: string[] = [];

  constructor(kind: ClientKind, options: SoakClientOptions) {
    this.kind = kind;
    this.name = options.name;
    this.#options = options;
    if (kind.startsWith("http") && options.server === undefined) throw new TypeError("HTTP needs a server");
    if (kind.startsWith("stdio") && options.home === undefined) throw new TypeError("stdio needs a home");
  }

  /** Era of the client. */
  get era(): "modern" | "legacy" {
    return this.kind.endsWith("modern") ? "modern" : "legacy";
  }

  /** Identity of the server-side session the next call reaches: changes with a new process or client. */
  get sessionEpoch(): string {
    return this.kind.startsWith("http")
      ? `${this.#options.server!.epoch}/${this.generation}`
      : `${this.generation}`;
  }

  /** Pid of the stdio server process. */
  get stdioPid(): number | undefined {
    return this.#stdio?.pid ?? undefined;
  }

  /** Tool names of the last tools/list. */
  get tools(): readonly string[] {
    return this.#tools;
  }

  /** stderr of every stdio server this client launched. */
  stderr(): string {
    return this.#stderr.join("");
  }

  /** Connects if needed (waiting up to 30 s for an HTTP server that is restarting). */
  async ensure(): Promise<Client> {
    if (this.#client) return this.#client;
    this.#connecting ??= this.#connect().finally(() => this.#connecting = undefined);
    return await this.#connecting;
  }

  async #connect(): Promise<Client> {
    const client = new Client(
      { name: `ssh-mcp-soak-${this.name}`, version: "1.0.0" },
      this.era === "modern" ? { versionNegotiation: { mode: { pin: MODERN } } } : {},
    );
    const generation = ++this.generation;
    this.#expectClose = false;
    if (this.kind.startsWith("http")) {
      const server = this.#options.server!;
      const until = Date.now() + 30_000;
      while (!await server.healthy(1000)) {
        if (Date.now() > until) throw new Error(`${this.name}: the HTTP server is not answering /healthz`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const headers: Record<string, string> = this.#options.sessionKey === undefined
        ? {}
        : { "X-Session-Key": this.#options.sessionKey };
      this.#http = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
        requestInit: { headers },
      });
      await client.connect(this.#http);
    } else {
      const home = this.#options.home!;
      const args = [...await startTaskArgs(home), "-mode", "stdio", ...(this.#options.serverArgs ?? [])];
      const transport = new StdioClientTransport({
        command: Deno.execPath(),
        args,
        env: serverEnv(home),
        stderr: "pipe",
      });
      const decoder = new TextDecoder();
      transport.stderr?.on("data", (chunk: Uint8Array) => {
        this.#stderr.push(`[g${generation}] ${decoder.decode(chunk)}`);
      });
      this.#stdio = transport;
      await client.connect(transport);
    }
    client.onclose = () => {
      if (this.#client === client) this.#client = undefined;
      if (this.kind.startsWith("stdio") && !this.#expectClose) {
        const tail = this.#stderr.filter((l) => l.startsWith(`[g${generation}]`)).join("").slice(-2000);
        this.stdioExits.push({ client: this.name, generation, tail, at: Date.now() });
      }
    };
    this.#tools = (await client.listTools()).tools.map((t) => t.name);
    this.#client = client;
    return client;
  }

  /**
   * Calls a tool. A thrown error (transport, timeout, abort) comes back as `transportError` and
   * the client is rebuilt on the next call.
   */
  async call(
    name: string,
    args: Record<string, unknown>,
    options: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<Reply> {
    let client: Client;
    try {
      client = await this.ensure();
    } catch (error) {
      return { ok: false, data: undefined, text: "", transportError: `connect: ${errorText(error)}` };
    }
    try {
      const result = await client.callTool({ name, arguments: args }, {
        signal: options.signal,
        timeout: options.timeoutMs ?? 90_000,
      });
      const text = (result.content as Array<{ text?: string }> | undefined ?? []).map((c) => c.text ?? "")
        .join("");
      const code = (result._meta as Record<string, unknown> | undefined)?.["ssh-mcp/error-code"];
      return {
        ok: result.isError !== true,
        data: result.structuredContent,
        text,
        ...(typeof code === "string" ? { code } : {}),
      };
    } catch (error) {
      const text = errorText(error);
      // An aborted call leaves the client usable; anything else may have broken the transport.
      if (!options.signal?.aborted) await this.#discard();
      return { ok: false, data: undefined, text: "", transportError: text };
    }
  }

  /** SIGKILLs the stdio server process (the client sees its transport close). */
  killStdioServer(): boolean {
    const pid = this.stdioPid;
    if (pid === undefined) return false;
    this.#expectClose = true;
    try {
      Deno.kill(pid, "SIGKILL");
      return true;
    } catch {
      return false;
    }
  }

  /** Drops the client without ending its session (no DELETE), as a crashed agent would. */
  async drop(): Promise<void> {
    await this.#discard();
  }

  /** Crash patterns in the stdio servers' stderr. */
  crashLines(): string[] {
    return this.stderr().split("\n").filter((l) => CRASH_PATTERN.test(l));
  }

  async #discard(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#expectClose = true;
    this.#http = undefined;
    this.#stdio = undefined;
    await client?.close().catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const client = this.#client;
    this.#expectClose = true;
    if (this.kind === "http-legacy") await this.#http?.terminateSession().catch(() => {});
    this.#client = undefined;
    await client?.close().catch(() => {});
  }
}

/** A short text for an error. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 500);
  return String(error).slice(0, 500);
}
