/**
 * Job resources through the `JobSource` seam (the job store of SPEC §10 plugs in there): listing,
 * reading, job-id completion, and subscriptions that notify on change and end when the job ends.
 *
 * The store here is a table in memory written by the test — the seam's contract, not a stand-in for
 * SSH; the store's own tests run real jobs on a real host.
 */
import assert from "node:assert/strict";
import type { JobSource, JobSummary } from "../../src/server/jobs_source.ts";
import { inMemoryClient, type InMemoryPair } from "../_helpers/in_memory.ts";

/** Jobs per session id, as the store would keep them per principal. */
class JobTable implements JobSource {
  jobs = new Map<string, Map<string, Record<string, unknown> & { status: string }>>();
  reads = 0;

  put(session: string, id: string, job: Record<string, unknown> & { status: string }) {
    if (!this.jobs.has(session)) this.jobs.set(session, new Map());
    this.jobs.get(session)!.set(id, job);
  }

  list({ scope }: Parameters<JobSource["list"]>[0]): Promise<JobSummary[]> {
    const mine = this.jobs.get(scope.caller.sessionId) ?? new Map();
    return Promise.resolve([...mine].map(([job_id, job]) => ({ job_id, status: job.status, target: "web" })));
  }

  read({ scope }: Parameters<JobSource["read"]>[0], id: string) {
    this.reads++;
    return Promise.resolve(this.jobs.get(scope.caller.sessionId)?.get(id));
  }
}

/** The id of the in-process client's session (it exists once the client made a request). */
function sessionOf(bed: InMemoryPair): string {
  const session = bed.pool.find("local", "stdio");
  assert.ok(session, "the client's session exists");
  return session.id;
}

const until = async (done: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

Deno.test("job resources are listed, read and completed for the caller's session only", async () => {
  const table = new JobTable();
  await using bed = await inMemoryClient({ tools: [], serverOptions: { surface: { jobs: table } } });
  await bed.client.readResource({ uri: "ssh://connections" });
  const sessionId = sessionOf(bed);
  table.put(sessionId, "j1", { status: "running", stdout: "a" });
  table.put(sessionId, "j2", { status: "exited", exit_code: 0 });
  table.put("another-session", "j9", { status: "running" });

  const { resources } = await bed.client.listResources();
  assert.deepEqual(
    resources.filter((r) => r.uri.startsWith("ssh://jobs/")).map((r) => [r.uri, r.description]),
    [["ssh://jobs/j1", "running · web"], ["ssh://jobs/j2", "exited · web"]],
  );
  const read = await bed.client.readResource({ uri: "ssh://jobs/j1" });
  assert.deepEqual(JSON.parse((read.contents[0] as { text: string }).text), {
    status: "running",
    stdout: "a",
  });
  await assert.rejects(bed.client.readResource({ uri: "ssh://jobs/j9" }), /no such job/);
  const completed = await bed.client.complete({
    ref: { type: "ref/resource", uri: "ssh://jobs/{job_id}" },
    argument: { name: "job_id", value: "j" },
  });
  assert.deepEqual(completed.completion.values, ["j1", "j2"]);
});

Deno.test("a job subscription notifies each change and ends when the job ends", async () => {
  const table = new JobTable();
  await using bed = await inMemoryClient({
    tools: [],
    serverOptions: { surface: { jobs: table }, subscriptionPollMs: 20 },
  });
  await bed.client.readResource({ uri: "ssh://connections" });
  const sessionId = sessionOf(bed);
  table.put(sessionId, "j1", { status: "running", stdout: "" });
  const updates: string[] = [];
  bed.client.setNotificationHandler(
    "notifications/resources/updated",
    (n) => void updates.push(n.params.uri),
  );

  await bed.client.subscribeResource({ uri: "ssh://jobs/j1" });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(updates, [], "no change, no notification");
  table.put(sessionId, "j1", { status: "running", stdout: "line 1\n" });
  await until(() => updates.length === 1);
  table.put(sessionId, "j1", { status: "exited", exit_code: 0, stdout: "line 1\n" });
  await until(() => updates.length === 2);
  assert.deepEqual(updates, ["ssh://jobs/j1", "ssh://jobs/j1"]);
  // Settled: no more reads.
  const reads = table.reads;
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(table.reads, reads);

  await assert.rejects(bed.client.subscribeResource({ uri: "ssh://jobs/nope" }), /not found/i);
  await assert.rejects(bed.client.subscribeResource({ uri: "ssh://known-hosts" }), /only job resources/);
});

Deno.test("unsubscribing stops the notifications", async () => {
  const table = new JobTable();
  await using bed = await inMemoryClient({
    tools: [],
    serverOptions: { surface: { jobs: table }, subscriptionPollMs: 20 },
  });
  await bed.client.readResource({ uri: "ssh://connections" });
  const sessionId = sessionOf(bed);
  table.put(sessionId, "j1", { status: "running", stdout: "" });
  const updates: string[] = [];
  bed.client.setNotificationHandler(
    "notifications/resources/updated",
    (n) => void updates.push(n.params.uri),
  );
  await bed.client.subscribeResource({ uri: "ssh://jobs/j1" });
  await bed.client.unsubscribeResource({ uri: "ssh://jobs/j1" });
  const reads = table.reads;
  table.put(sessionId, "j1", { status: "running", stdout: "more" });
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.deepEqual(updates, []);
  assert.equal(table.reads, reads);
});
