/**
 * The in-process tier: the real `createServer` (tools, middleware, session scoping, audit) served by
 * the SDK's stdio entry (both protocol eras) and a real SDK client, linked by the SDK's in-memory
 * transport pair instead of a subprocess and pipes. SSH connections
 * come from `open` (a fake at the `SshConnection` seam by default; see fake_connection.ts).
 *
 * What this tier does not cover (the end-to-end tier does): permission flags, stdio/HTTP framing,
 * main.ts, and every byte a real sshd and remote shell add.
 */
import { Client, type ElicitResult, InMemoryTransport } from "@modelcontextprotocol/client";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { parseConfig } from "../../src/config.ts";
import { SessionPool } from "../../src/session/pool.ts";
import { scopeResolver } from "../../src/session/scope.ts";
import { createServer, type ServerOptions } from "../../src/server.ts";
import type { OpenOptions } from "../../src/ssh/client.ts";
import type { SshConnection } from "../../src/ssh/connection.ts";
import type { HostKeyVerdict } from "../../src/ssh/host_keys/policy.ts";
import { ConnectionManager } from "../../src/ssh/manager.ts";
import type { ApprovalAuditEntry, AuditEntry } from "../../src/tools/audit.ts";
import type { ApprovalOptions } from "../../src/tools/middleware/mod.ts";
import { type ToolDefinition, type ToolLimits, TOOLSET_NAMES } from "../../src/tools/define.ts";
import { selectTools } from "../../src/tools/registry.ts";
import type { Era } from "./server.ts";

/** The server's default configuration (no flags, no environment). */
const DEFAULTS = (() => {
  const parsed = parseConfig([], { HOME: "/nonexistent" });
  if (parsed.kind !== "config") throw new Error("the default configuration did not parse");
  return parsed.config;
})();

/** Limits of the in-process server unless a test gives others: those of the default configuration. */
export const DEFAULT_LIMITS: ToolLimits = {
  maxOutputBytes: DEFAULTS.maxOutputBytes,
  commandTimeoutMs: DEFAULTS.commandTimeoutSeconds * 1000,
  maxCommandTimeoutMs: DEFAULTS.maxCommandTimeoutSeconds * 1000,
  runWaitMs: DEFAULTS.runWaitSeconds * 1000,
};

/** A fixed identity for tests (the public half only; nothing signs with it here). */
export const TEST_IDENTITY = {
  publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE9PmDu0ZmXk2hYH6gN7g1Zr4lJm1mV0sG2a0m6k5a4a ssh-mcp",
  fingerprint: "SHA256:in-memory-test-identity",
};

/** Options of {@link inMemoryClient}. */
export interface InMemoryOptions {
  /** Protocol era the client speaks (default "legacy"). */
  era?: Era;
  /** Tools to expose (default: every toolset, read-write). */
  tools?: readonly ToolDefinition[];
  /** Limits handed to handlers. */
  limits?: Partial<ToolLimits>;
  /** Opens SSH connections (the manager's seam). Without it, `connect` fails like an unreachable host. */
  open?: (options: OpenOptions) => Promise<SshConnection>;
  /** Host-key verdict for every connect (default: "known"). */
  verifyHostKey?: (host: string, port: number, blob: Uint8Array) => Promise<HostKeyVerdict>;
  /** One pool for every client (`-global`). */
  global?: boolean;
  /** `-confirm` / `-policy` (SPEC §11). */
  approval?: ApprovalOptions;
  /** Declares the elicitation capability and answers each question (the message) with this. */
  elicit?: (message: string) => ElicitResult;
  /** More server options (resources, prompts, surface dependencies such as `jobs`, poll interval). */
  serverOptions?: Partial<Omit<ServerOptions, "openScope" | "tools" | "limits">>;
}

/** The server side of the in-process tier: a pool and what every server instance needs. */
export interface InProcessServer {
  /** The session pool. */
  pool: SessionPool;
  /** Everything `createServer` needs except the scope resolver. */
  server: Omit<ServerOptions, "openScope">;
  /** Audit lines written so far. */
  audit: AuditEntry[];
  /** Audit lines of approval questions and answers written so far. */
  approvals: ApprovalAuditEntry[];
}

/** Pool limits of {@link inProcessServer}. */
export interface PoolLimits {
  /** Sessions per principal (default 100). */
  maxPerPrincipal?: number;
  /** Sessions in total (default 1000). */
  maxTotal?: number;
}

/** Builds the pool and server options main.ts would build, with SSH connections from `open`. */
export function inProcessServer(options: InMemoryOptions & PoolLimits = {}): InProcessServer {
  const audit: AuditEntry[] = [];
  const approvals: ApprovalAuditEntry[] = [];
  const open = options.open ?? (() => Promise.reject(new Error("connect ECONNREFUSED (in-memory tier)")));
  const verifyHostKey = options.verifyHostKey ??
    (() =>
      Promise.resolve<HostKeyVerdict>({ status: "known", fingerprint: "SHA256:fake", message: "known" }));
  const pool = new SessionPool({
    makeManager: () =>
      new ConnectionManager({
        verifyHostKey,
        credentials: { dataDir: "/nonexistent/ssh-mcp-in-memory" },
        connectTimeoutMs: 2_000,
        keepaliveIntervalMs: 0,
        keepaliveCountMax: 3,
        open,
      }),
    idleTimeoutMs: 3_600_000,
    maxPerPrincipal: options.maxPerPrincipal ?? 100,
    maxTotal: options.maxTotal ?? 1000,
  });
  const server = {
    tools: options.tools ?? selectTools({ toolsets: TOOLSET_NAMES, readOnly: false }),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    audit: {
      write: (entry: AuditEntry | ApprovalAuditEntry) =>
        void ("event" in entry ? approvals.push(entry) : audit.push(entry)),
    },
    approval: options.approval,
    identity: TEST_IDENTITY,
    ...options.serverOptions,
  };
  return { pool, server, audit, approvals };
}

/** A connected in-process client and what the server did. */
export interface InMemoryPair extends AsyncDisposable {
  /** The SDK client. */
  client: Client;
  /** The server's session pool. */
  pool: SessionPool;
  /** Audit lines of calls written so far. */
  audit: AuditEntry[];
  /** Audit lines of approval questions and answers written so far. */
  approvals: ApprovalAuditEntry[];
}

/**
 * Connects a real SDK client to a real server instance in this process.
 *
 * @example
 * ```ts
 * const { open } = fakeOpener({ respond: () => ({ stdout: "hi\n" }) });
 * await using pair = await inMemoryClient({ open });
 * await pair.client.callTool({ name: "connect", arguments: { host: "h", username: "u", password: "p" } });
 * ```
 */
export async function inMemoryClient(options: InMemoryOptions = {}): Promise<InMemoryPair> {
  const { pool, server, audit, approvals } = inProcessServer(options);
  const serverOptions: ServerOptions = {
    ...server,
    openScope: scopeResolver({
      pool,
      global: options.global ?? false,
      sessionHeader: "x-session-key",
      fallbackKey: "stdio",
    }),
  };
  const client = new Client(
    { name: "ssh-mcp-tests", version: "1.0.0" },
    {
      ...(options.era === "modern" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}),
      ...(options.elicit === undefined ? {} : { capabilities: { elicitation: { form: {} } } }),
    },
  );
  const elicit = options.elicit;
  if (elicit !== undefined) {
    client.setRequestHandler(
      "elicitation/create",
      (request) => Promise.resolve(elicit(String(request.params.message))),
    );
  }
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  // The stdio face's entry (both eras, one session per connection) over the in-memory wire.
  const served = serveStdio(() => createServer(serverOptions), { transport: serverSide });
  await client.connect(clientSide);
  return {
    client,
    pool,
    audit,
    approvals,
    async [Symbol.asyncDispose]() {
      await client.close();
      await served.close();
      await pool[Symbol.asyncDispose]();
    },
  };
}
