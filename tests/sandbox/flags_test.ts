/**
 * One source of the Deno flags (SPEC §1, issue 17): src/sandbox/flags.ts names no path and nothing
 * beyond what the server needs; the `start` and `compile*` tasks, the Dockerfile and the docs snippets
 * are exactly what `deno task flags` generates from it; and a binary built with the compile task under
 * some build HOME carries no trace of that HOME.
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
  assert.deepEqual(UNSTABLE_FEATURES, ["no-legacy-abort", "worker-options"]);
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

/** The start of the JSON metadata `deno compile` appends to a binary. */
const METADATA = new TextEncoder().encode('{"argv":');

function lastIndexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = haystack.length - needle.length; i >= 0; i--) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The binary's metadata object: the JSON value that starts at the last `{"argv":`. */
function compiledMetadata(binary: Uint8Array): Record<string, unknown> {
  const start = lastIndexOf(binary, METADATA);
  assert.ok(start >= 0, "the binary carries deno compile metadata");
  const text = new TextDecoder().decode(binary.subarray(start, start + 200_000));
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return JSON.parse(text.slice(0, i + 1));
  }
  throw new Error("unterminated deno compile metadata");
}

Deno.test(
  "a binary built by the compile task under one HOME bakes in no path of it: read/write are whole, the rest as the flags say",
  async () => {
    const buildHome = await Deno.makeTempDir({ prefix: "ssh-mcp-build-home-" });
    const outDir = await Deno.makeTempDir({ prefix: "ssh-mcp-compile-" });
    try {
      const binary = `${outDir}/ssh-mcp`;
      const words = TASKS.compile!.split(" ");
      assert.equal(words[0], "deno");
      const args = words.slice(1).map((w, i, all) => all[i - 1] === "--output" ? binary : w);
      // `deno compile` appends the program to a Deno runtime (`denort`) it downloads; this machine
      // cannot download it, so the deno binary itself stands in. The payload, metadata included, is
      // the same; the result cannot run, which is why the tests run main.ts under exactly these flags.
      const out = await new Deno.Command(Deno.execPath(), {
        args,
        cwd: ROOT,
        env: { HOME: buildHome, DENO_DIR: denoDir(), DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
        clearEnv: true,
      }).output();
      const stdout = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.ok(out.success, stdout);
      assert.match(stdout, /serve\.ts/, `the Worker module is embedded:\n${stdout}`);
      const bytes = await Deno.readFile(binary);
      const meta = compiledMetadata(bytes);
      const permissions = meta.permissions as Record<string, unknown>;
      assert.deepEqual(permissions.allow_read, [], "read: everything (an empty list), narrowed at start-up");
      assert.deepEqual(permissions.allow_write, []);
      assert.deepEqual(permissions.allow_net, []);
      assert.deepEqual(permissions.allow_env, [...ENV_VARS]);
      for (const key of ["allow_run", "allow_ffi", "allow_sys"]) assert.equal(permissions[key], null, key);
      assert.equal(permissions.prompt, false);
      assert.deepEqual(
        [...(meta.unstable_config as { features: string[] }).features].sort(),
        [...UNSTABLE_FEATURES].sort(),
      );
      assert.ok(!JSON.stringify(meta).includes(buildHome), "no build HOME in the metadata");
      assert.equal(lastIndexOf(bytes, new TextEncoder().encode(buildHome)), -1, "no build HOME anywhere");
    } finally {
      await Deno.remove(outDir, { recursive: true }).catch(() => {});
      await Deno.remove(buildHome, { recursive: true }).catch(() => {});
    }
  },
);

function denoDir(): string {
  return Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
}
