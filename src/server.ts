/**
 * createServer(): one MCP server instance with the selected tools. Instances are cheap; transports
 * create one per legacy session, per modern request, or one for stdio.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  McpServer,
  type ServerContext,
} from "@modelcontextprotocol/server";
import type { ToolDefinition } from "./tools/define.ts";
import { refusedStateEntry } from "./tools/middleware/approval_state.ts";
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
  const states = options.approval?.states;
  const server = new McpServer(
    { name: "ssh-mcp", version: VERSION },
    {
      capabilities: { tools: {} },
      instructions: INSTRUCTIONS,
      // An altered, expired or foreign approval state is refused before any handler runs.
      ...(states === undefined ? {} : {
        requestState: {
          verify: (state: string, ctx: ServerContext) =>
            states.verify(state, ctx).catch((error) => {
              options.audit.write(refusedStateEntry(ctx, error));
              throw error;
            }),
        },
      }),
    },
  );
  const canElicit = (ctx: ServerContext) => {
    // 2026-07-28 requests carry their capabilities; 2025-era sessions declared them at initialize.
    const declared =
      ((ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] as
        | ClientCapabilities
        | undefined) ??
        server.server.getClientCapabilities();
    const elicitation = declared?.elicitation;
    return elicitation !== undefined && (elicitation.form !== undefined || elicitation.url === undefined);
  };
  registerTools(server, options.tools, { ...options, canElicit });
  return server;
}
