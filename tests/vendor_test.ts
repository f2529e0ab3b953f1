/**
 * Packages carried in vendor/ and linked through deno.json's `links` (vendor/ssh2: see its PATCH.md)
 * are really the ones in use: Deno quietly installs the registry's copy instead when the linked
 * package's version differs from the import map's, and the Docker build fails without the folder.
 */
import assert from "node:assert/strict";
import { requirePrograms } from "./_helpers/require.ts";
import { run } from "./_helpers/sshd.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO_JSON = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
  links?: string[];
  imports: Record<string, string>;
};
const LINKS = DENO_JSON.links ?? [];

interface Linked {
  dir: string;
  name: string;
  version: string;
}

const linked: Linked[] = await Promise.all(LINKS.map(async (link) => {
  const dir = `${ROOT}${link.replace(/^\.\//, "")}`;
  const pkg = JSON.parse(await Deno.readTextFile(`${dir}/package.json`)) as { name: string; version: string };
  return { dir, name: pkg.name, version: pkg.version };
}));

async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = `${prefix}${entry.name}`;
    if (entry.isDirectory) out.push(...await filesUnder(dir, `${rel}/`));
    else out.push(rel);
  }
  return out;
}

Deno.test("deno.json links the patched ssh2, at the version the import map pins", () => {
  assert.deepEqual(LINKS, ["./vendor/ssh2"]);
  for (const { name, version } of linked) {
    const specs = Object.values(DENO_JSON.imports).filter((s) => s.startsWith(`npm:${name}@`));
    assert.ok(specs.length > 0, `no import map entry for npm:${name}`);
    for (const spec of specs) {
      assert.equal(spec, `npm:${name}@${version}`, `${spec} would bypass the linked ${name}@${version}`);
    }
  }
});

Deno.test("the installed copy of every linked package is its vendor folder, file for file", async () => {
  for (const { dir, name } of linked) {
    const installed = await Deno.realPath(`${ROOT}node_modules/${name}`);
    const files = await filesUnder(dir);
    assert.ok(files.includes("package.json"));
    for (const file of files) {
      const [ours, theirs] = await Promise.all([
        Deno.readFile(`${dir}/${file}`),
        Deno.readFile(`${installed}/${file}`),
      ]);
      assert.deepEqual(theirs, ours, `${installed}/${file} differs from ${dir}/${file}: run deno install`);
    }
  }
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
