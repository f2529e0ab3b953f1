/**
 * The known_hosts files of one server: lookup of a presented key ({@link KnownHosts}) and recording of
 * a new one ({@link appendKnownHost}). Text and matching rules are in `known_hosts.ts`.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import {
  blobsEqual,
  fingerprintSha256,
  keyTypeOf,
  type KnownHostsEntry,
  knownHostsName,
  type KnownHostsWarning,
  matchHostField,
  parseKnownHosts,
  toBase64,
} from "./known_hosts.ts";

/** Outcome of {@link KnownHosts.lookup}. */
export type HostKeyStatus = "match" | "mismatch" | "unknown" | "revoked";

/** One stored key for the host that {@link KnownHosts.lookup} found. */
export interface StoredHostKey {
  /** File the line is in. */
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  /** Key type of the stored key. */
  readonly keyType: string;
  /** `SHA256:…` fingerprint of the stored key. */
  readonly fingerprint: string;
  /** Whether the line is `@revoked`. */
  readonly revoked: boolean;
}

/** What the known_hosts files say about a presented host key. */
export interface HostKeyLookup {
  /** See {@link HostKeyStatus}. */
  readonly status: HostKeyStatus;
  /** The name looked up: `host` on port 22, `[host]:port` otherwise (lowercase). */
  readonly hostName: string;
  /** Key type of the presented key. */
  readonly keyType: string;
  /** `SHA256:…` fingerprint of the presented key. */
  readonly fingerprint: string;
  /** Distinct fingerprints of the plain (and revoked) keys on file for this host, in file order. */
  readonly storedFingerprints: readonly string[];
  /** Every plain or `@revoked` line for this host, in file order. */
  readonly stored: readonly StoredHostKey[];
  /** The deciding line: the matching line, the revoking line, or the first conflicting line. */
  readonly file?: string;
  /** Line number in {@link file}. */
  readonly line?: number;
  /**
   * True when a port other than 22 had no entry and the entry of the bare host decided, as in
   * OpenSSH ("found matching key w/out port").
   */
  readonly withoutPort?: boolean;
  /** The writable file new keys are recorded in, if there is one. */
  readonly recordFile?: string;
}

/** One file a {@link KnownHosts} reads. */
export interface KnownHostsFile {
  /** Path of the file; a missing file counts as empty. */
  readonly path: string;
  /** Whether {@link KnownHosts.record} may append to it (the first writable file is used). */
  readonly writable?: boolean;
}

/** Options of {@link KnownHosts.lookup} and {@link KnownHosts.knownKeyTypes}. */
export interface KnownHostsLookupOptions {
  /** Aborts the file reads. */
  readonly signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------------------
// KnownHosts

interface CachedFile {
  readonly stamp: string;
  readonly entries: readonly KnownHostsEntry[];
  readonly warnings: readonly KnownHostsWarning[];
}

/**
 * The known_hosts files of one server: typically `~/.ssh/known_hosts` (read-only) and
 * `<data-dir>/known_hosts` (writable). Files are re-read when they change, so an entry removed with
 * `ssh-keygen -R` takes effect on the next connect; a missing file counts as empty.
 *
 * @example
 * ```ts
 * const knownHosts = new KnownHosts([
 *   { path: `${home}/.ssh/known_hosts` },
 *   { path: `${dataDir}/known_hosts`, writable: true },
 * ]);
 * const found = await knownHosts.lookup("example.com", 22, blob);
 * const decision = decideHostKey("accept-new", found);
 * if (decision.record) await knownHosts.record("example.com", 22, blob);
 * ```
 */
export class KnownHosts {
  readonly #files: readonly KnownHostsFile[];
  readonly #cache = new Map<string, CachedFile>();
  #warnings: readonly KnownHostsWarning[] = [];

  /**
   * @param files files in lookup order; the first one marked `writable` receives new keys.
   * @throws {TypeError} when `files` is not an array of `{ path }` with non-empty paths.
   */
  constructor(files: readonly KnownHostsFile[]) {
    if (!Array.isArray(files)) throw new TypeError("Cannot create KnownHosts: files must be an array");
    this.#files = Object.freeze(files.map((file) => {
      if (typeof file?.path !== "string" || file.path === "") {
        throw new TypeError(
          `Cannot create KnownHosts with file ${JSON.stringify(file)}: path must be a non-empty string`,
        );
      }
      return Object.freeze({ path: resolve(file.path), writable: file.writable === true });
    }));
  }

  /** The file {@link record} appends to, if any file is writable. */
  get recordFile(): string | undefined {
    return this.#files.find((file) => file.writable)?.path;
  }

  /** Malformed lines (and unreadable files, as line 0) seen by the most recent lookup. */
  get warnings(): readonly KnownHostsWarning[] {
    return this.#warnings;
  }

  /**
   * Looks up the key a server presented for `host`:`port`. See the module documentation for the
   * exact semantics of each status.
   *
   * @throws {TypeError} for a bad host or blob. @throws {RangeError} for a bad port.
   */
  async lookup(
    host: string,
    port: number,
    blob: Uint8Array,
    options: KnownHostsLookupOptions = {},
  ): Promise<HostKeyLookup> {
    const hostName = knownHostsName(host, port);
    const keyType = keyTypeOf(blob);
    const fingerprint = fingerprintSha256(blob);
    const found = await this.#check(hostName, blob, fingerprint, options.signal);
    let result: HostKeyLookup = { ...found, hostName, keyType, fingerprint };
    if (found.status === "unknown" && port !== 22) {
      // OpenSSH's check_host_key() retries a new [host]:port without the port and takes the bare
      // entry only when it carries this very key; a different bare key leaves the host "unknown".
      // Unlike OpenSSH (which then goes on to treat the host as new), a key revoked for the bare name
      // is refused here too.
      const bare = await this.#check(knownHostsName(host, 22), blob, fingerprint, options.signal);
      if (bare.status === "match" || bare.status === "revoked") {
        result = { ...bare, hostName, keyType, fingerprint, withoutPort: true };
      }
    }
    return this.recordFile === undefined ? result : { ...result, recordFile: this.recordFile };
  }

  /**
   * Key types on file (plain lines only) for `host`:`port`, in file order without duplicates; for a
   * port other than 22 with no entry of its own, those of the bare host (see {@link lookup}). A client
   * should prefer host-key algorithms of these types, as OpenSSH does, so that a server with several
   * host keys presents the one we know instead of looking changed.
   */
  async knownKeyTypes(host: string, port: number, options: KnownHostsLookupOptions = {}): Promise<string[]> {
    const collect = async (name: string) => {
      const types = new Set<string>();
      for (const { entry } of await this.#entriesFor(name, options.signal)) {
        if (entry.marker === undefined) types.add(entry.keyType);
      }
      return [...types];
    };
    const types = await collect(knownHostsName(host, port));
    return types.length > 0 || port === 22 ? types : await collect(knownHostsName(host, 22));
  }

  /** OpenSSH's check_hostkeys_by_key_or_type() for one name over all files. */
  async #check(
    hostName: string,
    blob: Uint8Array,
    fingerprint: string,
    signal: AbortSignal | undefined,
  ): Promise<Pick<HostKeyLookup, "status" | "storedFingerprints" | "stored" | "file" | "line">> {
    const stored: StoredHostKey[] = [];
    let matched: StoredHostKey | undefined;
    let revoked: StoredHostKey | undefined;
    let conflicting: StoredHostKey | undefined;
    for (const { file, entry } of await this.#entriesFor(hostName, signal)) {
      if (entry.marker === "cert-authority") continue;
      const same = blobsEqual(entry.blob, blob);
      const item: StoredHostKey = {
        file,
        line: entry.line,
        keyType: entry.keyType,
        fingerprint: same ? fingerprint : fingerprintSha256(entry.blob),
        revoked: entry.marker === "revoked",
      };
      stored.push(item);
      if (item.revoked) {
        if (same) revoked ??= item;
      } else if (same) {
        matched ??= item;
      } else {
        conflicting ??= item;
      }
    }
    const decisive = revoked ?? matched ?? conflicting;
    const status: HostKeyStatus = revoked !== undefined
      ? "revoked"
      : matched !== undefined
      ? "match"
      : conflicting !== undefined
      ? "mismatch"
      : "unknown";
    return {
      status,
      storedFingerprints: [...new Set(stored.map((s) => s.fingerprint))],
      stored,
      ...(decisive === undefined ? {} : { file: decisive.file, line: decisive.line }),
    };
  }

  /**
   * Appends `host`:`port` with `blob` to {@link recordFile} (see {@link appendKnownHost}).
   *
   * @returns false when the same line was already there.
   * @throws {TypeError} when no file is writable or the arguments are bad.
   */
  async record(host: string, port: number, blob: Uint8Array): Promise<boolean> {
    const path = this.recordFile;
    if (path === undefined) {
      throw new TypeError(
        `Cannot record the host key of "${host}": no known_hosts file was given as writable to KnownHosts`,
      );
    }
    const written = await appendKnownHost(path, host, port, blob);
    this.#cache.delete(path);
    return written;
  }

  /** Entries of every file whose host field matches `hostName`, in file order. */
  async #entriesFor(
    hostName: string,
    signal: AbortSignal | undefined,
  ): Promise<{ file: string; entry: KnownHostsEntry }[]> {
    const warnings: KnownHostsWarning[] = [];
    const candidates: { file: string; entry: KnownHostsEntry }[] = [];
    for (const { path } of this.#files) {
      const parsed = await this.#load(path, signal);
      warnings.push(...parsed.warnings);
      for (const entry of parsed.entries) candidates.push({ file: path, entry });
    }
    this.#warnings = Object.freeze(warnings);
    const matches = await Promise.all(candidates.map(({ entry }) => matchHostField(entry.hosts, hostName)));
    return candidates.filter((_, i) => matches[i]);
  }

  async #load(path: string, signal: AbortSignal | undefined): Promise<CachedFile> {
    signal?.throwIfAborted();
    let stamp: string;
    try {
      const info = await Deno.stat(path);
      // Without an mtime we cannot tell whether the file changed, so we never reuse the cache.
      stamp = info.mtime === null ? `${Math.random()}` : `${info.mtime.getTime()}:${info.size}:${info.ino}`;
    } catch (error) {
      return this.#unreadable(path, error);
    }
    const cached = this.#cache.get(path);
    if (cached?.stamp === stamp) return cached;
    let text: string;
    try {
      text = await Deno.readTextFile(path, { signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      return this.#unreadable(path, error);
    }
    const parsed = parseKnownHosts(text);
    const loaded: CachedFile = {
      stamp,
      entries: parsed.entries,
      warnings: parsed.warnings.map((w) => ({ file: path, ...w })),
    };
    this.#cache.set(path, loaded);
    return loaded;
  }

  #unreadable(path: string, error: unknown): CachedFile {
    this.#cache.delete(path);
    if (error instanceof Deno.errors.NotFound) return { stamp: "", entries: [], warnings: [] };
    // Like OpenSSH, an unreadable file is treated as empty; the warning makes that visible.
    const reason = error instanceof Error ? error.message : String(error);
    return {
      stamp: "",
      entries: [],
      warnings: [{ file: path, line: 0, message: `cannot read file: ${reason}` }],
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// Appending

const appendQueues = new Map<string, Promise<unknown>>();

/**
 * Appends `host` (or `[host]:port` when the port is not 22, lowercased and unhashed) with the key type
 * and base64 blob to the known_hosts file at `path`, creating the file 0600 (and missing parent
 * directories 0700). Appends to one file are serialized within the process, and a line that is already
 * present is not written twice, so two concurrent first connects record the key once.
 *
 * @example
 * ```ts
 * await appendKnownHost(`${dataDir}/known_hosts`, "example.com", 2222, blob);
 * // appends "[example.com]:2222 ssh-ed25519 AAAA…"
 * ```
 * @returns false when the same line was already in the file.
 * @throws {TypeError} for a bad path, host or blob. @throws {RangeError} for a bad port.
 */
export async function appendKnownHost(
  path: string,
  host: string,
  port: number,
  blob: Uint8Array,
): Promise<boolean> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError(
      `Cannot append to known_hosts file ${JSON.stringify(path)}: expected a non-empty path`,
    );
  }
  const name = knownHostsName(host, port);
  const keyType = keyTypeOf(blob);
  const lineText = `${name} ${keyType} ${toBase64(blob)}`;
  const file = resolve(path);
  const previous = appendQueues.get(file) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => appendLine(file, lineText));
  const tail = run.catch(() => {});
  appendQueues.set(file, tail);
  // Drop the queue entry once idle so the map does not grow with every file ever written.
  void tail.then(() => {
    if (appendQueues.get(file) === tail) appendQueues.delete(file);
  });
  return await run;
}

async function appendLine(file: string, lineText: string): Promise<boolean> {
  let existing = "";
  try {
    existing = await Deno.readTextFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  }
  if (existing.split("\n").some((l) => l.replace(/\r$/, "").trim() === lineText)) return false;
  const prefix = existing === "" || existing.endsWith("\n") ? "" : "\n";
  const bytes = new TextEncoder().encode(`${prefix}${lineText}\n`);
  using handle = await Deno.open(file, { append: true, create: true, mode: 0o600 });
  let offset = 0;
  while (offset < bytes.length) offset += await handle.write(bytes.subarray(offset));
  return true;
}
