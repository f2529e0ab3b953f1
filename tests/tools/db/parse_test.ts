/**
 * The database parsers: psql's splitting rules, psql `--csv` output with markers, mysql `--xml`
 * output, error messages of both clients, detection and the schema assembly.
 */
import assert from "node:assert/strict";
import {
  cheapVersion,
  convertCell,
  dbDefaults,
  detectDb,
  listeningPorts,
  parseCsv,
  parseMysqlError,
  parseMysqlXml,
  parsePsqlError,
  parsePsqlOutput,
  renderTable,
} from "../../../src/tools/db/parse.ts";
import {
  assembleSchema,
  mysqlLiteral,
  pgLiteral,
  pgSchemaQueries,
} from "../../../src/tools/db/schema_parse.ts";
import { composePsql, splitPgSql } from "../../../src/tools/db/sql.ts";

Deno.test("splitPgSql splits at ; outside quotes, comments, dollar quotes and routine bodies", () => {
  const sql = `SELECT 'a;b', "c;d", E'it\\'s;', $$x;y$$, $tag$ ; $tag$; -- one
/* multi ; /* nested ; */ line */ SELECT 2
;
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;
SELECT (1; 2);
-- only a comment ;
SELECT $1, a$b$c FROM t -- no semicolon at the end;`;
  const parts = splitPgSql(sql);
  assert.deepEqual(parts.map((p) => [p.line, p.terminated, p.text.split("\n")[0]]), [
    [1, true, `SELECT 'a;b', "c;d", E'it\\'s;', $$x;y$$, $tag$ ; $tag$;`],
    [2, true, "SELECT 2"], // leading comments are not part of the statement
    [
      4,
      true,
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;",
    ],
    [5, true, "SELECT (1; 2);"],
    [7, false, "SELECT $1, a$b$c FROM t -- no semicolon at the end;"],
  ]);
  assert.deepEqual(splitPgSql("  -- nothing\n ; ;"), []);
  assert.throws(() => splitPgSql("SELECT 1;\n\\! id"), TypeError);
  assert.equal(splitPgSql("SELECT '\\! not a command';").length, 1);
});

Deno.test("composePsql describes, runs and counts each statement, and maps lines", () => {
  const statements = splitPgSql("SELECT 1;\nSELECT\n 2 -- trailing");
  const script = composePsql(statements, "@@M@@");
  assert.equal(
    script.text,
    "\\echo @@M@@ d 0\nSELECT 1\n\\gdesc\n\\echo @@M@@ s 0\n\\g\n\\echo @@M@@ r 0 :ROW_COUNT\n" +
      "\\echo @@M@@ d 1\nSELECT\n 2 -- trailing\n\\gdesc\n\\echo @@M@@ s 1\n\\g\n\\echo @@M@@ r 1 :ROW_COUNT\n" +
      "\\echo @@M@@ end\n",
  );
  assert.deepEqual(script.starts, [2, 8]);
});

Deno.test("parseCsv handles quotes, embedded newlines and a cut last record", () => {
  assert.deepEqual(parseCsv('a,"b,c","d""e",\n"x\ny",,""\n').records, [["a", "b,c", 'd"e', ""], [
    "x\ny",
    "",
    "",
  ]]);
  const cut = parseCsv('1,ok\n2,"unfinished');
  assert.deepEqual([cut.records, cut.complete], [[["1", "ok"]], false]);
});

Deno.test("psql output becomes result sets with types, NULLs and row counts", () => {
  const statements = splitPgSql("SELECT id, s FROM t; UPDATE t SET s = 'x'; SELECT 1 WHERE false");
  const out = [
    "@@M@@ d 0",
    "Column,Type",
    "id,integer",
    "s,text",
    "@@M@@ s 0",
    "id,s",
    '1,"a,b"',
    "2,",
    "3,@@N@@",
    '4,"@@N@@"',
    "@@M@@ r 0 4",
    "@@M@@ d 1",
    "The command has no result, or the result has no columns.",
    "@@M@@ s 1",
    "@@M@@ r 1 4",
    "@@M@@ d 2",
    "Column,Type",
    "?column?,integer",
    "@@M@@ s 2",
    "?column?",
    "@@M@@ r 2 0",
    "@@M@@ end",
    "@@M@@ exit 0",
    "",
  ].join("\n");
  const parsed = parsePsqlOutput(out, "@@M@@", "@@N@@", statements);
  assert.equal(parsed.exit_code, 0);
  assert.equal(parsed.cut, false);
  assert.deepEqual(parsed.results.map((r) => [r.has_rows, r.row_count, r.columns, r.rows]), [
    [true, 4, [{ name: "id", type: "integer" }, { name: "s", type: "text" }], [["1", "a,b"], ["2", ""], [
      "3",
      null,
    ], ["4", "@@N@@"]]],
    [false, 4, [], []],
    [true, 0, [{ name: "?column?", type: "integer" }], []],
  ]);
  // Cut mid-row: the partial row is dropped, the result is marked cut, types survive.
  const cut = parsePsqlOutput(
    "@@M@@ d 0\nColumn,Type\nid,integer\n@@M@@ s 0\nid\n1\n2\n3",
    "@@M@@",
    "@@N@@",
    statements,
  );
  assert.deepEqual([cut.cut, cut.exit_code, cut.results[0]!.rows, cut.results[0]!.cut], [true, null, [["1"], [
    "2",
  ]], true]);
  assert.equal(cut.results[0]!.columns[0]!.type, "integer");
});

Deno.test("psql errors map back to the statement and the line of the submitted SQL", () => {
  const statements = splitPgSql("SELECT 1;\nSELECT *\n  FROM nope;");
  const { starts } = composePsql(statements, "@@M@@");
  const stderr =
    'psql:<stdin>:11: ERROR:  relation "nope" does not exist\nLINE 2:   FROM nope\n               ^\n';
  assert.deepEqual(parsePsqlError(stderr, statements, starts), {
    message: 'ERROR:  relation "nope" does not exist\nLINE 2:   FROM nope\n               ^',
    line: 3,
    code: null,
    statement_index: 1,
  });
  const auth = parsePsqlError(
    'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  password authentication failed for user "app"\n',
    statements,
    starts,
  );
  assert.match(auth!.message, /password authentication failed/);
  assert.equal(auth!.line, null);
  assert.equal(parsePsqlError("", statements, starts), null);
});

Deno.test("mysql --xml output keeps NULL apart from 'NULL' and decodes entities", () => {
  const xml = `<?xml version="1.0"?>

<resultset statement="SELECT * FROM t WHERE id&gt;0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <row>
\t<field name="id">1</field>
\t<field name="s">NULL</field>
\t<field name="u">ü &lt;&amp;&gt;&quot; a\tb
c</field>
  </row>

  <row>
\t<field name="id">2</field>
\t<field name="s" xsi:nil="true" />
\t<field name="u"></field>
  </row>
</resultset>
<?xml version="1.0"?>

<resultset statement="SELECT 1 WHERE 0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"></resultset>
`;
  const { results, cut } = parseMysqlXml(xml);
  assert.equal(cut, false);
  assert.deepEqual(results.map((r) => [r.statement, r.columns.map((c) => c.name), r.rows, r.row_count]), [
    ["SELECT * FROM t WHERE id>0", ["id", "s", "u"], [["1", "NULL", 'ü <&>" a\tb\nc'], ["2", null, ""]], 2],
    ["SELECT 1 WHERE 0", [], [], 0],
  ]);
  const partial = parseMysqlXml(xml.slice(0, xml.indexOf('<field name="id">2')));
  assert.deepEqual([partial.cut, partial.results[0]!.rows.length, partial.results[0]!.cut], [true, 1, true]);
});

Deno.test("mysql errors give the code and the line (exact for syntax errors)", () => {
  assert.deepEqual(parseMysqlError("ERROR 1146 (42S02) at line 2: Table 'shop.nope' doesn't exist\n"), {
    message: "ERROR 1146 (42S02): Table 'shop.nope' doesn't exist",
    line: 2,
    code: "42S02",
    statement_index: null,
  });
  const syntax = parseMysqlError(
    "--------------\nSELECT\n  FROM WHERE\n--------------\n\nERROR 1064 (42000) at line 2: You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'FROM WHERE' at line 2\n",
  );
  assert.equal(syntax!.line, 3);
  const denied = parseMysqlError(
    "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)",
  );
  assert.deepEqual([denied!.line, denied!.code], [null, "28000"]);
});

Deno.test("cells convert by PostgreSQL type; other types stay text", () => {
  assert.deepEqual(
    [
      convertCell("42", "integer"),
      convertCell("9007199254740993", "bigint"),
      convertCell("1.5", "double precision"),
      convertCell("NaN", "real"),
      convertCell("t", "boolean"),
      convertCell("1.50", "numeric(8,2)"),
      convertCell(null, "integer"),
      convertCell("7", null),
    ],
    [42, "9007199254740993", 1.5, "NaN", true, "1.50", null, "7"],
  );
});

Deno.test("renderTable shows NULL, escapes newlines and says how many rows are left out", () => {
  const text = renderTable([{ name: "id" }, { name: "note" }], [[1, null], [2, "a\nb"], [3, "x"]], 2);
  assert.equal(text, "id | note\n---+-----\n1  | NULL\n2  | a\\nb\n… 1 more row(s) in the structured result");
});

Deno.test("databases are detected from image, command, processes and ports", () => {
  const none = { image: "", command: "", processes: [], ports: [], listening: [] };
  assert.deepEqual(detectDb({ ...none, image: "docker.io/library/postgres:16" }), {
    db_type: "postgres",
    evidence: ["image docker.io/library/postgres:16"],
  });
  assert.equal(detectDb({ ...none, image: "bitnami/mariadb:11" })?.db_type, "mariadb");
  assert.equal(detectDb({ ...none, image: "percona/percona-server" })?.db_type, "mysql");
  assert.equal(detectDb({ ...none, image: "registry.local:5000/team/app:1.0" }), null);
  assert.deepEqual(detectDb({ ...none, image: "app", processes: ["999 mysql mariadbd --user=mysql"] }), {
    db_type: "mariadb",
    evidence: ["process"],
  });
  // mysqld from a MariaDB image: the image wins the spelling.
  assert.equal(detectDb({ ...none, image: "mariadb:10.3", command: "mysqld" })?.db_type, "mariadb");
  assert.deepEqual(detectDb({ ...none, image: "x", listening: [5432] }), {
    db_type: "postgres",
    evidence: ["port 5432"],
  });
  assert.equal(detectDb({ ...none, ports: ["3306/tcp"] })?.db_type, "mysql");
});

Deno.test("listening ports come from /proc/net/tcp LISTEN rows", () => {
  const tcp =
    `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   100        0 1 1 0 100 0 0 10 0
   1: 0100007F:0CEA 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   100        0 2 1 0 20 4 30 10 -1`;
  assert.deepEqual(listeningPorts(tcp), [5432]);
});

Deno.test("versions and connection defaults come from the official images' environment", () => {
  const env = new Map([["PG_MAJOR", "16"], ["POSTGRES_USER", "app"], ["POSTGRES_PASSWORD", "pw"], [
    "POSTGRES_DB",
    "d",
  ]]);
  assert.equal(cheapVersion("postgres", "postgres:latest", env), "16");
  assert.equal(cheapVersion("mariadb", "mariadb:10.11.6-jammy", new Map()), "10.11.6");
  assert.equal(cheapVersion("mysql", "localhost:5000/mysql", new Map()), null);
  assert.deepEqual(dbDefaults("postgres", env), { user: "app", password: "pw", database: "d" });
  assert.deepEqual(dbDefaults("postgres", env, "other"), {
    user: "other",
    password: undefined,
    database: "d",
  });
  const my = new Map([["MARIADB_ROOT_PASSWORD", "r"], ["MYSQL_USER", "u"], ["MYSQL_PASSWORD", "up"]]);
  assert.deepEqual(dbDefaults("mariadb", my), { user: "root", password: "r", database: undefined });
  assert.deepEqual(dbDefaults("mysql", my, "u"), { user: "u", password: "up", database: undefined });
});

Deno.test("SQL literals cannot be broken out of", () => {
  assert.equal(pgLiteral("o'k\\", "t1"), "$t1$o'k\\$t1$");
  assert.throws(() => pgLiteral("x$t1$y", "t1"), RangeError);
  assert.equal(mysqlLiteral("a'b"), "CONVERT(X'612762' USING utf8mb4)");
  const queries = pgSchemaQueries({ table: "s.t'x", maxTables: 10, tag: "q9" });
  assert.ok(queries.every((q) => !q.includes("t'x") || q.includes("$q9$t'x$q9$")));
  assert.equal(queries.length, 7);
});

Deno.test("assembleSchema groups MySQL key rows into keys and foreign keys", () => {
  const schema = assembleSchema("mariadb", [
    [["shop"], ["mysql"]],
    [["shop"]],
    [["shop", "customers", "table", "3"], ["shop", "orders", "table", null]],
    [
      ["shop", "customers", "id", "int(11)", "0", null],
      ["shop", "orders", "id", "int(11)", "0", null],
      ["shop", "orders", "customer_id", "int(11)", "0", null],
      ["shop", "orders", "total", "decimal(8,2)", "1", "NULL"],
    ],
    [
      ["shop", "customers", "PRIMARY", "PRIMARY KEY", "id", null, null, null],
      ["shop", "orders", "PRIMARY", "PRIMARY KEY", "id", null, null, null],
      ["shop", "orders", "fk", "FOREIGN KEY", "customer_id", "shop", "customers", "id"],
    ],
  ], { maxTables: 1, detail: false });
  assert.equal(schema.truncated, true);
  assert.deepEqual(schema.tables.map((t) => t.name), ["customers"]);
  const full = assembleSchema("mariadb", [[], [], [["shop", "orders", "table", null]], [[
    "shop",
    "orders",
    "total",
    "decimal(8,2)",
    "1",
    "NULL",
  ]], [["shop", "orders", "fk", "FOREIGN KEY", "customer_id", "shop", "customers", "id"]]], {
    maxTables: 10,
    detail: false,
  });
  assert.deepEqual(full.tables[0]!.foreign_keys, [{
    name: "fk",
    columns: ["customer_id"],
    references_schema: "shop",
    references_table: "customers",
    references_columns: ["id"],
  }]);
  assert.equal(full.tables[0]!.columns[0]!.default, null);
});
