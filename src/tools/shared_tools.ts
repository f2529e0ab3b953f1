/**
 * One table of registered tools for every server instance.
 *
 * The SDK keeps, per `McpServer`, a record with half a dozen closures for each registered tool: with 48
 * tools that was 80 KiB of every idle legacy session (one instance each) and of every modern request.
 * The records hold nothing of the instance when the callback does not, so they are built once per tool
 * list on a template instance and shared; each instance finds its own middleware chain through the
 * `tools/call` it is serving (an AsyncLocalStorage set around that instance's handler).
 *
 * This leans on two SDK internals, both held by tests (tests/tools/registry_test.ts and every tool
 * test): `McpServer._registeredTools` with `setToolRequestHandlers()`, and `Protocol._requestHandlers`.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { McpServer } from "@modelcontextprotocol/server";
import type { ToolDefinition } from "./define.ts";
import type { ToolCallback } from "./middleware/mod.ts";

/** What an instance calls a tool with. */
export type CallbackOf = (tool: ToolDefinition) => ToolCallback;

/** A tool's registration config (title, description, schemas, annotations), as `registerTool` takes it. */
export type WireConfigOf = (tool: ToolDefinition) => object;

interface McpServerInternals {
  _registeredTools: Record<string, unknown>;
  setToolRequestHandlers(): void;
}

interface ProtocolInternals {
  _requestHandlers: Map<string, (request: unknown, extra: unknown) => Promise<unknown>>;
}

/** The calling instance's callbacks, for the duration of one of its `tools/call` requests. */
const CALLER = new AsyncLocalStorage<CallbackOf>();

const TABLES = new WeakMap<readonly ToolDefinition[], Record<string, unknown>>();

function tableOf(tools: readonly ToolDefinition[], wireConfig: WireConfigOf): Record<string, unknown> {
  let table = TABLES.get(tools);
  if (table === undefined) {
    const template = new McpServer({ name: "template", version: "0" }, { capabilities: { tools: {} } });
    for (const tool of tools) {
      template.registerTool(
        tool.name,
        wireConfig(tool) as never,
        ((args: Record<string, unknown>, ctx: never) => {
          const callbackOf = CALLER.getStore();
          if (callbackOf === undefined) {
            throw new Error(`Tool ${tool.name} was called outside a server's tools/call`);
          }
          return callbackOf(tool)(args, ctx);
        }) as never,
      );
    }
    table = (template as unknown as McpServerInternals)._registeredTools;
    TABLES.set(tools, table);
  }
  return table;
}

/**
 * Registers `tools` on `server` through the shared table; each call runs `callbackOf(tool)` of this
 * instance.
 *
 * @example
 * ```ts
 * registerSharedTools(server, tools, wireConfig, toolCallbacks(options));
 * ```
 */
export function registerSharedTools(
  server: McpServer,
  tools: readonly ToolDefinition[],
  wireConfig: WireConfigOf,
  callbackOf: CallbackOf,
): void {
  const internals = server as unknown as McpServerInternals;
  internals._registeredTools = tableOf(tools, wireConfig);
  internals.setToolRequestHandlers();
  const handlers = (server.server as unknown as ProtocolInternals)._requestHandlers;
  const call = handlers.get("tools/call");
  if (call === undefined) throw new Error("The SDK registered no tools/call handler");
  handlers.set("tools/call", (request, extra) => CALLER.run(callbackOf, () => call(request, extra)));
}
