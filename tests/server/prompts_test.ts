/**
 * The runbook prompts and `completion/complete`: what is offered (only runbooks whose tools are
 * exposed), strict arguments, and completions from the session and ~/.ssh/config.
 */
import assert from "node:assert/strict";
import type { z } from "zod";
import { serviceNames } from "../../src/server/completers.ts";
import { MAX_COMPLETIONS, rankCompletions } from "../../src/server/completions.ts";
import { RUNBOOKS } from "../../src/server/runbooks.ts";
import { TOOLSETS } from "../../src/tools/registry.ts";
import { installKey } from "../_helpers/mcp_ssh.ts";
import { makeHome, stdioClient, textOf } from "../_helpers/server.ts";
import { startSshd } from "../_helpers/sshd.ts";

const TOOL_NAMES = TOOLSETS.flatMap((s) => s.tools.map((t) => t.name));

for (const runbook of RUNBOOKS) {
  Deno.test(`${runbook.name}: described, calls only real tools, every argument described`, () => {
    assert.match(runbook.name, /^[a-z][a-z0-9_]*$/);
    assert.ok(runbook.description.length >= 20 && runbook.description.length <= 600);
    for (const tool of runbook.uses) assert.ok(TOOL_NAMES.includes(tool), tool);
    for (const [name, schema] of Object.entries(runbook.args.shape)) {
      assert.ok((schema as { description?: string }).description, `argument ${name} has no description`);
    }
    // Required arguments only: optional ones may replace a step (a given container needs no discovery).
    const required = Object.entries(runbook.args.shape).filter(([, schema]) =>
      !(schema as z.ZodType).isOptional()
    );
    const args = Object.fromEntries(required.map(([k]) => [k, `v-${k}`]));
    const text = JSON.stringify(runbook.messages(runbook.args.parse(args)));
    for (const tool of runbook.uses) {
      assert.ok(text.includes(`\`${tool}\``), `${runbook.name} mentions ${tool}`);
    }
    assert.ok(text.includes("v-target"), "the target is substituted");
  });
}

Deno.test("prompts/list offers the runbooks; prompts/get fills them in; an unknown argument is refused", async () => {
  await using stdio = await stdioClient("legacy");
  const { prompts } = await stdio.client.listPrompts();
  assert.deepEqual(prompts.map((p) => p.name), RUNBOOKS.map((r) => r.name));
  const got = await stdio.client.getPrompt({
    name: "investigate_failed_service",
    arguments: { target: "web", service: "nginx" },
  });
  const text = (got.messages[0]!.content as { text: string }).text;
  assert.match(text, /The service "nginx" on "web" failed/);
  await assert.rejects(
    stdio.client.getPrompt({ name: "investigate_failed_service", arguments: { target: "web", servce: "x" } }),
    /Unknown argument "servce" \(did you mean "service"\?\) for prompt "investigate_failed_service"/,
  );
  await assert.rejects(
    stdio.client.getPrompt({ name: "investigate_failed_service", arguments: { target: "web" } }),
    /service/,
  );
});

Deno.test("a runbook is offered only when every tool it calls is exposed (-toolsets, -read-only)", async () => {
  await using some = await stdioClient("legacy", { args: ["-toolsets", "core,monitoring"] });
  assert.deepEqual((await some.client.listPrompts()).prompts.map((p) => p.name), ["diagnose_slow_host"]);
  // The capability is declared all the same (the first answer does not depend on the flags), the list empty.
  await using none = await stdioClient("legacy", { args: ["-toolsets", "core"] });
  assert.deepEqual(none.client.getServerCapabilities()?.prompts, { listChanged: true });
  assert.deepEqual((await none.client.listPrompts()).prompts, []);
});

Deno.test("completion/complete offers config hosts and connected aliases, by prefix, and refuses unknown references", async () => {
  await using sshd = await startSshd();
  const home = await makeHome();
  try {
    await installKey(home, sshd.keys.ed25519, "web_key");
    await installKey(home, sshd.keys.ed25519, "id_ed25519");
    await Deno.writeTextFile(
      `${home}/.ssh/config`,
      `Host web web.internal\n  HostName ${sshd.host}\n  Port ${sshd.port}\n  User mcpnopw\n` +
        `  IdentityFile ~/.ssh/web_key\nHost db-1 *.lab !bad\n  User ops\nHost *\n  ServerAliveInterval 10\n`,
    );
    await using stdio = await stdioClient("legacy", { home });
    const complete = async (argument: string, value: string, context?: Record<string, string>) =>
      (await stdio.client.complete({
        ref: { type: "ref/prompt", name: "investigate_failed_service" },
        argument: { name: argument, value },
        ...(context ? { context: { arguments: context } } : {}),
      })).completion;
    assert.deepEqual((await complete("target", "")).values, ["web", "web.internal", "db-1"]);
    assert.deepEqual((await complete("target", "D")).values, ["db-1"]);
    assert.deepEqual((await complete("target", "internal")).values, ["web.internal"]);

    const ran = await stdio.client.callTool({ name: "run", arguments: { target: "web", command: "true" } });
    assert.equal(ran.isError, undefined, textOf(ran));
    const typed = `mcpnopw@${sshd.host}:${sshd.port}`;
    const direct = await stdio.client.callTool({
      name: "run",
      arguments: { target: typed, command: "true" },
    });
    assert.equal(direct.isError, undefined, textOf(direct));
    assert.deepEqual((await complete("target", "")).values, [typed, "web", "web.internal", "db-1"]);
    // Services come from the chosen, connected host (none on a host without systemd: no error).
    assert.ok(Array.isArray((await complete("service", "", { target: "web" })).values));
    assert.deepEqual((await complete("service", "", { target: "not-connected" })).values, []);

    await assert.rejects(
      stdio.client.complete({
        ref: { type: "ref/prompt", name: "nope" },
        argument: { name: "x", value: "" },
      }),
      /no such prompt/,
    );
    await assert.rejects(complete("hostname", ""), /its arguments are target, service/);
    await assert.rejects(
      stdio.client.complete({
        ref: { type: "ref/resource", uri: "ssh://nope/{x}" },
        argument: { name: "x", value: "" },
      }),
      /no such resource/,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("rankCompletions() puts prefix matches first, then substring matches, and caps the list", () => {
  assert.deepEqual(rankCompletions(["db-web", "web-2", "web-1", "web-2"], "web"), {
    values: ["web-2", "web-1", "db-web"],
    total: 3,
    hasMore: false,
  });
  const many = Array.from({ length: 150 }, (_, i) => `h${i}`);
  const ranked = rankCompletions(many, "h");
  assert.equal(ranked.values.length, MAX_COMPLETIONS);
  assert.equal(ranked.total, 150);
  assert.equal(ranked.hasMore, true);
});

Deno.test("serviceNames() reads systemctl's plain listing, failed units first as listed", () => {
  assert.deepEqual(
    serviceNames([
      "● nginx.service loaded failed failed A high performance web server",
      "cron.service loaded active running Regular background program processing daemon",
      "dev-sda1.device loaded active plugged /dev/sda1",
    ]),
    ["nginx", "cron"],
  );
});
