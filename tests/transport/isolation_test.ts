import assert from "node:assert/strict";
import { call, passwordLogin } from "../_helpers/mcp_ssh.ts";
import { type Era, httpClient, startHttpServer } from "../_helpers/server.ts";
import { startSshd } from "../_helpers/sshd.ts";

Deno.test("50 concurrent clients (legacy, X-Session-Key, modern keys) never see each other's aliases or output", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer({ args: ["-max-sessions-per-principal", "200"] });
  const kinds: Array<{ era: Era; key: boolean }> = [
    { era: "legacy", key: false },
    { era: "legacy", key: true },
    { era: "modern", key: true },
  ];
  const clients = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    const kind = kinds[i % kinds.length]!;
    const headers: Record<string, string> = kind.key
      ? { "X-Session-Key": `isolation-key-${i}-${crypto.randomUUID()}` }
      : {};
    return { i, client: await httpClient(server, kind.era, headers) };
  }));
  try {
    await Promise.all(clients.map(async ({ i, client }) => {
      await call(client, "connect", passwordLogin(sshd, "mcptest", { alias: `client-${i}` }));
      for (let n = 0; n < 20; n++) {
        const r = await call<{ stdout: string; alias: string }>(client, "run", { command: `echo ${i}-${n}` });
        assert.equal(r.stdout, `${i}-${n}\n`);
        assert.equal(r.alias, `client-${i}`);
        const list = await call<{ connections: Array<{ alias: string }> }>(client, "connections", {});
        assert.deepEqual(list.connections.map((c) => c.alias), [`client-${i}`]);
      }
    }));
  } finally {
    await Promise.all(clients.map(({ client }) => client[Symbol.asyncDispose]()));
  }
});

Deno.test("the same X-Session-Key reaches the same pool across clients and eras; another key does not", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  const key = { "X-Session-Key": `sticky-${crypto.randomUUID()}` };
  {
    await using first = await httpClient(server, "legacy", key);
    await call(first, "connect", passwordLogin(sshd, "mcptest", { alias: "sticky" }));
  }
  await using again = await httpClient(server, "modern", key);
  const list = await call<{ connections: Array<{ alias: string }> }>(again, "connections", {});
  assert.deepEqual(list.connections.map((c) => c.alias), ["sticky"]);
  await using other = await httpClient(server, "modern", { "X-Session-Key": `other-${crypto.randomUUID()}` });
  assert.deepEqual((await call<{ connections: unknown[] }>(other, "connections", {})).connections, []);
  await using plain = await httpClient(server, "modern");
  assert.deepEqual((await call<{ connections: unknown[] }>(plain, "connections", {})).connections, []);
});

Deno.test("-global shares one pool between every client", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer({ args: ["-global"] });
  await using a = await httpClient(server, "legacy");
  await using b = await httpClient(server, "modern");
  await call(a, "connect", passwordLogin(sshd, "mcptest", { alias: "shared" }));
  const list = await call<{ connections: Array<{ alias: string }> }>(b, "connections", {});
  assert.deepEqual(list.connections.map((c) => c.alias), ["shared"]);
});
