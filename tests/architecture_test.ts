/**
 * Enforces the layering of STYLE.md by reading import lines: main → transport → session → server →
 * tools → ssh → ssh2, with shell/ and sip/ pure; only ssh/client.ts imports ssh2; only main.ts
 * touches Deno.args/Deno.env/Deno.exit; raw() only takes literals.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const LAYERS = ["transport", "session", "server", "tools", "ssh"] as const;
const RANK: Record<string, number> = { main: 0, transport: 1, session: 2, server: 3, tools: 4, ssh: 5 };

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

function layerOf(path: string): string {
  const rel = path.slice(ROOT.length);
  if (rel === "main.ts") return "main";
  const m = /^src\/([a-z_]+)(\/|\.ts$)/.exec(rel);
  if (!m) return "other";
  return m[1]!;
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!);
}

const files = [`${ROOT}main.ts`, ...await sourceFiles(`${ROOT}src`)];

Deno.test("layers import downward only; shell/ and sip/ are pure", async () => {
  const violations: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    const text = await Deno.readTextFile(file);
    for (const spec of importsOf(text)) {
      if (!spec.startsWith(".")) continue;
      const target = layerOf(new URL(spec, `file://${file}`).pathname);
      if ((from === "shell" || from === "sip") && target !== from) violations.push(`${file} → ${spec}`);
      if (from in RANK && target in RANK && RANK[target]! < RANK[from]!) violations.push(`${file} → ${spec}`);
    }
    const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    if ((from === "shell" || from === "sip") && /\bDeno\.[a-z]/.test(code)) {
      violations.push(`${file} uses Deno.*`);
    }
  }
  assert.deepEqual(violations, []);
  assert.ok(LAYERS.length > 0);
});

Deno.test("only src/ssh/client.ts imports ssh2", async () => {
  const importers: string[] = [];
  for (const file of files) {
    if (importsOf(await Deno.readTextFile(file)).some((s) => s === "ssh2" || s.startsWith("npm:ssh2"))) {
      importers.push(file.slice(ROOT.length));
    }
  }
  assert.deepEqual(importers, ["src/ssh/client.ts"]);
});

Deno.test("only main.ts reads Deno.args, Deno.env or calls Deno.exit", async () => {
  const offenders: string[] = [];
  for (const file of files) {
    if (file.endsWith("/main.ts") && layerOf(file) === "main") continue;
    const code = (await Deno.readTextFile(file)).replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
    if (/Deno\.(args|env|exit)\b/.test(code)) offenders.push(file.slice(ROOT.length));
  }
  assert.deepEqual(offenders, []);
});

Deno.test("raw() is only called with a string literal or a module constant initialised by a literal", async () => {
  const bad: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(file);
    if (
      file.endsWith("src/shell/sh.ts") || !/import \{[^}]*\braw\b[^}]*\} from "[./]*shell\/sh\.ts"/.test(text)
    ) continue;
    for (const m of text.matchAll(/\braw\(\s*([^)\s][^)]*?)\s*\)/g)) {
      const arg = m[1]!;
      if (/^("[^"]*"|'[^']*'|`[^`$]*`)$/.test(arg)) continue;
      if (/^[A-Z][A-Z0-9_]*$/.test(arg) && new RegExp(`const ${arg} = \``).test(text)) continue;
      bad.push(`${file.slice(ROOT.length)}: raw(${arg})`);
    }
  }
  assert.deepEqual(bad, []);
});
