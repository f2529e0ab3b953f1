/**
 * The wrapper chain in the in-process tier: real tools, middleware and manager driven by a real SDK
 * client, with a fake connection at the `SshConnection` seam recording every command that would have
 * reached a host. The end-to-end tier (confirm_test.ts, policy_test.ts) covers real sshd and eras over
 * HTTP and stdio.
 */
import assert from "node:assert/strict";
import type { ConfirmKind } from "../../../src/config.ts";
import { ApprovalStates } from "../../../src/tools/middleware/approval_state.ts";
import { parsePolicy } from "../../../src/tools/policy.ts";
import { fakeOpener } from "../../_helpers/fake_connection.ts";
import { inMemoryClient } from "../../_helpers/in_memory.ts";
import type { Era } from "../../_helpers/server.ts";
import { textOf } from "../../_helpers/server.ts";

const POLICY = parsePolicy(
  JSON.stringify({
    hosts: [{ match: "ro-*", read_only: true }, { match: "cmd-*", allow_commands: ["uptime"] }],
  }),
  "/data/policy.json",
);

async function guarded(options: { era?: Era; confirm?: ConfirmKind[]; answer?: boolean } = {}) {
  const opener = fakeOpener({ respond: () => ({ stdout: "ran\n" }) });
  const questions: string[] = [];
  const pair = await inMemoryClient({
    era: options.era,
    open: opener.open,
    approval: {
      confirm: options.confirm ?? [],
      policy: POLICY,
      states: new ApprovalStates(),
      recordHostKey: () => Promise.reject(new Error("no host keys here")),
    },
    elicit: options.answer === undefined ? undefined : (message) => {
      questions.push(message);
      return { action: "accept", content: { approve: options.answer === true } };
    },
  });
  const connect = async (alias: string) => {
    const result = await pair.client.callTool({
      name: "connect",
      arguments: { host: "box.test", username: "ops", password: "pw", alias },
    });
    assert.equal(result.isError, undefined, textOf(result));
  };
  /** Commands that reached any fake host, without the warm-shell probes. */
  const sent = () =>
    opener.opened.flatMap((c) => c.commands.map((x) => x.script)).filter((c) => c.includes("MARK"));
  return Object.assign(pair, { connect, sent, questions });
}

Deno.test("policy refusals happen before any command reaches the connection, and name the rule", async () => {
  await using host = await guarded();
  await host.connect("ro-box");
  await host.connect("cmd-box");
  const refused = [
    ["ro-box", "run", { command: "echo MARK" }, /hosts\[0\] "ro-\*" makes it read-only/],
    ["ro-box", "write", { path: "/tmp/MARK", content: "x" }, /read-only/],
    [
      "cmd-box",
      "run",
      { command: "uptime; echo MARK" },
      /hosts\[1\] "cmd-\*" allows only commands matching uptime/,
    ],
  ] as const;
  for (const [target, name, args, message] of refused) {
    const result = await host.client.callTool({ name, arguments: { target, ...args } });
    assert.equal(result.isError, true, name);
    assert.match(textOf(result), message);
    assert.equal(result._meta?.["ssh-mcp/error-code"], "refused");
  }
  assert.deepEqual(host.sent(), []);
  assert.deepEqual(host.audit.filter((l) => l.error_code === "refused").length, 3);
});

Deno.test("a call without target is checked against the default connection and pinned to it", async () => {
  await using host = await guarded();
  await host.connect("rw-box");
  await host.connect("ro-box");
  const result = await host.client.callTool({ name: "run", arguments: { command: "echo MARK" } });
  assert.equal(result.isError, true);
  assert.match(textOf(result), /ro-box/);
  assert.deepEqual(host.sent(), []);
});

for (const era of ["legacy", "modern"] as const) {
  Deno.test(`in process (${era} era): a no sends nothing; a yes sends the command once`, async () => {
    await using no = await guarded({ era, confirm: ["run"], answer: false });
    await no.connect("box");
    const refused = await no.client.callTool({ name: "run", arguments: { command: "echo MARK" } });
    assert.equal(refused.isError, true);
    assert.match(textOf(refused), /-confirm run/);
    assert.deepEqual(no.sent(), []);
    assert.equal(no.questions.length, 1);
    assert.deepEqual(no.approvals.map((l) => [l.event, l.answer ?? null]), [["question", null], [
      "answer",
      "decline",
    ]]);

    await using yes = await guarded({ era, confirm: ["run"], answer: true });
    await yes.connect("box");
    const ran = await yes.client.callTool({ name: "run", arguments: { command: "echo MARK" } });
    assert.equal(ran.isError, undefined, textOf(ran));
    assert.equal(yes.sent().length, 1);
    assert.match(yes.questions[0]!, /command: echo MARK/);
  });
}

Deno.test("-confirm run asks once for run{targets}, listing every host the globs expand to", async () => {
  await using host = await guarded({ confirm: ["run"], answer: true });
  for (const alias of ["web-1", "web-2", "db-1"]) await host.connect(alias);
  const ran = await host.client.callTool({
    name: "run",
    arguments: { targets: ["web-*", "db-1"], command: "echo MARK" },
  });
  assert.equal(ran.isError, undefined, textOf(ran));
  assert.equal(host.questions.length, 1);
  for (const alias of ["web-1", "web-2", "db-1"]) assert.match(host.questions[0]!, new RegExp(alias));
  assert.equal(host.sent().length, 3);

  await using no = await guarded({ confirm: ["run"], answer: false });
  for (const alias of ["web-1", "web-2"]) await no.connect(alias);
  const refused = await no.client.callTool({
    name: "run",
    arguments: { targets: ["web-*"], command: "echo MARK" },
  });
  assert.equal(refused.isError, true);
  assert.equal(no.questions.length, 1);
  assert.deepEqual(no.sent(), []);
});
