import assert from "node:assert/strict";
import { sh } from "../../../src/shell/sh.ts";
import { openConnection } from "../../../src/ssh/client.ts";
import type { SshConnection } from "../../../src/ssh/connection.ts";
import type { ExecRequest } from "../../../src/ssh/connection.ts";
import { ShellPool } from "../../../src/ssh/exec/warm_shell.ts";
import { call, passwordLogin, processesMatching } from "../../_helpers/mcp_ssh.ts";
import { httpClient, startHttpServer } from "../../_helpers/server.ts";
import { MCPTEST_PASSWORD, startSshd, type TestSshd } from "../../_helpers/sshd.ts";

async function login(sshd: TestSshd, user: "mcptest" | "mcpnopw" = "mcptest"): Promise<SshConnection> {
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

function req(command: string, extra: Partial<ExecRequest> = {}): ExecRequest {
  return { command: sh`eval ${command}`, timeoutMs: 20_000, maxOutputBytes: 65_536, ...extra };
}

async function waitNoSurvivors(marker: string, ms = 3000): Promise<string[]> {
  const until = Date.now() + ms;
  let left = processesMatching(marker);
  while (left.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    left = processesMatching(marker);
  }
  return left;
}

async function waitFor(predicate: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  assert.ok(predicate(), "condition not reached in time");
}

for (const user of ["mcptest", "mcpnopw"] as const) {
  Deno.test(`the deadline kills the command's whole process group and the shell serves the next command (${user})`, async () => {
    await using sshd = await startSshd();
    await using connection = await login(sshd, user);
    await using pool = new ShellPool(connection);
    const started = Date.now();
    const r = await pool.execute(req("echo started; sleep 4721.1 & sleep 4721.1", { timeoutMs: 1000 }));
    assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
    assert.equal(r.executor, "shell");
    assert.equal(r.timed_out, true);
    assert.equal(r.connection_lost, false);
    assert.equal(r.stdout, "started\n");
    assert.equal(r.exit_code, null);
    assert.match(r.signal ?? "", /^SIG(TERM|KILL)$/);
    assert.deepEqual(await waitNoSurvivors("sleep 4721.1"), []);
    const next = await pool.execute(req("echo next"));
    assert.equal(next.stdout, "next\n");
    assert.equal(next.executor, "shell");
    assert.equal(pool.size, 1);
  });
}

Deno.test("cancelling a command kills its process group; the shell survives", async () => {
  await using sshd = await startSshd();
  await using connection = await login(sshd);
  await using pool = new ShellPool(connection);
  const marker = `sleep 4722.${Math.floor(Math.random() * 1e6)}`;
  const controller = new AbortController();
  const pending = pool.execute(req(`${marker} | ${marker}`, { signal: controller.signal }));
  await waitFor(() => processesMatching(marker).length >= 2); // the two sleeps (the script arrives on stdin)
  controller.abort();
  const r = await pending;
  assert.equal(r.cancelled, true);
  assert.equal(r.executor, "shell");
  assert.deepEqual(await waitNoSurvivors(marker), []);
  assert.equal((await pool.execute(req("echo ok"))).stdout, "ok\n");
  assert.equal(pool.size, 1);
});

Deno.test("a command already aborted is refused without running", async () => {
  await using sshd = await startSshd();
  await using connection = await login(sshd);
  await using pool = new ShellPool(connection);
  const controller = new AbortController();
  controller.abort(new Error("gave up"));
  await assert.rejects(pool.execute(req("true", { signal: controller.signal })), /gave up/);
  await assert.rejects(pool.execute(req("true", { timeoutMs: 0 })), RangeError);
});

Deno.test("a shell that dies mid-command reports connection_lost and is replaced", async () => {
  await using sshd = await startSshd();
  await using connection = await login(sshd);
  await using pool = new ShellPool(connection);
  // The child's parent is the warm shell itself; its temp dir is named after it.
  const loop = (await pool.execute(req("echo $PPID"))).stdout.trim();
  const dirs = () => [...Deno.readDirSync("/tmp")].filter((e) => e.name.startsWith(`ssh-mcp.${loop}.`));
  assert.equal(dirs().length, 1);
  const r = await pool.execute(req("kill -KILL $PPID; sleep 0.2; echo after"));
  assert.equal(r.connection_lost, true);
  assert.equal(r.exit_code, null);
  assert.equal(r.executor, "shell");
  // A SIGKILLed shell cannot clean up after itself (a parallel test's new shell may already have).
  const next = await pool.execute(req("echo fresh"));
  assert.equal(next.stdout, "fresh\n");
  assert.equal(next.executor, "shell");
  assert.equal(pool.size, 1);
  assert.equal(dirs().length, 0, "the next shell removed the dead one's temp dir");
});

Deno.test("a lost connection reports connection_lost once and the command ran exactly once", async () => {
  await using sshd = await startSshd();
  await using connection = await login(sshd);
  await using pool = new ShellPool(connection);
  const counter = `/tmp/ssh-mcp-shell-count-${crypto.randomUUID()}`;
  const pending = pool.execute(req(`echo ran >> ${counter}; chmod 666 ${counter}; sleep 3`));
  await waitFor(() => {
    try {
      return Deno.readTextFileSync(counter).length > 0;
    } catch {
      return false;
    }
  });
  await sshd.stop();
  const r = await pending;
  assert.equal(r.connection_lost, true);
  assert.equal(r.executor, "shell");
  assert.equal(await Deno.readTextFile(counter), "ran\n");
  await Deno.remove(counter);
  // The pool of a dead connection sends nothing anywhere.
  await assert.rejects(pool.execute(req("true")), /closed/);
});

Deno.test("concurrent commands use up to four shells and queue beyond that", async () => {
  await using sshd = await startSshd();
  await using connection = await login(sshd);
  await using pool = new ShellPool(connection);
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => pool.execute(req(`sleep 0.2; echo ${i}`))),
  );
  results.forEach((r, i) => {
    assert.equal(r.stdout, `${i}\n`);
    assert.equal(r.executor, "shell");
  });
  assert.equal(pool.size, 4);
  // Idle shells are kept: a second burst starts none.
  await Promise.all(Array.from({ length: 4 }, () => pool.execute(req("true"))));
  assert.equal(pool.size, 4);
});

Deno.test("sudo and binary stdin go over exec channels", async () => {
  await using sshd = await startSshd();
  await using connection = await login(sshd);
  await using pool = new ShellPool(connection);
  const sudo = await pool.execute(req("id -u", { sudo: { password: MCPTEST_PASSWORD } }));
  assert.equal(sudo.executor, "exec");
  assert.equal(pool.lastFallback, "sudo");
  assert.equal(sudo.stdout, "0\n");
  const binary = await pool.execute(req("od -An -tx1", { stdin: new Uint8Array([0, 255, 10]) }));
  assert.equal(binary.executor, "exec");
  assert.equal(pool.lastFallback, "binary_stdin");
  assert.equal(binary.stdout.trim(), "00 ff 0a");
  const text = await pool.execute(req("od -An -tx1", { stdin: new TextEncoder().encode("é\n") }));
  assert.equal(text.executor, "shell");
  assert.equal(text.stdout.trim(), "c3 a9 0a");
});

Deno.test("where no warm shell can start, commands run once over exec channels", async () => {
  // ForceCommand replaces every command, the warm shell's too: it never reports ready.
  await using sshd = await startSshd({ config: { ForceCommand: "echo forced" } });
  await using connection = await login(sshd);
  await using pool = new ShellPool(connection, { startTimeoutMs: 3000 });
  const r = await pool.execute(req("echo never"));
  assert.equal(r.executor, "exec");
  assert.equal(r.stdout, "forced\n");
  assert.equal(pool.lastFallback, "start_failed");
  assert.equal(pool.size, 0);
  // Later commands do not pay for another start attempt.
  const started = performance.now();
  const again = await pool.execute(req("echo never"));
  assert.equal(again.executor, "exec");
  assert.ok(performance.now() - started < 2000);
});

Deno.test("the run tool goes through a warm shell", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd));
  for (let i = 0; i < 3; i++) {
    const r = await call<{ stdout: string; executor: string }>(client, "run", { command: `echo ${i}` });
    assert.equal(r.stdout, `${i}\n`);
    assert.equal(r.executor, "shell");
  }
});
