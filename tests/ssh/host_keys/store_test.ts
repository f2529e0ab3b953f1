import assert from "node:assert/strict";
import { fingerprintSha256, parseKnownHosts } from "../../../src/ssh/host_keys/known_hosts.ts";
import { appendKnownHost, KnownHosts } from "../../../src/ssh/host_keys/store.ts";
import { decideHostKey } from "../../../src/ssh/host_keys/policy.ts";
import { b64, fakeBlob, generateKey, keygenFind, line, run, withTempDir } from "./fixtures.ts";
import { hasProgram, requirePrograms } from "../../_helpers/require.ts";

const HAS_KEYGEN = requirePrograms("ssh-keygen");
const HAS_SSH = HAS_KEYGEN && requirePrograms("ssh", "sshd");

// ---------------------------------------------------------------------------------------------------
// KnownHosts.lookup

Deno.test("lookup() reports match, mismatch (any key type), unknown and revoked like OpenSSH", async () => {
  await withTempDir(async (dir) => {
    const presented = fakeBlob("ssh-ed25519", 1);
    const otherEd = fakeBlob("ssh-ed25519", 2);
    const rsa = fakeBlob("ssh-rsa", 3);
    const user = `${dir}/user_known_hosts`;
    const data = `${dir}/data/known_hosts`;
    await Deno.writeTextFile(
      user,
      [
        "# user file",
        line("same.example", presented),
        line("changed.example", otherEd),
        line("othertype.example", rsa),
        line("both.example", rsa),
        line("[both.example]:2222", rsa),
        line("revoked.example", presented),
        line("revoked.example,revoked2.example", presented, "@revoked"),
        line("*.ca.example", presented, "@cert-authority"),
        line("revokedother.example", rsa),
        line("revokedother.example", presented, "@revoked"),
        "brokenline",
      ].join("\n"),
    );
    await Deno.mkdir(`${dir}/data`);
    await Deno.writeTextFile(
      data,
      [line("both.example", presented), line("[both.example]:2222", otherEd)].join("\n"),
    );
    const knownHosts = new KnownHosts([{ path: user }, { path: data, writable: true }]);

    const same = await knownHosts.lookup("same.example", 22, presented);
    assert.equal(same.status, "match");
    assert.equal(same.file, user);
    assert.equal(same.line, 2);
    assert.equal(same.hostName, "same.example");
    assert.equal(same.keyType, "ssh-ed25519");
    assert.equal(same.fingerprint, fingerprintSha256(presented));
    assert.equal(same.recordFile, data);
    assert.deepEqual(knownHosts.warnings, [{
      file: user,
      line: 12,
      message: "truncated before the key type",
    }]);

    const changed = await knownHosts.lookup("CHANGED.example", 22, presented);
    assert.equal(changed.status, "mismatch");
    assert.deepEqual(changed.storedFingerprints, [fingerprintSha256(otherEd)]);
    assert.equal(changed.line, 3);

    // OpenSSH refuses a key when only keys of another type are on file (HOST_CHANGED, verified below).
    const otherType = await knownHosts.lookup("othertype.example", 22, presented);
    assert.equal(otherType.status, "mismatch");
    assert.deepEqual(otherType.storedFingerprints, [fingerprintSha256(rsa)]);

    const both = await knownHosts.lookup("both.example", 22, presented);
    assert.equal(both.status, "match");
    assert.equal(both.file, data);
    assert.equal(both.line, 1);
    assert.deepEqual(both.stored.map((s) => [s.file, s.line]), [[user, 5], [data, 1]]);

    const port = await knownHosts.lookup("both.example", 2222, presented);
    assert.equal(port.status, "mismatch");
    assert.equal(port.hostName, "[both.example]:2222");
    assert.deepEqual(port.storedFingerprints, [fingerprintSha256(rsa), fingerprintSha256(otherEd)]);
    assert.deepEqual([port.file, port.line], [user, 6]);

    const unknown = await knownHosts.lookup("new.example", 22, presented);
    assert.equal(unknown.status, "unknown");
    assert.deepEqual(unknown.storedFingerprints, []);
    assert.equal(unknown.file, undefined);

    // OpenSSH's fallback: no [host]:port entry, but the bare host carries this very key.
    const portless = await knownHosts.lookup("same.example", 2222, presented);
    assert.deepEqual([portless.status, portless.withoutPort, portless.line], ["match", true, 2]);
    assert.equal(portless.hostName, "[same.example]:2222");
    assert.match(decideHostKey("strict", portless).message, /without port/);
    const portlessOther = await knownHosts.lookup("changed.example", 2222, presented);
    assert.deepEqual([portlessOther.status, portlessOther.withoutPort], ["unknown", undefined]);
    assert.deepEqual(portlessOther.storedFingerprints, []);
    assert.equal((await knownHosts.lookup("x.ca.example", 22, presented)).status, "unknown");

    const revoked = await knownHosts.lookup("revoked.example", 22, presented);
    assert.equal(revoked.status, "revoked");
    assert.deepEqual([revoked.file, revoked.line], [user, 8]);
    assert.equal((await knownHosts.lookup("revoked2.example", 22, presented)).status, "revoked");
    assert.equal((await knownHosts.lookup("revoked2.example", 22, otherEd)).status, "unknown");
    assert.equal((await knownHosts.lookup("revokedother.example", 22, presented)).status, "revoked");
    assert.equal((await knownHosts.lookup("revokedother.example", 22, rsa)).status, "match");

    assert.deepEqual(await knownHosts.knownKeyTypes("both.example", 22), ["ssh-rsa", "ssh-ed25519"]);
    assert.deepEqual(await knownHosts.knownKeyTypes("x.ca.example", 22), []);
  });
});

Deno.test("lookup() treats missing files as empty and rejects bad arguments", async () => {
  await withTempDir(async (dir) => {
    const knownHosts = new KnownHosts([{ path: `${dir}/missing` }, { path: `${dir}/nope/known_hosts` }]);
    const blob = fakeBlob("ssh-ed25519", 1);
    assert.equal((await knownHosts.lookup("h", 22, blob)).status, "unknown");
    assert.deepEqual(knownHosts.warnings, []);
    assert.equal(knownHosts.recordFile, undefined);
    await assert.rejects(knownHosts.lookup("", 22, blob), TypeError);
    await assert.rejects(knownHosts.lookup("h", 0, blob), RangeError);
    await assert.rejects(knownHosts.lookup("h", 22, new Uint8Array(3)), TypeError);
    await assert.rejects(knownHosts.record("h", 22, blob), TypeError);
    assert.throws(() => new KnownHosts([{ path: "" }]), TypeError);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(knownHosts.lookup("h", 22, blob, { signal: controller.signal }));
  });
});

Deno.test({
  name: "lookup() sees edits made by ssh-keygen -R without being recreated",
  ignore: !HAS_KEYGEN,
  fn: () =>
    withTempDir(async (dir) => {
      const key = await generateKey(dir, "ecdsa", "k");
      const file = `${dir}/known_hosts`;
      await Deno.writeTextFile(file, `${line("[host.example]:2200", fakeBlob("ssh-ed25519", 9))}\n`);
      const knownHosts = new KnownHosts([{ path: file, writable: true }]);
      assert.equal((await knownHosts.lookup("host.example", 2200, key.blob)).status, "mismatch");
      const removed = await run("ssh-keygen", ["-R", "[host.example]:2200", "-f", file]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal((await knownHosts.lookup("host.example", 2200, key.blob)).status, "unknown");
      assert.equal(await knownHosts.record("host.example", 2200, key.blob), true);
      assert.equal((await knownHosts.lookup("host.example", 2200, key.blob)).status, "match");
    }),
});

/** Starts sshd with one host key on a free loopback port; the caller kills it. */
async function startSshd(
  dir: string,
  hostKey: string,
): Promise<{ port: number; process: Deno.ChildProcess }> {
  const sshd = ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/usr/bin/sshd"].find((p) => hasProgram(p)) ??
    "sshd";
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const config = `${dir}/sshd_config`;
  await Deno.writeTextFile(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${dir}/sshd.pid`,
      "UsePAM no",
      "StrictModes no",
      "",
    ].join("\n"),
  );
  const process = new Deno.Command(sshd, {
    args: ["-D", "-e", "-f", config],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let i = 0; i < 100; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return { port, process };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  process.kill();
  await process.status;
  throw new Error(`sshd did not start on port ${port}`);
}

/** What OpenSSH's ssh concludes about the server's host key with `file` as its only known_hosts. */
async function sshVerdict(file: string, port: number): Promise<string> {
  const result = await run("ssh", [
    "-F",
    "/dev/null",
    "-o",
    `UserKnownHostsFile=${file}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "UpdateHostKeys=no",
    "-o",
    "BatchMode=yes",
    "-o",
    "PubkeyAuthentication=no",
    "-o",
    "PasswordAuthentication=no",
    "-o",
    "KbdInteractiveAuthentication=no",
    "-o",
    "ConnectTimeout=5",
    "-p",
    String(port),
    "nobody@127.0.0.1",
    "true",
  ]);
  if (result.stderr.includes("REVOKED HOST KEY")) return "revoked";
  if (result.stderr.includes("REMOTE HOST IDENTIFICATION HAS CHANGED")) return "mismatch";
  if (result.stderr.includes("Permission denied")) return "match";
  if (result.stderr.includes("Host key verification failed")) return "unknown";
  return `unexpected: ${result.stderr}`;
}

Deno.test({
  name: "lookup() reaches the same verdict as OpenSSH ssh against a real sshd",
  ignore: !HAS_SSH,
  fn: () =>
    withTempDir(async (dir) => {
      const hostKey = await generateKey(dir, "ed25519", "host_ed25519");
      const otherEd = await generateKey(dir, "ed25519", "other_ed25519");
      const rsa = await generateKey(dir, "rsa", "other_rsa");
      const { port, process } = await startSshd(dir, hostKey.privPath);
      try {
        const name = `[127.0.0.1]:${port}`;
        const scenarios: Record<string, string[]> = {
          same: [line(name, hostKey.blob)],
          changed: [line(name, otherEd.blob)],
          "other type only": [line(name, rsa.blob)],
          "other type and same": [line(name, rsa.blob), line(name, hostKey.blob)],
          "other host": [line("other.example", hostKey.blob)],
          "no port": [line("127.0.0.1", hostKey.blob)],
          "no port, other key": [line("127.0.0.1", otherEd.blob)],
          "no port, revoked": [line("127.0.0.1", hostKey.blob, "@revoked")],
          "port changed, no port same": [line(name, otherEd.blob), line("127.0.0.1", hostKey.blob)],
          "wildcard port": [line("[127.0.0.1]:*", rsa.blob), line("127.0.0.1", hostKey.blob)],
          "revoked wins": [line(name, hostKey.blob), line("*", hostKey.blob, "@revoked")],
          "revoked for other host": [line("other.example", hostKey.blob, "@revoked")],
          "cert-authority only": [line("*", hostKey.blob, "@cert-authority")],
          negated: [line(`*,!${name}`, hostKey.blob)],
          wildcard: [line(`[127.0.0.?]:${port}`, hostKey.blob)],
          hashed: [line(name, hostKey.blob)],
        };
        for (const [scenario, lines] of Object.entries(scenarios)) {
          const file = `${dir}/kh_${scenario.replaceAll(" ", "_")}`;
          await Deno.writeTextFile(file, lines.join("\n") + "\n");
          if (scenario === "hashed") {
            const hashing = await run("ssh-keygen", ["-H", "-f", file]);
            assert.equal(hashing.code, 0, hashing.stderr);
            assert.ok((await Deno.readTextFile(file)).startsWith("|1|"));
          }
          const expected = await sshVerdict(file, port);
          const ours = await new KnownHosts([{ path: file }]).lookup("127.0.0.1", port, hostKey.blob);
          assert.equal(ours.status, expected, scenario);
        }
      } finally {
        process.kill("SIGTERM");
        await process.status;
      }
    }),
});

// ---------------------------------------------------------------------------------------------------
// appendKnownHost

Deno.test("appendKnownHost() creates the directory 0700 and the file 0600 with a plain [host]:port line", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/data/sub/known_hosts`;
    const blob = fakeBlob("ssh-ed25519", 4);
    assert.equal(await appendKnownHost(file, "Host.Example", 2222, blob), true);
    assert.equal(await appendKnownHost(file, "host.example", 22, blob), true);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/data/sub`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dir}/data`)).mode! & 0o777, 0o700);
    assert.equal(
      await Deno.readTextFile(file),
      `[host.example]:2222 ssh-ed25519 ${b64(blob)}\nhost.example ssh-ed25519 ${b64(blob)}\n`,
    );
  });
});

Deno.test("appendKnownHost() starts a new line after a file without a final newline and skips duplicates", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/known_hosts`;
    await Deno.writeTextFile(file, "# no newline at end");
    const blob = fakeBlob("ssh-ed25519", 5);
    assert.equal(await appendKnownHost(file, "h", 22, blob), true);
    assert.equal(await appendKnownHost(file, "h", 22, blob), false);
    assert.equal(await Deno.readTextFile(file), `# no newline at end\nh ssh-ed25519 ${b64(blob)}\n`);
  });
});

Deno.test("appendKnownHost() serializes concurrent appends so lines never interleave", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/known_hosts`;
    const blobs = Array.from({ length: 40 }, (_, i) => fakeBlob(i % 2 ? "ssh-ed25519" : "ssh-rsa", i));
    const same = fakeBlob("ssh-ed25519", 1000);
    const results = await Promise.all([
      ...blobs.map((blob, i) => appendKnownHost(file, `host${i}.example`, 2000 + i, blob)),
      ...Array.from({ length: 5 }, () => appendKnownHost(file, "same.example", 22, same)),
    ]);
    assert.equal(results.filter((r) => r).length, 41);
    const parsed = parseKnownHosts(await Deno.readTextFile(file));
    assert.deepEqual(parsed.warnings, []);
    assert.equal(parsed.entries.length, 41);
    const knownHosts = new KnownHosts([{ path: file }]);
    for (const [i, blob] of blobs.entries()) {
      assert.equal((await knownHosts.lookup(`host${i}.example`, 2000 + i, blob)).status, "match");
    }
  });
});

Deno.test("appendKnownHost() rejects bad arguments with TypeError or RangeError", async () => {
  const blob = fakeBlob("ssh-ed25519", 1);
  await assert.rejects(appendKnownHost("", "h", 22, blob), TypeError);
  await assert.rejects(appendKnownHost("/tmp/x", "*.h", 22, blob), TypeError);
  await assert.rejects(appendKnownHost("/tmp/x", "a,b", 22, blob), TypeError);
  await assert.rejects(appendKnownHost("/tmp/x", "h", 70000, blob), RangeError);
  await assert.rejects(appendKnownHost("/tmp/x", "h", 22, new Uint8Array(2)), TypeError);
});

Deno.test({
  name: "lines written by appendKnownHost() are found by ssh-keygen -F and fingerprinted like ssh-keygen -l",
  ignore: !HAS_KEYGEN,
  fn: () =>
    withTempDir(async (dir) => {
      const file = `${dir}/known_hosts`;
      const keys = [
        await generateKey(dir, "ed25519", "a"),
        await generateKey(dir, "ecdsa", "b"),
        await generateKey(dir, "rsa", "c"),
      ];
      await appendKnownHost(file, "plain.example", 22, keys[0]!.blob);
      await appendKnownHost(file, "ported.example", 2222, keys[1]!.blob);
      await appendKnownHost(file, "10.1.2.3", 22, keys[2]!.blob);
      assert.deepEqual(await keygenFind(file, "plain.example"), [1]);
      assert.deepEqual(await keygenFind(file, "[ported.example]:2222"), [2]);
      assert.deepEqual(await keygenFind(file, "ported.example"), []);
      assert.deepEqual(await keygenFind(file, "10.1.2.3"), [3]);
      const listed = await run("ssh-keygen", ["-l", "-f", file]);
      assert.equal(listed.code, 0, listed.stderr);
      const fingerprints = listed.stdout.trim().split("\n").map((l) => l.split(" ")[1]);
      assert.deepEqual(fingerprints, keys.map((k) => fingerprintSha256(k.blob)));
    }),
});
