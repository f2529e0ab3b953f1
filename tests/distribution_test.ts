/**
 * The three distribution forms stay consistent and work under their sandbox (SPEC §1, issues 8, 17):
 *
 * - the `compile` tasks and the Dockerfile build with exactly the `start` task's flags (that all of
 *   them are generated from src/sandbox/flags.ts is checked in tests/sandbox/flags_test.ts);
 * - `main.ts` run under exactly the compile task's flags serves stdio and HTTP, connects to a real
 *   sshd, writes its key and known_hosts 0600 inside the data dir;
 * - a binary built by the compile task under some build HOME carries no trace of it (its metadata read
 *   back; the runtime it would run on cannot be downloaded here);
 * - every ```json block of the README and docs/ parses, and the `deno run` snippets use the flags.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { ENV_VARS } from "../src/config.ts";
import { runArgs as flagRunArgs, UNSTABLE_FEATURES } from "../src/sandbox/flags.ts";
import { call, installKey, passwordLogin } from "./_helpers/mcp_ssh.ts";
import { httpClient, makeHome, serverEnv, textOf } from "./_helpers/server.ts";
import { requirePrograms } from "./_helpers/require.ts";
import { startSshd } from "./_helpers/sshd.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO_JSON = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
const TASKS: Record<string, string> = DENO_JSON.tasks;
const DATA_SUFFIX = "/.local/share/ssh-mcp";

/** Flags that only make sense to `deno compile` (they take a value). */
const COMPILE_ONLY_WITH_VALUE = new Set(["--output", "-o", "--target", "--include"]);

/** A `deno run|compile … main.ts` command line, split into its kinds of flags. */
interface DenoCommand {
  subcommand: string;
  /** `--allow-*` / `--deny-*` / `--no-prompt` (and any short form or permission set). */
  permissions: string[];
  /** `--unstable-*`. */
  unstable: string[];
  /** Everything else: `--frozen`, `--output X`, `--target X`, `--include X`. */
  other: Map<string, string | true>;
  entry: string;
}

function parseDenoCommand(text: string, where: string): DenoCommand {
  const words = text.trim().split(/\s+/);
  assert.equal(words[0], "deno", `${where} must start with deno: ${text}`);
  const command: DenoCommand = {
    subcommand: words[1]!,
    permissions: [],
    unstable: [],
    other: new Map(),
    entry: words.at(-1)!,
  };
  for (let i = 2; i < words.length - 1; i++) {
    const word = words[i]!;
    if (
      /^--(allow|deny)-[a-z]+(=|$)|^--no-prompt$/.test(word) ||
      /^-[ARWNESIP](=|$)|^--permission-set/.test(word)
    ) {
      command.permissions.push(word);
    } else if (word.startsWith("--unstable-")) {
      command.unstable.push(word);
    } else if (COMPILE_ONLY_WITH_VALUE.has(word)) {
      command.other.set(word, words[++i]!);
    } else if (word === "--frozen") {
      command.other.set(word, true);
    } else {
      assert.fail(`${where}: unexpected word "${word}" — teach tests/distribution_test.ts what it means`);
    }
  }
  return command;
}

const START = parseDenoCommand(TASKS.start!, "task start");
const COMPILE = parseDenoCommand(TASKS.compile!, "task compile");

// ---------------------------------------------------------------------------------------------------
// Dockerfile

/** Dockerfile instructions with line continuations joined and comments dropped. */
function dockerInstructions(text: string): Array<{ instruction: string; args: string }> {
  const joined = text.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n").replace(/\\\n/g, " ");
  return joined.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const space = line.search(/\s/);
    return { instruction: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
  });
}

Deno.test("the Dockerfile compiles with exactly the compile task's flags (no path: the image's paths come at start-up)", async () => {
  const docker = dockerInstructions(await Deno.readTextFile(`${ROOT}Dockerfile`));
  const froms = docker.filter((d) => d.instruction === "FROM").map((d) => d.args);
  assert.equal(froms.length, 2, "multi-stage: builder and runtime");
  assert.equal(froms[0], "denoland/deno:2.9.6 AS builder");
  assert.match(froms[1]!, /^(debian:12-slim|gcr\.io\/distroless\/cc-debian12)/);
  const runs = docker.filter((d) => d.instruction === "RUN").map((d) => d.args);
  assert.ok(runs.includes("deno install --frozen"), "deno install --frozen");
  const compiles = runs.filter((r) => r.startsWith("deno compile"));
  assert.equal(compiles.length, 1);
  const compile = parseDenoCommand(compiles[0]!, "Dockerfile deno compile");
  assert.deepEqual(COMPILE.permissions, START.permissions, "compile and start tasks grant the same");
  assert.deepEqual(
    compile.permissions,
    COMPILE.permissions,
    "Dockerfile permission flags differ from the compile task",
  );
  assert.equal(compile.other.get("--include"), COMPILE.other.get("--include"));
  assert.deepEqual(compile.unstable, COMPILE.unstable);
  assert.equal(compile.other.get("--frozen"), true);
  assert.equal(compile.other.get("--target"), undefined);
  const output = compile.other.get("--output") as string;
  assert.ok(docker.some((d) => d.instruction === "COPY" && d.args.startsWith(`--from=builder ${output} `)));

  const runtime = docker.slice(docker.findLastIndex((d) => d.instruction === "FROM"));
  const env = runtime.filter((d) => d.instruction === "ENV").map((d) => d.args).join(" ");
  assert.match(env, /\bHOME=\/home\/app\b/);
  assert.match(env, /\bSSH_MCP_DATA_DIR=\/data\b/);
  assert.match(env, /\bSSH_MCP_HOST=0\.0\.0\.0\b/);
  assert.doesNotMatch(env, /AUTH_TOKEN/, "a token must never be baked into the image");
  const user = runtime.find((d) => d.instruction === "USER")?.args;
  assert.ok(user !== undefined && user !== "root" && user !== "0", `non-root USER, got ${user}`);
  assert.ok(runtime.some((d) => d.instruction === "VOLUME" && d.args.includes("/data")));
  assert.ok(runtime.some((d) => d.instruction === "EXPOSE" && d.args === "8000"));
  const health = runtime.find((d) => d.instruction === "HEALTHCHECK")?.args ?? "";
  assert.match(health, /\/healthz/);
  assert.match(health, /curl/);
  assert.match(
    runtime.filter((d) => d.instruction === "RUN").map((d) => d.args).join(" "),
    /install[^&]*\bcurl\b/,
  );
  assert.ok(runtime.some((d) => d.instruction === "ENTRYPOINT" && d.args.includes(output.split("/").pop()!)));
  const ignore = await Deno.readTextFile(`${ROOT}.dockerignore`);
  assert.match(ignore, /^\*$/m, ".dockerignore starts from nothing and lists what the build needs");
});

// ---------------------------------------------------------------------------------------------------
// main.ts under exactly the compile task's flags

/** `deno run` + every flag of the compile task except its output/target/include, for `script`. */
function runArgs(script = `${ROOT}main.ts`): string[] {
  const flags = [
    ...COMPILE.unstable,
    ...(COMPILE.other.get("--frozen") ? ["--frozen"] : []),
    ...COMPILE.permissions,
  ];
  return ["run", ...flags, script];
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function modeOf(path: string): Promise<string> {
  return ((await Deno.stat(path)).mode! & 0o777).toString(8);
}

Deno.test(
  "under the compile flags: stdio tools/list, connect + run on a real sshd, key and known_hosts 0600 in the data dir",
  {
    ignore: !requirePrograms("/usr/sbin/sshd", "ssh-keygen"),
  },
  async () => {
    await using sshd = await startSshd();
    const home = await makeHome();
    const transport = new StdioClientTransport({
      command: Deno.execPath(),
      args: [...runArgs(), "-mode", "stdio"],
      env: serverEnv(home),
      cwd: ROOT,
      stderr: "pipe",
    });
    let stderr = "";
    transport.stderr?.on("data", (c: Uint8Array) => void (stderr += new TextDecoder().decode(c)));
    const client = new Client({ name: "distribution-test", version: "1.0.0" });
    try {
      await client.connect(transport);
      const names = (await client.listTools()).tools.map((t) => t.name);
      for (const name of ["connect", "run", "identity", "connections"]) assert.ok(names.includes(name), name);

      const connected = await call<{ alias: string; host_key: { status: string } }>(
        client,
        "connect",
        passwordLogin(sshd),
      );
      assert.equal(connected.host_key.status, "recorded");
      const ran = await call<{ stdout: string; exit_code: number }>(client, "run", {
        command: "echo distribution",
      });
      assert.deepEqual([ran.stdout, ran.exit_code], ["distribution\n", 0]);

      const dataDir = `${home}${DATA_SUFFIX}`;
      assert.equal(await modeOf(dataDir), "700");
      assert.equal(await modeOf(`${dataDir}/id_ed25519`), "600");
      assert.equal(await modeOf(`${dataDir}/known_hosts`), "600");
      assert.match(
        await Deno.readTextFile(`${dataDir}/known_hosts`),
        new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} `, "m"),
      );
      assert.match(await Deno.readTextFile(`${dataDir}/audit.log`), /"tool":"run"/);

      // A key inside ~/.ssh is readable under the flags; one outside is refused before any read.
      const inside = await installKey(home, sshd.keys.ed25519, "inside_key");
      await call(client, "connect", {
        host: sshd.host,
        port: sshd.port,
        username: "mcpnopw",
        private_key_path: inside,
        alias: "inside",
      });
      const outsidePath = `${home}/outside_key`;
      await Deno.copyFile(sshd.keys.ed25519, outsidePath);
      const outside = await client.callTool({
        name: "connect",
        arguments: {
          host: sshd.host,
          port: sshd.port,
          username: "mcptest",
          private_key_path: outsidePath,
          alias: "outside",
        },
      });
      assert.equal(outside.isError, true);
      assert.match(textOf(outside), /outside/);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- server stderr ---\n${stderr}`, { cause: error });
    } finally {
      await client.close();
      await Deno.remove(home, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test("the documented read-only example lists only read-only tools, connect included", async () => {
  const block = (await codeBlocks()).filter((b) => b.lang === "json" && b.text.includes('"ssh-observer"'))
    .map((b) => JSON.parse(b.text)).find((json) => json.mcpServers?.["ssh-observer"] !== undefined);
  assert.ok(block, "the README or docs/ show the ssh-observer example");
  const args: string[] = block.mcpServers["ssh-observer"].args;
  assert.ok(args.includes("-read-only"));
  const home = await makeHome();
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: [...runArgs(), ...args],
    env: serverEnv(home),
    cwd: ROOT,
    stderr: "pipe",
  });
  const client = new Client({ name: "distribution-test", version: "1.0.0" });
  try {
    await client.connect(transport);
    const tools = (await client.listTools()).tools;
    const writers = tools.filter((t) => t.annotations?.readOnlyHint !== true).map((t) => t.name);
    assert.deepEqual(writers, []);
    const names = tools.map((t) => t.name);
    for (const name of ["connect", "disconnect", "connections", "read", "list_dir", "usage", "logs"]) {
      assert.ok(names.includes(name), `${name} is available read-only (got ${names.join(", ")})`);
    }
    for (const name of ["run", "write", "edit"]) assert.ok(!names.includes(name), `${name} is hidden`);
  } finally {
    await client.close();
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

Deno.test("under the compile flags: HTTP /healthz and tools/list answer, SIGTERM exits 0", async () => {
  const home = await makeHome();
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [...runArgs(), "-mode", "http", "-port", String(port)],
    env: serverEnv(home),
    clearEnv: true,
    cwd: ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    const url = `http://127.0.0.1:${port}`;
    let health: Record<string, unknown> | undefined;
    for (const deadline = Date.now() + 15_000; health === undefined && Date.now() < deadline;) {
      try {
        const response = await fetch(`${url}/healthz`);
        if (response.ok) health = await response.json();
        else await response.body?.cancel();
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(health, "the server answered /healthz");
    assert.equal(health.status, "ok");
    assert.equal(typeof health.version, "string");
    await using client = await httpClient({ url }, "modern");
    assert.ok((await client.listTools()).tools.some((t) => t.name === "run"));
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    const err = await stderr;
    await Deno.remove(home, { recursive: true }).catch(() => {});
    assert.equal(status.code, 0, err);
  }
});

/** The runtime stage's ENV of the Dockerfile as a record. */
async function dockerEnv(): Promise<Record<string, string>> {
  const docker = dockerInstructions(await Deno.readTextFile(`${ROOT}Dockerfile`));
  const runtime = docker.slice(docker.findLastIndex((d) => d.instruction === "FROM"));
  const env: Record<string, string> = {};
  for (const d of runtime.filter((d) => d.instruction === "ENV")) {
    for (const m of d.args.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
  }
  return env;
}

Deno.test("with the image's SSH_MCP_HOST=0.0.0.0 the server refuses to start without a token, and serves with one", async () => {
  const { SSH_MCP_HOST } = await dockerEnv();
  assert.equal(SSH_MCP_HOST, "0.0.0.0");
  const home = await makeHome();
  try {
    const port = freePort();
    const refused = await new Deno.Command(Deno.execPath(), {
      args: [...runArgs(), "-port", String(port)],
      env: serverEnv(home, { SSH_MCP_HOST }),
      clearEnv: true,
      cwd: ROOT,
      stdin: "null",
    }).output();
    assert.equal(refused.code, 2);
    assert.match(
      new TextDecoder().decode(refused.stderr),
      /Cannot serve HTTP on non-loopback -host "0\.0\.0\.0" \(env SSH_MCP_HOST\) without a token/,
    );

    const token = crypto.randomUUID().replaceAll("-", "");
    const child = new Deno.Command(Deno.execPath(), {
      args: [...runArgs(), "-port", String(port)],
      env: serverEnv(home, { SSH_MCP_HOST, SSH_MCP_AUTH_TOKEN: token }),
      clearEnv: true,
      cwd: ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    try {
      let health = 0;
      for (const deadline = Date.now() + 15_000; health !== 200 && Date.now() < deadline;) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/healthz`);
          health = response.status;
          await response.body?.cancel();
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assert.equal(health, 200, "HEALTHCHECK's request answers without a token");
      const mcp = await fetch(`http://127.0.0.1:${port}/mcp`, { method: "POST", body: "{}" });
      assert.equal(mcp.status, 401, "/mcp needs the token");
      await mcp.body?.cancel();
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await stderr;
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
});

// ---------------------------------------------------------------------------------------------------
// The binary

/** The start of the JSON metadata `deno compile` appends to a binary. */
const METADATA = new TextEncoder().encode('{"argv":');

function lastIndexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = haystack.length - needle.length; i >= 0; i--) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The binary's metadata object: the JSON value that starts at the last `{"argv":`. */
function compiledMetadata(binary: Uint8Array): Record<string, unknown> {
  const start = lastIndexOf(binary, METADATA);
  assert.ok(start >= 0, "the binary carries deno compile metadata");
  const text = new TextDecoder().decode(binary.subarray(start, start + 200_000));
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return JSON.parse(text.slice(0, i + 1));
  }
  throw new Error("unterminated deno compile metadata");
}

Deno.test(
  "a binary built by the compile task under one HOME bakes in no path of it: read/write are whole, the rest as the flags say",
  async () => {
    const buildHome = await Deno.makeTempDir({ prefix: "ssh-mcp-build-home-" });
    const outDir = await Deno.makeTempDir({ prefix: "ssh-mcp-compile-" });
    try {
      const binary = `${outDir}/ssh-mcp`;
      const words = TASKS.compile!.split(" ");
      assert.equal(words[0], "deno");
      const args = words.slice(1).map((w, i, all) => all[i - 1] === "--output" ? binary : w);
      // `deno compile` appends the program to a Deno runtime (`denort`) it downloads; this machine
      // cannot download it, so the deno binary itself stands in. The payload, metadata included, is
      // the same; the result cannot run, which is why the tests run main.ts under exactly these flags.
      const out = await new Deno.Command(Deno.execPath(), {
        args,
        cwd: ROOT,
        env: { HOME: buildHome, DENO_DIR: denoDir(), DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
        clearEnv: true,
      }).output();
      const stdout = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.ok(out.success, stdout);
      assert.match(stdout, /serve\.ts/, `the Worker module is embedded:\n${stdout}`);
      const bytes = await Deno.readFile(binary);
      const meta = compiledMetadata(bytes);
      const permissions = meta.permissions as Record<string, unknown>;
      assert.deepEqual(permissions.allow_read, [], "read: everything (an empty list), narrowed at start-up");
      assert.deepEqual(permissions.allow_write, []);
      assert.deepEqual(permissions.allow_net, []);
      assert.deepEqual(permissions.allow_env, [...ENV_VARS]);
      for (const key of ["allow_run", "allow_ffi", "allow_sys"]) assert.equal(permissions[key], null, key);
      assert.equal(permissions.prompt, false);
      assert.deepEqual(
        [...(meta.unstable_config as { features: string[] }).features].sort(),
        [...UNSTABLE_FEATURES].sort(),
      );
      assert.ok(!JSON.stringify(meta).includes(buildHome), "no build HOME in the metadata");
      assert.equal(lastIndexOf(bytes, new TextEncoder().encode(buildHome)), -1, "no build HOME anywhere");
    } finally {
      await Deno.remove(outDir, { recursive: true }).catch(() => {});
      await Deno.remove(buildHome, { recursive: true }).catch(() => {});
    }
  },
);

function denoDir(): string {
  return Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;
}

// ---------------------------------------------------------------------------------------------------
// Documentation snippets

interface Block {
  file: string;
  line: number;
  lang: string;
  text: string;
}

async function markdownFiles(): Promise<string[]> {
  const files = [`${ROOT}README.md`];
  for await (const entry of Deno.readDir(`${ROOT}docs`)) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`${ROOT}docs/${entry.name}`);
  }
  return files.sort();
}

async function codeBlocks(): Promise<Block[]> {
  const blocks: Block[] = [];
  for (const file of await markdownFiles()) {
    const lines = (await Deno.readTextFile(file)).split("\n");
    for (let i = 0; i < lines.length; i++) {
      const open = /^(\s*)```(\S*)\s*$/.exec(lines[i]!);
      if (!open) continue;
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
      blocks.push({ file: file.slice(ROOT.length), line: start + 1, lang: open[2]!, text: body.join("\n") });
    }
  }
  return blocks;
}

Deno.test("every ```json block in README.md and docs/*.md is one valid JSON value (```jsonl: one per line)", async () => {
  const problems: string[] = [];
  let checked = 0;
  for (const block of await codeBlocks()) {
    const values = block.lang === "json"
      ? [block.text]
      : block.lang === "jsonl"
      ? block.text.split("\n").filter((l) => l.trim() !== "")
      : [];
    for (const value of values) {
      checked++;
      try {
        JSON.parse(value);
      } catch (error) {
        problems.push(`${block.file}:${block.line} (${block.lang}): ${(error as Error).message}`);
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(checked >= 10, `only ${checked} JSON snippets found`);
});

Deno.test("client set-up snippets launch the server with the flags of src/sandbox/flags.ts, the binary, or the image", async () => {
  const problems: string[] = [];
  let denoRuns = 0;
  let binaries = 0;
  let dockers = 0;
  for (const block of await codeBlocks()) {
    if (block.lang !== "json") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(block.text);
    } catch {
      continue; // reported by the previous test
    }
    const servers = (parsed as { mcpServers?: unknown; servers?: unknown }).mcpServers ??
      (parsed as { servers?: unknown }).servers;
    if (servers === undefined || typeof servers !== "object") continue;
    for (const [name, server] of Object.entries(servers as Record<string, Record<string, unknown>>)) {
      const where = `${block.file}:${block.line} ${name}`;
      const args = (server.args ?? []) as string[];
      if (typeof server.url === "string") {
        if (!/^https?:\/\/[^/]+\/mcp$/.test(server.url)) problems.push(`${where}: url should end in /mcp`);
        continue;
      }
      if (server.command === "npx" && args.includes("run")) {
        denoRuns++;
        const run = args.slice(args.indexOf("run"));
        const entry = run.findIndex((a) => a.endsWith("main.ts"));
        if (JSON.stringify(run.slice(0, entry + 1)) !== JSON.stringify(flagRunArgs(run[entry]))) {
          problems.push(`${where}: deno run flags differ from src/sandbox/flags.ts (run: deno task flags)`);
        }
        if (!args.includes("deno@2.9.6")) problems.push(`${where}: pin deno@2.9.6`);
        if (!run.slice(entry).join(" ").includes("-mode stdio")) problems.push(`${where}: -mode stdio`);
      } else if (server.command === "docker") {
        dockers++;
        if (!args.includes("-i")) problems.push(`${where}: docker run needs -i for stdio`);
        if (!args.some((a) => a.endsWith(":/data"))) problems.push(`${where}: mount a volume on /data`);
      } else if (typeof server.command === "string" && /ssh-mcp(\.exe)?$/.test(server.command)) {
        binaries++;
        if (!args.join(" ").includes("-mode stdio")) problems.push(`${where}: -mode stdio`);
      }
    }
  }
  assert.deepEqual(problems, []);
  assert.ok(
    denoRuns >= 1 && binaries >= 1 && dockers >= 1,
    `deno run ${denoRuns}, binary ${binaries}, docker ${dockers}`,
  );
});
