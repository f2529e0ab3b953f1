/**
 * The faults operators meet, injected one at a time on a schedule while the workload runs: link cuts,
 * dropped and lossy traffic, a slow link, sshd restarts, a changed host key, a full disk, SIGKILL of
 * the server, and clients that vanish mid-call. Each fault names what it affects ("tags": a host of
 * the bed, `server` for the HTTP server, `stdio:<worker>` for one stdio server) so that a failed
 * operation can be matched with the fault that explains it, and each records when the affected
 * workers succeeded again ("survived").
 *
 * @module
 */
import { run, startImpostor } from "../../tests/_helpers/sshd.ts";
import type { Bed } from "./bed.ts";
import type { SoakClient } from "./clients.ts";
import type { Journal, OpRecord } from "./ledger.ts";
import { connectionProcesses, listProcs, processesByEnv } from "./procs.ts";
import type { SoakServer } from "./server_process.ts";

/** Every fault kind, in the order of the first rotation. */
export const FAULT_KINDS = [
  // First, so that the last server lifetime is long enough for its memory and descriptor trends.
  "server_kill",
  "link_cut",
  "sshd_restart",
  "netns_drop",
  "host_key_change",
  "disk_full",
  "client_disconnect",
  "slow_link",
  "stdio_kill",
  "lossy_link",
] as const;

/** A fault kind. */
export type FaultKind = typeof FAULT_KINDS[number];

/** How long after a fault ends its effects still explain failures (reconnect backoff, keepalive). */
export const FAULT_TAIL_MS = 25_000;
/** A fault is survived when every affected tag used again succeeds within this time of the first attempt. */
export const RECOVERY_LIMIT_MS = 60_000;

/** One injected fault. */
export interface FaultRecord {
  kind: FaultKind;
  /** What exactly (host, worker, client kind). */
  detail: string;
  /** Tags of what it affects. */
  affects: string[];
  started: number;
  ended?: number;
  /** Why it could not be injected. */
  skipped?: string;
  /** Injection failed (the fault itself broke). */
  error?: string;
  /** Checks the fault made itself (e.g. the impostor saw no authentication). */
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

/** What faults act on. */
export interface FaultContext {
  bed: Bed;
  server: SoakServer;
  /** stdio clients of the workload, by worker name. */
  stdio: Map<string, SoakClient>;
  journal: Journal;
  /** Builds a throw-away client of a kind for the disconnect fault. */
  makeClient: (kind: SoakClient["kind"], name: string) => SoakClient;
  log: (line: string) => void;
  /** Stops early. */
  signal: AbortSignal;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

async function must(cmd: string, args: string[]): Promise<void> {
  await run(cmd, args, { check: true });
}

/** Runs `command` (words split on spaces) inside network namespace `ns`; throws when it fails. */
async function inNs(ns: string, command: string): Promise<void> {
  await must("ip", ["netns", "exec", ns, ...command.split(" ")]);
}

/** The record of every fault, and the matching of failures with faults. */
export class FaultLog {
  readonly records: FaultRecord[] = [];

  /** The fault that explains a failure on `tags` between `from` and `to`, if any. */
  explains(
    tags: readonly string[],
    from: number,
    to: number,
    lostTransport: boolean,
  ): FaultRecord | undefined {
    return this.records.find((f) =>
      f.skipped === undefined && f.affects.some((a) => tags.includes(a)) && f.started <= to &&
      (f.ended === undefined || f.ended + FAULT_TAIL_MS >= from) &&
      // A killed server shows as a lost transport or a lost session, never as an SSH-side error.
      (lostTransport || (f.kind !== "server_kill" && f.kind !== "stdio_kill"))
    );
  }

  /**
   * Whether a fault was survived: after it ended, every affected tag the workload used again had a
   * success within {@link RECOVERY_LIMIT_MS} of the first attempt ("yes"), or not ("no", with the
   * tags); "not observed" when nothing used them afterwards. A fault's own failed check is a "no".
   */
  survived(
    f: FaultRecord,
    ops: readonly OpRecord[],
    now: number,
  ): { verdict: "yes" | "no" | "not observed" | "skipped"; slowestMs?: number; stuck?: string[] } {
    if (f.skipped !== undefined) return { verdict: "skipped" };
    if (f.error !== undefined || f.checks.some((c) => !c.ok)) return { verdict: "no", stuck: [] };
    if (f.ended === undefined) return { verdict: "not observed" };
    if (f.affects.length === 0) return { verdict: f.checks.length > 0 ? "yes" : "not observed" };
    const stuck: string[] = [];
    const recoveries: number[] = [];
    let observed = 0;
    for (const tag of f.affects) {
      const after = ops.filter((op) =>
        op.tags.includes(tag) && op.started >= f.ended! && op.ended !== undefined
      );
      if (after.length === 0) continue;
      const firstAttempt = Math.min(...after.map((op) => op.started));
      const oks = after.filter((op) => SUCCESSES.includes(op.outcome!)).map((op) => op.ended!);
      if (oks.length === 0) {
        if (now - firstAttempt >= RECOVERY_LIMIT_MS) {
          observed++;
          stuck.push(tag);
        }
        continue;
      }
      observed++;
      const firstOk = Math.min(...oks);
      recoveries.push(firstOk - f.ended);
      if (firstOk - firstAttempt > RECOVERY_LIMIT_MS) stuck.push(tag);
    }
    if (observed === 0) return { verdict: "not observed" };
    const slowestMs = recoveries.length > 0 ? Math.max(...recoveries) : undefined;
    return stuck.length === 0 ? { verdict: "yes", slowestMs } : { verdict: "no", slowestMs, stuck };
  }
}

/** Outcomes that show the affected path works again. */
const SUCCESSES: readonly string[] = ["ok", "timed_out", "cancelled"];

/** Kills the per-connection sshd processes of a daemon: every client of it sees its link drop. */
function cutLinks(daemonPid: number | undefined): number {
  if (daemonPid === undefined) return 0;
  const procs = listProcs();
  const victims = new Set<number>();
  let level = connectionProcesses(daemonPid, procs);
  // [priv] monitors and their unprivileged @notty children (both hold the socket).
  while (level.length > 0) {
    for (const pid of level) victims.add(pid);
    level = procs.filter((p) => level.includes(p.ppid) && p.comm.startsWith("sshd")).map((p) => p.pid);
  }
  for (const pid of victims) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  return victims.size;
}

/** Runs one fault of `kind` (injection, hold, restore); the record is pushed before it starts. */
export async function injectFault(
  kind: FaultKind,
  ctx: FaultContext,
  log: FaultLog,
  round: number,
): Promise<FaultRecord> {
  const record: FaultRecord = {
    kind,
    detail: "",
    affects: [],
    started: Date.now(),
    checks: [],
  };
  log.records.push(record);
  const { bed } = ctx;
  const jump = bed.jump;
  const skip = (why: string) => {
    record.skipped = why;
    record.ended = Date.now();
    return record;
  };
  try {
    switch (kind) {
      case "link_cut": {
        const choices = ["plain", "rekey", ...(jump ? ["target"] : []), "slow"];
        const which = choices[round % choices.length]!;
        if (which === "slow") {
          record.affects = ["slow"];
          record.detail = `delay proxy closed ${bed.proxy.cutAll()} connection(s)`;
        } else {
          const sshd = which === "plain" ? bed.plain : which === "rekey" ? bed.rekey : jump!.target;
          record.affects = which === "plain" ? ["plain", "slow"] : [which];
          record.detail = `${which}: SIGKILLed ${cutLinks(sshd.pid)} sshd connection process(es)`;
        }
        await sleep(1000, ctx.signal);
        break;
      }
      case "sshd_restart": {
        const choices = ["plain", "rekey", ...(jump ? ["bastion"] : [])];
        const which = choices[round % choices.length]!;
        const sshd = which === "plain" ? bed.plain : which === "rekey" ? bed.rekey : jump!.bastion;
        record.affects = which === "plain"
          ? ["plain", "slow"]
          : which === "bastion"
          ? ["bastion", "target"]
          : [which];
        record.detail = `${which}: sshd stopped for 2 s, started on the same port with the same key`;
        await sshd.stop();
        await sleep(2000);
        await sshd.start();
        break;
      }
      case "server_kill": {
        record.affects = ["server"];
        markServerKilled(ctx.journal.running(), "server");
        const down = Date.now();
        await ctx.server.kill();
        await sleep(500);
        await ctx.server.start();
        record.detail = `HTTP server SIGKILLed and restarted (epoch ${ctx.server.epoch}), down ${
          Date.now() - down
        } ms`;
        break;
      }
      case "stdio_kill": {
        const names = [...ctx.stdio.keys()];
        if (names.length === 0) return skip("no stdio client");
        const name = names[round % names.length]!;
        const client = ctx.stdio.get(name)!;
        record.affects = [`stdio:${name}`];
        markServerKilled(ctx.journal.running(), `stdio:${name}`);
        record.detail = `${name}: stdio server ${client.stdioPid} SIGKILLed (${
          client.killStdioServer() ? "done" : "not running"
        })`;
        await sleep(1000, ctx.signal);
        break;
      }
      case "netns_drop": {
        if (!jump) return skip("no network namespaces");
        const ns = jump.namespaces.target;
        record.affects = ["target"];
        const undo: string[] = [];
        if (bed.capabilities.iptables) {
          record.detail = `${ns}: iptables DROP of tcp/22 both ways for 10 s`;
          for (const rule of ["INPUT -p tcp --dport 22 -j DROP", "OUTPUT -p tcp --sport 22 -j DROP"]) {
            await inNs(ns, `iptables -I ${rule}`);
            undo.push(`iptables -D ${rule}`);
          }
        } else {
          const dev = `mcpj${jump.subnet}t0`;
          record.detail = `${ns}: link ${dev} down for 10 s (no iptables)`;
          await inNs(ns, `ip link set ${dev} down`);
          undo.push(`ip link set ${dev} up`);
        }
        try {
          await sleep(10_000);
        } finally {
          for (const command of undo) await inNs(ns, command).catch(() => {});
        }
        break;
      }
      case "lossy_link": {
        if (!jump) return skip("no network namespaces");
        const ns = jump.namespaces.target;
        const dev = `mcpj${jump.subnet}t0`;
        record.affects = ["target"];
        const undo: string[] = [];
        const parts: string[] = [];
        if (bed.capabilities.netem) {
          await inNs(ns, `tc qdisc add dev ${dev} root netem delay 60ms 20ms loss 5%`);
          undo.push(`tc qdisc del dev ${dev} root`);
          parts.push("netem delay 60±20 ms, 5 % loss");
        } else {
          if (bed.capabilities.iptablesLoss) {
            for (const chain of ["INPUT", "OUTPUT"]) {
              const rule = `${chain} -m statistic --mode random --probability 0.05 -j DROP`;
              await inNs(ns, `iptables -I ${rule}`);
              undo.push(`iptables -D ${rule}`);
            }
            parts.push("iptables 5 % random drop each way");
          }
          if (bed.capabilities.tbf) {
            await inNs(ns, `tc qdisc add dev ${dev} root tbf rate 2mbit burst 32kbit latency 400ms`);
            undo.push(`tc qdisc del dev ${dev} root`);
            parts.push("tbf 2 Mbit/s");
          }
        }
        if (parts.length === 0) return skip("no netem, no iptables statistic, no tbf");
        record.detail = `${ns}: ${parts.join(" + ")} for 15 s`;
        try {
          await sleep(15_000);
        } finally {
          for (const command of undo) await inNs(ns, command).catch(() => {});
        }
        break;
      }
      case "slow_link": {
        record.affects = ["slow"];
        record.detail = `delay proxy ${bed.proxyDelayMs} → 250 ms each way for 15 s`;
        bed.proxy.setDelay(250);
        try {
          await sleep(15_000);
        } finally {
          bed.proxy.setDelay(bed.proxyDelayMs);
        }
        break;
      }
      case "disk_full": {
        if (!bed.capabilities.tmpfs) return skip("no tmpfs");
        record.affects = ["disk"];
        const df = await run("df", ["-B1", "--output=avail", bed.disk], { check: true });
        const avail = Number(df.stdout.trim().split("\n").at(-1));
        const filler = `${bed.disk}/.soak-filler`;
        await must("fallocate", ["-l", String(Math.max(4096, avail)), filler]);
        record.detail = `tmpfs filled (${avail} bytes) for 10 s`;
        try {
          await sleep(10_000);
        } finally {
          await Deno.remove(filler).catch(() => {});
        }
        break;
      }
      case "host_key_change":
        await hostKeyChange(record, ctx);
        break;
      case "client_disconnect":
        await clientDisconnect(record, ctx, round);
        break;
    }
  } catch (error) {
    record.error = (error as Error).message.slice(0, 400);
  }
  record.ended = Date.now();
  return record;
}

function markServerKilled(running: OpRecord[], tag: string): void {
  for (const op of running) if (op.tags.includes(tag)) op.serverKilledDuring = true;
}

/** An impostor with another host key on plain's address for 8 s: every connect must be refused. */
async function hostKeyChange(record: FaultRecord, ctx: FaultContext): Promise<void> {
  const { plain } = ctx.bed;
  record.affects = ["plain", "slow"];
  const impostor = await startImpostor(plain);
  record.detail =
    `impostor ${impostor.hostKeyFingerprint} on plain (recorded ${plain.hostKeyFingerprint}) for 8 s`;
  try {
    await sleep(8000);
  } finally {
    const events = await impostor.authEvents().catch(() => []);
    const log = await impostor.logText().catch(() => "");
    await impostor[Symbol.asyncDispose]();
    await plain.start();
    const connections = (log.match(/Connection from /g) ?? []).length;
    record.checks.push({
      name: "changed host key refused before authentication",
      ok: events.length === 0,
      detail: `impostor saw ${connections} connection(s) and ${events.length} authentication attempt(s)` +
        (events.length > 0 ? `: ${events.slice(0, 3).map((e) => e.line).join(" | ")}` : ""),
    });
    const knownHosts = await Deno.readTextFile(`${ctx.bed.serverHome}/.local/share/ssh-mcp/known_hosts`)
      .catch(() => "");
    const impostorBlob = impostor.hostPublicKey.split(" ")[1]!;
    record.checks.push({
      name: "known_hosts still holds the original key only",
      ok: !knownHosts.includes(impostorBlob) && knownHosts.includes(plain.hostPublicKey.split(" ")[1]!),
      detail: knownHosts.includes(impostorBlob) ? "the impostor's key was recorded" : "unchanged",
    });
    // Refusals the workload met must name both fingerprints (SPEC §5).
    const refusals = ctx.journal.ops.filter((op) =>
      op.code === "host_key_changed" && op.started >= record.started - 1000
    );
    const named = refusals.filter((op) =>
      (op.detail ?? "").includes(impostor.hostKeyFingerprint) &&
      (op.detail ?? "").includes(plain.hostKeyFingerprint)
    );
    record.checks.push({
      name: "refusals name both fingerprints",
      ok: named.length === refusals.length,
      detail: `${refusals.length} refusal(s) seen by the workload, ${named.length} naming both fingerprints`,
    });
  }
}

/** Each disconnect fault drops one HTTP and one stdio client, the eras alternating. */
const DISCONNECT_PAIRS: Array<[SoakClient["kind"], SoakClient["kind"]]> = [
  ["http-modern", "stdio-legacy"],
  ["http-legacy", "stdio-modern"],
];

/**
 * Throw-away clients start a 20 s command and vanish mid-call without cancelling: an HTTP client
 * drops its connection (no DELETE), a stdio client closes the server's stdin (the server shuts down).
 */
async function clientDisconnect(record: FaultRecord, ctx: FaultContext, round: number): Promise<void> {
  record.affects = [];
  const pair = DISCONNECT_PAIRS[round % DISCONNECT_PAIRS.length]!;
  const results = await Promise.all(pair.map((kind, i) => dropOne(ctx, kind, `dc${round}${"ab"[i]}`)));
  record.detail = results.map((r) => r.detail).join("; ");
  for (const r of results) if (r.check) record.checks.push(r.check);
}

async function dropOne(
  ctx: FaultContext,
  kind: SoakClient["kind"],
  name: string,
): Promise<{ detail: string; check?: FaultRecord["checks"][number] }> {
  const client = ctx.makeClient(kind, name);
  try {
    const { plain } = ctx.bed;
    const alias = `${name}-plain`;
    const connected = await client.call("connect", {
      host: plain.host,
      port: plain.port,
      username: "mcptest",
      password: plain.users.mcptest.password,
      alias,
    });
    if (!connected.ok) {
      return { detail: `${kind}: connect failed: ${connected.transportError ?? connected.text}` };
    }
    const marks = ctx.bed.markFile(name);
    const op = ctx.journal.start({
      worker: name,
      kind: `disconnect_${kind}`,
      alias,
      host: "plain",
      tags: ["plain"],
      marks: "at_most_one",
    });
    const pending = client.call("run", {
      target: alias,
      command:
        `printf 'start %s\\n' "$SOAK_OP" >> "$SOAK_MARKS"; sleep 20; printf 'end %s\\n' "$SOAK_OP" >> "$SOAK_MARKS"`,
      env: { SOAK_OP: op.id, SOAK_MARKS: marks },
      timeout: 60,
    });
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const text = await Deno.readTextFile(marks).catch(() => "");
      if (text.includes(`start ${op.id}`)) break;
      await sleep(100);
    }
    const dropped = Date.now();
    await client.drop();
    const reply = await Promise.race([pending, sleep(5000).then(() => undefined)]);
    // An HTTP legacy client that just goes away has not cancelled: its command may run to its end.
    const cancels = kind !== "http-legacy";
    op.goneBy = cancels ? dropped + 10_000 : op.started + 30_000;
    ctx.journal.end(
      op,
      "abandoned",
      `${kind} dropped mid-call; ${reply?.transportError ?? reply?.text ?? "no reply"}`,
    );
    let goneAt: number | undefined;
    while (Date.now() < op.goneBy + 1000) {
      if ((processesByEnv("SOAK_OP").get(op.id) ?? []).length === 0) {
        goneAt = Date.now();
        break;
      }
      await sleep(250);
    }
    const after = goneAt === undefined
      ? "still running"
      : `gone ${((goneAt - dropped) / 1000).toFixed(1)} s after the drop`;
    return {
      detail: `${kind} dropped a 20 s run after ${dropped - op.started} ms: ${after}`,
      check: {
        name: `${kind}: the dropped call's process is gone ${
          cancels ? "within 10 s (the drop cancels)" : "after its natural end"
        }`,
        ok: goneAt !== undefined,
        detail: after,
      },
    };
  } finally {
    await client[Symbol.asyncDispose]();
  }
}
