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
import {
  ensureTestUsers,
  MCPNOPW_PASSWORD,
  MCPTEST_PASSWORD,
  type PasswdEntry,
  USERS_MARKER,
} from "./sshd/accounts.ts";
import {
  cleanRootHome,
  DEFAULT_CONFIG,
  fingerprintOf,
  pickPort,
  quoteSh,
  subreaperLauncher,
} from "./sshd/config.ts";
import { CLIENT_KEY_CACHE_DIR, clientKeys, KEY_FILES, keyPaths } from "./sshd/keys.ts";
import {
  delay,
  freeze,
  killProcessTree,
  listProcesses,
  type ProcInfo,
  run,
  sessionProcesses,
  signal,
  waitGone,
} from "./sshd/process.ts";
import type {
  AuthEvent,
  AuthFilter,
  ClientKeyPaths,
  PauseOptions,
  SshdOptions,
  SshOptions,
  SshResult,
  TestUser,
  TestUserName,
  TestUsers,
} from "./sshd/types.ts";

// The test bed's helpers by concern, all available from this module as before.
export { ensureTestUsers, MCPNOPW_PASSWORD, MCPTEST_PASSWORD, type PasswdEntry } from "./sshd/accounts.ts";
export { CLIENT_KEY_CACHE_DIR, CLIENT_KEY_PASSPHRASE, clientKeys } from "./sshd/keys.ts";
export {
  killProcessTree,
  processTree,
  run,
  type RunOptions,
  type RunResult,
  sessionProcesses,
  withFileLock,
} from "./sshd/process.ts";
export type * from "./sshd/types.ts";
/** Absolute path: sshd re-executes itself and refuses to start from a relative path. */
const SSHD = "/usr/sbin/sshd";
const START_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// the server

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
    const argv = [
      ...cleanRootHome(`${this.dir}/root-home`),
      ...subreaperLauncher(),
      SSHD,
      "-D",
      "-E",
      this.logPath,
      "-f",
      configPath,
    ];
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
