import assert from "node:assert/strict";
import { call, passwordLogin, processesMatching, rssBytes } from "../../_helpers/mcp_ssh.ts";
import { httpClient, startHttpServer, stdioClient, textOf } from "../../_helpers/server.ts";
import { MCPTEST_PASSWORD, startSshd } from "../../_helpers/sshd.ts";

interface Exec {
  stdout: string;
  stderr: string;
  exit_code: number | null;
  signal: string | null;
  timed_out: boolean;
  cancelled: boolean;
  truncated: boolean;
  stdout_bytes: number;
  sudo_failed?: boolean;
}

async function waitNoSurvivors(marker: string, ms = 2000): Promise<string[]> {
  const until = Date.now() + ms;
  let left = processesMatching(marker);
  while (left.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    left = processesMatching(marker);
  }
  return left;
}

Deno.test("run keeps stdout, stderr and the exit code apart, with cwd, env and stdin", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "modern");
  await call(client, "connect", passwordLogin(sshd));
  const r = await call<Exec>(client, "run", {
    command: 'cat; pwd; printf "%s" "$GREETING" >&2; exit 7',
    cwd: "/tmp",
    env: { GREETING: "hello 'world' $HOME" },
    stdin: "from stdin\n",
  });
  assert.equal(r.stdout, "from stdin\n/tmp\n");
  assert.equal(r.stderr, "hello 'world' $HOME");
  assert.equal(r.exit_code, 7);
  const nocwd = await call<Exec>(client, "run", { command: "true", cwd: "/does/not/exist" });
  assert.equal(nocwd.exit_code, 1);
  const state = await call<Exec>(client, "run", { command: "cd /; export LEAK=1" });
  assert.equal(state.exit_code, 0);
  const fresh = await call<Exec>(client, "run", { command: 'pwd; echo "${LEAK:-none}"' });
  assert.equal(fresh.stdout, `${sshd.users.mcptest.home}\nnone\n`);
});

for (
  const [name, command] of [
    ["sleep", "sleep 4711.1"],
    ["a pipeline", "sleep 4711.2 | sleep 4711.2"],
    ["sh -c 'sleep & sleep'", "sh -c 'sleep 4711.3 & sleep 4711.3'"],
    ["nohup children", "nohup sleep 4711.4 >/dev/null 2>&1 & sleep 4711.4"],
  ] as const
) {
  Deno.test(`the timeout kills ${name} with its whole process group`, async () => {
    await using sshd = await startSshd();
    await using server = await startHttpServer();
    await using client = await httpClient(server, "legacy");
    await call(client, "connect", passwordLogin(sshd));
    const marker = command.match(/4711\.\d/)![0];
    const started = Date.now();
    const result = await client.callTool({ name: "run", arguments: { command, timeout: 1 } });
    assert.ok(Date.now() - started < 4000);
    assert.equal(result.isError, true);
    assert.equal((result.structuredContent as unknown as Exec).timed_out, true);
    assert.match(textOf(result), /timed out/);
    assert.deepEqual(await waitNoSurvivors(`sleep ${marker}`), []);
  });
}

for (const era of ["legacy", "modern"] as const) {
  Deno.test(`cancelling a call (${era} era) kills the remote process group`, async () => {
    await using sshd = await startSshd();
    await using server = await startHttpServer();
    await using client = await httpClient(server, era);
    await call(client, "connect", passwordLogin(sshd));
    const marker = era === "legacy" ? "sleep 4712.5" : "sleep 4712.6";
    const controller = new AbortController();
    const pending = client.callTool({ name: "run", arguments: { command: `${marker} & ${marker}` } }, {
      signal: controller.signal,
    }).catch((e) => e);
    const until = Date.now() + 5000;
    while (processesMatching(marker).length < 2 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // The two sleeps (a pre-started shell reads its script from the channel, so its argv does not
    // carry the command; an exec-channel fallback's shell would make it three).
    assert.ok(processesMatching(marker).length >= 2, processesMatching(marker).join("\n"));
    controller.abort();
    await pending;
    assert.deepEqual(await waitNoSurvivors(marker, 3000), []);
  });
}

Deno.test("a 1 GiB flood returns capped output with byte counts while server memory stays bounded", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd));
  // Warm-up: the first flood grows V8's heap once; what matters is that more output costs nothing more.
  await call(client, "run", { command: "yes | head -c 268435456", timeout: 120 });
  const before = rssBytes(server.child.pid);
  const r = await call<Exec>(client, "run", { command: "yes | head -c 1073741824", timeout: 120 });
  const after = rssBytes(server.child.pid);
  assert.equal(r.exit_code, 0);
  assert.equal(r.truncated, true);
  assert.equal(r.stdout_bytes, 1073741824);
  assert.ok(r.stdout.length < 60_000, `kept ${r.stdout.length} chars`);
  assert.match(r.stdout, /bytes omitted/);
  assert.ok(after - before < 64 * 1024 * 1024, `RSS grew by ${(after - before) >> 20} MiB`);
});

Deno.test("sudo uses the connect-time password over stdin; without one sudo -n fails fast", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(
    client,
    "connect",
    passwordLogin(sshd, "mcptest", { alias: "s", sudo_password: MCPTEST_PASSWORD }),
  );
  const r = await call<Exec>(client, "run", {
    command: "id -u; cat",
    sudo: true,
    stdin: "piped\n",
    target: "s",
  });
  assert.equal(r.stdout, "0\npiped\n");
  assert.equal(r.stderr, "");
  await call(client, "connect", passwordLogin(sshd, "mcptest", { alias: "n" }));
  const started = Date.now();
  const n = await call<Exec>(client, "run", { command: "id -u", sudo: true, target: "n" });
  assert.notEqual(n.exit_code, 0);
  assert.ok(Date.now() - started < 5000);
  await call(client, "connect", passwordLogin(sshd, "mcptest", { alias: "w", sudo_password: "not-it" }));
  const wrong = await client.callTool({
    name: "run",
    arguments: { command: "id -u", sudo: true, target: "w" },
  });
  assert.equal(wrong.isError, true);
  assert.equal((wrong.structuredContent as unknown as Exec).sudo_failed, true);
});

Deno.test("secrets never appear in results, stderr logs, the audit log or remote command lines", async () => {
  await using sshd = await startSshd();
  await using stdio = await stdioClient("legacy", { args: ["-debug"] });
  const client = stdio.client;
  const canaryStdin = "stdin-canary-5b1f9e";
  await call(client, "connect", passwordLogin(sshd, "mcptest", { sudo_password: MCPTEST_PASSWORD }));
  const seen: string[] = [];
  const scan = setInterval(() => {
    seen.push(...processesMatching(MCPTEST_PASSWORD), ...processesMatching(canaryStdin));
  }, 20);
  const results = [
    await client.callTool({
      name: "run",
      arguments: { command: "sleep 0.5; cat >/dev/null; id -u", sudo: true, stdin: canaryStdin },
    }),
    await client.callTool({ name: "connections", arguments: {} }),
    await client.callTool({
      name: "connect",
      arguments: passwordLogin(sshd, "mcptest", { alias: "bad", password: "x" + MCPTEST_PASSWORD }),
    }),
  ];
  clearInterval(scan);
  assert.deepEqual(seen, []);
  const audit = await Deno.readTextFile(`${stdio.home}/.local/share/ssh-mcp/audit.log`);
  assert.equal(audit.trim().split("\n").length, 4);
  for (const secret of [MCPTEST_PASSWORD, canaryStdin]) {
    for (const r of results) assert.ok(!JSON.stringify(r).includes(secret), "result leaks a secret");
    assert.ok(!audit.includes(secret), "audit log leaks a secret");
    assert.ok(!stdio.stderr().includes(secret), "stderr leaks a secret");
  }
});

Deno.test("SIGTERM during a running command cancels it, kills its process group, and exits 0", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd));
  const pending = client.callTool({ name: "run", arguments: { command: "sleep 4713.5" } }).catch((e) => e);
  const until = Date.now() + 5000;
  while (processesMatching("sleep 4713.5").length < 2 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const started = Date.now();
  assert.equal(await server.stop("SIGTERM"), 0);
  assert.ok(Date.now() - started < 10_000);
  const outcome = await pending;
  assert.equal(outcome.isError, true, "the running call is answered as cancelled");
  assert.equal((outcome.structuredContent as Exec).cancelled, true);
  assert.deepEqual(await waitNoSurvivors("sleep 4713.5", 2000), []);
});

Deno.test("run sends progress notifications when the client asks for them", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd));
  const progress: number[] = [];
  const result = await client.callTool({ name: "run", arguments: { command: "sleep 2.5; echo done" } }, {
    onprogress: (p) => void progress.push(p.progress),
  });
  assert.equal((result.structuredContent as unknown as Exec).stdout, "done\n");
  assert.ok(progress.length >= 2, `got ${progress.length} progress notifications`);
});

Deno.test("info reports the remote system", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "modern");
  await call(client, "connect", passwordLogin(sshd, "mcpnopw"));
  const info = await call<Record<string, unknown>>(client, "info", {});
  assert.equal(info.user, "mcpnopw");
  assert.equal(info.shell, "/bin/sh");
  assert.equal(info.cpus, navigator.hardwareConcurrency);
  assert.equal(info.sudo, "password");
  assert.equal(info.hostname, Deno.hostname());
  assert.ok((info.memory_total_bytes as number) > 0);
});

Deno.test("the timeout kills the process group for a dash login shell on the exec-channel path too", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd, "mcpnopw"));
  // A NUL byte in stdin sends the command down the exec-channel path (warm shells take text only).
  const result = await client.callTool({
    name: "run",
    arguments: { command: "cat >/dev/null; sleep 4714.1 & sleep 4714.1", stdin: "a\u0000b", timeout: 1 },
  });
  const data = result.structuredContent as unknown as Exec & { executor: string };
  assert.equal(data.executor, "exec");
  assert.equal(data.timed_out, true);
  assert.deepEqual(await waitNoSurvivors("sleep 4714.1"), []);
});
