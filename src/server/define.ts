/**
 * What the MCP surface beyond tools is: data. Resources, resource templates and prompts are declared
 * with {@link defineResource} and {@link definePrompt}; registration (resources.ts, prompts.ts,
 * completions.ts) runs every read, prompt and completion inside the caller's session.
 */
import type { PromptMessage as McpPromptMessage } from "@modelcontextprotocol/server";
import type { z } from "zod";
import type { KnownHostsFile } from "../ssh/host_keys/store.ts";
import type { ToolLimits } from "../tools/define.ts";
import type { SessionRequest } from "./in_session.ts";
import type { JobSource } from "./jobs_source.ts";

/** What readers, completers and prompts may use besides the session (built once by main.ts). */
export interface SurfaceDeps {
  /** Concrete `Host` names of ~/.ssh/config (no wildcards), for completion. */
  configHosts: () => string[];
  /** The known_hosts files the host-key policy reads, in lookup order. */
  knownHosts: readonly KnownHostsFile[];
  /** The session's jobs (§10). */
  jobs: JobSource;
  /** Output and deadline limits (for remote look-ups made by completers). */
  limits: ToolLimits;
}

/** A session-scoped request of the surface. */
export interface SurfaceRequest extends SessionRequest {
  /** Shared dependencies. */
  deps: SurfaceDeps;
}

/** What completing one argument sees. */
export interface CompletionRequest extends SurfaceRequest {
  /** What the user typed so far. */
  value: string;
  /** Other arguments already filled in (e.g. `target` when completing `service`). */
  arguments: Readonly<Record<string, string>>;
}

/** Produces candidate values (the registration filters by prefix and caps the list). */
export type Completer = (request: CompletionRequest) => Promise<string[]>;

/** A resource body: text, JSON (served as `application/json` text) or bytes. */
export type ResourceBody = { text: string } | { json: unknown } | { blob: Uint8Array };

interface ResourceBase {
  /** Programmatic name. */
  name: string;
  /** Human title. */
  title: string;
  /** For the model: what it holds and when to read it. */
  description: string;
  /** MIME type of the body. */
  mimeType: string;
  /** `resources/subscribe` is accepted; changes are found by reading again (subscriptions.ts). */
  subscribable?: boolean;
}

/** A resource at a fixed URI. */
export interface StaticResource extends ResourceBase {
  /** Its URI. */
  uri: string;
  /** Reads it for the caller's session. */
  read(request: SurfaceRequest): Promise<ResourceBody>;
}

/** A family of resources named by a URI template (RFC 6570 level 1). */
export interface TemplateResource extends ResourceBase {
  /** The template, e.g. `ssh://jobs/{job_id}`. */
  uriTemplate: string;
  /** The session's concrete resources of this template (for `resources/list`). */
  list(request: SurfaceRequest): Promise<Array<{ uri: string; name: string; description?: string }>>;
  /** Reads one; `undefined` when the session has no such resource. */
  read(
    request: SurfaceRequest,
    variables: Readonly<Record<string, string>>,
  ): Promise<ResourceBody | undefined>;
  /** Completers of template variables. */
  complete?: Readonly<Record<string, Completer>>;
  /** A subscription stops once this says the body will not change again. */
  settled?(body: ResourceBody): boolean;
}

/** A resource or a resource template. */
export type ResourceDefinition = StaticResource | TemplateResource;

/**
 * One message of a prompt, as MCP carries it (runbooks use text; images and embedded resources are
 * allowed).
 */
export type PromptMessage = McpPromptMessage;

/**
 * A user message with text.
 *
 * @example
 * ```ts
 * userText("Run `diagnose_system` on web first."); // { role: "user", content: { type: "text", text: "…" } }
 * ```
 */
export function userText(text: string): PromptMessage {
  return { role: "user", content: { type: "text", text } };
}

// deno-lint-ignore no-explicit-any
type AnyObject = z.ZodObject<any>;

/** A prompt (a runbook for the model), declared as data. */
export interface PromptDefinition<A extends AnyObject = AnyObject> {
  /** Name, snake_case. */
  name: string;
  /** Short human title. */
  title: string;
  /** What it is for (20–600 chars). */
  description: string;
  /** Arguments: an object of strings, every field described. */
  args: A;
  /** Completers per argument. */
  complete?: Readonly<Record<string, Completer>>;
  /** Tools the runbook calls; the prompt is offered only when all of them are exposed. */
  uses: readonly string[];
  /** Builds the messages. */
  messages(args: z.output<A>): PromptMessage[];
}

/** Declares a resource at a fixed URI. */
export function defineResource(definition: StaticResource): StaticResource {
  return Object.freeze(definition);
}

/** Declares a resource template. */
export function defineResourceTemplate(definition: TemplateResource): TemplateResource {
  return Object.freeze(definition);
}

/**
 * Declares a prompt with its argument types inferred.
 *
 * @example
 * ```ts
 * const hello = definePrompt({
 *   name: "hello", title: "Hello", description: "Greets a host by running `uptime` on it.",
 *   args: z.object({ target: z.string().describe("Alias") }), uses: ["run"],
 *   messages: ({ target }) => [userText(`Run uptime on ${target}.`)],
 * });
 * ```
 */
export function definePrompt<A extends AnyObject>(definition: PromptDefinition<A>): PromptDefinition {
  return Object.freeze(definition) as unknown as PromptDefinition;
}
