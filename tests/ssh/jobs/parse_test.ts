import assert from "node:assert/strict";
import { parseAnswer, viewOf } from "../../../src/ssh/jobs/parse.ts";

const enc = (text: string) => new TextEncoder().encode(text);
const META = "m v=1\nm id=jx\nm owner=abc\nm seg=1024\nm started=1700000000\nm boot=B1\nm preview=make\n";

Deno.test("parseAnswer() reads records and byte slices framed by the nonce, even when a slice holds newlines", () => {
  const answer = parseAnswer(enc(
    `@t 1700000100\n@boot B1\n@job jx\n${META}s running\na 1\ng 42\nf o.aaaa\nz o 3\nz e 0\n` +
      "@d o 0 @nX\na\nb@nX\n",
  ));
  assert.equal(answer.now, 1700000100);
  assert.equal(answer.records.length, 1);
  assert.equal(answer.records[0]!.pgid, 42);
  assert.deepEqual(answer.slices.map((s) => [s.stream, s.offset, new TextDecoder().decode(s.bytes)]), [[
    "o",
    0,
    "a\nb",
  ]]);
  assert.throws(() => parseAnswer(enc("@d o 0 @nX\nabc")), /cut short/);
});

Deno.test("viewOf(): an end record gives the status; no end and no wrapper is lost, never exited 0", () => {
  const record = (state: string, alive: boolean, boot = "B1") =>
    parseAnswer(enc(`@job jx\n${META.replace("B1", boot)}s ${state}\na ${alive ? 1 : 0}\n`)).records[0]!;
  const end = (fields: string) => record(`end ${fields} .                `, false);
  assert.equal(
    viewOf(end("status=exited code=0 signal=- ended=1700000050 out_failed=0 err_failed=0"), {}).status,
    "exited",
  );
  const killed = viewOf(end("status=killed code=- signal=TERM cancelled=1 out_failed=0 err_failed=0"), {});
  assert.deepEqual([killed.status, killed.signal, killed.exit_code, killed.cancelled], [
    "killed",
    "SIGTERM",
    null,
    true,
  ]);
  assert.equal(
    viewOf(end("status=timed_out code=- signal=TERM out_failed=0 err_failed=0"), {}).status,
    "timed_out",
  );
  assert.equal(
    viewOf(end("status=exited code=0 signal=- out_failed=1 err_failed=0"), {}).output_incomplete,
    true,
  );
  assert.equal(viewOf(record("running", true), {}).status, "running");
  const lost = viewOf(record("running", false), { boot: "B1" });
  assert.equal(lost.status, "lost");
  assert.equal(lost.exit_code, null);
  assert.match(viewOf(record("running", false, "B0"), { boot: "B1" }).reason!, /host restarted/);
  assert.match(viewOf(record("end status=exi", false), {}).reason!, /ended without recording/);
  assert.match(viewOf(end("status=error reason=mkfifo"), {}).reason!, /mkfifo failed/);
  const noMeta = parseAnswer(enc("@job jx\ns running\na 1\n")).records[0]!;
  assert.match(viewOf(noMeta, {}).reason!, /no meta file/);
});
