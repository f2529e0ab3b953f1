/**
 * The soak's hosts: real OpenSSH daemons on this machine (the `mcptest` account and root),
 *
 * - `plain`: loopback;
 * - `rekey`: loopback with `RekeyLimit 1M 20s` (the server re-keys after every MiB and every 20 s);
 * - `bastion` + `target`: the jump topology of tests/_helpers/jump.ts in network namespaces, the
 *   target reachable only through the bastion (faults drop or thin its traffic with iptables/tc);
 * - `slow`: the delay proxy of bench/delay_proxy.ts in front of `plain` (20 ms each way, more in a
 *   fault);
 *
 * plus a working directory per worker, an append-only marker file per worker, a small tmpfs for the
 * full-disk fault, and a PostgreSQL container when containers are available.
 *
 * @module
 */
import { type DelayProxy, startDelayProxy } from "../delay_proxy.ts";
import {
  docker,
  dockerOk,
  POSTGRES_IMAGE,
  removeLabelled,
  requireContainers,
  waitUntil,
} from "../../tests/_helpers/containers.ts";
import { type JumpTopology, jumpTopologySupported, startJumpTopology } from "../../tests/_helpers/jump.ts";
import { makeHome } from "../../tests/_helpers/server.ts";
import { run, startSshd, type TestSshd } from "../../tests/_helpers/sshd.ts";

/** Size of the tmpfs of the full-disk fault. */
export const DISK_BYTES = 4 * 1024 * 1024;
/** Label of the soak's containers. */
export const CONTAINER_LABEL = "ssh-mcp-soak=1";

/** Options of {@link startBed}. */
export interface BedOptions {
  /** Short id of this soak run (names, op ids). */
  run: string;
  /** Namespace prefix of the jump topology (unique per concurrently running suite). */
  netnsPrefix: string;
  /** Progress lines. */
  log: (line: string) => void;
}

/** What the machine could provide (the report says what it could not). */
export interface BedCapabilities {
  /** Network namespaces (jump host, traffic drops). */
  jump: boolean;
  /** `tc qdisc … netem` in a namespace (delay and loss in the kernel). */
  netem: boolean;
  /** `tc qdisc … tbf` (rate limit). */
  tbf: boolean;
  /** iptables in a namespace (traffic drops). */
  iptables: boolean;
  /** iptables in a namespace, with the `statistic` match (random loss). */
  iptablesLoss: boolean;
  /** tmpfs mounts (full disk). */
  tmpfs: boolean;
  /** A PostgreSQL container (db_query). */
  postgres: boolean;
  /** Why something is missing. */
  notes: string[];
}

/** The running bed; dispose with `await using`. */
export interface Bed extends AsyncDisposable {
  readonly run: string;
  readonly plain: TestSshd;
  readonly rekey: TestSshd;
  readonly jump: JumpTopology | undefined;
  readonly proxy: DelayProxy;
  /** The proxy's normal delay each way, ms. */
  readonly proxyDelayMs: number;
  /** Root of every file the soak touches on the "hosts". */
  readonly base: string;
  /** mcptest-owned tmpfs of {@link DISK_BYTES} (a plain directory when tmpfs is unavailable). */
  readonly disk: string;
  /** Marker file of a worker (append-only lines `<event> <op id>`). */
  markFile(worker: string): string;
  /** A worker's own directory (mcptest-owned). */
  workDir(worker: string): Promise<string>;
  /** HOME of the HTTP server (its data dir, known_hosts). */
  readonly serverHome: string;
  /** PostgreSQL container name, when available. */
  readonly postgres: string | undefined;
  readonly capabilities: BedCapabilities;
  /** uid/gid of mcptest. */
  readonly owner: { uid: number; gid: number };
}

async function ok(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await run(cmd, args)).success;
  } catch {
    return false;
  }
}

async function probeTc(capabilities: BedCapabilities, prefix: string): Promise<void> {
  const ns = `${prefix}-probe`;
  if (!await ok("ip", ["netns", "add", ns])) return;
  const inNs = (command: string) => ok("ip", ["netns", "exec", ns, ...command.split(" ")]);
  try {
    await inNs("ip link set lo up");
    capabilities.netem = await inNs("tc qdisc add dev lo root netem delay 1ms");
    await inNs("tc qdisc del dev lo root");
    capabilities.tbf = await inNs("tc qdisc add dev lo root tbf rate 1mbit burst 32kbit latency 400ms");
    capabilities.iptables = await inNs("iptables -A INPUT -p tcp --dport 9 -j DROP");
    capabilities.iptablesLoss = capabilities.iptables &&
      await inNs("iptables -A INPUT -m statistic --mode random --probability 0.1 -j DROP");
  } finally {
    await ok("ip", ["netns", "del", ns]);
  }
  if (!capabilities.netem) {
    capabilities.notes.push(
      "tc netem is not in this kernel: latency comes from the delay proxy, loss from iptables",
    );
  }
  if (!capabilities.iptables) {
    capabilities.notes.push("no iptables: traffic drops take the link down instead");
  } else if (!capabilities.iptablesLoss) {
    capabilities.notes.push("no iptables statistic match: no random packet loss");
  }
  if (!capabilities.tbf) capabilities.notes.push("no tc tbf: no rate limit on the lossy link");
}

function gidOf(user: string): { uid: number; gid: number } {
  for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name === user) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error(`Cannot find the user "${user}" in /etc/passwd`);
}

/** Starts every host and directory of the soak. */
export async function startBed(options: BedOptions): Promise<Bed> {
  const { log } = options;
  const capabilities: BedCapabilities = {
    jump: false,
    netem: false,
    tbf: false,
    iptables: false,
    iptablesLoss: false,
    tmpfs: false,
    postgres: false,
    notes: [],
  };
  const cleanups: Array<() => PromiseLike<unknown>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
  };
  try {
    const base = `/tmp/ssh-mcp-soak-${options.run}`;
    await Deno.mkdir(base, { recursive: true, mode: 0o755 });
    cleanups.push(() => Deno.remove(base, { recursive: true }));
    log("starting sshds (plain, rekey)");
    const plain = await startSshd({ config: { MaxSessions: "20" } });
    cleanups.push(() => plain[Symbol.asyncDispose]());
    const rekey = await startSshd({ config: { RekeyLimit: "1M 20s", MaxSessions: "20" } });
    cleanups.push(() => rekey[Symbol.asyncDispose]());
    const owner = gidOf("mcptest");
    await Deno.chmod(base, 0o755);

    let jump: JumpTopology | undefined;
    capabilities.jump = jumpTopologySupported();
    if (capabilities.jump) {
      log(`starting the jump topology "${options.netnsPrefix}"`);
      jump = await startJumpTopology(options.netnsPrefix, { config: { MaxSessions: "20" } });
      cleanups.push(() => jump![Symbol.asyncDispose]());
      await probeTc(capabilities, options.netnsPrefix);
    } else capabilities.notes.push("no network namespaces: no jump host, no traffic drop or loss faults");

    const proxyDelayMs = 20;
    const proxy = startDelayProxy({ targetHost: plain.host, targetPort: plain.port, delayMs: proxyDelayMs });
    cleanups.push(() => proxy[Symbol.asyncDispose]());

    const disk = `${base}/disk`;
    await Deno.mkdir(disk);
    capabilities.tmpfs = await ok("mount", [
      "-t",
      "tmpfs",
      "-o",
      `size=${DISK_BYTES},mode=0755`,
      "soak-disk",
      disk,
    ]);
    if (capabilities.tmpfs) cleanups.push(() => run("umount", ["-l", disk]));
    else capabilities.notes.push("cannot mount a tmpfs: the full-disk fault fills nothing and is skipped");
    await Deno.chown(disk, owner.uid, owner.gid);

    const marks = `${base}/marks`;
    await Deno.mkdir(marks);
    await Deno.chmod(marks, 0o777);

    const serverHome = await makeHome();
    cleanups.push(() => Deno.remove(serverHome, { recursive: true }));

    let postgres: string | undefined;
    let hasContainers = false;
    try {
      hasContainers = await requireContainers({ postgres: true });
    } catch (error) {
      capabilities.notes.push(`containers: ${(error as Error).message}`);
    }
    if (hasContainers) {
      await removeLabelled(CONTAINER_LABEL);
      postgres = `soak-pg-${options.run}`;
      log(`starting PostgreSQL (${POSTGRES_IMAGE}) as ${postgres}`);
      cleanups.push(() => removeLabelled(CONTAINER_LABEL));
      await dockerOk(["run", "-d", "--name", postgres, "--label", CONTAINER_LABEL, POSTGRES_IMAGE]);
      const name = postgres;
      try {
        // A loaded machine takes a while: wait longer than the tests' helper does.
        await waitUntil(
          `${name} to accept connections`,
          async () =>
            (await docker(["exec", name, "psql", "-U", "postgres", "-tAc", "select 1"])).stdout.trim() ===
              "1",
          120_000,
        );
        capabilities.postgres = true;
      } catch (error) {
        capabilities.notes.push(
          `PostgreSQL did not start (${(error as Error).message}): db_query is not exercised`,
        );
        postgres = undefined;
      }
    } else capabilities.notes.push("no containers: db_query is not exercised");

    const dirs = new Map<string, string>();
    return {
      run: options.run,
      plain,
      rekey,
      jump,
      proxy,
      proxyDelayMs,
      base,
      disk,
      markFile: (worker) => `${marks}/${worker}.log`,
      async workDir(worker) {
        const known = dirs.get(worker);
        if (known !== undefined) return known;
        const dir = `${base}/${worker}`;
        await Deno.mkdir(dir, { recursive: true });
        await Deno.chown(dir, owner.uid, owner.gid);
        dirs.set(worker, dir);
        return dir;
      },
      serverHome,
      postgres,
      capabilities,
      owner,
      async [Symbol.asyncDispose]() {
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
