/**
 * Database toolset: db_query, db_schema, list_db_containers. The clients inside the containers do the
 * work (`psql --csv`, `mysql`/`mariadb --xml`), started with `docker exec -i`. SQL and the password
 * travel over stdin: a tiny `sh` inside the container reads the password line into the client's
 * environment variable (PGPASSWORD / MYSQL_PWD) and execs the client, which reads the SQL. Neither
 * appears in any argv on the host or in the container, nor in the host-side environment.
 */
import { z } from "zod";
import { ToolError } from "../errors.ts";
import { sh, type ShellCommand } from "../shell/sh.ts";
import type { ExecResult } from "../ssh/exec.ts";
import { defineTool, type ToolContext, type Toolset } from "./define.ts";
import {
  assembleSchema,
  type Cell,
  cheapVersion,
  composePsql,
  convertCell,
  DB_IDENTIFIER,
  DB_TYPES,
  dbDefaults,
  type DbError,
  type DbType,
  detectDb,
  listeningPorts,
  mysqlSchemaQueries,
  parseMysqlError,
  parseMysqlXml,
  parsePsqlError,
  parsePsqlOutput,
  pgSchemaQueries,
  renderTable,
  type ResultSet,
  splitPgSql,
  type SqlStatement,
} from "./db_parse.ts";
import { containerName, dockerError, dockerSudo, runDocker, withDockerPrelude } from "./docker.ts";
import {
  assertContainerName,
  containerEnv,
  INSPECT_FORMAT,
  type InspectedContainer,
  parseInspected,
  parseJsonStream,
} from "./docker_parse.ts";
import { newMarker, PARSE_OUTPUT_BYTES, splitSections } from "./remote_script.ts";
import { HINTS, target } from "./schemas.ts";

/** Bytes of client output read at most; the client is stopped (broken pipe) beyond it. */
const QUERY_OUTPUT_BYTES = PARSE_OUTPUT_BYTES;

/**
 * Runs inside the container: reads the password line from stdin into the variable named by $1 (only
 * when non-empty), then execs the client with the rest of stdin (the SQL). `read` takes one byte at a
 * time from a pipe, so the client gets exactly the bytes after the first line.
 */
const READ_SECRET_THEN_EXEC =
  'IFS= read -r p || exit 70; if [ -n "$p" ]; then export "$1=$p"; fi; p=; shift; exec "$@"';

/** Runs inside the container: interrupts the client of one call (psql and mysql cancel the query on SIGINT). */
const INTERRUPT_CLIENT =
  'for d in /proc/[0-9]*; do if tr "\\0" "\\n" < "$d/environ" 2>/dev/null | grep -qx "SSH_MCP_RUN=$1"; ' +
  'then kill -INT "${d#/proc/}" 2>/dev/null; fi; done';

// ---------------------------------------------------------------------------------------------
// container facts

/** What the tools know about one container. */
interface ContainerFacts {
  inspected: InspectedContainer;
  env: Map<string, string>;
  processes: string[];
  listening: number[];
}

/** Inspects one container (or every running one), optionally with its processes and listening ports. */
async function probeContainers(
  ctx: ToolContext,
  targetAlias: string | undefined,
  options: { container?: string; processes: boolean; sudo?: boolean },
): Promise<{ alias: string; facts: ContainerFacts[] }> {
  const marker = newMarker();
  const ids = options.container === undefined
    ? sh`ids=$(docker ps -q --no-trunc) || exit`
    : sh`ids=$(docker inspect --type container --format '{{.Id}}' -- ${options.container}) || exit`;
  const details = options.processes
    ? sh`docker inspect --type container --format '{{.Id}} {{.State.Pid}}' $ids | while read -r id pid; do
  s "top $id"; docker top "$id" 2>/dev/null
  s "tcp $id"; if [ "$pid" -gt 0 ] 2>/dev/null; then cat "/proc/$pid/net/tcp" "/proc/$pid/net/tcp6" 2>/dev/null; fi
done`
    : sh`:`;
  const result = await runDocker(
    ctx,
    targetAlias,
    sh`M=${marker}; F=${INSPECT_FORMAT}
s() { printf '%s %s\n' "$M" "$1"; }
${ids}
[ -z "$ids" ] && exit 0
s inspect; docker inspect --type container --format "$F" $ids
${details}
s end`,
    {
      action: options.container === undefined ? "inspect the containers" : `inspect "${options.container}"`,
      sudo: options.sudo,
    },
  );
  const sections = splitSections(result.stdout, marker);
  const facts = parseJsonStream(sections.get("inspect") ?? "").map((raw) => {
    const inspected = parseInspected(raw);
    const top = (sections.get(`top ${inspected.id}`) ?? "").split("\n").slice(1).map((l) => l.trim())
      .filter((l) => l !== "");
    return {
      inspected,
      env: containerEnv(raw),
      processes: top,
      listening: listeningPorts(sections.get(`tcp ${inspected.id}`) ?? ""),
    };
  });
  return { alias: result.alias, facts };
}

function detect(f: ContainerFacts) {
  return detectDb({
    image: f.inspected.image,
    command: f.inspected.command,
    processes: f.processes,
    ports: f.inspected.ports,
    listening: f.listening,
  });
}

/** A container resolved for a database call. */
interface DbTarget {
  alias: string;
  container: string;
  type: DbType;
  user: string;
  password: string | undefined;
  passwordSource: "argument" | "container_env" | "none";
  database: string | undefined;
  sudo: boolean;
}

async function resolveDb(
  ctx: ToolContext,
  args: {
    container_name: string;
    db_type: "auto" | DbType;
    database?: string;
    username?: string;
    password?: string;
    target?: string;
    sudo?: boolean;
  },
): Promise<DbTarget> {
  assertContainerName(args.container_name);
  const auto = args.db_type === "auto";
  const { alias, facts } = await probeContainers(ctx, args.target, {
    container: args.container_name,
    processes: auto,
    sudo: args.sudo,
  });
  const f = facts[0];
  if (f === undefined) {
    throw new ToolError(`Cannot find container "${args.container_name}" on "${alias}"`, {
      hint: "Call list_db_containers or docker_ps for the names.",
    });
  }
  if (!f.inspected.state.running) {
    throw new ToolError(
      `Cannot query "${args.container_name}": the container is ${f.inspected.state.status}`,
      {
        hint: 'Start it with docker_op {"action": "start"} first.',
      },
    );
  }
  let type: DbType;
  if (auto) {
    const found = detect(f);
    if (found === null) {
      throw new ToolError(
        `Cannot tell which database "${args.container_name}" runs: no postgres/mysql/mariadb image, process or port`,
        { hint: 'Pass db_type ("postgres", "mysql" or "mariadb") explicitly.' },
      );
    }
    type = found.db_type;
  } else type = args.db_type as DbType;
  const defaults = dbDefaults(type, f.env, args.username);
  const password = args.password ?? defaults.password;
  return {
    alias,
    container: args.container_name,
    type,
    user: defaults.user,
    password,
    passwordSource: args.password !== undefined
      ? "argument"
      : password !== undefined
      ? "container_env"
      : "none",
    database: args.database ?? defaults.database,
    sudo: args.sudo === true,
  };
}

// ---------------------------------------------------------------------------------------------
// running SQL

/** What one client run produced. */
interface SqlRun {
  results: ResultSet[];
  error: DbError | null;
  /** Output passed the byte cap. */
  cut: boolean;
  exec: ExecResult & { alias: string };
}

function clientCommand(
  db: DbTarget,
  client: string,
  marker: string,
  nullMarker: string,
  nonce: string,
  timeoutSeconds: number,
): ShellCommand {
  const env = (type: DbType) =>
    type === "postgres"
      ? ["-e", "PGCLIENTENCODING=UTF8", "-e", `PGOPTIONS=-c statement_timeout=${timeoutSeconds * 1000}`]
      : [];
  const clientArgs = db.type === "postgres"
    ? [
      "PGPASSWORD",
      "psql",
      "-X",
      "-q",
      "-w",
      "-v",
      "ON_ERROR_STOP=1",
      "--csv",
      "-P",
      `null=${nullMarker}`,
      "-P",
      "pager=off",
      "-U",
      db.user,
      ...(db.database === undefined ? [] : ["-d", db.database]),
      "-f",
      "-",
    ]
    : [
      "MYSQL_PWD",
      client,
      "--xml",
      "--batch",
      "--default-character-set=utf8mb4",
      db.type === "mariadb"
        ? `--init-command=SET SESSION max_statement_time=${timeoutSeconds}`
        : `--init-command=SET SESSION max_execution_time=${timeoutSeconds * 1000}`,
      "-u",
      db.user,
      ...(db.database === undefined ? [] : ["-D", db.database]),
    ];
  return withDockerPrelude(sh`M=${marker}
{ docker exec -i ${
    env(db.type)
  } -e ${`SSH_MCP_RUN=${nonce}`} -- ${db.container} sh -c ${READ_SECRET_THEN_EXEC} ssh-mcp ${clientArgs}; echo "$M exit $?"; } | head -c ${QUERY_OUTPUT_BYTES}`);
}

/** Interrupts the client of a call that timed out or was cancelled (best effort, bounded). */
async function interruptClient(ctx: ToolContext, db: DbTarget, nonce: string): Promise<void> {
  try {
    await ctx.connections.exec(db.alias, {
      command: withDockerPrelude(
        sh`docker exec -- ${db.container} sh -c ${INTERRUPT_CLIENT} ssh-mcp ${nonce} >/dev/null 2>&1`,
      ),
      timeoutMs: 15_000,
      maxOutputBytes: 4096,
      sudo: db.sudo ? { password: ctx.connections.sudoPasswordOf(db.alias) } : undefined,
    });
  } catch {
    // The connection is gone; the server-side statement timeout still ends the query.
  }
}

async function runSql(
  ctx: ToolContext,
  db: DbTarget,
  sql: { statements: SqlStatement[]; text: string },
  timeoutSeconds: number,
): Promise<SqlRun> {
  const marker = newMarker();
  const nullMarker = newMarker();
  const nonce = newMarker().slice(2, -2);
  const psql = db.type === "postgres" ? composePsql(sql.statements, marker) : undefined;
  const body = psql?.text ?? (sql.text.endsWith("\n") ? sql.text : sql.text + "\n");
  const stdin = new TextEncoder().encode(`${db.password ?? ""}\n${body}`);
  const clients = db.type === "postgres"
    ? ["psql"]
    : db.type === "mariadb"
    ? ["mariadb", "mysql"]
    : ["mysql", "mariadb"];
  let exec: (ExecResult & { alias: string }) | undefined;
  for (const client of clients) {
    exec = await ctx.connections.exec(db.alias, {
      command: clientCommand(db, client, marker, nullMarker, nonce, timeoutSeconds),
      stdin,
      timeoutMs: timeoutSeconds * 1000 + 5000,
      maxOutputBytes: QUERY_OUTPUT_BYTES + 65536,
      signal: ctx.signal,
      sudo: db.sudo ? { password: ctx.connections.sudoPasswordOf(db.alias) } : undefined,
    });
    const notFound = exec.stdout.includes(`${marker} exit 127`) &&
      /not found|No such file/i.test(exec.stderr);
    if (!notFound) break;
  }
  if (exec === undefined) throw new Error("unreachable: no client tried");
  if (exec.timed_out || exec.cancelled) {
    await interruptClient(ctx, db, nonce);
    throw new ToolError(
      `Cannot finish the query on "${db.container}": ${
        exec.timed_out ? `no answer within ${timeoutSeconds + 5} s` : "the call was cancelled"
      }; the client was interrupted`,
      { hint: "Narrow the query (WHERE, LIMIT) or raise timeout." },
    );
  }
  if (exec.connection_lost || exec.sudo_failed) {
    throw new ToolError(
      `Cannot run the query on "${db.alias}": ${exec.sudo_failed ? "sudo refused" : "connection lost"}`,
      {
        hint: exec.sudo_failed ? "Call `connect` with sudo_password, or retry without sudo." : "Retry.",
      },
    );
  }
  if (!exec.stdout.includes(`${marker} exit `) && exec.stdout_bytes < QUERY_OUTPUT_BYTES) {
    // docker itself failed (no container, no access): the wrapper line never came.
    throw dockerError(exec, `run the ${db.type} client in "${db.container}"`);
  }
  if (db.type === "postgres") {
    const out = parsePsqlOutput(exec.stdout, marker, nullMarker, sql.statements);
    const error = out.exit_code !== null && out.exit_code !== 0
      ? parsePsqlError(exec.stderr, sql.statements, psql?.starts ?? [])
      : null;
    return { results: out.results, error: failure(error, out.exit_code, exec.stderr), cut: out.cut, exec };
  }
  const out = parseMysqlXml(exec.stdout);
  const exitCode = Number(new RegExp(`${marker} exit (\\d+)`).exec(exec.stdout)?.[1] ?? NaN);
  const error = Number.isFinite(exitCode) && exitCode !== 0 ? parseMysqlError(exec.stderr) : null;
  return {
    results: out.results,
    error: failure(error, Number.isFinite(exitCode) ? exitCode : null, exec.stderr),
    cut: out.cut,
    exec,
  };
}

function failure(error: DbError | null, exitCode: number | null, stderr: string): DbError | null {
  if (error !== null || exitCode === null || exitCode === 0) return error;
  const noShell = /"sh": executable file not found|exec: "?sh"?: (executable file )?not found/i.test(stderr);
  const message = noShell
    ? "the container has no /bin/sh, which starts the client with the password from stdin"
    : exitCode === 127
    ? "the database client (psql, mysql or mariadb) is not installed in the container"
    : stderr.trim().slice(0, 2000) || `the client exited with status ${exitCode}`;
  return { message, line: null, code: null, statement_index: null };
}

function hintFor(error: DbError, db: DbTarget): string {
  if (/password authentication failed|Access denied|no password supplied/i.test(error.message)) {
    return `Check username/password (used: ${db.user}, password from ${db.passwordSource}).`;
  }
  if (/does not exist|Unknown database/i.test(error.message) && /database/i.test(error.message)) {
    return "Call db_schema without database to list the databases.";
  }
  if (/statement timeout|max_statement_time|maximum statement execution time/i.test(error.message)) {
    return "The query hit the statement timeout: narrow it or raise timeout.";
  }
  return "Fix the SQL at the reported line; statements before the failing one were executed.";
}

// ---------------------------------------------------------------------------------------------
// db_query

const cellSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const columnSchema = z.object({
  name: z.string().describe("Column name"),
  type: z.string().nullable().describe(
    "Type as the server names it (PostgreSQL); null when the client does not say",
  ),
});
const resultSchema = z.object({
  statement: z.string().describe("The statement (first 200 characters)"),
  columns: z.array(columnSchema).describe("Columns"),
  rows: z.array(z.array(cellSchema)).describe("Rows (NULL is null)"),
  row_count: z.number().nullable().describe("Rows returned or affected"),
  truncated: z.boolean().describe("More rows existed than max_rows (or the output cap)"),
});

const dbConnectionInput = {
  container_name: containerName.describe("Container running the database (see list_db_containers)"),
  db_type: z.enum(["auto", ...DB_TYPES]).default("auto").describe(
    "auto (detect from image, process and port), postgres, mysql or mariadb",
  ),
  database: z.string().max(128).regex(DB_IDENTIFIER, "a database name").optional().describe(
    "Database (default: the image's POSTGRES_DB / MYSQL_DATABASE, else the client's default)",
  ),
  username: z.string().max(128).regex(DB_IDENTIFIER, "a user name").optional().describe(
    "User (default: POSTGRES_USER or postgres; root for MySQL/MariaDB)",
  ),
  password: z.string().max(1024).regex(/^[^\n\r]*$/, "one line").optional().describe(
    "Password, sent over stdin (never argv). Default: the container's POSTGRES_PASSWORD / MYSQL_ROOT_PASSWORD…",
  ),
  timeout: z.number().int().min(1).max(3600).default(30).describe(
    "Statement timeout in seconds (set on the server session; the client is interrupted after it)",
  ),
  target,
  sudo: dockerSudo,
};

const dbQuery = defineTool({
  name: "db_query",
  title: "Run SQL in a database container",
  description:
    "Runs SQL with the client inside a PostgreSQL, MySQL or MariaDB container and returns columns (with " +
    "types for PostgreSQL) and rows as data plus a text table. Several statements are allowed; the last one " +
    "returning rows is the main result. Errors come with the server's message and the SQL line.",
  input: z.object({
    ...dbConnectionInput,
    query: z.string().min(1).max(1_000_000).describe("SQL; several statements separated by ;"),
    max_rows: z.number().int().min(1).max(10_000).default(500).describe("Most rows returned per result"),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    container: z.string().describe("Container"),
    db_type: z.enum(DB_TYPES).describe("Database type"),
    user: z.string().describe("User"),
    database: z.string().nullable().describe("Database asked for (null: the client's default)"),
    columns: z.array(columnSchema).describe("Columns of the main result"),
    rows: z.array(z.array(cellSchema)).describe("Rows of the main result (NULL is null)"),
    row_count: z.number().nullable().describe("Rows of the main result (returned or affected)"),
    truncated: z.boolean().describe("The main result had more rows than max_rows (or the output cap)"),
    other_results: z.array(resultSchema).describe("Earlier statements that returned rows"),
    statements: z.number().describe("Statements that ran (PostgreSQL) or result sets (MySQL)"),
    error: z.object({
      message: z.string().describe("Server message with detail"),
      line: z.number().nullable().describe("Line of the submitted SQL"),
      code: z.string().nullable().describe("SQLSTATE or error code"),
      statement_index: z.number().nullable().describe("Index of the failing statement (PostgreSQL)"),
    }).nullable().describe("The error that stopped the run, or null"),
  }),
  annotations: HINTS.changeRemote,
  handler: async (args, ctx) => {
    const timeoutSeconds = Math.min(args.timeout, Math.floor(ctx.limits.maxCommandTimeoutMs / 1000));
    // psql's splitting rules apply to PostgreSQL only (MySQL strings use backslash escapes). An
    // explicit postgres query is checked before anything runs.
    const split = () => {
      const parts = splitPgSql(args.query);
      if (parts.length === 0) {
        throw new RangeError("Cannot run the query: it has no SQL statement (only comments or blanks)");
      }
      return parts;
    };
    const early = args.db_type === "postgres" ? split() : undefined;
    const db = await resolveDb(ctx, args);
    const statements = db.type === "postgres" ? early ?? split() : [];
    const run = await runSql(ctx, db, { statements, text: args.query }, timeoutSeconds);
    const shaped = run.results.map((r) => shape(r, db.type, args.max_rows));
    const withRows = shaped.filter((_r, i) => run.results[i]!.has_rows);
    const main = withRows.at(-1);
    const data = {
      alias: db.alias,
      container: db.container,
      db_type: db.type,
      user: db.user,
      database: db.database ?? null,
      columns: main?.columns ?? [],
      rows: main?.rows ?? [],
      row_count: main?.row_count ?? shaped.at(-1)?.row_count ?? null,
      truncated: main?.truncated ?? false,
      other_results: withRows.slice(0, -1),
      statements: run.results.length,
      error: run.error,
    };
    const parts = withRows.map((r) =>
      `${renderTable(r.columns, r.rows)}\n(${r.row_count ?? r.rows.length} row(s)${
        r.truncated ? ", truncated" : ""
      })`
    );
    if (withRows.length === 0 && run.error === null) {
      parts.push(
        `OK: ${run.results.length} statement(s)${
          data.row_count === null ? "" : `, ${data.row_count} row(s) affected`
        }.`,
      );
    }
    if (run.error !== null) {
      parts.push(
        `Error${run.error.line === null ? "" : ` at line ${run.error.line}`}: ${run.error.message}\nNext: ${
          hintFor(run.error, db)
        }`,
      );
    }
    return { data, text: parts.join("\n\n"), isError: run.error !== null };
  },
});

function shape(r: ResultSet, type: DbType, maxRows: number) {
  const types = r.columns.map((c) => (type === "postgres" ? c.type : null));
  const rows: Cell[][] = r.rows.slice(0, maxRows).map((row) =>
    row.map((v, i) => convertCell(v, types[i] ?? null))
  );
  return {
    statement: r.statement,
    columns: r.columns,
    rows,
    row_count: r.row_count,
    truncated: r.rows.length > maxRows || r.cut,
  };
}

// ---------------------------------------------------------------------------------------------
// db_schema

const columnInfo = z.object({
  name: z.string().describe("Column name"),
  type: z.string().describe("Type"),
  nullable: z.boolean().describe("Accepts NULL"),
  default: z.string().nullable().describe("Default expression"),
});

const tableInfo = z.object({
  schema: z.string().describe("Schema (PostgreSQL) or database (MySQL)"),
  name: z.string().describe("Table name"),
  type: z.string().describe("table, view, materialized view, foreign table"),
  row_estimate: z.number().nullable().describe("Approximate rows from the catalog"),
  columns: z.array(columnInfo).describe("Columns in order"),
  primary_key: z.array(z.string()).describe("Primary key columns"),
  unique: z.array(z.array(z.string())).describe("Unique constraints"),
  foreign_keys: z.array(z.object({
    name: z.string().describe("Constraint name"),
    columns: z.array(z.string()).describe("Referencing columns"),
    references_schema: z.string().describe("Referenced schema/database"),
    references_table: z.string().describe("Referenced table"),
    references_columns: z.array(z.string()).describe("Referenced columns"),
  })).describe("Foreign keys"),
  indexes: z.array(z.object({
    name: z.string().describe("Index name"),
    unique: z.boolean().describe("Unique index"),
    primary: z.boolean().describe("Primary key index"),
    definition: z.string().describe("Definition (PostgreSQL) or columns (MySQL)"),
  })).optional().describe("Indexes (only with table)"),
  referenced_by: z.array(z.object({
    schema: z.string().describe("Referencing schema"),
    table: z.string().describe("Referencing table"),
    name: z.string().describe("Constraint name"),
    columns: z.array(z.string()).describe("Referencing columns"),
    references_columns: z.array(z.string()).describe("Columns of this table"),
  })).optional().describe("Foreign keys of other tables pointing here (only with table)"),
});

const dbSchema = defineTool({
  name: "db_schema",
  title: "Describe a database schema",
  description:
    "Describes a database in a PostgreSQL, MySQL or MariaDB container: the databases, then each table with " +
    "columns (type, nullability, default), primary key, unique and foreign keys. With table: that table in " +
    "detail, adding indexes and the foreign keys that point to it.",
  input: z.object({
    ...dbConnectionInput,
    table: z.string().min(1).max(256).refine(
      (t) => !/[\n\r]/.test(t) && !t.includes("\0"),
      "one line, no NUL",
    ).optional().describe(
      'One table to describe in detail ("name" or "schema.name")',
    ),
    max_tables: z.number().int().min(1).max(2000).default(200).describe("Most tables to list"),
  }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    container: z.string().describe("Container"),
    db_type: z.enum(DB_TYPES).describe("Database type"),
    database: z.string().nullable().describe("Database described"),
    databases: z.array(z.string()).describe("Databases on the server"),
    tables: z.array(tableInfo).describe("Tables"),
    truncated: z.boolean().describe("More than max_tables tables exist"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const timeoutSeconds = Math.min(args.timeout, Math.floor(ctx.limits.maxCommandTimeoutMs / 1000));
    const db = await resolveDb(ctx, args);
    const options = {
      table: args.table,
      database: db.type === "postgres" ? undefined : db.database,
      maxTables: args.max_tables,
      tag: `m${newMarker().slice(5, 15)}`,
    };
    const queries = db.type === "postgres" ? pgSchemaQueries(options) : mysqlSchemaQueries(options);
    const statements = queries.map((text, i) => ({ text, line: i + 1, terminated: true }));
    const run = await runSql(ctx, db, { statements, text: queries.join("\n") }, timeoutSeconds);
    if (run.error !== null) {
      throw new ToolError(`Cannot read the schema in "${db.container}": ${run.error.message}`, {
        hint: hintFor(run.error, db),
      });
    }
    const schema = assembleSchema(db.type, run.results.map((r) => r.rows), {
      maxTables: args.max_tables,
      detail: args.table !== undefined,
    });
    if (args.table !== undefined && schema.tables.length === 0) {
      throw new ToolError(
        `Cannot find table "${args.table}" in database "${schema.database ?? db.database ?? "(default)"}"`,
        { hint: "Call db_schema without table to list the tables (and database to pick another database)." },
      );
    }
    const data = {
      alias: db.alias,
      container: db.container,
      db_type: db.type,
      database: db.type === "postgres" ? schema.database : db.database ?? null,
      databases: schema.databases,
      tables: schema.tables,
      truncated: schema.truncated,
    };
    const lines = [`${db.type} in ${db.container}; databases: ${schema.databases.join(", ")}`];
    for (const t of schema.tables) {
      lines.push(
        `\n${t.schema}.${t.name} (${t.type}${t.row_estimate === null ? "" : `, ~${t.row_estimate} rows`})`,
      );
      for (const c of t.columns) {
        const key = t.primary_key.includes(c.name) ? " PK" : "";
        lines.push(
          `  ${c.name} ${c.type}${c.nullable ? "" : " NOT NULL"}${
            c.default ? ` DEFAULT ${c.default}` : ""
          }${key}`,
        );
      }
      for (const fk of t.foreign_keys) {
        lines.push(
          `  FK ${fk.name}: (${fk.columns.join(", ")}) -> ${fk.references_table}(${
            fk.references_columns.join(", ")
          })`,
        );
      }
      for (const ix of t.indexes ?? []) lines.push(`  INDEX ${ix.name}: ${ix.definition}`);
      for (const r of t.referenced_by ?? []) {
        lines.push(`  REFERENCED BY ${r.table}(${r.columns.join(", ")}) ${r.name}`);
      }
    }
    if (schema.truncated) lines.push(`\n(first ${args.max_tables} tables; raise max_tables for more)`);
    return { data, text: lines.join("\n") };
  },
});

// ---------------------------------------------------------------------------------------------
// list_db_containers

const listDbContainers = defineTool({
  name: "list_db_containers",
  title: "Find database containers",
  description:
    "Finds running containers that run PostgreSQL, MySQL or MariaDB, detected from the image name, the " +
    "command and processes, and the listening or exposed port (5432/3306). Shows the type, the version when " +
    "the image says it, and what matched. Pass the name to db_query or db_schema.",
  input: z.object({ target, sudo: dockerSudo }),
  output: z.object({
    alias: z.string().describe("Connection used"),
    containers: z.array(z.object({
      id: z.string().describe("Short container id"),
      name: z.string().describe("Container name"),
      image: z.string().describe("Image"),
      db_type: z.enum(DB_TYPES).describe("Detected database"),
      version: z.string().nullable().describe("Version from the image's environment or tag, when known"),
      ports: z.array(z.string()).describe("Container ports and published bindings"),
      evidence: z.array(z.string()).describe("What matched: image, command, process, port"),
    })).describe("Database containers"),
  }),
  annotations: HINTS.readRemote,
  handler: async (args, ctx) => {
    const { alias, facts } = await probeContainers(ctx, args.target, { processes: true, sudo: args.sudo });
    const containers = facts.flatMap((f) => {
      const found = detect(f);
      if (found === null) return [];
      return [{
        id: f.inspected.id.slice(0, 12),
        name: f.inspected.name,
        image: f.inspected.image,
        db_type: found.db_type,
        version: cheapVersion(found.db_type, f.inspected.image, f.env),
        ports: f.inspected.published.length > 0 ? f.inspected.published : f.inspected.ports,
        evidence: found.evidence,
      }];
    }).sort((a, b) => a.name.localeCompare(b.name));
    const text = containers.length === 0
      ? `No running database containers found on ${alias}.`
      : containers.map((c) =>
        `${c.name}: ${c.db_type}${c.version ? ` ${c.version}` : ""} (${c.image}; ${c.evidence.join(", ")})`
      ).join("\n");
    return { data: { alias, containers }, text };
  },
});

/** The database toolset. */
export const DB: Toolset = { name: "db", tools: [dbQuery, dbSchema, listDbContainers] };
