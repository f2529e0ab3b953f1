/**
 * Client key pairs of the test bed, generated once per machine (cached in {@link CLIENT_KEY_CACHE_DIR})
 * and copied into each server's dir.
 *
 * @module
 */
import { exists, run } from "./process.ts";
import type { ClientKeyPaths } from "./types.ts";
/** Passphrase of the encrypted client key {@link ClientKeyPaths.ed25519Encrypted}. */
export const CLIENT_KEY_PASSPHRASE = "mcp-test-passphrase-61b8f2";
/** Machine-wide cache of the client key pairs; the `-v<N>` suffix changes when the set changes. */
export const CLIENT_KEY_CACHE_DIR = "/tmp/ssh-mcp-test-keys-v1";

export const KEY_FILES = {
  ed25519: "id_ed25519",
  ed25519Encrypted: "id_ed25519_encrypted",
  rsa: "id_rsa",
  unauthorized: "id_ed25519_unauthorized",
} as const satisfies Record<keyof ClientKeyPaths, string>;

let keysReady: Promise<ClientKeyPaths> | undefined;

/** The machine-wide client key pairs in {@link CLIENT_KEY_CACHE_DIR}, generated on first use. */
export function clientKeys(): Promise<ClientKeyPaths> {
  keysReady ??= setUpKeys().catch((error) => {
    keysReady = undefined;
    throw error;
  });
  return keysReady;
}

export function keyPaths(dir: string): ClientKeyPaths {
  return {
    ed25519: `${dir}/${KEY_FILES.ed25519}`,
    ed25519Encrypted: `${dir}/${KEY_FILES.ed25519Encrypted}`,
    rsa: `${dir}/${KEY_FILES.rsa}`,
    unauthorized: `${dir}/${KEY_FILES.unauthorized}`,
  };
}

async function setUpKeys(): Promise<ClientKeyPaths> {
  const paths = keyPaths(CLIENT_KEY_CACHE_DIR);
  const complete = async () => {
    for (const path of Object.values(paths)) {
      if (!await exists(path) || !await exists(`${path}.pub`)) return false;
    }
    return true;
  };
  if (await complete()) return paths;
  // Generate aside and rename into place: a rename of a directory is atomic, so a parallel process
  // sees either nothing or the full set.
  const slash = CLIENT_KEY_CACHE_DIR.lastIndexOf("/");
  const tmp = await Deno.makeTempDir({
    dir: CLIENT_KEY_CACHE_DIR.slice(0, slash),
    prefix: `${CLIENT_KEY_CACHE_DIR.slice(slash + 1)}.tmp-`,
  });
  const p = keyPaths(tmp);
  const keygen = (path: string, args: string[], comment: string) =>
    run("ssh-keygen", ["-q", ...args, "-C", comment, "-f", path], { check: true });
  await Promise.all([
    keygen(p.ed25519, ["-t", "ed25519", "-N", ""], "mcp-test-ed25519"),
    // 16 KDF rounds is ssh-keygen's default, i.e. what users have.
    keygen(p.ed25519Encrypted, ["-t", "ed25519", "-N", CLIENT_KEY_PASSPHRASE], "mcp-test-ed25519-encrypted"),
    keygen(p.rsa, ["-t", "rsa", "-b", "3072", "-N", ""], "mcp-test-rsa"),
    keygen(p.unauthorized, ["-t", "ed25519", "-N", ""], "mcp-test-unauthorized"),
  ]);
  try {
    if (await exists(CLIENT_KEY_CACHE_DIR) && !await complete()) {
      await Deno.remove(CLIENT_KEY_CACHE_DIR, { recursive: true }); // a broken cache from an older run
    }
    await Deno.rename(tmp, CLIENT_KEY_CACHE_DIR);
  } catch {
    await Deno.remove(tmp, { recursive: true }); // another process won the race
  }
  if (!await complete()) {
    throw new Error(`Cannot create the client keys in "${CLIENT_KEY_CACHE_DIR}": remove it`);
  }
  return paths;
}
