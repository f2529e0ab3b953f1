/**
 * Resource figures of the soak: the HTTP server's RSS and open descriptors, and the session channels
 * the test sshds serve, sampled every two seconds. The trend is the least-squares slope within each
 * server lifetime (a restart resets memory, so lifetimes are not joined), pooled over lifetimes, from
 * the end of warm-up on; plus the level at the end of the fault-free quiet phase against the level at
 * the end of warm-up.
 *
 * @module
 */
import type { Bed } from "./bed.ts";
import { fdCountOf, listProcs, rssOf, sessionChannels } from "./procs.ts";
import type { SoakServer } from "./server_process.ts";

/** One sample. */
export interface Sample {
  /** ms since epoch. */
  t: number;
  /** Server lifetime. */
  epoch: number;
  rssMiB?: number;
  fds?: number;
  channels: number;
}

/** The metrics reported. */
export const METRICS = ["rssMiB", "fds", "channels"] as const;
/** A metric. */
export type Metric = typeof METRICS[number];

/** How much each metric may rise per minute (slope) and from warm-up to the end (level). */
export const LIMITS: Record<Metric, { slopePerMin: number; level: number; unit: string }> = {
  rssMiB: { slopePerMin: 3, level: 40, unit: "MiB" },
  fds: { slopePerMin: 2, level: 12, unit: "fds" },
  channels: { slopePerMin: 2, level: 8, unit: "channels" },
};

/** A metric's figures. */
export interface Trend {
  metric: Metric;
  unit: string;
  /** Median over the last 10 s of warm-up. */
  baseline?: number;
  /** Median over the last 10 s of the quiet phase. */
  end?: number;
  min?: number;
  max?: number;
  /** Pooled within-lifetime slope per minute after warm-up. */
  slopePerMin?: number;
  /** Whether slope and level are within {@link LIMITS}. */
  flat: boolean;
  /** Why not, or how it was judged. */
  note: string;
}

/** Samples the server and the sshds on a timer. */
export class ResourceSampler {
  readonly samples: Sample[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #server: SoakServer;
  #bed: Bed;

  constructor(server: SoakServer, bed: Bed) {
    this.#server = server;
    this.#bed = bed;
  }

  /** Starts sampling every `everyMs`. */
  start(everyMs = 2000): void {
    this.#timer = setInterval(() => this.sample(), everyMs);
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Takes one sample now. */
  sample(): void {
    const pid = this.#server.pid;
    const procs = listProcs();
    const daemons = [
      this.#bed.plain.pid,
      this.#bed.rekey.pid,
      this.#bed.jump?.target.pid,
      this.#bed.jump?.bastion.pid,
    ];
    const channels = daemons.reduce<number>(
      (n, d) => n + (d === undefined ? 0 : sessionChannels(d, procs)),
      0,
    );
    const rss = pid === undefined ? undefined : rssOf(pid);
    this.samples.push({
      t: Date.now(),
      epoch: this.#server.epoch,
      rssMiB: rss === undefined ? undefined : rss / 1048576,
      fds: pid === undefined ? undefined : fdCountOf(pid),
      channels,
    });
  }

  /** Figures per metric, given the end of warm-up and the start of the quiet phase. */
  trends(warmupEnd: number, quietStart: number, end: number): Trend[] {
    return METRICS.map((metric) => trendOf(this.samples, metric, warmupEnd, quietStart, end));
  }
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Least-squares slope pooled over groups (each group centred on its own means), per minute. */
export function pooledSlope(groups: Array<Array<{ t: number; y: number }>>): number | undefined {
  let sxy = 0;
  let sxx = 0;
  for (const g of groups) {
    if (g.length < 3) continue;
    const mt = g.reduce((s, p) => s + p.t, 0) / g.length;
    const my = g.reduce((s, p) => s + p.y, 0) / g.length;
    for (const p of g) {
      sxy += (p.t - mt) * (p.y - my);
      sxx += (p.t - mt) ** 2;
    }
  }
  return sxx === 0 ? undefined : (sxy / sxx) * 60_000;
}

function trendOf(
  samples: Sample[],
  metric: Metric,
  warmupEnd: number,
  quietStart: number,
  end: number,
): Trend {
  const limit = LIMITS[metric];
  const value = (s: Sample) => s[metric];
  const at = (from: number, to: number) =>
    samples.filter((s) => s.t >= from && s.t <= to && value(s) !== undefined).map((s) => value(s)!);
  const all = samples.filter((s) => value(s) !== undefined).map((s) => value(s)!);
  const baseline = median(at(warmupEnd - 10_000, warmupEnd));
  const last = median(at(end - 10_000, end));
  // Lifetimes of the server; the first 20 s of each are its own warm-up.
  const byEpoch = new Map<number, Array<{ t: number; y: number }>>();
  const starts = new Map<number, number>();
  for (const s of samples) if (!starts.has(s.epoch)) starts.set(s.epoch, s.t);
  for (const s of samples) {
    const v = value(s);
    if (v === undefined || s.t < warmupEnd) continue;
    if (metric !== "channels" && s.t < starts.get(s.epoch)! + 20_000) continue;
    const key = metric === "channels" ? 0 : s.epoch;
    const list = byEpoch.get(key) ?? [];
    list.push({ t: s.t, y: v });
    byEpoch.set(key, list);
  }
  const slope = pooledSlope([...byEpoch.values()]);
  // Comparing levels is fair only when the server that ends is the one that warmed up (memory, fds).
  const sameLife = metric === "channels" ||
    samples.filter((s) => s.t >= warmupEnd - 10_000).every((s) => s.epoch === samples.at(-1)?.epoch);
  const rise = baseline !== undefined && last !== undefined ? last - baseline : undefined;
  const notes: string[] = [];
  let flat = true;
  if (slope !== undefined && slope > limit.slopePerMin) {
    flat = false;
    notes.push(`slope ${slope.toFixed(2)} > ${limit.slopePerMin} ${limit.unit}/min`);
  }
  if (sameLife && rise !== undefined && rise > limit.level) {
    flat = false;
    notes.push(
      `end ${last!.toFixed(1)} is ${rise.toFixed(1)} above warm-up ${
        baseline!.toFixed(1)
      } (limit ${limit.level})`,
    );
  }
  if (!sameLife) notes.push("server restarted since warm-up: slope only");
  if (slope === undefined) notes.push("too few samples for a slope");
  void quietStart;
  return {
    metric,
    unit: limit.unit,
    baseline,
    end: last,
    min: all.length ? Math.min(...all) : undefined,
    max: all.length ? Math.max(...all) : undefined,
    slopePerMin: slope,
    flat,
    note: notes.join("; ") || "within limits",
  };
}
