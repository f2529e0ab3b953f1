/**
 * OpenSSH `known_hosts` support and the host-key policy (SPEC §5 "Host keys").
 *
 * Works on raw public key blobs (SSH wire format: `string keytype, …`), which is what ssh2's
 * `hostVerifier(key)` receives, so this module never imports ssh2.
 *
 * Matching follows OpenSSH (`hostfile.c`, `match.c`, `sshconnect.c`), checked against the real
 * `ssh`/`ssh-keygen` in the tests:
 * - the name looked up is `host` on port 22 and `[host]:port` otherwise, ASCII-lowercased like `ssh`;
 *   when `[host]:port` has no entry at all, an entry for the bare `host` carrying the same key is a
 *   match (OpenSSH: "found matching key w/out port"), while a different bare key leaves it unknown;
 * - a host field is either one hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` or a comma
 *   list of patterns with `*` and `?`; a matching `!pattern` vetoes the whole line;
 * - `@cert-authority` lines are parsed but never match a plain key; `@revoked` lines whose host field
 *   matches revoke the key they carry, whatever the other lines say;
 * - a key is a "match" if any line for the host carries exactly that key; otherwise, if the host has
 *   any plain key at all, it is a "mismatch" — **whatever its type**. That is what OpenSSH's
 *   `check_hostkeys_by_key_or_type()` does: OpenSSH 9.2 `ssh` connecting to a server that offers only
 *   ed25519, with only an RSA key on file, prints "REMOTE HOST IDENTIFICATION HAS CHANGED … Offending
 *   RSA key". (`ssh` avoids that case by preferring host-key algorithms it already has keys for; our
 *   client does the same with {@link KnownHosts.knownKeyTypes}.) Only a host with no plain key at all is
 *   "unknown".
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, resolve } from "node:path";

/** Host-key policy (`-host-keys` / `SSH_MCP_HOST_KEYS`). */
export type HostKeyPolicy = "strict" | "accept-new" | "off";

/** Every accepted {@link HostKeyPolicy}, for validation and help text. */
export const HOST_KEY_POLICIES: readonly HostKeyPolicy[] = Object.freeze(["strict", "accept-new", "off"]);

/** Outcome of {@link KnownHosts.lookup}. */
export type HostKeyStatus = "match" | "mismatch" | "unknown" | "revoked";

/** A line marker of the known_hosts format. */
export type KnownHostsMarker = "cert-authority" | "revoked";

/** One parsed, well-formed known_hosts line. */
export interface KnownHostsEntry {
  /** 1-based line number in its file. */
  readonly line: number;
  /** `@cert-authority` / `@revoked`, or undefined for a plain key line. */
  readonly marker: KnownHostsMarker | undefined;
  /** The host field as written: a comma list of patterns or one `|1|salt|hash` name. */
  readonly hosts: string;
  /** Whether {@link hosts} is a hashed name. */
  readonly hashed: boolean;
  /** Key type from the line (equal to the type inside {@link blob}). */
  readonly keyType: string;
  /** The public key blob (decoded base64 field). */
  readonly blob: Uint8Array;
  /** Whatever followed the key on the line, trimmed. */
  readonly comment: string;
}

/** A line that was skipped because it is malformed. */
export interface KnownHostsWarning {
  /** The file, when the text came from one. */
  readonly file?: string;
  /** 1-based line number. */
  readonly line: number;
  /** Why the line was skipped. */
  readonly message: string;
}

/** Result of {@link parseKnownHosts}. */
export interface ParsedKnownHosts {
  /** Well-formed lines in file order (comments and blank lines are dropped). */
  readonly entries: readonly KnownHostsEntry[];
  /** Malformed lines that were skipped. */
  readonly warnings: readonly KnownHostsWarning[];
}

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

const HASH_MAGIC = "|1|";
const SHA1_LENGTH = 20;
// OpenSSH's match_pattern_list() copies each sub-pattern into a 1024-byte buffer and fails the whole
// list when one does not fit.
const MAX_SUBPATTERN = 1023;

// ---------------------------------------------------------------------------------------------------
// Key blobs

/**
 * The key type string at the start of an SSH public key blob.
 *
 * @example
 * ```ts
 * keyTypeOf(blob); // "ssh-ed25519"
 * ```
 * @throws {TypeError} when `blob` is not a Uint8Array starting with a printable type string.
 */
export function keyTypeOf(blob: Uint8Array): string {
  const type = readKeyType(blob);
  if (type === undefined) {
    throw new TypeError(
      `Cannot read key type from a ${
        describeValue(blob)
      }: expected an SSH public key blob (string keytype, …)`,
    );
  }
  return type;
}

/**
 * The SHA-256 fingerprint of a public key blob, formatted like `ssh-keygen -lf`:
 * `SHA256:` + unpadded base64 of SHA-256(blob).
 *
 * @example
 * ```ts
 * fingerprintSha256(blob); // "SHA256:M7YyAtq33/fRZPFO7hjJQl9omAFwPxyiod7SADXM8kw"
 * ```
 * @throws {TypeError} when `blob` is not a Uint8Array.
 */
export function fingerprintSha256(blob: Uint8Array): string {
  if (!(blob instanceof Uint8Array)) {
    throw new TypeError(`Cannot fingerprint a ${describeValue(blob)}: expected a Uint8Array key blob`);
  }
  const digest = createHash("sha256").update(blob).digest();
  return `SHA256:${toBase64(digest).replace(/=+$/, "")}`;
}

function readKeyType(blob: unknown): string | undefined {
  if (!(blob instanceof Uint8Array) || blob.length < 5) return undefined;
  const length = ((blob[0]! << 24) | (blob[1]! << 16) | (blob[2]! << 8) | blob[3]!) >>> 0;
  // Real type names are short ("ecdsa-sha2-nistp256-cert-v01@openssh.com" is the longest at 40).
  if (length === 0 || length > 128 || 4 + length > blob.length) return undefined;
  let type = "";
  for (let i = 4; i < 4 + length; i++) {
    const c = blob[i]!;
    if (c <= 0x20 || c >= 0x7f) return undefined;
    type += String.fromCharCode(c);
  }
  return type;
}

function blobsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Parsing

/**
 * Parses known_hosts text (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"). Never throws: malformed lines are
 * skipped and reported in `warnings` with their line number.
 *
 * @example
 * ```ts
 * const { entries, warnings } = parseKnownHosts(await Deno.readTextFile(path));
 * ```
 */
export function parseKnownHosts(text: string): ParsedKnownHosts {
  const entries: KnownHostsEntry[] = [];
  const warnings: KnownHostsWarning[] = [];
  const lines = String(text).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const result = parseLine(lines[i]!, i + 1);
    if (result === undefined) continue;
    if (typeof result === "string") warnings.push({ line: i + 1, message: result });
    else entries.push(result);
  }
  return { entries, warnings };
}

/** A parsed line, a warning message, or undefined for comments and blank lines. */
function parseLine(raw: string, line: number): KnownHostsEntry | string | undefined {
  const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  let rest = text.replace(/^[ \t]+/, "");
  if (rest === "" || rest.startsWith("#")) return undefined;

  let marker: KnownHostsMarker | undefined;
  if (rest.startsWith("@")) {
    const [word = "", after] = splitField(rest);
    if (word === "@cert-authority") marker = "cert-authority";
    else if (word === "@revoked") marker = "revoked";
    else return `unknown marker "${clip(word)}" (expected @cert-authority or @revoked)`;
    if (after === undefined) return `marker ${word} is not followed by a host field`;
    if (after.startsWith("@")) return "more than one marker (only one is allowed)";
    rest = after;
  }

  const [hosts = "", afterHosts] = splitField(rest);
  if (afterHosts === undefined || afterHosts.startsWith("#")) return "truncated before the key type";
  const hashed = hosts.startsWith("|");
  if (hashed) {
    const problem = checkHashedField(hosts);
    if (problem !== undefined) return problem;
  }

  const [keyType = "", afterType] = splitField(afterHosts);
  if (/^[0-9]+$/.test(keyType)) return "SSH protocol 1 RSA key (unsupported)";
  if (afterType === undefined || afterType.startsWith("#")) {
    return `truncated after the key type "${clip(keyType)}"`;
  }
  const [base64 = "", comment = ""] = splitField(afterType);
  const blob = fromBase64(base64);
  if (blob === undefined) return `key for type "${clip(keyType)}" is not valid base64`;
  const blobType = readKeyType(blob);
  if (blobType === undefined) return `key for type "${clip(keyType)}" is not an SSH public key blob`;
  if (blobType !== keyType) {
    return `key type mismatch: the line says "${clip(keyType)}", the key is "${blobType}"`;
  }

  return { line, marker, hosts, hashed, keyType, blob, comment: comment.trim() };
}

/** Splits off the first space/tab-delimited field; the rest has its leading blanks removed. */
function splitField(text: string): [string, string | undefined] {
  const match = /[ \t]/.exec(text);
  if (match === null) return [text, undefined];
  const rest = text.slice(match.index).replace(/^[ \t]+/, "");
  return [text.slice(0, match.index), rest === "" ? undefined : rest];
}

function checkHashedField(hosts: string): string | undefined {
  const parts = parseHashedField(hosts);
  if (parts === undefined) {
    return `bad hashed host field "${clip(hosts)}" (expected |1|base64 salt|base64 hash)`;
  }
  return undefined;
}

function parseHashedField(hosts: string): { salt: Uint8Array<ArrayBuffer>; hash: Uint8Array } | undefined {
  if (!hosts.startsWith(HASH_MAGIC)) return undefined;
  const parts = hosts.slice(HASH_MAGIC.length).split("|");
  if (parts.length !== 2) return undefined;
  const salt = fromBase64(parts[0]!);
  const hash = fromBase64(parts[1]!);
  if (salt?.length !== SHA1_LENGTH || hash?.length !== SHA1_LENGTH) return undefined;
  return { salt, hash };
}

// ---------------------------------------------------------------------------------------------------
// Host matching

/**
 * The name OpenSSH looks up for a connection: `host` on port 22, `[host]:port` otherwise, in ASCII
 * lowercase.
 *
 * @example
 * ```ts
 * knownHostsName("Example.com", 2222); // "[example.com]:2222"
 * ```
 * @throws {TypeError} for an empty host or one that cannot be a single known_hosts name.
 * @throws {RangeError} for a port outside 1–65535.
 */
export function knownHostsName(host: string, port: number): string {
  checkHost(host);
  checkPort(port);
  const lower = asciiLower(host);
  return port === 22 ? lower : `[${lower}]:${port}`;
}

/**
 * Whether a known_hosts host field matches a name such as `example.com` or `[example.com]:2222`
 * (OpenSSH semantics: hashed names, comma lists, `*`/`?` wildcards, `!` negation). Async because
 * hashed names need an HMAC.
 *
 * @example
 * ```ts
 * await matchHostField("*.example.com,!bad.example.com", "www.example.com"); // true
 * ```
 */
export async function matchHostField(hosts: string, name: string): Promise<boolean> {
  if (hosts.startsWith("|")) {
    const parts = parseHashedField(hosts);
    if (parts === undefined) return false;
    const key = await crypto.subtle.importKey("raw", parts.salt, { name: "HMAC", hash: "SHA-1" }, false, [
      "sign",
    ]);
    const digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(name)));
    return blobsEqual(digest, parts.hash);
  }
  return matchPatternList(asciiLower(name), hosts);
}

/** OpenSSH match_pattern_list() with lowercasing: a negated match vetoes, else any positive wins. */
function matchPatternList(name: string, list: string): boolean {
  let positive = false;
  for (const item of list.split(",")) {
    const negated = item.startsWith("!");
    const pattern = asciiLower(negated ? item.slice(1) : item);
    if (pattern.length >= MAX_SUBPATTERN) return false;
    if (matchGlob(name, pattern)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}

/** `*` matches any run (also empty), `?` any one character; everything else is literal. */
function matchGlob(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const c = pattern[p];
    if (c === "*") {
      starP = p++;
      starT = t;
    } else if (c !== undefined && (c === "?" || c === text[t])) {
      p++;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
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

// ---------------------------------------------------------------------------------------------------
// Small helpers

function checkHost(host: string): void {
  if (typeof host !== "string" || host === "") {
    throw new TypeError(`Cannot use host ${JSON.stringify(host)}: expected a non-empty host name or address`);
  }
  // These would turn the name into a pattern list, a wildcard, a hashed field or a second field.
  const hasControl = [...host].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (hasControl || /[\s,*?\[\]]/.test(host) || /^[!|@#]/.test(host)) {
    throw new TypeError(
      `Cannot use host "${clip(host)}": a known_hosts name may not contain blanks, control characters, ` +
        `",", "*", "?", "[" or "]", nor start with "!", "|", "@" or "#"`,
    );
  }
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`Cannot use port ${String(port)}: expected an integer from 1 to 65535`);
  }
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function describeValue(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length}-byte blob`;
  return value === null ? "null" : typeof value;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.replace(/=+$/, "").length % 4 === 1) return undefined;
  try {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}
