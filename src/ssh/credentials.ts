/**
 * Builds the ordered list of authentication methods for a connect (SPEC §5): explicit key, the
 * server's identity key, ssh-agent, default keys in ~/.ssh, password, keyboard-interactive.
 *
 * Local key paths must resolve (realpath) inside ~/.ssh or the data dir: a model must not be able to
 * make the server read arbitrary local files by naming them as keys.
 */
import { resolve } from "node:path";
import { SshError } from "../errors.ts";
import { type AuthMethod, checkPrivateKey } from "./client.ts";

/** Where credentials come from (fixed at start-up by main.ts). */
export interface CredentialSources {
  /** The user's ~/.ssh directory, if there is a home. */
  sshDir?: string;
  /** The server's data dir (holds the identity key `id_ed25519`). */
  dataDir: string;
  /** ssh-agent socket path (`SSH_AUTH_SOCK`), if any. */
  agentSocket?: string;
}

/** What the caller supplied at connect. */
export interface CredentialRequest {
  /** Password for password and keyboard-interactive auth. */
  password?: string;
  /** Path of a private key inside ~/.ssh or the data dir. */
  privateKeyPath?: string;
  /** Passphrase of that key (or of default keys). */
  passphrase?: string;
  /** IdentityFile entries from ~/.ssh/config, tried after the explicit key. */
  identityFiles?: readonly string[];
  /** IdentitiesOnly: offer only the explicit and configured keys (no agent, identity or default keys). */
  identitiesOnly?: boolean;
}

/** File name of the server's identity key inside the data dir. */
export const IDENTITY_KEY_FILE = "id_ed25519";

const DEFAULT_KEYS = ["id_ed25519", "id_ecdsa", "id_rsa"];

function expandHome(path: string, sshDir: string | undefined): string {
  if (path.startsWith("~/") && sshDir !== undefined) return sshDir.replace(/\/\.ssh\/?$/, "") + path.slice(1);
  return path;
}

async function realDir(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await Deno.realPath(path);
  } catch {
    return undefined;
  }
}

/** Resolves a user-given key path, refusing anything outside the allowed directories. */
export async function resolveKeyPath(path: string, sources: CredentialSources): Promise<string> {
  const expanded = resolve(expandHome(path, sources.sshDir));
  const roots = [sources.sshDir, sources.dataDir].filter((d): d is string => d !== undefined).map((d) =>
    resolve(d)
  );
  // Lexical check first: outside paths are refused without touching the file system at all.
  if (!roots.some((dir) => expanded.startsWith(dir + "/"))) throw outside(path, sources);
  let real: string;
  try {
    real = await Deno.realPath(expanded);
  } catch (error) {
    throw new SshError("key_unreadable", `Cannot read key "${path}": ${(error as Error).message}`);
  }
  const allowed = [await realDir(sources.sshDir), await realDir(sources.dataDir)].filter((d) =>
    d !== undefined
  );
  if (!allowed.some((dir) => real.startsWith(dir + "/"))) throw outside(path, sources);
  return real;
}

function outside(path: string, sources: CredentialSources): SshError {
  const dirs = [sources.sshDir, sources.dataDir].filter(Boolean).join(" and ");
  return new SshError("key_path_outside", `Cannot use key "${path}": it resolves outside ${dirs}`);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/**
 * The authentication methods to offer, in order.
 *
 * @example
 * ```ts
 * const auth = await authMethods({ password: "pw" }, { dataDir: "/data" });
 * ```
 */
export async function authMethods(
  request: CredentialRequest,
  sources: CredentialSources,
): Promise<AuthMethod[]> {
  const methods: AuthMethod[] = [];
  if (request.privateKeyPath !== undefined) {
    const path = await resolveKeyPath(request.privateKeyPath, sources);
    const key = await readIfExists(path);
    if (key === undefined) {
      throw new SshError("key_unreadable", `Cannot read key "${request.privateKeyPath}"`);
    }
    const problem = checkPrivateKey(key, request.passphrase);
    if (problem !== undefined) {
      throw new SshError(
        "key_unreadable",
        `Cannot use key "${request.privateKeyPath}": ${
          /passphrase|encrypt|decrypt/i.test(problem.message)
            ? "wrong or missing passphrase"
            : problem.message
        }`,
      );
    }
    methods.push({ type: "publickey", label: request.privateKeyPath, key, passphrase: request.passphrase });
  }
  for (const file of request.identityFiles ?? []) {
    let path: string;
    try {
      path = await resolveKeyPath(file, sources);
    } catch {
      continue; // missing, or outside the allowed directories: skipped like ssh skips missing keys
    }
    const key = await readIfExists(path);
    if (key === undefined) continue;
    if (checkPrivateKey(key) === undefined) methods.push({ type: "publickey", label: file, key });
    else if (request.passphrase !== undefined && checkPrivateKey(key, request.passphrase) === undefined) {
      methods.push({ type: "publickey", label: file, key, passphrase: request.passphrase });
    }
  }
  const identity = request.identitiesOnly
    ? undefined
    : await readIfExists(`${sources.dataDir}/${IDENTITY_KEY_FILE}`);
  if (identity !== undefined && checkPrivateKey(identity) === undefined) {
    methods.push({ type: "publickey", label: "server identity", key: identity });
  }
  if (sources.agentSocket && !request.identitiesOnly) {
    methods.push({ type: "agent", socket: sources.agentSocket });
  }
  if (sources.sshDir !== undefined && !request.identitiesOnly) {
    for (const name of DEFAULT_KEYS) {
      const key = await readIfExists(`${sources.sshDir}/${name}`);
      if (key === undefined) continue;
      if (checkPrivateKey(key) === undefined) {
        methods.push({ type: "publickey", label: `~/.ssh/${name}`, key });
      } else if (request.passphrase !== undefined && checkPrivateKey(key, request.passphrase) === undefined) {
        methods.push({ type: "publickey", label: `~/.ssh/${name}`, key, passphrase: request.passphrase });
      }
    }
  }
  if (request.password !== undefined) {
    methods.push({ type: "password", password: request.password });
    methods.push({ type: "keyboard-interactive", password: request.password });
  }
  return methods;
}
