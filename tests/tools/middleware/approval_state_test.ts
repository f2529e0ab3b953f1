import assert from "node:assert/strict";
import type { ServerContext } from "@modelcontextprotocol/server";
import { type ApprovalStateDraft, ApprovalStates } from "../../../src/tools/middleware/approval_state.ts";

/** The part of a request context the codec reads: who is calling. */
function contextOf(principal?: string): ServerContext {
  return {
    http: principal === undefined ? undefined : { authInfo: { clientId: principal } },
  } as ServerContext;
}

const DRAFT: ApprovalStateDraft = {
  principal: "local",
  session: "s1-abc",
  tool: "run",
  digest: "00",
  targets: ["prod-db (admin@10.0.0.5:22)"],
  approved: { call: false },
  question: { kind: "call", reason: "-confirm run", asked: 'run "uptime"' },
};

Deno.test("a minted state verifies and carries its payload; a changed byte or another principal does not", async () => {
  const states = new ApprovalStates();
  const wire = await states.mint(DRAFT, contextOf());
  const state = await states.verify(wire, contextOf());
  assert.equal(state.tool, "run");
  assert.deepEqual(state.question, DRAFT.question);
  assert.match(state.nonce, /^[0-9a-f-]{36}$/);
  const [version, body, mac] = wire.split(".");
  for (let i = 0; i < body!.length; i += 7) {
    const altered = body!.slice(0, i) + (body![i] === "A" ? "B" : "A") + body!.slice(i + 1);
    await assert.rejects(states.verify(`${version}.${altered}.${mac}`, contextOf()));
  }
  await assert.rejects(states.verify(wire, contextOf("token:other")), /bind/);
  await assert.rejects(new ApprovalStates().verify(wire, contextOf()), /mac/, "another process's secret");
});

Deno.test("a state is spent by its first use; a replay is refused", async () => {
  const states = new ApprovalStates();
  const state = await states.verify(await states.mint(DRAFT, contextOf()), contextOf());
  assert.equal(states.spend(state), true);
  assert.equal(states.spend(state), false);
  const other = await states.verify(await states.mint(DRAFT, contextOf()), contextOf());
  assert.equal(states.spend(other), true, "each question has its own nonce");
});

Deno.test("an expired state is refused by the codec and cannot be spent", async () => {
  const states = new ApprovalStates({ ttlSeconds: 1 });
  const wire = await states.mint(DRAFT, contextOf());
  const state = await states.verify(wire, contextOf());
  await new Promise((resolve) => setTimeout(resolve, 2100));
  await assert.rejects(states.verify(wire, contextOf()), /expired/);
  assert.equal(states.spend(state), false);
});

Deno.test("the argument digest is keyed: the same arguments digest alike in one process, differently in another", async () => {
  const states = new ApprovalStates();
  const args = { command: "uptime", target: "prod-db" };
  assert.equal(await states.digest(args), await states.digest({ ...args }));
  assert.notEqual(await states.digest(args), await states.digest({ ...args, command: "uptime " }));
  assert.notEqual(await states.digest(args), await new ApprovalStates().digest(args));
  assert.match(await states.digest(args), /^[0-9a-f]{64}$/);
});
