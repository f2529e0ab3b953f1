/**
 * Resource figures of the soak: the HTTP server's RSS and open descriptors, and the session channels
 * the test sshds serve, sampled every two seconds. The trend is the least-squares slope within each
 * server lifetime (a restart resets memory, so lifetimes are not joined) from a minute after its start
 * and from the end of the soak's warm-up, pooled over lifetimes measured for 90 s or more; plus the
 * level at the end of the run (the fault-free quiet phase) against the start of the last lifetime's
 * measured window.
 *
 * @module
 */
import type { Bed } from "./bed.ts";
import { fdCountOf, inboundConnections, listProcs, rssOf, sessionChannels } from "./procs.ts";
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
export const LIMITS: Record<Metric, Limit> = {
  // The V8 heap grows for minutes towards a plateau (measured: 200–240 MiB under a steady stream of
  // calls, sawtooth ±30 MiB, no trend over 4,600 sessions opened and closed): memory gets a longer
  // warm-up and window, and a ceiling that catches unbounded buffering in any run.
  rssMiB: { slopePerMin: 6, level: 60, unit: "MiB", warmupMs: 120_000, windowMs: 240_000, ceiling: 512 },
  // The count moves by a few with the connections open at the moment: the level decides short runs.
  fds: { slopePerMin: 3, level: 12, unit: "fds", warmupMs: 60_000, windowMs: 240_000 },
  channels: { slopePerMin: 3, level: 8, unit: "channels", warmupMs: 0, windowMs: 240_000 },
};

/** Shortest measured stretch of a server lifetime that is reported and whose level is judged. */
const LEVEL_WINDOW_MS = 60_000;

/** How a metric is judged. */
export interface Limit {
  /** Largest rise per minute. */
  slopePerMin: number;
  /** Largest rise from the start of the window to the end of the run. */
  level: number;
  unit: string;
  /** A server process's own warm-up, excluded from its trend. */
  warmupMs: number;
  /** Shortest post-warm-up stretch whose slope is judged (shorter ones judge the level only). */
  windowMs: number;
  /** Highest value allowed at any time. */
  ceiling?: number;
}

/** A metric's figures. */
export interface Trend {
  metric: Metric;
  unit: string;
  /** Median at the start of the measured window (first 10 s; channels: last 10 s of warm-up). */
  baseline?: number;
  /** Median over the last 10 s of the run (the quiet phase). */
  end?: number;
  min?: number;
  max?: number;
  /** Least-squares slope per minute, pooled over the measured windows. */
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
      fds: pid === undefined ? undefined : minus(fdCountOf(pid), inboundConnections(this.#server.port)),
      channels,
    });
  }

  /** Figures per metric, given the end of the soak's warm-up and of the run. */
  trends(warmupEnd: number, end: number): Trend[] {
    return METRICS.map((metric) => trendOf(this.samples, metric, warmupEnd, end));
  }
}

function minus(total: number | undefined, part: number): number | undefined {
  return total === undefined ? undefined : total - part;
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

function trendOf(samples: Sample[], metric: Metric, warmupEnd: number, end: number): Trend {
  const limit = LIMITS[metric];
  const valued = samples.filter((s) => s[metric] !== undefined);
  const all = valued.map((s) => s[metric]!);
  const base = {
    metric,
    unit: limit.unit,
    min: all.length ? Math.min(...all) : undefined,
    max: all.length ? Math.max(...all) : undefined,
  };
  const windows: Array<Array<{ t: number; y: number }>> = [];
  let baseline: number | undefined;
  let last: number | undefined;
  let measured = "";
  if (metric === "channels") {
    // The sshds outlive server restarts: one window from the end of warm-up.
    const w = valued.filter((s) => s.t >= warmupEnd).map((s) => ({ t: s.t, y: s[metric]! }));
    windows.push(w);
    baseline = median(
      valued.filter((s) => s.t >= warmupEnd - 10_000 && s.t <= warmupEnd).map((s) => s.channels),
    );
    last = median(valued.filter((s) => s.t >= end - 10_000).map((s) => s.channels));
    measured = `${Math.round((end - warmupEnd) / 1000)} s after warm-up`;
  } else {
    // A restart resets memory and descriptors: each server lifetime is its own window, from
    // `warmupMs` after its start (modules load, the JIT and the heap settle).
    const epochs = [...new Set(valued.map((s) => s.epoch))];
    for (const epoch of epochs) {
      const life = valued.filter((s) => s.epoch === epoch);
      const from = Math.max(life[0]!.t + limit.warmupMs, warmupEnd);
      const w = life.filter((s) => s.t >= from).map((s) => ({ t: s.t, y: s[metric]! }));
      if (w.length > 0 && w.at(-1)!.t - w[0]!.t >= LEVEL_WINDOW_MS) windows.push(w);
    }
    const final = windows.at(-1);
    if (final !== undefined && final.at(-1)!.t >= end - 20_000) {
      baseline = median(final.filter((p) => p.t <= final[0]!.t + 10_000).map((p) => p.y));
      last = median(final.filter((p) => p.t >= end - 10_000).map((p) => p.y));
    }
    measured = windows.length === 0
      ? `no server lifetime measured for ${LEVEL_WINDOW_MS / 1000} s after its ${
        limit.warmupMs / 1000
      } s warm-up`
      : `${windows.length} server lifetime(s), ${
        Math.round(windows.reduce((n, w) => n + (w.at(-1)!.t - w[0]!.t), 0) / 1000)
      } s after their ${limit.warmupMs / 1000} s warm-up`;
  }
  const span = (w: Array<{ t: number }>) => w.length === 0 ? 0 : w.at(-1)!.t - w[0]!.t;
  const slope = windows.length === 0 ? undefined : pooledSlope(windows);
  const judged = windows.filter((w) => span(w) >= limit.windowMs);
  const judgedSlope = judged.length === 0 ? undefined : pooledSlope(judged);
  const notes: string[] = [];
  let flat = true;
  if (judgedSlope === undefined && slope !== undefined) {
    notes.push(`slope not judged (needs ${limit.windowMs / 1000} s)`);
  } else if (judgedSlope !== undefined && judgedSlope > limit.slopePerMin) {
    flat = false;
    notes.push(`slope ${judgedSlope.toFixed(2)} > ${limit.slopePerMin} ${limit.unit}/min`);
  }
  const rise = baseline !== undefined && last !== undefined ? last - baseline : undefined;
  if (rise !== undefined && rise > limit.level) {
    flat = false;
    notes.push(
      `end ${last!.toFixed(1)} is ${rise.toFixed(1)} above the start ${
        baseline!.toFixed(1)
      } (limit ${limit.level})`,
    );
  }
  if (limit.ceiling !== undefined && base.max !== undefined && base.max > limit.ceiling) {
    flat = false;
    notes.push(`peak ${base.max.toFixed(0)} above the ceiling ${limit.ceiling}`);
  }
  if (slope === undefined) notes.push("not judged");
  return {
    ...base,
    baseline,
    end: last,
    slopePerMin: slope,
    flat,
    note: `${measured}${notes.length ? `; ${notes.join("; ")}` : ""}`,
  };
}
