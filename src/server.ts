/**
 * createServer(): one MCP server instance with the selected tools. Instances are cheap; transports
 * create one per legacy session, per modern request, or one for stdio.
 */
import { McpServer } from "@modelcontextprotocol/server";
import type { ToolDefinition } from "./tools/define.ts";
import type { MiddlewareOptions } from "./tools/middleware/mod.ts";
import { registerTools } from "./tools/registry.ts";
import { VERSION } from "./version.ts";

/** Options of {@link createServer}. */
export interface ServerOptions extends MiddlewareOptions {
  /** Tools to expose (from `selectTools`). */
  tools: readonly ToolDefinition[];
}

const INSTRUCTIONS =
  "SSH access to remote hosts. Start with `connect` (host, username; it returns an alias), " +
  "then use `run`, file tools (`read`, `write`, `edit`, `list_dir`) and the other toolsets with `target` set to " +
  "that alias. `connections` lists aliases. If authentication fails, call `identity` and install the key.";

/** Builds a server instance. */
export function createServer(options: ServerOptions): McpServer {
  const server = new McpServer(
    { name: "ssh-mcp", version: VERSION },
    { capabilities: { tools: {} }, instructions: INSTRUCTIONS },
  );
  registerTools(server, options.tools, options);
  return server;
}
