/**
 * The fleet runner without hosts: target expansion, grouping and the text that leads with the groups,
 * and the bounded fan-out (the command runner is the injected seam; end-to-end tests use real sshds).
 */
import assert from "node:assert/strict";
import { ToolError } from "../../../src/errors.ts";
import type { ExecResult, RunRequest } from "../../../src/ssh/connection.ts";
import { describeFleet, groupResults, type TargetResult } from "../../../src/tools/fleet/groups.ts";
import { runBounded } from "../../../src/tools/fleet/run.ts";
import { expandTargets } from "../../../src/tools/fleet/select.ts";
import { sh } from "../../../src/shell/sh.ts";

function answer(target: string, stdout: string, exit = 0, error: string | null = null): TargetResult {
  return {
    target,
    exit_code: error === null ? exit : null,
    signal: null,
    stdout,
    stderr: "",
    error,
    truncated: false,
    duration_ms: 1,
  };
}

function exec(stdout: string, extra: Partial<ExecResult> = {}): ExecResult & { alias: string } {
  return {
    alias: "x",
    stdout,
    stderr: "",
    exit_code: 0,
    signal: null,
    timed_out: false,
    cancelled: false,
    connection_lost: false,
    truncated: false,
    stdout_bytes: stdout.length,
    stderr_bytes: 0,
    duration_ms: 1,
    executor: "shell",
    ...extra,
  };
}

const REQUEST: Omit<RunRequest, "signal"> = { command: sh`true`, timeoutMs: 1000, maxOutputBytes: 1024 };

Deno.test("expandTargets() keeps the order given, expands globs over the aliases, and names each once", () => {
  const aliases = ["web-1", "db", "web-2", "web-10"];
  assert.deepEqual(expandTargets(["web-?", "db", "web-1"], aliases), ["web-1", "web-2", "db"]);
  assert.deepEqual(expandTargets(["web-*"], aliases), ["web-1", "web-2", "web-10"]);
  // A plain name is kept even when unknown: its own result reports it.
  assert.deepEqual(expandTargets(["nope"], aliases), ["nope"]);
});

Deno.test("expandTargets() refuses a glob that matches no alias, naming it and the aliases", () => {
  assert.throws(() => expandTargets(["db-*"], ["web-1"]), (error: unknown) => {
    assert.ok(error instanceof ToolError);
    assert.match(error.message, /"db-\*": no connection/);
    assert.match(error.hint ?? "", /web-1/);
    return true;
  });
});

Deno.test("groupResults() joins identical answers, largest group first, and keeps failures apart", () => {
  const results = [
    answer("a", "x\n"),
    answer("b", "y\n"),
    answer("c", "x\n"),
    answer("d", "x\n", 1),
    answer("e", "", 0, "connection refused"),
    answer("f", "", 0, "connection refused"),
  ];
  const groups = groupResults(results);
  assert.deepEqual(groups.map((g) => g.targets), [["a", "c"], ["e", "f"], ["b"], ["d"]]);
  assert.equal(groups[1]!.error, "connection refused");
});

Deno.test("describeFleet() leads with the groups: one line for many identical hosts", () => {
  const many = Array.from({ length: 50 }, (_, i) => answer(`web-${i + 1}`, "ok\n"));
  const text = describeFleet(many, groupResults(many));
  const [lead, header, body] = text.split("\n");
  assert.equal(lead, "50 targets: all identical, exit 0.");
  assert.match(header!, /^── 50 targets: web-1, .*… \(38 more\) · exit 0$/);
  assert.equal(body, "ok");
  const mixed = [answer("a", "ok\n"), answer("b", "ok\n"), answer("c", "", 0, "host unreachable")];
  assert.match(
    describeFleet(mixed, groupResults(mixed)),
    /^3 targets, 2 different answers: 2 identical, exit 0; c: failed: host unreachable\./,
  );
});

Deno.test("runBounded() never runs more than fanout targets at once and counts each finished one", async () => {
  let running = 0;
  let peak = 0;
  const counts: number[] = [];
  const results = await runBounded(
    Array.from({ length: 20 }, (_, i) => `t${i}`),
    REQUEST,
    async (alias) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      return exec(alias);
    },
    { fanout: 3, signal: new AbortController().signal, onFinished: (done) => counts.push(done) },
  );
  assert.equal(peak, 3);
  assert.deepEqual(counts, Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(results.map((r) => r.stdout), results.map((r) => r.target));
});

Deno.test("runBounded() reports a thrown error or a lost link in that target's result only", async () => {
  const results = await runBounded(["ok", "dead", "cut"], REQUEST, (alias) => {
    if (alias === "dead") return Promise.reject(new Error("connect ECONNREFUSED"));
    if (alias === "cut") return Promise.resolve(exec("", { connection_lost: true, exit_code: null }));
    return Promise.resolve(exec("fine"));
  }, { fanout: 8, signal: new AbortController().signal });
  assert.deepEqual(results.map((r) => [r.target, r.error === null]), [["ok", true], ["dead", false], [
    "cut",
    false,
  ]]);
  assert.match(results[1]!.error!, /ECONNREFUSED/);
  assert.match(results[2]!.error!, /outcome unknown/);
});

Deno.test("runBounded() starts nothing more once the call is cancelled", async () => {
  const abort = new AbortController();
  const started: string[] = [];
  const results = await runBounded(["a", "b", "c"], REQUEST, (alias) => {
    started.push(alias);
    abort.abort();
    return Promise.resolve(exec("x", { cancelled: alias !== "a" }));
  }, { fanout: 1, signal: abort.signal });
  assert.deepEqual(started, ["a"]);
  assert.deepEqual(results.map((r) => r.error === null), [true, false, false]);
});
