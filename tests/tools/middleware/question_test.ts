import assert from "node:assert/strict";
import { TOOLSETS } from "../../../src/tools/registry.ts";
import { callQuestion, callSummary, hostKeyQuestion } from "../../../src/tools/middleware/question.ts";

const tool = (name: string) => TOOLSETS.flatMap((s) => s.tools).find((t) => t.name === name)!;
const target = { alias: "prod-db", address: "admin@10.0.0.5:22", names: [], writes: true };

Deno.test("a run question shows the command, the connection, sudo and cwd, and never stdin or env values", () => {
  const args = {
    command: "systemctl restart nginx",
    target: "prod-db",
    sudo: true,
    cwd: "/srv",
    stdin: "hunter2-stdin-secret",
    env: { TOKEN: "env-secret-value" },
  };
  const text = callQuestion({ tool: tool("run"), args, targets: [target], reasons: ["-confirm run"] });
  assert.match(text, /^Approve "run" \(Run a shell command\) on prod-db \(admin@10\.0\.0\.5:22\)\?/);
  assert.match(text, /command: systemctl restart nginx/);
  assert.match(text, /sudo: YES — runs as root/);
  assert.match(text, /cwd: \/srv/);
  assert.match(text, /stdin: 20 bytes \(not shown\)/);
  assert.match(text, /env: TOKEN \(values not shown\)/);
  assert.match(text, /-confirm run/);
  for (const secret of ["hunter2-stdin-secret", "env-secret-value"]) assert.ok(!text.includes(secret));
  assert.equal(
    callSummary({ tool: tool("run"), args, targets: [target], reasons: [] }),
    'run "systemctl restart nginx" with sudo on prod-db (admin@10.0.0.5:22)',
  );
});

Deno.test("connect and db questions never show passwords or passphrases", () => {
  const secrets = { password: "pw-secret-1", passphrase: "pp-secret-2", sudo_password: "sudo-secret-3" };
  const text = callQuestion({
    tool: tool("connect"),
    args: { host: "10.0.0.5", username: "admin", ...secrets },
    targets: [],
    reasons: ["x"],
  });
  for (const secret of Object.values(secrets)) assert.ok(!text.includes(secret), text);
  assert.match(text, /password: given, not shown/);
  const db = callQuestion({
    tool: tool("db_query"),
    args: { container_name: "pg", db_type: "postgres", password: "db-secret-4", query: "DELETE FROM t" },
    targets: [target],
    reasons: ["-confirm destructive"],
  });
  assert.ok(!db.includes("db-secret-4"));
  assert.match(db, /query: DELETE FROM t/);
});

Deno.test("long values are cut and say so; multi-line values start on their own line", () => {
  const text = callQuestion({
    tool: tool("write"),
    args: { path: "/etc/app.conf", content: "a=1\n" + "x".repeat(9000) },
    targets: [target],
    reasons: ["-confirm destructive"],
  });
  assert.match(text, /path: \/etc\/app\.conf/);
  assert.match(text, /content: \na=1\n/);
  assert.match(text, /\[cut: 9004 characters in all, the rest not shown\]/);
});

Deno.test("a host-key question shows host, port, key type and fingerprint", () => {
  const key = {
    host: "10.0.0.5",
    port: 2222,
    keyType: "ssh-ed25519",
    fingerprint: "SHA256:abc",
    key: "AAAA",
  };
  const text = hostKeyQuestion(key, "-confirm host-key", [target]);
  assert.match(text, /Trust the new host key of 10\.0\.0\.5 port 2222 \(on the way to prod-db/);
  assert.match(text, /Key type: ssh-ed25519/);
  assert.match(text, /Fingerprint: SHA256:abc/);
  assert.match(text, /no authentication/);
});
