/**
 * The server's own SSH identity: an ed25519 key created 0600 in the data dir on first start.
 */
import { generateEd25519, publicKeyOf } from "./client.ts";
import { IDENTITY_KEY_FILE } from "./credentials.ts";
import { fingerprintSha256 } from "./host_keys.ts";

/** The public half, as the `identity` tool returns it. */
export interface Identity {
  /** OpenSSH public key line. */
  publicKey: string;
  /** `SHA256:…`. */
  fingerprint: string;
  /** Private key file. */
  path: string;
}

/**
 * Loads the identity key from `dataDir`, creating it (0600, exclusive) when missing.
 *
 * @example
 * ```ts
 * const { publicKey } = await ensureIdentity("/data");
 * ```
 */
export async function ensureIdentity(dataDir: string): Promise<Identity> {
  const path = `${dataDir}/${IDENTITY_KEY_FILE}`;
  const comment = "ssh-mcp";
  let privateKey: string;
  try {
    privateKey = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const pair = generateEd25519(comment);
    try {
      await Deno.writeTextFile(path, pair.privateKey, { createNew: true, mode: 0o600 });
      privateKey = pair.privateKey;
    } catch (raced) {
      if (!(raced instanceof Deno.errors.AlreadyExists)) throw raced;
      privateKey = await Deno.readTextFile(path);
    }
  }
  const publicKey = publicKeyOf(privateKey, comment);
  const blob = Uint8Array.from(atob(publicKey.split(" ")[1]!), (c) => c.charCodeAt(0));
  return { publicKey, fingerprint: fingerprintSha256(blob), path };
}
