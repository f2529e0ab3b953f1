/**
 * `resources/subscribe` and `resources/unsubscribe` (2025 era: a legacy HTTP session or stdio) for
 * resources declared `subscribable` — the job resources. A subscription re-reads its resource inside
 * the subscriber's session every `pollMs` and sends `notifications/resources/updated` when the body
 * changed; it ends when the resource settles (a finished job), is unsubscribed, or the server closes.
 */
import {
  type McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  type ServerContext,
  UriTemplate,
} from "@modelcontextprotocol/server";
import { type CallInfo, callInfoOf } from "../tools/middleware/mod.ts";
import type { ResourceBody, ResourceDefinition, StaticResource, TemplateResource } from "./define.ts";
import { inSessionOf } from "./in_session.ts";
import { contentsOf, plainVariables, type SurfaceOptions } from "./resources.ts";

/** Options of {@link installSubscriptions}. */
export interface SubscriptionOptions extends SurfaceOptions {
  /** How often a subscribed resource is read again, ms. */
  pollMs: number;
}

interface Watch {
  timer: ReturnType<typeof setTimeout> | undefined;
  last: string;
  stopped: boolean;
}

type Found =
  | { resource: StaticResource; variables?: undefined }
  | { resource: TemplateResource; variables: Record<string, string> };

/** Finds the declared resource a URI names. */
export function findResource(resources: readonly ResourceDefinition[], uri: string): Found | undefined {
  for (const resource of resources) {
    if ("uri" in resource) {
      if (resource.uri === uri) return { resource };
      continue;
    }
    const variables = new UriTemplate(resource.uriTemplate).match(uri);
    if (variables) return { resource, variables: plainVariables(variables) };
  }
  return undefined;
}

/**
 * Installs the subscribe/unsubscribe handlers and the `subscribe` capability on a server instance
 * (before it connects). Returns a function that ends every subscription (also run on close).
 */
export function installSubscriptions(
  server: McpServer,
  resources: readonly ResourceDefinition[],
  options: SubscriptionOptions,
): () => void {
  const watches = new Map<string, Watch>();
  const stopAll = () => {
    for (const watch of watches.values()) stop(watch);
    watches.clear();
  };

  const read = async (
    found: Found,
    info: CallInfo,
    signal?: AbortSignal,
  ): Promise<ResourceBody | undefined> =>
    await inSessionOf(options.openScope, info, (request) => {
      const surface = { ...request, deps: options.deps };
      return found.variables === undefined
        ? found.resource.read(surface)
        : (found.resource as TemplateResource).read(surface, found.variables);
    }, signal);

  const digest = (uri: string, found: Found, body: ResourceBody) =>
    JSON.stringify(contentsOf(uri, found.resource.mimeType, body));

  const subscribe = async (uri: string, ctx: ServerContext) => {
    const found = findResource(resources, uri);
    if (found === undefined) throw new ResourceNotFoundError(uri);
    if (!found.resource.subscribable) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Cannot subscribe to ${uri}: only job resources (ssh://jobs/{job_id}) send change notifications; ` +
          "read this one again when needed",
      );
    }
    const info = callInfoOf(ctx);
    const first = await read(found, info, ctx.mcpReq.signal);
    if (first === undefined) throw new ResourceNotFoundError(uri);
    const previous = watches.get(uri);
    if (previous !== undefined) stop(previous);
    const watch: Watch = { timer: undefined, last: digest(uri, found, first), stopped: false };
    watches.set(uri, watch);
    const settled = (body: ResourceBody) =>
      found.variables !== undefined && ((found.resource as TemplateResource).settled?.(body) ?? false);
    if (settled(first)) return;
    const poll = async () => {
      if (watch.stopped) return;
      let body: ResourceBody | undefined;
      try {
        body = await read(found, info);
      } catch {
        body = undefined; // the session closed or the host is unreachable: try again next time
      }
      if (watch.stopped) return;
      const now = body === undefined ? watch.last : digest(uri, found, body);
      if (now !== watch.last) {
        watch.last = now;
        await server.server.sendResourceUpdated({ uri }).catch(() => {});
      }
      if (body !== undefined && settled(body)) {
        stop(watch);
        watches.delete(uri);
        return;
      }
      watch.timer = setTimeout(poll, options.pollMs);
    };
    watch.timer = setTimeout(poll, options.pollMs);
  };

  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler("resources/subscribe", async (request, ctx) => {
    await subscribe(request.params.uri, ctx);
    return {};
  });
  server.server.setRequestHandler("resources/unsubscribe", (request) => {
    const watch = watches.get(request.params.uri);
    if (watch !== undefined) stop(watch);
    watches.delete(request.params.uri);
    return Promise.resolve({});
  });
  const previous = server.server.onclose;
  server.server.onclose = () => {
    stopAll();
    previous?.();
  };
  return stopAll;
}

function stop(watch: Watch): void {
  watch.stopped = true;
  if (watch.timer !== undefined) clearTimeout(watch.timer);
  watch.timer = undefined;
}
