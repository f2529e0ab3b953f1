/**
 * `completion/complete` for prompt arguments and resource-template variables, answered inside the
 * caller's session (the SDK's own completion callbacks see no session, so they cannot offer aliases).
 * Values that start with what was typed come first, then those that contain it; at most 100.
 */
import { type McpServer, ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import type { Completer, PromptDefinition, ResourceDefinition } from "./define.ts";
import { type SurfaceOptions, withSurface } from "./resources.ts";

/** Most values one answer carries (the protocol's limit). */
export const MAX_COMPLETIONS = 100;

/** What the completion handler completes. */
export interface CompletionTargets {
  /** Registered prompts. */
  prompts: readonly PromptDefinition[];
  /** Registered resources and templates. */
  resources: readonly ResourceDefinition[];
}

/**
 * Orders candidates for a typed prefix: prefix matches (case-insensitive) first, then substring
 * matches, each in the candidates' order, without duplicates.
 *
 * @example
 * ```ts
 * rankCompletions(["db-1", "web-1", "web-2"], "we"); // { values: ["web-1", "web-2"], total: 2, hasMore: false }
 * ```
 */
export function rankCompletions(
  candidates: readonly string[],
  typed: string,
): { values: string[]; total: number; hasMore: boolean } {
  const needle = typed.toLowerCase();
  const unique = [...new Set(candidates)];
  const prefix = unique.filter((v) => v.toLowerCase().startsWith(needle));
  const inner = unique.filter((v) => !v.toLowerCase().startsWith(needle) && v.toLowerCase().includes(needle));
  const all = [...prefix, ...inner];
  return { values: all.slice(0, MAX_COMPLETIONS), total: all.length, hasMore: all.length > MAX_COMPLETIONS };
}

/** Installs the `completion/complete` handler and the `completions` capability (before connecting). */
export function installCompletions(
  server: McpServer,
  targets: CompletionTargets,
  options: SurfaceOptions,
): void {
  server.server.registerCapabilities({ completions: {} });
  server.server.setRequestHandler("completion/complete", async (request, ctx) => {
    const { ref, argument } = request.params;
    const completer = completerFor(targets, ref, argument.name);
    if (completer === undefined) return { completion: { values: [], total: 0, hasMore: false } };
    const given = request.params.context?.arguments ?? {};
    const values = await withSurface(
      options,
      ctx,
      (surface) => completer({ ...surface, value: argument.value, arguments: given }),
    );
    return { completion: rankCompletions(values, argument.value) };
  });
}

function completerFor(
  targets: CompletionTargets,
  ref: { type: string; name?: string; uri?: string },
  argument: string,
): Completer | undefined {
  if (ref.type === "ref/prompt") {
    const prompt = targets.prompts.find((p) => p.name === ref.name);
    if (prompt === undefined) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Cannot complete for prompt "${ref.name}": no such prompt (prompts/list shows them)`,
      );
    }
    const names = Object.keys(prompt.args.shape);
    if (!names.includes(argument)) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Cannot complete argument "${argument}" of prompt "${ref.name}": its arguments are ${
          names.join(", ")
        }`,
      );
    }
    return prompt.complete?.[argument];
  }
  if (ref.type === "ref/resource") {
    const resource = targets.resources.find((r) => ("uri" in r ? r.uri : r.uriTemplate) === ref.uri);
    if (resource === undefined) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Cannot complete for resource "${ref.uri}": no such resource or template (resources/templates/list shows them)`,
      );
    }
    return "uri" in resource ? undefined : resource.complete?.[argument];
  }
  throw new ProtocolError(
    ProtocolErrorCode.InvalidParams,
    `Cannot complete for reference type "${ref.type}"`,
  );
}
