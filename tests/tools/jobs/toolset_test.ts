/**
 * Jobs end to end (SPEC §10): the real server under its production flags, a real sshd, SDK clients.
 * `run` answers within its `wait`; job_output pages a job's output exactly once; job_cancel leaves no
 * process; host jobs survive a SIGKILLed server, a cut link and enforce their deadline alone; a job the
 * server ran itself reads as lost after a restart; the session of a running job is not reaped.
 */
import assert from "node:assert/strict";
import type { Client } from "@modelcontextprotocol/client";
import { call, passwordLogin, processesMatching } from "../../_helpers/mcp_ssh.ts";
import { httpClient, makeHome, startHttpServer, textOf } from "../../_helpers/server.ts";
import { processTree, startSshd, type TestSshd } from "../../_helpers/sshd.ts";

interface RunData {
  stdout: string;
  stderr: string;
  exit_code: number | null;
  timed_out: boolean;
  cancelled: boolean;
  job_id?: string;
  status?: string;
  backing?: string;
  next_offset?: number;
  stderr_next_offset?: number;
}

interface Page {
  job_id: string;
  status: string;
  backing: string;
  exit_code: number | null;
  signal: string | null;
  reason?: string;
  stdout: string;
  stderr: string;
  offset: number;
  next_offset: number;
  stderr_next_offset: number;
  more: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads a job to its end through job_output; returns all stdout and stderr and the last page. */
async function readToEnd(client: Client, id: string, from = { offset: 0, stderr: 0 }) {
  let offset = from.offset, stderrOffset = from.stderr, out = "", err = "", pages = 0;
  for (;;) {
    const page = await call<Page>(client, "job_output", {
      job_id: id,
      offset,
      stderr_offset: stderrOffset,
      wait: 20,
    });
    assert.equal(page.offset, offset, "each page starts where the last one ended");
    out += page.stdout;
    err += page.stderr;
    offset = page.next_offset;
    stderrOffset = page.stderr_next_offset;
    pages++;
    if (page.status !== "running" && !page.more) return { out, err, last: page, pages };
  }
}

/** Cuts every SSH link of the server abruptly (SIGKILL of its per-connection processes). */
function cutLinks(sshd: TestSshd): void {
  for (const pid of processTree(sshd.pid!)) {
    if (pid === sshd.pid) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${pid}/comm`).trim() === "sshd") Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

Deno.test("run answers within its wait: today's result when the command ends, else a job that job_output reads to the end", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd));
  // Ends within the wait: exactly today's result on both paths (no job fields).
  const quick = await call<RunData>(client, "run", { command: "echo hi; exit 3" });
  assert.equal(quick.exit_code, 3);
  assert.equal(quick.job_id, undefined);
  const quickOnHost = await call<RunData>(client, "run", { command: "echo hi >&2; exit 4", timeout: 300 });
  assert.deepEqual([quickOnHost.exit_code, quickOnHost.stderr, quickOnHost.job_id], [4, "hi\n", undefined]);
  // Outlives the wait on the fast path: a job of this server.
  const fast = await call<RunData>(client, "run", {
    command: "echo a; sleep 3; echo b >&2; exit 5",
    wait: 1,
  });
  assert.equal(fast.status, "running");
  assert.equal(fast.backing, "server");
  assert.equal(fast.stdout, "a\n");
  const fastEnd = await readToEnd(client, fast.job_id!, { offset: fast.next_offset!, stderr: 0 });
  assert.deepEqual([fastEnd.out, fastEnd.err, fastEnd.last.status, fastEnd.last.exit_code], [
    "",
    "b\n",
    "exited",
    5,
  ]);
  // Outlives the wait with a long timeout: a job on the host.
  const long = await client.callTool({
    name: "run",
    arguments: { command: "echo x; sleep 3; echo y", wait: 1, timeout: 600 },
  });
  assert.match(textOf(long), /still running.*call job_output with \{"job_id":"j[a-z2-7]{26}"/s);
  const data = long.structuredContent as unknown as RunData;
  assert.equal(data.backing, "host");
  const longEnd = await readToEnd(client, data.job_id!);
  assert.deepEqual([longEnd.out, longEnd.last.status, longEnd.last.exit_code], ["x\ny\n", "exited", 0]);
  const listed = await call<{ jobs: Array<{ job_id: string; status: string }> }>(client, "jobs", {});
  assert.ok(listed.jobs.some((j) => j.job_id === data.job_id && j.status === "exited"));
});

Deno.test("wait 0 starts a host job at once; job_cancel kills its whole group; 2 MB page by page arrive exactly once", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "modern");
  await call(client, "connect", passwordLogin(sshd, "mcpnopw"));
  const marker = `sleep 4741.${Math.floor(Math.random() * 1e6)}`;
  const started = await call<RunData>(client, "run", { command: `${marker} & ${marker} & wait`, wait: 0 });
  assert.equal(started.status, "running");
  for (let i = 0; i < 100 && processesMatching(marker).length < 2; i++) await sleep(100);
  assert.equal(processesMatching(marker).length, 2);
  const cancelled = await client.callTool({ name: "job_cancel", arguments: { job_id: started.job_id } });
  const report = cancelled.structuredContent as { status: string; killed: Array<{ command: string }> };
  assert.equal(report.status, "killed");
  assert.equal(report.killed.filter((k) => k.command === "sleep").length, 2);
  assert.match(textOf(cancelled), /Killed: .*sleep/);
  assert.deepEqual(processesMatching(marker), [], "0 processes of the group are left");

  // 2,000,000 bytes: 250,000 records "%07d\n"; the record n starts at byte 8n.
  const big = await call<RunData>(client, "run", { command: "seq -f '%07g' 0 249999", wait: 0 });
  const { out, pages } = await readToEnd(client, big.job_id!);
  assert.equal(out.length, 2_000_000);
  for (let n = 0; n < 250_000; n += 4999) {
    assert.equal(out.slice(8 * n, 8 * n + 8), `${String(n).padStart(7, "0")}\n`);
  }
  assert.ok(pages >= 40, `${pages} pages of at most 51200 bytes`);
});

Deno.test("a host job survives a SIGKILLed server and a cut link; a job the server ran itself reads as lost after", async () => {
  await using sshd = await startSshd();
  const home = await makeHome();
  try {
    const first = await startHttpServer({ home });
    const client = await httpClient(first, "legacy");
    await call(client, "connect", passwordLogin(sshd));
    const host = await call<RunData>(client, "run", {
      command: "echo one; sleep 6; echo two; sleep 4; echo three",
      wait: 1,
      timeout: 600,
    });
    const mine = await call<RunData>(client, "run", { command: "sleep 30", wait: 1 });
    assert.equal(mine.backing, "server");
    await first.stop("SIGKILL");
    await client.close().catch(() => {});
    await using second = await startHttpServer({ home });
    await using again = await httpClient(second, "legacy");
    await call(again, "connect", passwordLogin(sshd));
    const listed = await call<{ jobs: Array<{ job_id: string; status: string; backing: string }> }>(
      again,
      "jobs",
      {},
    );
    // The test accounts' homes outlive this sshd: other tests' jobs are listed too.
    const ours = listed.jobs.filter((j) => j.job_id === host.job_id || j.job_id === mine.job_id);
    assert.deepEqual(ours.map((j) => [j.job_id, j.status, j.backing]), [
      [host.job_id, "running", "host"],
      [mine.job_id, "lost", "server"],
    ]);
    assert.equal(listed.jobs[0]!.status, "running", "running jobs come first");
    const lost = await call<Page>(again, "job_output", { job_id: mine.job_id });
    assert.match(lost.reason ?? "", /server process .* has ended/);
    assert.equal(lost.exit_code, null);
    // Cut the link too: the job goes on, the next call reconnects.
    cutLinks(sshd);
    const end = await readToEnd(again, host.job_id!);
    assert.deepEqual([end.out, end.last.status, end.last.exit_code], ["one\ntwo\nthree\n", "exited", 0]);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("the host's deadline kills a job while the server is down", async () => {
  await using sshd = await startSshd();
  const home = await makeHome();
  try {
    const first = await startHttpServer({ home });
    const client = await httpClient(first, "legacy");
    await call(client, "connect", passwordLogin(sshd));
    const marker = `sleep 4742.${Math.floor(Math.random() * 1e6)}`;
    const job = await call<RunData>(client, "run", { command: `echo go; ${marker}`, wait: 0, timeout: 3 });
    await first.stop("SIGKILL");
    await client.close().catch(() => {});
    await sleep(6000);
    assert.deepEqual(processesMatching(marker), [], "killed by the host, with no server running");
    await using second = await startHttpServer({ home });
    await using again = await httpClient(second, "legacy");
    await call(again, "connect", passwordLogin(sshd));
    const page = await call<Page>(again, "job_output", { job_id: job.job_id });
    assert.deepEqual([page.status, page.signal, page.stdout], ["timed_out", "SIGTERM", "go\n"]);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("a session whose job the server runs is not reaped; bad ids and offsets get clear errors; a cancelled run is audited as cancelled", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer({ args: ["-session-timeout", "2"] });
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd));
  const job = await call<RunData>(client, "run", { command: "sleep 6; echo done", wait: 1 });
  await sleep(4000); // twice the session timeout, with no call in flight
  const end = await readToEnd(client, job.job_id!);
  assert.deepEqual([end.out, end.last.status], ["done\n", "exited"]);

  const garbled = await client.callTool({ name: "job_output", arguments: { job_id: "../../etc/passwd" } });
  assert.equal(garbled.isError, true);
  assert.match(textOf(garbled), /a job id is "j" followed by 26/);
  const unknown = await client.callTool({ name: "job_output", arguments: { job_id: "j" + "a".repeat(26) } });
  assert.equal(unknown.isError, true);
  assert.match(textOf(unknown), /Cannot find job/);
  const past = await client.callTool({ name: "job_output", arguments: { job_id: job.job_id, offset: 99 } });
  assert.equal(past.isError, true);
  assert.match(textOf(past), /only 5 bytes/);
  const negative = await client.callTool({
    name: "job_output",
    arguments: { job_id: job.job_id, offset: -1 },
  });
  assert.equal(negative.isError, true);

  const controller = new AbortController();
  const pending = client.callTool({ name: "run", arguments: { command: "sleep 30" } }, {
    signal: controller.signal,
  }).catch(() => undefined);
  await sleep(1500);
  controller.abort();
  await pending;
  let lines: Array<{ tool: string; outcome: string }> = [];
  for (let i = 0; i < 50; i++) {
    lines = (await Deno.readTextFile(`${server.dataDir}/audit.log`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    if (lines.some((l) => l.tool === "run" && l.outcome === "cancelled")) break;
    await sleep(100);
  }
  assert.ok(
    lines.some((l) => l.tool === "run" && l.outcome === "cancelled"),
    JSON.stringify(lines.slice(-3)),
  );
});

Deno.test("a long tool past the wait becomes a job of the server whose result job_output returns (sync)", async () => {
  await using sshd = await startSshd();
  // A wait of 0: every budgeted call answers with a job at once (a run starts on the host).
  await using server = await startHttpServer({ args: ["-run-wait", "0"] });
  await using client = await httpClient(server, "modern");
  const { alias } = await call<{ alias: string }>(client, "connect", passwordLogin(sshd));
  const name = `ssh-mcp-sync-${crypto.randomUUID()}`;
  const content = "x".repeat(300_000);
  await call(client, "write", { path: `/tmp/${name}.src`, content });
  const started = await client.callTool({
    name: "sync",
    arguments: {
      source_node: alias,
      source_path: `/tmp/${name}.src`,
      dest_node: alias,
      dest_path: `/tmp/${name}.dst`,
    },
  });
  assert.notEqual(started.isError, true, textOf(started));
  const job = started.structuredContent as { job_id: string; status: string; backing: string };
  assert.deepEqual([job.status, job.backing], ["running", "server"]);
  assert.match(textOf(started), /call job_output with/);
  let page: Page & { result?: { bytes: number; files: number } };
  do {
    page = await call(client, "job_output", { job_id: job.job_id, wait: 20 });
  } while (page.status === "running");
  assert.deepEqual([page.status, page.exit_code], ["exited", 0]);
  assert.deepEqual([page.result?.files, page.result?.bytes], [1, 300_000]);
  const copied = await call<{ stdout: string }>(client, "run", {
    command: `wc -c < /tmp/${name}.dst; rm -f /tmp/${name}.src /tmp/${name}.dst`,
    wait: 20,
    timeout: 10,
  });
  assert.equal(copied.stdout.trim(), "300000");
});
