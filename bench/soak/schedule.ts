/**
 * When faults happen: one at a time, every `everyMs` from the end of warm-up until the quiet phase,
 * cycling through the kinds (the first cycle in a fixed order, so a short run still meets each kind
 * once; later cycles shuffled).
 *
 * @module
 */
import { type FaultContext, type FaultKind, type FaultLog, injectFault } from "./faults.ts";

/** Options of {@link runFaultSchedule}. */
export interface ScheduleOptions {
  /** Kinds to inject, in first-cycle order. */
  kinds: readonly FaultKind[];
  /** First fault. */
  startAt: number;
  /** No fault starts after this. */
  stopAt: number;
  /** Spacing of fault starts, ms (a fault that runs long pushes the next one back). */
  everyMs: number;
}

function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, at - Date.now()));
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * Injects faults until `stopAt` or until `ctx.signal` aborts; returns the log (also filled while it
 * runs, so the workload can match failures with faults as they happen).
 *
 * @example
 * ```ts
 * const log = new FaultLog();
 * await runFaultSchedule(ctx, log, { kinds: FAULT_KINDS, startAt, stopAt, everyMs: 25_000 });
 * ```
 */
export async function runFaultSchedule(
  ctx: FaultContext,
  log: FaultLog,
  options: ScheduleOptions,
): Promise<FaultLog> {
  const perKind = new Map<FaultKind, number>();
  let cycle = [...options.kinds];
  let next = options.startAt;
  for (let n = 0;; n++) {
    await sleepUntil(next, ctx.signal);
    if (ctx.signal.aborted || Date.now() >= options.stopAt) break;
    if (n > 0 && n % options.kinds.length === 0) cycle = shuffled(options.kinds);
    const kind = cycle[n % cycle.length]!;
    const round = perKind.get(kind) ?? 0;
    perKind.set(kind, round + 1);
    ctx.log(`fault ${n + 1}: ${kind}`);
    const record = await injectFault(kind, ctx, log, round);
    ctx.log(
      `fault ${n + 1}: ${kind} ${
        record.skipped
          ? `skipped (${record.skipped})`
          : record.error
          ? `FAILED: ${record.error}`
          : `done: ${record.detail}`
      }`,
    );
    next = Math.max(options.startAt + (n + 1) * options.everyMs, Date.now() + 3000);
  }
  return log;
}
