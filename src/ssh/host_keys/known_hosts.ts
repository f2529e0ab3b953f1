/**
 * OpenSSH `known_hosts` text: parsing and host matching (SPEC §5 "Host keys"); the files themselves
 * are read and appended to by `store.ts`, and the policy applied by `policy.ts`.
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

/** Whether two key blobs are byte-for-byte equal. */
export function blobsEqual(a: Uint8Array, b: Uint8Array): boolean {
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

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function describeValue(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length}-byte blob`;
  return value === null ? "null" : typeof value;
}

/** Standard base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
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
