import assert from "node:assert/strict";
import { commandDigest, frameNonce, isJobId, newJobId, ownerDigest } from "../../../src/ssh/jobs/ids.ts";

Deno.test("job ids are unguessable: 130 random bits in a fixed shape, never repeated", () => {
  const ids = new Set(Array.from({ length: 2000 }, () => newJobId()));
  assert.equal(ids.size, 2000);
  for (const id of ids) assert.ok(isJobId(id), id);
  for (
    const bad of ["", "j", "../etc", "J" + "a".repeat(26), "j" + "a".repeat(25), "j" + "a".repeat(26) + "\n"]
  ) {
    assert.equal(isJobId(bad), false, JSON.stringify(bad));
  }
});

Deno.test("owner and command digests are stable, distinct per principal, and reveal no text", () => {
  assert.equal(ownerDigest("alice"), ownerDigest("alice"));
  assert.notEqual(ownerDigest("alice"), ownerDigest("bob"));
  assert.match(ownerDigest("alice"), /^[0-9a-f]{32}$/);
  assert.match(commandDigest("apt upgrade"), /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(frameNonce(), frameNonce());
});
