import assert from "node:assert/strict";
import { parsePolicy, PolicyError, ruleFor } from "../../src/tools/policy.ts";

const FILE = "/data/policy.json";

function refused(text: string): PolicyError {
  try {
    parsePolicy(text, FILE);
  } catch (error) {
    assert.ok(error instanceof PolicyError, String(error));
    assert.ok(!error.message.includes("\n"), "one line");
    assert.ok(error.message.includes(FILE), error.message);
    return error;
  }
  assert.fail(`accepted ${text}`);
}

Deno.test("parsePolicy() reads every field of SPEC §11's example", () => {
  const policy = parsePolicy(
    JSON.stringify({
      hosts: [{
        match: "prod-*",
        read_only: true,
        confirm: ["host-key", "run", "run"],
        toolsets: ["monitoring", "core"],
        allow_commands: ["^systemctl status [a-z0-9@._-]+$"],
        max_timeout: 600,
      }, { match: "dev-*" }],
    }),
    FILE,
  );
  const [prod, dev] = policy.rules;
  assert.equal(policy.file, FILE);
  assert.equal(prod!.name, 'policy rule hosts[0] "prod-*"');
  assert.equal(prod!.readOnly, true);
  assert.deepEqual(prod!.confirm, ["run", "host-key"]);
  assert.deepEqual(prod!.toolsets, ["monitoring", "core"]);
  assert.equal(prod!.maxTimeoutSeconds, 600);
  assert.equal(dev!.readOnly, false);
  assert.equal(dev!.confirm, undefined, "absent confirm falls back to -confirm");
  assert.ok(Object.isFrozen(policy.rules) && Object.isFrozen(prod));
});

Deno.test("allow_commands must match the whole command line, whether or not the pattern is anchored", () => {
  const rule = parsePolicy(
    JSON.stringify({
      hosts: [{ match: "*", allow_commands: ["systemctl status [a-z]+", "^uptime$|df -h"] }],
    }),
    FILE,
  ).rules[0]!;
  const allowed = (command: string) => rule.allowCommands!.some((c) => c.regex.test(command));
  assert.equal(allowed("systemctl status nginx"), true);
  assert.equal(allowed("systemctl status nginx; rm -rf /"), false);
  assert.equal(allowed("sudo systemctl status nginx"), false);
  assert.equal(allowed("uptime"), true);
  assert.equal(allowed("df -h"), true);
  assert.equal(allowed("df -h /; reboot"), false);
  assert.equal(allowed("uptime\nreboot"), false);
  assert.deepEqual(rule.allowCommands!.map((c) => c.pattern), ["systemctl status [a-z]+", "^uptime$|df -h"]);
});

Deno.test("ruleFor() takes the first rule whose glob matches the alias, user@host or host name, ignoring case", () => {
  const policy = parsePolicy(
    JSON.stringify({
      hosts: [{ match: "ro-*" }, { match: "admin@10.0.0.?" }, { match: "*.prod.example.com" }, {
        match: "*",
      }],
    }),
    FILE,
  );
  const index = (names: string[]) => ruleFor(policy, names)?.index;
  assert.equal(index(["ro-box", "me@h", "h"]), 0);
  assert.equal(index(["RO-Box"]), 0);
  assert.equal(index(["x", "admin@10.0.0.5", "10.0.0.5"]), 1);
  assert.equal(index(["x", "admin@10.0.0.55", "10.0.0.55"]), 3);
  assert.equal(index(["db", "me@db.prod.example.com", "db.prod.example.com"]), 2);
  assert.equal(index(["ro-box", "", ""]), 0);
  assert.equal(ruleFor(undefined, ["ro-box"]), undefined);
  assert.equal(ruleFor(parsePolicy('{"hosts":[{"match":"a"}]}', FILE), ["b", "me@b", "b"]), undefined);
});

Deno.test("invalid policy files are refused with the file, the JSON path and what is allowed", () => {
  const cases: [string, string, string[]][] = [
    ["{", "$", ["not JSON", '{"hosts":[']],
    ["[]", "$", ["JSON object"]],
    ['{"host":[]}', "$.hosts", ["missing", "JSON array"]],
    ['{"hosts":[{"match":"a","readonly":true}]}', "$.hosts[0]", ['unknown key "readonly"', "read_only"]],
    ['{"hosts":[{"match":"a","confirm":["run","writes"]}]}', "$.hosts[0].confirm[1]", [
      "run, destructive, sudo, host-key",
    ]],
    ['{"hosts":[{"match":"a","toolsets":["core","shell"]}]}', "$.hosts[0].toolsets[1]", [
      "core, jobs, files, docker",
    ]],
    ['{"hosts":[{"match":"a","allow_commands":["(("]}]}', "$.hosts[0].allow_commands[0]", [
      "regular expression",
    ]],
    ['{"hosts":[{"match":"a","max_timeout":0}]}', "$.hosts[0].max_timeout", ["1 to 86400"]],
    ['{"hosts":[{"match":"a","max_timeout":"60"}]}', "$.hosts[0].max_timeout", ["1 to 86400"]],
    ['{"hosts":[{"read_only":true}]}', "$.hosts[0].match", ["missing", "glob"]],
    ['{"hosts":[{"match":"a","read_only":"yes"}]}', "$.hosts[0].read_only", ["true or false"]],
  ];
  for (const [text, path, fragments] of cases) {
    const error = refused(text);
    assert.equal(error.path, path, text);
    assert.ok(error.message.includes(` at ${path}:`) || path === "$", error.message);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `${text}: ${error.message}`);
    }
  }
});
