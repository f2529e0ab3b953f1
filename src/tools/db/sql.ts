/**
 * SQL text handling of the database toolset: splitting PostgreSQL text into statements the way psql
 * does, and the psql input composed around them so that each statement's output can be told apart.
 * No I/O.
 *
 * @module
 */

/** One statement of a SQL text. */
export interface SqlStatement {
  /** The statement as written, from its first meaningful character (with its `;` when it had one). */
  text: string;
  /** 1-based line of the input where it starts. */
  line: number;
  /** Ended by a `;` (the last statement may not be). */
  terminated: boolean;
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * Splits PostgreSQL text into statements with psql's rules: `;` ends a statement outside quotes
 * ('…', E'…', "…", $tag$…$tag$), comments (-- and nested /* *\/), parentheses and the BEGIN … END
 * body of CREATE FUNCTION/PROCEDURE. Parts with only comments or whitespace are dropped.
 *
 * @throws {TypeError} for psql meta-commands (a backslash outside quotes), which are not SQL.
 *
 * @example
 * ```ts
 * splitPgSql("select 1;\nselect ';';").map((s) => s.line); // [1, 2]
 * ```
 */
export function splitPgSql(sql: string): SqlStatement[] {
  const out: SqlStatement[] = [];
  const n = sql.length;
  let first = -1; // index of the statement's first meaningful character
  let parens = 0;
  let beginDepth = 0;
  let words: string[] = [];
  const push = (end: number, terminated: boolean) => {
    if (first >= 0) {
      out.push({ text: sql.slice(first, end).trimEnd(), line: 1 + countNewlines(sql, first), terminated });
    }
    first = -1;
    parens = 0;
    beginDepth = 0;
    words = [];
  };
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      while (i < n && sql[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && next === "*") {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") (depth++, i += 2);
        else if (sql[i] === "*" && sql[i + 1] === "/") (depth--, i += 2);
        else i++;
      }
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === ";" && parens === 0 && beginDepth === 0) {
      if (first >= 0) push(i + 1, true);
      i++;
      continue;
    }
    if (first < 0) first = i;
    if (c === "'") {
      const prev = sql[i - 1] ?? "";
      const escapes = /[eE]/.test(prev) && !IDENT_CHAR.test(sql[i - 2] ?? "");
      i++;
      while (i < n) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < n) {
        if (sql[i] === '"' && sql[i + 1] === '"') i += 2;
        else if (sql[i] === '"') break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === "$" && !IDENT_CHAR.test(sql[i - 1] ?? "")) {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 100))
        ?.[0];
      if (tag !== undefined) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? n : end + tag.length;
        continue;
      }
    }
    if (c === "\\") {
      throw new TypeError(
        `Cannot run psql meta-command "${
          sql.slice(i, i + 10).split(/\s/)[0]
        }": only SQL is accepted (db_schema describes tables; information_schema answers the rest)`,
      );
    }
    if (c === "(") parens++;
    else if (c === ")") parens = Math.max(0, parens - 1);
    else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(sql[j]!)) j++;
      const word = sql.slice(i, j).toLowerCase();
      if (words.length < 4) words.push(word);
      const routine = words[0] === "create" &&
        (words[1] === "function" || words[1] === "procedure" ||
          (words[1] === "or" && words[2] === "replace" &&
            (words[3] === "function" || words[3] === "procedure")));
      if (word === "begin" && routine) beginDepth++;
      else if (word === "case" && beginDepth > 0) beginDepth++;
      else if (word === "end" && beginDepth > 0) beginDepth--;
      i = j;
      continue;
    }
    i++;
  }
  push(n, false);
  return out;
}

function countNewlines(text: string, end: number): number {
  let count = 0;
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 10) count++;
  return count;
}

/** The psql input for statements, and where each starts in it (for error line mapping). */
export interface PsqlScript {
  /** Text for `psql -f -`. */
  text: string;
  /** 1-based line in `text` where statement i starts. */
  starts: number[];
}

/**
 * Wraps each statement so its output can be told apart: `\gdesc` describes the statement (column
 * names and types) without running it, then `\g` runs it (psql re-sends the query it just described
 * when the buffer is empty), then its row count is printed. Types thus arrive before any row, and
 * survive an output cut.
 */
export function composePsql(statements: readonly SqlStatement[], marker: string): PsqlScript {
  const lines: string[] = [];
  const starts: number[] = [];
  let line = 1;
  const add = (text: string) => {
    lines.push(text);
    line += text.split("\n").length;
  };
  statements.forEach((s, i) => {
    add(`\\echo ${marker} d ${i}`);
    starts.push(line);
    // Without its `;` (which would send it); \gdesc goes on its own line as the text may end in a comment.
    add(s.terminated ? s.text.slice(0, -1) : s.text);
    add("\\gdesc");
    add(`\\echo ${marker} s ${i}`);
    add("\\g");
    add(`\\echo ${marker} r ${i} :ROW_COUNT`);
  });
  add(`\\echo ${marker} end`);
  return { text: lines.join("\n") + "\n", starts };
}
