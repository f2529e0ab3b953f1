/**
 * A real OpenSSH `sshd` per test: a random loopback port, a fresh temp dir with a generated config,
 * host key, client keys, per-user authorized_keys and a VERBOSE log, and two unprivileged test
 * accounts (`mcptest` with password-protected sudo, `mcpnopw` without sudo).
 *
 * Client keys are generated once per machine (cached in {@link CLIENT_KEY_CACHE_DIR}) and copied into
 * each server's dir, so a start costs one `ssh-keygen` for the host key plus the daemon's own start.
 *
 * @example
 * ```ts
 * await using sshd = await startSshd();
 * const result = await sshd.ssh(["id", "-un"], { user: "mcptest" });
 * assert.equal(result.stdout.trim(), "mcptest");
 * ```
 *
 * @module
 */

/** Absolute path: sshd re-executes itself and refuses to start from a relative path. */
const SSHD = "/usr/sbin/sshd";

/** Password of the `mcptest` account (which may `sudo` with it). */
export const MCPTEST_PASSWORD = "mcptest-pw-3c7e19a4";
/** Password of the `mcpnopw` account (which has no sudo rights). */
export const MCPNOPW_PASSWORD = "mcpnopw-pw-9a42d0b7";
/** Passphrase of the encrypted client key {@link ClientKeyPaths.ed25519Encrypted}. */
export const CLIENT_KEY_PASSPHRASE = "mcp-test-passphrase-61b8f2";
/** Machine-wide cache of the client key pairs; the `-v<N>` suffix changes when the set changes. */
export const CLIENT_KEY_CACHE_DIR = "/tmp/ssh-mcp-test-keys-v1";

const USERS_MARKER = "/var/lib/ssh-mcp-test/users-v1";
const USERS_LOCK = "/run/lock/ssh-mcp-test-users.lock";
const SUDOERS_FILE = "/etc/sudoers.d/ssh-mcp-test";
const START_TIMEOUT_MS = 10_000;

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

// ---------------------------------------------------------------------------------------------
// small process utilities (shared with jump.ts)

/** Result of {@link run}. */
export interface RunResult {
  readonly code: number;
  readonly success: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link run}. */
export interface RunOptions {
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Throw a descriptive `Error` when the program exits non-zero (default `false`). */
  check?: boolean;
}

/**
 * Runs a program to completion, collecting its output.
 *
 * @example
 * ```ts
 * const { stdout } = await run("ssh-keygen", ["-lf", "key.pub"], { check: true });
 * ```
 */
export async function run(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args: [...args],
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: options.env,
    signal: options.signal,
  }).spawn();
  // Write concurrently with reading, or a large input and output could deadlock on full pipes.
  const writing = options.stdin === undefined ? Promise.resolve() : (async () => {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(
        typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
      );
      await writer.close();
    } catch {
      // the program exited without reading everything; its exit status tells the story
    }
  })();
  const out = await child.output();
  await writing;
  const result = {
    code: out.code,
    success: out.success,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (options.check && !result.success) {
    throw new Error(
      `Cannot run "${[cmd, ...args].join(" ")}": exit code ${result.code}: ${
        result.stderr.trim() || result.stdout.trim()
      }`,
    );
  }
  return result;
}

interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
}

function listProcesses(options: { zombies?: boolean } = {}): ProcInfo[] {
  const result: ProcInfo[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch {
      continue; // exited meanwhile
    }
    // comm may contain spaces and parentheses; the fields after the last ")" are plain.
    const open = stat.indexOf("(");
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    if (fields[0] === "Z" && !options.zombies) continue; // they hold nothing and ignore signals
    result.push({ pid: Number(entry.name), ppid: Number(fields[1]), comm: stat.slice(open + 1, close) });
  }
  return result;
}

/** Pids of `rootPid` (if alive) and all its descendants, found through /proc parent links. */
export function processTree(rootPid: number): number[] {
  return treeOf([rootPid], listProcesses()).map((p) => p.pid);
}

function treeOf(roots: readonly number[], procs: readonly ProcInfo[]): ProcInfo[] {
  const children = new Map<number, ProcInfo[]>();
  const byPid = new Map<number, ProcInfo>();
  for (const p of procs) {
    byPid.set(p.pid, p);
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const seen = new Set<number>();
  const result: ProcInfo[] = [];
  const queue = roots.map((pid) => byPid.get(pid)).filter((p): p is ProcInfo => p !== undefined);
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (seen.has(p.pid)) continue;
    seen.add(p.pid);
    result.push(p);
    queue.push(...(children.get(p.pid) ?? []));
  }
  return result;
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGSTOPs the trees under `roots()` until no new process appears (a stopped process cannot fork),
 * so the snapshot is complete. Returns the stopped pids.
 */
function freeze(roots: () => number[], filter: (p: ProcInfo) => boolean = () => true): number[] {
  const stopped = new Set<number>();
  for (let round = 0; round < 100; round++) {
    let grew = false;
    for (const p of treeOf(roots(), listProcesses())) {
      if (stopped.has(p.pid) || !filter(p)) continue;
      signal(p.pid, "SIGSTOP");
      stopped.add(p.pid);
      grew = true;
    }
    if (!grew) break;
  }
  return [...stopped];
}

/**
 * Kills the processes `roots()` returns and all their descendants, frozen first so none escapes by
 * forking (`roots` is re-evaluated while freezing). Returns the killed pids.
 */
export function killProcessTree(roots: () => number[]): number[] {
  const pids = freeze(roots);
  for (const pid of pids) signal(pid, "SIGKILL");
  return pids;
}

/**
 * Pids whose environment says they belong to an SSH session with the server `host:port`; catches
 * processes that daemonized out of the sshd tree (their parent is then init).
 */
export function sessionProcesses(host: string, port: number): number[] {
  const suffix = ` ${host} ${port}`;
  const result: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    let environ: Uint8Array;
    try {
      environ = Deno.readFileSync(`/proc/${entry.name}/environ`);
    } catch {
      continue;
    }
    const text = new TextDecoder("latin1").decode(environ);
    const start = text.indexOf("SSH_CONNECTION=");
    if (start === -1 || (start > 0 && text[start - 1] !== "\0")) continue;
    const end = text.indexOf("\0", start);
    const value = text.slice(start + "SSH_CONNECTION=".length, end === -1 ? undefined : end);
    if (value.endsWith(suffix)) result.push(Number(entry.name));
  }
  return result;
}

/** Waits until none of `pids` is alive (zombies count as gone) or `timeoutMs` passes. */
async function waitGone(pids: readonly number[], timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids;
  while (alive.length > 0 && Date.now() < deadline) {
    const living = new Set(listProcesses().map((p) => p.pid));
    alive = alive.filter((pid) => living.has(pid));
    if (alive.length > 0) await delay(5);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Runs `fn` holding an exclusive flock on `path`, which serializes parallel test processes. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  using file = await Deno.open(path, { create: true, write: true, mode: 0o666 });
  await file.lock(true);
  try {
    return await fn();
  } finally {
    await file.unlock();
  }
}

// ---------------------------------------------------------------------------------------------
// machine setup: accounts and client keys

/** The /etc/passwd fields the test bed uses. */
export interface PasswdEntry {
  readonly uid: number;
  readonly home: string;
  readonly shell: string;
}

async function readAccounts(): Promise<Map<string, PasswdEntry>> {
  const result = new Map<string, PasswdEntry>();
  for (const line of (await Deno.readTextFile("/etc/passwd")).split("\n")) {
    const [name, , uid, , , home, shell] = line.split(":");
    if (name && uid !== undefined && home !== undefined && shell !== undefined) {
      result.set(name, { uid: Number(uid), home, shell });
    }
  }
  return result;
}

let usersReady: Promise<Map<string, PasswdEntry>> | undefined;

/**
 * Creates (once per machine; idempotent and safe under parallel test processes) the accounts
 * `mcptest` (bash, password {@link MCPTEST_PASSWORD}, sudo with its password) and `mcpnopw` (sh,
 * password {@link MCPNOPW_PASSWORD}, no sudo). Returns the passwd entries.
 */
export function ensureTestUsers(): Promise<Map<string, PasswdEntry>> {
  usersReady ??= setUpUsers().catch((error) => {
    usersReady = undefined;
    throw error;
  });
  return usersReady;
}

async function setUpUsers(): Promise<Map<string, PasswdEntry>> {
  const ready = async () => {
    const accounts = await readAccounts();
    return accounts.has("mcptest") && accounts.has("mcpnopw") && await exists(USERS_MARKER) &&
        await exists(SUDOERS_FILE)
      ? accounts
      : undefined;
  };
  const fast = await ready();
  if (fast) return fast;
  if (Deno.uid() !== 0) {
    throw new Error(`Cannot create the test users "mcptest" and "mcpnopw": not root; run the tests as root`);
  }
  return await withFileLock(USERS_LOCK, async () => {
    const again = await ready();
    if (again) return again;
    const accounts = await readAccounts();
    // bash sources ~/.bashrc even for `ssh host cmd`; Debian's skeleton returns early when
    // non-interactive, so commands stay fast (unlike root's .bashrc on these VMs).
    if (!accounts.has("mcptest")) await run("useradd", ["-m", "-s", "/bin/bash", "mcptest"], { check: true });
    if (!accounts.has("mcpnopw")) await run("useradd", ["-m", "-s", "/bin/sh", "mcpnopw"], { check: true });
    await run("chpasswd", [], {
      stdin: `mcptest:${MCPTEST_PASSWORD}\nmcpnopw:${MCPNOPW_PASSWORD}\n`,
      check: true,
    });
    // timestamp_timeout=0: every sudo asks, so "needs the password" tests do not depend on order.
    const sudoers = "# written by ssh-mcp tests/_helpers/sshd.ts\n" +
      "Defaults:mcptest timestamp_timeout=0, lecture=never\n" +
      "mcptest ALL=(ALL) ALL\n";
    const tmp = `${SUDOERS_FILE}.tmp`; // sudo ignores names with a dot
    await Deno.writeTextFile(tmp, sudoers, { mode: 0o440 });
    await Deno.chmod(tmp, 0o440);
    await run("visudo", ["-cf", tmp], { check: true });
    await Deno.rename(tmp, SUDOERS_FILE);
    await Deno.mkdir(USERS_MARKER.slice(0, USERS_MARKER.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(USERS_MARKER, "mcptest mcpnopw\n");
    return await readAccounts();
  });
}

const KEY_FILES = {
  ed25519: "id_ed25519",
  ed25519Encrypted: "id_ed25519_encrypted",
  rsa: "id_rsa",
  unauthorized: "id_ed25519_unauthorized",
} as const satisfies Record<keyof ClientKeyPaths, string>;

let keysReady: Promise<ClientKeyPaths> | undefined;

/** The machine-wide client key pairs in {@link CLIENT_KEY_CACHE_DIR}, generated on first use. */
export function clientKeys(): Promise<ClientKeyPaths> {
  keysReady ??= setUpKeys().catch((error) => {
    keysReady = undefined;
    throw error;
  });
  return keysReady;
}

function keyPaths(dir: string): ClientKeyPaths {
  return {
    ed25519: `${dir}/${KEY_FILES.ed25519}`,
    ed25519Encrypted: `${dir}/${KEY_FILES.ed25519Encrypted}`,
    rsa: `${dir}/${KEY_FILES.rsa}`,
    unauthorized: `${dir}/${KEY_FILES.unauthorized}`,
  };
}

async function setUpKeys(): Promise<ClientKeyPaths> {
  const paths = keyPaths(CLIENT_KEY_CACHE_DIR);
  const complete = async () => {
    for (const path of Object.values(paths)) {
      if (!await exists(path) || !await exists(`${path}.pub`)) return false;
    }
    return true;
  };
  if (await complete()) return paths;
  // Generate aside and rename into place: a rename of a directory is atomic, so a parallel process
  // sees either nothing or the full set.
  const slash = CLIENT_KEY_CACHE_DIR.lastIndexOf("/");
  const tmp = await Deno.makeTempDir({
    dir: CLIENT_KEY_CACHE_DIR.slice(0, slash),
    prefix: `${CLIENT_KEY_CACHE_DIR.slice(slash + 1)}.tmp-`,
  });
  const p = keyPaths(tmp);
  const keygen = (path: string, args: string[], comment: string) =>
    run("ssh-keygen", ["-q", ...args, "-C", comment, "-f", path], { check: true });
  await Promise.all([
    keygen(p.ed25519, ["-t", "ed25519", "-N", ""], "mcp-test-ed25519"),
    // 16 KDF rounds is ssh-keygen's default, i.e. what users have.
    keygen(p.ed25519Encrypted, ["-t", "ed25519", "-N", CLIENT_KEY_PASSPHRASE], "mcp-test-ed25519-encrypted"),
    keygen(p.rsa, ["-t", "rsa", "-b", "3072", "-N", ""], "mcp-test-rsa"),
    keygen(p.unauthorized, ["-t", "ed25519", "-N", ""], "mcp-test-unauthorized"),
  ]);
  try {
    if (await exists(CLIENT_KEY_CACHE_DIR) && !await complete()) {
      await Deno.remove(CLIENT_KEY_CACHE_DIR, { recursive: true }); // a broken cache from an older run
    }
    await Deno.rename(tmp, CLIENT_KEY_CACHE_DIR);
  } catch {
    await Deno.remove(tmp, { recursive: true }); // another process won the race
  }
  if (!await complete()) {
    throw new Error(`Cannot create the client keys in "${CLIENT_KEY_CACHE_DIR}": remove it`);
  }
  return paths;
}

// ---------------------------------------------------------------------------------------------
// the server

/** prctl(2) syscall numbers by architecture; PR_SET_CHILD_SUBREAPER is 36 on all of them. */
const PRCTL_SYSCALL: Partial<Record<typeof Deno.build.arch, number>> = { x86_64: 157, aarch64: 167 };

let launcher: string[] | undefined;

/**
 * argv prefix that makes the daemon a child subreaper (the attribute survives execve) through perl,
 * which Debian always has (perl-base is essential). Orphaned session processes then become the
 * daemon's children, which sshd reaps (waitpid(-1) on SIGCHLD), instead of init's: pid 1 on these
 * VMs reaps orphans only lazily, so every killed session would leave zombies behind for a while.
 */
function subreaperLauncher(): string[] {
  if (launcher) return launcher;
  const nr = PRCTL_SYSCALL[Deno.build.arch];
  const perl = "/usr/bin/perl";
  let usable = false;
  try {
    usable = nr !== undefined && Deno.statSync(perl).isFile;
  } catch {
    // no perl: orphans go to init
  }
  launcher = usable
    ? [
      perl,
      "-e",
      `syscall(${nr}, 36, 1, 0, 0, 0) == 0 or die "prctl: $!\\n"; exec { $ARGV[0] } @ARGV or die "exec: $!\\n";`,
    ]
    : [];
  return launcher;
}

function pickPort(host: string): number {
  const listener = Deno.listen({ hostname: host, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function fingerprintOf(publicKeyLine: string): Promise<string> {
  const blob = publicKeyLine.split(/\s+/)[1] ?? "";
  const bytes = Uint8Array.from(atob(blob), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `SHA256:${btoa(String.fromCharCode(...digest)).replace(/=+$/, "")}`;
}

function quoteSh(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

class PortInUseError extends Error {}

const AUTH_LINE =
  /^(Accepted|Failed|Postponed|Partial) (\S+) for (invalid user )?(\S*) from \S+ port \d+ ssh2\b.*$/gm;

interface TestSshdInit {
  host: string;
  port: number;
  dir: string;
  hostKeyPath: string;
  hostPublicKey: string;
  hostKeyFingerprint: string;
  users: TestUsers;
  keys: ClientKeyPaths;
  netns: string | undefined;
  via: TestSshd | undefined;
  config: ReadonlyArray<readonly [string, string]>;
  extraConfig: readonly string[];
}

/** A running OpenSSH daemon for tests; create with {@link startSshd}, dispose with `await using`. */
export class TestSshd implements AsyncDisposable {
  /** Address the daemon listens on. */
  readonly host: string;
  /** Temp dir with config, keys, authorized_keys and the log; removed on dispose. */
  readonly dir: string;
  /** Private host key file. */
  readonly hostKeyPath: string;
  /** Host public key as an OpenSSH line without comment: `ssh-ed25519 AAAA…`. */
  readonly hostPublicKey: string;
  /** `SHA256:…`, as `ssh-keygen -lf` prints it. */
  readonly hostKeyFingerprint: string;
  /** Accounts it accepts, with their passwords and authorized keys. */
  readonly users: TestUsers;
  /** This server's copies of the client keys (authorized for every user except `unauthorized`). */
  readonly keys: ClientKeyPaths;
  /** Network namespace the daemon runs in, if any. */
  readonly netns: string | undefined;
  /** Server that {@link ssh} goes through, if any. */
  readonly via: TestSshd | undefined;
  /** Path of the daemon's log (appended across restarts). */
  readonly logPath: string;
  #port: number;
  #config: ReadonlyArray<readonly [string, string]>;
  #extraConfig: readonly string[];
  #child: Deno.ChildProcess | undefined;
  #status: Promise<Deno.CommandStatus> | undefined;
  #exited = false;
  #paused: number[] = [];
  #disposed = false;

  /** Internal: use {@link startSshd}. */
  constructor(init: TestSshdInit) {
    this.host = init.host;
    this.#port = init.port;
    this.dir = init.dir;
    this.hostKeyPath = init.hostKeyPath;
    this.hostPublicKey = init.hostPublicKey;
    this.hostKeyFingerprint = init.hostKeyFingerprint;
    this.users = init.users;
    this.keys = init.keys;
    this.netns = init.netns;
    this.via = init.via;
    this.#config = init.config;
    this.#extraConfig = init.extraConfig;
    this.logPath = `${init.dir}/sshd.log`;
  }

  /** Port the daemon listens on (kept across {@link stop}/{@link start}). */
  get port(): number {
    return this.#port;
  }

  /** Pid of the listening daemon, `undefined` when stopped. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Whether the daemon is running (it may be paused). */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** The config file as written for the current port. */
  configText(): string {
    const lines = [
      "# generated by tests/_helpers/sshd.ts",
      `ListenAddress ${this.host}`,
      `Port ${this.#port}`,
      ...this.#config.map(([key, value]) => `${key} ${value}`),
      ...this.#extraConfig,
    ];
    return lines.join("\n") + "\n";
  }

  /**
   * Starts the daemon again on the same port with the same host key (no-op when running). Retries
   * briefly when the port is taken; with `pickNewPort` (used by the first start) picks another.
   */
  async start(options: { signal?: AbortSignal; pickNewPort?: boolean } = {}): Promise<void> {
    this.#assertNotDisposed("start");
    if (this.#child) return;
    for (let attempt = 1;; attempt++) {
      try {
        await this.#launch(options.signal);
        return;
      } catch (error) {
        if (!(error instanceof PortInUseError) || attempt >= 5) throw error;
        if (options.pickNewPort) this.#port = pickPort(this.host);
        else await delay(50 * attempt);
      }
    }
  }

  async #launch(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const configPath = `${this.dir}/sshd_config`;
    await Deno.writeTextFile(configPath, this.configText());
    let offset = 0;
    try {
      offset = (await Deno.stat(this.logPath)).size;
    } catch {
      // first start
    }
    // -E instead of -e: sshd writes the log file synchronously before it answers the client, so a
    // test that reads the log right after a login sees the line (a stderr pipe would lag).
    const argv = [...subreaperLauncher(), SSHD, "-D", "-E", this.logPath, "-f", configPath];
    if (this.netns !== undefined) argv.unshift("ip", "netns", "exec", this.netns);
    const command = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    });
    const child = command.spawn();
    let exit: Deno.CommandStatus | undefined;
    const status = child.status.then((s) => exit = s);
    const ready = `Server listening on ${this.host} port ${this.#port}.`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const log = await this.#logSince(offset);
      if (log.includes(ready)) break;
      if (exit !== undefined) {
        if (log.includes("Address already in use")) throw new PortInUseError(log);
        throw new Error(
          `Cannot start sshd on "${this.host}:${this.#port}": it exited with code ${exit.code}; log: ${
            log.trim() || "(empty)"
          }; check with: ${SSHD} -t -f ${configPath}`,
        );
      }
      if (Date.now() > deadline || signal?.aborted) {
        killProcessTree(() => [child.pid]);
        await status;
        signal?.throwIfAborted();
        throw new Error(
          `Cannot start sshd on "${this.host}:${this.#port}": not listening after ${START_TIMEOUT_MS} ms`,
        );
      }
      await delay(3);
    }
    this.#child = child;
    this.#exited = false;
    this.#status = status.then((s) => {
      this.#exited = true;
      return s;
    });
  }

  async #logSince(offset: number): Promise<string> {
    try {
      const bytes = await Deno.readFile(this.logPath);
      return new TextDecoder().decode(bytes.subarray(offset));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return "";
      throw error;
    }
  }

  /**
   * Kills the daemon, its per-connection children and every session process (also those that left
   * the tree, found by `SSH_CONNECTION`), then waits for them to go. Clients see the connection drop.
   */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    this.#paused = [];
    // After an exit Deno has reaped the daemon and its pid may belong to someone else by now.
    const daemon = this.#exited ? undefined : child.pid;
    const frozen = freeze(
      () => [...(daemon === undefined ? [] : [daemon]), ...sessionProcesses(this.host, this.#port)],
    );
    const others = frozen.filter((pid) => pid !== daemon);
    for (const pid of others) signal(pid, "SIGKILL");
    if (daemon !== undefined) {
      // The daemon is a subreaper (see subreaperLauncher): its dying descendants all end up as its
      // children, so let it run and reap them before it dies itself rather than leave them to init.
      signal(daemon, "SIGCONT");
      const deadline = Date.now() + 1000;
      for (;;) {
        const children = listProcesses({ zombies: true }).filter((p) => p.ppid === daemon);
        if (children.length === 0 || Date.now() > deadline) break;
        // A client that reconnects meanwhile gets a fresh child; it goes the same way.
        for (const p of children) signal(p.pid, "SIGKILL");
        await delay(2);
      }
      signal(daemon, "SIGKILL");
    }
    await this.#status;
    this.#status = undefined;
    await waitGone(others);
  }

  /**
   * SIGSTOPs the listening daemon and its per-connection children: new connections get no banner and
   * open ones stall. See {@link PauseOptions.sessions}.
   */
  pause(options: PauseOptions = {}): void {
    const child = this.#child;
    if (!child) throw new Error(`Cannot pause sshd on "${this.host}:${this.#port}": it is not running`);
    const onlySshd = (p: ProcInfo) => options.sessions === true || p.comm === "sshd";
    this.#paused = [...new Set([...this.#paused, ...freeze(() => [child.pid], onlySshd)])];
  }

  /** SIGCONTs what {@link pause} stopped. */
  resume(): void {
    for (const pid of this.#paused) signal(pid, "SIGCONT");
    this.#paused = [];
  }

  /** The daemon's log so far (all runs). */
  async logText(): Promise<string> {
    return await this.#logSince(0);
  }

  /**
   * The authentication lines of the log: `Accepted|Failed|Postponed|Partial <method> for [invalid
   * user ]<user> from …`. `Postponed publickey` is the key query that precedes the signed attempt.
   */
  async authEvents(): Promise<AuthEvent[]> {
    const text = await this.logText();
    return [...text.matchAll(AUTH_LINE)].map((m) => ({
      result: m[1] as AuthEvent["result"],
      method: m[2] ?? "",
      invalidUser: m[3] !== undefined,
      user: m[4] ?? "",
      line: m[0],
    }));
  }

  /**
   * Counts `Accepted`/`Failed`/`Postponed`/`Partial` authentication lines, ignoring the `none`
   * method probe. A publickey login by OpenSSH's client logs `Postponed` then `Accepted` (two).
   */
  async countAuthAttempts(filter: AuthFilter = {}): Promise<number> {
    return (await this.authEvents()).filter((e) =>
      e.method !== "none" &&
      (filter.result === undefined || e.result === filter.result) &&
      (filter.user === undefined || e.user === filter.user) &&
      (filter.method === undefined || e.method === filter.method || e.method.startsWith(`${filter.method}/`))
    ).length;
  }

  /** Appends `publicKeyLine` to `user`'s authorized_keys file (any user name). */
  async authorizeKey(user: string, publicKeyLine: string): Promise<void> {
    await Deno.writeTextFile(`${this.dir}/authorized_keys/${user}`, publicKeyLine.trim() + "\n", {
      append: true,
      mode: 0o644,
    });
  }

  /** The client arguments that reach this server (port, key, no known_hosts, proxy when `via`). */
  clientArgs(options: Pick<SshOptions, "user" | "key" | "askpass"> = {}): string[] {
    const key = options.key === undefined ? this.keys.ed25519 : options.key;
    const args = [
      "-F",
      "/dev/null",
      "-p",
      String(this.#port),
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      `BatchMode=${options.askpass === undefined ? "yes" : "no"}`,
      "-o",
      "LogLevel=ERROR",
      "-o",
      "ConnectTimeout=5",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "IdentityAgent=none",
    ];
    if (key === null) args.push("-o", "PubkeyAuthentication=no");
    else args.push("-i", key);
    if (this.via) {
      const hop = ["ssh", ...this.via.clientArgs({ user: options.user }), "-W", "%h:%p"];
      hop.push(`${options.user ?? "mcptest"}@${this.via.host}`);
      args.push("-o", `ProxyCommand=${hop.map(quoteSh).join(" ")}`);
    }
    return args;
  }

  /**
   * Runs the system `ssh` client against this server, for out-of-band checks. `args` form the remote
   * command, which ssh joins with spaces for the remote user's shell.
   */
  async ssh(args: readonly string[], options: SshOptions = {}): Promise<SshResult> {
    const user = options.user ?? "mcptest";
    const env: Record<string, string> = {};
    if (options.askpass !== undefined) {
      Object.assign(env, {
        SSH_ASKPASS: `${this.dir}/askpass.sh`,
        SSH_ASKPASS_REQUIRE: "force",
        MCP_TEST_ASKPASS: options.askpass,
      });
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 15_000);
    const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
    try {
      // ssh keeps the first value of each option, so the caller's go first to override ours.
      const clientArgs = [...(options.clientArgs ?? []), ...this.clientArgs({ ...options, user })];
      return await run("ssh", [...clientArgs, `${user}@${this.host}`, "--", ...args], {
        stdin: options.stdin,
        env,
        signal,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the daemon and its sessions, and removes {@link dir}. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  #assertNotDisposed(action: string): void {
    if (this.#disposed) {
      throw new Error(`Cannot ${action} sshd on "${this.host}:${this.#port}": it was disposed`);
    }
  }
}

const DEFAULT_CONFIG: ReadonlyArray<readonly [string, string]> = [
  ["UsePAM", "yes"],
  ["PasswordAuthentication", "yes"],
  ["KbdInteractiveAuthentication", "yes"],
  ["PubkeyAuthentication", "yes"],
  ["PermitRootLogin", "yes"],
  ["StrictModes", "no"],
  ["LogLevel", "VERBOSE"],
  ["MaxSessions", "10"],
  // Parallel tests open many connections at once; the default 10:30:100 would drop some at random.
  ["MaxStartups", "100"],
  ["AllowTcpForwarding", "yes"],
  ["ClientAliveInterval", "0"],
  ["PrintMotd", "no"],
  ["AcceptEnv", "LANG LC_* MCP_TEST_*"],
  ["Subsystem", "sftp internal-sftp"],
];

/**
 * Starts an OpenSSH daemon (`sshd -D`) on a free loopback port with a fresh host key, the test
 * accounts and the client keys authorized for root, mcptest and mcpnopw.
 *
 * @example
 * ```ts
 * await using sshd = await startSshd();
 * const { stdout } = await sshd.ssh(["echo", "hi"]);
 * ```
 */
export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  options.signal?.throwIfAborted();
  const host = options.host ?? "127.0.0.1";
  const hostKeyType = options.hostKeyType ?? "ed25519";
  if (!["ed25519", "ecdsa", "rsa"].includes(hostKeyType)) {
    throw new TypeError(`Cannot start sshd with host key type "${hostKeyType}": use ed25519, ecdsa or rsa`);
  }
  await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const [accounts, cached] = await Promise.all([ensureTestUsers(), clientKeys()]);
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-sshd-" });
  try {
    // sshd reads authorized_keys as the logging-in user, who must be able to reach the file.
    await Deno.chmod(dir, 0o755);
    const hostKeyPath = `${dir}/host_key`;
    const clientDir = `${dir}/client`;
    await Deno.mkdir(clientDir, { mode: 0o700 });
    const keys = keyPaths(clientDir);
    const copies = Object.entries(KEY_FILES).flatMap(([, file]) => [
      Deno.copyFile(`${CLIENT_KEY_CACHE_DIR}/${file}`, `${clientDir}/${file}`),
      Deno.copyFile(`${CLIENT_KEY_CACHE_DIR}/${file}.pub`, `${clientDir}/${file}.pub`),
    ]);
    const hostKey = options.hostKeyPath === undefined
      ? run("ssh-keygen", [
        "-q",
        "-t",
        hostKeyType,
        ...(hostKeyType === "rsa" ? ["-b", "3072"] : hostKeyType === "ecdsa" ? ["-b", "256"] : []),
        "-N",
        "",
        "-C",
        "mcp-test-host",
        "-f",
        hostKeyPath,
      ], { check: true })
      : (async () => {
        await Deno.copyFile(options.hostKeyPath!, hostKeyPath);
        await Deno.chmod(hostKeyPath, 0o600);
        const pub = await run("ssh-keygen", ["-y", "-f", hostKeyPath], { check: true });
        await Deno.writeTextFile(`${hostKeyPath}.pub`, pub.stdout);
      })();
    // The askpass helper of ssh(): prints the secret the caller put in the environment.
    const askpass = Deno.writeTextFile(
      `${dir}/askpass.sh`,
      '#!/bin/sh\nprintf "%s\\n" "$MCP_TEST_ASKPASS"\n',
      {
        mode: 0o700,
      },
    );
    await Promise.all([...copies, hostKey, askpass]);
    for (const path of Object.values(keys)) await Deno.chmod(path, 0o600);

    const authorized = (await Promise.all(
      [cached.ed25519, cached.ed25519Encrypted, cached.rsa].map((p) => Deno.readTextFile(`${p}.pub`)),
    )).map((line) => line.trim()).join("\n") + "\n";
    await Deno.mkdir(`${dir}/authorized_keys`, { mode: 0o755 });
    await Promise.all((["root", "mcptest", "mcpnopw"] as const).map(async (name) => {
      const path = `${dir}/authorized_keys/${name}`;
      await Deno.writeTextFile(path, authorized);
      await Deno.chmod(path, 0o644);
    }));

    const hostPublicKey = (await Deno.readTextFile(`${hostKeyPath}.pub`)).trim().split(/\s+/).slice(0, 2)
      .join(" ");
    const account = (name: string): PasswdEntry => {
      const a = accounts.get(name);
      if (!a) throw new Error(`Cannot find the test user "${name}" in /etc/passwd: remove ${USERS_MARKER}`);
      return a;
    };
    const user = (name: TestUserName, password: string | undefined, sudo: TestUser["sudo"]): TestUser => ({
      name,
      password,
      sudo,
      keys,
      ...account(name),
    });
    const users: TestUsers = {
      root: user("root", undefined, "root"),
      mcptest: user("mcptest", MCPTEST_PASSWORD, "password"),
      mcpnopw: user("mcpnopw", MCPNOPW_PASSWORD, "none"),
    };

    const config = DEFAULT_CONFIG.map(([k, v]) => [k, v] as [string, string]);
    for (const [key, value] of Object.entries(options.config ?? {})) {
      const existing = config.find(([k]) => k.toLowerCase() === key.toLowerCase());
      if (existing) existing[1] = value;
      else config.push([key, value]);
    }
    config.push(
      ["HostKey", hostKeyPath],
      ["PidFile", `${dir}/sshd.pid`],
      ["AuthorizedKeysFile", `${dir}/authorized_keys/%u`],
    );

    const randomPort = options.port === undefined && options.netns === undefined;
    const sshd = new TestSshd({
      host,
      port: options.port ?? (options.netns === undefined ? pickPort(host) : 22),
      dir,
      hostKeyPath,
      hostPublicKey,
      hostKeyFingerprint: await fingerprintOf(hostPublicKey),
      users,
      keys,
      netns: options.netns,
      via: options.via,
      config,
      extraConfig: options.extraConfig ?? [],
    });
    try {
      await sshd.start({ signal: options.signal, pickNewPort: randomPort });
    } catch (error) {
      await sshd[Symbol.asyncDispose]();
      throw error;
    }
    return sshd;
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * Stops `of` and starts, on its host and port, a daemon with a different host key (for
 * host-key-changed tests). Dispose the impostor, then `of.start()` brings the original back.
 *
 * @example
 * ```ts
 * await using impostor = await startImpostor(sshd);
 * assert.notEqual(impostor.hostKeyFingerprint, sshd.hostKeyFingerprint);
 * ```
 */
export async function startImpostor(
  of: TestSshd,
  options: Omit<SshdOptions, "host" | "port" | "netns" | "via" | "hostKeyPath"> = {},
): Promise<TestSshd> {
  await of.stop();
  return await startSshd({ ...options, host: of.host, port: of.port, netns: of.netns, via: of.via });
}
