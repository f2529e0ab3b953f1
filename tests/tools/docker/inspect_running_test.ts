/**
 * The shell that lists and inspects the running containers (docker_find_by_ip, docker_networks) survives a
 * container that stops between `docker ps` and `docker inspect` (CI saw it when other tests' containers
 * went away): a local sh with a stand-in `docker` whose first inspect fails as docker's does.
 */
import assert from "node:assert/strict";
import { INSPECT_RUNNING } from "../../../src/tools/docker/toolset.ts";

async function runWithDocker(docker: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-inspect-" });
  try {
    await Deno.writeTextFile(`${dir}/docker`, `#!/bin/sh\n${docker}\n`, { mode: 0o755 });
    const out = await new Deno.Command("sh", {
      args: ["-c", `F=fmt\n${INSPECT_RUNNING.text}`],
      env: { PATH: `${dir}:/usr/bin:/bin`, STATE: `${dir}/state` },
      clearEnv: true,
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ps lists a and b until b is gone (after the first inspect); inspect fails while b is listed but gone.
const CHURN = `case "$1" in
ps) if [ -f "$STATE" ]; then echo a; else printf 'a\\nb\\n'; fi ;;
inspect) if [ -f "$STATE" ]; then echo '{"Id":"a"}'; else : >"$STATE"; echo '{"Id":"a"}'; echo 'Error: No such container: b' >&2; exit 1; fi ;;
esac`;

Deno.test("a container gone between ps and inspect is listed again, not a failed call", async () => {
  const { code, stdout, stderr } = await runWithDocker(CHURN);
  assert.equal(code, 0, stderr);
  assert.equal(stdout, '{"Id":"a"}\n');
  assert.equal(stderr, "");
});

Deno.test("an inspect that keeps failing reports docker's own error on the last try", async () => {
  const { code, stderr } = await runWithDocker(
    `case "$1" in ps) echo a ;; inspect) echo 'Error: daemon unhappy' >&2; exit 1 ;; esac`,
  );
  assert.equal(code, 1);
  assert.equal(stderr.trim(), "Error: daemon unhappy");
});

Deno.test("no running container: nothing inspected, no output", async () => {
  const { code, stdout } = await runWithDocker(`case "$1" in ps) : ;; inspect) exit 7 ;; esac`);
  assert.deepEqual([code, stdout], [0, ""]);
});
