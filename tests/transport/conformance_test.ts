/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned), run under
 * `deno run -A` as a separate process against a server over HTTP (the suite targets a URL: `server
 * --url …/mcp`; it speaks the 2025 era). Two runs:
 *
 * - the real server (main.ts under the production flags): every scenario that needs nothing but the
 *   protocol passes — initialize, ping, logging/setLevel, tools/list, resources/list, prompts/list,
 *   SSE streams, DNS-rebinding protection;
 * - our server assembled from the same parts with the suite's fixtures added (test://static-text,
 *   test_prompt_with_arguments, test_tool_with_logging, …; tests/_helpers/conformance_fixtures.ts):
 *   every logging, completion, resources and prompts scenario passes.
 *
 * The scenarios that call the suite's own test tools (tools-call-*, elicitation-*) are not ours and
 * are not asserted. Without the suite (offline, not cached) the test skips loudly; under CI=true that
 * is a failure.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config.ts";
import { CONNECTIONS_RESOURCE, SSH_RESOURCES } from "../../src/server/ssh_resources.ts";
import { RUNBOOKS } from "../../src/server/runbooks.ts";
import { selectTools } from "../../src/tools/registry.ts";
import { TOOLSET_NAMES } from "../../src/tools/define.ts";
import { createHttpHandler } from "../../src/transport/http.ts";
import {
  CONFORMANCE_LOGGING_TOOL,
  CONFORMANCE_PROMPTS,
  CONFORMANCE_RESOURCES,
} from "../_helpers/conformance_fixtures.ts";
import { inProcessServer } from "../_helpers/in_memory.ts";
import { startHttpServer } from "../_helpers/server.ts";

/** The pinned suite. */
export const CONFORMANCE = "npm:@modelcontextprotocol/conformance@0.1.16";

/** Scenarios the real server must pass as shipped. */
const PROTOCOL_SCENARIOS = [
  "server-initialize",
  "ping",
  "logging-set-level",
  "tools-list",
  "resources-list",
  "prompts-list",
  "server-sse-multiple-streams",
  "dns-rebinding-protection",
];

/** Scenarios of SPEC §12 (logging, completion, resources, prompts) that need the suite's fixtures. */
const SURFACE_SCENARIOS = [
  "logging-set-level",
  "tools-call-with-logging",
  "completion-complete",
  "resources-list",
  "resources-read-text",
  "resources-read-binary",
  "resources-templates-read",
  "resources-subscribe",
  "resources-unsubscribe",
  "prompts-list",
  "prompts-get-simple",
  "prompts-get-with-args",
  "prompts-get-embedded-resource",
  "prompts-get-with-image",
];

/** Runs the suite with `args` in a scratch directory (no deno.json there: the lock file is not touched). */
async function conformance(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", CONFORMANCE, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, out: d.decode(out.stdout) + d.decode(out.stderr) };
}

const scratch = await Deno.makeTempDir({ prefix: "ssh-mcp-conformance-" });

async function available(): Promise<boolean> {
  const probe = await conformance(["list", "--server"], scratch);
  if (probe.code === 0 && probe.out.includes("resources-read-text")) return true;
  const message = `SKIP: the conformance suite ${CONFORMANCE} cannot run (offline and not cached?): ${
    probe.out.trim().split("\n").slice(-3).join(" | ")
  }`;
  if (Deno.env.get("CI") === "true") throw new Error(`${message}; CI=true forbids skipping`);
  console.warn(message);
  return false;
}

const ready = await available();
globalThis.addEventListener("unload", () => Deno.removeSync(scratch, { recursive: true }));

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
}

/** Runs the active suite against `url`; returns each scenario's checks (from the saved results). */
async function runSuite(url: string): Promise<{ results: Map<string, Check[]>; log: string }> {
  const dir = await Deno.makeTempDir({ dir: scratch });
  const run = await conformance(["server", "--url", url, "--suite", "active", "-o", dir], dir);
  const results = new Map<string, Check[]>();
  for await (const entry of Deno.readDir(dir)) {
    const scenario = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(entry.name)?.[1];
    if (!entry.isDirectory || scenario === undefined) continue;
    results.set(scenario, JSON.parse(await Deno.readTextFile(`${dir}/${entry.name}/checks.json`)));
  }
  return { results, log: run.out };
}

function assertPassed(results: Map<string, Check[]>, scenarios: readonly string[], log: string): void {
  const failures: string[] = [];
  for (const scenario of scenarios) {
    const checks = results.get(scenario);
    if (checks === undefined || checks.length === 0) failures.push(`${scenario}: did not run`);
    for (const check of checks ?? []) {
      if (check.status === "FAILURE") failures.push(`${scenario}/${check.id}: ${check.errorMessage}`);
    }
  }
  assert.deepEqual(failures, [], log.split("\n").filter((l) => /^[✓✗]/.test(l)).join("\n"));
}

Deno.test({
  name: "conformance suite: the real server passes every scenario that needs only the protocol",
  ignore: !ready,
  fn: async () => {
    await using server = await startHttpServer();
    const { results, log } = await runSuite(`${server.url}/mcp`);
    assertPassed(results, PROTOCOL_SCENARIOS, log);
  },
});

Deno.test({
  name:
    "conformance suite: logging, completion, resources and prompts scenarios pass with the suite's fixtures",
  ignore: !ready,
  fn: async () => {
    const parsed = parseConfig(["-mode", "http"], { HOME: "/nonexistent" });
    assert.equal(parsed.kind, "config");
    const { pool, server: options } = inProcessServer({
      tools: [...selectTools({ toolsets: [...TOOLSET_NAMES], readOnly: false }), CONFORMANCE_LOGGING_TOOL],
      serverOptions: {
        resources: [...SSH_RESOURCES, ...CONFORMANCE_RESOURCES],
        prompts: [...RUNBOOKS, ...CONFORMANCE_PROMPTS],
      },
    });
    await using _pool = pool;
    await using handler = createHttpHandler({
      config: parsed.kind === "config" ? parsed.config : (undefined as never),
      pool,
      version: "test",
      server: options,
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler.fetch);
    try {
      const { results, log } = await runSuite(`http://127.0.0.1:${server.addr.port}/mcp`);
      assertPassed(results, SURFACE_SCENARIOS, log);
      // Our own resources sit beside the fixtures in the same listing.
      const listed = JSON.stringify(results.get("resources-list"));
      assert.ok(listed.includes(CONNECTIONS_RESOURCE.uri), listed);
    } finally {
      await server.shutdown();
    }
  },
});
