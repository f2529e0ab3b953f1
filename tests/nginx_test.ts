/**
 * Several instances behind a real nginx (Debian package `nginx`), configured with the exact block
 * the documentation shows (README.md or docs/): `hash $http_x_session_key consistent`. A client with a fixed
 * X-Session-Key always reaches the same instance, hence the same pool of SSH connections.
 */
import assert from "node:assert/strict";
import { call, passwordLogin } from "./_helpers/mcp_ssh.ts";
import { httpClient, type HttpServerProcess, startHttpServer } from "./_helpers/server.ts";
import { hasProgram, requirePrograms } from "./_helpers/require.ts";
import { startSshd } from "./_helpers/sshd.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Markdown files that may hold the documented snippets (the README, docs/). */
async function markdown(): Promise<string[]> {
  const texts = [await Deno.readTextFile(`${ROOT}README.md`)];
  for await (const entry of Deno.readDir(`${ROOT}docs`)) {
    if (entry.name.endsWith(".md")) texts.push(await Deno.readTextFile(`${ROOT}docs/${entry.name}`));
  }
  return texts;
}

/** The documented ```nginx block (README or docs/), pointed at our instances and a loopback port. */
async function documentedConfig(upstreams: readonly string[], port: number): Promise<string> {
  const blocks = new Set<string>();
  for (const text of await markdown()) {
    for (const m of text.matchAll(/^```nginx\n([\s\S]*?)^```$/gm)) blocks.add(m[1]!);
  }
  assert.equal(blocks.size, 1, "one documented ```nginx block (copies must be identical)");
  const block = [...blocks][0]!;
  assert.match(block, /hash \$http_x_session_key consistent;/);
  const servers = [...block.matchAll(/^(\s*)server \S+:\d+;\n/gm)];
  assert.equal(servers.length, 2, "two upstream servers in the documented block");
  const indent = servers[0]![1]!;
  let text = block.replace(/^\s*server \S+:\d+;\n/gm, "");
  text = text.replace(
    /(hash \$http_x_session_key consistent;\n)/,
    (line) => line + upstreams.map((u) => `${indent}server ${u};\n`).join(""),
  );
  const listens = text.match(/^\s*listen \d+;$/gm) ?? [];
  assert.equal(listens.length, 1, "one plain listen line");
  return text.replace(/^(\s*)listen \d+;$/m, `$1listen 127.0.0.1:${port};`);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface Nginx extends AsyncDisposable {
  url: string;
  /** `key upstream` per proxied request so far. */
  routes(): Promise<Array<{ key: string; upstream: string }>>;
}

async function startNginx(upstreams: readonly string[]): Promise<Nginx> {
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-nginx-" });
  const port = freePort();
  const temp = ["body", "proxy", "fastcgi", "uwsgi", "scgi"];
  for (const t of temp) await Deno.mkdir(`${dir}/${t}`);
  const conf = [
    // As root, workers would switch to an unprivileged user that cannot use the temp dir.
    ...(Deno.uid() === 0 ? ["user root;"] : []),
    "worker_processes 1;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    "events { worker_connections 256; }",
    "http {",
    "  log_format routes '$http_x_session_key $upstream_addr';",
    `  access_log ${dir}/access.log routes;`,
    ...temp.map((t) => `  ${t === "body" ? "client_body" : t}_temp_path ${dir}/${t};`),
    await documentedConfig(upstreams, port),
    "}",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  // Debian installs it in /usr/sbin, which a non-root PATH may lack.
  const program = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"].find((p) => hasProgram(p)) ?? "nginx";
  const child = new Deno.Command(program, {
    args: ["-p", dir, "-e", `${dir}/error.log`, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const url = `http://127.0.0.1:${port}`;
  const dispose = async () => {
    if (!exited) child.kill("SIGQUIT");
    await status;
    await stderr;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    for (const deadline = Date.now() + 10_000;;) {
      if (exited) throw new Error(`nginx exited: ${await stderr}\n${conf}`);
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      } catch {
        if (Date.now() > deadline) throw new Error("nginx did not start");
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    url,
    async routes() {
      const text = await Deno.readTextFile(`${dir}/access.log`).catch(() => "");
      return text.split("\n").filter(Boolean).map((line) => {
        const [key, upstream] = line.split(" ");
        return { key: key!, upstream: upstream! };
      });
    },
    [Symbol.asyncDispose]: dispose,
  };
}

const address = (server: HttpServerProcess) => `127.0.0.1:${server.port}`;

Deno.test("behind nginx hashing X-Session-Key, a fixed key always reaches the same instance and pool", {
  ignore: !requirePrograms("nginx", "/usr/sbin/sshd"),
}, async () => {
  await using sshd = await startSshd();
  await using one = await startHttpServer();
  await using two = await startHttpServer();
  await using nginx = await startNginx([address(one), address(two)]);

  const key = `sticky-${crypto.randomUUID()}`;
  {
    await using client = await httpClient(nginx, "legacy", { "X-Session-Key": key });
    const connected = await call<{ alias: string }>(
      client,
      "connect",
      passwordLogin(sshd, "mcptest", { alias: "pinned" }),
    );
    assert.equal(connected.alias, "pinned");
  }
  // New clients, both protocol eras, same key: the alias is there every time.
  for (const era of ["modern", "legacy", "modern", "legacy", "modern"] as const) {
    await using client = await httpClient(nginx, era, { "X-Session-Key": key });
    const listed = await call<{ connections: Array<{ alias: string; state: string }> }>(
      client,
      "connections",
      {},
    );
    assert.deepEqual(listed.connections.map((c) => c.alias), ["pinned"], `${era} client`);
  }
  let pinned = (await nginx.routes()).filter((r) => r.key === key);
  for (let i = 0; i < 40 && pinned.length < 6; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    pinned = (await nginx.routes()).filter((r) => r.key === key);
  }
  assert.ok(pinned.length >= 6, `${pinned.length} proxied requests with the key`);
  const upstreams = new Set(pinned.map((r) => r.upstream));
  assert.equal(upstreams.size, 1, `one instance for the key, got ${[...upstreams].join(", ")}`);

  // The other instance, asked directly with the same key, has no such pool: the stickiness is nginx's.
  const chosen = [...upstreams][0]!;
  const other = chosen === address(one) ? two : one;
  {
    await using direct = await httpClient(other, "modern", { "X-Session-Key": key });
    const listed = await call<{ connections: unknown[] }>(direct, "connections", {});
    assert.deepEqual(listed.connections, []);
  }

  // Many different keys spread over both instances, each key always to the same one.
  const keys = Array.from({ length: 40 }, (_, i) => `spread-${i}-${crypto.randomUUID()}`);
  for (const k of [...keys, ...keys]) {
    const response = await fetch(`${nginx.url}/healthz`, { headers: { "X-Session-Key": k } });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  }
  // nginx writes an access-log line after it has answered: wait for the last ones.
  let routes = (await nginx.routes()).filter((r) => r.key.startsWith("spread-"));
  for (let i = 0; i < 40 && routes.length < 80; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    routes = (await nginx.routes()).filter((r) => r.key.startsWith("spread-"));
  }
  assert.equal(routes.length, 80);
  const byKey = new Map<string, Set<string>>();
  for (const r of routes) byKey.set(r.key, (byKey.get(r.key) ?? new Set()).add(r.upstream));
  for (const [k, set] of byKey) assert.equal(set.size, 1, `${k} reached ${[...set].join(", ")}`);
  const used = new Set(routes.map((r) => r.upstream));
  assert.deepEqual([...used].sort(), [address(one), address(two)].sort(), "both instances get traffic");
});
