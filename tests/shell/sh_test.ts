import assert from "node:assert/strict";
import fc from "fast-check";
import { isShellCommand, joinCommands, raw, sh, ShellCommand } from "../../src/shell/sh.ts";
import { requirePrograms } from "../_helpers/require.ts";

// ---------------------------------------------------------------------------------------------------
// Unit tests

Deno.test("sh quotes each interpolated string as one word", () => {
  assert.equal(sh`echo ${"a b"} ${"it's"} ${""} ${"/tmp/x"}`.text, `echo 'a b' 'it'\\''s' '' /tmp/x`);
});

Deno.test("sh inserts finite numbers as words", () => {
  assert.equal(sh`head -n ${5} -c ${-1.5} ${0}`.text, "head -n 5 -c -1.5 0");
});

Deno.test("sh throws RangeError for NaN and infinite numbers", () => {
  for (const value of [NaN, Infinity, -Infinity]) {
    assert.throws(() => sh`sleep ${value}`, { name: "RangeError", message: /\$\{\} #1/ });
  }
});

Deno.test("sh turns an array into one quoted word per element (argv)", () => {
  assert.equal(sh`rm -f -- ${["a b", "c", 3, ""]}`.text, "rm -f -- 'a b' c 3 ''");
  assert.equal(sh`ls ${[]}`.text, "ls ");
});

Deno.test("sh inserts a nested ShellCommand as is", () => {
  const inner = sh`grep -c ${"a b"} ${"f"}`;
  assert.equal(sh`cd /tmp && ${inner}`.text, "cd /tmp && grep -c 'a b' f");
});

Deno.test("sh inserts raw() text unquoted", () => {
  assert.equal(sh`ls ${raw("2>/dev/null |")} wc -l`.text, "ls 2>/dev/null | wc -l");
});

Deno.test("sh keeps the template's literal text raw, backslashes included", () => {
  assert.equal(sh`sed 's/a\.b/x/' ${"f"}`.text, "sed 's/a\\.b/x/' f");
  assert.equal(sh`printf '%s\n' ${"x"}`.text, "printf '%s\\n' x");
});

Deno.test("sh throws TypeError naming the position for values that are not words", () => {
  const bad: unknown[] = [null, undefined, true, false, {}, { text: "id" }, () => "id", Symbol("s"), 1n];
  for (const value of bad) {
    assert.throws(
      () => sh`echo ${"ok"} ${value as string}`,
      { name: "TypeError", message: /\$\{\} #2 of sh`…` \(after " "\)/ },
      String(typeof value),
    );
  }
  assert.throws(() => sh`x ${new Date(0) as unknown as string}`, { message: /a Date object/ });
  assert.throws(() => sh`x ${new String("a") as unknown as string}`, { message: /a String object/ });
});

Deno.test("sh throws TypeError for bad array elements, naming the element", () => {
  assert.throws(() => sh`rm ${["a", null as unknown as string]}`, {
    name: "TypeError",
    message: /element \[1\]/,
  });
  assert.throws(() => sh`rm ${[["a"]] as unknown as string[]}`, { name: "TypeError", message: /an array/ });
  assert.throws(() => sh`rm ${[sh`id`] as unknown as string[]}`, {
    name: "TypeError",
    message: /element \[0\]/,
  });
  assert.throws(() => sh`rm ${["a", NaN]}`, { name: "RangeError", message: /element \[1\]/ });
});

Deno.test("sh throws TypeError for NUL bytes in values, array elements and literal text", () => {
  assert.throws(() => sh`cat ${"a\0b"}`, { name: "TypeError", message: /\$\{\} #1 .*NUL byte at index 1/ });
  assert.throws(() => sh`cat ${["ok", "\0"]}`, { name: "TypeError", message: /element \[1\]/ });
  // A template cannot hold a NUL in its raw text from source, so build the strings array by hand.
  const strings = Object.assign(["cat \0"], { raw: ["cat \0"] }) as unknown as TemplateStringsArray;
  assert.throws(() => sh(strings), { name: "TypeError", message: /literal text/ });
});

Deno.test("sh refuses to be called as a plain function", () => {
  const call = sh as unknown as (text: string) => ShellCommand;
  assert.throws(() => call("id"), { name: "TypeError", message: /template tag/ });
});

Deno.test("raw() rejects non-strings and NUL bytes at runtime", () => {
  assert.throws(() => raw(42 as unknown as "x"), { name: "TypeError", message: /a number/ });
  assert.throws(() => raw("a\0b"), { name: "TypeError", message: /NUL byte/ });
});

Deno.test("raw() accepts only literal types at compile time", () => {
  const dynamic: string = "id";
  // @ts-expect-error a plain string (not a literal) must not type-check
  const unchecked = raw(dynamic);
  assert.equal(unchecked.text, "id");
  assert.equal(raw("uptime").text, "uptime");
});

Deno.test("ShellCommand instances are frozen and cannot be constructed directly", () => {
  const command = sh`id`;
  assert.ok(Object.isFrozen(command));
  assert.ok(Object.isFrozen(ShellCommand.prototype));
  assert.throws(() => {
    (command as { text: string }).text = "rm -rf /";
  }, TypeError);
  assert.throws(() => new ShellCommand(Symbol("ShellCommand"), "rm -rf /"), {
    name: "TypeError",
    message: /Cannot construct a ShellCommand directly/,
  });
});

Deno.test("ShellCommand converts to its text", () => {
  const command = sh`echo ${"a b"}`;
  assert.equal(command.toString(), "echo 'a b'");
  assert.equal(`${command}`, "echo 'a b'");
});

Deno.test("isShellCommand() recognises genuine commands only", () => {
  const forged = Object.assign(Object.create(ShellCommand.prototype), { text: "rm -rf /" });
  assert.equal(isShellCommand(sh`id`), true);
  assert.equal(isShellCommand(raw("id")), true);
  assert.equal(isShellCommand("id"), false);
  assert.equal(isShellCommand(null), false);
  assert.equal(isShellCommand(forged), false);
  assert.ok(forged instanceof ShellCommand, "the forgery passes instanceof, which is why the brand exists");
  assert.throws(() => sh`echo ${forged}`, { name: "TypeError", message: /\$\{\} #1/ });
});

Deno.test("joinCommands() joins with each allowed separator", () => {
  const parts = [sh`cd ${"/srv/my app"}`, sh`git pull`];
  assert.equal(joinCommands(parts, " && ").text, "cd '/srv/my app' && git pull");
  assert.equal(joinCommands(parts, "; ").text, "cd '/srv/my app'; git pull");
  assert.equal(joinCommands(parts, " | ").text, "cd '/srv/my app' | git pull");
  assert.equal(joinCommands(parts, "\n").text, "cd '/srv/my app'\ngit pull");
  assert.ok(isShellCommand(joinCommands(parts, "\n")));
});

Deno.test("joinCommands() rejects other separators, non-commands and an empty list", () => {
  assert.throws(() => joinCommands([sh`a`], " || " as "; "), { name: "TypeError", message: /" \|\| "/ });
  assert.throws(() => joinCommands([sh`a`, "rm -rf /" as unknown as ShellCommand], "; "), {
    name: "TypeError",
    message: /index 1/,
  });
  assert.throws(() => joinCommands([], "; "), RangeError);
});

// ---------------------------------------------------------------------------------------------------
// Round trips through real shells

const EVERY_BYTE = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1));
const HOSTILE: readonly string[] = [
  ...["", " ", "\t", "\n", "'", '"', "\\", "$(id)", "`id`", "$HOME", "*", "?", "[a]", "~", "-rf", "--"],
  ...[";id", "|", "&", ">", "<", "#", "!", "{a,b}", "if", "FOO=bar", "é", "🦕", "\u007f", "\u0001"],
  ...EVERY_BYTE,
  EVERY_BYTE.join(""),
  "'\"\\$` ".repeat(20_000),
];

/** Runs `script` on stdin of `program` and returns stdout; fails with stderr on a non-zero exit. */
async function runScript(program: string, script: string): Promise<Uint8Array> {
  const child = new Deno.Command(program, {
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", LC_ALL: "C.UTF-8", HOME: "/nonexistent-home" },
  }).spawn();
  const writing = (async () => {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
  })();
  const [output, written] = await Promise.allSettled([child.output(), writing]);
  if (output.status === "rejected") throw output.reason;
  const { code, stdout, stderr } = output.value;
  if (code !== 0) throw new Error(`${program} exited ${code}: ${new TextDecoder().decode(stderr)}`);
  if (written.status === "rejected") throw written.reason;
  return stdout;
}

/** What `printf '%s\0' words…` prints. */
function nulTerminated(words: readonly string[]): Uint8Array {
  return new TextEncoder().encode(words.map((word) => `${word}\0`).join(""));
}

function printWords(words: readonly string[]): ShellCommand {
  return sh`printf '%s\0' ${words}`;
}

for (const program of ["/bin/sh", "dash"]) {
  Deno.test(`sh round-trips an argv array of hostile words through ${program}`, {
    ignore: program === "dash" && !requirePrograms("dash"),
  }, async () => {
    const stdout = await runScript(program, `${printWords(HOSTILE)}\n`);
    assert.deepEqual(stdout, nulTerminated(HOSTILE));
  });
}

Deno.test("sh round-trips composed commands (nested, raw, joinCommands) through /bin/sh", async () => {
  const a = HOSTILE.slice(0, 20);
  const b = HOSTILE.slice(20, 40);
  const command = joinCommands([
    printWords(a),
    sh`${raw("printf '%s\\0'")} ${b} ${raw("| cat")}`,
    sh`for word in ${a}; do printf '%s\0' "$word"; done # comment`,
    sh`{ ${printWords(b)}; }`,
  ], "\n");
  const stdout = await runScript("/bin/sh", `${command}\n`);
  assert.deepEqual(stdout, nulTerminated([...a, ...b, ...a, ...b]));
});

Deno.test("sh round-trips arbitrary strings through /bin/sh (property)", async () => {
  const hostileUnit = fc.constantFrom(..."'\"\\$`!*?[]{}()~#;&|<>= \t\n\r\u0001\u007féΩ🦕");
  const word = fc.oneof(
    fc.string({ unit: "binary-ascii" }),
    fc.string({ unit: "binary" }),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: hostileUnit }),
  ).map((text) => text.replaceAll("\0", ""));
  await fc.assert(
    fc.asyncProperty(fc.array(word, { minLength: 1, maxLength: 40 }), async (words) => {
      const stdout = await runScript("/bin/sh", `${printWords(words)}\n`);
      assert.deepEqual(stdout, nulTerminated(words));
    }),
    { numRuns: 200 },
  );
});
