/**
 * Registers declared prompts (runbooks) on a server instance and selects those whose tools are
 * exposed (`-toolsets`, `-read-only`): a runbook never tells the model to call a tool it cannot see.
 */
import type { McpServer } from "@modelcontextprotocol/server";
import { strictInput } from "../tools/wire_schema.ts";
import type { PromptDefinition } from "./define.ts";

/** The prompts whose every `uses` tool is among `toolNames`, in declaration order. */
export function selectPrompts(
  prompts: readonly PromptDefinition[],
  toolNames: readonly string[],
): PromptDefinition[] {
  const exposed = new Set(toolNames);
  return prompts.filter((prompt) => prompt.uses.every((tool) => exposed.has(tool)));
}

/** Registers every prompt (arguments strict, like tool inputs). */
export function registerPrompts(server: McpServer, prompts: readonly PromptDefinition[]): void {
  // Declared even with no prompt (toolsets that no runbook fits): the capabilities then do not depend on
  // the flags, so the first answer can be given before the server is built (server/identity.ts).
  if (prompts.length === 0) {
    (server as unknown as { setPromptRequestHandlers(): void }).setPromptRequestHandlers();
  }
  for (const prompt of prompts) {
    server.registerPrompt(prompt.name, {
      title: prompt.title,
      description: prompt.description,
      argsSchema: strictInput(prompt.args, { kind: "prompt", name: prompt.name }),
    }, (args: unknown) => ({ description: prompt.description, messages: prompt.messages(args as never) }));
  }
}
