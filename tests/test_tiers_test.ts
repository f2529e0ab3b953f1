/**
 * Keeps the two test tiers honest: `deno task test:fast` lists the pure and in-process test files, and
 * every test file that needs no real outside thing (sshd, a server process, containers, namespaces or
 * another program) is in it, so a new fast test cannot be forgotten, and no slow one creeps in.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

/** Helpers that start sshd, server processes, containers or namespaces: the end-to-end tier. */
const OUTSIDE =
  /_helpers\/(sshd|server|containers|jump|sip_traffic)\.ts|\bstart(Sshd|HttpServer|JumpTopology)\(/;

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory && !entry.name.startsWith("_") && entry.name !== "testdata") {
      out.push(...await testFiles(path));
    } else if (entry.name.endsWith("_test.ts")) out.push(path);
  }
  return out.sort();
}

function fastList(): string[] {
  const task = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks["test:fast"] as string;
  return task.split(/\s+/).filter((word) => word.startsWith("tests/"));
}

function inFast(file: string, list: readonly string[]): boolean {
  return list.some((entry) => entry.endsWith("/") ? file.startsWith(entry) : file === entry);
}

Deno.test("test:fast lists every test file that starts nothing real, and none that does", async () => {
  const list = fastList();
  const missing: string[] = [];
  const slow: string[] = [];
  for (const file of await testFiles("tests")) {
    const code = (await Deno.readTextFile(`${ROOT}${file}`)).replace(/^import type [^;]*;/gm, "");
    const outside = OUTSIDE.test(code);
    if (!outside && !inFast(file, list)) missing.push(file);
    if (outside && inFast(file, list)) slow.push(file);
  }
  assert.deepEqual(missing, [], "pure tests missing from the test:fast task in deno.json");
  assert.deepEqual(slow, [], "test:fast lists tests that start real things");
});

Deno.test("every entry of test:fast exists", async () => {
  for (const entry of fastList()) {
    const stat = await Deno.stat(`${ROOT}${entry}`);
    assert.ok(entry.endsWith("/") ? stat.isDirectory : stat.isFile, entry);
  }
});
