/**
 * A finished command is not kept alive by its connection: every exec used to hang a reaction on the
 * connection's `closed` promise, holding the command and its output until the link closed (the soak saw
 * the server's RSS climb by hundreds of MiB on long-lived connections).
 */
import assert from "node:assert/strict";
import { startSshd } from "../../_helpers/sshd.ts";

Deno.test("finished exec channels and their output are freed while the connection stays open", async () => {
  await using sshd = await startSshd();
  const count = 20;
  const probe = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-detect-cjs",
      "--v8-flags=--expose-gc",
      new URL("./retention_probe.ts", import.meta.url).pathname,
      sshd.host,
      String(sshd.port),
      "mcptest",
      sshd.users.mcptest.password!,
      String(count),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(probe.stderr);
  assert.equal(probe.code, 0, stderr);
  const { freed, alive } = JSON.parse(new TextDecoder().decode(probe.stdout).trim().split("\n").at(-1)!);
  assert.equal(alive, true);
  // Each command registered twice (its process and its output); the last one may still be referenced.
  assert.ok(freed >= 2 * (count - 1), `only ${freed} of ${2 * count} freed: ${stderr}`);
});
