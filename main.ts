/**
 * ssh-mcp entry point: the only reader of Deno.args, Deno.env and Deno.exit.
 *
 * parseConfig → logging → data dir → identity → pool → stdio | HTTP, and an orderly shutdown on
 * SIGINT/SIGTERM (or stdin closing in stdio mode).
 */
import { ConfigError, ENV_VARS, parseConfig, redact } from "./src/config.ts";
import { logger, setupLogging } from "./src/log.ts";
import { SessionPool } from "./src/session/pool.ts";
import { ConnectionManager } from "./src/ssh/manager.ts";
import { hostKeyVerifier, preferredAlgorithms } from "./src/ssh/host_keys/policy.ts";
import { KnownHosts } from "./src/ssh/host_keys/store.ts";
import { ensureIdentity } from "./src/ssh/identity.ts";
import { confirmingVerifier, presentedKeyBlob } from "./src/ssh/host_keys/confirm.ts";
import { FileAuditLog } from "./src/tools/audit.ts";
import { ApprovalStates } from "./src/tools/middleware/approval_state.ts";
import type { ApprovalOptions } from "./src/tools/middleware/mod.ts";
import { parsePolicy, type Policy, PolicyError } from "./src/tools/policy.ts";
import { selectTools } from "./src/tools/registry.ts";
import { createHttpHandler } from "./src/transport/http.ts";
import { runStdio } from "./src/transport/stdio.ts";
import { VERSION } from "./src/version.ts";

/** Shutdown must finish within this time (SPEC §4). */
const SHUTDOWN_LIMIT_MS = 10_000;

function readEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const name of ENV_VARS) {
    try {
      env[name] = Deno.env.get(name);
    } catch {
      // Not granted: treated as unset.
    }
  }
  return env;
}

/** Reads and validates the -policy file; a mistake is one line on stderr and exit code 2. */
async function loadPolicy(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ? "not readable by the server (its permissions allow reading only ~/.ssh and the data dir: put the file there)"
      : (error as Error).message;
    throw new PolicyError(path, "$", `Cannot read policy file ${path} (-policy, env SSH_MCP_POLICY): ${why}`);
  }
  return parsePolicy(text, path);
}

async function main(): Promise<number> {
  const env = readEnv();
  let parsed;
  try {
    parsed = parseConfig(Deno.args, env, { home: env.HOME });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ssh-mcp: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (parsed.kind === "help") {
    console.log(parsed.text);
    return 0;
  }
  if (parsed.kind === "version") {
    console.log(`ssh-mcp ${VERSION}`);
    return 0;
  }
  const config = parsed.config;
  let policy: Policy | undefined;
  try {
    policy = config.policyFile === undefined ? undefined : await loadPolicy(config.policyFile);
  } catch (error) {
    if (error instanceof PolicyError) {
      console.error(`ssh-mcp: ${error.message}`);
      return 2;
    }
    throw error;
  }
  setupLogging({ debug: config.debug });
  const log = logger("main");
  for (const warning of parsed.warnings) log.warn(warning);
  log.debug("configuration {config}", { config: redact(config) });

  await Deno.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const identity = await ensureIdentity(config.dataDir);
  const sshDir = env.HOME ? `${env.HOME}/.ssh` : undefined;
  const knownHosts = new KnownHosts([
    ...(sshDir ? [{ path: `${sshDir}/known_hosts` }] : []),
    { path: `${config.dataDir}/known_hosts`, writable: true },
  ]);
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
        credentials: { sshDir, dataDir: config.dataDir, agentSocket: env.SSH_AUTH_SOCK },
        sshConfig: env.HOME ? { path: `${env.HOME}/.ssh/config`, home: env.HOME } : undefined,
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
    },
    audit,
    approval,
    identity: { publicKey: identity.publicKey, fingerprint: identity.fingerprint },
    log: (message: string, properties: Record<string, unknown>) => log.debug(message, properties),
  };

  const shutdown = new AbortController();
  const onSignal = () => shutdown.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const closeAll = async () => {
    const timer = setTimeout(() => {
      log.error("shutdown took longer than {ms} ms; exiting", { ms: SHUTDOWN_LIMIT_MS });
      Deno.exit(1);
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
  const httpServer = Deno.serve({
    hostname: config.host,
    port: config.port,
    onListen: ({ hostname, port }) =>
      log.info("ssh-mcp {version} serving MCP on http://{hostname}:{port}/mcp", {
        version: VERSION,
        hostname,
        port,
      }),
  }, handler.fetch);
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

Deno.exit(await main());
