/**
 * Resolves a host alias through an OpenSSH client configuration (`~/.ssh/config`), the way
 * `ssh -G <host>` does, for the options `connect` honours: HostName, User, Port, IdentityFile,
 * ProxyJump, IdentitiesOnly, UserKnownHostsFile, StrictHostKeyChecking and HostKeyAlias.
 *
 * The `ssh-config` npm package tokenises the file (quoting, `=` syntax, comments, sections); the
 * evaluation is ours, because the package's `compute()` differs from OpenSSH where it matters here:
 * it ignores `Include`, matches `?` as "zero or one character", reads the local user from the OS,
 * and runs `Match exec` commands. What this module follows instead (OpenSSH 9.2 `readconf.c`):
 *
 * - the first value obtained for an option wins; `IdentityFile` accumulates (duplicates dropped);
 * - `Host` patterns match the host as typed, case-sensitively; `!pattern` vetoes the whole line;
 * - `Match host`/`originalhost` compare case-insensitively against the HostName so far (resp. the
 *   host as typed), `Match user` against the user so far, `localuser` against the local user;
 *   `all`, `final` and `canonical` work as in OpenSSH (a `final` triggers a second pass in which
 *   `Host` lines match the new HostName); `exec` is never run: it does not match, with a warning;
 * - `Include` paths are relative to `~/.ssh`, may use globs, may not change whether the enclosing
 *   block is active, and include nothing that applies when they sit in an inactive block;
 * - `%h %p %r %u %d %n %k %%` tokens, `${VAR}` and `~` are expanded in IdentityFile and
 *   UserKnownHostsFile; `%h` and `%%` in HostName; the host name comes out lowercased.
 *
 * Pure: the only I/O is reading included files through the injected {@link ResolveOptions.readFile}
 * and {@link ResolveOptions.readDir}. Nothing is executed and no DNS lookup is made.
 *
 * @module
 */
import {
  expandHostName,
  expandPath,
  expandTilde,
  globSegmentMatch,
  hasWildcard,
  hostLineMatch,
  normalizePath,
  patternListMatch,
} from "./match.ts";
import {
  type Entry,
  flatten,
  type JumpHop,
  parseFlag,
  parseJumps,
  parsePort,
  parseStrict,
  SshConfigError,
  type StrictHostKeyChecking,
} from "./parse.ts";

/** What the configuration says about one host. Absent fields were not set (use the defaults). */
export interface ResolvedHostConfig {
  /** The host (alias) that was resolved, as given. */
  readonly host: string;
  /** Host name to connect to: `HostName` with `%h` expanded, else the host; lowercased as ssh does. */
  readonly hostName: string;
  /** Remote user: the explicit {@link ResolveOptions.user}, else `User`. */
  readonly user?: string;
  /** Port: the explicit {@link ResolveOptions.port}, else `Port`. */
  readonly port?: number;
  /** `IdentityFile` entries in order, tokens and `~` expanded (empty: none configured). */
  readonly identityFiles: readonly string[];
  /** `ProxyJump` hops, outermost first; absent when unset or `none`. */
  readonly proxyJump?: readonly JumpHop[];
  /** `IdentitiesOnly`. */
  readonly identitiesOnly?: boolean;
  /** `UserKnownHostsFile` paths, expanded; `[]` for `none`. */
  readonly userKnownHostsFile?: readonly string[];
  /** `StrictHostKeyChecking`. */
  readonly strictHostKeyChecking?: StrictHostKeyChecking;
  /** `HostKeyAlias`, lowercased: the name to look the host key up under instead of the host. */
  readonly hostKeyAlias?: string;
  /**
   * Things that were ignored or degraded (a `Match exec`, a `ProxyCommand`, an unsupported token, an
   * unreadable include…), one sentence each, for the log or the `connect` result.
   */
  readonly warnings: readonly string[];
}

/** Options of {@link resolveHostConfig}. */
export interface ResolveOptions {
  /** Home directory: `~`, `%d`, and the base `~/.ssh` of relative `Include` paths. */
  home: string;
  /**
   * Explicit remote user (like `ssh -l`): wins over `User` and is what `Match user` and `%r` see.
   * Without it they see the configured `User`, else {@link localUser}.
   */
  user?: string;
  /** Explicit port (like `ssh -p`): wins over `Port` and is what `%p` sees. */
  port?: number;
  /** Local user name, for `%u`, `Match localuser`, and `%r`/`Match user` when no user is set. */
  localUser?: string;
  /** Environment for `${VAR}` in paths (`${HOME}` falls back to {@link home}). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Reads an included file: its text, or `undefined` when it does not exist (skipped silently, as
   * ssh does). A throw (e.g. no permission) skips the file with a warning.
   */
  readFile?: (path: string) => string | undefined;
  /**
   * Lists the entry names of a directory, for `Include` globs: `undefined` when it does not exist; a
   * throw (e.g. no permission) skips the directory with a warning.
   */
  readDir?: (path: string) => readonly string[] | undefined;
  /** Path of the main file, for messages and for a `files` source (default `<home>/.ssh/config`). */
  path?: string;
  /** Sees the patterns of every `Host` line read, active or not, included files too (hosts.ts). */
  onHostLine?: (patterns: readonly string[]) => void;
}

/**
 * The configuration text, or a virtual file system (absolute path → text) that holds the main file
 * at {@link ResolveOptions.path} and the files it includes.
 */
export type ConfigSource = string | Readonly<Record<string, string>>;

/** Maximum nesting of `Include` (OpenSSH's READCONF_MAX_DEPTH). */
const MAX_INCLUDE_DEPTH = 16;
/** Maximum hops {@link resolveJumpChain} follows before it assumes a loop. */
const MAX_JUMP_HOPS = 8;

/** Options collected so far: the first value wins. */
interface Collected {
  hostName?: string;
  user?: string;
  port?: number;
  /** `ProxyJump` and `ProxyCommand` share one slot in OpenSSH: whichever comes first wins. */
  proxy?: { kind: "jump"; hops: JumpHop[] | undefined; raw: string } | { kind: "command"; raw: string };
  identityFiles: string[];
  identitiesOnly?: boolean;
  userKnownHostsFile?: string[];
  strictHostKeyChecking?: StrictHostKeyChecking;
  hostKeyAlias?: string;
}

interface Pass {
  /** What `Host` lines match: the host as typed (first pass) or the lowercased HostName (final). */
  readonly hostForHostLines: string;
  readonly originalHost: string;
  readonly final: boolean;
  wantFinal: boolean;
}

class Resolver {
  readonly #options: ResolveOptions;
  readonly #files: Readonly<Record<string, string>> | undefined;
  readonly #host: string;
  readonly opts: Collected = { identityFiles: [] };
  readonly warnings: string[] = [];
  readonly #warned = new Set<string>();
  readonly #parsed = new Map<string, Entry[]>();

  constructor(host: string, options: ResolveOptions, files: Readonly<Record<string, string>> | undefined) {
    this.#host = host;
    this.#options = options;
    this.#files = files;
    if (options.user !== undefined) this.opts.user = options.user;
    if (options.port !== undefined) this.opts.port = options.port;
  }

  warn(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.warnings.push(message);
  }

  entriesOf(path: string, text: string): Entry[] {
    let entries = this.#parsed.get(path);
    if (entries === undefined) {
      entries = flatten(path, text);
      this.#parsed.set(path, entries);
    }
    return entries;
  }

  /** The HostName so far (`%h` expanded), else the host as typed: what `Match host` compares. */
  currentHostName(): string {
    return this.opts.hostName === undefined ? this.#host : expandHostName(this.opts.hostName, this.#host);
  }

  /** Processes one file; `active` says whether the enclosing block applies. */
  processFile(path: string, text: string, pass: Pass, active: boolean, neverMatch: boolean, depth: number) {
    for (const entry of this.entriesOf(path, text)) {
      switch (entry.keyword) {
        case "host":
          this.#options.onHostLine?.(entry.args);
          active = !neverMatch && hostLineMatch(entry.args, pass.hostForHostLines);
          break;
        case "match":
          active = !neverMatch && this.#matchCriteria(path, entry.args, pass);
          break;
        case "include":
          // Processed even in an inactive block (nothing in it can apply then), as OpenSSH does.
          this.#include(path, entry.args, pass, active, depth);
          break;
        default:
          if (active) this.#set(path, entry);
      }
    }
  }

  #matchCriteria(path: string, args: readonly string[], pass: Pass): boolean {
    if (args.length === 0) {
      throw new SshConfigError(path, `Cannot parse ssh config "${path}": Match without criteria`);
    }
    let result = true;
    for (let i = 0; i < args.length; i++) {
      const word = args[i]!;
      const negated = word.startsWith("!");
      const criterion = (negated ? word.slice(1) : word).toLowerCase();
      let matched: boolean;
      if (criterion === "all") {
        matched = true;
      } else if (criterion === "canonical") {
        matched = pass.final;
      } else if (criterion === "final") {
        if (!pass.final) pass.wantFinal = true;
        matched = pass.final;
      } else {
        const value = args[++i];
        if (value === undefined) {
          throw new SshConfigError(path, `Cannot parse ssh config "${path}": Match ${word} needs a value`);
        }
        switch (criterion) {
          case "host":
            matched = patternListMatch(value, this.currentHostName(), true);
            break;
          case "originalhost":
            matched = patternListMatch(value, pass.originalHost, true);
            break;
          case "user": {
            const user = this.opts.user ?? this.#options.localUser;
            matched = user !== undefined && patternListMatch(value, user, false);
            break;
          }
          case "localuser":
            matched = this.#options.localUser !== undefined &&
              patternListMatch(value, this.#options.localUser, false);
            break;
          case "exec":
            this.warn(
              `Ignored "Match exec ${value}" in ${path}: local commands are never run; the block does not apply`,
            );
            // Not run, so neither outcome is known: the block never applies, negated or not.
            return false;
          default:
            this.warn(`Ignored "Match ${word}" in ${path}: unsupported criterion; the block does not apply`);
            return false;
        }
      }
      if (negated) matched = !matched;
      // Keep evaluating after a miss, like OpenSSH, so every `final` asks for its pass.
      if (!matched) result = false;
    }
    return result;
  }

  #include(path: string, args: readonly string[], pass: Pass, active: boolean, depth: number): void {
    if (depth >= MAX_INCLUDE_DEPTH) {
      throw new SshConfigError(
        path,
        `Cannot include from "${path}": Include nested more than ${MAX_INCLUDE_DEPTH} deep`,
      );
    }
    const home = this.#options.home;
    for (const arg of args) {
      const absolute = arg.startsWith("~")
        ? expandTilde(arg, home, this.#options.localUser)
        : arg.startsWith("/")
        ? arg
        : `${home}/.ssh/${arg}`;
      if (absolute === undefined) {
        this.warn(`Ignored "Include ${arg}" in ${path}: only ~ and ~/ are expanded`);
        continue;
      }
      for (const file of this.#glob(normalizePath(absolute), path)) {
        const text = this.#read(file, path);
        // Each included file starts from, and cannot change, the enclosing block's state.
        if (text !== undefined) this.processFile(file, text, pass, active, !active, depth + 1);
      }
    }
  }

  #read(file: string, from: string): string | undefined {
    if (this.#files !== undefined) return this.#files[file];
    if (this.#options.readFile === undefined) {
      this.warn(`Ignored include "${file}" (from ${from}): no file reader was given`);
      return undefined;
    }
    try {
      return this.#options.readFile(file);
    } catch (error) {
      this.warn(`Ignored include "${file}" (from ${from}): ${(error as Error).message}`);
      return undefined;
    }
  }

  #listDir(dir: string): readonly string[] | undefined {
    if (this.#files !== undefined) {
      const prefix = dir === "/" ? "/" : `${dir}/`;
      const names = new Set<string>();
      for (const file of Object.keys(this.#files)) {
        if (file.startsWith(prefix)) names.add(file.slice(prefix.length).split("/")[0]!);
      }
      return [...names];
    }
    if (this.#options.readDir === undefined) return undefined;
    try {
      return this.#options.readDir(dir);
    } catch (error) {
      this.warn(`Ignored includes in "${dir}": ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Expands glob characters segment by segment; sorted like glob(3). A literal path is returned as is. */
  #glob(path: string, from: string): string[] {
    const segments = path.split("/").slice(1);
    if (!segments.some(hasWildcard)) return [path];
    if (this.#files === undefined && this.#options.readDir === undefined) {
      this.warn(`Ignored include "${path}" (from ${from}): no directory reader was given to expand the glob`);
      return [];
    }
    let found = [""];
    for (const segment of segments) {
      const next: string[] = [];
      for (const dir of found) {
        if (!hasWildcard(segment)) {
          next.push(`${dir}/${segment}`);
          continue;
        }
        for (const name of this.#listDir(dir || "/") ?? []) {
          // Like glob(3), a leading dot must be matched explicitly.
          if (name.startsWith(".") && !segment.startsWith(".")) continue;
          if (globSegmentMatch(segment, name)) next.push(`${dir}/${name}`);
        }
      }
      found = next;
    }
    return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  #set(path: string, entry: Entry): void {
    const o = this.opts;
    const first = entry.args[0];
    switch (entry.keyword) {
      case "hostname":
        if (o.hostName === undefined && first !== undefined) o.hostName = first;
        break;
      case "user":
        if (o.user === undefined && first !== undefined) o.user = first;
        break;
      case "port":
        if (o.port === undefined && first !== undefined) o.port = parsePort(first, path, "Port");
        break;
      case "identityfile":
        if (entry.value !== "" && !o.identityFiles.includes(entry.value)) o.identityFiles.push(entry.value);
        break;
      case "proxyjump":
        if (o.proxy === undefined && first !== undefined) {
          o.proxy = {
            kind: "jump",
            raw: first,
            hops: first.toLowerCase() === "none" ? undefined : parseJumps(first, path),
          };
        }
        break;
      case "proxycommand":
        if (o.proxy === undefined) o.proxy = { kind: "command", raw: entry.value };
        break;
      case "identitiesonly":
        if (o.identitiesOnly === undefined && first !== undefined) {
          o.identitiesOnly = parseFlag(first, path, "IdentitiesOnly");
        }
        break;
      case "userknownhostsfile":
        if (o.userKnownHostsFile === undefined && entry.args.length > 0) {
          o.userKnownHostsFile = [...entry.args];
        }
        break;
      case "stricthostkeychecking":
        if (o.strictHostKeyChecking === undefined && first !== undefined) {
          o.strictHostKeyChecking = parseStrict(first, path);
        }
        break;
      case "hostkeyalias":
        if (o.hostKeyAlias === undefined && first !== undefined) o.hostKeyAlias = first;
        break;
      case "canonicalizehostname":
        if (first !== undefined && !/^(no|false)$/i.test(first)) {
          this.warn(`Ignored "CanonicalizeHostName ${first}" in ${path}: no DNS lookups are made`);
        }
        break;
    }
  }
}

/**
 * Resolves `host` through an ssh client configuration, as `ssh -G -F <file> host` would for the
 * options `connect` uses. Explicit {@link ResolveOptions.user}/{@link ResolveOptions.port} win over
 * the file, as `ssh -l`/`-p` do.
 *
 * @example
 * ```ts
 * const text = "Host web\n  HostName 10.0.0.5\n  User admin\n  ProxyJump bastion\n";
 * const config = resolveHostConfig(text, "web", { home: "/home/me" });
 * // config.hostName === "10.0.0.5", config.user === "admin", config.proxyJump → [{ host: "bastion" }]
 * ```
 */
export function resolveHostConfig(
  source: ConfigSource,
  host: string,
  options: ResolveOptions,
): ResolvedHostConfig {
  if (typeof host !== "string" || host === "" || /[\s\0]/.test(host)) {
    throw new TypeError(
      `Cannot resolve host ${JSON.stringify(host)}: expected a non-empty name without spaces`,
    );
  }
  if (typeof options?.home !== "string" || !options.home.startsWith("/")) {
    throw new TypeError(`Cannot resolve host "${host}": options.home must be an absolute path`);
  }
  if (
    options.port !== undefined &&
    !(Number.isInteger(options.port) && options.port >= 1 && options.port <= 65535)
  ) {
    throw new RangeError(`Cannot resolve host "${host}" with port ${options.port}: expected 1–65535`);
  }
  const home = options.home.replace(/\/+$/, "") || "/";
  const opts: ResolveOptions = { ...options, home };
  const path = opts.path ?? `${home}/.ssh/config`;
  const files = typeof source === "string" ? undefined : source;
  const text = typeof source === "string" ? source : source[path];
  const resolver = new Resolver(host, opts, files);
  if (text !== undefined) {
    const first: Pass = { hostForHostLines: host, originalHost: host, final: false, wantFinal: false };
    resolver.processFile(path, text, first, true, false, 0);
    if (first.wantFinal) {
      const final: Pass = {
        hostForHostLines: resolver.currentHostName().toLowerCase(),
        originalHost: host,
        final: true,
        wantFinal: false,
      };
      resolver.processFile(path, text, final, true, false, 0);
    }
  }
  return finish(host, resolver, opts);
}

function finish(host: string, resolver: Resolver, options: ResolveOptions): ResolvedHostConfig {
  const o = resolver.opts;
  const hostName = resolver.currentHostName().toLowerCase();
  const hostKeyAlias = o.hostKeyAlias?.toLowerCase();
  if (o.proxy?.kind === "command") {
    resolver.warn(`Ignored "ProxyCommand ${o.proxy.raw}": local commands are never run; use ProxyJump`);
  }
  const tokens: Record<string, string | undefined> = {
    "%": "%",
    d: options.home,
    h: hostName,
    n: host,
    p: String(o.port ?? 22),
    r: o.user ?? options.localUser,
    u: options.localUser,
    k: hostKeyAlias ?? host,
  };
  const expandAll = (paths: readonly string[], keyword: string): string[] =>
    paths.flatMap((p) => {
      const expanded = expandPath(p, tokens, options);
      if (typeof expanded === "string") return [expanded];
      resolver.warn(`Ignored "${keyword} ${p}": ${expanded.problem}`);
      return [];
    });
  const identityFiles = expandAll(o.identityFiles, "IdentityFile");
  const none = o.userKnownHostsFile?.length === 1 && o.userKnownHostsFile[0]!.toLowerCase() === "none";
  const expandedKnownHosts = o.userKnownHostsFile === undefined || none
    ? []
    : expandAll(o.userKnownHostsFile, "UserKnownHostsFile");
  // `[]` means "none": when every entry was dropped, fall back to the defaults instead.
  const knownHosts = none ? [] : expandedKnownHosts.length > 0 ? expandedKnownHosts : undefined;
  const hops = o.proxy?.kind === "jump" ? o.proxy.hops : undefined;
  return Object.freeze({
    host,
    hostName,
    ...(o.user === undefined ? {} : { user: o.user }),
    ...(o.port === undefined ? {} : { port: o.port }),
    identityFiles: Object.freeze(identityFiles),
    ...(hops === undefined ? {} : { proxyJump: Object.freeze(hops.map((h) => Object.freeze(h))) }),
    ...(o.identitiesOnly === undefined ? {} : { identitiesOnly: o.identitiesOnly }),
    ...(knownHosts === undefined ? {} : { userKnownHostsFile: Object.freeze(knownHosts) }),
    ...(o.strictHostKeyChecking === undefined ? {} : { strictHostKeyChecking: o.strictHostKeyChecking }),
    ...(hostKeyAlias === undefined ? {} : { hostKeyAlias }),
    warnings: Object.freeze([...resolver.warnings]),
  });
}

/** One connection of a chain from {@link resolveJumpChain}. */
export interface ChainHop {
  /** Connection name: `jump:user@host:port` for a jump host, undefined for the final target. */
  readonly alias?: string;
  /** The host's resolved configuration (user and port of the hop spec applied as explicit values). */
  readonly config: ResolvedHostConfig;
  /** User to log in as: the resolved user, else {@link ChainOptions.defaultUser}. */
  readonly user: string;
  /** Port to connect to (22 when unset). */
  readonly port: number;
}

/** Options of {@link resolveJumpChain}. */
export interface ChainOptions extends ResolveOptions {
  /** User for hops (and the target) that name none, neither in the hop nor in their config. */
  defaultUser: string;
  /** Explicit jump hops replacing the target's `ProxyJump` (like `ssh -J`); `[]` = direct. */
  proxyJump?: readonly JumpHop[];
}

/**
 * The connections to open, outermost jump host first and the target last, as `ssh` builds them from
 * `ProxyJump`: for hops `a,b`, `b` is reached through `a`, and `a` through its own `ProxyJump`.
 * Each hop's user and port come from the hop spec, else from its own config entry.
 *
 * @example
 * ```ts
 * const text = "Host web\n  ProxyJump ops@bastion:2222\n";
 * const chain = resolveJumpChain(text, "web", { home: "/home/me", defaultUser: "admin" });
 * // chain[0].alias === "jump:ops@bastion:2222"; chain[1].config.hostName === "web"
 * ```
 */
export function resolveJumpChain(source: ConfigSource, host: string, options: ChainOptions): ChainHop[] {
  if (typeof options?.defaultUser !== "string" || options.defaultUser === "") {
    throw new TypeError(`Cannot resolve the jump chain of "${host}": options.defaultUser is required`);
  }
  const chain: ChainHop[] = [];
  const visit = (
    name: string,
    explicit: ResolveOptions,
    jumps: readonly JumpHop[] | undefined,
    depth: number,
  ) => {
    const config = resolveHostConfig(source, name, explicit);
    const hops = jumps ?? config.proxyJump ?? [];
    if (hops.length > 0) {
      if (depth >= MAX_JUMP_HOPS) {
        throw new SshConfigError(
          options.path ?? `${options.home}/.ssh/config`,
          `Cannot resolve the jump chain of "${host}": more than ${MAX_JUMP_HOPS} hops (a ProxyJump loop?)`,
        );
      }
      const last = hops[hops.length - 1]!;
      const before = hops.slice(0, -1);
      visit(
        last.host,
        { ...options, user: last.user, port: last.port },
        before.length > 0 ? before : undefined,
        depth + 1,
      );
    }
    const user = config.user ?? options.defaultUser;
    const port = config.port ?? 22;
    chain.push(Object.freeze({ config, user, port }));
  };
  visit(host, options, options.proxyJump, 0);
  const target = chain.length - 1;
  return chain.map((hop, i) =>
    i === target
      ? hop
      : Object.freeze({ ...hop, alias: `jump:${hop.user}@${hostPort(hop.config.hostName, hop.port)}` })
  );
}

/** `host:port`, with brackets around IPv6 addresses. */
function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
