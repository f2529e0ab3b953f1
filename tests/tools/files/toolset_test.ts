import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { Client } from "@modelcontextprotocol/client";
import { isTempName } from "../../../src/ssh/sftp/atomic_write.ts";
import { editDiff } from "../../../src/tools/files/write.ts";
import { call, installKey, passwordLogin, rssBytes, withConnectedClient } from "../../_helpers/mcp_ssh.ts";
import { httpClient, startHttpServer, textOf } from "../../_helpers/server.ts";
import { run, startSshd, type TestSshd } from "../../_helpers/sshd.ts";

interface ReadResult {
  content: string;
  size: number;
  sha256: string | null;
  offset: number;
  returned: number;
  total_lines?: number | null;
  truncated: boolean;
  next_offset: number | null;
}

interface WriteResult {
  path: string;
  symlink?: string;
  created: boolean;
  size: number;
  sha256: string;
  mode: string;
  uid: number;
  gid: number;
  owner_preserved: boolean | null;
}

interface EditResult {
  replacements: number;
  diff: string;
  sha256: string;
  previous_sha256: string;
  owner_preserved: boolean | null;
}

interface SyncResult {
  type: string;
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  sha256: string | null;
  skipped: string[];
}

function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A scratch directory on the (local) test host, owned by `user`. */
async function scratch(user = "mcptest"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-files-" });
  await run("chown", [`${user}:${user}`, dir], { check: true });
  return dir;
}

async function tempFiles(dir: string): Promise<string[]> {
  const found = await run("find", [dir, "-name", ".*.mcp-*.tmp"], { check: true });
  return found.stdout.split("\n").filter((p) => p && isTempName(p.slice(p.lastIndexOf("/") + 1)));
}

/** Calls a tool that must fail; returns its text. */
async function fails(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = await client.callTool({ name, arguments: args });
  assert.equal(result.isError, true, `${name} should have failed: ${textOf(result)}`);
  return textOf(result);
}

async function connectRoot(client: Client, sshd: TestSshd, home: string, alias = "root"): Promise<void> {
  const key = await installKey(home, sshd.keys.ed25519, "id_files_test");
  await call(client, "connect", {
    host: sshd.host,
    port: sshd.port,
    username: "root",
    private_key_path: key,
    alias,
  });
}

Deno.test("write then read round-trip text, UTF-8, empty and binary files byte for byte", async () => {
  await using bed = await withConnectedClient({
    era: "legacy",
    server: { args: ["-max-output", "4000000"] },
  });
  const { client } = bed;
  const dir = await scratch();
  try {
    const texts: Record<string, string> = {
      "plain.txt": "first\nsecond\n",
      "utf8.txt": "Grüße, 世界 😀\nno newline at end",
      "empty.txt": "",
      "bom.txt": "\uFEFFwith a byte order mark\n",
    };
    for (const [name, content] of Object.entries(texts)) {
      const w = await call<WriteResult>(client, "write", { path: `${dir}/${name}`, content });
      assert.equal(w.created, true);
      assert.equal(w.sha256, sha256(content));
      assert.equal(w.mode, "0644");
      assert.equal(await Deno.readTextFile(`${dir}/${name}`), content);
      const r = await call<ReadResult>(client, "read", { path: `${dir}/${name}` });
      assert.equal(r.content, content, name);
      assert.equal(r.sha256, sha256(content));
      assert.equal(r.size, new TextEncoder().encode(content).length);
      assert.equal(r.truncated, false);
    }
    // Sizes around the 255 KiB SFTP chunk and one far from any multiple of it.
    for (const size of [1, 261_119, 261_120, 261_121, 1_000_003]) {
      const bytes = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
      const data = new Uint8Array(size);
      for (let at = 0; at < size; at += bytes.length) data.set(bytes.subarray(0, size - at), at);
      const path = `${dir}/bin-${size}`;
      const w = await call<WriteResult>(client, "write", {
        path,
        content: btoa(Array.from(data, (b) => String.fromCharCode(b)).join("")),
        encoding: "base64",
      });
      assert.equal(w.size, size);
      assert.deepEqual(await Deno.readFile(path), data);
      const r = await call<ReadResult>(client, "read", { path, encoding: "base64" });
      assert.equal(r.returned, size);
      assert.deepEqual(Uint8Array.from(atob(r.content), (c) => c.charCodeAt(0)), data);
      assert.equal(r.sha256, sha256(data));
    }
    const binary = await fails(client, "read", { path: `${dir}/bin-1000003` });
    assert.match(binary, /encoding: "base64"/);
    assert.deepEqual(await tempFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("read returns line windows with totals and a continuation, capped at -max-output", async () => {
  await using bed = await withConnectedClient({ server: { args: ["-max-output", "2048"] } });
  const { client } = bed;
  const dir = await scratch();
  try {
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i + 1}`);
    await Deno.writeTextFile(`${dir}/f`, lines.join("\n") + "\n");
    const w = await call<ReadResult>(client, "read", { path: `${dir}/f`, offset: 10, limit: 3 });
    assert.equal(w.content, "line 10\nline 11\nline 12\n");
    assert.equal(w.total_lines, 500);
    assert.equal(w.next_offset, 13);
    assert.equal(w.truncated, true);
    assert.equal(w.sha256, sha256(await Deno.readFile(`${dir}/f`)));
    const capped = await call<ReadResult>(client, "read", { path: `${dir}/f` });
    assert.ok(new TextEncoder().encode(capped.content).length <= 2048);
    assert.ok(capped.content.endsWith("\n"));
    assert.equal(capped.next_offset, capped.returned + 1);
    const tail = await call<ReadResult>(client, "read", { path: `${dir}/f`, offset: 499 });
    assert.equal(tail.content, "line 499\nline 500\n");
    assert.equal(tail.next_offset, null);
    const bytes = await call<ReadResult>(client, "read", {
      path: `${dir}/f`,
      encoding: "base64",
      offset: 5,
      limit: 4,
    });
    assert.equal(atob(bytes.content), "1\nli");
    assert.equal(bytes.next_offset, 9);
    await Deno.writeTextFile(`${dir}/long`, "é".repeat(5000));
    const cut = await call<ReadResult>(client, "read", { path: `${dir}/long` });
    assert.equal(cut.content, "é".repeat(1024));
    assert.equal(cut.truncated, true);
    assert.match(await fails(client, "read", { path: `${dir}/missing` }), /no such file.*\nNext: /s);
    assert.match(await fails(client, "read", { path: dir }), /is a directory/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("write and edit keep modes 0600/0640/0755, and as root the owner of another user's file", async () => {
  await using bed = await withConnectedClient({ era: "legacy" });
  const { client, sshd, server } = bed;
  const dir = await scratch();
  try {
    for (const mode of [0o600, 0o640, 0o755]) {
      const path = `${dir}/mode-${mode.toString(8)}`;
      await call(client, "write", { path, content: "a\n", mode: mode.toString(8).padStart(4, "0") });
      assert.equal((await Deno.stat(path)).mode! & 0o7777, mode);
      const w = await call<WriteResult>(client, "write", { path, content: "b\n" });
      assert.equal(w.mode, mode.toString(8).padStart(4, "0"));
      await call(client, "edit", { path, old_text: "b", new_text: "c" });
      assert.equal((await Deno.stat(path)).mode! & 0o7777, mode);
      assert.equal(await Deno.readTextFile(path), "c\n");
    }
    await connectRoot(client, sshd, server.home);
    const owned = `${dir}/owned-by-mcpnopw`;
    await Deno.writeTextFile(owned, "key = 1\n");
    await run("chown", ["mcpnopw:mcpnopw", owned], { check: true });
    await Deno.chmod(owned, 0o4750);
    const e = await call<EditResult>(client, "edit", {
      path: owned,
      old_text: "key = 1",
      new_text: "key = 2",
      target: "root",
    });
    assert.equal(e.owner_preserved, true);
    const info = await Deno.stat(owned);
    assert.equal(info.uid, sshd.users.mcpnopw.uid);
    assert.equal(info.mode! & 0o7777, 0o4750);
    assert.equal(await Deno.readTextFile(owned), "key = 2\n");
    assert.deepEqual(await tempFiles(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("write and edit through a symlink replace its target and the link stays a link", async () => {
  await using bed = await withConnectedClient({ era: "legacy" });
  const { client } = bed;
  const dir = await scratch();
  try {
    await Deno.writeTextFile(`${dir}/real.conf`, "a=1\n");
    await Deno.symlink("real.conf", `${dir}/link.conf`);
    await run("chown", ["-h", "mcptest:mcptest", `${dir}/real.conf`, `${dir}/link.conf`], { check: true });
    const w = await call<WriteResult>(client, "write", { path: `${dir}/link.conf`, content: "a=2\n" });
    assert.equal(w.path, `${dir}/real.conf`);
    assert.equal(w.symlink, `${dir}/link.conf`);
    await call(client, "edit", { path: `${dir}/link.conf`, old_text: "a=2", new_text: "a=3" });
    assert.equal((await Deno.lstat(`${dir}/link.conf`)).isSymlink, true);
    assert.equal(await Deno.readLink(`${dir}/link.conf`), "real.conf");
    assert.equal(await Deno.readTextFile(`${dir}/real.conf`), "a=3\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("edit requires a unique match, lists the matching lines, replaces all on request, keeps CRLF", async () => {
  await using bed = await withConnectedClient();
  const { client } = bed;
  const dir = await scratch();
  try {
    const path = `${dir}/app.ini`;
    await Deno.writeTextFile(path, "[a]\nport=1\nx\n[b]\nport=1\ny\n");
    const twice = await fails(client, "edit", { path, old_text: "port=1", new_text: "port=2" });
    assert.match(twice, /occurs 2 times \(at lines 2, 5\)/);
    assert.match(await fails(client, "edit", { path, old_text: "nope", new_text: "x" }), /not found/);
    const one = await call<EditResult>(client, "edit", {
      path,
      old_text: "[b]\nport=1",
      new_text: "[b]\nport=3",
    });
    assert.equal(one.replacements, 1);
    assert.match(one.diff, /@@ -3,4 \+3,4 @@\n x\n \[b\]\n-port=1\n\+port=3\n y/);
    const all = await call<EditResult>(client, "edit", {
      path,
      old_text: "port",
      new_text: "listen",
      replace_all: true,
    });
    assert.equal(all.replacements, 2);
    assert.equal(await Deno.readTextFile(path), "[a]\nlisten=1\nx\n[b]\nlisten=3\ny\n");

    const dos = `${dir}/dos.txt`;
    await Deno.writeTextFile(dos, "one\r\ntwo\r\nthree\r\n");
    await call(client, "edit", { path: dos, old_text: "one\ntwo", new_text: "one\nbetween\ntwo" });
    assert.equal(await Deno.readTextFile(dos), "one\r\nbetween\r\ntwo\r\nthree\r\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a change between read and edit (expected_sha256) is rejected and nothing is written", async () => {
  await using bed = await withConnectedClient({ era: "legacy" });
  const { client } = bed;
  const dir = await scratch();
  try {
    const path = `${dir}/f`;
    await Deno.writeTextFile(path, "v=1\n");
    const { sha256: seen } = await call<ReadResult>(client, "read", { path });
    await Deno.writeTextFile(path, "v=1\nother=1\n"); // someone else edits meanwhile
    const text = await fails(client, "edit", {
      path,
      old_text: "v=1",
      new_text: "v=2",
      expected_sha256: seen,
    });
    assert.match(text, /changed since it was read/);
    assert.match(await fails(client, "write", { path, content: "v=9\n", expected_sha256: seen }), /changed/);
    assert.equal(await Deno.readTextFile(path), "v=1\nother=1\n");
    assert.deepEqual(await tempFiles(dir), []);
    const fresh = await call<ReadResult>(client, "read", { path });
    await call(client, "edit", { path, old_text: "v=1", new_text: "v=2", expected_sha256: fresh.sha256 });
    assert.equal(await Deno.readTextFile(path), "v=2\nother=1\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("list_dir returns sorted entries with type, modes, owner and link target", async () => {
  await using bed = await withConnectedClient({ era: "legacy" });
  const { client } = bed;
  const dir = await scratch();
  try {
    await Deno.writeTextFile(`${dir}/b`, "xyz");
    await Deno.chmod(`${dir}/b`, 0o640);
    await Deno.mkdir(`${dir}/a`);
    await Deno.symlink("b", `${dir}/c`);
    await Deno.writeTextFile(`${dir}/.h`, "");
    const listing = await call<{ entries: Array<Record<string, unknown>>; total: number; omitted: number }>(
      client,
      "list_dir",
      { path: dir },
    );
    assert.deepEqual(listing.entries.map((e) => e.name), ["a", "b", "c"]);
    assert.deepEqual(
      { ...listing.entries[1], mtime: undefined },
      {
        name: "b",
        type: "file",
        size: 3,
        mode: "0640",
        permissions: "-rw-r-----",
        owner: "root",
        group: "root",
        uid: 0,
        gid: 0,
        mtime: undefined,
      },
    );
    assert.equal(listing.entries[2]!.target, "b");
    const all = await call<{ total: number }>(client, "list_dir", { path: dir, all: true });
    assert.equal(all.total, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sync copies a 1 GiB file between connections with the right sha256 and < 64 MiB server RSS growth in steady state", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await connectRoot(client, sshd, server.home, "src");
  await connectRoot(client, sshd, server.home, "dst");
  const dir = await scratch("root");
  try {
    // One string: ssh joins its arguments into the remote command line.
    const made = await sshd.ssh([`head -c 1073741824 /dev/urandom > ${dir}/big && chmod 0640 ${dir}/big`], {
      user: "root",
      timeoutMs: 120_000,
    });
    assert.equal(made.code, 0, made.stderr);
    // Cold growth is dominated by a one-off, size-independent GC plateau (V8 collects ArrayBuffer
    // garbage from ssh2 and Deno streams only after ~64 MiB of it); a 256 MiB warm-up sync reaches
    // it, so the measured growth is what depends on the file size.
    const pid = server.child.pid;
    const cold = rssBytes(pid);
    await run("sh", ["-c", `head -c 268435456 ${dir}/big > ${dir}/warm`], { check: true });
    await call(client, "sync", {
      source_node: "src",
      source_path: `${dir}/warm`,
      dest_node: "dst",
      dest_path: `${dir}/warm2`,
    });
    const before = rssBytes(pid);
    let peak = before;
    const sampler = setInterval(() => peak = Math.max(peak, rssBytes(pid)), 100);
    const progress: number[] = [];
    const started = Date.now();
    let result;
    try {
      result = await client.callTool({
        name: "sync",
        arguments: {
          source_node: "src",
          source_path: `${dir}/big`,
          dest_node: "dst",
          dest_path: `${dir}/out/big`,
        },
      }, { onprogress: (p) => void progress.push(p.progress), timeout: 300_000 });
    } finally {
      clearInterval(sampler);
    }
    assert.equal(result.isError, undefined, textOf(result));
    let data = result.structuredContent as unknown as SyncResult & { job_id?: string };
    // Past the wait (-run-wait) the sync goes on as a job of the server: follow it to its result.
    if (data.job_id !== undefined) {
      const sampling = setInterval(() => peak = Math.max(peak, rssBytes(pid)), 100);
      try {
        for (;;) {
          const page = await call<{ status: string; result?: SyncResult }>(client, "job_output", {
            job_id: data.job_id,
            wait: 30,
          });
          if (page.status === "running") continue;
          assert.equal(page.status, "exited", JSON.stringify(page));
          data = page.result!;
          break;
        }
      } finally {
        clearInterval(sampling);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    const sums = await sshd.ssh(["sha256sum", `${dir}/big`, `${dir}/out/big`], {
      user: "root",
      timeoutMs: 60_000,
    });
    const [source, dest] = sums.stdout.trim().split("\n").map((l) => l.split(" ")[0]);
    assert.equal(dest, source);
    assert.equal(data.sha256, source);
    assert.equal(data.bytes, 1 << 30);
    assert.equal((await Deno.stat(`${dir}/out/big`)).mode! & 0o7777, 0o640);
    assert.ok(progress.length >= 2, `only ${progress.length} progress notifications`);
    const growth = (peak - before) / (1024 * 1024);
    const total = (peak - cold) / (1024 * 1024);
    console.log(
      `sync 1 GiB: ${(1024 / seconds).toFixed(0)} MiB/s, server RSS growth ${growth.toFixed(1)} MiB ` +
        `(${total.toFixed(1)} MiB including the warm-up's GC plateau)`,
    );
    assert.ok(growth < 64, `server RSS grew by ${growth.toFixed(1)} MiB during the 1 GiB sync`);
    assert.ok(total < 160, `server RSS grew by ${total.toFixed(1)} MiB in all`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sync copies a tree exactly: nested dirs, symlinks, empty files and dirs, modes", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "modern");
  await connectRoot(client, sshd, server.home, "a");
  await call(client, "connect", passwordLogin(sshd, "mcptest", { alias: "b" }));
  const dir = await scratch("root");
  const dest = await scratch("mcptest");
  try {
    await run("sh", [
      "-c",
      `cd ${dir} && mkdir -p tree/x/y/z tree/empty && printf 'hello' > tree/x/a.txt && : > tree/x/y/empty.txt && ` +
      `head -c 300000 /dev/urandom > tree/x/y/z/blob && ln -s x/a.txt tree/link && ln -s ../nowhere tree/x/dangling && ` +
      `ln -s y tree/x/dirlink && chmod 0700 tree/x/y && chmod 0755 tree/x/y/z/blob && chmod -R a+rX tree/x/a.txt`,
    ], { check: true });
    const result = await call<SyncResult>(client, "sync", {
      source_node: "a",
      source_path: `${dir}/tree`,
      dest_node: "b",
      dest_path: `${dest}/copy`,
    });
    assert.equal(result.type, "directory");
    assert.equal(result.files, 3);
    assert.equal(result.symlinks, 3);
    const listing = (root: string) =>
      run("sh", ["-c", `cd ${root} && find . -printf '%p %y %m %s %l\\n' | sort`], { check: true });
    assert.equal((await listing(`${dest}/copy`)).stdout, (await listing(`${dir}/tree`)).stdout);
    const sums = (root: string) =>
      run("sh", ["-c", `cd ${root} && find . -type f -exec sha256sum {} + | sort`], { check: true });
    assert.equal((await sums(`${dest}/copy`)).stdout, (await sums(`${dir}/tree`)).stdout);
    assert.deepEqual(await tempFiles(dest), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dest, { recursive: true });
  }
});

Deno.test("sync refuses a missing source, an unwritable destination, and the same node and path", async () => {
  await using sshd = await startSshd();
  await using server = await startHttpServer();
  await using client = await httpClient(server, "legacy");
  await call(client, "connect", passwordLogin(sshd, "mcptest", { alias: "t" }));
  await call(client, "connect", passwordLogin(sshd, "mcpnopw", { alias: "n" }));
  const dir = await scratch();
  try {
    await Deno.writeTextFile(`${dir}/f`, "data");
    const args = { source_node: "t", dest_node: "n" };
    assert.match(
      await fails(client, "sync", { ...args, source_path: `${dir}/missing`, dest_path: "/tmp/x" }),
      /does not exist on t/,
    );
    assert.match(
      await fails(client, "sync", { ...args, source_path: `${dir}/f`, dest_path: "/root/f" }),
      /permission denied/,
    );
    assert.match(
      await fails(client, "sync", {
        source_node: "t",
        dest_node: "t",
        source_path: `${dir}/f`,
        dest_path: `${dir}/f`,
      }),
      /the destination is the source/,
    );
    assert.match(
      await fails(client, "sync", {
        source_node: "t",
        dest_node: "t",
        source_path: dir,
        dest_path: `${dir}/sub`,
      }),
      /inside it/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("editDiff() shows only the changed hunks with two lines of context, merging close ones", () => {
  const lines = Array.from({ length: 20 }, (_, i) => ([2, 4, 16].includes(i) ? "old" : `line ${i + 1}`));
  const before = lines.join("\n") + "\n";
  const after = before.replaceAll("old\n", "new\n");
  const at = [...before.matchAll(/old\n/g)].map((m) => m.index);
  const diff = editDiff("f", before, after, { at, oldLength: 4, newLength: 4 });
  assert.equal(
    diff,
    [
      "--- f",
      "+++ f",
      "@@ -1,7 +1,7 @@",
      " line 1",
      " line 2",
      "-old",
      "+new",
      " line 4",
      "-old",
      "+new",
      " line 6",
      " line 7",
      "@@ -15,5 +15,5 @@",
      " line 15",
      " line 16",
      "-old",
      "+new",
      " line 18",
      " line 19",
    ].join("\n"),
  );
  const grown = editDiff("g", "a\nb\n", "a\nb\nc\n", { at: [2], oldLength: 2, newLength: 4 });
  assert.equal(grown, "--- g\n+++ g\n@@ -1,2 +1,3 @@\n a\n b\n+c");
});
