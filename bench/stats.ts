/**
 * Small timing helpers for the benchmarks: samples, percentiles, rounding.
 */

/** Summary of a set of durations in ms. */
export interface Summary {
  /** Samples taken. */
  n: number;
  /** Median, ms. */
  p50_ms: number;
  /** 95th percentile, ms. */
  p95_ms: number;
  /** Fastest, ms. */
  min_ms: number;
}

/** The `q` quantile (0..1) of `values` by nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Rounds to `digits` decimals (3 by default). */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** p50/p95/min of durations. */
export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    p50_ms: round(quantile(values, 0.5)),
    p95_ms: round(quantile(values, 0.95)),
    min_ms: round(Math.min(...values)),
  };
}

/** Runs `fn` `warmup` times untimed, then `n` times timed; returns the durations in ms. */
export async function sample(n: number, warmup: number, fn: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return times;
}
