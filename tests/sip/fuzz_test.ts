import assert from "node:assert/strict";
import type { FuzzReport, FuzzRequest } from "./fuzz_worker.ts";

/** A parser that loops forever fails here instead of hanging the run. */
const WATCHDOG_MS = Number(Deno.env.get("FUZZ_WATCHDOG_MS") ?? 60_000);

Deno.test("every parser survives random and mutated input: only PcapError escapes, and all terminate", async () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 31));
  // FUZZ_RUNS raises the count for a deep local search; the default keeps the suite under 10 s.
  const numRuns = Number(Deno.env.get("FUZZ_RUNS") ?? 300);
  const worker = new Worker(new URL("./fuzz_worker.ts", import.meta.url), { type: "module" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const report = await new Promise<FuzzReport>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`fuzz run did not finish in ${WATCHDOG_MS} ms (seed ${seed})`)),
        WATCHDOG_MS,
      );
      worker.onmessage = (e: MessageEvent<FuzzReport>) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`fuzz worker crashed: ${e.message} (seed ${seed})`));
      };
      worker.postMessage({ numRuns, seed } satisfies FuzzRequest);
    });
    const failures = Object.entries(report.results).filter(([, v]) => v !== null);
    assert.deepEqual(failures, [], `seed ${seed}; rerun with FUZZ_SEED=${seed}`);
    assert.ok(Object.keys(report.results).length >= 10);
    if (numRuns <= 300) assert.ok(report.ms < 10_000, `fuzzing took ${Math.round(report.ms)} ms`);
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
});
