/**
 * The server's own SSH identity: an ed25519 key created 0600 in the data dir on first start.
 */
import { publicKeyOf } from "./client.ts";
import { IDENTITY_KEY_FILE } from "./credentials.ts";
import { fingerprintSha256 } from "./host_keys/known_hosts.ts";

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
    const pair = await generateEd25519(comment);
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

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

function sshString(data: Uint8Array | string): Uint8Array {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return concat(u32(bytes.length), bytes);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function fromBase64Url(text: string): Uint8Array {
  return Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
}

/**
 * Generates an ed25519 key pair in OpenSSH's private key format (unencrypted).
 *
 * Built here from WebCrypto's raw key bytes: ssh2's generator drops a leading zero byte of the public
 * key under Deno (1 key in 128 comes out malformed).
 */
export async function generateEd25519(comment: string): Promise<{ privateKey: string; publicKey: string }> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const pub = fromBase64Url(jwk.x!);
  const seed = fromBase64Url(jwk.d!);
  const blob = concat(sshString("ssh-ed25519"), sshString(pub));
  const check = crypto.getRandomValues(new Uint8Array(4));
  let secret = concat(check, check, blob, sshString(concat(seed, pub)), sshString(comment));
  const padding = Array.from({ length: (8 - (secret.length % 8)) % 8 }, (_, i) => i + 1);
  secret = concat(secret, new Uint8Array(padding));
  const body = concat(
    new TextEncoder().encode("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    u32(1),
    sshString(blob),
    sshString(secret),
  );
  const b64 = btoa(String.fromCharCode(...body)).replace(/.{70}/g, "$&\n");
  const privateKey = `-----BEGIN OPENSSH PRIVATE KEY-----\n${
    b64.replace(/\n$/, "")
  }\n-----END OPENSSH PRIVATE KEY-----\n`;
  const publicKey = `ssh-ed25519 ${btoa(String.fromCharCode(...blob))} ${comment}`;
  return { privateKey, publicKey };
}
