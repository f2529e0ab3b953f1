/**
 * `-confirm host-key`: an unknown host key is not recorded by the verifier but surfaced as a
 * {@link HostKeyQuestion}, which refuses the key, so ssh2 ends the handshake before any
 * authentication is attempted. The tool middleware asks the human; on a yes it records the key (as
 * `accept-new` would) and calls again, and the key is then known.
 */
import type { HostKeyPolicy } from "../../config.ts";
import { SshError } from "../../errors.ts";
import { fingerprintSha256, keyTypeOf, toBase64 } from "./known_hosts.ts";
import type { VerifyHostKey } from "./policy.ts";
import type { KnownHosts } from "./store.ts";

/** What the human is asked about: a key presented by host:port that no known_hosts file has. */
export interface PresentedHostKey {
  /** Host as the connection names it (as seen from the jump host with `via`). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** Key type, e.g. `ssh-ed25519`. */
  readonly keyType: string;
  /** `SHA256:…` fingerprint. */
  readonly fingerprint: string;
  /** The key blob, base64 (public; recorded in known_hosts on a yes). */
  readonly key: string;
}

/** An unknown host key waits for a human decision; nothing was sent to the host. */
export class HostKeyQuestion extends SshError {
  /** The key presented. */
  readonly presented: PresentedHostKey;

  constructor(presented: PresentedHostKey) {
    super(
      "host_key_unconfirmed",
      `Cannot trust the new host key of ${presented.host} port ${presented.port} (${presented.keyType} ` +
        `${presented.fingerprint}) without a human yes: nothing was sent to the host`,
      { details: { fingerprint: presented.fingerprint } },
    );
    this.name = "HostKeyQuestion";
    this.presented = presented;
  }
}

/**
 * Wraps a verifier so that unknown keys become {@link HostKeyQuestion}s instead of being recorded or
 * let through. Known, changed and revoked keys are decided by `base` as before; under `strict` an
 * unknown key stays refused (nobody is asked).
 *
 * @example
 * ```ts
 * const verify = confirmingVerifier(hostKeyVerifier("accept-new", knownHosts), { policy: "accept-new", knownHosts });
 * ```
 */
export function confirmingVerifier(
  base: VerifyHostKey,
  options: { policy: HostKeyPolicy; knownHosts: KnownHosts },
): VerifyHostKey {
  return async (host, port, blob) => {
    if (options.policy !== "strict") {
      const lookup = await options.knownHosts.lookup(host, port, blob);
      if (lookup.status === "unknown") {
        throw new HostKeyQuestion({
          host,
          port,
          keyType: keyTypeOf(blob),
          fingerprint: fingerprintSha256(blob),
          key: toBase64(blob),
        });
      }
    }
    return await base(host, port, blob);
  };
}

/** Decodes {@link PresentedHostKey.key}. */
export function presentedKeyBlob(presented: Pick<PresentedHostKey, "key">): Uint8Array {
  return Uint8Array.from(atob(presented.key), (c) => c.charCodeAt(0));
}
