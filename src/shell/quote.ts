/**
 * POSIX `sh` quoting for a single word. Pure: no I/O.
 *
 * @module
 */

// Characters that no POSIX shell treats specially anywhere in a word. `~` (tilde expansion), `#`
// (comment), `!` and `{` `}` (reserved words), `[` `*` `?` (globbing) are deliberately absent.
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

// A bare word of the safe set can still change meaning in command position: `NAME=value` becomes an
// assignment and `if`, `done`… become reserved words. Quoting them costs two bytes and makes
// `quote()` correct in every position.
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const RESERVED = new Set([
  "case",
  "coproc",
  "do",
  "done",
  "elif",
  "else",
  "esac",
  "fi",
  "for",
  "function",
  "if",
  "in",
  "select",
  "then",
  "time",
  "until",
  "while",
]);

/** A short, printable rendering of `value` for error messages (never the whole of a long value). */
export function preview(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(shown).slice(1, -1);
}

/**
 * Quotes `value` so that a POSIX shell (`sh`, `dash`, `bash --posix`) reads it back as exactly one
 * word with exactly these characters, whatever position the word takes in the command line.
 *
 * Values made only of `[A-Za-z0-9_@%+=:,./-]` stay bare (for readable commands), unless they would
 * read as an assignment or a reserved word; everything else is single-quoted, with each `'` written
 * as `'\''`. The empty string becomes `''`.
 *
 * @throws {TypeError} when `value` is not a string or contains a NUL byte, which a POSIX argument
 * cannot carry.
 *
 * @example
 * ```ts
 * import { quote } from "./quote.ts";
 *
 * quote("/var/log/syslog"); // => /var/log/syslog
 * quote("it's $HOME");      // => 'it'\''s $HOME'
 * quote("");                // => ''
 * ```
 */
export function quote(value: string): string {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot quote a ${typeof value}: quote() takes a string; convert it explicitly`);
  }
  const nul = value.indexOf("\0");
  if (nul !== -1) {
    throw new TypeError(
      `Cannot quote "${preview(value)}": it contains a NUL byte at index ${nul}, which a POSIX ` +
        "argument cannot carry; remove it or encode the value (for example as base64)",
    );
  }
  if (value === "") return "''";
  if (SAFE_WORD.test(value) && !ASSIGNMENT.test(value) && !RESERVED.has(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
