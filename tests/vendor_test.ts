/**
 * The patched ssh2 carried in vendor/ssh2 (see its PATCH.md) is really the one in use: the import map
 * points `ssh2` at it, its dependencies are the versions it asks for, Deno loads it as CommonJS, and the
 * Docker build has the folder.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { requirePrograms } from "./_helpers/require.ts";
import { run } from "./_helpers/sshd.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO_JSON = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
  links?: string[];
  unstable?: string[];
  imports: Record<string, string>;
};
const VENDOR_PKG = JSON.parse(await Deno.readTextFile(`${ROOT}vendor/ssh2/package.json`)) as {
  version: string;
  type?: string;
  dependencies: Record<string, string>;
};

Deno.test("the import map resolves ssh2 to vendor/ssh2 and pins the dependencies it needs", () => {
  assert.equal(DENO_JSON.imports.ssh2, "./vendor/ssh2/lib/index.js");
  assert.equal(import.meta.resolve("ssh2"), new URL("vendor/ssh2/lib/index.js", `file://${ROOT}`).href);
  assert.equal(DENO_JSON.links, undefined, "links re-create node_modules/.deno under running processes");
  assert.equal(VENDOR_PKG.version, "1.17.0");
  assert.equal(VENDOR_PKG.type, "commonjs");
  assert.ok(DENO_JSON.unstable?.includes("detect-cjs"));
  for (const [name, range] of Object.entries(VENDOR_PKG.dependencies)) {
    const spec = DENO_JSON.imports[name];
    assert.ok(spec, `ssh2 requires ${name}: add it to deno.json imports`);
    // ssh2 asks for ^x.y.z; the import map pins exactly x.y.z (a caret range's lowest version).
    assert.equal(spec, `npm:${name}@${range.replace(/^\^/, "")}`, `${spec} is not ${name}@${range}'s x.y.z`);
  }
});

Deno.test("the ssh2 the server loads is the vendored file, and its requires resolve", async () => {
  const loaded = await import("ssh2");
  const vendored = createRequire(`${ROOT}vendor/ssh2/lib/index.js`)("./index.js");
  assert.equal(loaded.default.Client, vendored.Client, "ssh2 is not the copy in vendor/ssh2");
  assert.equal(typeof loaded.default.utils.parseKey, "function");
});

Deno.test("vendor/ssh2/PATCH.md shows the diff that the vendored ssh2 carries", {
  ignore: !requirePrograms("patch"),
}, async () => {
  const text = await Deno.readTextFile(`${ROOT}vendor/ssh2/PATCH.md`);
  const diff = /```diff\n([\s\S]*?)```/.exec(text)?.[1];
  assert.ok(diff, "PATCH.md has a ```diff block");
  // Reversing it must apply cleanly: the vendored files are the published ones plus exactly this.
  const reverse = await run("patch", ["-R", "-p1", "--dry-run", "--batch", "-d", `${ROOT}vendor/ssh2`], {
    stdin: diff,
  });
  assert.ok(reverse.success, `the diff no longer matches vendor/ssh2: ${reverse.stdout}${reverse.stderr}`);
  const forward = await run("patch", ["--forward", "-p1", "--dry-run", "-d", `${ROOT}vendor/ssh2`], {
    stdin: diff,
  });
  assert.ok(!forward.success, "the diff applies forward: vendor/ssh2 is not patched");
});

Deno.test("the Docker build copies vendor/ before `deno install --frozen`", async () => {
  const lines = (await Deno.readTextFile(`${ROOT}Dockerfile`)).split("\n").map((l) => l.trim());
  const copy = lines.indexOf("COPY vendor/ ./vendor/");
  const install = lines.indexOf("RUN deno install --frozen");
  assert.ok(copy !== -1 && install !== -1 && copy < install, "COPY vendor/ must precede deno install");
  const ignore = (await Deno.readTextFile(`${ROOT}.dockerignore`)).split("\n").map((l) => l.trim());
  assert.ok(ignore.includes("!vendor/"), ".dockerignore must let vendor/ into the build context");
});
