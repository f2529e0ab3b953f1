/**
 * The database tools end to end: the real server process, a real sshd (root with a key), and real
 * PostgreSQL and MariaDB containers built from this machine's Debian packages. Containers carry the
 * label `ssh-mcp-test=db` and are removed afterwards. Refresh the snapshot with UPDATE_SNAPSHOTS=1
 * after an intended change.
 */
import assert from "node:assert/strict";
import type { Client } from "@modelcontextprotocol/client";
import {
  BUSYBOX_IMAGE,
  docker,
  dockerOk,
  POSTGRES_IMAGE,
  removeLabelled,
  requireContainers,
  startMariadb,
  startPostgres,
  waitUntil,
} from "../../_helpers/containers.ts";
import { installKey, toolCalls } from "../../_helpers/mcp_ssh.ts";
import { requirePrograms } from "../../_helpers/require.ts";
import { httpClient, startHttpServer } from "../../_helpers/server.ts";
import { startSshd } from "../../_helpers/sshd.ts";

const ignore = !requirePrograms("sshd", "ssh-keygen") ||
  !await requireContainers({ postgres: true, mariadb: true });
const LABEL = "ssh-mcp-test=db";
const P = "mcpdb"; // name prefix of this file's containers
const PLAIN_IMAGE = "localhost/mcpdb-plain:test"; // the postgres image under a name that says nothing
const ROOT_PASSWORD = "r00t-mcpdb-7f3a";
const SNAPSHOT = new URL("../../testdata/db_tools_snapshot.json", import.meta.url);

const { call, ok, refused } = toolCalls({ target: "bed" });

/** Every process whose argv or environment holds `needle`, as "pid comm where". */
function holders(needle: string): { argv: string[]; environ: string[] } {
  const found = { argv: [] as string[], environ: [] as string[] };
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const comm = Deno.readTextFileSync(`/proc/${entry.name}/comm`).trim();
      if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(needle)) {
        found.argv.push(`${entry.name} ${comm}`);
      }
      if (Deno.readTextFileSync(`/proc/${entry.name}/environ`).includes(needle)) found.environ.push(comm);
    } catch {
      // gone, or a kernel thread
    }
  }
  return found;
}

/** Runs `query` through db_query while sampling /proc for `secret`; returns the reply and the holders. */
async function watchedQuery(client: Client, args: Record<string, unknown>, secret: string) {
  const argv = new Set<string>();
  const environ = new Set<string>();
  let done = false;
  const pending = call(client, "db_query", args).finally(() => done = true);
  while (!done) {
    const h = holders(secret);
    h.argv.forEach((x) => argv.add(x));
    h.environ.forEach((x) => environ.add(x));
    await new Promise((r) => setTimeout(r, 20));
  }
  return { reply: await pending, argv: [...argv], environ: [...environ] };
}

Deno.test(
  "database tools query, describe and find real PostgreSQL and MariaDB containers",
  { ignore },
  async (t) => {
    await removeLabelled(LABEL);
    await using sshd = await startSshd();
    await using server = await startHttpServer({ args: ["-max-output", "1000000"] });
    await using client = await httpClient(server, "modern");
    const key = await installKey(server.home, sshd.keys.ed25519, "id_db_test");
    const pg = `${P}-pg`;
    const my = `${P}-maria`;
    try {
      await dockerOk(["tag", POSTGRES_IMAGE, PLAIN_IMAGE]);
      await Promise.all([
        startPostgres(pg, LABEL),
        startPostgres(`${P}-plain`, LABEL, PLAIN_IMAGE),
        startMariadb(my, LABEL, ROOT_PASSWORD),
        dockerOk(["run", "-d", "--name", `${P}-bb`, "--label", LABEL, BUSYBOX_IMAGE, "sleep", "1000"]),
      ]);
      await ok(client, "connect", {
        host: sshd.host,
        port: sshd.port,
        username: "root",
        private_key_path: key,
        alias: "bed",
      });
      const snapshot: Record<string, unknown> = {};

      await t.step("list_db_containers finds PostgreSQL and MariaDB by image, process and port", async () => {
        const r = await ok(client, "list_db_containers");
        const mine = r.data.containers.filter((c: { name: string }) => c.name.startsWith(P));
        assert.deepEqual(mine.map((c: Record<string, unknown>) => [c.name, c.db_type]), [
          [my, "mariadb"],
          [pg, "postgres"],
          [`${P}-plain`, "postgres"],
        ]);
        const plain = mine.find((c: { name: string }) => c.name === `${P}-plain`);
        assert.deepEqual(plain.evidence, ["process", "port 5432"]);
        snapshot.list_db_containers = mine.map((c: Record<string, unknown>) => ({
          name: c.name,
          image: c.image,
          db_type: c.db_type,
          version: c.version,
          evidence: c.evidence,
        }));
      });

      await t.step(
        "db_query on PostgreSQL returns typed columns, NULLs, unicode and keeps '' apart",
        async () => {
          const setup = await ok(client, "db_query", {
            container_name: pg,
            query:
              `CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, note text);
CREATE TABLE orders (
  id integer PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers(id),
  total numeric(8,2), paid boolean DEFAULT false, placed timestamptz
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
INSERT INTO customers (name, email, note) VALUES ('Ada', 'ada@example.org', NULL),
  ('Bob ünï 😀', NULL, ''), ('NULL', 'null@example.org', E'two\\nlines, "quoted"; ok');
INSERT INTO orders VALUES (1, 1, 9.99, true, '2024-01-02T03:04:05Z'), (2, 1, NULL, false, NULL),
  (3, 2, 100.5, NULL, NULL) -- the last statement has no semicolon`,
          });
          assert.deepEqual([setup.data.statements, setup.data.row_count, setup.data.columns], [5, 3, []]);
          const r = await ok(client, "db_query", {
            container_name: pg,
            db_type: "postgres",
            query: "SELECT c.id, c.name, c.email, c.note, o.total, o.paid, o.id IS NOT NULL AS has_order\n" +
              "FROM customers c LEFT JOIN orders o ON o.customer_id = c.id ORDER BY c.id, o.id;",
          });
          assert.equal(r.data.db_type, "postgres");
          assert.equal(r.data.row_count, 4);
          assert.equal(r.data.rows[2][3], "");
          assert.equal(r.data.rows[3][1], "NULL");
          assert.equal(r.data.rows[3][4], null);
          assert.match(r.text, /Bob ünï 😀/);
          snapshot.postgres_query = { columns: r.data.columns, rows: r.data.rows };
        },
      );

      await t.step("db_query on PostgreSQL caps many rows and reports errors with their line", async () => {
        const many = await ok(client, "db_query", {
          container_name: pg,
          query: "SELECT g AS n, md5(g::text) AS h FROM generate_series(1, 5000) g",
          max_rows: 1000,
        });
        assert.deepEqual([many.data.rows.length, many.data.row_count, many.data.truncated], [
          1000,
          5000,
          true,
        ]);
        assert.deepEqual(many.data.rows[999], [1000, "a9b7ba70783b617e9998dc4dd82eb3c5"]);
        const huge = await ok(client, "db_query", {
          container_name: pg,
          query: "SELECT g, repeat('x', 1000) FROM generate_series(1, 20000) g",
          max_rows: 10000,
        });
        assert.equal(huge.data.truncated, true);
        assert.ok(huge.data.rows.length > 1000 && huge.data.rows.length < 10000, `${huge.data.rows.length}`);
        assert.deepEqual(huge.data.rows.at(-1)[0], huge.data.rows.length);

        const failed = await call(client, "db_query", {
          container_name: pg,
          query: "SELECT 41 + 1 AS answer;\nSELECT *\n  FROM nope;\nSELECT 'never';",
        });
        assert.equal(failed.isError, true);
        assert.equal(failed.data.error.line, 3);
        assert.equal(failed.data.error.statement_index, 1);
        assert.match(failed.data.error.message, /relation "nope" does not exist/);
        assert.deepEqual(failed.data.rows, [[42]]);
        assert.match(failed.text, /line 3/);
        const syntax = await call(client, "db_query", { container_name: pg, query: "\n\nSELECT 1 +;" });
        assert.equal(syntax.isError, true);
        assert.equal(syntax.data.error.line, 3);
        assert.match(syntax.data.error.message, /syntax error/);
        const meta = await refused(client, "db_query", {
          container_name: pg,
          db_type: "postgres",
          query: "\\! id",
        });
        assert.match(meta, /meta-command/);
      });

      await t.step(
        "db_schema on PostgreSQL shows tables, columns, keys and one table in detail",
        async () => {
          const r = await ok(client, "db_schema", { container_name: pg });
          assert.ok(r.data.databases.includes("postgres"));
          assert.equal(r.data.database, "postgres");
          const orders = await ok(client, "db_schema", { container_name: pg, table: "public.orders" });
          const customers = await ok(client, "db_schema", { container_name: pg, table: "customers" });
          const strip = (tables: Record<string, unknown>[]) =>
            tables.map(({ row_estimate: _, ...rest }) => rest);
          snapshot.postgres_schema = {
            tables: strip(r.data.tables),
            orders: strip(orders.data.tables),
            customers_referenced_by: customers.data.tables[0].referenced_by,
          };
          const missing = await call(client, "db_schema", { container_name: pg, table: "nope" });
          assert.equal(missing.isError, true);
          assert.match(missing.text, /Cannot find table "nope"/);
        },
      );

      await t.step(
        "db_query on MariaDB keeps NULL apart from 'NULL' and reports errors with their line",
        async () => {
          const setup = await ok(client, "db_query", {
            container_name: my,
            query: `CREATE DATABASE shop CHARACTER SET utf8mb4;
USE shop;
CREATE TABLE customers (id int AUTO_INCREMENT PRIMARY KEY, name varchar(50) NOT NULL, email varchar(80) UNIQUE,
  note text) ENGINE=InnoDB;
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total decimal(8,2),
  CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)) ENGINE=InnoDB;
INSERT INTO customers (name, email, note) VALUES ('Ada', 'ada@example.org', NULL),
  ('Bob ünï 😀', NULL, ''), ('NULL', 'null@example.org', 'two\\nlines, "quoted" <&>');
INSERT INTO orders VALUES (1, 1, 9.99), (2, 1, NULL), (3, 2, 100.5);`,
          });
          assert.equal(setup.data.db_type, "mariadb");
          const r = await ok(client, "db_query", {
            container_name: my,
            database: "shop",
            query: "SELECT c.id, c.name, c.email, c.note, o.total FROM customers c\n" +
              "LEFT JOIN orders o ON o.customer_id = c.id ORDER BY c.id, o.id",
          });
          assert.equal(r.data.rows[3][1], "NULL");
          assert.equal(r.data.rows[3][4], null);
          assert.equal(r.data.rows[3][3], 'two\nlines, "quoted" <&>');
          snapshot.mariadb_query = { columns: r.data.columns, rows: r.data.rows };

          const many = await ok(client, "db_query", {
            container_name: my,
            query: "SET SESSION max_recursive_iterations = 10000;\n" +
              "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) SELECT n FROM s",
            max_rows: 100,
          });
          assert.deepEqual([many.data.rows.length, many.data.row_count, many.data.truncated], [
            100,
            5000,
            true,
          ]);

          const failed = await call(client, "db_query", {
            container_name: my,
            database: "shop",
            query: "SELECT 1;\nSELECT *\nFROM nope;",
          });
          assert.equal(failed.isError, true);
          assert.equal(failed.data.error.line, 2); // where the failing statement starts
          assert.match(failed.data.error.message, /1146.*nope/);
          const syntax = await call(client, "db_query", {
            container_name: my,
            query: "SELECT 1;\nSELECT\n  FROM WHERE;",
          });
          assert.equal(syntax.isError, true);
          assert.equal(syntax.data.error.line, 3); // exact: "near 'FROM WHERE' at line 2" of the statement
          assert.match(syntax.data.error.message, /1064/);
          const timeout = await call(client, "db_query", {
            container_name: my,
            query: "SELECT SLEEP(5)",
            timeout: 1,
          });
          assert.equal(timeout.isError, true, timeout.text);
          assert.match(timeout.text, /max_statement_time|interrupted/i);
        },
      );

      await t.step("db_schema on MariaDB shows the foreign key and the table detail", async () => {
        const r = await ok(client, "db_schema", { container_name: my, database: "shop" });
        assert.ok(r.data.databases.includes("shop"));
        const orders = await ok(client, "db_schema", {
          container_name: my,
          database: "shop",
          table: "orders",
        });
        const customers = await ok(client, "db_schema", {
          container_name: my,
          database: "shop",
          table: "customers",
        });
        const strip = (tables: Record<string, unknown>[]) =>
          tables.map(({ row_estimate: _, ...rest }) => rest);
        snapshot.mariadb_schema = {
          tables: strip(r.data.tables),
          orders: strip(orders.data.tables),
          customers_referenced_by: customers.data.tables[0].referenced_by,
        };
      });

      await t.step(
        "passwords travel over stdin: never in any argv, only in the client's environment",
        async () => {
          const pgSecret = `pg-canary-${crypto.randomUUID()}`;
          await ok(client, "db_query", {
            container_name: pg,
            query: `CREATE ROLE app LOGIN PASSWORD '${pgSecret}'`,
          });
          await dockerOk([
            "exec",
            pg,
            "sh",
            "-c",
            `sed -i '1i local all app scram-sha-256' "$PGDATA/pg_hba.conf"`,
          ]);
          await dockerOk(["exec", pg, "psql", "-U", "postgres", "-c", "SELECT pg_reload_conf()"]);
          const w = await watchedQuery(client, {
            container_name: pg,
            username: "app",
            password: pgSecret,
            database: "postgres",
            query: "SELECT current_user, pg_sleep(1.5)",
          }, pgSecret);
          assert.equal(w.reply.isError, false, w.reply.text);
          assert.deepEqual(w.reply.data.rows, [["app", ""]]);
          assert.deepEqual(w.argv, []);
          assert.deepEqual(w.environ, ["psql"]);
          const wrong = await call(client, "db_query", {
            container_name: pg,
            username: "app",
            password: "wrong",
            database: "postgres",
            query: "SELECT 1",
          });
          assert.equal(wrong.isError, true);
          assert.match(wrong.text, /password authentication failed/);

          const mySecret = `my-canary-${crypto.randomUUID()}`;
          await ok(client, "db_query", {
            container_name: my,
            query:
              `CREATE USER 'app'@'localhost' IDENTIFIED BY '${mySecret}'; GRANT SELECT ON shop.* TO 'app'@'localhost';`,
          });
          const m = await watchedQuery(client, {
            container_name: my,
            username: "app",
            password: mySecret,
            query: "SELECT CURRENT_USER() AS who, SLEEP(1.5) AS s",
          }, mySecret);
          assert.equal(m.reply.isError, false, m.reply.text);
          assert.deepEqual(m.reply.data.rows, [["app@localhost", "0"]]);
          assert.deepEqual(m.argv, []);
          assert.deepEqual(m.environ, ["mariadb"]);
        },
      );

      await t.step("statement timeout and cancel stop the query in the database", async () => {
        const slow = await call(client, "db_query", {
          container_name: pg,
          query: "SELECT pg_sleep(10)",
          timeout: 1,
        });
        assert.equal(slow.isError, true);
        assert.match(slow.data.error.message, /statement timeout/);
        const controller = new AbortController();
        const pending = client.callTool({
          name: "db_query",
          arguments: { target: "bed", container_name: pg, query: "SELECT pg_sleep(30.5)", timeout: 60 },
        }, { signal: controller.signal }).catch((e) => e);
        const active = async () =>
          (await docker([
            "exec",
            pg,
            "psql",
            "-U",
            "postgres",
            "-tAc",
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30.5)%' AND pid <> pg_backend_pid()",
          ])).stdout.trim();
        await waitUntil("the query to start", async () => await active() === "1", 10_000);
        controller.abort();
        await pending;
        // Well below the statement's 30.5 s, so a query nobody stopped still fails this; the stop itself
        // (a second `docker exec` through podman) has taken over 5 s on a loaded 2-core machine.
        await waitUntil("the query to stop", async () => await active() === "0", 15_000);
      });

      await t.step(
        "hostile container, database and user names are rejected before anything runs",
        async () => {
          for (const name of ["-rf", "a;id", "$(id)", "a b", "--help"]) {
            for (const tool of ["db_query", "db_schema"]) {
              await refused(client, tool, { container_name: name, query: "SELECT 1" });
            }
            await refused(client, "db_query", { container_name: pg, database: name, query: "SELECT 1" });
            await refused(client, "db_query", { container_name: pg, username: name, query: "SELECT 1" });
          }
          const notDb = await call(client, "db_query", { container_name: `${P}-bb`, query: "SELECT 1" });
          assert.equal(notDb.isError, true);
          assert.match(notDb.text, /db_type/);
        },
      );

      const text = JSON.stringify(snapshot, null, 2) + "\n";
      if (Deno.env.get("UPDATE_SNAPSHOTS") === "1") await Deno.writeTextFile(SNAPSHOT, text);
      assert.equal(
        text,
        await Deno.readTextFile(SNAPSHOT),
        "db results changed: review, then UPDATE_SNAPSHOTS=1",
      );
    } finally {
      await removeLabelled(LABEL);
      await docker(["rmi", PLAIN_IMAGE]);
    }
  },
);
