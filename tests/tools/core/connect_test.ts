import assert from "node:assert/strict";
import { call, eventually, installKey, passwordLogin } from "../../_helpers/mcp_ssh.ts";
import { httpClient, startHttpServer, textOf } from "../../_helpers/server.ts";
import { CLIENT_KEY_PASSPHRASE, startImpostor, startSshd } from "../../_helpers/sshd.ts";

Deno.test("connect works with password, explicit key, encrypted key, RSA key, identity key and default key", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");

  const viaPassword = await call(client, "connect", passwordLogin(sshd, "mcptest", { alias: "pw" }));
  assert.equal(viaPassword.alias, "pw");
  assert.equal((viaPassword.host_key as { status: string }).status, "recorded");
  assert.equal((viaPassword.host_key as { fingerprint: string }).fingerprint, sshd.hostKeyFingerprint);

  const key = await installKey(server.home, sshd.keys.ed25519, "explicit_key");
  const viaKey = await call(client, "connect", {
    host: sshd.host,
    port: sshd.port,
    username: "mcpnopw",
    private_key_path: key,
    alias: "key",
  });
  assert.equal((viaKey.host_key as { status: string }).status, "known");

  const enc = await installKey(server.home, sshd.keys.ed25519Encrypted, "enc_key");
  await call(client, "connect", {
    host: sshd.host,
    port: sshd.port,
    username: "mcptest",
    private_key_path: enc,
    passphrase: CLIENT_KEY_PASSPHRASE,
    alias: "enc",
  });
  const wrongPhrase = await client.callTool({
    name: "connect",
    arguments: {
      host: sshd.host,
      port: sshd.port,
      username: "mcptest",
      private_key_path: enc,
      passphrase: "nope",
      alias: "enc2",
    },
  });
  assert.equal(wrongPhrase.isError, true);
  assert.match(textOf(wrongPhrase), /passphrase/);

  const rsa = await installKey(server.home, sshd.keys.rsa, "rsa_key");
  await call(client, "connect", {
    host: sshd.host,
    port: sshd.port,
    username: "mcptest",
    private_key_path: rsa,
    alias: "rsa",
  });

  const identity = await call<{ public_key: string }>(client, "identity", {});
  await sshd.authorizeKey("mcpnopw", identity.public_key);
  const before = await sshd.countAuthAttempts({ result: "Accepted", method: "publickey", user: "mcpnopw" });
  await call(client, "connect", { host: sshd.host, port: sshd.port, username: "mcpnopw", alias: "identity" });
  const accepted = await eventually(
    () => sshd.countAuthAttempts({ result: "Accepted", method: "publickey", user: "mcpnopw" }),
    (n) => n >= before + 1,
  );
  assert.equal(accepted, before + 1);

  await installKey(server.home, sshd.keys.ed25519, "id_ed25519");
  await call(client, "connect", {
    host: sshd.host,
    port: sshd.port,
    username: "mcptest",
    alias: "default-key",
  });

  const run = await call<{ stdout: string }>(client, "run", { command: "id -un", target: "key" });
  assert.equal(run.stdout, "mcpnopw\n");

  const outside = await client.callTool({
    name: "connect",
    arguments: {
      host: sshd.host,
      port: sshd.port,
      username: "mcptest",
      private_key_path: sshd.keys.ed25519,
      alias: "x",
    },
  });
  assert.equal(outside.isError, true);
  assert.match(textOf(outside), /outside/);
});

Deno.test("a wrong password fails clearly within 5 s", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "modern");
  const started = Date.now();
  const result = await client.callTool({
    name: "connect",
    arguments: { host: sshd.host, port: sshd.port, username: "mcptest", password: "wrong-password" },
  });
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  assert.equal(result.isError, true);
  assert.match(textOf(result), /Cannot log in/);
  assert.match(textOf(result), /identity/);
  assert.doesNotMatch(textOf(result), /wrong-password/);
});

Deno.test("a tool without a connection says to call connect first, with an example", async () => {
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  const result = await client.callTool({ name: "run", arguments: { command: "true" } });
  assert.equal(result.isError, true);
  assert.match(textOf(result), /Call `connect` first, e\.g\. \{"host"/);
});

Deno.test("aliases: default user@host:port, reuse for the same target, error for another target", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  const first = await call(client, "connect", passwordLogin(sshd));
  assert.equal(first.alias, `mcptest@127.0.0.1:${sshd.port}`);
  const again = await call(client, "connect", passwordLogin(sshd));
  assert.equal(again.reused, true);
  const conflict = await client.callTool({
    name: "connect",
    arguments: passwordLogin(sshd, "mcpnopw", { alias: first.alias }),
  });
  assert.equal(conflict.isError, true);
  assert.match(textOf(conflict), /already points to mcptest@127\.0\.0\.1/);
});

Deno.test("strict host keys refuse an unknown host", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer({ args: ["-host-keys", "strict"] });
  await using client = await httpClient(server, "legacy");
  const result = await client.callTool({ name: "connect", arguments: passwordLogin(sshd) });
  assert.equal(result.isError, true);
  assert.match(textOf(result), /ssh-keyscan|accept-new/);
  assert.equal(await sshd.countAuthAttempts(), 0);
});

Deno.test("a changed host key is refused with both fingerprints and no authentication attempt", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd, "mcptest", { alias: "a" }));
  await call(client, "disconnect", { all: true });
  await using impostor = await startImpostor(sshd);
  const result = await client.callTool({
    name: "connect",
    arguments: passwordLogin(sshd, "mcptest", { alias: "b" }),
  });
  assert.equal(result.isError, true);
  const text = textOf(result);
  assert.ok(text.includes(sshd.hostKeyFingerprint), text);
  assert.ok(text.includes(impostor.hostKeyFingerprint), text);
  assert.equal(await impostor.countAuthAttempts(), 0);
});

Deno.test("keyboard-interactive answers with the password when password auth is off", async () => {
  await using sshd = await startSshd({ config: { PasswordAuthentication: "no" } });
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd));
  const accepted = await eventually(
    () => sshd.countAuthAttempts({ result: "Accepted", method: "keyboard-interactive" }),
    (n) => n >= 1,
  );
  assert.ok(accepted >= 1);
});

Deno.test("a host known only by its ECDSA key is verified with that key, not refused as changed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await new Deno.Command("ssh-keygen", { args: ["-q", "-t", "ecdsa", "-N", "", "-f", `${dir}/ecdsa`] })
      .output();
    await using sshd = await startSshd({ extraConfig: [`HostKey ${dir}/ecdsa`] });
    await using server = await startHttpServer({ args: ["-host-keys", "strict"] });
    const ecdsa = (await Deno.readTextFile(`${dir}/ecdsa.pub`)).split(" ").slice(0, 2).join(" ");
    await Deno.writeTextFile(`${server.home}/.ssh/known_hosts`, `[127.0.0.1]:${sshd.port} ${ecdsa}\n`);
    await using client = await httpClient(server, "legacy");
    const result = await call<{ host_key: { status: string } }>(client, "connect", passwordLogin(sshd));
    assert.equal(result.host_key.status, "known");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("connect to a host that accepts TCP but never answers fails with a timeout within 16 s", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  sshd.pause();
  try {
    const started = Date.now();
    const result = await client.callTool({ name: "connect", arguments: passwordLogin(sshd) });
    const took = Date.now() - started;
    assert.equal(result.isError, true);
    assert.match(textOf(result), /no answer within 15000 ms|timed out/);
    assert.ok(took >= 14_000 && took < 16_500, `took ${took} ms`);
  } finally {
    sshd.resume();
  }
});
