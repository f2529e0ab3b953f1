/**
 * The warm shell must be indistinguishable from an exec channel: every row of the table runs through
 * both executors against a real sshd, for a bash and a dash login shell, and the results must be
 * equal except for `executor` and `duration_ms`.
 */
import assert from "node:assert/strict";
import { sh } from "../../../src/shell/sh.ts";
import { openConnection } from "../../../src/ssh/client.ts";
import type { SshConnection } from "../../../src/ssh/connection.ts";
import type { ExecRequest, ExecResult } from "../../../src/ssh/connection.ts";
import { execute } from "../../../src/ssh/exec/channel.ts";
import { ShellPool } from "../../../src/ssh/exec/warm_shell.ts";
import { startSshd, type TestSshd } from "../../_helpers/sshd.ts";

interface Case {
  name: string;
  command: string;
  stdin?: string;
  cwd?: string;
  env?: Record<string, string>;
  maxOutputBytes?: number;
  /** Pids differ between any two runs: replaced by "PID" in stderr before comparing. */
  pidsInStderr?: boolean;
  /** Extra checks on the (equal) results. */
  check?: (result: ExecResult, home: string) => void;
}

// 256 bytes 0x00..0xff, then 4 KiB of them repeated: binary output, compared by count and digest.
const ALL_BYTES = `i=0; while [ $i -lt 256 ]; do printf "\\\\$(printf %o $i)"; i=$((i+1)); done`;
const ALL_BYTES_SHA256 = await sha256Hex(Uint8Array.from({ length: 256 }, (_, i) => i));

const CASES: Case[] = [
  { name: "exit code 0", command: "true", check: (r) => assert.equal(r.exit_code, 0) },
  { name: "exit code 1", command: "false", check: (r) => assert.equal(r.exit_code, 1) },
  {
    name: "exit inside the command",
    command: "echo a; exit 3; echo b",
    check: (r) => assert.equal(r.exit_code, 3),
  },
  { name: "exit 255", command: "exit 255", check: (r) => assert.equal(r.exit_code, 255) },
  { name: "killed by SIGTERM", command: "kill -TERM $$", check: (r) => assert.equal(r.signal, "SIGTERM") },
  {
    name: "killed by SIGKILL",
    command: "echo before; kill -KILL $$",
    check: (r) => assert.equal(r.signal, "SIGKILL"),
  },
  {
    name: "a child killed by a signal is an exit status",
    command: "sh -c 'kill -KILL $$'",
    pidsInStderr: true,
    check: (r) => assert.equal(r.exit_code, 137),
  },
  { name: "stderr only", command: "echo oops >&2", check: (r) => assert.equal(r.stderr, "oops\n") },
  { name: "interleaved streams", command: "echo 1; echo 2 >&2; echo 3; echo 4 >&2" },
  {
    name: "no trailing newline",
    command: "printf abc; printf def >&2",
    check: (r) => assert.equal(r.stdout, "abc"),
  },
  {
    name: "binary output, every byte value",
    command: ALL_BYTES,
    check: (r) => assert.equal(r.stdout_bytes, 256),
  },
  {
    name: "binary output digest",
    command: `(${ALL_BYTES}) | sha256sum`,
    check: (r) => assert.equal(r.stdout.split(" ")[0], ALL_BYTES_SHA256),
  },
  {
    name: "binary noise of 4 KiB from /dev/urandom",
    command: "head -c 4096 /dev/urandom | wc -c; head -c 4096 /dev/urandom >/dev/null",
    check: (r) => assert.equal(r.stdout.trim(), "4096"),
  },
  {
    name: "huge output is capped with byte counts",
    command: "yes | head -c 3000000; yes err | head -c 200000 >&2",
    maxOutputBytes: 4096,
    check: (r) => {
      assert.equal(r.truncated, true);
      assert.equal(r.stdout_bytes, 3_000_000);
      assert.equal(r.stderr_bytes, 200_000);
      assert.match(r.stdout, /bytes omitted/);
    },
  },
  {
    name: "unicode",
    command: "printf 'héllo ☃ 🎉\\n'; echo 'ünï ✓' >&2",
    check: (r) => assert.equal(r.stdout, "héllo ☃ 🎉\n"),
  },
  {
    name: "stdin is given",
    command: "cat; echo; wc -c",
    stdin: "hello\nworld 'quoted' \"dq\" $HOME `x`\n\n",
    check: (r) => assert.match(r.stdout, /^hello\nworld 'quoted' "dq" \$HOME `x`\n\n/),
  },
  {
    name: "stdin without trailing newline",
    command: "cat",
    stdin: "no newline",
    check: (r) => assert.equal(r.stdout, "no newline"),
  },
  { name: "stdin is empty when absent", command: 'cat; read x; echo "rc=$? x=$x"' },
  { name: "exec replaces the shell", command: "exec true", check: (r) => assert.equal(r.exit_code, 0) },
  {
    name: "exec of a failing program",
    command: "exec sh -c 'exit 5'",
    check: (r) => assert.equal(r.exit_code, 5),
  },
  { name: "set -e stops at the first failure", command: "set -e; false; echo not reached" },
  {
    name: "an EXIT trap runs",
    command: "trap 'echo bye' EXIT; exit 4",
    check: (r) => assert.equal(r.stdout, "bye\n"),
  },
  {
    name: "a command that does not exist",
    command: "no_such_command_mcp_xyz",
    check: (r) => assert.equal(r.exit_code, 127),
  },
  { name: "a syntax error", command: "if then fi" },
  { name: "shell name, arguments and options", command: 'echo "$0 $# $-"' },
  { name: "login environment", command: "env | grep -v '^_=' | sort" },
  { name: "home directory as cwd", command: "pwd", check: (r, home) => assert.equal(r.stdout, `${home}\n`) },
  { name: "umask", command: "umask" },
  { name: "open file descriptors", command: "ls /proc/self/fd | sort -n" },
  {
    name: "the command leads its own session and process group",
    command: 'awk \'{ print ($5 == $1 && $6 == $1) ? "leader" : "not leader" }\' /proc/$$/stat',
    check: (r) => assert.equal(r.stdout, "leader\n"),
  },
  {
    name: "signal dispositions are the defaults",
    command: "grep -E '^Sig(Ign|Blk)' /proc/self/status",
  },
  { name: "cwd option", command: "pwd", cwd: "/tmp", check: (r) => assert.equal(r.stdout, "/tmp\n") },
  {
    name: "cwd that does not exist",
    command: "pwd",
    cwd: "/no/such/dir",
    check: (r) => assert.equal(r.exit_code, 1),
  },
  {
    name: "env option",
    command: 'printf "%s|" "$GREETING" "$OTHER"',
    env: { GREETING: "hi 'there' $HOME", OTHER: "" },
    check: (r) => assert.equal(r.stdout, "hi 'there' $HOME||"),
  },
  {
    name: "a background child holding stdout delays the end (EOF rule)",
    command: "(sleep 0.4; echo late) & echo early",
    check: (r) => {
      assert.equal(r.stdout, "early\nlate\n");
      assert.ok(r.duration_ms >= 350, `took ${r.duration_ms} ms`);
    },
  },
  {
    name: "a detached background child does not delay the end",
    command: "nohup sleep 3 >/dev/null 2>&1 & echo started",
    check: (r) => assert.ok(r.duration_ms < 2000, `took ${r.duration_ms} ms`),
  },
];

/** Commands run to change state; the probe that follows must see none of it. */
const STATE_CHANGES = [
  "cd /; export LEAK=1; LOCAL=2; trap 'echo trapped' EXIT; trap '' INT; set -e -u; umask 077; alias ll=ls; f() { :; }",
  "exec 7>/tmp/ssh-mcp-leak-test; ulimit -n 64 2>/dev/null; sleep 0.1 & true",
];
const STATE_PROBE =
  'pwd; echo "${LEAK:-none} ${LOCAL:-none}"; trap; echo "$-"; umask; type f 2>/dev/null || echo no f; ls /proc/self/fd | sort -n; ulimit -n; grep -E "^SigIgn" /proc/self/status';

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function login(sshd: TestSshd, user: "mcptest" | "mcpnopw"): Promise<SshConnection> {
  return await openConnection({
    host: sshd.host,
    port: sshd.port,
    username: user,
    auth: [{ type: "password", password: sshd.users[user].password! }],
    checkHostKey: () => Promise.resolve(true),
    connectTimeoutMs: 10_000,
    keepaliveIntervalMs: 0,
    keepaliveCountMax: 3,
  });
}

function request(c: Case): ExecRequest {
  return {
    command: sh`eval ${c.command}`,
    cwd: c.cwd,
    env: c.env,
    stdin: c.stdin === undefined ? undefined : new TextEncoder().encode(c.stdin),
    timeoutMs: 20_000,
    maxOutputBytes: c.maxOutputBytes ?? 65_536,
  };
}

function comparable(result: ExecResult, c?: Case): Omit<ExecResult, "executor" | "duration_ms"> {
  const { executor: _executor, duration_ms: _duration, ...rest } = result;
  return c?.pidsInStderr ? { ...rest, stderr: rest.stderr.replace(/\b\d+\b/g, "PID") } : rest;
}

for (const user of ["mcptest", "mcpnopw"] as const) {
  const shell = user === "mcptest" ? "bash" : "dash";
  Deno.test(`the warm shell and an exec channel give identical results (${shell} login shell)`, async () => {
    await using sshd = await startSshd();
    await using connection = await login(sshd, user);
    await using pool = new ShellPool(connection);
    const home = sshd.users[user].home;
    for (const c of CASES) {
      const viaShell = await pool.execute(request(c));
      const viaExec = await execute(connection, request(c));
      assert.equal(
        viaShell.executor,
        "shell",
        `${c.name}: ran on ${viaShell.executor} (${pool.lastFallback})`,
      );
      assert.equal(viaExec.executor, "exec");
      assert.deepEqual(comparable(viaShell, c), comparable(viaExec, c), `${c.name}: ${c.command}`);
      c.check?.(viaShell, home);
    }
    assert.equal(pool.size, 1, "one shell served every command in turn");
  });

  Deno.test(`cd, export, trap, set -e, umask and fds do not leak to the next command (${shell})`, async () => {
    await using sshd = await startSshd();
    await using connection = await login(sshd, user);
    await using pool = new ShellPool(connection, { maxShells: 1 });
    const probe = { name: "probe", command: STATE_PROBE };
    const baseline = await execute(connection, request(probe));
    for (const change of STATE_CHANGES) {
      const before = await pool.execute(request({ name: "change", command: change }));
      assert.equal(before.executor, "shell");
      const after = await pool.execute(request(probe));
      assert.equal(after.executor, "shell");
      assert.deepEqual(comparable(after), comparable(baseline), `after: ${change}`);
    }
    assert.match(baseline.stdout, new RegExp(`^${sshd.users[user].home}\nnone none\n`));
  });
}
