/**
 * The transfer dir's confinement and the local atomic write, on the real file system.
 */
import assert from "node:assert/strict";
import { ToolError } from "../../../src/errors.ts";
import {
  resolveLocalSource,
  resolveLocalTarget,
  writeLocalAtomic,
} from "../../../src/tools/files/local_files.ts";

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    out.push(entry.name);
    if (entry.isDirectory && !entry.isSymlink) {
      out.push(...(await listTree(`${dir}/${entry.name}`)).map((n) => `${entry.name}/${n}`));
    }
  }
  return out.sort();
}

/** A transfer dir inside a parent, a sibling "outside" dir with a victim file, and escaping symlinks. */
async function bed() {
  const parent = await Deno.realPath(await Deno.makeTempDir({ prefix: "ssh-mcp-transfer-" }));
  const root = `${parent}/transfer`;
  const outside = `${parent}/outside`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  await Deno.mkdir(outside);
  await Deno.writeTextFile(`${outside}/victim`, "precious");
  await Deno.symlink(`${outside}/victim`, `${root}/evil`);
  await Deno.symlink(outside, `${root}/outdir`);
  await Deno.writeTextFile(`${root}/sub/inner`, "inner");
  await Deno.symlink(`${root}/sub/inner`, `${root}/good`);
  return {
    parent,
    root,
    outside,
    [Symbol.asyncDispose]: () => Deno.remove(parent, { recursive: true }),
  };
}

const ESCAPES = ["../x", "/etc/passwd", "sub/../../x", "evil", "outdir/x", "outdir/new/x", "sub/../x", ""];

Deno.test("every escape from the transfer dir is refused for writing, and nothing is written", async () => {
  await using b = await bed();
  const before = { root: await listTree(b.root), parent: await listTree(b.parent) };
  for (const given of [...ESCAPES, `${b.parent}/x`, `${b.outside}/victim`]) {
    await assert.rejects(resolveLocalTarget(b.root, given), ToolError, given);
  }
  assert.deepEqual(await listTree(b.root), before.root);
  assert.deepEqual(await listTree(b.parent), before.parent);
  assert.equal(await Deno.readTextFile(`${b.outside}/victim`), "precious");
});

Deno.test("every escape from the transfer dir is refused for reading", async () => {
  await using b = await bed();
  for (const given of [...ESCAPES, `${b.outside}/victim`]) {
    await assert.rejects(resolveLocalSource(b.root, given), ToolError, given);
  }
});

Deno.test("paths inside the transfer dir resolve: relative, absolute inside, symlinks that stay inside", async () => {
  await using b = await bed();
  assert.equal((await resolveLocalSource(b.root, "sub/inner")).relative, "sub/inner");
  assert.equal((await resolveLocalSource(b.root, `${b.root}/sub/inner`)).relative, "sub/inner");
  assert.equal((await resolveLocalSource(b.root, "good")).path, `${b.root}/sub/inner`);
  const target = await resolveLocalTarget(b.root, "new/deeper/file");
  assert.deepEqual([target.relative, target.exists], ["new/deeper/file", false]);
  assert.equal((await Deno.stat(`${b.root}/new/deeper`)).mode! & 0o777, 0o700);
  assert.equal((await resolveLocalTarget(b.root, "good")).path, `${b.root}/sub/inner`);
});

Deno.test("writeLocalAtomic() replaces the file whole, with the mode, and leaves no temp file on failure", async () => {
  await using b = await bed();
  const path = `${b.root}/sub/inner`;
  async function* chunks(parts: string[], fail = false) {
    for (const part of parts) yield new TextEncoder().encode(part);
    if (fail) throw new Error("link cut");
  }
  await assert.rejects(writeLocalAtomic(path, chunks(["new ", "half"], true), { mode: 0o640 }), /link cut/);
  await assert.rejects(
    writeLocalAtomic(path, chunks(["short"]), { mode: 0o640, expectedSize: 10 }),
    /5 bytes arrived of 10/,
  );
  assert.equal(await Deno.readTextFile(path), "inner");
  assert.deepEqual(await listTree(`${b.root}/sub`), ["inner"]);
  const outcome = await writeLocalAtomic(path, chunks(["new ", "content"]), { mode: 0o640 });
  assert.equal(outcome.size, 11);
  assert.equal(await Deno.readTextFile(path), "new content");
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
});
