/**
 * `deno task soak [--minutes N]`: reliability under faults (SPEC §4–§6, §10). Several MCP clients —
 * HTTP and stdio, both protocol eras — drive a mixed workload against real sshds (one behind a jump
 * host in network namespaces, one re-keying every MiB and 20 s, one behind a delay proxy) while a
 * scheduler injects the faults operators meet; invariants are checked continuously and at the end.
 * Prints the report, saves it to bench/results/soak-latest.{md,json} (with every op in
 * soak-latest-ops.json; gitignored) and exits 1 when an
 * invariant broke, 2 when the soak itself could not run.
 *
 * Phases: warm-up (no faults; resource baseline), faults every `--fault-every` seconds, a quiet
 * phase (no faults; resource end level), then the workload stops and the final checks run.
 *
 * Options: `--minutes N` (default 10), `--warmup S` (30), `--quiet S` (40), `--fault-every S`
 * (25, or less so that a short run meets every kind once), `--faults kind,kind` (default: all).
 * Needs root (sshd test accounts, namespaces, tmpfs); skips loudly otherwise (fails under CI=true).
 */
import { parseArgs } from "node:util";
import { makeHome } from "../../tests/_helpers/server.ts";
import { type Bed, startBed } from "./bed.ts";
import { type ClientKind, SoakClient } from "./clients.ts";
import { FAULT_KINDS, type FaultContext, type FaultKind, FaultLog } from "./faults.ts";
import { Invariants, Monitor } from "./invariants.ts";
import { FileLedger, Journal } from "./ledger.ts";
import {
  cancelRun,
  capture,
  crossSessionProbe,
  dbQuery,
  editFile,
  longRun,
  shortRun,
  syncBig,
  timeoutRun,
  writeFile,
} from "./ops.ts";
import { renderReport, reportJson } from "./report.ts";
import { ResourceSampler } from "./resources.ts";
import { runFaultSchedule } from "./schedule.ts";
import { SoakServer } from "./server_process.ts";
import { type Login, type Operation, type WorkContext, Worker } from "./worker.ts";

const SESSION_TIMEOUT_S = 12;
const SERVER_ARGS = [
  "-session-timeout",
  String(SESSION_TIMEOUT_S),
  "-keepalive-interval",
  "2",
  "-keepalive-count",
  "3",
  "-max-command-timeout",
  "300",
];

function fail(message: string): never {
  if (Deno.env.get("CI") === "true") {
    console.error(`soak: ${message}; CI=true forbids skipping`);
    Deno.exit(2);
  }
  console.error(`SKIP: soak: ${message}`);
  Deno.exit(0);
}

function seconds(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`soak: --${name} must be a number ≥ 0, got "${value}"`);
    Deno.exit(2);
  }
  return n;
}

async function machine(): Promise<Record<string, string>> {
  const text = async (cmd: string, args: string[]) => {
    try {
      const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
      return (new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)).trim();
    } catch {
      return "unavailable";
    }
  };
  return {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    openssh: await text("ssh", ["-V"]),
    kernel: await text("uname", ["-r"]),
    cpus: String(navigator.hardwareConcurrency),
    loadavg: (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).trim(),
  };
}

function password(bed: Bed, host: "plain" | "rekey" | "bastion" | "target"): Record<string, unknown> {
  const sshd = host === "plain"
    ? bed.plain
    : host === "rekey"
    ? bed.rekey
    : host === "bastion"
    ? bed.jump!.bastion
    : bed.jump!.target;
  return { host: sshd.host, port: sshd.port, username: "mcptest", password: sshd.users.mcptest.password };
}

/** The workers: who speaks which transport and era to which hosts, doing what. */
function planWorkers(
  bed: Bed,
): Array<
  { name: string; kind: ClientKind; logins: (n: string) => Login[]; ops: Array<[Operation, number]> }
> {
  const jump = bed.jump !== undefined;
  const far = jump ? "target" : "plain";
  return [
    {
      name: "w1",
      kind: "http-modern",
      logins: (n) => [{ alias: `${n}-plain`, host: "plain", args: password(bed, "plain") }],
      ops: [
        [shortRun("plain"), 5],
        [writeFile("plain"), 3],
        [editFile("plain"), 2],
        [longRun("plain"), 1],
        [timeoutRun("plain"), 1],
        [cancelRun("plain"), 1],
        [crossSessionProbe(), 1],
      ],
    },
    {
      name: "w2",
      kind: "http-legacy",
      logins: (n) =>
        jump
          ? [
            { alias: `${n}-bastion`, host: "bastion", args: password(bed, "bastion") },
            {
              alias: `${n}-target`,
              host: "target",
              args: { ...password(bed, "target"), via: `${n}-bastion` },
            },
          ]
          : [{ alias: `${n}-plain`, host: "plain", args: password(bed, "plain") }],
      ops: [
        [shortRun(far), 4],
        [writeFile(far), 2],
        [editFile(far), 1],
        [longRun(far), 1],
        [cancelRun(far), 1],
        [crossSessionProbe(), 1],
      ],
    },
    {
      name: "w3",
      kind: "stdio-legacy",
      logins: (n) => [
        { alias: `${n}-rekey`, host: "rekey", args: password(bed, "rekey") },
        { alias: `${n}-plain`, host: "plain", args: password(bed, "plain") },
      ],
      ops: [
        [syncBig("rekey", "plain"), 2],
        [writeFile("rekey", 1536), 2],
        [shortRun("rekey"), 2],
        [longRun("rekey"), 1],
      ],
    },
    {
      name: "w4",
      kind: "stdio-modern",
      logins: (n) => [{
        alias: `${n}-slow`,
        host: "slow",
        args: { ...password(bed, "plain"), port: bed.proxy.port },
      }],
      ops: [
        [shortRun("slow"), 3],
        [writeFile("slow", 768, "disk"), 3],
        [editFile("slow"), 1],
        [longRun("slow"), 1],
        [timeoutRun("slow"), 1],
        [crossSessionProbe(), 1],
      ],
    },
    {
      // db_query and captures through sudo (never a root login: root's shell on these machines
      // runs pyenv, whose rehash lock a killed session leaves behind for every later root login).
      name: "w5",
      kind: "http-modern",
      logins: (n) => [{
        alias: `${n}-sudo`,
        host: "plain",
        args: { ...password(bed, "plain"), sudo_password: bed.plain.users.mcptest.password },
      }],
      ops: [
        ...(bed.postgres
          ? [[dbQuery("plain", "quick"), 3], [dbQuery("plain", "cancel"), 1], [
            dbQuery("plain", "timeout"),
            1,
          ]] as Array<
            [Operation, number]
          >
          : []),
        [capture("plain"), 1],
        [shortRun("plain"), 1],
      ],
    },
  ];
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      minutes: { type: "string" },
      warmup: { type: "string" },
      quiet: { type: "string" },
      "fault-every": { type: "string" },
      faults: { type: "string" },
    },
  });
  const minutes = seconds(values.minutes, 10, "minutes");
  const total = minutes * 60_000;
  const warmupMs = seconds(values.warmup, Math.min(30, minutes * 60 / 6), "warmup") * 1000;
  const quietMs = seconds(values.quiet, Math.min(40, minutes * 60 / 5), "quiet") * 1000;
  const kinds =
    (values.faults?.split(",").map((k) => k.trim()).filter(Boolean) ?? [...FAULT_KINDS]) as FaultKind[];
  const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    console.error(`soak: unknown fault kind(s) ${unknown.join(", ")}; use ${FAULT_KINDS.join(", ")}`);
    return 2;
  }
  const faultPhase = Math.max(1, total - warmupMs - quietMs);
  const everyMs =
    seconds(values["fault-every"], Math.min(25, faultPhase / 1000 / kinds.length), "fault-every") * 1000;
  if (Deno.uid() !== 0) fail("needs root (test accounts, network namespaces, tmpfs)");

  const t0 = Date.now();
  const log = (line: string) => console.error(`[soak +${Math.round((Date.now() - t0) / 1000)}s] ${line}`);
  const run = crypto.randomUUID().slice(0, 6);
  log(
    `run ${run}: ${minutes} min, warm-up ${warmupMs / 1000} s, a fault every ${
      (everyMs / 1000).toFixed(0)
    } s, quiet ${quietMs / 1000} s`,
  );
  let built: Bed;
  try {
    built = await startBed({ run, netnsPrefix: `soak${run.slice(0, 4)}`, log });
  } catch (error) {
    console.error(`soak: cannot build the test bed: ${(error as Error).stack ?? error}`);
    return 2;
  }
  await using bed = built;
  await using server = new SoakServer({ home: bed.serverHome, args: SERVER_ARGS });
  await server.start();

  const journal = new Journal(run);
  const ledger = new FileLedger();
  const faults = new FaultLog();
  const invariants = new Invariants((name, detail) => log(`VIOLATION ${name}: ${detail.slice(0, 300)}`));
  const stop = new AbortController();
  const plans = planWorkers(bed);
  const homes: string[] = [];
  const extraClients: SoakClient[] = [];
  const makeClient = (kind: ClientKind, name: string, home?: string) =>
    new SoakClient(kind, {
      name,
      server,
      home,
      serverArgs: SERVER_ARGS,
      sessionKey: kind === "http-modern" ? `soak-${run}-${name}-${crypto.randomUUID()}` : undefined,
    });
  const workers: Worker[] = [];
  const ctx: WorkContext = {
    bed,
    journal,
    ledger,
    faults,
    invariants,
    sessionTimeoutMs: SESSION_TIMEOUT_S * 1000,
    aliases: () => workers.flatMap((w) => w.logins.map((l) => l.alias)),
    stop: stop.signal,
    log,
  };
  for (const plan of plans) {
    const home = plan.kind.startsWith("stdio") ? await makeHome() : undefined;
    if (home) homes.push(home);
    workers.push(
      new Worker(plan.name, makeClient(plan.kind, plan.name, home), plan.logins(plan.name), plan.ops, ctx),
    );
  }
  const faultCtx: FaultContext = {
    bed,
    server,
    stdio: new Map(workers.filter((w) => w.client.kind.startsWith("stdio")).map((w) => [w.name, w.client])),
    journal,
    makeClient: (kind, name) => {
      const home = kind.startsWith("stdio") ? Deno.makeTempDirSync({ prefix: "ssh-mcp-home-" }) : undefined;
      if (home) {
        Deno.mkdirSync(`${home}/.ssh`, { mode: 0o700 });
        homes.push(home);
      }
      const client = makeClient(kind, name, home);
      extraClients.push(client);
      return client;
    },
    log,
    signal: stop.signal,
  };
  const monitor = new Monitor({
    bed,
    server,
    journal,
    ledger,
    invariants,
    workers: () => [...new Set(journal.ops.map((op) => op.worker))],
  });
  const sampler = new ResourceSampler(server, bed);
  const started = Date.now();
  const warmupEnd = started + warmupMs;
  const quietStart = started + total - quietMs;
  const end = started + total;
  const notes: string[] = [];
  try {
    monitor.start();
    sampler.start();
    const loops = workers.map((w) => w.loop());
    const schedule = runFaultSchedule(faultCtx, faults, {
      kinds,
      startAt: warmupEnd,
      stopAt: quietStart,
      everyMs,
    });
    const progress = setInterval(() => {
      const done = journal.ops.filter((op) => op.ended !== undefined).length;
      log(
        `${done} ops done, ${faults.records.length} faults, ${
          [...invariants.tallies.values()].reduce((s, t) => s + t.violations, 0)
        } violations`,
      );
    }, 30_000);
    await new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())));
    clearInterval(progress);
    log("stopping the workload");
    stop.abort();
    const stopped = await Promise.race([
      Promise.all([...loops, schedule]).then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 240_000)),
    ]);
    if (!stopped) notes.push("some workers did not finish their last operation within 240 s of the stop");
    sampler.sample();
    const workloadEnd = Date.now();
    await monitor.stop();
    sampler.stop();
    log("final checks");
    const dirs = [...await Promise.all(workers.map((w) => w.dir())), bed.disk];
    await monitor.finish(dirs);
    if (monitor.slowKills.length > 0) {
      notes.push(
        `${monitor.slowKills.length} call(s) had processes or statements that went away only after their 6 s deadline (not left ` +
          `behind; slow on this loaded machine), e.g. ${monitor.slowKills[0]}`,
      );
    }
    const trends = sampler.trends(warmupEnd, workloadEnd);
    for (const t of trends) invariants.check("resources_flat", t.flat, `${t.metric}: ${t.note}`);
    if (!workers.some((w) => w.hasJobs)) {
      invariants.unchecked("jobs_truthful", "no job_output tool on this server");
    }
    if (!faults.records.some((f) => f.kind === "host_key_change" && !f.skipped)) {
      invariants.unchecked("host_key_change_refused", "no host-key change was injected");
    }
    for (const f of faults.records.filter((f) => f.kind === "host_key_change")) {
      for (const c of f.checks) invariants.check("host_key_change_refused", c.ok, `${c.name}: ${c.detail}`);
    }
    for (const w of workers) await w.client[Symbol.asyncDispose]();
    for (const c of extraClients) await c[Symbol.asyncDispose]();
    const shutdown = await server.stop();
    if (shutdown) {
      notes.push(`server shutdown on SIGTERM: exit ${shutdown.code} in ${shutdown.ms} ms`);
      invariants.check(
        "no_crash",
        shutdown.code === 0 && shutdown.ms < 10_000,
        `SIGTERM shutdown: exit ${shutdown.code} after ${shutdown.ms} ms`,
      );
    }
    const clients = [...workers.map((w) => w.client), ...extraClients];
    monitor.checkCrashes({
      stdioExits: clients.flatMap((c) => c.stdioExits),
      stdioCrashLines: clients.flatMap((c) => c.crashLines()),
      notes,
    });
    const input = {
      started,
      ended: Date.now(),
      minutes,
      machine: await machine(),
      capabilities: bed.capabilities,
      serverArgs: SERVER_ARGS,
      jobs: workers.some((w) => w.hasJobs),
      journal,
      faults,
      invariants,
      trends,
      samples: sampler.samples,
      health: monitor.health,
      notes,
    };
    const text = renderReport(input);
    console.log(text);
    const out = new URL("../results/", import.meta.url);
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(new URL("soak-latest.md", out), text + "\n");
    await Deno.writeTextFile(
      new URL("soak-latest.json", out),
      JSON.stringify(reportJson(input), null, 2) + "\n",
    );
    await Deno.writeTextFile(new URL("soak-latest-ops.json", out), JSON.stringify(journal.ops) + "\n");
    await Deno.writeTextFile(
      new URL("soak-latest-server.log", out),
      [server.stderr(), ...clients.map((c) => c.stderr())].join("\n"),
    );
    log("wrote bench/results/soak-latest.md, .json, -ops.json and -server.log");
    return invariants.broken ? 1 : 0;
  } finally {
    stop.abort();
    await monitor.stop();
    sampler.stop();
    for (const home of homes) await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await main());
