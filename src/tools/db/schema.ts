/**
 * The `db_schema` tool: describes the databases and tables of a PostgreSQL, MySQL or MariaDB
 * container from its catalog (queries and assembly in `db_schema_parse.ts`).
 *
 * @module
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { dbConnectionInput, hintFor, resolveDb, runSql } from "./client.ts";
import { DB_TYPES } from "./parse.ts";
import { assembleSchema, mysqlSchemaQueries, pgSchemaQueries } from "./schema_parse.ts";
import { defineTool } from "../define.ts";
import { newMarker, resolveTimeout } from "../remote.ts";
import { HINTS } from "../schemas.ts";

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

/** `db_schema`: describes the databases and tables of a database container. */
export const dbSchema = defineTool({
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
    const timeoutSeconds = resolveTimeout(ctx, args.timeout) / 1000;
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
