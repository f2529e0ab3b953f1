/**
 * The catalog queries of `db_schema` for PostgreSQL and MySQL/MariaDB, the literals they embed, and
 * the assembly of their rows into a {@link SchemaInfo}. No I/O.
 *
 * @module
 */
import type { DbType } from "./parse.ts";

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
