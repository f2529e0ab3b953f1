/**
 * The host-key policy (`-host-keys`): what to do with a presented key given what the known_hosts
 * files say ({@link decideHostKey}), and the verifier the connection manager calls on every connect
 * ({@link hostKeyVerifier}), which looks the key up, decides, and records a new key.
 *
 * @module
 */
import { HOST_KEY_POLICIES, type HostKeyPolicy } from "../../config.ts";
import { SshError } from "../../errors.ts";
import type { HostKeyLookup, HostKeyStatus, KnownHosts } from "./store.ts";

/** What to do with a presented host key. */
export interface HostKeyDecision {
  /** Whether the connection may proceed. */
  readonly accept: boolean;
  /** Whether the caller should record the key (see {@link KnownHosts.record}). */
  readonly record: boolean;
  /** The lookup status the decision was based on. */
  readonly status: HostKeyStatus;
  /** Text for the user/model: what happened and, on refusal, what to do next. */
  readonly message: string;
}

// ---------------------------------------------------------------------------------------------------
// Policy

/**
 * Applies the host-key policy to a lookup. A changed (`mismatch`) or `revoked` key is refused under
 * every policy; an unknown key is refused by `strict`, accepted and recorded by `accept-new`, and
 * accepted with a warning (not recorded) by `off`.
 *
 * @example
 * ```ts
 * const decision = decideHostKey("accept-new", await knownHosts.lookup(host, port, blob));
 * if (!decision.accept) throw new SshError("host_key_changed", decision.message);
 * ```
 * @throws {TypeError} for an unknown policy or a malformed lookup result.
 */
export function decideHostKey(policy: HostKeyPolicy, lookup: HostKeyLookup): HostKeyDecision {
  if (!HOST_KEY_POLICIES.includes(policy)) {
    throw new TypeError(
      `Cannot apply host-key policy "${String(policy)}": expected ${HOST_KEY_POLICIES.join(", ")}`,
    );
  }
  if (typeof lookup !== "object" || lookup === null || typeof lookup.hostName !== "string") {
    throw new TypeError("Cannot decide on a host key without a lookup result from KnownHosts.lookup()");
  }
  const { status, hostName, keyType, fingerprint } = lookup;
  const presented = `${keyType} ${fingerprint}`;
  switch (status) {
    case "match":
      return {
        accept: true,
        record: false,
        status,
        message: `Host key of ${hostName} (${presented}) matches ${where(lookup.file, lookup.line)}` +
          (lookup.withoutPort === true ? " (an entry without port, as OpenSSH accepts)." : "."),
      };
    case "mismatch":
      return { accept: false, record: false, status, message: mismatchMessage(lookup) };
    case "revoked":
      return {
        accept: false,
        record: false,
        status,
        message:
          `Cannot connect to ${hostName}: it presented ${presented}, which is the key of the @revoked ` +
          `entry ${fingerprint} at ${where(lookup.file, lookup.line)}. A revoked key may be a stolen key ` +
          `used to impersonate the host, so the connection is refused under every -host-keys policy. Ask the ` +
          `host's administrator for its new host key; only if the revocation itself is wrong, delete line ` +
          `${lookup.line ?? "?"} of ${
            lookup.file ?? "the known_hosts file"
          } (ssh-keygen -R keeps @revoked lines).`,
      };
    case "unknown":
      return unknownDecision(policy, lookup);
    default:
      throw new TypeError(`Cannot decide on host-key status "${String(status)}"`);
  }
}

function mismatchMessage(lookup: HostKeyLookup): string {
  const { hostName, keyType, fingerprint } = lookup;
  const conflicting = lookup.stored.filter((s) => !s.revoked);
  const listed = conflicting.map((s) => `${s.keyType} ${s.fingerprint} (${s.file}:${s.line})`).join(", ");
  const files = [...new Set(conflicting.map((s) => s.file))];
  const commands = files.map((file) => `ssh-keygen -R ${shellQuote(hostName)} -f ${shellQuote(file)}`);
  const otherTypeOnly = conflicting.every((s) => s.keyType !== keyType);
  return `Cannot connect to ${hostName}: its host key has CHANGED. It presented ${keyType} ${fingerprint}, but ` +
    `known_hosts has ${listed}. This could be a man-in-the-middle attack, so the connection is refused under ` +
    `every -host-keys policy.` +
    (otherTypeOnly
      ? ` (The stored keys are of another type than the presented one; if the server still has that key too, ` +
        `it may just have offered a different host-key algorithm.)`
      : "") +
    ` If the change is expected (host reinstalled or re-keyed), verify the new fingerprint out of band, then ` +
    `remove the stale entry with: ${commands.join(" ; ")} — and connect again.`;
}

function unknownDecision(policy: HostKeyPolicy, lookup: HostKeyLookup): HostKeyDecision {
  const { hostName, keyType, fingerprint, recordFile } = lookup;
  const presented = `${keyType} ${fingerprint}`;
  if (policy === "accept-new") {
    return {
      accept: true,
      record: true,
      status: "unknown",
      message: `Host ${hostName} was not known: accepted its key ${presented} (-host-keys accept-new) and ` +
        (recordFile === undefined
          ? "did not record it (no writable known_hosts file)."
          : `recorded it in ${recordFile}.`),
    };
  }
  if (policy === "off") {
    return {
      accept: true,
      record: false,
      status: "unknown",
      message:
        `WARNING: host key checking is off (-host-keys off): accepted the unverified key ${presented} of ` +
        `${hostName} without recording it. Anyone on the network path could be impersonating this host; use ` +
        `-host-keys accept-new or strict.`,
    };
  }
  const { host, port } = splitHostName(hostName);
  // An unquoted "~" so that the shell expands it.
  const target = recordFile === undefined ? "~/.ssh/known_hosts" : shellQuote(recordFile);
  const type = keyType.startsWith("ssh-") ? keyType.slice(4) : keyType.replace(/-sha2-nistp\d+$/, "");
  return {
    accept: false,
    record: false,
    status: "unknown",
    message: `Cannot connect to ${hostName}: its host key ${presented} is not in any known_hosts file and ` +
      `-host-keys is strict. Verify that fingerprint out of band, then either add the key with ` +
      `ssh-keyscan -t ${shellQuote(type)} -p ${port} ${shellQuote(host)} >> ${target} (check it ` +
      `with ssh-keygen -lf ${target}), or run with -host-keys accept-new (SSH_MCP_HOST_KEYS=accept-new) ` +
      `to record new hosts on first connect.`,
  };
}

function where(file: string | undefined, line: number | undefined): string {
  return file === undefined ? "known_hosts" : `${file}:${line ?? "?"}`;
}

function splitHostName(hostName: string): { host: string; port: number } {
  const match = /^\[(.*)\]:(\d+)$/.exec(hostName);
  return match === null ? { host: hostName, port: 22 } : { host: match[1]!, port: Number(match[2]) };
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

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
