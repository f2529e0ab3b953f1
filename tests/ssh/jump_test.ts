import assert from "node:assert/strict";
import { call, passwordLogin } from "../_helpers/mcp_ssh.ts";
import { jumpTopologySupported, startJumpTopology } from "../_helpers/jump.ts";
import { httpClient, startHttpServer, textOf } from "../_helpers/server.ts";
import { startImpostor } from "../_helpers/sshd.ts";

const supported = jumpTopologySupported();

Deno.test({
  name: "via reaches a target that is not routable directly, and chains of jumps work",
  ignore: !supported,
  fn: async () => {
    await using net = await startJumpTopology("mcpjump1");
    await using server = await startHttpServer();
    await using client = await httpClient(server, "legacy");
    const direct = await client.callTool({
      name: "connect",
      arguments: passwordLogin(net.target, "mcptest", { alias: "direct" }),
    });
    assert.equal(direct.isError, true);
    await call(client, "connect", passwordLogin(net.bastion, "mcptest", { alias: "bastion" }));
    const hop = await call(
      client,
      "connect",
      passwordLogin(net.target, "mcptest", { alias: "target", via: "bastion" }),
    );
    assert.equal(hop.via, "bastion");
    const r = await call<{ stdout: string }>(client, "run", { command: "hostname -I", target: "target" });
    assert.match(r.stdout, new RegExp(net.target.host.replaceAll(".", "\\.")));
    // A two-hop chain: through the bastion, then through the target, to the target's sshd again.
    const chain = await call(
      client,
      "connect",
      passwordLogin(net.target, "mcpnopw", { alias: "chain", via: "target" }),
    );
    assert.equal(chain.via, "target");
    const who = await call<{ stdout: string }>(client, "run", {
      command: "id -un; hostname -I",
      target: "chain",
    });
    assert.match(who.stdout, /^mcpnopw\n/);
    assert.match(who.stdout, new RegExp(net.target.host.replaceAll(".", "\\.")));
    const closed = await call<{ closed: string[] }>(client, "disconnect", { alias: "bastion" });
    assert.deepEqual(closed.closed.sort(), ["bastion", "chain", "target"]);
  },
});

Deno.test({
  name: "a changed host key on the jump's target hop is refused with no authentication attempt",
  ignore: !supported,
  fn: async () => {
    await using net = await startJumpTopology("mcpjump2");
    await using server = await startHttpServer();
    await using client = await httpClient(server, "legacy");
    await call(client, "connect", passwordLogin(net.bastion, "mcptest", { alias: "bastion" }));
    await call(client, "connect", passwordLogin(net.target, "mcptest", { alias: "target", via: "bastion" }));
    await call(client, "disconnect", { alias: "target" });
    await using impostor = await startImpostor(net.target);
    const result = await client.callTool({
      name: "connect",
      arguments: passwordLogin(net.target, "mcptest", { alias: "target2", via: "bastion" }),
    });
    assert.equal(result.isError, true);
    assert.ok(textOf(result).includes(impostor.hostKeyFingerprint));
    assert.equal(await impostor.countAuthAttempts(), 0);
  },
});
