import assert from "node:assert/strict";
import { sh } from "../../src/shell/sh.ts";
import { keepLastWithin, newMarker, splitSections } from "../../src/tools/remote.ts";
import { requirePrograms } from "../_helpers/require.ts";
import { run } from "../_helpers/sshd.ts";

Deno.test("splitSections() splits at marker lines only, trims trailing breaks and drops the preamble", () => {
  const m = "@@mcp00@@";
  const sections = splitSections(`motd noise\n${m} a\n1\n2\n\n${m} b\n${m}x not a marker\n${m} empty\n`, m);
  assert.deepEqual([...sections], [["a", "1\n2"], ["b", `${m}x not a marker`], ["empty", ""]]);
});

Deno.test("newMarker() is random per call", () => {
  const markers = new Set(Array.from({ length: 100 }, newMarker));
  assert.equal(markers.size, 100);
  for (const m of markers) assert.match(m, /^@@mcp[0-9a-f]{16}@@$/);
});

Deno.test("keepLastWithin() keeps the most recent lines that fit the byte budget", () => {
  assert.deepEqual(keepLastWithin(["aaaa", "bb", "cc"], 6), { kept: ["bb", "cc"], dropped: 1 });
  assert.deepEqual(keepLastWithin(["aaaa"], 2), { kept: [], dropped: 1 });
});

for (const shell of ["sh", "dash"]) {
  Deno.test(`a section script run by ${shell} cannot be faked by content that guesses the marker format`, {
    ignore: !requirePrograms(shell),
  }, async () => {
    const marker = newMarker();
    const content = `@@mcp0000000000000000@@ fake\n${marker.slice(0, -1)} fake\n$(id)`;
    const script = sh`M=${marker}; C=${content}
s() { printf '\n%s %s\n' "$M" "$1"; }
s one; printf '%s\n' "$C"
s two; echo done`;
    const result = await run(shell, ["-c", script.text], { check: true });
    const sections = splitSections(result.stdout, marker);
    assert.deepEqual([...sections.keys()], ["one", "two"]);
    assert.equal(sections.get("one"), content);
  });
}
