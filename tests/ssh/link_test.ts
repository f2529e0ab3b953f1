import assert from "node:assert/strict";
import { openConnection } from "../../src/ssh/client.ts";
import { Link } from "../../src/ssh/link.ts";
import { ConnectionManager } from "../../src/ssh/manager.ts";
import { sh } from "../../src/shell/sh.ts";
import { requirePrograms } from "../_helpers/require.ts";
import { startSshd, type TestSshd } from "../_helpers/sshd.ts";

const ignore = !requirePrograms("sshd", "ssh", "ssh-keygen");

async function connect(sshd: TestSshd) {
  return await openConnection({
    host: sshd.host,
    port: sshd.port,
    username: "mcptest",
    auth: [{ type: "publickey", label: "test key", key: await Deno.readTextFile(sshd.keys.ed25519) }],
    checkHostKey: () => Promise.resolve(true),
    connectTimeoutMs: 10_000,
    keepaliveIntervalMs: 0,
    keepaliveCountMax: 3,
  });
}

Deno.test("Link.sftp() shares one SFTP channel per connection and reopens it after it closed", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  await using conn = await connect(sshd);
  const link = new Link(conn);
  const [a, b] = await Promise.all([link.sftp(), link.sftp()]);
  assert.equal(a, b);
  a.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const c = await link.sftp();
  assert.notEqual(c, a);
  assert.ok(c.alive);
  assert.equal((await c.stat("/")).type, "directory");
});

Deno.test("ConnectionManager.sftp() and exec() reach the same connection by alias, the default included", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  const key = await Deno.readTextFile(sshd.keys.ed25519);
  await using manager = new ConnectionManager({
    verifyHostKey: () => Promise.resolve({ status: "unverified", fingerprint: "SHA256:test", message: "" }),
    credentials: { dataDir: "/nonexistent" },
    connectTimeoutMs: 10_000,
    keepaliveIntervalMs: 0,
    keepaliveCountMax: 3,
    open: (options) => openConnection({ ...options, auth: [{ type: "publickey", label: "test key", key }] }),
  });
  const { alias } = await manager.connect({
    host: sshd.host,
    port: sshd.port,
    username: "mcptest",
    password: "x",
  });
  const [a, b] = await Promise.all([manager.sftp(alias), manager.sftp(undefined)]);
  assert.equal(a.sftp, b.sftp);
  assert.equal(b.alias, alias);
  assert.equal(await manager.resolve(undefined), alias);
  const result = await manager.exec(undefined, {
    command: sh`echo hi`,
    timeoutMs: 10_000,
    maxOutputBytes: 1024,
  });
  assert.deepEqual([result.alias, result.stdout, result.exit_code], [alias, "hi\n", 0]);
});
