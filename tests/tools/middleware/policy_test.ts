/**
 * `-policy FILE` end to end (SPEC §11): one real sshd reached under several aliases, each governed by
 * a different rule; and start-up refusing invalid files.
 */
import assert from "node:assert/strict";
import { elicitingHttpClient, NO } from "../../_helpers/elicit.ts";
import { call, passwordLogin } from "../../_helpers/mcp_ssh.ts";
import { makeHome, serverEnv, startHttpServer, startTaskArgs, textOf } from "../../_helpers/server.ts";
import { startSshd } from "../../_helpers/sshd.ts";

const POLICY = {
  hosts: [
    { match: "ro-*", read_only: true },
    { match: "cmd-*", allow_commands: ["echo [a-z]+"], max_timeout: 5, toolsets: ["core"] },
    { match: "ask-*", confirm: ["run"] },
    { match: "rw-*" },
  ],
};

/** A HOME whose data dir holds `policy` (the server may read only ~/.ssh and the data dir). */
async function homeWithPolicy(policy: string): Promise<{ home: string; path: string }> {
  const home = await makeHome();
  const dataDir = `${home}/.local/share/ssh-mcp`;
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(`${dataDir}/policy.json`, policy);
  return { home, path: `${dataDir}/policy.json` };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("a policy file makes ro-* read-only while rw-* writes; allow_commands, max_timeout, toolsets and a rule's confirm apply per host", async () => {
  await using sshd = await startSshd();
  const { home, path } = await homeWithPolicy(JSON.stringify(POLICY));
  await using server = await startHttpServer({ home, args: ["-policy", path] });
  await using client = await elicitingHttpClient(server, "modern", NO);
  const base = `/tmp/ssh-mcp-policy-${crypto.randomUUID()}`;
  try {
    for (const alias of ["ro-box", "cmd-box", "ask-box", "rw-box"]) {
      await call(client, "connect", passwordLogin(sshd, "mcptest", { alias }));
    }
    const ro = await client.callTool({
      name: "write",
      arguments: { target: "ro-box", path: base, content: "x" },
    });
    assert.equal(ro.isError, true);
    assert.match(textOf(ro), /policy rule hosts\[0\] "ro-\*" makes it read-only/);
    assert.equal(await exists(base), false);
    const run = await client.callTool({
      name: "run",
      arguments: { target: "ro-box", command: `touch ${base}` },
    });
    assert.equal(run.isError, true, "run is a write tool");
    assert.equal(await exists(base), false);
    await call(client, "read", { target: "ro-box", path: "/etc/hostname" });

    await call(client, "write", { target: "rw-box", path: base, content: "rw\n" });
    assert.equal(await Deno.readTextFile(base), "rw\n");

    assert.equal(
      (await call<{ stdout: string }>(client, "run", { target: "cmd-box", command: "echo hi" })).stdout,
      "hi\n",
    );
    const chained = await client.callTool({
      name: "run",
      arguments: { target: "cmd-box", command: `echo hi; rm ${base}` },
    });
    assert.equal(chained.isError, true);
    assert.match(textOf(chained), /hosts\[1\] "cmd-\*" allows only commands matching echo \[a-z\]\+/);
    assert.equal(await exists(base), true, "a command outside the allowlist must not run");
    const slow = await client.callTool({
      name: "run",
      arguments: { target: "cmd-box", command: "echo slow", timeout: 60 },
    });
    assert.match(textOf(slow), /allows at most timeout 5 s there \(asked 60 s\)/);
    const files = await client.callTool({
      name: "read",
      arguments: { target: "cmd-box", path: "/etc/hostname" },
    });
    assert.match(textOf(files), /allows only the core toolsets there \(this tool is in files\)/);

    // No -confirm on the command line, but the ask-* rule asks before run (and the answer is no).
    const asked = await client.callTool({
      name: "run",
      arguments: { target: "ask-box", command: `rm ${base}` },
    });
    assert.equal(asked.isError, true);
    assert.match(textOf(asked), /hosts\[2\] "ask-\*" \(confirm run\)/);
    assert.equal(client.asked.length, 1);
    assert.equal(await exists(base), true);
    await call(client, "run", { target: "rw-box", command: "true" });
    assert.equal(client.asked.length, 1, "rw-* has no confirm and -confirm is empty");

    // Without a target the default connection is checked, and that is the one that runs.
    await call(client, "read", { target: "ro-box", path: "/etc/hostname" });
    const byDefault = await client.callTool({
      name: "write",
      arguments: { path: `${base}.2`, content: "x" },
    });
    assert.match(textOf(byDefault), /ro-box/);
    assert.equal(await exists(`${base}.2`), false);
  } finally {
    await Deno.remove(base).catch(() => {});
  }
});

Deno.test("invalid policy files stop start-up with one line naming the file, the JSON path and the allowed values", async () => {
  const cases: [string | undefined, RegExp][] = [
    [
      '{"hosts":[{"match":"prod-*","confirm":["run","everything"]}]}',
      /at \$\.hosts\[0\]\.confirm\[1\]: expected one of run, destructive, sudo, host-key/,
    ],
    [
      '{"hosts":[{"match":"prod-*","read_only":"yes"}]}',
      /at \$\.hosts\[0\]\.read_only: expected true or false/,
    ],
    ["{hosts: []}", /not JSON/],
    [undefined, /no such file/],
  ];
  for (const [text, expected] of cases) {
    const { home, path } = await homeWithPolicy(text ?? "");
    try {
      const given = text === undefined ? `${path}.missing` : path;
      const output = await new Deno.Command(Deno.execPath(), {
        args: [...await startTaskArgs(home), "-mode", "stdio", "-policy", given],
        env: serverEnv(home),
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr).trim();
      assert.equal(output.code, 2, stderr);
      assert.equal(stderr.split("\n").length, 1, stderr);
      assert.match(stderr, /^ssh-mcp: /);
      assert.ok(stderr.includes(given), stderr);
      assert.match(stderr, expected);
      assert.equal(new TextDecoder().decode(output.stdout), "");
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  }
});

Deno.test("a policy file outside ~/.ssh and the data dir is read at start-up, before the sandbox narrows", async () => {
  const outside = await Deno.makeTempFile({ suffix: ".json" });
  const home = await makeHome();
  try {
    await Deno.writeTextFile(outside, '{"hosts":[]}');
    const output = await new Deno.Command(Deno.execPath(), {
      args: [...await startTaskArgs(home), "-mode", "stdio", "-policy", outside],
      env: serverEnv(home),
      clearEnv: true,
      stdin: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr).trim();
    assert.equal(output.code, 0, stderr);
    assert.ok(stderr.includes(`policy ${outside} (0 rules)`), stderr);
  } finally {
    await Deno.remove(outside);
    await Deno.remove(home, { recursive: true });
  }
});
