/**
 * `-confirm` end to end (SPEC §11): real sshd, the real server under the production permission flags,
 * the official SDK v2 client answering `elicitation/create` in both protocol eras, and the v1 SDK client.
 */
import assert from "node:assert/strict";
import { Client as V1Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as V1HttpTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema as V1ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { elicitingHttpClient, elicitingStdioClient, NO, YES } from "../../_helpers/elicit.ts";
import { call, passwordLogin } from "../../_helpers/mcp_ssh.ts";
import { type Era, httpClient, makeHome, startHttpServer, textOf } from "../../_helpers/server.ts";
import { startSshd } from "../../_helpers/sshd.ts";

const ERAS: Era[] = ["legacy", "modern"];

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function auditLines(dataDir: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(`${dataDir}/audit.log`).catch(() => "");
  return text.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

/**
 * The audit log's "answer" lines, once there are at least `count` (or after 5 s): the line can land
 * after the refusal reached the client (CI twice found it missing right after the reply).
 */
async function auditAnswers(dataDir: string, count: number): Promise<Record<string, unknown>[]> {
  const until = Date.now() + 5000;
  for (;;) {
    const answers = (await auditLines(dataDir)).filter((l) => l.event === "answer");
    if (answers.length >= count || Date.now() > until) return answers;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A path on the test host that a command can create; removed by the returned disposer. */
function marker(): { path: string } & AsyncDisposable {
  const path = `/tmp/ssh-mcp-confirm-${crypto.randomUUID()}`;
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path).catch(() => {}) };
}

for (const era of ERAS) {
  Deno.test(`-confirm run (${era} era): the question shows command and user@host:port; no runs nothing, yes runs it`, async () => {
    await using sshd = await startSshd();
    await using server = await startHttpServer({ args: ["-confirm", "run"] });
    await using client = await elicitingHttpClient(server, era, NO);
    await using file = marker();
    await call(client, "connect", passwordLogin(sshd));
    assert.equal(client.asked.length, 0, "connect is not gated by -confirm run");

    const refused = await client.callTool({ name: "run", arguments: { command: `touch ${file.path}` } });
    assert.equal(refused.isError, true);
    assert.match(textOf(refused), /-confirm run/);
    assert.match(textOf(refused), /said no/);
    assert.equal(await exists(file.path), false, "a declined command must not run");
    assert.equal(client.asked.length, 1);
    const question = client.asked[0]!;
    assert.ok(question.message.includes(`touch ${file.path}`), question.message);
    assert.ok(question.message.includes(`mcptest@127.0.0.1:${sshd.port}`), question.message);
    assert.deepEqual(Object.keys(question.requestedSchema.properties), ["approve", "remember"]);
    assert.deepEqual(question.requestedSchema.required, ["approve"]);

    client.answer = YES;
    const ran = await client.callTool({
      name: "run",
      arguments: { command: `touch ${file.path}; echo done` },
    });
    assert.equal(ran.isError, undefined, textOf(ran));
    assert.equal((ran.structuredContent as { stdout: string }).stdout, "done\n");
    assert.equal(await exists(file.path), true);
    assert.equal(client.asked.length, 2);

    const audit = await auditLines(server.dataDir);
    const approvals = audit.filter((l) => l.event !== undefined);
    assert.deepEqual(approvals.map((l) => [l.event, l.answer ?? null]), [
      ["question", null],
      ["answer", "decline"],
      ["question", null],
      ["answer", "accept"],
    ]);
    for (const line of approvals) {
      assert.equal(line.tool, "run");
      assert.equal(line.reason, "-confirm run");
      assert.equal(line.principal, "local");
      assert.match(String(line.asked), new RegExp(`touch ${file.path}`));
      assert.deepEqual(line.targets, [`mcptest@127.0.0.1:${sshd.port}`]);
    }
    const runs = audit.filter((l) => l.tool === "run" && l.event === undefined);
    assert.deepEqual(runs.map((l) => [l.outcome, l.error_code ?? null]), [["error", "refused"], [
      "ok",
      null,
    ]]);
  });

  Deno.test(`-confirm run (${era} era): a client without elicitation is refused, nothing runs, -confirm is named`, async () => {
    await using sshd = await startSshd();
    await using server = await startHttpServer({ args: ["-confirm", "run"] });
    await using client = await httpClient(server, era);
    await using file = marker();
    await call(client, "connect", passwordLogin(sshd));
    const result = await client.callTool({ name: "run", arguments: { command: `touch ${file.path}` } });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /-confirm run requires a human yes/);
    assert.match(textOf(result), /elicitation/);
    assert.equal(await exists(file.path), false);
    const answers = await auditAnswers(server.dataDir, 1);
    assert.deepEqual(answers.map((l) => l.answer), ["unanswerable"]);
  });

  Deno.test(`-confirm host-key (${era} era): no records nothing and never authenticates; yes records and connects`, async () => {
    await using sshd = await startSshd();
    await using server = await startHttpServer({ args: ["-confirm", "host-key"] });
    await using client = await elicitingHttpClient(server, era, NO);
    const knownHosts = `${server.dataDir}/known_hosts`;
    const fingerprint = (await new Deno.Command("ssh-keygen", { args: ["-lf", sshd.hostKeyPath] }).output())
      .stdout;
    const expected = new TextDecoder().decode(fingerprint).split(" ")[1]!;

    const refused = await client.callTool({ name: "connect", arguments: passwordLogin(sshd) });
    assert.equal(refused.isError, true);
    assert.match(textOf(refused), /-confirm host-key/);
    assert.equal(client.asked.length, 1);
    const question = client.asked[0]!.message;
    assert.ok(question.includes(expected), question);
    assert.ok(question.includes(`127.0.0.1 port ${sshd.port}`), question);
    assert.match(question, /ssh-ed25519/);
    assert.deepEqual(Object.keys(client.asked[0]!.requestedSchema.properties), ["approve"]);
    assert.equal((await Deno.readTextFile(knownHosts).catch(() => "")).trim(), "");
    assert.deepEqual(await sshd.authEvents(), [], "nothing may be sent to the host before the answer");

    client.answer = YES;
    const connected = await call<{ host_key: { status: string; fingerprint: string } }>(
      client,
      "connect",
      passwordLogin(sshd),
    );
    assert.equal(connected.host_key.fingerprint, expected);
    assert.equal(client.asked.length, 2);
    assert.match(
      await Deno.readTextFile(knownHosts),
      new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `),
    );
    assert.ok(await sshd.countAuthAttempts({ result: "Accepted" }) >= 1);
    // Known now: the next connect asks nothing.
    await call(client, "disconnect", { all: true });
    await call(client, "connect", passwordLogin(sshd));
    assert.equal(client.asked.length, 2);
    const answers = (await auditLines(server.dataDir)).filter((l) => l.event === "answer");
    assert.deepEqual(answers.map((l) => [l.answer, l.reason]), [
      ["decline", "-confirm host-key"],
      ["accept", "-confirm host-key"],
    ]);
  });
}

Deno.test("-confirm host-key asks for a host reached through a jump connection too, before it authenticates", async () => {
  await using jump = await startSshd();
  await using inner = await startSshd();
  await using server = await startHttpServer({ args: ["-confirm", "host-key"] });
  await using client = await elicitingHttpClient(server, "legacy", YES);
  await call(client, "connect", passwordLogin(jump, "mcptest", { alias: "jump" }));
  assert.equal(client.asked.length, 1);
  client.answer = NO;
  const refused = await client.callTool({
    name: "connect",
    arguments: passwordLogin(inner, "mcptest", { alias: "inner", via: "jump" }),
  });
  assert.equal(refused.isError, true);
  assert.equal(client.asked.length, 2);
  assert.match(client.asked[1]!.message, new RegExp(`new host key of 127\\.0\\.0\\.1 port ${inner.port}`));
  assert.deepEqual(await inner.authEvents(), []);
  client.answer = YES;
  await call(client, "connect", passwordLogin(inner, "mcptest", { alias: "inner", via: "jump" }));
  const ran = await call<{ stdout: string }>(client, "run", { target: "inner", command: "echo through" });
  assert.equal(ran.stdout, "through\n");
  assert.equal(client.asked.length, 3);
});

Deno.test("-confirm destructive,sudo: write is asked, read is not; sudo is asked on a read-only tool; remember is per exact call", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer({ args: ["-confirm", "destructive,sudo"] });
  await using client = await elicitingHttpClient(server, "legacy", YES);
  await using file = marker();
  await call(client, "connect", passwordLogin(sshd));
  await call(client, "read", { path: "/etc/hostname" });
  assert.equal(client.asked.length, 0, "read is not destructive");

  client.answer = () => ({ action: "accept", content: { approve: true, remember: true } });
  await call(client, "write", { path: file.path, content: "one\n" });
  assert.equal(client.asked.length, 1);
  assert.match(client.asked[0]!.message, new RegExp(`path: ${file.path}`));
  assert.match(client.asked[0]!.message, /-confirm destructive/);
  assert.equal(await Deno.readTextFile(file.path), "one\n");
  await call(client, "write", { path: file.path, content: "one\n" });
  assert.equal(
    client.asked.length,
    1,
    "remembered: the same call with the same arguments is not asked again",
  );
  client.answer = NO;
  const other = await client.callTool({ name: "write", arguments: { path: file.path, content: "two\n" } });
  assert.equal(other.isError, true, "other arguments are asked again");
  assert.equal(client.asked.length, 2);
  assert.equal(await Deno.readTextFile(file.path), "one\n");

  const sudo = await client.callTool({ name: "logs", arguments: { path: "/etc/hostname", sudo: true } });
  assert.equal(sudo.isError, true);
  assert.match(textOf(sudo), /-confirm sudo/);
  assert.match(client.asked[2]!.message, /sudo: YES/);
  await call(client, "logs", { path: "/etc/hostname" });
  assert.equal(client.asked.length, 3, "without sudo a read-only tool is not asked");
  const answers = (await auditLines(server.dataDir)).filter((l) => l.event === "answer").map((l) => l.answer);
  assert.deepEqual(answers, ["accept", "remembered", "decline", "decline"]);
});

Deno.test("2026-07-28 era: altered, replayed and re-targeted requestState values are refused and nothing runs", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer({ args: ["-confirm", "run"] });
  await using client = await elicitingHttpClient(server, "modern", YES);
  await using file = marker();
  // Not `call()`: it lists the tools first, and the v2 client 2.4.0 then checks an `input_required` result
  // (which by the 2026-07-28 schema has no structuredContent) against run's output schema and throws.
  const connected = await client.callTool({ name: "connect", arguments: passwordLogin(sshd) });
  assert.equal(connected.isError, undefined, textOf(connected));
  const args = { command: `touch ${file.path}` };
  const manual = { allowInputRequired: true };
  const first = await client.callTool({ name: "run", arguments: args }, manual) as unknown as {
    resultType: string;
    requestState: string;
    inputRequests: Record<string, { method: string }>;
  };
  assert.equal(first.resultType, "input_required");
  assert.equal(first.inputRequests.approval?.method, "elicitation/create");
  const yes = { approval: { action: "accept", content: { approve: true } } };
  const retry = (state: string, argumentsGiven: Record<string, unknown> = args) =>
    client.callTool(
      { name: "run", arguments: argumentsGiven, inputResponses: yes, requestState: state } as never,
      manual,
    );

  // One changed character in the signed body: the SDK seam refuses before any handler runs.
  const [version, body, mac] = first.requestState.split(".");
  const flipped = body!.slice(0, 10) + (body![10] === "A" ? "B" : "A") + body!.slice(11);
  await assert.rejects(retry(`${version}.${flipped}.${mac}`), /Invalid or expired requestState/);
  // An approval given for one command does not cover another.
  const other = await retry(first.requestState, { command: `touch ${file.path}.other` });
  assert.equal(other.isError, true);
  assert.match(textOf(other), /another call/);
  assert.equal(await exists(file.path), false);
  assert.equal(await exists(`${file.path}.other`), false);
  // The stale attempt spent nothing: a fresh question, answered, runs once.
  const fresh = await client.callTool({ name: "run", arguments: args }, manual) as unknown as {
    requestState: string;
  };
  const ran = await retry(fresh.requestState);
  assert.equal(ran.isError, undefined, textOf(ran));
  assert.equal(await exists(file.path), true);
  await Deno.remove(file.path);
  const replayed = await retry(fresh.requestState);
  assert.equal(replayed.isError, true);
  assert.match(textOf(replayed), /already used/);
  assert.equal(await exists(file.path), false, "a replayed approval must not run the command again");
  const answers = (await auditLines(server.dataDir)).filter((l) => l.event === "answer").map((l) => l.answer);
  assert.deepEqual(answers, ["invalid", "stale", "accept", "replayed"]);
});

Deno.test("stdio in both eras: the question goes to the client and a yes runs the command", async () => {
  await using sshd = await startSshd();
  for (const era of ERAS) {
    const home = await makeHome();
    try {
      await using client = await elicitingStdioClient(era, { home, args: ["-confirm", "run"] }, YES);
      await call(client, "connect", passwordLogin(sshd));
      const result = await call<{ stdout: string }>(client, "run", { command: `echo stdio-${era}` });
      assert.equal(result.stdout, `stdio-${era}\n`);
      assert.equal(client.asked.length, 1, era);
      assert.match(client.asked[0]!.message, new RegExp(`echo stdio-${era}`));
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  }
});

Deno.test("the v1 SDK client (1.32.2) answers elicitation/create over the 2025 era", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer({ args: ["-confirm", "run"] });
  await using file = marker();
  const client = new V1Client({ name: "v1-client", version: "1.0.0" }, { capabilities: { elicitation: {} } });
  const messages: string[] = [];
  client.setRequestHandler(V1ElicitRequestSchema, (request: { params: { message: string } }) => {
    messages.push(String(request.params.message));
    return Promise.resolve({ action: "accept", content: { approve: true } });
  });
  const transport = new V1HttpTransport(new URL(`${server.url}/mcp`));
  await client.connect(transport);
  try {
    const connected = await client.callTool({ name: "connect", arguments: passwordLogin(sshd) });
    assert.equal(connected.isError, undefined, JSON.stringify(connected));
    const ran = await client.callTool({ name: "run", arguments: { command: `touch ${file.path}` } });
    assert.equal(ran.isError, undefined, JSON.stringify(ran));
    assert.equal(await exists(file.path), true);
    assert.equal(messages.length, 1);
    assert.ok(messages[0]!.includes(`touch ${file.path}`));
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close();
  }
});
