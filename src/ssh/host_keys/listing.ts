/**
 * What the server trusts, for display: every key line of the known_hosts files as host field, key type
 * and `SHA256:` fingerprint — never the key material itself.
 */
import {
  fingerprintSha256,
  type KnownHostsMarker,
  knownHostsName,
  matchHostField,
  parseKnownHosts,
} from "./known_hosts.ts";
import type { KnownHostsFile } from "./store.ts";

/** One trusted (or revoked) key. */
export interface TrustedHostKey {
  /** File the line is in. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** Whether the server recorded it (the writable file, `accept-new`) rather than the operator. */
  recorded: boolean;
  /** The host field, or `"(hashed)"` for a hashed name. */
  hosts: string;
  /** `cert-authority`, `revoked`, or absent for a plain key. */
  marker?: KnownHostsMarker;
  /** Key type. */
  key_type: string;
  /** `SHA256:…` fingerprint. */
  fingerprint: string;
}

/** A key line plus the names it answers for, to decide who may see it. */
export interface ListedHostKey extends TrustedHostKey {
  /** Whether the line's host field matches `host`:`port` (hashed names included). */
  matches(host: string, port: number): Promise<boolean>;
}

/**
 * Lists every well-formed key line of the files, in lookup order. Missing or unreadable files count
 * as empty (the lookup treats them so too).
 *
 * @example
 * ```ts
 * const keys = await listKnownHosts([{ path: `${home}/.ssh/known_hosts` }]);
 * ```
 */
export async function listKnownHosts(
  files: readonly KnownHostsFile[],
  signal?: AbortSignal,
): Promise<ListedHostKey[]> {
  const out: ListedHostKey[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(file.path, { signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      continue;
    }
    for (const entry of parseKnownHosts(text).entries) {
      out.push({
        file: file.path,
        line: entry.line,
        recorded: file.writable === true,
        hosts: entry.hashed ? "(hashed)" : entry.hosts,
        ...(entry.marker === undefined ? {} : { marker: entry.marker }),
        key_type: entry.keyType,
        fingerprint: fingerprintSha256(entry.blob),
        matches: (host, port) => matchHostField(entry.hosts, knownHostsName(host, port)),
      });
    }
  }
  return out;
}
