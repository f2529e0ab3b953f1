/**
 * tools/list is deterministic and matches the committed snapshot. After an intended change run:
 *   UPDATE_SNAPSHOTS=1 deno test -A tests/tools/snapshot_test.ts
 */
import assert from "node:assert/strict";
import { stdioClient } from "../_helpers/server.ts";

const SNAPSHOT = new URL("../testdata/tools_list.json", import.meta.url);

Deno.test("tools/list is deterministic and equal to the committed snapshot", async () => {
  await using stdio = await stdioClient("legacy");
  const first = await stdio.client.listTools();
  const second = await stdio.client.listTools();
  assert.deepEqual(first, second);
  const text = JSON.stringify(first.tools, null, 2) + "\n";
  if (Deno.env.get("UPDATE_SNAPSHOTS") === "1") await Deno.writeTextFile(SNAPSHOT, text);
  assert.equal(
    text,
    await Deno.readTextFile(SNAPSHOT),
    "tools/list changed: review and run with UPDATE_SNAPSHOTS=1",
  );
});
