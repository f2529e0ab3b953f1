/**
 * Pure parts of the database toolset: splitting SQL into statements the way psql does, the psql
 * input we compose around them, parsers for psql `--csv` and mysql/mariadb `--xml` output and for
 * their error messages, database detection from container facts, and the catalog queries of
 * `db_schema` with the assembly of their rows. No I/O.
 */

/** Database engines the tools drive. */
export const DB_TYPES = ["postgres", "mysql", "mariadb"] as const;
/** One of {@link DB_TYPES}. */
export type DbType = typeof DB_TYPES[number];

/** Database, user and similar identifiers: never starting with `-`, no quotes or spaces. */
export const DB_IDENTIFIER = /^[A-Za-z0-9_][A-Za-z0-9_.$@-]*$/;

/** A cell value as returned to the model. */
export type Cell = string | number | boolean | null;

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

/** One result set. */
export interface ResultSet {
  /** The statement (first 200 characters). */
  statement: string;
  /** Column names and types (type null when the client does not give it). */
  columns: { name: string; type: string | null }[];
  /** Rows of raw text values; null for SQL NULL. */
  rows: (string | null)[][];
  /** Rows returned or affected, when the client reports it. */
  row_count: number | null;
  /** Whether the statement returns rows (false for DDL/DML without RETURNING). */
  has_rows: boolean;
  /** The output was cut (byte cap) inside this result. */
  cut: boolean;
}

/**
 * Parses RFC 4180 CSV as psql `--csv` writes it. Returns the complete records and whether the text
 * ended on a record boundary (a cut stream leaves a partial last record, which is dropped).
 */
export function parseCsv(text: string): { records: string[][]; complete: boolean; quoted: boolean[][] } {
  const records: string[][] = [];
  const quotedAll: boolean[][] = [];
  let record: string[] = [];
  let quoted: boolean[] = [];
  let field = "";
  let wasQuoted = false;
  let i = 0;
  const n = text.length;
  let inQuotes = false;
  let fieldStarted = false;
  while (i < n) {
    const c = text[i]!;
    if (inQuotes) {
      if (c === '"') {
        if (text[i + 1] === '"') (field += '"', i += 2);
        else (inQuotes = false, i++);
      } else (field += c, i++);
      continue;
    }
    if (c === '"' && !fieldStarted) {
      inQuotes = true;
      wasQuoted = true;
      fieldStarted = true;
      i++;
    } else if (c === ",") {
      record.push(field);
      quoted.push(wasQuoted);
      field = "";
      wasQuoted = false;
      fieldStarted = false;
      i++;
    } else if (c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
      record.push(field);
      quoted.push(wasQuoted);
      records.push(record);
      quotedAll.push(quoted);
      record = [];
      quoted = [];
      field = "";
      wasQuoted = false;
      fieldStarted = false;
      i += c === "\r" ? 2 : 1;
    } else {
      field += c;
      fieldStarted = true;
      i++;
    }
  }
  const complete = !inQuotes && !fieldStarted && record.length === 0;
  return { records, complete, quoted: quotedAll };
}

/** What {@link parsePsqlOutput} found. */
export interface PsqlOutput {
  /** One entry per statement that started. */
  results: ResultSet[];
  /** psql's exit status, when the output was not cut. */
  exit_code: number | null;
  /** The output ended before psql finished (byte cap or kill). */
  cut: boolean;
}

/**
 * Parses the output of a {@link composePsql} script run with `--csv -P null=<nullMarker>`, followed by
 * a `<marker> exit <status>` line from the wrapper.
 */
export function parsePsqlOutput(
  stdout: string,
  marker: string,
  nullMarker: string,
  statements: readonly SqlStatement[],
): PsqlOutput {
  const prefix = marker + " ";
  const results: ResultSet[] = [];
  let exitCode: number | null = null;
  // Without the wrapper's exit line the stream was cut: a partial last line is not a record.
  if (!stdout.includes(`\n${prefix}exit `) && !stdout.startsWith(`${prefix}exit `)) {
    stdout = stdout.slice(0, Math.max(0, stdout.lastIndexOf("\n")));
  }
  let section: { kind: "s" | "d"; index: number; lines: string[] } | undefined;
  const finish = () => {
    if (section === undefined) return;
    const result = results[section.index];
    if (result === undefined) return;
    const body = section.lines.join("\n");
    if (section.kind === "s") {
      const { records, complete, quoted } = parseCsv(body === "" ? "" : body + "\n");
      const header = records[0];
      if (header !== undefined) {
        result.has_rows = true;
        // Names from the data header (exact); types from \gdesc, by position.
        result.columns = header.map((name, i) => ({ name, type: result.columns[i]?.type ?? null }));
        result.rows = records.slice(1).map((r, ri) =>
          r.map((v, ci) => (v === nullMarker && quoted[ri + 1]?.[ci] !== true ? null : v))
        );
      }
      result.cut = !complete;
    } else {
      const { records } = parseCsv(body === "" ? "" : body + "\n");
      // "Column,Type" header then one row per column; anything else says "no result columns".
      if (records.length > 1 && records.every((r) => r.length === 2)) {
        result.columns = records.slice(1).map((r) => ({ name: r[0] ?? "", type: r[1] ?? null }));
      }
    }
  };
  for (const line of stdout.split("\n")) {
    if (!line.startsWith(prefix)) {
      section?.lines.push(line);
      continue;
    }
    const [kind, a, b] = line.slice(prefix.length).split(" ");
    const index = Number(a);
    if (kind === "d") {
      finish();
      results[index] = {
        statement: (statements[index]?.text ?? "").slice(0, 200),
        columns: [],
        rows: [],
        row_count: null,
        has_rows: false,
        cut: false,
      };
      section = { kind: "d", index, lines: [] };
    } else if (kind === "s") {
      finish();
      section = { kind: "s", index, lines: [] };
    } else if (kind === "r") {
      finish();
      section = undefined;
      const result = results[index];
      if (result !== undefined && /^\d+$/.test(b ?? "")) result.row_count = Number(b);
    } else if (kind === "end" || kind === "exit") {
      finish();
      section = undefined;
      if (kind === "exit" && /^\d+$/.test(a ?? "")) exitCode = Number(a);
    }
  }
  finish();
  const dense = results.filter((r): r is ResultSet => r !== undefined);
  // A result whose data section never ended was cut.
  const last = dense.at(-1);
  if (exitCode === null && last !== undefined && last.row_count === null) last.cut = true;
  return { results: dense, exit_code: exitCode, cut: exitCode === null };
}

/** A statement error as the model sees it. */
export interface DbError {
  /** The server's (or client's) message, with DETAIL/HINT lines. */
  message: string;
  /** Line of the submitted SQL where the error is, when known. */
  line: number | null;
  /** SQLSTATE or MySQL error code, when known. */
  code: string | null;
  /** Index of the failing statement (psql only). */
  statement_index: number | null;
}

/**
 * Parses psql's stderr. Lines look like `psql:<stdin>:12: ERROR:  message`, then `LINE 1: …` with
 * a caret line; `starts` maps the script line back to a statement and the statement to user lines.
 */
export function parsePsqlError(
  stderr: string,
  statements: readonly SqlStatement[],
  starts: readonly number[],
): DbError | null {
  const lines = stderr.split("\n");
  const at = lines.findIndex((l) => /^psql:.*?:\d+: (ERROR|FATAL|PANIC):/.test(l) || /^psql: error:/.test(l));
  if (at < 0) {
    const text = stderr.trim();
    return text === ""
      ? null
      : { message: text.slice(0, 2000), line: null, code: null, statement_index: null };
  }
  const head = lines[at]!;
  const scriptLine = Number(/^psql:.*?:(\d+): /.exec(head)?.[1] ?? NaN);
  const message = [head.replace(/^psql:.*?:\d+: /, "").replace(/^psql: error: /, "")];
  let within: number | null = null;
  for (const l of lines.slice(at + 1)) {
    if (/^psql:/.test(l)) break;
    const m = /^LINE (\d+): /.exec(l);
    if (m && within === null) within = Number(m[1]);
    if (l.trim() !== "") message.push(l);
  }
  let index: number | null = null;
  if (Number.isFinite(scriptLine)) {
    for (let i = 0; i < starts.length; i++) if (starts[i]! <= scriptLine) index = i;
  }
  const statement = index === null ? undefined : statements[index];
  const line = statement === undefined ? null : statement.line + (within === null ? 0 : within - 1);
  return { message: message.join("\n").slice(0, 4000), line, code: null, statement_index: index };
}

const XML_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) => {
    if (e.startsWith("#x")) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith("#")) return String.fromCodePoint(Number(e.slice(1)));
    return XML_ENTITIES[e] ?? _;
  });
}

/**
 * Parses `mysql --xml` / `mariadb --xml` output: one `<resultset>` per statement that returns rows,
 * `xsi:nil="true"` for NULL. A cut stream keeps only complete rows. Column types are not in the XML.
 */
export function parseMysqlXml(text: string): { results: ResultSet[]; cut: boolean } {
  const results: ResultSet[] = [];
  let cut = false;
  const open = /<resultset statement="([^"]*)"[^>]*?(\/?)>/g;
  let m: RegExpExecArray | null;
  while ((m = open.exec(text)) !== null) {
    const result: ResultSet = {
      statement: decodeXml(m[1] ?? "").slice(0, 200),
      columns: [],
      rows: [],
      row_count: null,
      has_rows: true,
      cut: false,
    };
    results.push(result);
    if (m[2] === "/") {
      result.row_count = 0;
      continue;
    }
    const close = text.indexOf("</resultset>", open.lastIndex);
    const body = text.slice(open.lastIndex, close < 0 ? text.length : close);
    if (close < 0) (result.cut = true, cut = true);
    for (const row of body.matchAll(/<row>([\s\S]*?)<\/row>/g)) {
      const values: (string | null)[] = [];
      const names: string[] = [];
      for (
        const f of (row[1] ?? "").matchAll(
          /<field name="([^"]*)"(\s+xsi:nil="true")?\s*(?:\/>|>([^<]*)<\/field>)/g,
        )
      ) {
        names.push(decodeXml(f[1] ?? ""));
        values.push(f[2] ? null : decodeXml(f[3] ?? ""));
      }
      if (result.columns.length === 0) result.columns = names.map((name) => ({ name, type: null }));
      result.rows.push(values);
    }
    if (!result.cut) result.row_count = result.rows.length;
    if (close >= 0) open.lastIndex = close;
  }
  return { results, cut };
}

/**
 * Parses `ERROR 1146 (42S02) at line 3: Table 'x' doesn't exist` from mysql/mariadb stderr. The line
 * is exact for syntax errors and the failing statement's first line otherwise.
 */
export function parseMysqlError(stderr: string): DbError | null {
  const m = /^ERROR (\d+)(?: \(([0-9A-Z]{5})\))?(?: at line (\d+))?(?: in file: '[^']*')?: (.*)$/m.exec(
    stderr,
  );
  if (m === null) {
    const text = stderr.split("\n").filter((l) => l.trim() !== "" && !/^-+$/.test(l.trim())).join("\n")
      .trim();
    return text === ""
      ? null
      : { message: text.slice(0, 2000), line: null, code: null, statement_index: null };
  }
  // The client gives the line where the failing statement starts; a syntax error adds the line
  // within the statement ("… near 'x' at line 2").
  const start = m[3] === undefined ? null : Number(m[3]);
  const within = /at line (\d+)\s*$/.exec(m[4] ?? "")?.[1];
  return {
    message: `ERROR ${m[1]}${m[2] ? ` (${m[2]})` : ""}: ${m[4]}`,
    line: start === null ? null : start + (within === undefined ? 0 : Number(within) - 1),
    code: m[2] ?? m[1] ?? null,
    statement_index: null,
  };
}

const INT_TYPES = /^(smallint|integer|int|int2|int4|oid|bigint|int8)$/;
const FLOAT_TYPES = /^(real|double precision|float4|float8)$/;

/**
 * Converts a PostgreSQL text value by its type: integers and floats become numbers (bigint only
 * when exact), booleans become true/false; everything else (numeric, dates, json) stays text.
 */
export function convertCell(value: string | null, type: string | null): Cell {
  if (value === null || type === null) return value;
  if (INT_TYPES.test(type)) {
    const n = Number(value);
    return /^-?\d+$/.test(value) && Number.isSafeInteger(n) ? n : value;
  }
  if (FLOAT_TYPES.test(type)) {
    const n = Number(value);
    return /^-?[\d.]+(e[-+]?\d+)?$/i.test(value) && Number.isFinite(n) ? n : value;
  }
  if (type === "boolean") return value === "t" ? true : value === "f" ? false : value;
  return value;
}

/** A plain-text table of a result for the model (first `limit` rows, long cells shortened). */
export function renderTable(
  columns: readonly { name: string }[],
  rows: readonly (readonly Cell[])[],
  limit = 50,
): string {
  if (columns.length === 0) return "";
  const show = (v: Cell) => {
    const s = v === null ? "NULL" : String(v).replace(/\n/g, "\\n").replace(/\t/g, "\\t");
    return s.length > 60 ? s.slice(0, 57) + "..." : s;
  };
  const body = rows.slice(0, limit).map((r) => r.map(show));
  const widths = columns.map((c, i) => Math.max(c.name.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ").trimEnd();
  const out = [
    line(columns.map((c) => c.name)),
    widths.map((w) => "-".repeat(w)).join("-+-"),
    ...body.map(line),
  ];
  if (rows.length > limit) out.push(`… ${rows.length - limit} more row(s) in the structured result`);
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// detection

/** What is known about a container for detection. */
export interface DbEvidence {
  /** Image reference. */
  image: string;
  /** Entrypoint and command. */
  command: string;
  /** Process lines from `docker top`. */
  processes: readonly string[];
  /** Exposed/published container ports ("5432/tcp"). */
  ports: readonly string[];
  /** TCP ports listening inside the container. */
  listening: readonly number[];
}

/** The repository part of an image reference: "docker.io/library/postgres:16" → "library/postgres". */
function repository(image: string): string {
  const noDigest = image.split("@")[0] ?? "";
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  const noTag = colon > slash ? noDigest.slice(0, colon) : noDigest;
  const parts = noTag.split("/");
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) parts.shift();
  return parts.join("/").toLowerCase();
}

function imageType(image: string): DbType | null {
  const repo = repository(image);
  if (/mariadb/.test(repo)) return "mariadb";
  if (/mysql|percona/.test(repo)) return "mysql";
  if (/postgres|postgis|timescale|pgvector/.test(repo)) return "postgres";
  return null;
}

function processType(line: string): DbType | null {
  if (/\bmariadbd\b/.test(line)) return "mariadb";
  if (/\bmysqld\b/.test(line)) return "mysql";
  if (/\bpostgres\b|\bpostmaster\b/.test(line)) return "postgres";
  return null;
}

/**
 * Decides whether a container runs PostgreSQL, MySQL or MariaDB from its image, command, processes
 * and ports; returns null when nothing points to a database. Evidence lists what matched.
 */
export function detectDb(e: DbEvidence): { db_type: DbType; evidence: string[] } | null {
  const votes: { type: DbType; why: string }[] = [];
  const fromImage = imageType(e.image);
  if (fromImage) votes.push({ type: fromImage, why: `image ${e.image}` });
  const fromCommand = processType(e.command);
  if (fromCommand) votes.push({ type: fromCommand, why: "command" });
  const proc = e.processes.map(processType).find((t) => t !== null);
  if (proc) votes.push({ type: proc, why: "process" });
  const ports = new Set([...e.listening, ...e.ports.map((p) => Number.parseInt(p, 10))]);
  if (ports.has(5432)) votes.push({ type: "postgres", why: "port 5432" });
  if (ports.has(3306)) votes.push({ type: "mysql", why: "port 3306" });
  const first = votes[0];
  if (first === undefined) return null;
  let type = first.type;
  if (type === "mysql" && votes.some((v) => v.type === "mariadb")) type = "mariadb";
  const family = (t: DbType) => (t === "postgres" ? "postgres" : "mysql");
  return { db_type: type, evidence: votes.filter((v) => family(v.type) === family(type)).map((v) => v.why) };
}

/** Listening TCP ports from /proc/net/tcp and tcp6 text. */
export function listeningPorts(procNetTcp: string): number[] {
  const ports = new Set<number>();
  for (const line of procNetTcp.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[3] === "0A" && /:[0-9A-F]{4}$/.test(f[1] ?? "")) ports.add(parseInt(f[1]!.slice(-4), 16));
  }
  return [...ports].sort((a, b) => a - b);
}

/** A version when it is cheap to know: from the official images' env, else the image tag. */
export function cheapVersion(type: DbType, image: string, env: ReadonlyMap<string, string>): string | null {
  const keys = type === "postgres"
    ? ["PG_VERSION", "PG_MAJOR"]
    : type === "mariadb"
    ? ["MARIADB_VERSION", "MARIADB_MAJOR"]
    : ["MYSQL_VERSION", "MYSQL_MAJOR"];
  for (const k of keys) {
    const v = env.get(k);
    if (v) return v;
  }
  const noDigest = image.split("@")[0] ?? "";
  const colon = noDigest.lastIndexOf(":");
  const tag = colon > noDigest.lastIndexOf("/") ? noDigest.slice(colon + 1) : "";
  return /^(\d+(?:\.\d+)*)/.exec(tag)?.[1] ?? null;
}

/** Connection defaults that the official images' environment implies. */
export interface DbDefaults {
  /** User to log in as. */
  user: string;
  /** Password for that user, when the environment has it. */
  password: string | undefined;
  /** Database to use, when the environment names one. */
  database: string | undefined;
}

/** User, password and database defaults from a container's environment (official image variables). */
export function dbDefaults(type: DbType, env: ReadonlyMap<string, string>, user?: string): DbDefaults {
  if (type === "postgres") {
    const envUser = env.get("POSTGRES_USER") || "postgres";
    const who = user ?? envUser;
    return {
      user: who,
      password: who === envUser ? env.get("POSTGRES_PASSWORD") || undefined : undefined,
      database: env.get("POSTGRES_DB") || undefined,
    };
  }
  const get = (name: string) => env.get(`MARIADB_${name}`) || env.get(`MYSQL_${name}`) || undefined;
  const who = user ?? "root";
  const password = who === "root" ? get("ROOT_PASSWORD") : who === get("USER") ? get("PASSWORD") : undefined;
  return { user: who, password, database: get("DATABASE") };
}

// ---------------------------------------------------------------------------------------------
// schema

/** A PostgreSQL string literal that needs no escaping rules: dollar quoting with a fresh tag. */
export function pgLiteral(value: string, tag: string): string {
  if (value.includes(`$${tag}$`)) throw new RangeError(`Cannot quote "${value.slice(0, 40)}" for SQL`);
  return `$${tag}$${value}$${tag}$`;
}

/** A MySQL string literal as hex, immune to sql_mode and character escapes. */
export function mysqlLiteral(value: string): string {
  const hex = Array.from(new TextEncoder().encode(value), (b) => b.toString(16).padStart(2, "0")).join("");
  return `CONVERT(X'${hex}' USING utf8mb4)`;
}

/** A table name, optionally qualified ("schema.table"). */
export function splitTableName(name: string): { schema: string | null; table: string } {
  const dot = name.indexOf(".");
  return dot > 0 ? { schema: name.slice(0, dot), table: name.slice(dot + 1) } : { schema: null, table: name };
}

/** Options of the schema query builders. */
export interface SchemaQueryOptions {
  /** One table ("name" or "schema.name") to describe in detail. */
  table?: string;
  /** Database to describe (MySQL; PostgreSQL connects to it instead). */
  database?: string;
  /** Most tables to list. */
  maxTables: number;
  /** Random tag for PostgreSQL dollar quoting. */
  tag: string;
}

/** The catalog queries for PostgreSQL, in the order {@link assembleSchema} expects. */
export function pgSchemaQueries(o: SchemaQueryOptions): string[] {
  const t = o.table === undefined ? null : splitTableName(o.table);
  const filter = t === null ? "" : ` AND c.relname = ${pgLiteral(t.table, o.tag)}` +
    (t.schema === null ? "" : ` AND n.nspname = ${pgLiteral(t.schema, o.tag)}`);
  const rels =
    `SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname NOT IN ('pg_catalog','information_schema')
 AND n.nspname NOT LIKE 'pg\\_toast%'${filter} ORDER BY n.nspname, c.relname LIMIT ${o.maxTables + 1}`;
  const cols = (key: string, rel: string) =>
    `(SELECT json_agg(a.attname ORDER BY k.o) FROM unnest(${key}) WITH ORDINALITY k(n, o)
  JOIN pg_catalog.pg_attribute a ON a.attrelid = ${rel} AND a.attnum = k.n)`;
  const queries = [
    "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1;",
    "SELECT current_database();",
    `SELECT n.nspname, c.relname, CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
 WHEN 'f' THEN 'foreign table' ELSE 'table' END, CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END
 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid IN (${rels}) ORDER BY 1, 2;`,
    `SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
 pg_catalog.pg_get_expr(d.adbin, d.adrelid)
 FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.oid IN (${rels}) ORDER BY 1, 2, a.attnum;`,
    `SELECT n.nspname, c.relname, con.conname, con.contype, ${cols("con.conkey", "con.conrelid")},
 fn.nspname, fc.relname, ${cols("con.confkey", "con.confrelid")}
 FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
 WHERE con.contype IN ('p','u','f') AND c.oid IN (${rels}) ORDER BY 1, 2, 3;`,
  ];
  if (t !== null) {
    queries.push(
      `SELECT n.nspname, c.relname, i.relname, ix.indisunique, ix.indisprimary, pg_catalog.pg_get_indexdef(ix.indexrelid)
 FROM pg_catalog.pg_index ix JOIN pg_catalog.pg_class i ON i.oid = ix.indexrelid
 JOIN pg_catalog.pg_class c ON c.oid = ix.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid IN (${rels}) ORDER BY 1, 2, 3;`,
      `SELECT fn.nspname, fc.relname, n.nspname, c.relname, con.conname, ${
        cols("con.conkey", "con.conrelid")
      },
 ${cols("con.confkey", "con.confrelid")}
 FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
 WHERE con.contype = 'f' AND fc.oid IN (${rels}) ORDER BY 3, 4, 5;`,
    );
  }
  return queries;
}

const MYSQL_SYSTEM = "('mysql','information_schema','performance_schema','sys')";

/** The catalog queries for MySQL/MariaDB, in the order {@link assembleSchema} expects. */
export function mysqlSchemaQueries(o: SchemaQueryOptions): string[] {
  const t = o.table === undefined ? null : splitTableName(o.table);
  const schema = t?.schema ?? o.database;
  const where = (alias: string) =>
    (schema === undefined
      ? `${alias}TABLE_SCHEMA NOT IN ${MYSQL_SYSTEM}`
      : `${alias}TABLE_SCHEMA = ${mysqlLiteral(schema)}`) +
    (t === null ? "" : ` AND ${alias}TABLE_NAME = ${mysqlLiteral(t.table)}`);
  const queries = [
    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1;",
    "SELECT DATABASE();",
    `SELECT TABLE_SCHEMA, TABLE_NAME, CASE TABLE_TYPE WHEN 'BASE TABLE' THEN 'table' WHEN 'VIEW' THEN 'view'
 WHEN 'SYSTEM VIEW' THEN 'view' ELSE LOWER(TABLE_TYPE) END, TABLE_ROWS FROM information_schema.TABLES
 WHERE ${where("")} ORDER BY 1, 2 LIMIT ${o.maxTables + 1};`,
    `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE = 'YES', COLUMN_DEFAULT, COLUMN_KEY, EXTRA
 FROM information_schema.COLUMNS WHERE ${where("")} ORDER BY 1, 2, ORDINAL_POSITION;`,
    `SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, t.CONSTRAINT_TYPE, k.COLUMN_NAME,
 k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME
 FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.TABLE_CONSTRAINTS t
 ON t.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND t.CONSTRAINT_NAME = k.CONSTRAINT_NAME
 AND t.TABLE_SCHEMA = k.TABLE_SCHEMA AND t.TABLE_NAME = k.TABLE_NAME
 WHERE ${where("k.")} AND t.CONSTRAINT_TYPE IN ('PRIMARY KEY','UNIQUE','FOREIGN KEY')
 ORDER BY 1, 2, 3, k.ORDINAL_POSITION;`,
  ];
  if (t !== null) {
    const refSchema = schema === undefined ? "DATABASE()" : mysqlLiteral(schema);
    queries.push(
      `SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, MAX(NON_UNIQUE) = 0, INDEX_NAME = 'PRIMARY',
 GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ', ')
 FROM information_schema.STATISTICS WHERE ${where("")} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;`,
      `SELECT k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME,
 k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE k
 WHERE k.REFERENCED_TABLE_NAME = ${mysqlLiteral(t.table)} AND k.REFERENCED_TABLE_SCHEMA = ${refSchema}
 ORDER BY 3, 4, 5, k.ORDINAL_POSITION;`,
    );
  }
  return queries;
}

/** A column in a schema description. */
export interface ColumnInfo {
  /** Name. */
  name: string;
  /** Type as the server spells it. */
  type: string;
  /** Accepts NULL. */
  nullable: boolean;
  /** Default expression. */
  default: string | null;
}

/** A foreign key. */
export interface ForeignKey {
  /** Constraint name. */
  name: string;
  /** Columns of the referencing table. */
  columns: string[];
  /** Referenced schema (PostgreSQL) or database (MySQL). */
  references_schema: string;
  /** Referenced table. */
  references_table: string;
  /** Referenced columns. */
  references_columns: string[];
}

/** A table in a schema description. */
export interface TableInfo {
  /** Schema (PostgreSQL) or database (MySQL). */
  schema: string;
  /** Name. */
  name: string;
  /** table, view, materialized view, foreign table. */
  type: string;
  /** Row estimate from the catalog (approximate). */
  row_estimate: number | null;
  /** Columns in order. */
  columns: ColumnInfo[];
  /** Primary key columns (empty when none). */
  primary_key: string[];
  /** Unique constraints. */
  unique: string[][];
  /** Foreign keys of this table. */
  foreign_keys: ForeignKey[];
  /** Indexes (detail mode only). */
  indexes?: { name: string; unique: boolean; primary: boolean; definition: string }[];
  /** Foreign keys of other tables pointing here (detail mode only). */
  referenced_by?: {
    schema: string;
    table: string;
    name: string;
    columns: string[];
    references_columns: string[];
  }[];
}

/** A schema description. */
export interface SchemaInfo {
  /** Databases on the server. */
  databases: string[];
  /** Database described (PostgreSQL: the connected one). */
  database: string | null;
  /** Tables with columns and keys. */
  tables: TableInfo[];
  /** More tables exist than were listed. */
  truncated: boolean;
}

function jsonList(value: string | null | undefined): string[] {
  if (!value) return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
}

const truthy = (v: string | null | undefined) => v === "t" || v === "1" || v === "true";

/** Builds the schema description from the rows of {@link pgSchemaQueries} or {@link mysqlSchemaQueries}. */
export function assembleSchema(
  type: DbType,
  sets: readonly (readonly (readonly (string | null)[])[])[],
  options: { maxTables: number; detail: boolean },
): SchemaInfo {
  const [
    dbs = [],
    current = [],
    tableRows = [],
    columnRows = [],
    keyRows = [],
    indexRows = [],
    refRows = [],
  ] = sets;
  const keyOf = (s: string | null | undefined, t: string | null | undefined) => `${s}\u0000${t}`;
  const tables = new Map<string, TableInfo>();
  for (const r of tableRows.slice(0, options.maxTables)) {
    const info: TableInfo = {
      schema: r[0] ?? "",
      name: r[1] ?? "",
      type: r[2] ?? "table",
      row_estimate: r[3] === null || r[3] === undefined || !/^-?\d+$/.test(r[3]) ? null : Number(r[3]),
      columns: [],
      primary_key: [],
      unique: [],
      foreign_keys: [],
      ...(options.detail ? { indexes: [], referenced_by: [] } : {}),
    };
    tables.set(keyOf(info.schema, info.name), info);
  }
  for (const r of columnRows) {
    tables.get(keyOf(r[0], r[1]))?.columns.push({
      name: r[2] ?? "",
      type: r[3] ?? "",
      nullable: truthy(r[4]),
      // MariaDB spells "no default" as the expression NULL (and quotes string defaults).
      default: type === "mariadb" && r[5] === "NULL" ? null : r[5] ?? null,
    });
  }
  if (type === "postgres") {
    for (const r of keyRows) {
      const table = tables.get(keyOf(r[0], r[1]));
      if (table === undefined) continue;
      const columns = jsonList(r[4]);
      if (r[3] === "p") table.primary_key = columns;
      else if (r[3] === "u") table.unique.push(columns);
      else if (r[3] === "f") {
        table.foreign_keys.push({
          name: r[2] ?? "",
          columns,
          references_schema: r[5] ?? "",
          references_table: r[6] ?? "",
          references_columns: jsonList(r[7]),
        });
      }
    }
    for (const r of refRows) {
      tables.get(keyOf(r[0], r[1]))?.referenced_by?.push({
        schema: r[2] ?? "",
        table: r[3] ?? "",
        name: r[4] ?? "",
        columns: jsonList(r[5]),
        references_columns: jsonList(r[6]),
      });
    }
  } else {
    const fks = new Map<string, ForeignKey>();
    const uniques = new Map<string, string[]>();
    for (const r of keyRows) {
      const table = tables.get(keyOf(r[0], r[1]));
      if (table === undefined) continue;
      const column = r[4] ?? "";
      if (r[3] === "PRIMARY KEY") table.primary_key.push(column);
      else if (r[3] === "UNIQUE") {
        const k = keyOf(keyOf(r[0], r[1]), r[2]);
        let list = uniques.get(k);
        if (list === undefined) (list = [], uniques.set(k, list), table.unique.push(list));
        list.push(column);
      } else if (r[3] === "FOREIGN KEY") {
        const k = keyOf(keyOf(r[0], r[1]), r[2]);
        let fk = fks.get(k);
        if (fk === undefined) {
          fk = {
            name: r[2] ?? "",
            columns: [],
            references_schema: r[5] ?? "",
            references_table: r[6] ?? "",
            references_columns: [],
          };
          fks.set(k, fk);
          table.foreign_keys.push(fk);
        }
        fk.columns.push(column);
        fk.references_columns.push(r[7] ?? "");
      }
    }
    const refs = new Map<string, NonNullable<TableInfo["referenced_by"]>[number]>();
    for (const r of refRows) {
      const table = tables.get(keyOf(r[0], r[1]));
      if (table?.referenced_by === undefined) continue;
      const k = keyOf(keyOf(r[2], r[3]), r[4]);
      let ref = refs.get(k);
      if (ref === undefined) {
        ref = {
          schema: r[2] ?? "",
          table: r[3] ?? "",
          name: r[4] ?? "",
          columns: [],
          references_columns: [],
        };
        refs.set(k, ref);
        table.referenced_by.push(ref);
      }
      ref.columns.push(r[5] ?? "");
      ref.references_columns.push(r[6] ?? "");
    }
  }
  for (const r of indexRows) {
    tables.get(keyOf(r[0], r[1]))?.indexes?.push({
      name: r[2] ?? "",
      unique: truthy(r[3]),
      primary: truthy(r[4]),
      definition: r[5] ?? "",
    });
  }
  return {
    databases: dbs.map((r) => r[0] ?? ""),
    database: current[0]?.[0] ?? null,
    tables: [...tables.values()],
    truncated: tableRows.length > options.maxTables,
  };
}
