/**
 * Connect on demand (SPEC §12): one-shot clients start a new server per call, so `run{target: <a Host
 * of ~/.ssh/config>}` must connect and run in that single call — under the rules of `connect`, never
 * with a password.
 */
import assert from "node:assert/strict";
import { eventually, installKey } from "../../_helpers/mcp_ssh.ts";
import { makeHome, serverEnv, startTaskArgs, stdioClient, textOf } from "../../_helpers/server.ts";
import { startSshd, type TestSshd } from "../../_helpers/sshd.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const INSPECTOR = Deno.env.get("INSPECTOR_BIN") ?? `${ROOT}.ci/tools/node_modules/.bin/mcp-inspector`;

/** A HOME whose ~/.ssh/config names the test server `web` (key login as mcpnopw). */
async function homeWithConfig(sshd: TestSshd, extra = ""): Promise<string> {
  const home = await makeHome();
  await installKey(home, sshd.keys.ed25519, "web_key");
  await Deno.writeTextFile(
    `${home}/.ssh/config`,
    `Host web\n  HostName ${sshd.host}\n  Port ${sshd.port}\n  User mcpnopw\n  IdentityFile ~/.ssh/web_key\n` +
      `  IdentitiesOnly yes\n${extra}`,
  );
  return home;
}

Deno.test("a brand-new stdio server answers run{target: <Host of ~/.ssh/config>} in one call", async () => {
  await using sshd = await startSshd();
  const home = await homeWithConfig(sshd);
  try {
    await using stdio = await stdioClient("legacy", { home });
    const first = await stdio.client.callTool({
      name: "run",
      arguments: { target: "web", command: "id -un" },
    });
    assert.equal(first.isError, undefined, textOf(first));
    assert.equal((first.structuredContent as { stdout: string }).stdout, "mcpnopw\n");
    assert.equal((first.structuredContent as { alias: string }).alias, "web");
    const note = (first.content as Array<{ text: string }>)[0]!.text;
    assert.match(note, /^Connected "web" on first use \(mcpnopw@127\.0\.0\.1:\d+, from ~\/\.ssh\/config\)/);
    assert.match(note, /SHA256:/);
    const meta = first._meta?.["ssh-mcp/connected"] as Array<{ alias: string; host_key: { status: string } }>;
    assert.deepEqual(meta.map((m) => [m.alias, m.host_key.status]), [["web", "recorded"]]);

    // The connection stays: the next call reuses it and says nothing about connecting.
    const second = await stdio.client.callTool({
      name: "run",
      arguments: { target: "web", command: "echo again" },
    });
    assert.equal(textOf(second).includes("first use"), false);
    const list = await stdio.client.callTool({ name: "connections", arguments: {} });
    assert.deepEqual(
      (list.structuredContent as { connections: Array<{ alias: string }> }).connections.map((c) => c.alias),
      ["web"],
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test({
  name: "the Inspector CLI runs a command on a ~/.ssh/config host in one stdio invocation",
  ignore: (() => {
    try {
      Deno.statSync(INSPECTOR);
      return false;
    } catch {
      const message = `SKIP: MCP Inspector not installed at ${INSPECTOR} (bash .ci/setup.sh installs it)`;
      if (Deno.env.get("CI") === "true") throw new Error(`${message}; CI=true forbids skipping`);
      console.warn(message);
      return true;
    }
  })(),
  fn: async () => {
    await using sshd = await startSshd();
    const home = await homeWithConfig(sshd);
    try {
      const env = serverEnv(home);
      const out = await new Deno.Command(INSPECTOR, {
        args: [
          "--cli",
          ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
          Deno.execPath(),
          ...await startTaskArgs(home),
          "-mode",
          "stdio",
          "--method",
          "tools/call",
          "--tool-name",
          "run",
          "--tool-arg",
          "target=web",
          "command=id -un",
        ],
        env,
        stdin: "null",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.equal(JSON.parse(text).structuredContent.stdout, "mcpnopw\n");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test("connect{host: <config Host>} names the connection after the Host; user@host:port connects on demand", async () => {
  await using sshd = await startSshd();
  const home = await homeWithConfig(sshd);
  try {
    // A default key in ~/.ssh serves user@host targets, as it would for `ssh`.
    await installKey(home, sshd.keys.ed25519, "id_ed25519");
    await using stdio = await stdioClient("modern", { home });
    const connected = await stdio.client.callTool({ name: "connect", arguments: { host: "web" } });
    assert.equal((connected.structuredContent as { alias: string }).alias, "web");
    const ran = await stdio.client.callTool({ name: "run", arguments: { target: "web", command: "true" } });
    assert.equal(ran.isError, undefined, textOf(ran));
    assert.equal(textOf(ran).includes("first use"), false);

    const typed = `mcptest@${sshd.host}:${sshd.port}`;
    const direct = await stdio.client.callTool({
      name: "run",
      arguments: { target: typed, command: "id -un" },
    });
    assert.equal(direct.isError, undefined, textOf(direct));
    assert.equal((direct.structuredContent as { stdout: string }).stdout, "mcptest\n");
    assert.match(textOf(direct), new RegExp(`Connected "${typed}" on first use .*as user@host`));
    // The jump argument of `connect` connects on demand too.
    const inner = await stdio.client.callTool({
      name: "connect",
      arguments: { host: "127.0.0.1", port: sshd.port, username: "mcpnopw", via: "web", alias: "inner" },
    });
    assert.equal(inner.isError, undefined, textOf(inner));
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("connect on demand never tries a password, and a wildcard Host or an unknown name connects nothing", async () => {
  await using sshd = await startSshd();
  const home = await homeWithConfig(
    sshd,
    `Host locked\n  HostName ${sshd.host}\n  Port ${sshd.port}\n  User mcptest\n` +
      `  IdentityFile ~/.ssh/wrong_key\n  IdentitiesOnly yes\nHost *\n  User mcpnopw\n`,
  );
  try {
    await installKey(home, sshd.keys.unauthorized, "wrong_key");
    await using stdio = await stdioClient("legacy", { home });
    const refused = await stdio.client.callTool({
      name: "run",
      arguments: { target: "locked", command: "true" },
    });
    assert.equal(refused.isError, true);
    assert.match(
      textOf(refused),
      /Cannot connect "locked" on first use \(Host of ~\/\.ssh\/config; no password is tried/,
    );
    assert.match(textOf(refused), /Next: .*identity/);
    // The key was offered (and refused); a password never was, even a moment later in sshd's log.
    const keys = await eventually(() => sshd.countAuthAttempts({ method: "publickey" }), (n) => n > 0);
    assert.ok(keys > 0);
    const passwords = await eventually(
      () => sshd.countAuthAttempts({ method: "password" }),
      (n) => n > 0,
      500,
    );
    assert.equal(passwords, 0);

    const typo = await stdio.client.callTool({ name: "run", arguments: { target: "wbe", command: "true" } });
    assert.equal(typo.isError, true);
    assert.match(textOf(typo), /Cannot find connection "wbe"/);
    const list = await stdio.client.callTool({ name: "connections", arguments: {} });
    assert.deepEqual((list.structuredContent as { connections: unknown[] }).connections, []);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("run with an unknown argument runs nothing, even on a connected host", async () => {
  await using sshd = await startSshd();
  const home = await homeWithConfig(sshd);
  const marker = `/tmp/ssh-mcp-strict-${crypto.randomUUID()}`;
  try {
    await using stdio = await stdioClient("legacy", { home });
    await stdio.client.callTool({ name: "run", arguments: { target: "web", command: "true" } });
    const refused = await stdio.client.callTool({
      name: "run",
      arguments: { target: "web", hosts: ["web", "db-1"], command: `touch ${marker}` },
    });
    assert.equal(refused.isError, true);
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound);
    const accepted = await stdio.client.callTool({
      name: "run",
      arguments: { target: "web", command: `touch ${marker}` },
    });
    assert.equal(accepted.isError, undefined, textOf(accepted));
    await Deno.stat(marker);
  } finally {
    await Deno.remove(marker).catch(() => {});
    await Deno.remove(home, { recursive: true });
  }
});
