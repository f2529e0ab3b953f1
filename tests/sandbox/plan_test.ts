/**
 * planSandbox under a process that may use every path (`deno test -A`): what it creates, grants and
 * refuses. How it answers a process with narrower Deno flags is in startup_test.ts.
 */
import assert from "node:assert/strict";
import { relative as relativePath } from "node:path";
import { ConfigError } from "../../src/config.ts";
import { planSandbox, type SandboxDir } from "../../src/sandbox/plan.ts";

const dataDir = (path: string): SandboxDir => ({
  path,
  flag: "-data-dir",
  env: "SSH_MCP_DATA_DIR",
  writable: true,
});

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "ssh-mcp-plan-" }));
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("planSandbox creates the data dir 0700 and grants it, ~/.ssh read-only, the network, and nothing else", async () => {
  await withTemp(async (tmp) => {
    const home = `${tmp}/home`;
    await Deno.mkdir(`${home}/.ssh`, { recursive: true });
    const plan = await planSandbox({ home, dirs: [dataDir(`${tmp}/a/b/data`)] });
    assert.equal(((await Deno.stat(`${tmp}/a/b/data`)).mode! & 0o777).toString(8), "700");
    assert.deepEqual(plan.dirs, [`${tmp}/a/b/data`]);
    assert.equal(plan.sshDir, `${home}/.ssh`);
    assert.deepEqual(plan.permissions, {
      read: [`${tmp}/a/b/data`, `${home}/.ssh`],
      write: [`${tmp}/a/b/data`],
      net: true,
      env: false,
      sys: false,
      run: false,
      ffi: false,
      import: false,
    });
    assert.deepEqual(plan.warnings, []);
    assert.deepEqual([...Deno.readDirSync(`${tmp}/a/b/data`)], [], "the write probe leaves nothing behind");
  });
});

Deno.test("planSandbox grants a symlinked data dir and ~/.ssh under both names; a relative data dir becomes absolute", async () => {
  await withTemp(async (tmp) => {
    await Deno.mkdir(`${tmp}/real-data`);
    await Deno.symlink(`${tmp}/real-data`, `${tmp}/data`);
    await Deno.mkdir(`${tmp}/dotfiles/ssh`, { recursive: true });
    await Deno.mkdir(`${tmp}/home`);
    await Deno.symlink(`${tmp}/dotfiles/ssh`, `${tmp}/home/.ssh`);
    const plan = await planSandbox({ home: `${tmp}/home`, dirs: [dataDir(`${tmp}/data`)] });
    assert.deepEqual(plan.permissions.read, [
      `${tmp}/data`,
      `${tmp}/real-data`,
      `${tmp}/home/.ssh`,
      `${tmp}/dotfiles/ssh`,
    ]);
    assert.deepEqual(plan.permissions.write, [`${tmp}/data`, `${tmp}/real-data`]);
    const relative = await planSandbox({ dirs: [dataDir(relativePath(Deno.cwd(), `${tmp}/rel`))] });
    assert.deepEqual(relative.dirs, [`${tmp}/rel`]);
    assert.equal(relative.sshDir, undefined, "no HOME, no ~/.ssh");
  });
});

Deno.test("a data dir that cannot be created or is not a directory stops start-up with one line naming the flag, env, path and fix", async () => {
  await withTemp(async (tmp) => {
    await Deno.writeTextFile(`${tmp}/file`, "x");
    const cases: Array<[string, RegExp]> = [
      [
        `${tmp}/file/data`,
        /^Cannot create -data-dir ".*\/file\/data" \(env SSH_MCP_DATA_DIR\): .+; create it for the user running ssh-mcp \(sudo install -d -m 0700 -o "\$\(id -un\)" ".*\/file\/data"\) or pass another -data-dir$/,
      ],
      [
        `${tmp}/file`,
        /^Cannot (create|use) -data-dir ".*\/file" \(env SSH_MCP_DATA_DIR\): .*(not a directory|exists).*-data-dir$/i,
      ],
    ];
    for (const [path, expected] of cases) {
      const error = await planSandbox({ dirs: [dataDir(path)] }).then(() => undefined, (e) => e);
      assert.ok(error instanceof ConfigError, `${path}: ${error}`);
      assert.equal(error.flag, "-data-dir");
      assert.equal(error.env, "SSH_MCP_DATA_DIR");
      assert.doesNotMatch(error.message, /\n/);
      assert.match(error.message, expected);
    }
  });
});

Deno.test("an ssh-agent socket is granted by name when it is a socket; otherwise one warning and no agent", async () => {
  await withTemp(async (tmp) => {
    const socket = `${tmp}/agent.sock`;
    using listener = Deno.listen({ transport: "unix", path: socket });
    const plan = await planSandbox({ dirs: [dataDir(`${tmp}/data`)], agentSocket: socket });
    assert.equal(plan.agentSocket, socket);
    assert.ok((plan.permissions.read as string[]).includes(socket));
    assert.ok((plan.permissions.write as string[]).includes(socket));
    assert.deepEqual(plan.warnings, []);
    listener.close();

    await Deno.writeTextFile(`${tmp}/plain`, "x");
    for (
      const [path, why] of [
        [`${tmp}/missing.sock`, /cannot be used: .*\(is the agent running\?\)$/],
        [`${tmp}/plain`, /is not a socket$/],
        ["relative.sock", /is not an absolute path$/],
      ] as const
    ) {
      const skipped = await planSandbox({ dirs: [dataDir(`${tmp}/data`)], agentSocket: path });
      assert.equal(skipped.agentSocket, undefined, path);
      assert.equal(skipped.warnings.length, 1, path);
      assert.match(
        skipped.warnings[0]!,
        new RegExp(`^ssh-agent skipped: SSH_AUTH_SOCK "${path.replaceAll(".", "\\.")}" `),
      );
      assert.match(skipped.warnings[0]!, why);
      assert.ok(!(skipped.permissions.read as string[]).includes(path));
    }
  });
});

Deno.test("code paths (vendor/) are readable in the Worker, never writable", async () => {
  await withTemp(async (tmp) => {
    const plan = await planSandbox({ dirs: [dataDir(`${tmp}/data`)], code: [`${tmp}/vendor/`] });
    assert.ok(Array.isArray(plan.permissions.read) && plan.permissions.read.includes(`${tmp}/vendor/`));
    assert.ok(Array.isArray(plan.permissions.write) && !plan.permissions.write.includes(`${tmp}/vendor/`));
  });
});
