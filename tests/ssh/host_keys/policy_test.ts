import assert from "node:assert/strict";
import { type HostKeyLookup } from "../../../src/ssh/host_keys/store.ts";
import { decideHostKey } from "../../../src/ssh/host_keys/policy.ts";
import type { HostKeyPolicy } from "../../../src/config.ts";
import { lookupResult } from "./fixtures.ts";

// ---------------------------------------------------------------------------------------------------
// decideHostKey

Deno.test("decideHostKey() accepts a matching key under every policy", () => {
  for (const policy of ["strict", "accept-new", "off"] as const) {
    const decision = decideHostKey(policy, lookupResult({ status: "match", file: "/k", line: 3 }));
    assert.deepEqual([decision.accept, decision.record, decision.status], [true, false, "match"]);
    assert.match(decision.message, /\/k:3/);
  }
});

Deno.test("decideHostKey() refuses a changed key under every policy, naming both fingerprints and the fix", () => {
  const stored = "SHA256:storedStoredStoredStoredStoredStoredStore";
  const found = lookupResult({
    status: "mismatch",
    storedFingerprints: [stored],
    stored: [{
      file: "/home/u/.ssh/known_hosts",
      line: 7,
      keyType: "ssh-ed25519",
      fingerprint: stored,
      revoked: false,
    }],
    file: "/home/u/.ssh/known_hosts",
    line: 7,
  });
  for (const policy of ["strict", "accept-new", "off"] as const) {
    const decision = decideHostKey(policy, found);
    assert.deepEqual([decision.accept, decision.record, decision.status], [false, false, "mismatch"]);
    assert.ok(decision.message.includes(stored), decision.message);
    assert.ok(decision.message.includes(found.fingerprint), decision.message);
    assert.ok(
      decision.message.includes("ssh-keygen -R '[example.com]:2222' -f /home/u/.ssh/known_hosts"),
      decision.message,
    );
    assert.ok(decision.message.includes("/home/u/.ssh/known_hosts:7"), decision.message);
    assert.ok(!decision.message.includes("another type"), decision.message);
  }
  const otherType = decideHostKey(
    "accept-new",
    lookupResult({
      ...found,
      stored: [{ file: "/k", line: 1, keyType: "ssh-rsa", fingerprint: stored, revoked: false }],
    }),
  );
  assert.match(otherType.message, /another type/);
});

Deno.test("decideHostKey() refuses a revoked key under every policy, naming both fingerprints", () => {
  const found = lookupResult({ status: "revoked", file: "/k", line: 2 });
  for (const policy of ["strict", "accept-new", "off"] as const) {
    const decision = decideHostKey(policy, found);
    assert.deepEqual([decision.accept, decision.record, decision.status], [false, false, "revoked"]);
    assert.equal(decision.message.split(found.fingerprint).length - 1, 2, decision.message);
    assert.match(decision.message, /@revoked/);
    assert.match(decision.message, /\/k:2/);
  }
});

Deno.test("decideHostKey() handles an unknown key per policy: strict refuses, accept-new records, off warns", () => {
  const found = lookupResult({ status: "unknown" });
  const strict = decideHostKey("strict", found);
  assert.deepEqual([strict.accept, strict.record], [false, false]);
  assert.match(strict.message, /accept-new/);
  assert.match(strict.message, /ssh-keyscan -t ed25519 -p 2222 example\.com >> \/data\/known_hosts/);
  assert.ok(strict.message.includes(found.fingerprint));

  const acceptNew = decideHostKey("accept-new", found);
  assert.deepEqual([acceptNew.accept, acceptNew.record], [true, true]);
  assert.ok(acceptNew.message.includes(found.fingerprint));
  assert.match(acceptNew.message, /\/data\/known_hosts/);

  const off = decideHostKey("off", found);
  assert.deepEqual([off.accept, off.record], [true, false]);
  assert.match(off.message, /^WARNING/);
  assert.ok(off.message.includes(found.fingerprint));
});

Deno.test("decideHostKey() throws TypeError for an unknown policy or status", () => {
  assert.throws(() => decideHostKey("yes" as HostKeyPolicy, lookupResult({})), TypeError);
  assert.throws(() => decideHostKey("strict", lookupResult({ status: "weird" as "match" })), TypeError);
  assert.throws(() => decideHostKey("strict", null as unknown as HostKeyLookup), TypeError);
});
