/**
 * `sh` tagged template: the only way to build a remote command line. Pure: no I/O.
 *
 * @module
 */
import { preview, quote } from "./quote.ts";

// Module-private: only this file can mint a ShellCommand, so every instance went through quoting,
// raw() or joinCommands(). The WeakSet is the brand: an object faked with
// Object.create(ShellCommand.prototype) is not in it.
const MINT = Symbol("ShellCommand");
const MINTED = new WeakSet<object>();

/**
 * A command line for a POSIX shell whose every interpolated value has been quoted. Build one with
 * {@linkcode sh}, {@linkcode raw} or {@linkcode joinCommands}; the constructor is closed.
 */
export class ShellCommand {
  /** The command line, as the remote shell will read it. */
  readonly text: string;

  /** Not callable from outside this module: use `sh`, `raw()` or `joinCommands()`. */
  constructor(mint: symbol, text: string) {
    if (mint !== MINT) {
      throw new TypeError(
        "Cannot construct a ShellCommand directly: build it with sh`…`, raw() or joinCommands()",
      );
    }
    this.text = text;
    Object.freeze(this);
    MINTED.add(this);
  }

  /** The command line text. */
  toString(): string {
    return this.text;
  }
}
Object.freeze(ShellCommand.prototype);
Object.freeze(ShellCommand);

/** A value accepted in a `${}` of {@linkcode sh}. */
export type ShellValue = string | number | ShellCommand | readonly (string | number)[];

/** Separators accepted by {@linkcode joinCommands}. */
export type CommandSeparator = "; " | " && " | " | " | "\n";
const SEPARATORS: ReadonlySet<string> = new Set(["; ", " && ", " | ", "\n"]);

/**
 * Whether `value` is a genuine {@linkcode ShellCommand} from this module (a lookalike object is not).
 *
 * @example
 * ```ts
 * import { isShellCommand, sh } from "./sh.ts";
 *
 * isShellCommand(sh`uptime`); // => true
 * isShellCommand("uptime");   // => false
 * ```
 */
export function isShellCommand(value: unknown): value is ShellCommand {
  return typeof value === "object" && value !== null && MINTED.has(value);
}

/**
 * Tagged template that builds a {@linkcode ShellCommand}, quoting every `${}`:
 * a string or finite number becomes one word; an array becomes one word per element (argv); a
 * `ShellCommand` (from `sh`, `raw()` or `joinCommands()`) is inserted as is. The literal parts are
 * taken raw, as with `String.raw`, so backslashes reach the shell as written (`\n` stays two
 * characters; write a real line break for a newline).
 *
 * @throws {TypeError} for `null`, `undefined`, booleans, bigint, symbols, functions, plain objects,
 * nested arrays and NUL bytes, naming the offending `${}`.
 * @throws {RangeError} for `NaN` and infinite numbers.
 *
 * @example
 * ```ts
 * import { sh } from "./sh.ts";
 *
 * const file = "it's here.log";
 * sh`tail -n ${50} ${file}`.text;      // => tail -n 50 'it'\''s here.log'
 * sh`rm -f -- ${["a b", "c"]}`.text;    // => rm -f -- 'a b' c
 * sh`cd /tmp && ${sh`ls ${file}`}`.text; // => cd /tmp && ls 'it'\''s here.log'
 * ```
 */
export function sh(strings: TemplateStringsArray, ...values: readonly ShellValue[]): ShellCommand {
  if (!Array.isArray(strings) || !Array.isArray(strings.raw) || strings.raw.length !== values.length + 1) {
    throw new TypeError("Cannot build a shell command: sh must be used as a template tag, sh`…`");
  }
  const literals: readonly string[] = strings.raw;
  let text = literalPart(literals, 0);
  for (let i = 0; i < values.length; i++) {
    text += interpolate(values[i], i, literals[i] ?? "") + literalPart(literals, i + 1);
  }
  return new ShellCommand(MINT, text);
}

/**
 * Marks literal shell text (operators, redirections, `$VAR` references, pipelines) to insert unquoted.
 *
 * Pass only a string literal written at the call site, never a value that came from input: the type
 * rejects a plain `string`, the runtime rejects non-strings and NUL bytes, and the architecture test
 * (`tests/architecture_test.ts`) fails the build for any `raw(` call whose argument is not a literal.
 *
 * @example
 * ```ts
 * import { raw, sh } from "./sh.ts";
 *
 * sh`ls ${raw("2>/dev/null |")} wc -l`.text; // => ls 2>/dev/null | wc -l
 * ```
 */
export function raw<T extends string>(literal: T & (string extends T ? never : unknown)): ShellCommand {
  if (typeof literal !== "string") {
    throw new TypeError(`Cannot use ${describe(literal)} as raw shell text: raw() takes a string literal`);
  }
  rejectNul(literal, "raw shell text");
  return new ShellCommand(MINT, literal);
}

/**
 * Joins commands with one separator. Each part is inserted as is, so the shell's own precedence
 * applies (`a && b | c` pipes only `b`): group a part with sh`{ ${part}; }` when that matters. Use
 * `"\n"` when a part may end in a `#` comment.
 *
 * @throws {TypeError} when a part is not a ShellCommand or the separator is not one of the four.
 * @throws {RangeError} when `parts` is empty.
 *
 * @example
 * ```ts
 * import { joinCommands, sh } from "./sh.ts";
 *
 * joinCommands([sh`cd ${"/srv/app"}`, sh`git pull`], " && ").text; // => cd /srv/app && git pull
 * ```
 */
export function joinCommands(parts: readonly ShellCommand[], separator: CommandSeparator): ShellCommand {
  if (!SEPARATORS.has(separator)) {
    throw new TypeError(
      `Cannot join commands with "${preview(String(separator))}": use "; ", " && ", " | " or "\\n"`,
    );
  }
  if (parts.length === 0) {
    throw new RangeError(
      "Cannot join commands: the list is empty; skip the join when there is nothing to run",
    );
  }
  const texts = parts.map((part, i) => {
    if (!isShellCommand(part)) {
      throw new TypeError(`Cannot join ${describe(part)} at index ${i}: build every part with sh\`…\``);
    }
    return part.text;
  });
  return new ShellCommand(MINT, texts.join(separator));
}

function literalPart(literals: readonly string[], index: number): string {
  const part = literals[index] ?? "";
  rejectNul(part, `the literal text of sh\`…\` part ${index}`);
  return part;
}

function interpolate(value: unknown, index: number, before: string): string {
  const where = `\${} #${index + 1} of sh\`…\` (after "${preview(before.slice(-20))}")`;
  if (isShellCommand(value)) return value.text;
  if (Array.isArray(value)) return value.map((item, i) => word(item, `element [${i}] of ${where}`)).join(" ");
  return word(value, where);
}

function word(value: unknown, where: string): string {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new RangeError(`Cannot insert ${value} at ${where}: only finite numbers are allowed`);
    }
    return quote(String(value));
  }
  if (typeof value !== "string") {
    throw new TypeError(
      `Cannot insert ${describe(value)} at ${where}: expected a string, a finite number, an array of ` +
        "those or a ShellCommand; convert the value explicitly",
    );
  }
  rejectNul(value, where);
  return quote(value);
}

function rejectNul(value: string, where: string): void {
  const nul = value.indexOf("\0");
  if (nul === -1) return;
  throw new TypeError(
    `Cannot insert "${preview(value)}" at ${where}: it contains a NUL byte at index ${nul}, which a ` +
      "POSIX command line cannot carry; remove it or encode the value (for example as base64)",
  );
}

// With its article, for messages: "null", "an array", "a boolean", "a plain object", "a Date object".
function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value !== "object") {
    return /^[aeiou]/.test(typeof value) ? `an ${typeof value}` : `a ${typeof value}`;
  }
  const name: unknown = Object.getPrototypeOf(value)?.constructor?.name;
  return name === "Object" || typeof name !== "string" ? "a plain object" : `a ${name} object`;
}
