import assert from "node:assert/strict";
import fc from "fast-check";
import {
  appendKnownHost,
  decideHostKey,
  fingerprintSha256,
  type HostKeyLookup,
  type HostKeyPolicy,
  keyTypeOf,
  KnownHosts,
  knownHostsName,
  matchHostField,
  parseKnownHosts,
} from "../../../src/ssh/host_keys/host_keys.ts";
import { hasProgram, requirePrograms } from "../../_helpers/require.ts";

const HAS_KEYGEN = requirePrograms("ssh-keygen");
const HAS_SSH = HAS_KEYGEN && requirePrograms("ssh", "sshd");

// ---------------------------------------------------------------------------------------------------
// Helpers

/** A well-formed blob (string type, string 32 bytes) for tests that do not need a real key. */
function fakeBlob(type: string, seed: number): Uint8Array {
  const name = new TextEncoder().encode(type);
  const blob = new Uint8Array(4 + name.length + 4 + 32);
  const view = new DataView(blob.buffer);
  view.setUint32(0, name.length);
  blob.set(name, 4);
  view.setUint32(4 + name.length, 32);
  for (let i = 0; i < 32; i++) blob[8 + name.length + i] = (seed * 31 + i * 7) & 0xff;
  return blob;
}

function b64(blob: Uint8Array): string {
  return btoa(String.fromCharCode(...blob));
}

function line(hosts: string, blob: Uint8Array, marker = ""): string {
  return `${marker === "" ? "" : `${marker} `}${hosts} ${keyTypeOf(blob)} ${b64(blob)}`;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "host_keys_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

interface RealKey {
  type: string;
  pubPath: string;
  privPath: string;
  blob: Uint8Array;
  pubLine: string;
}

/** Generates a host key pair with ssh-keygen and reads its blob from the `.pub` file. */
async function generateKey(dir: string, type: "ed25519" | "ecdsa" | "rsa", name: string): Promise<RealKey> {
  const privPath = `${dir}/${name}`;
  const args = ["-q", "-t", type, "-N", "", "-C", `test-${name}`, "-f", privPath];
  if (type === "rsa") args.push("-b", "2048");
  const result = await run("ssh-keygen", args);
  assert.equal(result.code, 0, result.stderr);
  const pubLine = (await Deno.readTextFile(`${privPath}.pub`)).trim();
  const [keyType = "", base64 = ""] = pubLine.split(" ");
  const blob = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return { type: keyType, pubPath: `${privPath}.pub`, privPath, blob, pubLine };
}

/** Lines `ssh-keygen -F name -f file` reports as matching (empty when it exits 1). */
async function keygenFind(file: string, name: string): Promise<number[]> {
  const result = await run("ssh-keygen", ["-F", name, "-f", file]);
  assert.ok(result.code === 0 || result.code === 1, `ssh-keygen -F ${name}: ${result.stderr}`);
  const lines = [...result.stdout.matchAll(/found: line (\d+)/g)].map((m) => Number(m[1]));
  assert.equal(result.code === 0, lines.length > 0, `exit code and output disagree for ${name}`);
  return lines;
}

/** Lines our matcher says match, using the same parse the KnownHosts class uses. */
async function ourFind(text: string, name: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of parseKnownHosts(text).entries) {
    if (await matchHostField(entry.hosts, name)) found.push(entry.line);
  }
  return found;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function lookupResult(overrides: Partial<HostKeyLookup>): HostKeyLookup {
  return {
    status: "unknown",
    hostName: "[example.com]:2222",
    keyType: "ssh-ed25519",
    fingerprint: "SHA256:presentedPresentedPresentedPresentedPresen",
    storedFingerprints: [],
    stored: [],
    recordFile: "/data/known_hosts",
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------------
// Key blobs

Deno.test("keyTypeOf() reads the type string at the start of a key blob", () => {
  assert.equal(keyTypeOf(fakeBlob("ssh-ed25519", 1)), "ssh-ed25519");
  assert.equal(keyTypeOf(fakeBlob("ecdsa-sha2-nistp256", 1)), "ecdsa-sha2-nistp256");
});

Deno.test("keyTypeOf() throws TypeError for anything that is not a key blob", () => {
  for (const bad of [new Uint8Array(0), new Uint8Array([0, 0, 0, 9, 65]), new Uint8Array([0, 0, 0, 1, 0])]) {
    assert.throws(() => keyTypeOf(bad), TypeError);
  }
  assert.throws(() => keyTypeOf("ssh-ed25519" as unknown as Uint8Array), TypeError);
  assert.throws(() => fingerprintSha256(null as unknown as Uint8Array), TypeError);
});

Deno.test({
  name: "fingerprintSha256() and keyTypeOf() agree with ssh-keygen -lf for ed25519, ecdsa and rsa keys",
  ignore: !HAS_KEYGEN,
  fn: () =>
    withTempDir(async (dir) => {
      for (const type of ["ed25519", "ecdsa", "rsa"] as const) {
        const key = await generateKey(dir, type, `k_${type}`);
        const result = await run("ssh-keygen", ["-lf", key.pubPath]);
        assert.equal(result.code, 0, result.stderr);
        const expected = result.stdout.split(" ")[1];
        assert.equal(fingerprintSha256(key.blob), expected, type);
        assert.match(fingerprintSha256(key.blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
        assert.equal(keyTypeOf(key.blob), key.type);
      }
    }),
});

// ---------------------------------------------------------------------------------------------------
// Parsing

Deno.test("parseKnownHosts() reads markers, host fields, key and comment, skipping comments and blanks", () => {
  const a = fakeBlob("ssh-ed25519", 1);
  const b = fakeBlob("ssh-rsa", 2);
  const text = [
    "# a comment",
    "",
    "   \t",
    `  ${line("host1,host2", a)} my comment  here `,
    line("*.example.com", b, "@cert-authority"),
    `${line("*", a, "@revoked")}\r`,
    `|1|${b64(new Uint8Array(20).fill(1))}|${b64(new Uint8Array(20).fill(2))}\tssh-rsa\t${b64(b)}`,
  ].join("\n");
  const { entries, warnings } = parseKnownHosts(text);
  assert.deepEqual(warnings, []);
  assert.equal(entries.length, 4);
  assert.deepEqual(
    entries.map((e) => [e.line, e.marker, e.hosts, e.hashed, e.keyType, e.comment]),
    [
      [4, undefined, "host1,host2", false, "ssh-ed25519", "my comment  here"],
      [5, "cert-authority", "*.example.com", false, "ssh-rsa", ""],
      [6, "revoked", "*", false, "ssh-ed25519", ""],
      [7, undefined, entries[3]!.hosts, true, "ssh-rsa", ""],
    ],
  );
  assert.deepEqual(entries[0]!.blob, a);
});

Deno.test("parseKnownHosts() skips malformed lines with a warning naming the line", () => {
  const a = fakeBlob("ssh-ed25519", 1);
  const text = [
    line("good", a), // 1
    "lonelyhost", // 2 truncated before key type
    "host ssh-ed25519", // 3 truncated after key type
    "host ssh-ed25519 not*base64", // 4
    `host ssh-rsa ${b64(a)}`, // 5 type mismatch
    line("x", a, "@bogus"), // 6 unknown marker
    "@revoked", // 7 marker without host
    `@revoked @cert-authority ${line("x", a)}`, // 8 two markers
    `|2|abc|def ssh-ed25519 ${b64(a)}`, // 9 bad hash magic
    `|1|${b64(new Uint8Array(8))}|${b64(new Uint8Array(20))} ssh-ed25519 ${b64(a)}`, // 10 short salt
    "host 2048 35 1234567", // 11 SSH1 RSA
    `host ssh-ed25519 ${b64(new Uint8Array([0, 0, 0, 1]))}`, // 12 not a blob
    "host # comment", // 13
    line("also-good", a), // 14
  ].join("\n");
  const { entries, warnings } = parseKnownHosts(text);
  assert.deepEqual(entries.map((e) => e.line), [1, 14]);
  assert.deepEqual(warnings.map((w) => w.line), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  for (const w of warnings) assert.ok(w.message.length > 5, w.message);
});

Deno.test("parseKnownHosts() never throws, whatever the text", () => {
  const pieces = fc.constantFrom(
    "@revoked ",
    "@cert-authority ",
    "@",
    "|1|",
    "|",
    "*",
    "!",
    ",",
    " ",
    "\t",
    "\n",
    "\r",
    "#",
    "[h]:22",
    "ssh-ed25519 ",
    b64(fakeBlob("ssh-ed25519", 3)),
    "AAAA",
    "=",
  );
  fc.assert(
    fc.property(fc.array(fc.oneof(pieces, fc.string()), { maxLength: 30 }), (parts) => {
      const parsed = parseKnownHosts(parts.join(""));
      for (const entry of parsed.entries) assert.equal(keyTypeOf(entry.blob), entry.keyType);
    }),
    { numRuns: 500 },
  );
});

// ---------------------------------------------------------------------------------------------------
// Host matching

Deno.test("knownHostsName() uses [host]:port off port 22 and lowercases like ssh", () => {
  assert.equal(knownHostsName("Example.COM", 22), "example.com");
  assert.equal(knownHostsName("example.com", 2222), "[example.com]:2222");
  assert.equal(knownHostsName("::1", 2222), "[::1]:2222");
  assert.equal(knownHostsName("::1", 22), "::1");
  for (const bad of ["", "a b", "a,b", "*.x", "h?", "[h]", "!h", "|1|x", "@h", "#h", "a\nb"]) {
    assert.throws(() => knownHostsName(bad, 22), TypeError, JSON.stringify(bad));
  }
  for (const bad of [0, 65536, 22.5, NaN]) assert.throws(() => knownHostsName("h", bad), RangeError);
});

Deno.test("matchHostField() handles comma lists, wildcards, negation and [host]:port", async () => {
  const cases: [string, string, boolean][] = [
    ["example.com", "example.com", true],
    ["example.com", "[example.com]:2222", false],
    ["[example.com]:2222", "[example.com]:2222", true],
    ["[example.com]:2222", "example.com", false],
    ["a.com,example.com", "example.com", true],
    ["*.example.com", "www.example.com", true],
    ["*.example.com", "example.com", false],
    ["web?.example.com", "web1.example.com", true],
    ["web?.example.com", "web10.example.com", false],
    ["*.example.com,!bad.example.com", "bad.example.com", false],
    ["!bad.example.com,*.example.com", "bad.example.com", false],
    ["!bad.example.com", "good.example.com", false],
    ["*", "[anything]:1234", true],
    ["[*.example.com]:*", "[a.example.com]:2222", true],
    ["EXAMPLE.com", "example.COM", true],
    ["a,,b", "b", true],
  ];
  for (const [field, name, expected] of cases) {
    assert.equal(await matchHostField(field, name), expected, `${field} vs ${name}`);
  }
});

Deno.test({
  name: "host matching agrees line by line with ssh-keygen -F on plain and ssh-keygen -H hashed files",
  ignore: !HAS_KEYGEN,
  fn: () =>
    withTempDir(async (dir) => {
      const key = await generateKey(dir, "ed25519", "k");
      const fields = [
        "alpha.example.com",
        "beta.example.com,10.0.0.2",
        "[gamma.example.com]:2222",
        "[delta.example.com]:2222,[delta.example.com]:2200,delta.example.com",
        "*.wild.example.com",
        "web?.example.org",
        "*.corp.example,!secret.corp.example",
        "!*.internal,*.lan",
        "[*.ports.example]:*",
        "192.168.1.*",
        "[::1]:2222,::1",
        "Mixed.Case.Example",
        "[10.0.0.?]:2222",
      ];
      const plain = `${dir}/known_hosts`;
      await Deno.writeTextFile(
        plain,
        ["# cross-check", ...fields.map((f) => `${f} ${key.type} ${b64(key.blob)} c`), ""].join("\n"),
      );
      const hashed = `${dir}/known_hosts_hashed`;
      await Deno.copyFile(plain, hashed);
      const hashing = await run("ssh-keygen", ["-H", "-f", hashed]);
      assert.equal(hashing.code, 0, hashing.stderr);
      const hashedText = await Deno.readTextFile(hashed);
      assert.ok(parseKnownHosts(hashedText).entries.filter((e) => e.hashed).length >= 8, hashedText);

      const queries: [string, number][] = [
        ["alpha.example.com", 22],
        ["alpha.example.com", 2222],
        ["beta.example.com", 22],
        ["10.0.0.2", 22],
        ["10.0.0.2", 2222],
        ["gamma.example.com", 2222],
        ["gamma.example.com", 22],
        ["delta.example.com", 2200],
        ["delta.example.com", 22],
        ["delta.example.com", 2201],
        ["x.wild.example.com", 22],
        ["a.b.wild.example.com", 22],
        ["wild.example.com", 22],
        ["x.wild.example.com", 2222],
        ["web1.example.org", 22],
        ["web12.example.org", 22],
        ["a.corp.example", 22],
        ["secret.corp.example", 22],
        ["box.lan", 22],
        ["box.internal", 22],
        ["a.ports.example", 8022],
        ["a.ports.example", 22],
        ["192.168.1.77", 22],
        ["192.168.10.1", 22],
        ["::1", 2222],
        ["::1", 22],
        ["mixed.case.example", 22],
        ["10.0.0.7", 2222],
        ["10.0.0.77", 2222],
        ["nowhere.example.net", 22],
      ];
      const plainText = await Deno.readTextFile(plain);
      let found = 0;
      for (const [host, port] of queries) {
        const name = knownHostsName(host, port);
        const expectedPlain = await keygenFind(plain, name);
        assert.deepEqual(await ourFind(plainText, name), expectedPlain, `plain file, ${name}`);
        assert.deepEqual(
          await ourFind(hashedText, name),
          await keygenFind(hashed, name),
          `hashed file, ${name}`,
        );
        if (expectedPlain.length > 0) found++;
      }
      // The corpus must exercise both outcomes.
      assert.ok(found >= 10 && found <= queries.length - 8, `found ${found}`);
    }),
});

Deno.test({
  name: "wildcard and negation matching agrees with ssh-keygen -F on random patterns",
  ignore: !HAS_KEYGEN,
  fn: () =>
    withTempDir(async (dir) => {
      const key = await generateKey(dir, "ed25519", "k");
      const random = mulberry32(20240601);
      const pick = (chars: string) => chars[Math.floor(random() * chars.length)]!;
      const word = (chars: string, max: number) =>
        Array.from({ length: 1 + Math.floor(random() * max) }, () => pick(chars)).join("");
      const fields = Array.from({ length: 60 }, () =>
        Array.from(
          { length: 1 + Math.floor(random() * 3) },
          () => (random() < 0.25 ? "!" : "") + (random() < 0.05 ? "" : word("ab.*?", 5)),
        ).join(","));
      const file = `${dir}/known_hosts`;
      const text = fields.map((f) => `${f} ${key.type} ${b64(key.blob)}`).join("\n") + "\n";
      await Deno.writeTextFile(file, text);
      const names = new Set(Array.from({ length: 120 }, () => word("ab.", 6)));
      for (const name of names) {
        assert.deepEqual(await ourFind(text, name), await keygenFind(file, name), `name ${name}`);
      }
    }),
});

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
// decideHostKey

Deno.test("decideHostKey() accepts a matching key under every policy", () => {
  for (const policy of ["strict", "accept-new", "off"] as const) {
    const decision = decideHostKey(policy, lookupResult({ status: "match", file: "/k", line: 3 }));
    assert.deepEqual([decision.accept, decision.record, decision.status], [true, false, "match"]);
    assert.match(decision.message, /\/k:3/);
  }
});

Deno.test("decideHostKey() refuses a changed key under every policy, naming both fingerprints and the fix", () => {
  const stored = "SHA256:storedStoredStoredStoredStoredStoredStore";
  const found = lookupResult({
    status: "mismatch",
    storedFingerprints: [stored],
    stored: [{
      file: "/home/u/.ssh/known_hosts",
      line: 7,
      keyType: "ssh-ed25519",
      fingerprint: stored,
      revoked: false,
    }],
    file: "/home/u/.ssh/known_hosts",
    line: 7,
  });
  for (const policy of ["strict", "accept-new", "off"] as const) {
    const decision = decideHostKey(policy, found);
    assert.deepEqual([decision.accept, decision.record, decision.status], [false, false, "mismatch"]);
    assert.ok(decision.message.includes(stored), decision.message);
    assert.ok(decision.message.includes(found.fingerprint), decision.message);
    assert.ok(
      decision.message.includes("ssh-keygen -R '[example.com]:2222' -f /home/u/.ssh/known_hosts"),
      decision.message,
    );
    assert.ok(decision.message.includes("/home/u/.ssh/known_hosts:7"), decision.message);
    assert.ok(!decision.message.includes("another type"), decision.message);
  }
  const otherType = decideHostKey(
    "accept-new",
    lookupResult({
      ...found,
      stored: [{ file: "/k", line: 1, keyType: "ssh-rsa", fingerprint: stored, revoked: false }],
    }),
  );
  assert.match(otherType.message, /another type/);
});

Deno.test("decideHostKey() refuses a revoked key under every policy, naming both fingerprints", () => {
  const found = lookupResult({ status: "revoked", file: "/k", line: 2 });
  for (const policy of ["strict", "accept-new", "off"] as const) {
    const decision = decideHostKey(policy, found);
    assert.deepEqual([decision.accept, decision.record, decision.status], [false, false, "revoked"]);
    assert.equal(decision.message.split(found.fingerprint).length - 1, 2, decision.message);
    assert.match(decision.message, /@revoked/);
    assert.match(decision.message, /\/k:2/);
  }
});

Deno.test("decideHostKey() handles an unknown key per policy: strict refuses, accept-new records, off warns", () => {
  const found = lookupResult({ status: "unknown" });
  const strict = decideHostKey("strict", found);
  assert.deepEqual([strict.accept, strict.record], [false, false]);
  assert.match(strict.message, /accept-new/);
  assert.match(strict.message, /ssh-keyscan -t ed25519 -p 2222 example\.com >> \/data\/known_hosts/);
  assert.ok(strict.message.includes(found.fingerprint));

  const acceptNew = decideHostKey("accept-new", found);
  assert.deepEqual([acceptNew.accept, acceptNew.record], [true, true]);
  assert.ok(acceptNew.message.includes(found.fingerprint));
  assert.match(acceptNew.message, /\/data\/known_hosts/);

  const off = decideHostKey("off", found);
  assert.deepEqual([off.accept, off.record], [true, false]);
  assert.match(off.message, /^WARNING/);
  assert.ok(off.message.includes(found.fingerprint));
});

Deno.test("decideHostKey() throws TypeError for an unknown policy or status", () => {
  assert.throws(() => decideHostKey("yes" as HostKeyPolicy, lookupResult({})), TypeError);
  assert.throws(() => decideHostKey("strict", lookupResult({ status: "weird" as "match" })), TypeError);
  assert.throws(() => decideHostKey("strict", null as unknown as HostKeyLookup), TypeError);
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
