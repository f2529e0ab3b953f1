/**
 * Running SQL in a database container, shared by the db tools. The clients inside the containers do
 * the work (`psql --csv`, `mysql`/`mariadb --xml`), started with `docker exec -i`. SQL and the
 * password travel over stdin: a tiny `sh` inside the container reads the password line into the
 * client's environment variable (PGPASSWORD / MYSQL_PWD) and execs the client, which reads the SQL.
 * Neither appears in any argv on the host or in the container, nor in the host-side environment.
 *
 * @module
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { sh, type ShellCommand } from "../../shell/sh.ts";
import type { ExecResult } from "../../ssh/connection.ts";
import type { ToolContext } from "../define.ts";
import {
  DB_IDENTIFIER,
  DB_TYPES,
  dbDefaults,
  type DbError,
  type DbType,
  detectDb,
  listeningPorts,
  parseMysqlError,
  parseMysqlXml,
  parsePsqlError,
  parsePsqlOutput,
  type ResultSet,
} from "./parse.ts";
import { composePsql, type SqlStatement } from "./sql.ts";
import { containerName, dockerError, dockerSudo, runDocker, withDockerPrelude } from "../docker/run.ts";
import {
  assertContainerName,
  containerEnv,
  INSPECT_FORMAT,
  type InspectedContainer,
  parseInspected,
  parseJsonStream,
} from "../docker/parse.ts";
import { newMarker, PARSE_OUTPUT_BYTES, splitSections } from "../remote.ts";
import { target } from "../schemas.ts";

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

/** The PostgreSQL `application_name` of one call's session, so a second client can end it. */
function applicationName(nonce: string): string {
  return `ssh-mcp-${nonce}`;
}

// ---------------------------------------------------------------------------------------------
// container facts

/** What the tools know about one container. */
export interface ContainerFacts {
  inspected: InspectedContainer;
  env: Map<string, string>;
  processes: string[];
  listening: number[];
}

/** Inspects one container (or every running one), optionally with its processes and listening ports. */
export async function probeContainers(
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

/** The database a container runs, from its facts (null when none is recognised). */
export function detect(f: ContainerFacts) {
  return detectDb({
    image: f.inspected.image,
    command: f.inspected.command,
    processes: f.processes,
    ports: f.inspected.ports,
    listening: f.listening,
  });
}

/** A container resolved for a database call. */
export interface DbTarget {
  alias: string;
  container: string;
  type: DbType;
  user: string;
  password: string | undefined;
  passwordSource: "argument" | "container_env" | "none";
  database: string | undefined;
  sudo: boolean;
}

/** Finds the container, checks it runs, detects its database and picks user, password and database. */
export async function resolveDb(
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
export interface SqlRun {
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
      ? [
        "-e",
        "PGCLIENTENCODING=UTF8",
        "-e",
        `PGOPTIONS=-c statement_timeout=${timeoutSeconds * 1000}`,
        "-e",
        `PGAPPNAME=${applicationName(nonce)}`,
      ]
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

/**
 * Stops the statement of a call that timed out or was cancelled (best effort, bounded). Killing the
 * remote `docker exec` does not reach the client inside the container, and a client that is gone
 * never sends a cancel request: PostgreSQL then runs the statement to its end. So for PostgreSQL a
 * second client ends the call's backend, found by its `application_name` (one `docker exec`; the
 * first client then exits on the closed connection). MySQL and MariaDB clients are interrupted
 * (SIGINT makes them send KILL QUERY); their server-side statement timeout bounds the rest.
 */
async function stopStatement(ctx: ToolContext, db: DbTarget, nonce: string): Promise<void> {
  // The nonce is hex (newMarker), so it is a safe SQL string literal.
  const terminate = `SELECT pg_terminate_backend(pid) FROM pg_stat_activity ` +
    `WHERE application_name = '${applicationName(nonce)}' AND pid <> pg_backend_pid()`;
  const command = db.type === "postgres"
    ? sh`docker exec -i -- ${db.container} sh -c ${READ_SECRET_THEN_EXEC} ssh-mcp ${[
      "PGPASSWORD",
      "psql",
      "-X",
      "-q",
      "-w",
      "-U",
      db.user,
      ...(db.database === undefined ? [] : ["-d", db.database]),
      "-c",
      terminate,
    ]} >/dev/null 2>&1`
    : sh`docker exec -- ${db.container} sh -c ${INTERRUPT_CLIENT} ssh-mcp ${nonce} >/dev/null 2>&1`;
  try {
    await ctx.connections.exec(db.alias, {
      command: withDockerPrelude(command),
      stdin: new TextEncoder().encode(`${db.password ?? ""}\n`),
      timeoutMs: 15_000,
      maxOutputBytes: 4096,
      sudo: db.sudo,
    });
  } catch {
    // The connection is gone; the server-side statement timeout still ends the query.
  }
}

/** Runs SQL with the database client inside the container; the password and SQL go over stdin. */
export async function runSql(
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
  // On cancel, end the statement in the database at once, while the remote client is being killed.
  let stopping: Promise<void> | undefined;
  const stopNow = () => void (stopping ??= stopStatement(ctx, db, nonce));
  ctx.signal.addEventListener("abort", stopNow, { once: true });
  try {
    for (const client of clients) {
      exec = await ctx.connections.exec(db.alias, {
        command: clientCommand(db, client, marker, nullMarker, nonce, timeoutSeconds),
        stdin,
        timeoutMs: timeoutSeconds * 1000 + 5000,
        maxOutputBytes: QUERY_OUTPUT_BYTES + 65536,
        signal: ctx.signal,
        sudo: db.sudo,
      });
      const notFound = exec.stdout.includes(`${marker} exit 127`) &&
        /not found|No such file/i.test(exec.stderr);
      if (!notFound) break;
    }
  } finally {
    ctx.signal.removeEventListener("abort", stopNow);
  }
  if (exec === undefined) throw new Error("unreachable: no client tried");
  if (exec.timed_out || exec.cancelled) {
    stopNow();
    await stopping;
    throw new ToolError(
      `Cannot finish the query on "${db.container}": ${
        exec.timed_out ? `no answer within ${timeoutSeconds + 5} s` : "the call was cancelled"
      }; the statement was stopped`,
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

/** What to do next about a database error. */
export function hintFor(error: DbError, db: DbTarget): string {
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

/** Input fields of every tool that connects to a database in a container. */
export const dbConnectionInput = {
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
