/**
 * The single list of every tool, selection by `-toolsets` and `-read-only`, and registration with
 * the middleware applied.
 */
import type { McpServer } from "@modelcontextprotocol/server";
import { CORE } from "./core/toolset.ts";
import { DB } from "./db/toolset.ts";
import { DOCKER } from "./docker/toolset.ts";
import { FILES } from "./files/toolset.ts";
import { JOBS } from "./jobs/toolset.ts";
import { MONITORING } from "./monitoring/toolset.ts";
import { NETWORK } from "./network/toolset.ts";
import { VOIP } from "./voip/toolset.ts";
import type { ToolDefinition, Toolset, ToolsetName } from "./define.ts";
import { type MiddlewareOptions, toolCallbacks } from "./middleware/mod.ts";
import { registerSharedTools } from "./shared_tools.ts";
import { portableOutput, strictInput } from "./wire_schema.ts";

/** Every toolset, in the seed's order. Toolsets not yet built are absent. */
export const TOOLSETS: readonly Toolset[] = [CORE, JOBS, FILES, DOCKER, MONITORING, DB, NETWORK, VOIP];

/** Options of {@link selectTools}. */
export interface SelectOptions {
  /** Toolsets to expose. */
  toolsets: readonly string[];
  /** Expose only tools whose readOnlyHint is true. */
  readOnly: boolean;
}

/** The tools to expose, in registry order. */
export function selectTools(options: SelectOptions): ToolDefinition[] {
  const wanted = new Set(options.toolsets as readonly ToolsetName[]);
  return TOOLSETS.filter((set) => wanted.has(set.name))
    .flatMap((set) => set.tools)
    .filter((tool) => !options.readOnly || tool.annotations.readOnlyHint);
}

/** Registers tools on a server, each wrapped by the middleware, with strict inputs and portable JSON Schema. */
export function registerTools(
  server: McpServer,
  tools: readonly ToolDefinition[],
  options: MiddlewareOptions,
): void {
  const wrapped: MiddlewareOptions = { ...options, toolsetOf: (name) => TOOLSET_OF.get(name) };
  registerSharedTools(server, tools, wireConfig, toolCallbacks(wrapped));
}

/** Each tool's toolset, by tool name. */
const TOOLSET_OF = new Map(TOOLSETS.flatMap((set) => set.tools.map((t) => [t.name, set.name] as const)));

/** A tool's registration: strict input, portable JSON Schema (built once per tool list: shared_tools.ts). */
function wireConfig(tool: ToolDefinition) {
  return {
    title: tool.title,
    description: tool.description,
    inputSchema: strictInput(tool.input, { kind: "tool", name: tool.name }),
    outputSchema: portableOutput(tool.output),
    annotations: { title: tool.title, ...tool.annotations },
  };
}
