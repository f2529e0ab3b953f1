/**
 * The jump-host topology: a bastion namespace reachable from here and a target namespace reachable
 * only from the bastion, each with its own sshd (same accounts and client keys as {@link startSshd}).
 *
 * ```
 * root namespace  10.N.1.1 --veth-- 10.N.1.2  <prefix>-bastion  10.N.2.1 --veth-- 10.N.2.2  <prefix>-target
 * ```
 *
 * N (200–250) comes from a hash of the prefix, moving on to the next free N when another suite holds
 * it. The root namespace gets an `unreachable 10.N.2.0/24` route, so a direct connection to the
 * target fails at once with EHOSTUNREACH instead of leaving through the default route. The
 * bastion does not forward packets and the target has no route back, so the only way in is an SSH
 * hop (`ssh -J`, ProxyCommand, direct-tcpip) through the bastion.
 *
 * @module
 */

import { requirePrograms } from "./require.ts";
import { killProcessTree, run, type SshdOptions, startSshd, type TestSshd, withFileLock } from "./sshd.ts";

const LOCK = "/run/lock/ssh-mcp-jump.lock";
const ALIAS_PREFIX = "ssh-mcp-jump:";

/** Options of {@link startJumpTopology}. */
export interface JumpTopologyOptions extends Pick<SshdOptions, "hostKeyType" | "config" | "extraConfig"> {
  signal?: AbortSignal;
}

/** A running bastion + target pair; dispose with `await using`. */
export interface JumpTopology extends AsyncDisposable {
  readonly prefix: string;
  /** The N of the 10.N.x.x addresses. */
  readonly subnet: number;
  /** Reachable from here at 10.N.1.2:22. */
  readonly bastion: TestSshd;
  /** 10.N.2.2:22, reachable only through the bastion; its `ssh()` goes through the bastion. */
  readonly target: TestSshd;
  readonly namespaces: { readonly bastion: string; readonly target: string };
}

let supported: boolean | undefined;

/**
 * Whether this machine can build the topology (`ip`, sshd, and the privilege to add network
 * namespaces). Otherwise warns "SKIP: …" and returns `false`, or throws under `CI=true`.
 *
 * @example
 * ```ts
 * Deno.test("ssh through a bastion", { ignore: !jumpTopologySupported() }, async () => {
 *   await using net = await startJumpTopology("mytest");
 * });
 * ```
 */
export function jumpTopologySupported(): boolean {
  if (supported !== undefined) return supported;
  if (!requirePrograms("ip", "sshd", "ssh", "ssh-keygen")) return supported = false;
  const probe = `ssh-mcp-probe-${Deno.pid}`;
  const add = new Deno.Command("ip", { args: ["netns", "add", probe], stdout: "null", stderr: "piped" })
    .outputSync();
  if (add.success) {
    new Deno.Command("ip", { args: ["netns", "del", probe], stdout: "null", stderr: "null" }).outputSync();
    return supported = true;
  }
  const message = `SKIP: cannot create network namespaces (${
    new TextDecoder().decode(add.stderr).trim()
  }) — run the jump-host tests as root`;
  if (Deno.env.get("CI") === "true") throw new Error(`${message}; CI=true forbids skipping`);
  console.warn(message);
  return supported = false;
}

async function ip(...args: string[]): Promise<string> {
  return (await run("ip", args, { check: true })).stdout;
}

async function ipQuiet(...args: string[]): Promise<void> {
  await run("ip", args);
}

function hash(text: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const hostIf = (n: number) => `mcpj${n}h0`;

async function namespaceExists(name: string): Promise<boolean> {
  try {
    await Deno.stat(`/run/netns/${name}`);
    return true;
  } catch {
    return false;
  }
}

/** Kills what runs in a namespace, then deletes it. */
async function deleteNamespace(name: string): Promise<void> {
  if (!await namespaceExists(name)) return;
  const pids = (await run("ip", ["netns", "pids", name])).stdout.split(/\s+/).filter((s) => /^\d+$/.test(s));
  killProcessTree(() => pids.map(Number));
  await ipQuiet("netns", "del", name);
}

async function deleteSubnet(n: number): Promise<void> {
  await ipQuiet("link", "del", hostIf(n));
  await ipQuiet("route", "del", "unreachable", `10.${n}.2.0/24`);
}

/** Removes what an earlier, crashed run with the same prefix left behind. */
async function cleanUpStale(prefix: string, names: { bastion: string; target: string }): Promise<void> {
  const subnets = new Set<number>();
  const links = JSON.parse(await ip("-j", "link", "show")) as { ifname: string; ifalias?: string }[];
  for (const link of links) {
    const m = /^mcpj(\d+)h0$/.exec(link.ifname);
    if (m && link.ifalias === `${ALIAS_PREFIX}${prefix}`) subnets.add(Number(m[1]));
  }
  if (await namespaceExists(names.bastion)) {
    const addrs = await run("ip", ["-n", names.bastion, "-4", "-o", "addr", "show"]);
    for (const m of addrs.stdout.matchAll(/inet 10\.(\d+)\.1\.2\//g)) subnets.add(Number(m[1]));
  }
  await deleteNamespace(names.target);
  await deleteNamespace(names.bastion);
  for (const n of subnets) await deleteSubnet(n);
}

async function pickSubnet(prefix: string): Promise<number> {
  const links = (await ip("-o", "link", "show")) + (await ip("-4", "-o", "addr", "show"));
  const routes = await ip("-4", "route", "show", "table", "all");
  const first = hash(prefix) % 51;
  for (let i = 0; i < 51; i++) {
    const n = 200 + (first + i) % 51;
    if (links.includes(`${hostIf(n)}@`) || links.includes(`${hostIf(n)}:`)) continue;
    if (links.includes(` 10.${n}.`) || routes.includes(`10.${n}.`)) continue;
    return n;
  }
  throw new Error(
    `Cannot build the jump topology "${prefix}": 10.200–250.x.x are all in use; run fewer suites`,
  );
}

/** Fails unless a direct TCP connection to the target fails within 2 s. */
async function assertUnreachable(host: string, port: number): Promise<void> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 2000);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: host, port, signal: controller.signal });
  } catch {
    return;
  } finally {
    clearTimeout(timer);
  }
  conn.close();
  throw new Error(`Cannot isolate the jump target "${host}:${port}": it is reachable without the bastion`);
}

/**
 * Builds the topology for `prefix` (letters, digits, `-`; unique per concurrently running suite)
 * and starts an sshd on port 22 in each namespace. Check {@link jumpTopologySupported} first.
 *
 * @example
 * ```ts
 * await using net = await startJumpTopology("manager-test");
 * const r = await net.target.ssh(["echo", "$SSH_CONNECTION"]); // goes through net.bastion
 * ```
 */
export async function startJumpTopology(
  prefix: string,
  options: JumpTopologyOptions = {},
): Promise<JumpTopology> {
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,39}$/.test(prefix)) {
    throw new TypeError(`Cannot build the jump topology "${prefix}": use 1–40 letters, digits or "-"`);
  }
  options.signal?.throwIfAborted();
  const namespaces = { bastion: `${prefix}-bastion`, target: `${prefix}-target` };
  let subnet = -1;
  let bastion: TestSshd | undefined;
  let target: TestSshd | undefined;

  const teardown = async () => {
    await target?.[Symbol.asyncDispose]();
    await bastion?.[Symbol.asyncDispose]();
    await withFileLock(LOCK, async () => {
      await deleteNamespace(namespaces.target);
      await deleteNamespace(namespaces.bastion);
      if (subnet !== -1) await deleteSubnet(subnet);
    });
  };

  try {
    // The lock makes choosing N and claiming it (the host-side veth) atomic across test processes.
    await withFileLock(LOCK, async () => {
      await cleanUpStale(prefix, namespaces);
      const n = await pickSubnet(prefix);
      subnet = n;
      const { bastion: B, target: T } = namespaces;
      await ip("netns", "add", B);
      await ip("netns", "add", T);
      await ip("link", "add", hostIf(n), "type", "veth", "peer", "name", `mcpj${n}b0`, "netns", B);
      await ip("link", "set", "dev", hostIf(n), "alias", `${ALIAS_PREFIX}${prefix}`);
      await ip(
        "-n",
        B,
        "link",
        "add",
        `mcpj${n}b1`,
        "type",
        "veth",
        "peer",
        "name",
        `mcpj${n}t0`,
        "netns",
        T,
      );
      await ip("addr", "add", `10.${n}.1.1/24`, "dev", hostIf(n));
      await ip("link", "set", hostIf(n), "up");
      await ip("route", "add", "unreachable", `10.${n}.2.0/24`);
      await ip("-n", B, "addr", "add", `10.${n}.1.2/24`, "dev", `mcpj${n}b0`);
      await ip("-n", B, "addr", "add", `10.${n}.2.1/24`, "dev", `mcpj${n}b1`);
      for (const dev of [`mcpj${n}b0`, `mcpj${n}b1`, "lo"]) await ip("-n", B, "link", "set", dev, "up");
      await ip("-n", T, "addr", "add", `10.${n}.2.2/24`, "dev", `mcpj${n}t0`);
      for (const dev of [`mcpj${n}t0`, "lo"]) await ip("-n", T, "link", "set", dev, "up");
    });
    const common = {
      hostKeyType: options.hostKeyType,
      config: options.config,
      extraConfig: options.extraConfig,
    };
    bastion = await startSshd({
      ...common,
      netns: namespaces.bastion,
      host: `10.${subnet}.1.2`,
      port: 22,
      signal: options.signal,
    });
    target = await startSshd({
      ...common,
      netns: namespaces.target,
      host: `10.${subnet}.2.2`,
      port: 22,
      via: bastion,
      signal: options.signal,
    });
    await assertUnreachable(target.host, target.port);
  } catch (error) {
    await teardown();
    throw error;
  }

  let disposed = false;
  return {
    prefix,
    subnet,
    bastion,
    target,
    namespaces,
    async [Symbol.asyncDispose]() {
      if (disposed) return;
      disposed = true;
      await teardown();
    },
  };
}
