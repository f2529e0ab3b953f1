/**
 * `run{targets}` end to end: two real sshds, the server under its production flags, an SDK client.
 */
import assert from "node:assert/strict";
import { call, passwordLogin, processesMatching } from "../../_helpers/mcp_ssh.ts";
import { httpClient, startHttpServer, textOf } from "../../_helpers/server.ts";
import { startSshd } from "../../_helpers/sshd.ts";

interface FleetResult {
  results: Array<{ target: string; exit_code: number | null; stdout: string; error: string | null }>;
  groups: Array<{ targets: string[]; exit_code: number | null; stdout: string; error: string | null }>;
  failed: number;
}

Deno.test("run{targets} over two sshds: groups identical answers, and one sshd stopped mid-set spoils nothing", async (t) => {
  await using one = await startSshd();
  await using two = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "modern");
  await call(client, "connect", passwordLogin(one, "mcptest", { alias: "one-a" }));
  await call(client, "connect", passwordLogin(one, "mcptest", { alias: "one-b" }));
  await call(client, "connect", passwordLogin(two, "mcptest", { alias: "two-a" }));

  await t.step("identical answers form one group; the text leads with the groups", async () => {
    const progress: number[] = [];
    const result = await client.callTool({
      name: "run",
      // The sshd's port: the same for both connections to one sshd, different for the other.
      arguments: { command: 'echo "${SSH_CONNECTION##* }"', targets: ["one-*", "two-a"] },
    }, { onprogress: (p) => void progress.push(p.progress) });
    assert.equal(result.isError, undefined, textOf(result));
    const data = result.structuredContent as unknown as FleetResult;
    assert.deepEqual(data.results.map((r) => [r.target, r.stdout]), [
      ["one-a", `${one.port}\n`],
      ["one-b", `${one.port}\n`],
      ["two-a", `${two.port}\n`],
    ]);
    assert.deepEqual(data.groups.map((g) => g.targets), [["one-a", "one-b"], ["two-a"]]);
    assert.equal(data.failed, 0);
    assert.match(
      textOf(result),
      /^3 targets, 2 different answers: 2 identical, exit 0; two-a: exit 0\.\n── 2 targets: one-a, one-b · exit 0\n/,
    );
    assert.equal(progress.at(-1), 3, `progress counts finished targets: ${progress}`);
  });

  await t.step("an sshd stopped while the command runs: its target is named, the others answer", async () => {
    const command = "sleep 2.468; echo done";
    const running = client.callTool({
      name: "run",
      arguments: { command, targets: ["one-a", "one-b", "two-a"] },
    });
    // The sleep processes themselves (the shells running the script also mention it).
    const sleeping = () => processesMatching("sleep 2.468").filter((p) => /^\d+: sleep 2\.468 $/.test(p));
    const until = Date.now() + 30_000;
    while (sleeping().length < 3 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(sleeping().length, 3, "the command started on all three");
    await two.stop();
    const result = await running;
    assert.equal(result.isError, undefined, textOf(result));
    const data = result.structuredContent as unknown as FleetResult;
    assert.deepEqual(data.groups.map((g) => [g.targets, g.stdout, g.error === null]), [
      [["one-a", "one-b"], "done\n", true],
      [["two-a"], "", false],
    ]);
    assert.equal(data.failed, 1);
    assert.match(textOf(result), /two-a: failed: connection lost/);
  });

  await t.step("isError only when every target failed", async () => {
    const result = await client.callTool({ name: "run", arguments: { command: "true", targets: ["two-a"] } });
    assert.equal(result.isError, true, textOf(result));
    assert.equal((result.structuredContent as unknown as FleetResult).results[0]!.target, "two-a");
    const refused = await client.callTool({
      name: "run",
      arguments: { command: "true", targets: ["nomatch-*"] },
    });
    assert.equal(refused.isError, true);
    assert.match(textOf(refused), /"nomatch-\*": no connection of this session matches it/);
  });
});

Deno.test("run{targets} over 50 aliases of one sshd gives one group", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "modern");
  const aliases = Array.from({ length: 50 }, (_, i) => `web-${String(i + 1).padStart(2, "0")}`);
  // Ten logins at a time: sequential password logins cost a minute on a loaded machine.
  for (let i = 0; i < aliases.length; i += 10) {
    await Promise.all(
      aliases.slice(i, i + 10).map((alias) =>
        call(client, "connect", passwordLogin(sshd, "mcptest", { alias }))
      ),
    );
  }
  const result = await client.callTool({ name: "run", arguments: { command: "id -un", targets: ["web-*"] } });
  assert.equal(result.isError, undefined, textOf(result));
  const data = result.structuredContent as unknown as FleetResult;
  assert.deepEqual(data.results.map((r) => r.target), aliases);
  assert.equal(data.groups.length, 1);
  assert.deepEqual(data.groups[0]!.targets, aliases);
  assert.equal(data.groups[0]!.stdout, "mcptest\n");
  assert.match(
    textOf(result),
    /^50 targets: all identical, exit 0\.\n── 50 targets: web-01, .* · exit 0\nmcptest$/,
  );
});
