/**
 * Database toolset: db_query, db_schema, list_db_containers. The clients inside the containers do the
 * work (`psql --csv`, `mysql`/`mariadb --xml`), started with `docker exec -i`, with SQL and password
 * over stdin (see `db_client.ts`); db_schema lives in `db_schema.ts`.
 */
import { z } from "zod";
import { defineTool, type Toolset } from "../define.ts";
import { dbConnectionInput, detect, hintFor, probeContainers, resolveDb, runSql } from "./client.ts";
import {
  type Cell,
  cheapVersion,
  convertCell,
  DB_TYPES,
  type DbType,
  renderTable,
  type ResultSet,
} from "./parse.ts";
import { dbSchema } from "./schema.ts";
import { splitPgSql } from "./sql.ts";
import { dockerSudo } from "../docker/run.ts";
import { resolveTimeout } from "../remote.ts";
import { HINTS, target } from "../schemas.ts";

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
    const timeoutSeconds = resolveTimeout(ctx, args.timeout) / 1000;
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
