/**
 * The sandbox Worker under exactly the compile task's flags and a HOME of its own: what the server's
 * code may and may not do once main.ts has planned the sandbox (the same planSandbox + runSandboxed
 * calls as main.ts, with a probe module in place of src/serve.ts).
 */
import assert from "node:assert/strict";
import { compileTaskRunArgs, makeHome, serverEnv } from "../_helpers/server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
Deno.test("in the sandbox Worker: write only the data dir, read only it and ~/.ssh, no env, subprocess, sys or ffi; net yes", async () => {
  const home = await makeHome();
  try {
    await Deno.writeTextFile(`${home}/.ssh/config`, "Host x\n");
    await Deno.writeTextFile(`${home}/secret.txt`, "not for the server");
    const dataDir = `${home}/elsewhere/data`;
    const url = (path: string) => JSON.stringify(new URL(path, `file://${ROOT}`).href);
    const probe = `${home}/probe_worker.ts`;
    await Deno.writeTextFile(
      probe,
      `
      import { serveSandboxed } from ${url("src/sandbox/worker.ts")};
      serveSandboxed(async (p: { home: string; dataDir: string }) => {
        const attempt = (f: () => unknown) => { try { f(); return "ok"; } catch (e) { return (e as Error).name; } };
        const result = {
          writeData: attempt(() => Deno.writeTextFileSync(p.dataDir + "/probe.txt", "x")),
          readData: attempt(() => Deno.readTextFileSync(p.dataDir + "/probe.txt")),
          readSsh: attempt(() => Deno.readTextFileSync(p.home + "/.ssh/config")),
          writeSsh: attempt(() => Deno.writeTextFileSync(p.home + "/.ssh/planted", "x")),
          readHome: attempt(() => Deno.readTextFileSync(p.home + "/secret.txt")),
          writeHome: attempt(() => Deno.writeTextFileSync(p.home + "/outside.txt", "x")),
          readEtc: attempt(() => Deno.readTextFileSync("/etc/passwd")),
          writeTmp: attempt(() => Deno.writeTextFileSync("/tmp/ssh-mcp-probe-${crypto.randomUUID()}", "x")),
          envHome: attempt(() => Deno.env.get("HOME")),
          run: attempt(() => new Deno.Command("true").outputSync()),
          sys: attempt(() => Deno.hostname()),
          ffi: attempt(() => Deno.dlopen("libc.so.6", {})),
          net: attempt(() => Deno.listen({ hostname: "127.0.0.1", port: 0 }).close()),
        };
        console.log(JSON.stringify(result));
        return 0;
      });
      `,
    );
    const main = `${home}/probe_main.ts`;
    await Deno.writeTextFile(
      main,
      `
      import { planSandbox } from ${url("src/sandbox/plan.ts")};
      import { runSandboxed } from ${url("src/sandbox/worker.ts")};
      const home = Deno.env.get("HOME")!;
      const dataDir = Deno.env.get("SSH_MCP_DATA_DIR")!;
      const plan = await planSandbox({
        home,
        dirs: [{ path: dataDir, flag: "-data-dir", env: "SSH_MCP_DATA_DIR", writable: true }],
      });
      const code = await runSandboxed(new URL(${JSON.stringify(`file://${probe}`)}), {
        permissions: plan.permissions,
        payload: { home, dataDir: plan.dirs[0] },
      });
      Deno.exit(code);
      `,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: await compileTaskRunArgs(main),
      env: serverEnv(home, { SSH_MCP_DATA_DIR: dataDir }),
      clearEnv: true,
      cwd: ROOT,
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const result = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, string>;
    for (const key of ["writeData", "readData", "readSsh", "net"]) assert.equal(result[key], "ok", key);
    const refused = [
      "writeSsh",
      "readHome",
      "writeHome",
      "readEtc",
      "writeTmp",
      "envHome",
      "run",
      "sys",
      "ffi",
    ];
    for (const key of refused) assert.equal(result[key], "NotCapable", `${key} must be refused`);
    await assert.rejects(Deno.stat(`${home}/outside.txt`), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(`${home}/.ssh/planted`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

/** The modules a file loads at run time: its `import`/`export … from` lines that are not type-only. */
async function runtimeImports(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(file);
  return [...text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)"/gms)]
    .filter((m) => m[2] === undefined)
    .map((m) => m[3]!);
}

Deno.test("main.ts, which holds the wide permissions, loads only our config, sandbox and first-answer code, never a third-party module", async () => {
  const seen = new Set<string>();
  const pending = [`${ROOT}main.ts`];
  const foreign: string[] = [];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of await runtimeImports(file)) {
      if (spec.startsWith("node:")) continue;
      if (!spec.startsWith(".")) foreign.push(`${file.slice(ROOT.length)} → ${spec}`);
      else pending.push(new URL(spec, `file://${file}`).pathname);
    }
  }
  assert.deepEqual(foreign, []);
  const local = [...seen].map((f) => f.slice(ROOT.length)).sort();
  assert.deepEqual(local, [
    "main.ts",
    "src/config.ts",
    "src/config/flags.ts",
    "src/config/types.ts",
    "src/config/values.ts",
    "src/sandbox/plan.ts",
    "src/sandbox/worker.ts",
    "src/server/identity.ts",
    "src/transport/early.ts",
    "src/version.ts",
  ]);
});
