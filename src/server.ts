/**
 * createServer(): one MCP server instance with the selected tools, the resources, the runbook
 * prompts, completions and client logging. Instances are cheap; transports create one per legacy
 * session, per modern request, or one for stdio.
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  McpServer,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { installCompletions } from "./server/completions.ts";
import type { PromptDefinition, ResourceDefinition, SurfaceDeps } from "./server/define.ts";
import { SESSION_JOBS } from "./server/session_jobs.ts";
import { ClientLogChannel } from "./server/logging.ts";
import { registerPrompts, selectPrompts } from "./server/prompts.ts";
import { registerResources } from "./server/resources.ts";
import { INSTRUCTIONS, SERVER_NAME } from "./server/identity.ts";
import { RUNBOOKS } from "./server/runbooks.ts";
import { SSH_RESOURCES } from "./server/ssh_resources.ts";
import { installSubscriptions } from "./server/subscriptions.ts";
import type { ToolDefinition } from "./tools/define.ts";
import { refusedStateEntry } from "./tools/middleware/approval_state.ts";
import type { MiddlewareOptions } from "./tools/middleware/mod.ts";
import { registerTools } from "./tools/registry.ts";
import { registerTasks } from "./tools/jobs/tasks.ts";
import { VERSION } from "./version.ts";

/** Options of {@link createServer}. */
export interface ServerOptions extends MiddlewareOptions {
  /** Tools to expose (from `selectTools`). */
  tools: readonly ToolDefinition[];
  /** Resources and templates (default: ssh://connections, ssh://known-hosts, ssh://jobs/{job_id}). */
  resources?: readonly ResourceDefinition[];
  /** Prompts (default: the runbooks whose tools are all exposed). */
  prompts?: readonly PromptDefinition[];
  /** What resources, prompts and completions read besides the session (default: nothing configured). */
  surface?: Partial<Omit<SurfaceDeps, "limits">>;
  /** How often a subscribed resource is read again, ms (default 2000). */
  subscriptionPollMs?: number;
}

/** Builds a server instance. */
export function createServer(options: ServerOptions): McpServer {
  const states = options.approval?.states;
  const server = new McpServer(
    { name: SERVER_NAME, version: VERSION },
    {
      capabilities: { tools: {}, logging: {} },
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
  const logs = new ClientLogChannel();
  server.server.setRequestHandler("logging/setLevel", (request) => {
    logs.setLevel(request.params.level);
    return Promise.resolve({});
  });
  registerTools(server, options.tools, {
    ...options,
    canElicit,
    clientLog: (ctx, name) => logs.forRequest(ctx, name),
  });
  registerTasks(server, options);

  const deps: SurfaceDeps = {
    configHosts: options.surface?.configHosts ?? (() => []),
    knownHosts: options.surface?.knownHosts ?? [],
    jobs: options.surface?.jobs ?? SESSION_JOBS,
    limits: options.limits,
  };
  const surface = { openScope: options.openScope, deps };
  const resources = options.resources ?? SSH_RESOURCES;
  const prompts = options.prompts ?? selectPrompts(RUNBOOKS, options.tools.map((t) => t.name));
  registerResources(server, resources, surface);
  installSubscriptions(server, resources, { ...surface, pollMs: options.subscriptionPollMs ?? 2_000 });
  registerPrompts(server, prompts);
  installCompletions(server, { prompts, resources }, surface);
  return server;
}
