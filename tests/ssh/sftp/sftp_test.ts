import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { SshError, ToolError } from "../../../src/errors.ts";
import { openConnection } from "../../../src/ssh/client.ts";
import type { SshConnection } from "../../../src/ssh/connection.ts";
import { Link } from "../../../src/ssh/link.ts";
import { openSftp, type Sftp, symbolicMode } from "../../../src/ssh/sftp/sftp.ts";
import { copy } from "../../../src/ssh/sftp/copy.ts";
import { isTempName } from "../../../src/ssh/sftp/atomic_write.ts";
import { requirePrograms } from "../../_helpers/require.ts";
import { run, startSshd, type TestSshd, type TestUserName } from "../../_helpers/sshd.ts";

const ignore = !requirePrograms("sshd", "ssh", "ssh-keygen");

async function connect(
  sshd: TestSshd,
  user: TestUserName = "mcptest",
  port = sshd.port,
): Promise<SshConnection> {
  return await openConnection({
    host: sshd.host,
    port,
    username: user,
    auth: [{ type: "publickey", label: "test key", key: await Deno.readTextFile(sshd.keys.ed25519) }],
    checkHostKey: () => Promise.resolve(true),
    connectTimeoutMs: 10_000,
    keepaliveIntervalMs: 0,
    keepaliveCountMax: 3,
  });
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

async function readAll(sftp: Sftp, path: string): Promise<{ bytes: Uint8Array; sha256: string }> {
  const parts: Uint8Array[] = [];
  const summary = await sftp.readEach(path, (chunk) => void parts.push(chunk.slice()));
  const bytes = new Uint8Array(summary.size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return { bytes, sha256: summary.sha256 };
}

/** A scratch directory on the test host, owned by `user`. */
async function scratch(user = "mcptest"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-sftp-" });
  await run("chown", [`${user}:${user}`, dir], { check: true });
  return dir;
}

async function tempNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) if (isTempName(entry.name)) names.push(entry.name);
  return names;
}

Deno.test("atomicWrite() and readEach() round-trip text, UTF-8, empty and binary files byte for byte", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  await using conn = await connect(sshd);
  const sftp = await openSftp(conn);
  const dir = await scratch();
  try {
    const chunk = sftp.writeChunk;
    const cases: Array<[string, Uint8Array]> = [
      ["text.txt", new TextEncoder().encode("hello\nworld\n")],
      ["utf8.txt", new TextEncoder().encode("grüße 😀 日本語\r\nzweite Zeile")],
      ["empty", new Uint8Array(0)],
      ["one", new Uint8Array([0])],
      ["chunk-1.bin", randomBytes(chunk - 1)],
      ["chunk.bin", randomBytes(chunk)],
      ["chunk+1.bin", randomBytes(chunk + 1)],
      ["odd.bin", randomBytes(5 * chunk + 12_345)],
    ];
    for (const [name, bytes] of cases) {
      const outcome = await sftp.atomicWrite(`${dir}/${name}`, bytes);
      assert.equal(outcome.size, bytes.length, name);
      assert.equal(outcome.sha256, sha256(bytes), name);
      assert.equal(outcome.created, true);
      assert.deepEqual(await Deno.readFile(`${dir}/${name}`), bytes, `${name} on disk`);
      const back = await readAll(sftp, `${dir}/${name}`);
      assert.deepEqual(back.bytes, bytes, `${name} read back`);
      assert.equal(back.sha256, sha256(bytes));
    }
    const remote = await sshd.ssh(["sha256sum", `${dir}/odd.bin`]);
    assert.equal(remote.stdout.split(" ")[0], sha256(cases[7]![1]));
    assert.deepEqual(await tempNames(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "atomicWrite() keeps the mode, and reports owner_preserved false when a non-root user cannot chown",
  {
    ignore,
  },
  async () => {
    await using sshd = await startSshd();
    await using conn = await connect(sshd);
    const sftp = await openSftp(conn);
    const dir = await scratch();
    await Deno.chmod(dir, 0o777);
    try {
      await Deno.writeTextFile(`${dir}/root-owned`, "old\n");
      await Deno.chmod(`${dir}/root-owned`, 0o646);
      const outcome = await sftp.atomicWrite(`${dir}/root-owned`, new TextEncoder().encode("new\n"));
      assert.equal(outcome.ownerPreserved, false);
      const info = await Deno.stat(`${dir}/root-owned`);
      assert.equal(info.mode! & 0o7777, 0o646);
      assert.equal(info.uid, sshd.users.mcptest.uid);
      assert.equal(await Deno.readTextFile(`${dir}/root-owned`), "new\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "atomicWrite() with a stale expectedSha256 writes nothing and leaves no temp file",
  { ignore },
  async () => {
    await using sshd = await startSshd();
    await using conn = await connect(sshd);
    const sftp = await openSftp(conn);
    const dir = await scratch();
    try {
      await Deno.writeTextFile(`${dir}/f`, "one\n");
      const seen = sha256(new TextEncoder().encode("one\n"));
      await Deno.writeTextFile(`${dir}/f`, "two\n"); // a concurrent change
      await assert.rejects(
        sftp.atomicWrite(`${dir}/f`, new TextEncoder().encode("three\n"), { expectedSha256: seen }),
        (error: Error) => error instanceof ToolError && /changed since it was read/.test(error.message),
      );
      assert.equal(await Deno.readTextFile(`${dir}/f`), "two\n");
      assert.deepEqual(await tempNames(dir), []);
      const now = sha256(new TextEncoder().encode("two\n"));
      await sftp.atomicWrite(`${dir}/f`, new TextEncoder().encode("three\n"), { expectedSha256: now });
      assert.equal(await Deno.readTextFile(`${dir}/f`), "three\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("atomicWrite() through a symlink replaces the target and keeps the link", { ignore }, async () => {
  await using sshd = await startSshd();
  await using conn = await connect(sshd);
  const sftp = await openSftp(conn);
  const dir = await scratch();
  try {
    await Deno.mkdir(`${dir}/real`);
    await Deno.writeTextFile(`${dir}/real/config`, "old\n");
    await Deno.symlink("real/config", `${dir}/link`);
    await Deno.symlink("link", `${dir}/link2`);
    await run("chown", ["-R", "mcptest:mcptest", dir], { check: true });
    const outcome = await sftp.atomicWrite(`${dir}/link2`, new TextEncoder().encode("new\n"));
    assert.equal(outcome.path, await Deno.realPath(`${dir}/real/config`));
    assert.equal(outcome.symlink, `${dir}/link2`);
    assert.equal(await Deno.readLink(`${dir}/link2`), "link");
    assert.equal(await Deno.readLink(`${dir}/link`), "real/config");
    assert.equal(await Deno.readTextFile(`${dir}/real/config`), "new\n");
    assert.deepEqual(await tempNames(`${dir}/real`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SFTP failures name the path: missing file, permission denied, directory, missing parent", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  await using conn = await connect(sshd, "mcpnopw");
  const sftp = await openSftp(conn);
  const read = (path: string) => sftp.readEach(path, () => {});
  await assert.rejects(read("/nonexistent/file"), /Cannot stat "\/nonexistent\/file": no such file/);
  await assert.rejects(read("/etc/shadow"), /Cannot open "\/etc\/shadow": permission denied/);
  await assert.rejects(read("/etc"), /Cannot read "\/etc": it is a directory/);
  await assert.rejects(
    sftp.atomicWrite("/etc/ssh-mcp-test-denied", new Uint8Array([1])),
    /Cannot create a file in "\/etc": permission denied/,
  );
  await assert.rejects(
    sftp.atomicWrite("/tmp/ssh-mcp-no-such-dir/x", new Uint8Array([1])),
    /the directory "\/tmp\/ssh-mcp-no-such-dir" does not exist/,
  );
  await assert.rejects(sftp.atomicWrite("/tmp", new Uint8Array([1])), /it is a directory/);
  await assert.rejects(sftp.list("/etc/hostname"), /not a directory/);
});

Deno.test("atomicWrite() on a full disk says so, keeps the old file and removes the temp file", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  await using conn = await connect(sshd, "root");
  const sftp = await openSftp(conn);
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-full-" });
  const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir]);
  if (!mounted.success) {
    if (Deno.env.get("CI") === "true") throw new Error(`Cannot mount a tmpfs: ${mounted.stderr}`);
    console.warn(`SKIP: cannot mount a small tmpfs (${mounted.stderr.trim()})`);
    await Deno.remove(dir);
    return;
  }
  try {
    await Deno.writeTextFile(`${dir}/f`, "old\n");
    await assert.rejects(
      sftp.atomicWrite(`${dir}/f`, randomBytes(1024 * 1024)),
      (error: Error) => error instanceof ToolError && /the disk is full/.test(error.message),
    );
    assert.equal(await Deno.readTextFile(`${dir}/f`), "old\n");
    assert.deepEqual(await tempNames(dir), []);
  } finally {
    await run("umount", [dir]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "a server that refuses posix-rename gets no write at all, not a non-atomic one",
  { ignore },
  async () => {
    await using sshd = await startSshd({
      config: { Subsystem: "sftp internal-sftp -P posix-rename" },
    });
    await using conn = await connect(sshd);
    const sftp = await openSftp(conn);
    const dir = await scratch();
    try {
      await Deno.writeTextFile(`${dir}/f`, "old\n");
      await assert.rejects(sftp.atomicWrite(`${dir}/f`, new TextEncoder().encode("new\n")), ToolError);
      assert.equal(await Deno.readTextFile(`${dir}/f`), "old\n");
      assert.deepEqual(await tempNames(dir), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("list() reports types, octal and rwx modes, owner names, link targets, sorted and capped", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  await using conn = await connect(sshd);
  const sftp = await openSftp(conn);
  const dir = await scratch();
  try {
    await Deno.writeTextFile(`${dir}/b.txt`, "12345");
    await Deno.chmod(`${dir}/b.txt`, 0o4755);
    await Deno.mkdir(`${dir}/a-dir`);
    await Deno.symlink("b.txt", `${dir}/c-link`);
    await Deno.writeTextFile(`${dir}/.hidden`, "");
    await run("chown", ["mcpnopw:mcpnopw", `${dir}/b.txt`], { check: true });
    const listing = await sftp.list(dir);
    assert.deepEqual(listing.entries.map((e) => [e.name, e.type]), [
      ["a-dir", "directory"],
      ["b.txt", "file"],
      ["c-link", "symlink"],
    ]);
    const file = listing.entries[1]!;
    assert.equal(file.size, 5);
    assert.equal(file.owner, "mcpnopw");
    assert.equal(file.group, "mcpnopw");
    assert.equal(symbolicMode(file.type, file.mode), "-rwxr-xr-x"); // chown cleared setuid
    assert.equal(listing.entries[2]!.target, "b.txt");
    assert.equal(listing.total, 3);
    const all = await sftp.list(dir, { all: true, limit: 2 });
    assert.deepEqual(all.entries.map((e) => e.name), [".hidden", "a-dir"]);
    assert.equal(all.total, 4);
    assert.equal(all.omitted, 2);
    assert.equal(symbolicMode("file", 0o4755), "-rwsr-xr-x");
    assert.equal(symbolicMode("directory", 0o1777), "drwxrwxrwt");
    assert.equal(symbolicMode("file", 0o2640), "-rw-r-S---");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("copy() streams a tree between two connections: nested dirs, symlinks, empty files, modes", {
  ignore,
}, async () => {
  await using sshd = await startSshd();
  await using a = await connect(sshd, "root");
  await using b = await connect(sshd, "root");
  const dir = await scratch("root");
  try {
    const src = `${dir}/src`;
    await run("sh", [
      "-c",
      `mkdir -p ${src}/d1/d2/d3 ${src}/empty-dir && cd ${src} && printf hi > d1/a && : > d1/d2/empty && ` +
      `head -c 700001 /dev/urandom > d1/d2/d3/big && ln -s d1/a top-link && ln -s ../missing d1/dangling && ` +
      `chmod 0750 d1/d2 && chmod 0600 d1/a && chmod 0555 empty-dir && mkfifo fifo`,
    ], { check: true });
    const progress: number[] = [];
    const outcome = await copy(
      { sftp: await openSftp(a), path: src },
      { sftp: await openSftp(b), path: `${dir}/dst/copy` },
      { onProgress: (copied) => progress.push(copied) },
    );
    assert.equal(outcome.type, "directory");
    assert.equal(outcome.files, 3);
    assert.equal(outcome.symlinks, 2);
    assert.equal(outcome.directories, 5);
    assert.equal(outcome.bytes, 700_003);
    assert.deepEqual(outcome.skipped, ["fifo"]);
    assert.equal(progress.at(-1), 700_003);
    const listing = (root: string) =>
      run("sh", ["-c", `cd ${root} && find . ! -name fifo -printf '%p %y %m %s %l\\n' | sort`], {
        check: true,
      });
    assert.equal((await listing(`${dir}/dst/copy`)).stdout, (await listing(src)).stdout);
    const sums = (root: string) =>
      run("sh", ["-c", `cd ${root} && find . -type f -exec sha256sum {} + | sort`], { check: true });
    assert.equal((await sums(`${dir}/dst/copy`)).stdout, (await sums(src)).stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A TCP relay that cuts both sides once `limit` bytes went from client to server. */
class CuttingProxy implements AsyncDisposable {
  #listener: Deno.Listener;
  #conns = new Set<Deno.Conn>();
  #tasks: Promise<void>[] = [];
  #sent = 0;
  #limit = Infinity;

  constructor(target: { host: string; port: number }) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.#tasks.push(
      (async () => {
        for await (const client of listener) {
          const server = await Deno.connect({ hostname: target.host, port: target.port });
          this.#conns.add(client).add(server);
          this.#tasks.push(this.#pump(client, server, true), this.#pump(server, client, false));
        }
      })().catch(() => {}),
    );
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Cuts every relayed connection after `bytes` more bytes from client to server. */
  cutAfter(bytes: number): void {
    this.#sent = 0;
    this.#limit = bytes;
  }

  cut(): void {
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    this.#conns.clear();
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, upstream: boolean): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        let data = buffer.subarray(0, n);
        if (upstream && this.#sent + n >= this.#limit) {
          data = data.subarray(0, Math.max(0, this.#limit - this.#sent));
          if (data.length > 0) await to.write(data);
          this.cut();
          return;
        }
        if (upstream) this.#sent += n;
        let at = 0;
        while (at < data.length) at += await to.write(data.subarray(at));
      }
    } catch {
      // the other side closed
    }
    this.cut();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    this.cut();
    await Promise.all(this.#tasks);
  }
}

Deno.test(
  "a write cut off at a random point leaves the old or the new content and no temp file (30 trials)",
  {
    ignore,
  },
  async () => {
    await using sshd = await startSshd();
    await using proxy = new CuttingProxy(sshd);
    await using direct = await connect(sshd);
    // One shared session for the clean-ups, as the manager gives the file tools.
    const directLink = new Link(direct);
    const dir = await scratch();
    const path = `${dir}/target.bin`;
    const size = 3 * 1024 * 1024 + 4321;
    try {
      let current = randomBytes(size);
      await Deno.writeFile(path, current);
      let failures = 0;
      for (let trial = 0; trial < 30; trial++) {
        const next = randomBytes(size);
        const conn = await connect(sshd, "mcptest", proxy.port);
        try {
          const sftp = await openSftp(conn);
          proxy.cutAfter(Math.floor(Math.random() * (size + 64 * 1024)));
          try {
            await sftp.atomicWrite(path, next, { reopen: () => directLink.sftp() });
          } catch (error) {
            failures++;
            assert.ok(error instanceof SshError && error.code === "connection_lost", String(error));
          }
        } finally {
          proxy.cutAfter(Infinity);
          await conn[Symbol.asyncDispose]();
        }
        const now = await Deno.readFile(path);
        const digest = sha256(now);
        assert.ok(digest === sha256(current) || digest === sha256(next), `trial ${trial}: partial content`);
        if (digest === sha256(next)) current = next;
        assert.deepEqual(await tempNames(dir), [], `trial ${trial}: temp file left`);
      }
      assert.ok(failures >= 10, `only ${failures} of 30 writes were cut`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
