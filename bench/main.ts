/**
 * `deno task bench`: every benchmark in one run. Prints a table per suite and writes everything as
 * JSON to bench/results/latest.json (gitignored).
 *
 * Suites: command latency, concurrency, memory and cold start (run_bench.ts, always); VoIP parsing
 * (sip_bench.ts) and SFTP throughput (sftp_bench.ts) when those files exist. `--quick` takes fewer
 * samples; `--only=run|sip|sftp` runs one suite.
 */
import { parseArgs } from "node:util";
import { type CommandBenchResult, runCommandBench } from "./run_bench.ts";

const HERE = new URL(".", import.meta.url);

async function exists(url: URL): Promise<boolean> {
  try {
    await Deno.stat(url);
    return true;
  } catch {
    return false;
  }
}

/** Imports an optional suite and runs its exported `run…Bench` function. */
async function optionalSuite(file: string): Promise<unknown> {
  const url = new URL(file, HERE);
  if (!(await exists(url))) return { skipped: `${file} does not exist` };
  const module = await import(url.href) as Record<string, unknown>;
  const entry = Object.entries(module).find(([name, value]) =>
    /^run\w*Bench$/.test(name) && typeof value === "function"
  );
  if (entry === undefined) return { skipped: `${file} exports no run…Bench function` };
  return await (entry[1] as (options?: Record<string, unknown>) => Promise<unknown>)({});
}

function table(headers: string[], rows: Array<Array<string | number>>): string {
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

function printCommandBench(result: CommandBenchResult): void {
  const paths = [...new Set(result.latency.map((r) => r.path))];
  const cell = (path: string, link: string) => {
    const row = result.latency.find((r) => r.path === path && r.link === link);
    if (row === undefined) return "—";
    if (row.error) return "failed";
    return `${row.p50_ms} / ${row.p95_ms}`;
  };
  console.log("\n## run true: p50 / p95 ms\n");
  console.log(table(
    ["path", "loopback", "40 ms RTT", "round trips"],
    paths.map((p) => [p, cell(p, "loopback"), cell(p, "rtt40"), result.round_trips[p] ?? "—"]),
  ));
  console.log(`\nexecutor used by the MCP server: ${result.executor}`);
  console.log("\n## ratios (their p50 / ours)\n");
  console.log(table(["ratio", "value"], Object.entries(result.ratios).map(([k, v]) => [k, `${v}×`])));
  console.log("\n## concurrency, memory, cold start\n");
  console.log(table(["measure", "value"], [
    ...Object.entries(result.concurrency).map(([k, v]) => [`concurrency ${k}`, v]),
    ...Object.entries(result.mcp_layer).map(([k, v]) => [`MCP layer (connections) ${k}`, v]),
    ...Object.entries(result.first_answer).map(([k, v]) => [`first answer ${k}`, v]),
    ...Object.entries(result.memory).map(([k, v]) => [`memory ${k}`, v]),
    ...Object.entries(result.cold_start).map(([k, v]) => [`cold start ${k}`, v]),
  ]));
  console.log("\n## SPEC §9 goals\n");
  console.log(
    table(["goal", "measured", "met"], result.goals.map((g) => [g.goal, g.measured, g.met ? "yes" : "NO"])),
  );
}

function printRecord(title: string, value: unknown): void {
  console.log(`\n## ${title}\n`);
  if (value === null || typeof value !== "object") return void console.log(String(value));
  console.log(
    table(
      ["measure", "value"],
      Object.entries(value).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]),
    ),
  );
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
    cpus: String(navigator.hardwareConcurrency),
    loadavg: (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).trim(),
  };
}

if (import.meta.main) {
  const flags = parseArgs({
    args: Deno.args,
    options: { quick: { type: "boolean" }, only: { type: "string" } },
  });
  const only = flags.values.only;
  const started = performance.now();
  const results: Record<string, unknown> = { machine: await machine() };
  if (only === undefined || only === "run") {
    console.error("# command latency, concurrency, memory, cold start");
    const commands = await runCommandBench({ quick: flags.values.quick });
    results.commands = commands;
    printCommandBench(commands);
  }
  for (const [name, file] of [["sip", "sip_bench.ts"], ["sftp", "sftp_bench.ts"]] as const) {
    if (only !== undefined && only !== name) continue;
    console.error(`# ${file}`);
    try {
      results[name] = await optionalSuite(file);
    } catch (error) {
      results[name] = { error: String(error) };
    }
    printRecord(`${name} (${file})`, results[name]);
  }
  results.total_seconds = Math.round((performance.now() - started) / 1000);
  const out = new URL("results/", HERE);
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(new URL("latest.json", out), JSON.stringify(results, null, 2) + "\n");
  console.log(`\nwrote bench/results/latest.json (${results.total_seconds} s)`);
}
