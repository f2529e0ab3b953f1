import assert from "node:assert/strict";
import { jumpTopologySupported, startJumpTopology } from "../../_helpers/jump.ts";
import { call, installKey } from "../../_helpers/mcp_ssh.ts";
import { httpClient, startHttpServer, textOf } from "../../_helpers/server.ts";
import { startSshd } from "../../_helpers/sshd.ts";

Deno.test("connect resolves a Host alias of ~/.ssh/config: HostName, User, Port, IdentityFile", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await installKey(server.home, sshd.keys.ed25519, "lab_key");
  await Deno.writeTextFile(
    `${server.home}/.ssh/config`,
    `Host lab\n  HostName ${sshd.host}\n  Port ${sshd.port}\n  User mcpnopw\n  IdentityFile ~/.ssh/lab_key\n  IdentitiesOnly yes\n`,
  );
  await using client = await httpClient(server, "legacy");
  const outcome = await call<{ alias: string; target: string }>(client, "connect", { host: "lab" });
  assert.equal(outcome.alias, "lab");
  assert.equal(outcome.target, `mcpnopw@${sshd.host}:${sshd.port}`);
  const r = await call<{ stdout: string }>(client, "run", { command: "id -un" });
  assert.equal(r.stdout, "mcpnopw\n");
  // Explicit arguments win over the file.
  const explicit = await client.callTool({
    name: "connect",
    arguments: { host: "lab", username: "mcptest", alias: "x" },
  });
  assert.equal(explicit.isError, undefined, textOf(explicit));
  assert.match(textOf(explicit), /mcptest@/);
  // No user anywhere: a clear error.
  const noUser = await client.callTool({ name: "connect", arguments: { host: "elsewhere.invalid" } });
  assert.equal(noUser.isError, true);
  assert.match(textOf(noUser), /pass username/);
});

Deno.test({
  name:
    "connect follows ProxyJump from ~/.ssh/config, verifying each hop, without sending the target's password",
  ignore: !jumpTopologySupported(),
  fn: async () => {
    await using net = await startJumpTopology("mcpjump3");
    await using server = await startHttpServer();
    await installKey(server.home, net.bastion.keys.ed25519, "bastion_key");
    await Deno.writeTextFile(
      `${server.home}/.ssh/config`,
      [
        "Host bastion",
        `  HostName ${net.bastion.host}`,
        "  User mcpnopw",
        "  IdentityFile ~/.ssh/bastion_key",
        "Host inner",
        `  HostName ${net.target.host}`,
        "  User mcptest",
        "  ProxyJump bastion",
        "",
      ].join("\n"),
    );
    await using client = await httpClient(server, "modern");
    const before = await net.bastion.countAuthAttempts({ method: "password" });
    const outcome = await call<{ alias: string; jumps: string[] }>(client, "connect", {
      host: "inner",
      password: net.target.users.mcptest.password,
    });
    const hop = `jump:mcpnopw@${net.bastion.host}:22`;
    assert.deepEqual(outcome.jumps, [hop]);
    assert.equal(await net.bastion.countAuthAttempts({ method: "password" }), before);
    const r = await call<{ stdout: string }>(client, "run", { command: "id -un; hostname -I" });
    assert.match(r.stdout, /^mcptest\n/);
    assert.ok(r.stdout.includes(net.target.host));
    const list = await call<{ connections: Array<{ alias: string; via?: string }> }>(
      client,
      "connections",
      {},
    );
    assert.equal(list.connections.find((c) => c.alias === outcome.alias)?.via, hop);
  },
});
