/**
 * The shapes of the test bed: test users, options of a server and of the `ssh` client, results and
 * auth-log events.
 *
 * @module
 */
import type { TestSshd } from "../sshd.ts";
/** Paths of client private keys; each public key is the same path plus `.pub`. */
export interface ClientKeyPaths {
  /** Unencrypted ed25519 key (OpenSSH format), authorized for every user. */
  readonly ed25519: string;
  /** ed25519 key encrypted with {@link CLIENT_KEY_PASSPHRASE}, authorized for every user. */
  readonly ed25519Encrypted: string;
  /** Unencrypted 3072-bit RSA key (OpenSSH format), authorized for every user. */
  readonly rsa: string;
  /** Unencrypted ed25519 key that is authorized for nobody (for "wrong key" tests). */
  readonly unauthorized: string;
}

/** Names of the accounts a test server accepts. */
export type TestUserName = "root" | "mcptest" | "mcpnopw";

/** One account a test server accepts. */
export interface TestUser {
  readonly name: TestUserName;
  /** Login password; `undefined` for root, whose password the test bed never touches. */
  readonly password: string | undefined;
  readonly uid: number;
  readonly home: string;
  /** Login shell: `/bin/bash` for mcptest, `/bin/sh` (dash) for mcpnopw. */
  readonly shell: string;
  /** `"password"`: sudo asks for the account's password every time; `"none"`: not a sudoer. */
  readonly sudo: "root" | "password" | "none";
  /** Client keys authorized for this user (all but `unauthorized`). */
  readonly keys: ClientKeyPaths;
}

/** The accounts a test server accepts. */
export type TestUsers = Readonly<Record<TestUserName, TestUser>>;

/** Host key algorithms {@link startSshd} can generate. */
export type HostKeyType = "ed25519" | "ecdsa" | "rsa";

/** Options of {@link startSshd}. */
export interface SshdOptions {
  /** Type of the generated host key (default `"ed25519"`). Ignored with `hostKeyPath`. */
  hostKeyType?: HostKeyType;
  /** Reuse this private host key (copied into the server's dir) instead of generating one. */
  hostKeyPath?: string;
  /** Listen address (default `"127.0.0.1"`). */
  host?: string;
  /** Listen port (default: a free random port, or 22 inside `netns`). */
  port?: number;
  /** Run the daemon inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Server that {@link TestSshd.ssh} connects through (ProxyCommand), for hosts only it can reach. */
  via?: TestSshd;
  /** sshd_config keywords replacing the defaults (case-insensitive) or added to them. */
  config?: Readonly<Record<string, string>>;
  /** Lines appended after everything else (for `Match` blocks). */
  extraConfig?: readonly string[];
  /** Aborts the start. */
  signal?: AbortSignal;
}

/** Options of {@link TestSshd.ssh}. */
export interface SshOptions {
  /** Remote user (default `"mcptest"`). */
  user?: string;
  /** Private key (default: the unencrypted ed25519 key). `null` offers no key. */
  key?: string | null;
  /**
   * Answer to every prompt of the client (a password or the key's passphrase), given through
   * `SSH_ASKPASS` with `SSH_ASKPASS_REQUIRE=force`; turns BatchMode off.
   */
  askpass?: string;
  /**
   * Extra client arguments, e.g. `["-o", "PreferredAuthentications=password"]`. They come first, so
   * they override the defaults of {@link TestSshd.clientArgs} (ssh keeps an option's first value).
   */
  clientArgs?: readonly string[];
  /** Bytes for the remote command's stdin. */
  stdin?: string | Uint8Array;
  /** Kill the client after this long (default 15 000 ms). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Outcome of a system `ssh` run. */
export interface SshResult {
  /** Exit code; 255 is the client's own failure (connection, authentication). */
  readonly code: number;
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** One authentication line of the sshd log (OpenSSH 9.x wording). */
export interface AuthEvent {
  readonly result: "Accepted" | "Failed" | "Postponed" | "Partial";
  /** e.g. `publickey`, `password`, `keyboard-interactive/pam`, `none`. */
  readonly method: string;
  readonly user: string;
  readonly invalidUser: boolean;
  readonly line: string;
}

/** Filter of {@link TestSshd.countAuthAttempts}. */
export interface AuthFilter {
  result?: AuthEvent["result"];
  /** Exact method or its prefix before `/` (`"keyboard-interactive"` matches `.../pam`). */
  method?: string;
  user?: string;
}

/** Options of {@link TestSshd.pause}. */
export interface PauseOptions {
  /**
   * Also stop the users' processes. By default only sshd processes stop, as in a network partition:
   * remote commands keep running but nothing is relayed.
   */
  sessions?: boolean;
}
