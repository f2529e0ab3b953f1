/**
 * `ssh://connections` and `ssh://known-hosts` against the real server: what they show, that key
 * material never shows, and that nothing of one session is visible to another.
 */
import assert from "node:assert/strict";
import type { Client } from "@modelcontextprotocol/client";
import { call, passwordLogin } from "../_helpers/mcp_ssh.ts";
import { httpClient, makeHome, startHttpServer, stdioClient } from "../_helpers/server.ts";
import { clientKeys, startSshd } from "../_helpers/sshd.ts";

async function readJson(client: Client, uri: string) {
  const { contents } = await client.readResource({ uri });
  assert.equal(contents.length, 1);
  assert.equal(contents[0]!.mimeType, "application/json");
  return JSON.parse((contents[0] as { text: string }).text);
}

Deno.test("resources/list and templates/list show the connections, known-hosts and job resources", async () => {
  await using stdio = await stdioClient("legacy");
  const { resources } = await stdio.client.listResources();
  assert.deepEqual(resources.map((r) => r.uri), ["ssh://connections", "ssh://known-hosts"]);
  for (const r of resources) assert.ok((r.description ?? "").length > 40, r.uri);
  const { resourceTemplates } = await stdio.client.listResourceTemplates();
  assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), ["ssh://jobs/{job_id}"]);
  assert.deepEqual(await readJson(stdio.client, "ssh://connections"), { connections: [] });
  await assert.rejects(stdio.client.readResource({ uri: "ssh://nothing" }), /not found/i);
});

Deno.test("ssh://known-hosts lists the operator's keys with ssh-keygen's fingerprints and never the key", async () => {
  const home = await makeHome();
  try {
    const pub = (await Deno.readTextFile(`${(await clientKeys()).ed25519}.pub`)).trim();
    const [type, base64] = pub.split(/\s+/);
    await Deno.writeTextFile(
      `${home}/.ssh/known_hosts`,
      `# operator file\nbuild.example.com,10.0.0.9 ${type} ${base64}\n@revoked old.example.com ${type} ${base64}\n`,
    );
    const keygen = await new Deno.Command("ssh-keygen", { args: ["-lf", `${home}/.ssh/known_hosts`] })
      .output();
    const fingerprint = new TextDecoder().decode(keygen.stdout).split(/\s+/)[1]!;
    assert.match(fingerprint, /^SHA256:/);
    await using stdio = await stdioClient("legacy", { home });
    const text = (await stdio.client.readResource({ uri: "ssh://known-hosts" })).contents[0] as {
      text: string;
    };
    assert.equal(text.text.includes(base64!), false, "key material must not show");
    const { keys } = JSON.parse(text.text);
    assert.deepEqual(
      keys.map((k: Record<string, unknown>) => [k.hosts, k.marker, k.key_type, k.fingerprint, k.recorded]),
      [
        ["build.example.com,10.0.0.9", undefined, type, fingerprint, false],
        ["old.example.com", "revoked", type, fingerprint, false],
      ],
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("resources and completions of one session show nothing of another session", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using a = await httpClient(server, "legacy");
  await using b = await httpClient(server, "legacy");
  await using c = await httpClient(server, "modern", { "X-Session-Key": crypto.randomUUID() });
  await call(a, "connect", passwordLogin(sshd, "mcptest", { alias: "a-only" }));

  const mine = await readJson(a, "ssh://connections");
  assert.deepEqual(mine.connections.map((x: { alias: string }) => x.alias), ["a-only"]);
  const knownToA = await readJson(a, "ssh://known-hosts");
  assert.deepEqual(
    knownToA.keys.map((k: Record<string, unknown>) => [k.recorded, k.fingerprint, k.used_by]),
    [[true, sshd.hostKeyFingerprint, ["a-only"]]],
  );
  const targetsOf = async (client: Client) =>
    (await client.complete({
      ref: { type: "ref/prompt", name: "diagnose_slow_host" },
      argument: { name: "target", value: "" },
    })).completion.values;
  assert.deepEqual(await targetsOf(a), ["a-only"]);

  for (const other of [b, c]) {
    assert.deepEqual(await readJson(other, "ssh://connections"), { connections: [] });
    // The key the server recorded for A's host would tell where A went: B and C do not see it.
    assert.deepEqual((await readJson(other, "ssh://known-hosts")).keys, []);
    assert.deepEqual(await targetsOf(other), []);
  }
});
