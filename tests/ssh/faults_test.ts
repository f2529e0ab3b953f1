import assert from "node:assert/strict";
import { call, passwordLogin } from "../_helpers/mcp_ssh.ts";
import { httpClient, startHttpServer } from "../_helpers/server.ts";
import { startSshd } from "../_helpers/sshd.ts";

interface Exec {
  stdout: string;
  exit_code: number | null;
  connection_lost: boolean;
}

Deno.test("after sshd restarts, the next call reconnects and succeeds within 3 s", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd));
  await sshd.stop();
  await sshd.start();
  const started = Date.now();
  const r = await call<Exec>(client, "run", { command: "echo back" });
  assert.equal(r.stdout, "back\n");
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
});

Deno.test("a link cut mid-command reports connection_lost and the command ran exactly once", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd));
  const counter = `/tmp/ssh-mcp-count-${crypto.randomUUID()}`;
  const pending = client.callTool({ name: "run", arguments: { command: `echo ran >> ${counter}; sleep 3` } });
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    try {
      if ((await Deno.readTextFile(counter)).length > 0) break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await sshd.stop(); // kills the daemon and every session process: the TCP link drops
  const result = await pending;
  assert.equal(result.isError, true);
  assert.equal((result.structuredContent as unknown as Exec).connection_lost, true);
  await sshd.start();
  const next = await call<Exec>(client, "run", { command: `cat ${counter}` });
  assert.equal(next.stdout, "ran\n");
  await Deno.remove(counter);
});

Deno.test("a SIGSTOPped peer is detected by keepalive and the connection is reported down", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer({ args: ["-keepalive-interval", "1", "-keepalive-count", "2"] });
  await using client = await httpClient(server, "legacy");
  const { alias } = await call<{ alias: string }>(client, "connect", passwordLogin(sshd));
  sshd.pause();
  try {
    let state = "connected";
    const until = Date.now() + 8000;
    while (state === "connected" && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      const list = await call<{ connections: Array<{ alias: string; state: string }> }>(
        client,
        "connections",
        {},
      );
      state = list.connections.find((c) => c.alias === alias)!.state;
    }
    assert.equal(state, "disconnected");
  } finally {
    sshd.resume();
  }
  const r = await call<Exec>(client, "run", { command: "echo alive" });
  assert.equal(r.stdout, "alive\n");
});
