/**
 * SFTP benchmark (SPEC §9): read, write and sync of a 256 MiB file through our SFTP helpers against
 * `scp` (and `scp -3` for sync) on the same test sshd in the same run, printed as throughput ratios.
 *
 * Ours runs on established connections (as the server does); scp pays its own connect each run, which
 * is part of what a user of scp waits for. Read hashes the stream (as the `read` tool does) and
 * discards it; scp writes it to a local file.
 *
 * Run alone: `deno run -A bench/sftp_bench.ts`.
 */

import { openConnection } from "../src/ssh/client.ts";
import type { SshConnection } from "../src/ssh/connection.ts";
import { openSftp } from "../src/ssh/sftp/sftp.ts";
import { copy } from "../src/ssh/sftp/copy.ts";
import { run, startSshd, type TestSshd } from "../tests/_helpers/sshd.ts";

/** Options of {@link runSftpBench}. */
export interface SftpBenchOptions {
  /** File size in MiB. Default 256. */
  sizeMib?: number;
  /** Timed runs of each leg (the best is reported). Default 2. */
  runs?: number;
}

async function connect(sshd: TestSshd): Promise<SshConnection> {
  return await openConnection({
    host: sshd.host,
    port: sshd.port,
    username: "root",
    auth: [{ type: "publickey", label: "bench key", key: await Deno.readTextFile(sshd.keys.ed25519) }],
    checkHostKey: () => Promise.resolve(true),
    connectTimeoutMs: 15_000,
    keepaliveIntervalMs: 0,
    keepaliveCountMax: 3,
  });
}

async function best(runs: number, leg: () => Promise<void>): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await leg();
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

/**
 * Runs the benchmark and returns MiB/s for each leg and `*_ratio` = ours / scp (goal ≥ 0.8).
 */
export async function runSftpBench(options: SftpBenchOptions = {}): Promise<Record<string, number | string>> {
  const mib = options.sizeMib ?? 256;
  const runs = Math.max(1, options.runs ?? 2);
  await using sshd = await startSshd();
  await using a = await connect(sshd);
  await using b = await connect(sshd);
  const src = await openSftp(a);
  const dst = await openSftp(b);
  const dir = await Deno.makeTempDir({ prefix: "sftp_bench_" });
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
  const remote = (path: string) => `root@${sshd.host}:${path}`;
  const scp = (from: string, to: string, extra: string[] = []) =>
    run("scp", [...scpArgs, ...extra, from, to], { check: true }).then(() => {});
  try {
    const file = `${dir}/source.bin`;
    await run("sh", ["-c", `head -c ${mib * 1024 * 1024} /dev/urandom > ${file}`], { check: true });
    const content = await Deno.readFile(file);
    const ms = {
      read: await best(runs, async () => void await src.readEach(file, () => {})),
      scp_read: await best(runs, () => scp(remote(file), `${dir}/scp-read.bin`)),
      write: await best(runs, async () => void await src.atomicWrite(`${dir}/written.bin`, content)),
      scp_write: await best(runs, () => scp(file, remote(`${dir}/scp-written.bin`))),
      sync: await best(runs, async () => {
        await copy({ sftp: src, path: file }, { sftp: dst, path: `${dir}/synced.bin` });
      }),
      scp3_sync: await best(runs, () => scp(remote(file), remote(`${dir}/scp3.bin`), ["-3"])),
    };
    const rate = (key: keyof typeof ms) => Math.round(mib / (ms[key] / 1000));
    const ratio = (ours: keyof typeof ms, theirs: keyof typeof ms) =>
      Math.round((ms[theirs] / ms[ours]) * 100) / 100;
    return {
      size_mib: mib,
      sftp_read_mib_per_s: rate("read"),
      scp_read_mib_per_s: rate("scp_read"),
      sftp_read_ratio: ratio("read", "scp_read"),
      sftp_write_mib_per_s: rate("write"),
      scp_write_mib_per_s: rate("scp_write"),
      sftp_write_ratio: ratio("write", "scp_write"),
      sync_mib_per_s: rate("sync"),
      scp3_mib_per_s: rate("scp3_sync"),
      sync_ratio: ratio("sync", "scp3_sync"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const result = await runSftpBench();
  for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(28)} ${v}`);
}
