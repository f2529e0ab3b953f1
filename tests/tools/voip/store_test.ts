import assert from "node:assert/strict";
import { CAPTURE_ID, type CaptureMeta, CaptureStore, newCaptureId } from "../../../src/tools/voip/store.ts";

const meta: CaptureMeta = { alias: "a", interface: "lo", filter: "", container: null, capturedAt: "" };
const alice = { principal: "local", sessionId: "s1" };
const bob = { principal: "local", sessionId: "s2" };

Deno.test("capture ids are random and well-formed", () => {
  const ids = new Set(Array.from({ length: 100 }, newCaptureId));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, CAPTURE_ID);
});

Deno.test("a capture is visible only to the session (and principal) that stored it", () => {
  const store = new CaptureStore();
  const id = store.put(alice, new Uint8Array(10), meta);
  assert.equal(store.get(alice, id)?.bytes.length, 10);
  assert.equal(store.get(bob, id), undefined);
  assert.equal(store.get({ principal: "other", sessionId: "s1" }, id), undefined);
});

Deno.test("the store evicts the least recently used captures past its count and byte limits", () => {
  let now = 0;
  const store = new CaptureStore({ perSession: 2, sessionBytes: 100, totalBytes: 150 }, () => ++now);
  const a = store.put(alice, new Uint8Array(10), meta);
  const b = store.put(alice, new Uint8Array(10), meta);
  store.get(alice, a); // a is now more recent than b
  const c = store.put(alice, new Uint8Array(10), meta);
  assert.ok(store.get(alice, a) && store.get(alice, c));
  assert.equal(store.get(alice, b), undefined, "count limit");
  store.put(alice, new Uint8Array(95), meta);
  assert.equal(store.size.captures, 1, "session byte limit keeps only the new one");
  const d = store.put(bob, new Uint8Array(90), meta);
  assert.equal(store.get(bob, d)?.bytes.length, 90);
  assert.equal(store.size.bytes, 90, "total byte limit evicted alice's oldest");
  assert.throws(() => store.put(bob, new Uint8Array(101), meta), RangeError);
});

Deno.test("captures unused for longer than the TTL are dropped", () => {
  let now = 0;
  const store = new CaptureStore({ ttlMs: 1000 }, () => now);
  const id = store.put(alice, new Uint8Array(1), meta);
  now = 900;
  assert.ok(store.get(alice, id));
  now = 1800;
  assert.ok(store.get(alice, id), "a get refreshes the capture");
  now = 2801;
  assert.equal(store.get(alice, id), undefined);
  assert.deepEqual(store.size, { captures: 0, bytes: 0 });
});

Deno.test("a session's captures are dropped when the session ends, not an hour later (soak: RSS rose with each reaped session)", () => {
  const store = new CaptureStore();
  const aliceSession = new AbortController();
  const bobSession = new AbortController();
  const first = store.put(alice, new Uint8Array(10), meta, aliceSession.signal);
  const second = store.put(alice, new Uint8Array(10), meta, aliceSession.signal);
  const bobs = store.put(bob, new Uint8Array(10), meta, bobSession.signal);
  aliceSession.abort();
  assert.equal(store.get(alice, first), undefined);
  assert.equal(store.get(alice, second), undefined);
  assert.equal(store.get(bob, bobs)?.bytes.length, 10, "another session keeps its captures");
});
