import assert from "node:assert/strict";
import { SshError } from "../../../src/errors.ts";
import { confirmingVerifier, HostKeyQuestion, presentedKeyBlob } from "../../../src/ssh/host_keys/confirm.ts";
import { fingerprintSha256 } from "../../../src/ssh/host_keys/known_hosts.ts";
import { hostKeyVerifier } from "../../../src/ssh/host_keys/policy.ts";
import { KnownHosts } from "../../../src/ssh/host_keys/store.ts";

/** An ssh-ed25519 public key blob (wire format) with the given 32 key bytes. */
function ed25519Blob(fill: number): Uint8Array {
  const type = new TextEncoder().encode("ssh-ed25519");
  const blob = new Uint8Array(4 + type.length + 4 + 32);
  const view = new DataView(blob.buffer);
  view.setUint32(0, type.length);
  blob.set(type, 4);
  view.setUint32(4 + type.length, 32);
  blob.fill(fill, 8 + type.length);
  return blob;
}

Deno.test("an unknown key becomes a question and is not recorded; a known key passes; strict still refuses", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/known_hosts`;
    const knownHosts = new KnownHosts([{ path: file, writable: true }]);
    const verify = confirmingVerifier(hostKeyVerifier("accept-new", knownHosts), {
      policy: "accept-new",
      knownHosts,
    });
    const blob = ed25519Blob(7);
    const question = await verify("10.0.0.5", 2222, blob).then(() => undefined, (e: unknown) => e);
    assert.ok(question instanceof HostKeyQuestion, String(question));
    assert.ok(question instanceof SshError && question.code === "host_key_unconfirmed");
    assert.deepEqual({ ...question.presented, key: undefined }, {
      host: "10.0.0.5",
      port: 2222,
      keyType: "ssh-ed25519",
      fingerprint: fingerprintSha256(blob),
      key: undefined,
    });
    assert.deepEqual(presentedKeyBlob(question.presented), blob);
    assert.equal(await Deno.readTextFile(file).catch(() => ""), "", "nothing recorded before a yes");

    await knownHosts.record("10.0.0.5", 2222, presentedKeyBlob(question.presented));
    assert.equal((await verify("10.0.0.5", 2222, blob)).status, "known");
    await assert.rejects(
      verify("10.0.0.5", 2222, ed25519Blob(8)),
      (e) => (e as SshError).code === "host_key_changed",
    );

    const strict = confirmingVerifier(hostKeyVerifier("strict", knownHosts), {
      policy: "strict",
      knownHosts,
    });
    await assert.rejects(strict("10.0.0.6", 22, blob), (e) => (e as SshError).code === "host_key_unknown");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
