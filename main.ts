/**
 * ssh-mcp entry point: the only reader of Deno.args, Deno.env and Deno.exit.
 *
 * parseConfig → sandbox plan (the paths this user's server may use, checked and created) → the server
 * (src/serve.ts) in a Worker whose Deno permissions name only those paths → exit with its code. In
 * stdio mode this thread reads stdin from the start and answers the handshake while the Worker loads.
 *
 * This module runs with the process's wide file permissions (src/sandbox/flags.ts): it imports only
 * our own configuration and sandbox code, never a third-party module (tests/sandbox/ checks this).
 */
import { fileURLToPath } from "node:url";
import { type Config, ConfigError, ENV_VARS, parseConfig } from "./src/config.ts";
import { planSandbox } from "./src/sandbox/plan.ts";
import { runSandboxed } from "./src/sandbox/worker.ts";
import type { ServePayload } from "./src/serve.ts";
import { StdinRelay } from "./src/transport/early.ts";
import { VERSION } from "./src/version.ts";

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

/**
 * Reads the -policy file here, where any path the process may read will do (the Worker parses it).
 * A file that cannot be read is one line on stderr and exit code 2.
 */
async function readPolicy(path: string): Promise<{ path: string; text: string }> {
  try {
    return { path, text: await Deno.readTextFile(path) };
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : (error as Error).message.split("\n")[0];
    throw new ConfigError(
      "-policy",
      `Cannot read policy file ${path} (-policy, env SSH_MCP_POLICY): ${why}`,
      {
        env: "SSH_MCP_POLICY",
      },
    );
  }
}

/** vendor/: the patched ssh2 (vendor/ssh2/PATCH.md), CommonJS that require() reads and resolves from there. */
const VENDORED_CODE = fileURLToPath(new URL("./vendor/", import.meta.url));

/** Checks the paths the server may use and builds its start message (ConfigError: exit 2). */
async function prepare(config: Config, env: Record<string, string | undefined>, warnings: readonly string[]) {
  const plan = await planSandbox({
    home: env.HOME,
    dirs: [
      { path: config.dataDir, flag: "-data-dir", env: "SSH_MCP_DATA_DIR", writable: true },
      // After the data dir, which holds the default <data-dir>/transfer.
      { path: config.transferDir, flag: "-transfer-dir", env: "SSH_MCP_TRANSFER_DIR", writable: true },
    ],
    agentSocket: env.SSH_AUTH_SOCK,
    code: [VENDORED_CODE],
  });
  const payload: ServePayload = {
    config: { ...config, dataDir: plan.dirs[0]!, transferDir: plan.dirs[1]! },
    ...(env.HOME ? { home: env.HOME } : {}),
    ...(plan.sshDir === undefined ? {} : { sshDir: plan.sshDir }),
    ...(plan.agentSocket === undefined ? {} : { agentSocket: plan.agentSocket }),
    ...(config.policyFile === undefined ? {} : { policy: await readPolicy(config.policyFile) }),
    warnings: [...warnings, ...plan.warnings],
  };
  return { permissions: plan.permissions, payload };
}

function writeStdout(bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) written += Deno.stdout.writeSync(bytes.subarray(written));
}

async function main(): Promise<number> {
  const env = readEnv();
  try {
    const parsed = parseConfig(Deno.args, env, { home: env.HOME });
    if (parsed.kind === "help") {
      console.log(parsed.text);
      return 0;
    }
    if (parsed.kind === "version") {
      console.log(`ssh-mcp ${VERSION}`);
      return 0;
    }
    // stdio: the handshake is answered from here while the server loads (src/transport/early.ts).
    const relay = parsed.config.mode === "stdio" ? new StdinRelay(Deno.stdin, writeStdout) : undefined;
    void relay?.start();
    const sandbox = await prepare(parsed.config, env, parsed.warnings);
    return await runSandboxed(new URL("./src/serve.ts", import.meta.url), {
      ...sandbox,
      channel: relay && {
        open: (post) => relay.attach(post),
        receive: (message) => {
          if ((message as { type?: unknown } | null)?.type === "stdio-ready") relay.stopAnswering();
        },
      },
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ssh-mcp: ${error.message}`);
      return 2;
    }
    throw error;
  }
}

Deno.exit(await main());
