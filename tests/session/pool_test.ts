import assert from "node:assert/strict";
import { LimitError } from "../../src/errors.ts";
import { SessionPool } from "../../src/session/pool.ts";
import { ConnectionManager } from "../../src/ssh/manager.ts";

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

function makePool(clock: { now: () => number }, limits = { maxPerPrincipal: 3, maxTotal: 5 }) {
  let made = 0;
  const pool = new SessionPool({
    makeManager: () => {
      made++;
      return new ConnectionManager({
        verifyHostKey: () => Promise.reject(new Error("unused")),
        credentials: { dataDir: "/nonexistent" },
        connectTimeoutMs: 1000,
        keepaliveIntervalMs: 0,
        keepaliveCountMax: 1,
      });
    },
    idleTimeoutMs: 300_000,
    now: clock.now,
    ...limits,
  });
  return { pool, made: () => made };
}

Deno.test("pool: the same (principal, key) returns the same session; another principal gets its own", () => {
  const clock = fakeClock();
  const { pool } = makePool(clock);
  const a = pool.open("alice", "k");
  assert.equal(pool.open("alice", "k"), a);
  assert.notEqual(pool.open("bob", "k"), a);
  assert.equal(pool.find("mallory", "k"), undefined);
});

Deno.test("pool: idle sessions are reaped after the timeout, sessions with a call in flight never", async () => {
  const clock = fakeClock();
  const { pool } = makePool(clock);
  const idle = pool.open("p", "idle");
  const busy = pool.open("p", "busy");
  const end = busy.enter(clock.now());
  clock.advance(299_000);
  assert.equal(await pool.reap(), 0);
  clock.advance(2_000);
  assert.equal(await pool.reap(), 1);
  assert.equal(idle.closed, true);
  assert.equal(busy.closed, false);
  clock.advance(3_600_000);
  assert.equal(await pool.reap(), 0);
  end();
  clock.advance(300_001);
  assert.equal(await pool.reap(), 1);
  assert.equal(busy.closed, true);
});

Deno.test("pool: limits per principal (429) and in total (503)", () => {
  const clock = fakeClock();
  const { pool } = makePool(clock);
  for (const k of ["1", "2", "3"]) pool.open("a", k);
  assert.throws(() => pool.open("a", "4"), (e) => e instanceof LimitError && e.status === 429);
  pool.open("b", "1");
  pool.open("b", "2");
  assert.throws(() => pool.open("c", "1"), (e) => e instanceof LimitError && e.status === 503);
});

Deno.test("pool: managers are created lazily and dispose closes every session and adopted resource", async () => {
  const clock = fakeClock();
  const { pool, made } = makePool(clock);
  const s = pool.open("p", "k");
  assert.equal(made(), 0);
  void s.connections;
  assert.equal(made(), 1);
  let disposed = false;
  s.adopt({ [Symbol.asyncDispose]: () => Promise.resolve(void (disposed = true)) });
  await pool[Symbol.asyncDispose]();
  assert.equal(disposed, true);
  assert.equal(s.signal.aborted, true);
  assert.throws(() => pool.open("p", "k2"), LimitError);
});

Deno.test("pool: idle time counts from the end of the last call, not its start (a long call is not reaped right after)", async () => {
  const clock = fakeClock();
  const { pool } = makePool(clock);
  const session = pool.open("p", "k");
  // A 310 s call, longer than the 300 s idle timeout.
  const end = session.enter(clock.now());
  clock.advance(310_000);
  assert.equal(await pool.reap(), 0, "busy while the call runs");
  end();
  clock.advance(30_000);
  assert.equal(await pool.reap(), 0, "30 s after the call ended the session is not idle for 300 s yet");
  assert.equal(session.closed, false);
  clock.advance(270_001);
  assert.equal(await pool.reap(), 1, "300 s after the end it is");
  assert.equal(session.closed, true);
});

Deno.test("pool: overlapping calls and a job being waited on keep the session busy until the last one ends", async () => {
  const clock = fakeClock();
  const { pool } = makePool(clock);
  const session = pool.open("p", "k");
  const call = session.enter();
  const waitOnJob = session.enter();
  clock.advance(1_000);
  call();
  clock.advance(400_000);
  assert.equal(await pool.reap(), 0, "the job wait is still in flight");
  waitOnJob();
  clock.advance(299_000);
  assert.equal(await pool.reap(), 0);
  clock.advance(1_001);
  assert.equal(await pool.reap(), 1);
});
