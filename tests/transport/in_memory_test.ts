/**
 * The in-process tier's own checks: the real server instance behind the SDK's in-memory transport
 * pair answers both protocol eras like the process does (same tools/list as the committed snapshot).
 */
import assert from "node:assert/strict";
import { inMemoryClient, TEST_IDENTITY } from "../_helpers/in_memory.ts";
import { toolCalls } from "../_helpers/mcp_ssh.ts";

const SNAPSHOT = new URL("../testdata/tools_list.json", import.meta.url);
const { call, ok } = toolCalls();

for (const era of ["legacy", "modern"] as const) {
  Deno.test(`in-memory ${era} era: tools/list equals the committed snapshot`, async () => {
    await using pair = await inMemoryClient({ era });
    const { tools } = await pair.client.listTools();
    // As on a wire (no undefined fields); the modern era orders schema keys differently, so the
    // content is compared, not the text.
    const wire = JSON.parse(JSON.stringify(tools));
    assert.deepEqual(wire, JSON.parse(await Deno.readTextFile(SNAPSHOT)));
  });

  Deno.test(`in-memory ${era} era: a tool call goes through the middleware and is audited`, async () => {
    await using pair = await inMemoryClient({ era });
    const reply = await ok(pair.client, "identity");
    assert.equal(reply.data.public_key, TEST_IDENTITY.publicKey);
    assert.equal(pair.audit.length, 1);
    assert.equal(pair.audit[0]!.tool, "identity");
    assert.equal(pair.audit[0]!.outcome, "ok");
    assert.equal(pair.audit[0]!.principal, "local");
  });
}

Deno.test("in-memory: a connect that cannot reach the host is an isError result", async () => {
  await using pair = await inMemoryClient();
  const reply = await call(pair.client, "connect", { host: "192.0.2.1", username: "u", password: "p" });
  assert.equal(reply.isError, true);
  assert.match(reply.text, /ECONNREFUSED/);
  assert.equal(pair.audit.at(-1)?.outcome, "error");
});
