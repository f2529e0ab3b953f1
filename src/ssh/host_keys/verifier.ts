/**
 * Applies the host-key policy to a presented key: lookup in known_hosts, decision, recording.
 */
import { SshError } from "../../errors.ts";
import { decideHostKey, type HostKeyPolicy, type KnownHosts } from "./host_keys.ts";

/** The outcome for an accepted key, reported in `connect` results. */
export interface HostKeyVerdict {
  /** "known" (matched), "recorded" (new, saved), or "unverified" (policy off). */
  status: "known" | "recorded" | "unverified";
  /** `SHA256:…` of the presented key. */
  fingerprint: string;
  /** Human text (e.g. where a new key was recorded, or the `off` warning). */
  message: string;
}

/** Verifies one presented key; throws `SshError` when it must be refused. */
export type VerifyHostKey = (host: string, port: number, blob: Uint8Array) => Promise<HostKeyVerdict>;

/**
 * Builds the verifier for a policy over a set of known_hosts files.
 *
 * @example
 * ```ts
 * const verify = hostKeyVerifier("accept-new", new KnownHosts([{ path: f, writable: true }]));
 * ```
 */
export function hostKeyVerifier(policy: HostKeyPolicy, knownHosts: KnownHosts): VerifyHostKey {
  return async (host, port, blob) => {
    const lookup = await knownHosts.lookup(host, port, blob);
    const decision = decideHostKey(policy, lookup);
    if (!decision.accept) {
      const code = lookup.status === "revoked"
        ? "host_key_revoked"
        : lookup.status === "mismatch"
        ? "host_key_changed"
        : "host_key_unknown";
      throw new SshError(code, decision.message, {
        details: { presented: lookup.fingerprint, stored: lookup.storedFingerprints },
      });
    }
    if (decision.record) {
      await knownHosts.record(host, port, blob);
      return { status: "recorded", fingerprint: lookup.fingerprint, message: decision.message };
    }
    return {
      status: lookup.status === "match" ? "known" : "unverified",
      fingerprint: lookup.fingerprint,
      message: decision.message,
    };
  };
}

const ALGORITHMS_OF_KEY_TYPE: Record<string, string[]> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256"],
};

/** Host-key algorithms to prefer for a host: those of the key types already on file (as OpenSSH does). */
export type PreferredHostKeyAlgorithms = (host: string, port: number) => Promise<string[]>;

/**
 * Prefers the algorithms of keys already known for a host, so a host recorded with (say) an ECDSA
 * key is not reported as changed because the server offered ed25519 first.
 */
export function preferredAlgorithms(knownHosts: KnownHosts): PreferredHostKeyAlgorithms {
  return async (host, port) => {
    const types = await knownHosts.knownKeyTypes(host, port);
    return types.flatMap((type) => ALGORITHMS_OF_KEY_TYPE[type] ?? []);
  };
}
