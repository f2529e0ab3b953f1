/**
 * `upload` and `download` end to end: a real sshd, the server under its production flags (its transfer
 * dir is the default `<data-dir>/transfer`), an SDK client.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { isTempName } from "../../../src/ssh/sftp/atomic_write.ts";
import { withConnectedClient } from "../../_helpers/mcp_ssh.ts";
import { textOf } from "../../_helpers/server.ts";
import { run } from "../../_helpers/sshd.ts";

function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

async function scratch(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-transfer-" });
  await run("chown", ["mcptest:mcptest", dir], { check: true });
  return dir;
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) out.push(entry.name);
  return out.sort();
}

Deno.test("upload and download move 5 MB byte-exact both ways, and nothing of the content is in the result", async () => {
  await using bed = await withConnectedClient({ connect: { alias: "bed" } });
  const transfer = `${bed.server.dataDir}/transfer`;
  assert.equal((await Deno.stat(transfer)).mode! & 0o777, 0o700);
  const dir = await scratch();
  try {
    const bytes = randomBytes(5 * 1024 * 1024);
    await Deno.writeFile(`${transfer}/in.bin`, bytes, { mode: 0o640 });
    await Deno.chmod(`${transfer}/in.bin`, 0o640);
    const up = await bed.client.callTool({
      name: "upload",
      arguments: { local_path: "in.bin", remote_path: `${dir}/sub/up.bin`, target: "bed" },
    });
    assert.equal(up.isError, undefined, textOf(up));
    const upData = up.structuredContent as Record<string, unknown>;
    assert.equal(sha256(await Deno.readFile(`${dir}/sub/up.bin`)), sha256(bytes));
    assert.equal((await Deno.stat(`${dir}/sub/up.bin`)).mode! & 0o777, 0o640);
    assert.deepEqual(
      [upData.size, upData.sha256, upData.mode],
      [bytes.length, sha256(bytes), "0640"],
    );

    await run("chmod", ["0604", `${dir}/sub/up.bin`], { check: true });
    const down = await bed.client.callTool({
      name: "download",
      arguments: { remote_path: `${dir}/sub/up.bin`, local_path: "back/out.bin", target: "bed" },
    });
    assert.equal(down.isError, undefined, textOf(down));
    assert.deepEqual(await Deno.readFile(`${transfer}/back/out.bin`), bytes);
    assert.equal((await Deno.stat(`${transfer}/back/out.bin`)).mode! & 0o777, 0o604);
    assert.equal((down.structuredContent as Record<string, unknown>).sha256, sha256(bytes));
    assert.deepEqual(await names(`${transfer}/back`), ["out.bin"], "no temp file left");

    // Any 12-byte window of the content, as raw text, hex or base64, would show a leak.
    for (const result of [up, down]) {
      const wire = JSON.stringify(result);
      for (const at of [0, 1_000_000, bytes.length - 12]) {
        const window = bytes.subarray(at, at + 12);
        for (const form of [Buffer.from(window).toString("hex"), Buffer.from(window).toString("base64")]) {
          assert.ok(!wire.includes(form), `result holds content bytes at ${at}`);
        }
      }
      assert.ok(wire.length < 2000, `result is small: ${wire.length} chars`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every escape from the transfer dir is refused and nothing is written or read", async () => {
  await using bed = await withConnectedClient({ connect: { alias: "bed" } });
  const transfer = `${bed.server.dataDir}/transfer`;
  const outside = await Deno.makeTempDir({ prefix: "ssh-mcp-outside-" });
  const dir = await scratch();
  try {
    await Deno.writeTextFile(`${outside}/victim`, "precious");
    await Deno.symlink(`${outside}/victim`, `${transfer}/evil`);
    await Deno.symlink(outside, `${transfer}/outdir`);
    await Deno.writeTextFile(`${dir}/remote.txt`, "remote content");
    await run("chown", ["mcptest:mcptest", `${dir}/remote.txt`], { check: true });
    const passwd = sha256(await Deno.readFile("/etc/passwd"));
    const before = { data: await names(bed.server.dataDir), transfer: await names(transfer) };
    for (const local_path of ["../x", "/etc/passwd", "sub/../../x", "evil", "outdir/x", `${outside}/x`]) {
      const down = await bed.client.callTool({
        name: "download",
        arguments: { remote_path: `${dir}/remote.txt`, local_path, target: "bed" },
      });
      assert.equal(down.isError, true, `download to ${local_path}: ${textOf(down)}`);
      assert.match(textOf(down), /Cannot use local path .*nothing was read or written/);
      const up = await bed.client.callTool({
        name: "upload",
        arguments: { local_path, remote_path: `${dir}/leak.txt`, target: "bed" },
      });
      assert.equal(up.isError, true, `upload from ${local_path}: ${textOf(up)}`);
    }
    assert.equal(sha256(await Deno.readFile("/etc/passwd")), passwd);
    assert.equal(await Deno.readTextFile(`${outside}/victim`), "precious");
    assert.deepEqual(await names(outside), ["victim"]);
    assert.deepEqual(await names(bed.server.dataDir), before.data);
    assert.deepEqual(await names(transfer), before.transfer);
    assert.deepEqual(await names(dir), ["remote.txt"], "nothing uploaded");
  } finally {
    await Deno.remove(outside, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a connection cut mid-upload leaves the old remote file intact", async () => {
  await using bed = await withConnectedClient({ connect: { alias: "bed" } });
  const transfer = `${bed.server.dataDir}/transfer`;
  const dir = await scratch();
  try {
    await Deno.writeTextFile(`${dir}/keep.bin`, "the old content");
    await run("chown", ["mcptest:mcptest", `${dir}/keep.bin`], { check: true });
    await Deno.writeFile(`${transfer}/big.bin`, randomBytes(48 * 1024 * 1024));
    const uploading = bed.client.callTool({
      name: "upload",
      arguments: { local_path: "big.bin", remote_path: `${dir}/keep.bin`, target: "bed" },
    });
    // Cut once the temp file next to the target has content: the upload is under way.
    const until = Date.now() + 60_000;
    let cut = false;
    while (!cut && Date.now() < until) {
      for (const name of await names(dir)) {
        if (isTempName(name) && (await Deno.stat(`${dir}/${name}`).catch(() => ({ size: 0 }))).size > 0) {
          cut = true;
        }
      }
      if (!cut) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(cut, "the upload started");
    await bed.sshd.stop();
    const result = await uploading;
    assert.equal(result.isError, true, textOf(result));
    assert.equal(await Deno.readTextFile(`${dir}/keep.bin`), "the old content");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
