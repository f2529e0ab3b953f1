import assert from "node:assert/strict";
import fc from "fast-check";
import {
  fingerprintSha256,
  keyTypeOf,
  knownHostsName,
  matchHostField,
  parseKnownHosts,
} from "../../../src/ssh/host_keys/known_hosts.ts";
import {
  b64,
  fakeBlob,
  generateKey,
  keygenFind,
  line,
  mulberry32,
  ourFind,
  run,
  withTempDir,
} from "./fixtures.ts";
import { requirePrograms } from "../../_helpers/require.ts";

const HAS_KEYGEN = requirePrograms("ssh-keygen");

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
