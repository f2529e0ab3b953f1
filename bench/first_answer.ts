/**
 * Time to the first answer over stdio (SPEC §9): a process is started, one `initialize` line is
 * written at once (as clients do) and the clock stops at the first line on stdout. Measured for
 * `deno run` of main.ts (the start task's flags) and for the README's client commands: `deno task
 * --cwd … start -mode stdio` (Deno installed) and `npx -y deno@… task …`, whose `npx` start-up is part
 * of what a client waits for.
 */
import { makeHome, serverEnv, startTaskArgs } from "../tests/_helpers/server.ts";
import { quantile, round } from "./stats.ts";

const ROOT = new URL("..", import.meta.url).pathname;

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
}) + "\n";

/** Milliseconds from spawn to the first stdout line answering `initialize`. */
async function once(command: string, args: string[], env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command(command, { args, env, stdin: "piped", stdout: "piped", stderr: "null" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(INITIALIZE));
  const reader = child.stdout.getReader();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${command} ended before answering: ${text.slice(0, 200)}`);
      text += new TextDecoder().decode(value);
    }
    return performance.now() - started;
  } finally {
    reader.releaseLock();
    await writer.close().catch(() => {});
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.stdout.cancel().catch(() => {});
    await child.status;
  }
}

/** p50/min of `runs` first answers of `deno run main.ts` and of the README's npx command. */
export async function firstAnswer(
  runs: number,
  log: (line: string) => void,
): Promise<Record<string, number>> {
  const home = await makeHome();
  // npx keeps its package cache under the real HOME; the server gets a private one.
  const env = serverEnv(home, { npm_config_cache: `${Deno.env.get("HOME")}/.npm` });
  const denoArgs = [...await startTaskArgs(home), "-mode", "stdio"];
  const taskArgs = ["task", "--cwd", ROOT, "start", "-mode", "stdio"];
  const npxArgs = ["-y", "deno@2.9.6", ...taskArgs];
  const result: Record<string, number> = { runs };
  // deno_run: main.ts alone; deno_task: the README's fast form (an installed deno); npx: its default form.
  const forms = [
    ["deno_run", Deno.execPath(), denoArgs],
    ["deno_task", Deno.execPath(), taskArgs],
    ["npx", "npx", npxArgs],
  ] as const;
  try {
    for (const [name, command, args] of forms) {
      const times: number[] = [];
      for (let i = 0; i < runs + 1; i++) {
        const ms = await once(command, [...args], env);
        if (i > 0) times.push(ms); // the first run fills caches
      }
      result[`${name}_p50_ms`] = round(quantile(times, 0.5), 1);
      result[`${name}_min_ms`] = round(Math.min(...times), 1);
      log(`  first answer, ${name}: p50 ${result[`${name}_p50_ms`]} ms`);
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
  return result;
}
