/**
 * Pure parts of the database toolset: parsers for psql `--csv` and mysql/mariadb `--xml` output and
 * for their error messages, cell conversion and rendering, and database detection from container
 * facts. SQL splitting is in `db_sql.ts`, the `db_schema` queries in `db_schema_parse.ts`. No I/O.
 */
import type { SqlStatement } from "./sql.ts";

/** Database engines the tools drive. */
export const DB_TYPES = ["postgres", "mysql", "mariadb"] as const;
/** One of {@link DB_TYPES}. */
export type DbType = typeof DB_TYPES[number];

/** Database, user and similar identifiers: never starting with `-`, no quotes or spaces. */
export const DB_IDENTIFIER = /^[A-Za-z0-9_][A-Za-z0-9_.$@-]*$/;

/** A cell value as returned to the model. */
export type Cell = string | number | boolean | null;

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
