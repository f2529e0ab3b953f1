/**
 * The soak's report: faults injected and survived, operations by outcome, invariant checks and
 * resource trends, as Markdown tables for the terminal and as JSON for bench/results/.
 *
 * @module
 */
import type { BedCapabilities } from "./bed.ts";
import type { FaultLog } from "./faults.ts";
import { type InvariantName, INVARIANTS, type Invariants } from "./invariants.ts";
import type { Journal, Outcome } from "./ledger.ts";
import type { Sample, Trend } from "./resources.ts";

/** Everything the report shows. */
export interface ReportInput {
  started: number;
  ended: number;
  minutes: number;
  machine: Record<string, string>;
  capabilities: BedCapabilities;
  serverArgs: string[];
  jobs: boolean;
  journal: Journal;
  faults: FaultLog;
  invariants: Invariants;
  trends: Trend[];
  /** Every resource sample. */
  samples: Sample[];
  health: {
    probes: number;
    failures: number;
    purposeful: number;
    outside: number;
    soakStalled: number;
    longestGapMs: number;
    slowestMs: number;
  };
  /** Observations worth a line that are not invariants. */
  notes: string[];
}

const OUTCOMES: Outcome[] = [
  "ok",
  "refused_ok",
  "timed_out",
  "cancelled",
  "abandoned",
  "connection_lost",
  "failed_in_fault",
  "known_bug",
  "session_lost",
  "failed_unexplained",
];

/** A Markdown table. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => "| " + r.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
  return [
    line(cells[0]!),
    "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|",
    ...cells.slice(1).map(line),
  ]
    .join("\n");
}

function fmt(n: number | undefined, digits = 1): string {
  return n === undefined ? "—" : n.toFixed(digits);
}

function durations(ops: Journal["ops"]): string {
  const seconds = ops.filter((op) => op.ended !== undefined).map((op) => (op.ended! - op.started) / 1000)
    .sort((a, b) => a - b);
  if (seconds.length === 0) return "—";
  return `${seconds[Math.floor(seconds.length / 2)]!.toFixed(1)} / ${seconds.at(-1)!.toFixed(1)}`;
}

/** The report as Markdown. */
export function renderReport(input: ReportInput): string {
  const { journal, faults, invariants } = input;
  const out: string[] = [];
  const minutes = ((input.ended - input.started) / 60_000).toFixed(1);
  out.push(
    `# ssh-mcp soak: ${minutes} min, ${journal.ops.length} operations, ${faults.records.length} faults`,
  );
  out.push("");
  out.push(`machine: ${Object.entries(input.machine).map(([k, v]) => `${k} ${v}`).join(" · ")}`);
  out.push(
    `server flags: ${input.serverArgs.join(" ")} · jobs tools: ${
      input.jobs ? "yes" : "no (not on this branch)"
    }`,
  );
  for (const note of input.capabilities.notes) out.push(`machine cannot: ${note}`);

  out.push("\n## Faults injected and survived\n");
  const byKind = new Map<string, typeof faults.records>();
  for (const f of faults.records) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f]);
  out.push(table(
    ["fault", "injected", "survived", "not observed", "skipped", "slowest recovery", "details (last)"],
    [...byKind].map(([kind, list]) => {
      const verdicts = list.map((f) => faults.survived(f, journal.ops, input.ended));
      const slowest = Math.max(-1, ...verdicts.map((v) => v.slowestMs ?? -1));
      const last = list.at(-1)!;
      return [
        kind,
        list.filter((f) => f.skipped === undefined).length,
        verdicts.filter((v) => v.verdict === "yes").length,
        verdicts.filter((v) => v.verdict === "not observed").length,
        verdicts.filter((v) => v.verdict === "skipped").length,
        slowest < 0 ? "—" : `${(slowest / 1000).toFixed(1)} s`,
        (last.skipped ?? last.error ?? last.detail).slice(0, 90),
      ];
    }),
  ));
  const unsurvived = faults.records.filter((f) =>
    faults.survived(f, journal.ops, input.ended).verdict === "no"
  );
  for (const f of unsurvived) {
    const v = faults.survived(f, journal.ops, input.ended);
    const failed = f.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    out.push(
      `- NOT survived: ${f.kind} at +${Math.round((f.started - input.started) / 1000)} s (${f.detail})` +
        `${f.error ? `; error: ${f.error}` : ""}${
          v.stuck?.length ? `; no success after it on: ${v.stuck.join(", ")}` : ""
        }` +
        `${failed.length ? `; ${failed.join("; ")}` : ""}`,
    );
  }

  out.push("\n## Operations by outcome\n");
  const kinds = [...new Set(journal.ops.map((op) => op.kind))].sort();
  const used = OUTCOMES.filter((o) => journal.ops.some((op) => op.outcome === o));
  out.push(table(
    ["operation", ...used, "total", "p50 / max s"],
    [
      ...kinds.map((kind) => {
        const ops = journal.ops.filter((op) => op.kind === kind);
        return [
          kind,
          ...used.map((o) => ops.filter((op) => op.outcome === o).length || ""),
          ops.length,
          durations(ops),
        ];
      }),
      [
        "all",
        ...used.map((o) => journal.ops.filter((op) => op.outcome === o).length),
        journal.ops.length,
        durations(journal.ops),
      ],
    ],
  ));
  out.push("\nBy host (an op on two hosts counts for both):\n");
  const hosts = ["plain", "slow", "rekey", "bastion", "target", "disk"].filter((h) =>
    journal.ops.some((op) => op.tags.includes(h))
  );
  const failedWithout: Outcome[] = ["known_bug", "failed_unexplained"];
  out.push(table(
    ["host", "ok", "failed in a fault", "failed without a fault", "other"],
    hosts.map((h) => {
      const ops = journal.ops.filter((op) => op.tags.includes(h) && op.outcome !== undefined);
      const ok = ops.filter((op) => op.outcome === "ok").length;
      const inFault = ops.filter((op) => op.outcome === "failed_in_fault").length;
      const without = ops.filter((op) => failedWithout.includes(op.outcome!)).length;
      return [h, ok, inFault, without, ops.length - ok - inFault - without];
    }),
  ));
  const unexplained = journal.ops.filter((op) => op.outcome === "failed_unexplained");
  if (unexplained.length > 0) {
    out.push("\nFailures no fault explains (first 8):");
    for (const op of unexplained.slice(0, 8)) {
      out.push(
        `- +${Math.round((op.started - input.started) / 1000)} s ${op.worker} ${op.kind} on ${op.alias}: ${
          op.detail?.slice(0, 240)
        }`,
      );
    }
  }
  const bugs = journal.ops.filter((op) => op.outcome === "known_bug");
  if (bugs.length > 0) {
    out.push(
      `\nKnown bug — transfers through the RekeyLimit host fail without a fault (ssh2 re-key mid-transfer, being fixed on another branch): ` +
        `${bugs.length} op(s), e.g. ${bugs[0]!.kind}: ${bugs[0]!.detail?.slice(0, 200)}`,
    );
  }

  out.push("\n## Invariants\n");
  out.push(table(
    ["invariant", "checks", "violations", "verdict"],
    [...invariants.tallies].map(([name, t]) => [
      name,
      t.checks,
      t.violations,
      t.unchecked
        ? `not checked: ${t.unchecked}`
        : t.violations > 0
        ? "BROKEN"
        : t.checks > 0
        ? "held"
        : "no checks",
    ]),
  ));
  for (const [name, t] of invariants.tallies) {
    if (t.violations === 0) continue;
    out.push(`\n${name} — ${INVARIANTS[name as InvariantName]}:`);
    for (const e of t.examples) out.push(`- ${e}`);
  }

  out.push("\n## Resources (HTTP server; session channels on the test sshds)\n");
  out.push(table(
    ["metric", "warm-up", "end", "min", "max", "slope /min", "flat", "note"],
    input.trends.map((t) => [
      `${t.metric} (${t.unit})`,
      fmt(t.baseline),
      fmt(t.end),
      fmt(t.min),
      fmt(t.max),
      t.slopePerMin === undefined ? "—" : t.slopePerMin.toFixed(2),
      t.flat ? "yes" : "NO",
      t.note,
    ]),
  ));
  out.push(
    `\n/healthz: ${input.health.probes} probes, ${input.health.failures} unanswered outside the soak's own restarts ` +
      `(${input.health.purposeful} while it had the server down on purpose, ${input.health.outside} while another ` +
      `process had stopped it, ${input.health.soakStalled} while the soak ` +
      `itself stalled > 2 s); slowest answer ${input.health.slowestMs} ms`,
  );
  for (const note of input.notes) out.push(`- ${note}`);
  out.push(`\nverdict: ${invariants.broken ? "INVARIANT BROKEN" : "all invariants held"}`);
  return out.join("\n");
}

/** The report as JSON (with every fault and op outcome count). */
export function reportJson(input: ReportInput): Record<string, unknown> {
  const counts: Record<string, Record<string, number>> = {};
  for (const op of input.journal.ops) {
    counts[op.kind] ??= {};
    counts[op.kind]![op.outcome ?? "running"] = (counts[op.kind]![op.outcome ?? "running"] ?? 0) + 1;
  }
  return {
    started: new Date(input.started).toISOString(),
    seconds: Math.round((input.ended - input.started) / 1000),
    machine: input.machine,
    capabilities: input.capabilities,
    server_args: input.serverArgs,
    jobs: input.jobs,
    faults: input.faults.records.map((f) => ({
      ...f,
      survived: input.faults.survived(f, input.journal.ops, input.ended),
    })),
    operations: counts,
    unexplained: input.journal.ops.filter((op) => op.outcome === "failed_unexplained").slice(0, 50),
    invariants: Object.fromEntries(input.invariants.tallies),
    resources: input.trends,
    resource_samples: {
      columns: ["seconds", "epoch", "rss_mib", "fds", "channels"],
      rows: input.samples.map((x) => [
        Math.round((x.t - input.started) / 1000),
        x.epoch,
        x.rssMiB === undefined ? null : Math.round(x.rssMiB * 10) / 10,
        x.fds ?? null,
        x.channels,
      ]),
    },
    health: input.health,
    notes: input.notes,
    broken: input.invariants.broken,
  };
}
