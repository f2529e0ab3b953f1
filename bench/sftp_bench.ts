/**
 * SFTP benchmark (SPEC §9): read, write and sync of a 256 MiB file through our SFTP helpers against
 * `scp` (and `scp -3` for sync) on the same test sshd in the same run, printed as throughput ratios,
 * plus how much this process's RSS grew during our transfers.
 *
 * Both log in as the test user `mcptest` (root's login shell is slow here). Ours runs on established
 * connections (as the server does); scp pays its own connect each run, which is part of what a user of
 * scp waits for. Read hashes the stream (as the `read` tool does) and discards it; scp writes it to a
 * local file. Each leg runs `runs` times in turns with the others and the best is reported. Besides
 * wall time, each leg's CPU time per MiB (ours: this process; scp: the scp and ssh processes) says what a
 * transfer costs when the machine is busy, as these shared VMs often are.
 *
 * Run alone: `deno run -A bench/sftp_bench.ts [--size=256] [--runs=2] [--cipher=NAME…]`; each
 * `--cipher` restricts sshd's `Ciphers` (so ours and scp use it) and adds a row per cipher.
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { openConnection } from "../src/ssh/client.ts";
import type { SshConnection } from "../src/ssh/connection.ts";
import { openSftp } from "../src/ssh/sftp/sftp.ts";
import { copy } from "../src/ssh/sftp/copy.ts";
import { run, startSshd, type TestSshd } from "../tests/_helpers/sshd.ts";

const USER = "mcptest";

/** Options of {@link runSftpBench}. */
export interface SftpBenchOptions {
  /** File size in MiB. Default 256. */
  sizeMib?: number;
  /** Timed runs of each leg (the best is reported). Default 2. */
  runs?: number;
  /** Restrict sshd to this cipher (both ours and scp then use it); default: each side's preference. */
  cipher?: string;
}

async function connect(sshd: TestSshd): Promise<SshConnection> {
  return await openConnection({
    host: sshd.host,
    port: sshd.port,
    username: USER,
    auth: [{ type: "publickey", label: "bench key", key: await Deno.readTextFile(sshd.keys.ed25519) }],
    checkHostKey: () => Promise.resolve(true),
    connectTimeoutMs: 15_000,
    keepaliveIntervalMs: 0,
    keepaliveCountMax: 3,
  });
}

/** The ciphers sshd logged as negotiated (client→server), for the record. */
async function negotiatedCiphers(sshd: TestSshd): Promise<string> {
  const text = await sshd.logText();
  return [...new Set([...text.matchAll(/kex: client->server cipher: (\S+)/g)].map((m) => m[1]))].join(", ");
}

/**
 * Runs the benchmark and returns MiB/s for each leg, `*_ratio` = ours / scp (goal ≥ 0.9) and
 * RSS growth (goal ≤ 64 MiB): `rss_growth_mib` is the peak RSS during our timed legs minus the RSS
 * before them, after one warm-up of each of our legs on a 16 MiB file; `rss_first_transfers_mib` is the
 * peak during that warm-up over the RSS before it (heap growth, compiled code and allocator arenas a
 * fresh process pays once, whatever the size).
 */
export async function runSftpBench(options: SftpBenchOptions = {}): Promise<Record<string, number | string>> {
  const mib = options.sizeMib ?? 256;
  const runs = Math.max(1, options.runs ?? 2);
  const config: Record<string, string> = { LogLevel: "DEBUG1" };
  if (options.cipher !== undefined) config.Ciphers = options.cipher;
  await using sshd = await startSshd({ config });
  await using a = await connect(sshd);
  await using b = await connect(sshd);
  const src = await openSftp(a);
  const dst = await openSftp(b);
  const dir = await Deno.makeTempDir({ prefix: "sftp_bench_" });
  await run("chown", [`${USER}:${USER}`, dir], { check: true });
  const scpArgs = [
    "-q",
    "-i",
    sshd.keys.ed25519,
    "-P",
    String(sshd.port),
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
  ];
  const remote = (path: string) => `${USER}@${sshd.host}:${path}`;
  const cpuMs: Record<string, number> = {};
  const keepCpu = (leg: string, ms: number) => cpuMs[leg] = Math.min(cpuMs[leg] ?? Infinity, ms);
  // bash's `time` reports the CPU of scp and the ssh it waits for.
  const scp = async (leg: string, from: string, to: string, extra: string[] = []) => {
    const timed = await run("bash", [
      "-c",
      'TIMEFORMAT="%U %S"; time scp "$@"',
      "scp",
      ...scpArgs,
      ...extra,
      from,
      to,
    ], { check: true });
    const [user, sys] = timed.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    keepCpu(leg, (user! + sys!) * 1000);
  };
  try {
    const file = `${dir}/source.bin`;
    await run("sh", ["-c", `head -c ${mib * 1024 * 1024} /dev/urandom > ${file}`], { check: true });
    await run("chown", [`${USER}:${USER}`, file], { check: true });
    const content = await Deno.readFile(file);
    let rssBefore = 0;
    let rssPeak = 0;
    const cpuNow = () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    };
    const ours = async (leg: () => Promise<unknown>, name?: string) => {
      const sampler = setInterval(() => rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss), 10);
      const cpu = cpuNow();
      try {
        await leg();
      } finally {
        clearInterval(sampler);
      }
      if (name !== undefined) keepCpu(name, cpuNow() - cpu);
    };
    const legs: Record<string, () => Promise<unknown>> = {
      read: () => ours(() => src.readEach(file, () => {}), "read"),
      scp_read: () => scp("scp_read", remote(file), `${dir}/scp-read.bin`),
      write: () => ours(() => src.atomicWrite(`${dir}/written.bin`, content), "write"),
      scp_write: () => scp("scp_write", file, remote(`${dir}/scp-written.bin`)),
      sync: () =>
        ours(() => copy({ sftp: src, path: file }, { sftp: dst, path: `${dir}/synced.bin` }), "sync"),
      scp3_sync: () => scp("scp3_sync", remote(file), remote(`${dir}/scp3.bin`), ["-3"]),
    };
    const small = `${dir}/warm-up.bin`;
    await run("sh", ["-c", `head -c ${16 * 1024 * 1024} /dev/urandom > ${small}`], { check: true });
    rssBefore = rssPeak = Deno.memoryUsage().rss;
    await ours(() => src.readEach(small, () => {}));
    await ours(async () => src.atomicWrite(`${dir}/warm-up-written.bin`, await Deno.readFile(small)));
    await ours(() => copy({ sftp: src, path: small }, { sftp: dst, path: `${dir}/warm-up-synced.bin` }));
    const firstTransfers = rssPeak - rssBefore;
    const ms: Record<string, number> = {};
    rssBefore = rssPeak = Deno.memoryUsage().rss;
    for (let i = 0; i < runs; i++) {
      for (const [name, leg] of Object.entries(legs)) {
        const started = performance.now();
        await leg();
        ms[name] = Math.min(ms[name] ?? Infinity, performance.now() - started);
      }
    }
    const rate = (key: string) => Math.round(mib / (ms[key]! / 1000));
    const ratio = (ours: string, theirs: string) => Math.round((ms[theirs]! / ms[ours]!) * 100) / 100;
    const cpuPerMib = (key: string) => Math.round((cpuMs[key]! / mib) * 100) / 100;
    return {
      size_mib: mib,
      cipher: await negotiatedCiphers(sshd),
      sftp_read_mib_per_s: rate("read"),
      scp_read_mib_per_s: rate("scp_read"),
      sftp_read_ratio: ratio("read", "scp_read"),
      sftp_write_mib_per_s: rate("write"),
      scp_write_mib_per_s: rate("scp_write"),
      sftp_write_ratio: ratio("write", "scp_write"),
      sync_mib_per_s: rate("sync"),
      scp3_mib_per_s: rate("scp3_sync"),
      sync_ratio: ratio("sync", "scp3_sync"),
      cpu_ms_per_mib_read: `${cpuPerMib("read")} (scp ${cpuPerMib("scp_read")})`,
      cpu_ms_per_mib_write: `${cpuPerMib("write")} (scp ${cpuPerMib("scp_write")})`,
      cpu_ms_per_mib_sync: `${cpuPerMib("sync")} (scp -3 ${cpuPerMib("scp3_sync")})`,
      rss_growth_mib: Math.round((rssPeak - rssBefore) / (1024 * 1024)),
      rss_first_transfers_mib: Math.round(firstTransfers / (1024 * 1024)),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      size: { type: "string", default: "256" },
      runs: { type: "string", default: "2" },
      cipher: { type: "string", multiple: true },
    },
  });
  const ciphers = values.cipher ?? [undefined];
  for (const cipher of ciphers) {
    const result = await runSftpBench({ sizeMib: Number(values.size), runs: Number(values.runs), cipher });
    if (ciphers.length > 1) console.log(JSON.stringify(result));
    else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(28)} ${v}`);
  }
}
