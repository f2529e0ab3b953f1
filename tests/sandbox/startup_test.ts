/**
 * main.ts start-up against the sandbox (SPEC §1, issue 17), as a user meets it: a custom data dir works
 * or stops start-up with one line (exit 2, no stack trace); narrower Deno flags are answered with the
 * flag that fixes them; an ssh-agent socket outside what the process may use is skipped with one
 * warning; and the compile task's flags, produced under one HOME, serve a user with another HOME
 * whose keys in ~/.ssh (and ssh-agent) log in.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { ENV_VARS } from "../../src/config.ts";
import { UNSTABLE_FLAGS } from "../../src/sandbox/flags.ts";
import { call, installKey } from "../_helpers/mcp_ssh.ts";
import { requirePrograms } from "../_helpers/require.ts";
import { compileTaskRunArgs, makeHome, serverEnv, startTaskArgs } from "../_helpers/server.ts";
import { startSshd } from "../_helpers/sshd.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs main.ts to completion with `args` (after main.ts) and returns its exit code and output. */
async function runMain(
  denoArgs: string[],
  home: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: denoArgs,
    env: serverEnv(home, env),
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Asserts `stderr` is exactly one `ssh-mcp: …` line with no stack trace, and returns it. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line expected:\n${stderr}`);
  assert.match(lines[0]!, /^ssh-mcp: Cannot /);
  assert.doesNotMatch(stderr, /Uncaught|NotCapable|\n\s+at /);
  return lines[0]!;
}

/** A stdio client on a server started with `denoArgs`; stderr is collected. */
async function stdioServer(denoArgs: string[], home: string, env: Record<string, string> = {}) {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: [...denoArgs, "-mode", "stdio"],
    env: serverEnv(home, env),
    cwd: ROOT,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (c: Uint8Array) => void (stderr += new TextDecoder().decode(c)));
  const client = new Client({ name: "sandbox-test", version: "1.0.0" });
  await client.connect(transport);
  return Object.assign(client, {
    stderr: () => stderr,
    async [Symbol.asyncDispose]() {
      await client.close();
    },
  });
}

/** The old, path-limited flags (what the start task was before issue 17), plus read of the source. */
function narrowArgs(home: string): string[] {
  const data = `${home}/.local/share/ssh-mcp`;
  return [
    "run",
    ...UNSTABLE_FLAGS,
    "--allow-net",
    `--allow-env=${ENV_VARS.join(",")}`,
    `--allow-read=${home}/.ssh,${data},${ROOT}`,
    `--allow-write=${data}`,
    "--no-prompt",
    `${ROOT}main.ts`,
  ];
}

Deno.test("under the start flags a custom data dir (env or flag) is created 0700 and holds the identity key", async () => {
  const home = await makeHome();
  try {
    for (
      const [how, env, args] of [["env", { SSH_MCP_DATA_DIR: `${home}/srv/env-data` }, []], ["flag", {}, [
        "-data-dir",
        `${home}/srv/flag-data`,
      ]]] as const
    ) {
      const dir = how === "env" ? `${home}/srv/env-data` : `${home}/srv/flag-data`;
      await using client = await stdioServer([...await startTaskArgs(home), ...args], home, env);
      const identity = await call<{ public_key: string }>(client, "identity", {});
      assert.match(identity.public_key, /^ssh-ed25519 /);
      assert.equal(((await Deno.stat(dir)).mode! & 0o777).toString(8), "700", how);
      assert.equal(((await Deno.stat(`${dir}/id_ed25519`)).mode! & 0o777).toString(8), "600", how);
    }
    await assert.rejects(
      Deno.stat(`${home}/.local/share/ssh-mcp`),
      Deno.errors.NotFound,
      "default left alone",
    );
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("a data dir that cannot be created stops start-up: exit 2, one line naming -data-dir, the env var, the path and the fix", async () => {
  const home = await makeHome();
  try {
    await Deno.writeTextFile(`${home}/a-file`, "x");
    const path = `${home}/a-file/ssh-mcp`;
    for (const [args, env] of [[["-data-dir", path], {}], [[], { SSH_MCP_DATA_DIR: path }]] as const) {
      const r = await runMain([...await startTaskArgs(home), ...args], home, env);
      assert.equal(r.code, 2, r.stderr);
      const line = oneLine(r.stderr);
      assert.ok(line.includes(`Cannot create -data-dir "${path}" (env SSH_MCP_DATA_DIR): `), line);
      assert.ok(line.includes(`sudo install -d -m 0700 -o "$(id -un)" "${path}"`), line);
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("a port that is already taken stops start-up: exit 1, one line naming -port and -host", async () => {
  const home = await makeHome();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const r = await runMain([...await startTaskArgs(home), "-port", String(port)], home);
    assert.equal(r.code, 1, r.stderr);
    const line = oneLine(r.stderr.split("\n").filter((l) => l.startsWith("ssh-mcp: ")).join("\n"));
    assert.ok(line.includes(`Cannot listen on 127.0.0.1:${port}: the address is in use`), line);
    assert.match(line, /-port \(env PORT\)/);
    assert.doesNotMatch(r.stderr, /Uncaught|\n\s+at /);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("under narrower Deno flags a data dir outside them stops start-up with the flag that fixes it (exit 2, one line)", async () => {
  const home = await makeHome();
  try {
    const outside = `${home}/srv/ssh-mcp`;
    const r = await runMain([...narrowArgs(home), "-data-dir", outside], home);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      oneLine(r.stderr),
      `ssh-mcp: Cannot use -data-dir "${outside}" (env SSH_MCP_DATA_DIR): this process has no Deno permission ` +
        "to read it; start ssh-mcp with the flags of `deno task start` (--allow-read --allow-write), or add the " +
        "directory to --allow-read and --allow-write",
    );
    await assert.rejects(Deno.stat(outside), Deno.errors.NotFound);

    // Flags that leave out the program's own files: the Worker could not even load.
    const noSource = narrowArgs(home).map((a) => a.replace(`,${ROOT}`, ""));
    const r2 = await runMain(noSource, home);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(oneLine(r2.stderr), /Cannot start the server: .* read its own module .*deno task start/);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("an ssh-agent socket outside what the process may use: one warning, the agent skipped, the server serves", async () => {
  const home = await makeHome();
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-agent-" });
  try {
    const socket = `${dir}/agent.sock`;
    using _listener = Deno.listen({ transport: "unix", path: socket });
    await using client = await stdioServer(narrowArgs(home), home, { SSH_AUTH_SOCK: socket });
    assert.ok((await client.listTools()).tools.some((t) => t.name === "connect"));
    const warnings = client.stderr().split("\n").filter((l) => l.includes("ssh-agent skipped"));
    assert.equal(warnings.length, 1, client.stderr());
    assert.ok(
      warnings[0]!.includes(`SSH_AUTH_SOCK "${socket}" is outside what this process may use`),
      warnings[0],
    );
    assert.match(warnings[0]!, /--allow-read and --allow-write/);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test(
  "the compile flags, produced under one HOME, serve another HOME: its ~/.ssh keys and its ssh-agent log in",
  { ignore: !requirePrograms("/usr/sbin/sshd", "ssh-keygen", "ssh-agent", "ssh-add") },
  async () => {
    // Produce the flags with HOME=A: `deno task flags --check` agrees with what is committed.
    const buildHome = await Deno.makeTempDir({ prefix: "ssh-mcp-build-home-" });
    const generated = await new Deno.Command(Deno.execPath(), {
      args: ["run", `--allow-read=${ROOT}`, `${ROOT}scripts/sync_flags.ts`, "--check"],
      env: serverEnv(buildHome),
      clearEnv: true,
      cwd: ROOT,
    }).output();
    assert.equal(generated.code, 0, new TextDecoder().decode(generated.stderr));
    const args = await compileTaskRunArgs();
    assert.ok(!args.join(" ").includes(buildHome) && !args.join(" ").includes("$"));

    // Run them with HOME=B.
    await using sshd = await startSshd();
    const home = await makeHome();
    const agentDir = await Deno.makeTempDir({ prefix: "ssh-mcp-agent-" });
    const socket = `${agentDir}/agent.sock`;
    const agent = new Deno.Command("ssh-agent", {
      args: ["-D", "-a", socket],
      stdout: "null",
      stderr: "null",
    })
      .spawn();
    try {
      assert.notEqual(home, buildHome);
      await installKey(home, sshd.keys.ed25519, "id_ed25519"); // a default key of HOME=B
      const named = await installKey(home, sshd.keys.rsa, "work_key");
      await using client = await stdioServer(args, home);
      const viaDefault = await call<{ alias: string }>(client, "connect", {
        host: sshd.host,
        port: sshd.port,
        username: "mcpnopw",
        alias: "default-key",
      });
      assert.equal(viaDefault.alias, "default-key");
      const ran = await call<{ stdout: string }>(client, "run", { command: "whoami", target: "default-key" });
      assert.equal(ran.stdout, "mcpnopw\n");
      await call(client, "connect", {
        host: sshd.host,
        port: sshd.port,
        username: "mcpnopw",
        private_key_path: "~/.ssh/work_key",
        alias: "named-key",
      });
      assert.ok(named.startsWith(`${home}/.ssh/`));
      await Deno.remove(`${home}/.ssh/id_ed25519`);

      // ssh-agent of HOME=B: the only credential left.
      for (let i = 0; i < 100 && !(await Deno.stat(socket).then(() => true, () => false)); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const add = await new Deno.Command("ssh-add", {
        args: [sshd.keys.ed25519],
        env: { SSH_AUTH_SOCK: socket },
      })
        .output();
      assert.ok(add.success, new TextDecoder().decode(add.stderr));
      await Deno.remove(named);
      await using agentClient = await stdioServer(args, home, { SSH_AUTH_SOCK: socket });
      await call(agentClient, "connect", {
        host: sshd.host,
        port: sshd.port,
        username: "mcpnopw",
        alias: "agent",
      });
      assert.doesNotMatch(agentClient.stderr(), /ssh-agent skipped/);
    } finally {
      agent.kill("SIGTERM");
      await agent.status;
      await Deno.remove(agentDir, { recursive: true }).catch(() => {});
      await Deno.remove(home, { recursive: true }).catch(() => {});
      await Deno.remove(buildHome, { recursive: true }).catch(() => {});
    }
  },
);
