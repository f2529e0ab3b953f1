/**
 * Transfers survive the server re-keying mid-stream (SPEC §9): sshd with `RekeyLimit 4M` (and a
 * one-second time limit on a busy link) re-keys dozens of times during a 96 MiB SFTP write, read and
 * `sync`, and every byte arrives. ssh2 1.17 misframed packets sent while a re-key finished (see
 * vendor/ssh2/PATCH.md); sshd then dropped the link with "Bad packet length".
 *
 * sshd logs at DEBUG1 here so a test can count the re-keys it asked for and see the cipher that was
 * negotiated, instead of trusting that they happened.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { openConnection } from "../../src/ssh/client.ts";
import type { SshConnection } from "../../src/ssh/connection.ts";
import { openSftp, type Sftp } from "../../src/ssh/sftp/sftp.ts";
import { copy } from "../../src/ssh/sftp/copy.ts";
import { requirePrograms } from "../_helpers/require.ts";
import { run, startSshd, type TestSshd } from "../_helpers/sshd.ts";

const ignore = !requirePrograms("sshd", "ssh-keygen");

const MIB = 1024 * 1024;
const SIZE = 96 * MIB;

async function connect(sshd: TestSshd): Promise<SshConnection> {
  return await openConnection({
    host: sshd.host,
    port: sshd.port,
    username: "mcptest",
    auth: [{ type: "publickey", label: "test key", key: await Deno.readTextFile(sshd.keys.ed25519) }],
    checkHostKey: () => Promise.resolve(true),
    connectTimeoutMs: 10_000,
    keepaliveIntervalMs: 0,
    keepaliveCountMax: 3,
  });
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) crypto.getRandomValues(bytes.subarray(at, at + 65536));
  return bytes;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A scratch directory on the (local) test host, owned by mcptest. */
async function scratch(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-rekey-" });
  await run("chown", ["mcptest:mcptest", dir], { check: true });
  return dir;
}

/** An sshd that re-keys as `rekeyLimit` says and logs each key exchange (DEBUG1). */
function startRekeyingSshd(rekeyLimit: string, config: Record<string, string> = {}): Promise<TestSshd> {
  return startSshd({ config: { RekeyLimit: rekeyLimit, LogLevel: "DEBUG1", ...config } });
}

/** Key exchanges after authentication, i.e. re-keys, over all connections so far. */
async function rekeys(sshd: TestSshd): Promise<number> {
  return (await sshd.logText()).split("\n")
    .filter((line) => line.includes("SSH2_MSG_NEWKEYS received") && !line.includes("[preauth]")).length;
}

/** The client→server cipher and MAC of every key exchange, e.g. `aes128-ctr hmac-sha2-256-etm@openssh.com`. */
async function negotiated(sshd: TestSshd): Promise<string[]> {
  const text = await sshd.logText();
  return [...text.matchAll(/kex: client->server cipher: (\S+) MAC: (\S+)/g)].map((m) => `${m[1]} ${m[2]}`);
}

/** Writes `content` through `sftp`, reads it back, and checks both against the bytes on disk. */
async function writeAndReadBack(sftp: Sftp, path: string, content: Uint8Array): Promise<void> {
  const want = sha256(content);
  const written = await sftp.atomicWrite(path, content);
  assert.equal(written.size, content.length);
  assert.equal(written.sha256, want);
  assert.equal(sha256(await Deno.readFile(path)), want, "the file on disk differs from what was written");
  const read = await sftp.readEach(path, () => {});
  assert.equal(read.size, content.length);
  assert.equal(read.sha256, want, "the bytes read differ from the file");
}

Deno.test("SFTP write, read and sync of 96 MiB stay byte-exact while sshd re-keys every 4 MiB (chacha20)", {
  ignore,
}, async () => {
  await using sshd = await startRekeyingSshd("4M");
  await using a = await connect(sshd);
  await using b = await connect(sshd);
  const dir = await scratch();
  try {
    const content = randomBytes(SIZE);
    const sftpA = await openSftp(a);
    await writeAndReadBack(sftpA, `${dir}/written.bin`, content);
    const before = await rekeys(sshd);
    assert.ok(before >= SIZE / (4 * MIB), `only ${before} re-keys for ${SIZE / MIB} MiB each way`);

    const outcome = await copy({ sftp: sftpA, path: `${dir}/written.bin` }, {
      sftp: await openSftp(b),
      path: `${dir}/synced.bin`,
    });
    assert.equal(outcome.bytes, SIZE);
    assert.equal(
      sha256(await Deno.readFile(`${dir}/synced.bin`)),
      sha256(content),
      "sync corrupted the file",
    );
    const during = (await rekeys(sshd)) - before;
    assert.ok(during >= SIZE / (4 * MIB), `only ${during} re-keys during the sync`);
    assert.ok(a.alive && b.alive);
    // Our preference, which this sshd (OpenSSH's defaults) accepts: the other ciphers are below.
    assert.deepEqual(new Set(await negotiated(sshd)), new Set(["chacha20-poly1305@openssh.com <implicit>"]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SFTP stays byte-exact on a busy link while sshd re-keys every second", { ignore }, async () => {
  await using sshd = await startRekeyingSshd("default 1");
  await using conn = await connect(sshd);
  const sftp = await openSftp(conn);
  const dir = await scratch();
  try {
    // Keep the link busy until the time limit has fired a few times (a fast machine moves 96 MiB
    // within a second), alternating writes and reads of fresh content.
    const content = randomBytes(32 * MIB);
    let moved = 0;
    for (let round = 0; round < 60 && (moved < 2 * SIZE || await rekeys(sshd) < 3); round++) {
      content[round] = round; // a different file each round
      await writeAndReadBack(sftp, `${dir}/busy.bin`, content);
      moved += 2 * content.length;
    }
    assert.ok(await rekeys(sshd) >= 3, `only ${await rekeys(sshd)} re-keys after ${moved / MIB} MiB`);
    assert.ok(conn.alive);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (
  const [label, cipher, mac] of [
    ["aes128-ctr + hmac-sha2-256-etm (the old preference)", "aes128-ctr", "hmac-sha2-256-etm@openssh.com"],
    ["aes256-gcm", "aes256-gcm@openssh.com", "hmac-sha2-256-etm@openssh.com"],
  ] as const
) {
  Deno.test(`SFTP write and read of 96 MiB stay byte-exact across 4 MiB re-keys under ${label}`, {
    ignore,
  }, async () => {
    await using sshd = await startRekeyingSshd("4M", { Ciphers: cipher, MACs: mac });
    await using conn = await connect(sshd);
    const dir = await scratch();
    try {
      await writeAndReadBack(await openSftp(conn), `${dir}/f.bin`, randomBytes(SIZE));
      const kexes = await negotiated(sshd);
      // AEAD ciphers carry their own integrity; sshd then names the cipher's implicit MAC.
      const expected = cipher.includes("-ctr") ? `${cipher} ${mac}` : `${cipher} <implicit>`;
      assert.ok(kexes.length > SIZE / (4 * MIB), `only ${kexes.length} key exchanges`);
      assert.deepEqual(new Set(kexes), new Set([expected]));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
