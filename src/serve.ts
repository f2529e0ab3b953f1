/**
 * The server, run by `main.ts` in the sandbox Worker (src/sandbox/): logging → identity → pool →
 * stdio | HTTP, and an orderly shutdown on SIGINT/SIGTERM (or stdin closing in stdio mode).
 *
 * Everything here runs with the Worker's permissions only: the network, read of `~/.ssh`, read and
 * write of the data dir (and the ssh-agent socket). The configuration and the paths come in the start
 * message; this module reads no arguments and no environment.
 */
import { type Config, redact } from "./config.ts";
import { logger, setupLogging } from "./log.ts";
import { exitSandboxed, onParentMessage, postToParent, serveSandboxed } from "./sandbox/worker.ts";
import { SessionPool } from "./session/pool.ts";
import { ConnectionManager } from "./ssh/manager.ts";
import { hostKeyVerifier, preferredAlgorithms } from "./ssh/host_keys/policy.ts";
import { KnownHosts } from "./ssh/host_keys/store.ts";
import { configHostNames } from "./ssh/config/hosts.ts";
import { ensureIdentity } from "./ssh/identity.ts";
import { confirmingVerifier, presentedKeyBlob } from "./ssh/host_keys/confirm.ts";
import { FileAuditLog } from "./tools/audit.ts";
import { ApprovalStates } from "./tools/middleware/approval_state.ts";
import type { ApprovalOptions } from "./tools/middleware/mod.ts";
import { parsePolicy, type Policy, PolicyError } from "./tools/policy.ts";
import { selectTools } from "./tools/registry.ts";
import { createHttpHandler } from "./transport/http.ts";
import { runStdio } from "./transport/stdio.ts";
import { VERSION } from "./version.ts";

/** Shutdown must finish within this time (SPEC §4). */
const SHUTDOWN_LIMIT_MS = 10_000;

/** What `main.ts` hands the Worker: the configuration and the paths the sandbox allows. */
export interface ServePayload {
  /** The validated configuration (its data dir is the one the sandbox checked and created). */
  config: Config;
  /** The user's home (for `~` in ~/.ssh/config), if any. */
  home?: string;
  /** `~/.ssh`, if there is a home. */
  sshDir?: string;
  /** The ssh-agent socket, when the sandbox allows it. */
  agentSocket?: string;
  /** The -policy file as main.ts read it (any path the process may read); parsed here. */
  policy?: { path: string; text: string };
  /** Start-up remarks for the log (unknown variables, a skipped agent). */
  warnings: string[];
}

async function serve(payload: ServePayload): Promise<number> {
  const { config, home, sshDir, agentSocket } = payload;
  let policy: Policy | undefined;
  try {
    policy = payload.policy === undefined ? undefined : parsePolicy(payload.policy.text, payload.policy.path);
  } catch (error) {
    if (error instanceof PolicyError) {
      console.error(`ssh-mcp: ${error.message}`);
      return 2;
    }
    throw error;
  }
  setupLogging({ debug: config.debug });
  const log = logger("main");
  for (const warning of payload.warnings) log.warn(warning);
  log.debug("configuration {config}", { config: redact(config) });

  const identity = await ensureIdentity(config.dataDir);
  const knownHostsFiles = [
    ...(sshDir ? [{ path: `${sshDir}/known_hosts` }] : []),
    { path: `${config.dataDir}/known_hosts`, writable: true },
  ];
  const knownHosts = new KnownHosts(knownHostsFiles);
  const sshConfig = home && sshDir ? { path: `${sshDir}/config`, home } : undefined;
  const asksHostKeys = config.confirm.includes("host-key") ||
    (policy?.rules.some((rule) => rule.confirm?.includes("host-key")) ?? false);
  const verifyHostKey = asksHostKeys
    ? confirmingVerifier(hostKeyVerifier(config.hostKeys, knownHosts), {
      policy: config.hostKeys,
      knownHosts,
    })
    : hostKeyVerifier(config.hostKeys, knownHosts);
  const approval: ApprovalOptions | undefined = config.confirm.length > 0 || policy !== undefined
    ? {
      confirm: config.confirm,
      policy,
      states: new ApprovalStates(),
      recordHostKey: async (key) => void await knownHosts.record(key.host, key.port, presentedKeyBlob(key)),
    }
    : undefined;
  if (approval !== undefined) {
    log.info("approval: -confirm {confirm}; policy {policy}", {
      confirm: config.confirm.join(",") || "none",
      policy: policy === undefined ? "none" : `${policy.file} (${policy.rules.length} rules)`,
    });
  }
  if (config.hostKeys === "off") {
    log.warn("host key verification is OFF: every connect is open to impersonation");
  }
  const audit = new FileAuditLog(
    `${config.dataDir}/audit.log`,
    (error) => log.error("audit log: {error}", { error }),
  );
  const pool = new SessionPool({
    makeManager: () =>
      new ConnectionManager({
        verifyHostKey,
        preferredHostKeyAlgorithms: preferredAlgorithms(knownHosts),
        credentials: { sshDir, dataDir: config.dataDir, agentSocket },
        sshConfig,
        connectTimeoutMs: 15_000,
        keepaliveIntervalMs: config.keepaliveIntervalSeconds * 1000,
        keepaliveCountMax: config.keepaliveCountMax,
      }),
    idleTimeoutMs: config.sessionTimeoutSeconds * 1000,
    maxPerPrincipal: config.maxSessionsPerPrincipal,
    maxTotal: config.maxSessions,
    onReap: (session) => log.debug("reaped idle session {id}", { id: session.id }),
  });
  pool.startReaper();
  const server = {
    tools: selectTools({ toolsets: config.toolsets, readOnly: config.readOnly }),
    limits: {
      maxOutputBytes: config.maxOutputBytes,
      commandTimeoutMs: config.commandTimeoutSeconds * 1000,
      maxCommandTimeoutMs: config.maxCommandTimeoutSeconds * 1000,
      fanout: config.fanout,
      transferDir: config.transferDir,
      runWaitMs: config.runWaitSeconds * 1000,
    },
    audit,
    approval,
    identity: { publicKey: identity.publicKey, fingerprint: identity.fingerprint },
    log: (message: string, properties: Record<string, unknown>) => log.debug(message, properties),
    surface: {
      configHosts: () => {
        try {
          return configHostNames(sshConfig);
        } catch {
          return []; // an invalid ~/.ssh/config offers no completions; `connect` reports the error
        }
      },
      knownHosts: knownHostsFiles,
    },
  };

  const shutdown = new AbortController();
  const onSignal = () => shutdown.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const closeAll = async () => {
    const timer = setTimeout(() => {
      log.error("shutdown took longer than {ms} ms; exiting", { ms: SHUTDOWN_LIMIT_MS });
      exitSandboxed(1);
    }, SHUTDOWN_LIMIT_MS);
    await pool[Symbol.asyncDispose]();
    await audit[Symbol.asyncDispose]();
    clearTimeout(timer);
  };
  if (config.mode === "stdio") {
    log.info("ssh-mcp {version} serving MCP on stdio", { version: VERSION });
    const why = await Promise.race([
      runStdio({
        pool,
        server,
        global: config.global,
        onError: (e) => log.debug("stdio: {e}", { e: e.message }),
        stdin: (handler) => onParentMessage(handler as (message: unknown) => void),
        onServing: () => postToParent({ type: "stdio-ready" }),
      }),
      new Promise((resolve) =>
        shutdown.signal.addEventListener("abort", () => resolve("signal"), { once: true })
      ),
    ]);
    await closeAll();
    if (why === "transport-closed") {
      log.error("stdio input held a message over 8 MiB (or was not JSON-RPC framing); closed the connection");
      return 1;
    }
    return 0;
  }

  const handler = createHttpHandler({
    config,
    pool,
    server,
    version: VERSION,
    onError: (e) => log.debug("http: {e}", { e: e.message }),
  });
  let httpServer: Deno.HttpServer;
  try {
    httpServer = Deno.serve({
      hostname: config.host,
      port: config.port,
      onListen: ({ hostname, port }) =>
        log.info("ssh-mcp {version} serving MCP on http://{hostname}:{port}/mcp", {
          version: VERSION,
          hostname,
          port,
        }),
    }, handler.fetch);
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.AddrNotAvailable)) {
      throw error;
    }
    // One line, no stack trace: the operator's next step is another -port or -host.
    console.error(
      `ssh-mcp: Cannot listen on ${config.host}:${config.port}: ${
        error instanceof Deno.errors.AddrInUse ? "the address is in use" : "no such local address"
      }; stop the other server or pass another -port (env PORT) or -host (env SSH_MCP_HOST)`,
    );
    await pool[Symbol.asyncDispose]();
    await handler[Symbol.asyncDispose]();
    await closeAll();
    return 1;
  }
  await new Promise((resolve) => shutdown.signal.addEventListener("abort", resolve, { once: true }));
  log.info("shutting down");
  // Cancel running calls first (their results are still delivered), then close the transports and
  // let the HTTP server finish what it is writing.
  await pool[Symbol.asyncDispose]();
  await handler[Symbol.asyncDispose]();
  await Promise.race([httpServer.shutdown(), new Promise((r) => setTimeout(r, 2000))]);
  await closeAll();
  return 0;
}

serveSandboxed(serve);
