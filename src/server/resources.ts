/**
 * Registers declared resources and resource templates on a server instance: `resources/list`,
 * `resources/templates/list` and `resources/read`, each read inside the caller's session.
 */
import { Buffer } from "node:buffer";
import {
  type McpServer,
  type ReadResourceResult,
  ResourceNotFoundError,
  ResourceTemplate,
  type ServerContext,
  type Variables,
} from "@modelcontextprotocol/server";
import type { OpenScope } from "../tools/middleware/mod.ts";
import type { ResourceBody, ResourceDefinition, SurfaceDeps, SurfaceRequest } from "./define.ts";
import { inSession } from "./in_session.ts";

/** What registration needs. */
export interface SurfaceOptions {
  /** Session lookup (the tools' one). */
  openScope: OpenScope;
  /** Shared dependencies. */
  deps: SurfaceDeps;
}

/** The contents entry of one body. */
export function contentsOf(
  uri: string,
  mimeType: string,
  body: ResourceBody,
): ReadResourceResult["contents"][number] {
  if ("blob" in body) return { uri, mimeType, blob: Buffer.from(body.blob).toString("base64") };
  if ("json" in body) return { uri, mimeType, text: JSON.stringify(body.json, null, 2) };
  return { uri, mimeType, text: body.text };
}

/** Template variables as single strings (level-1 templates have no lists). */
export function plainVariables(variables: Variables): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : v]),
  );
}

/** Runs `fn` with a surface request of the caller's session. */
export function withSurface<T>(
  options: SurfaceOptions,
  ctx: ServerContext,
  fn: (request: SurfaceRequest) => Promise<T>,
): Promise<T> {
  return inSession(options.openScope, ctx, (request) => fn({ ...request, deps: options.deps }));
}

/** Registers every resource and template. */
export function registerResources(
  server: McpServer,
  resources: readonly ResourceDefinition[],
  options: SurfaceOptions,
): void {
  for (const resource of resources) {
    const metadata = {
      title: resource.title,
      description: resource.description,
      mimeType: resource.mimeType,
    };
    if ("uri" in resource) {
      server.registerResource(resource.name, resource.uri, metadata, async (uri, ctx) => {
        const body = await withSurface(options, ctx, (request) => resource.read(request));
        return { contents: [contentsOf(uri.href, resource.mimeType, body)] };
      });
      continue;
    }
    const template = new ResourceTemplate(resource.uriTemplate, {
      list: async (ctx) => {
        const listed = await withSurface(options, ctx, (request) => resource.list(request));
        return { resources: listed.map((r) => ({ ...r, mimeType: resource.mimeType })) };
      },
    });
    server.registerResource(resource.name, template, metadata, async (uri, variables, ctx) => {
      const body = await withSurface(
        options,
        ctx,
        (request) => resource.read(request, plainVariables(variables)),
      );
      if (body === undefined) {
        throw new ResourceNotFoundError(
          uri.href,
          `Cannot read ${uri.href}: this session has no such ${resource.name} (resources/list shows what exists)`,
        );
      }
      return { contents: [contentsOf(uri.href, resource.mimeType, body)] };
    });
  }
}
