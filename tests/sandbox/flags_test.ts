/**
 * One source of the Deno flags (SPEC §1, issue 17): src/sandbox/flags.ts names no path and nothing
 * beyond what the server needs; the `start` and `compile*` tasks, the Dockerfile and the docs snippets
 * are exactly what `deno task flags` generates from it. (That a binary built with the compile task
 * carries no trace of the build HOME is checked in tests/distribution_test.ts: it runs `deno compile`.)
 */
import assert from "node:assert/strict";
import { ENV_VARS } from "../../src/config.ts";
import {
  COMPILE_TASKS,
  compileArgs,
  PERMISSION_FLAGS,
  runArgs,
  UNSTABLE_FEATURES,
  WORKER_MODULE,
} from "../../src/sandbox/flags.ts";
import { generatedFiles } from "../../scripts/sync_flags.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DENO_JSON = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
const TASKS: Record<string, string> = DENO_JSON.tasks;

Deno.test("the permission flags grant net, our own env vars, file read/write, never prompt; no path, run, ffi or sys", () => {
  assert.deepEqual(PERMISSION_FLAGS, [
    "--allow-net",
    `--allow-env=${ENV_VARS.join(",")}`,
    "--allow-read",
    "--allow-write",
    "--no-prompt",
  ]);
  for (const flag of PERMISSION_FLAGS) {
    assert.doesNotMatch(flag, /\$|~|\//, `${flag}: a path in a flag would be the build machine's`);
    assert.doesNotMatch(flag, /^--allow-(all|run|ffi|sys)|^-A$/, flag);
  }
  assert.deepEqual(UNSTABLE_FEATURES, ["detect-cjs", "no-legacy-abort", "worker-options"]);
});

Deno.test("deno.json tasks, the Dockerfile and docs/distribution.md are what `deno task flags` generates", async () => {
  const stale: string[] = [];
  for (const file of await generatedFiles(ROOT)) {
    if (await Deno.readTextFile(`${ROOT}${file.path}`) !== file.text) stale.push(file.path);
  }
  assert.deepEqual(stale, [], "run `deno task flags` and commit the result");
  // And the generated texts are really the flags (the generator cannot drift from them silently).
  assert.equal(TASKS.start, ["deno", ...runArgs()].join(" "));
  for (const [name, target] of Object.entries(COMPILE_TASKS)) {
    assert.equal(TASKS[name], ["deno", ...compileArgs(target)].join(" "), name);
    assert.ok(TASKS[name]!.includes(`--include ${WORKER_MODULE} `), `${name} embeds the Worker module`);
  }
  assert.deepEqual(
    Object.keys(TASKS).filter((n) => n === "compile" || n.startsWith("compile:")).sort(),
    Object.keys(COMPILE_TASKS).sort(),
  );
  assert.deepEqual(DENO_JSON.unstable, UNSTABLE_FEATURES);
  const dockerfile = await Deno.readTextFile(`${ROOT}Dockerfile`);
  assert.ok(
    dockerfile.includes(`${PERMISSION_FLAGS.join(" \\\n      ")} \\\n      --include ${WORKER_MODULE}`),
  );
  const docs = await Deno.readTextFile(`${ROOT}docs/distribution.md`);
  assert.ok(docs.includes(JSON.stringify(runArgs("/home/you/src/ssh-mcp/main.ts"), null, 8).slice(2, -2)));
});

Deno.test("the Worker module exists where the compile tasks embed it from", async () => {
  assert.ok((await Deno.stat(`${ROOT}${WORKER_MODULE}`)).isFile);
  const main = await Deno.readTextFile(`${ROOT}main.ts`);
  assert.ok(
    main.includes(`new URL("./${WORKER_MODULE}", import.meta.url)`),
    "main.ts starts the module the tasks embed",
  );
});
