import assert from "node:assert/strict";
import { type Era, httpClient, startHttpServer, stdioClient, textOf } from "../_helpers/server.ts";

for (const era of ["legacy", "modern"] as Era[]) {
  Deno.test(`HTTP ${era} era: tools/list and a tool call work through the official client`, async () => {
    await using server = await startHttpServer();
    await using client = await httpClient(server, era);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === "run"));
    const result = await client.callTool({ name: "connections", arguments: {} });
    assert.equal(result.isError, undefined);
    assert.deepEqual(result.structuredContent, { connections: [] });
  });

  Deno.test(`stdio ${era} era: tools/list and identity work, stdout carries only JSON-RPC`, async () => {
    await using stdio = await stdioClient(era);
    const { tools } = await stdio.client.listTools();
    assert.ok(tools.length >= 6);
    const result = await stdio.client.callTool({ name: "identity", arguments: {} });
    const data = result.structuredContent as { public_key: string; fingerprint: string };
    assert.match(data.public_key, /^ssh-ed25519 AAAA[0-9A-Za-z+/=]+ ssh-mcp$/);
    assert.match(data.fingerprint, /^SHA256:[0-9A-Za-z+/]{43}$/);
    assert.match(textOf(result), /authorized_keys/);
  });
}
