import assert from "node:assert/strict";
import { quote } from "../../src/shell/quote.ts";
import { hasProgram, requirePrograms } from "../_helpers/require.ts";

// ---------------------------------------------------------------------------------------------------
// Unit tests

Deno.test("quote() leaves words of the safe set bare", () => {
  for (
    const word of ["abc", "/var/log/syslog", "a-b_c.d:e,f@g%h+i", "-rf", "--", "1.5", "=x", "a-b=c", "If"]
  ) {
    assert.equal(quote(word), word);
  }
});

Deno.test("quote() turns the empty string into ''", () => {
  assert.equal(quote(""), "''");
});

Deno.test("quote() single-quotes anything else and writes ' as '\\''", () => {
  assert.equal(quote("a b"), "'a b'");
  assert.equal(quote("it's"), `'it'\\''s'`);
  assert.equal(quote("'"), `''\\'''`);
  assert.equal(quote("$HOME"), "'$HOME'");
  assert.equal(quote("~"), "'~'");
  assert.equal(quote("a\nb"), "'a\nb'");
});

Deno.test("quote() quotes safe-set words that would read as an assignment or a reserved word", () => {
  assert.equal(quote("FOO=bar"), "'FOO=bar'");
  assert.equal(quote("_x1="), "'_x1='");
  for (const word of ["if", "then", "fi", "done", "in", "case", "esac", "time", "function"]) {
    assert.equal(quote(word), `'${word}'`);
  }
});

Deno.test("quote() throws TypeError for a NUL byte, naming its index", () => {
  assert.throws(() => quote("a\0b"), { name: "TypeError", message: /NUL byte at index 1/ });
});

Deno.test("quote() throws TypeError for a non-string", () => {
  assert.throws(() => quote(42 as unknown as string), {
    name: "TypeError",
    message: /Cannot quote a number/,
  });
  assert.throws(() => quote(undefined as unknown as string), TypeError);
});

// ---------------------------------------------------------------------------------------------------
// Round trips through real shells: `printf '%s\0' <quoted words>` must print the words' bytes exactly.

const CONTROL = [...Array.from({ length: 31 }, (_, i) => i + 1), 0x7f].map((b) => String.fromCharCode(b));
const EVERY_BYTE = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1));
const METACHARACTERS = " \t\n'\"\\$`*?[]~#!{}();|&<>=%,";

/** Strings a shell could misread; `quote()` must carry each through unchanged. */
const HOSTILE: readonly string[] = [
  ...["", " ", "  a  b  ", "\t", "\n", "a\nb", "\r\n", "'", "''", "it's", "'\\''", '"', '"$HOME"'],
  ...["\\", "\\\\", "\\n", "\\0", "$(id)", "`id`", "$HOME", "${HOME}", "$'\\n'", "$", "$$", "$1", "$@"],
  ...["*", "?", "[a]", "[!a]", "~", "~root", "~/x", "-rf", "--", "-", "-n", "-e", ";id", "; rm -rf ~"],
  ...["|", "||", "&", "&&", ">", ">>", "<", "<<EOF", "2>&1", "#", "a#b", "#!", "!", "!!", "{a,b}"],
  ...["{", "}", "(", ")", "((1))", "if", "then", "done", "FOO=bar", "%s", "%", "%%", "%n", "=", "a=b c"],
  ...["é", "日本語", "🦕", "👨‍👩‍👧", "\u00a0", "\u2028", "\ufeff", "\u200b", "Ω≈ç√", "e\u0301"],
  ...CONTROL,
  CONTROL.join(""),
  ...EVERY_BYTE,
  EVERY_BYTE.join(""),
  "x".repeat(100_000),
  "'".repeat(10_000),
  METACHARACTERS.repeat(4_000),
];

interface Shell {
  readonly label: string;
  readonly argv: readonly [string, ...string[]];
}

const SH: Shell = { label: "/bin/sh", argv: ["/bin/sh"] };
const DASH: Shell = { label: "dash", argv: ["dash"] };
const BASH_POSIX: Shell = { label: "bash --posix", argv: ["bash", "--posix"] };

type Encoding = "utf-8" | "latin1";

function encode(text: string, encoding: Encoding): Uint8Array {
  if (encoding === "utf-8") return new TextEncoder().encode(text);
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

function isLatin1(text: string): boolean {
  return [...text].every((ch) => ch.charCodeAt(0) <= 0xff);
}

/** Runs `script` (fed on stdin, so it may hold any bytes and exceed ARG_MAX) and returns stdout. */
async function runScript(shell: Shell, script: Uint8Array, locale: string, cwd: string): Promise<Uint8Array> {
  const [program, ...args] = shell.argv;
  const child = new Deno.Command(program, {
    args,
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    // HOME points nowhere so that a tilde or $HOME that escaped quoting shows in the output.
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", LC_ALL: locale, HOME: "/nonexistent-home" },
  }).spawn();
  const writing = (async () => {
    const writer = child.stdin.getWriter();
    await writer.write(script);
    await writer.close();
  })();
  const [output, written] = await Promise.allSettled([child.output(), writing]);
  if (output.status === "rejected") throw output.reason;
  const { code, stdout, stderr } = output.value;
  if (code !== 0) {
    throw new Error(`${shell.label} (LC_ALL=${locale}) exited ${code}: ${new TextDecoder().decode(stderr)}`);
  }
  if (written.status === "rejected") throw written.reason;
  return stdout;
}

function splitNul(bytes: Uint8Array): Uint8Array[] {
  const words: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0) {
      words.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  if (start !== bytes.length) words.push(bytes.subarray(start));
  return words;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Asserts that the NUL-terminated words in `stdout` are exactly `words`, reporting the first mismatch. */
function assertWords(
  stdout: Uint8Array,
  words: readonly string[],
  encoding: Encoding,
  context: string,
): void {
  const actual = splitNul(stdout);
  for (let i = 0; i < words.length; i++) {
    const expected = encode(words[i] ?? "", encoding);
    const got = actual[i];
    if (got === undefined || !sameBytes(got, expected)) {
      assert.fail(
        `${context}: word ${i} ${JSON.stringify(words[i]?.slice(0, 60))} came back as ` +
          `${got === undefined ? "nothing" : JSON.stringify(new TextDecoder().decode(got).slice(0, 60))}`,
      );
    }
  }
  assert.equal(actual.length, words.length, `${context}: word count`);
  assert.equal(stdout.at(-1), 0, `${context}: output ends with the last word's NUL`);
}

/** A scratch directory holding files that unquoted globs (`*`, `?`, `[a]`) would match. */
async function withGlobBait(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "quote_test_" });
  try {
    for (const name of ["a", "b", "-rf", "x y"]) await Deno.writeTextFile(`${dir}/${name}`, "");
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function assertRoundTrip(shell: Shell): Promise<void> {
  await withGlobBait(async (dir) => {
    for (const locale of ["C", "C.UTF-8"]) {
      for (const encoding of ["utf-8", "latin1"] as const) {
        const words = encoding === "latin1" ? HOSTILE.filter(isLatin1) : HOSTILE;
        const script = encode(`printf '%s\\0' ${words.map(quote).join(" ")}\n`, encoding);
        const stdout = await runScript(shell, script, locale, dir);
        assertWords(stdout, words, encoding, `${shell.label}, LC_ALL=${locale}, script in ${encoding}`);
      }
    }
  });
}

Deno.test("quote() round-trips the hostile corpus through /bin/sh byte for byte", async () => {
  await assertRoundTrip(SH);
});

Deno.test("quote() round-trips the hostile corpus through dash byte for byte", {
  ignore: !requirePrograms("dash"),
}, async () => {
  await assertRoundTrip(DASH);
});

const hasBash = hasProgram("bash");
if (!hasBash) console.warn("SKIP: bash is not installed — the bash --posix round trip does not run");

Deno.test("quote() round-trips the hostile corpus through bash --posix byte for byte", {
  ignore: !hasBash,
}, async () => {
  await assertRoundTrip(BASH_POSIX);
});

Deno.test("quote() words in command position run as commands, never as keywords or assignments", {
  ignore: !requirePrograms("dash"),
}, async () => {
  const words = ["if", "then", "done", "case", "in", "time", "{", "}", "!", "FOO=bar", "(", "#"];
  // PATH points nowhere, so each quoted word must fail as an unknown command (127); a keyword would be a
  // syntax error that aborts the script, an assignment would exit 0, a comment would print rc=0.
  const lines = words.map((word) => `${quote(word)} 2>/dev/null; echo "rc=$?"`);
  const script = new TextEncoder().encode(`PATH=/nonexistent\n${lines.join("\n")}\n`);
  for (const shell of hasBash ? [SH, DASH, BASH_POSIX] : [SH, DASH]) {
    await withGlobBait(async (dir) => {
      const stdout = new TextDecoder().decode(await runScript(shell, script, "C", dir));
      assert.equal(stdout, "rc=127\n".repeat(words.length), shell.label);
    });
  }
});
