/**
 * Turns a `connect` request into the connections to open, applying `~/.ssh/config` the way `ssh`
 * does: `connect{host: "web"}` resolves HostName, User, Port, IdentityFile, IdentitiesOnly and
 * ProxyJump (each jump host becomes its own connection, opened first and verified like any other).
 * Explicit arguments win over the file; an explicit `via` replaces ProxyJump.
 */
import { SshConfigError } from "./parse.ts";
import { resolveHostConfig, resolveJumpChain } from "./resolve.ts";

/** Where the OpenSSH client configuration lives. */
export interface SshConfigLocation {
  /** The config file (usually `~/.ssh/config`). */
  path: string;
  /** Home directory for `~`, `%d` and relative `Include`s. */
  home: string;
}

/** One connection to open; secrets only ever on the final target. */
export interface PlannedConnection {
  /** Host name or address to reach. */
  host: string;
  /** Port. */
  port: number;
  /** Remote user. */
  username: string;
  /** Alias for jump hosts (`jump:user@host:port`); the target keeps the caller's alias. */
  alias?: string;
  /** Connection to tunnel through. */
  via?: string;
  /** IdentityFile entries from the config. */
  identityFiles: readonly string[];
  /** IdentitiesOnly from the config. */
  identitiesOnly: boolean;
}

/** The plan: jump hosts first, target last. */
export interface ConnectPlan {
  /** Jump hosts to connect (or reuse) first, outermost first. */
  hops: PlannedConnection[];
  /** The target. */
  target: PlannedConnection;
  /** What the config resolution ignored or degraded. */
  warnings: string[];
}

/** What the caller asked for. */
export interface PlanRequest {
  /** Host or a `Host` alias of the config. */
  host: string;
  /** Explicit user (wins over `User`). */
  username?: string;
  /** Explicit port (wins over `Port`). */
  port?: number;
  /** Explicit jump alias (replaces `ProxyJump`). */
  via?: string;
}

/** Reads a config file; `undefined` when it does not exist. */
export function readFileSync(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Lists a directory for `Include` globs; `undefined` when it does not exist. */
export function readDirSync(path: string): string[] | undefined {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Plans a connect.
 *
 * @throws {TypeError} when no user is given and the config names none.
 * @throws {SshConfigError} when the config is invalid.
 * @example
 * ```ts
 * const plan = planConnect({ host: "web" }, { path: "/home/me/.ssh/config", home: "/home/me" });
 * ```
 */
export function planConnect(request: PlanRequest, location: SshConfigLocation | undefined): ConnectPlan {
  let text: string | undefined;
  try {
    text = location === undefined ? undefined : readFileSync(location.path);
  } catch (error) {
    text = undefined;
    return direct(request, [`~/.ssh/config is unreadable (${(error as Error).message}); it was ignored`]);
  }
  if (text === undefined || location === undefined) return direct(request, []);
  const options = {
    home: location.home,
    path: location.path,
    user: request.username,
    port: request.port,
    readFile: readFileSync,
    readDir: readDirSync,
  };
  const config = resolveHostConfig(text, request.host, options);
  const user = request.username ?? config.user;
  if (user === undefined) {
    throw new TypeError(
      `Cannot connect to "${request.host}": no username given and ~/.ssh/config sets no User for it; pass username`,
    );
  }
  const chain = resolveJumpChain(text, request.host, {
    ...options,
    defaultUser: user,
    ...(request.via === undefined ? {} : { proxyJump: [] }),
  });
  const warnings = [...config.warnings];
  const hops: PlannedConnection[] = [];
  let via = request.via;
  for (const hop of chain.slice(0, -1)) {
    warnings.push(...hop.config.warnings);
    hops.push({
      host: hop.config.hostName,
      port: hop.port,
      username: hop.user,
      alias: hop.alias,
      via,
      identityFiles: hop.config.identityFiles,
      identitiesOnly: hop.config.identitiesOnly ?? false,
    });
    via = hop.alias;
  }
  return {
    hops,
    target: {
      host: config.hostName,
      port: request.port ?? config.port ?? 22,
      username: user,
      via,
      identityFiles: config.identityFiles,
      identitiesOnly: config.identitiesOnly ?? false,
    },
    warnings: [...new Set(warnings)],
  };
}

function direct(request: PlanRequest, warnings: string[]): ConnectPlan {
  if (request.username === undefined) {
    throw new TypeError(
      `Cannot connect to "${request.host}": pass username (no ~/.ssh/config entry applies)`,
    );
  }
  return {
    hops: [],
    target: {
      host: request.host,
      port: request.port ?? 22,
      username: request.username,
      via: request.via,
      identityFiles: [],
      identitiesOnly: false,
    },
    warnings,
  };
}

export { SshConfigError };
