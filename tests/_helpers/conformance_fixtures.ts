/**
 * What the official conformance suite (`@modelcontextprotocol/conformance`) asks a server under test to
 * implement for its resources, prompts and logging scenarios (`test://static-text`,
 * `test_prompt_with_arguments`, `test_tool_with_logging`, …), declared with our own `defineResource`,
 * `definePrompt` and `defineTool`, so that the suite exercises our registration, session scoping,
 * subscriptions, completion and client logging with the content it expects. Test-only: the
 * production server never offers these.
 */
import { z } from "zod";
import {
  definePrompt,
  defineResource,
  defineResourceTemplate,
  type PromptDefinition,
  type ResourceDefinition,
  userText,
} from "../../src/server/define.ts";
import { defineTool, type ToolDefinition } from "../../src/tools/define.ts";

// The smallest valid PNG: 1×1, one transparent pixel.
const PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const PNG = Uint8Array.from(atob(PNG_BASE64), (c) => c.charCodeAt(0));

/** The suite's resources. */
export const CONFORMANCE_RESOURCES: readonly ResourceDefinition[] = [
  defineResource({
    name: "static-text",
    uri: "test://static-text",
    title: "Static text",
    description: "Conformance fixture: a text resource.",
    mimeType: "text/plain",
    read: () => Promise.resolve({ text: "This is the content of the static text resource." }),
  }),
  defineResource({
    name: "static-binary",
    uri: "test://static-binary",
    title: "Static binary",
    description: "Conformance fixture: a binary resource.",
    mimeType: "image/png",
    read: () => Promise.resolve({ blob: PNG }),
  }),
  defineResource({
    name: "watched-resource",
    uri: "test://watched-resource",
    title: "Watched resource",
    description: "Conformance fixture: a resource that accepts subscriptions.",
    mimeType: "text/plain",
    subscribable: true,
    read: () => Promise.resolve({ text: "Watched resource content." }),
  }),
  defineResourceTemplate({
    name: "template-data",
    uriTemplate: "test://template/{id}/data",
    title: "Template data",
    description: "Conformance fixture: a resource template that substitutes its parameter.",
    mimeType: "application/json",
    list: () => Promise.resolve([]),
    read: (_request, { id }) =>
      Promise.resolve({ json: { id, templateTest: true, data: `Data for ID: ${id}` } }),
  }),
];

/** The suite's prompts. */
export const CONFORMANCE_PROMPTS: readonly PromptDefinition[] = [
  definePrompt({
    name: "test_simple_prompt",
    title: "Simple prompt",
    description: "Conformance fixture: a prompt without arguments.",
    args: z.object({}),
    uses: [],
    messages: () => [userText("This is a simple prompt for testing.")],
  }),
  definePrompt({
    name: "test_prompt_with_arguments",
    title: "Prompt with arguments",
    description: "Conformance fixture: a prompt with two arguments.",
    args: z.object({
      arg1: z.string().describe("First test argument"),
      arg2: z.string().describe("Second test argument"),
    }),
    uses: [],
    messages: ({ arg1, arg2 }) => [userText(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`)],
  }),
  definePrompt({
    name: "test_prompt_with_embedded_resource",
    title: "Prompt with an embedded resource",
    description: "Conformance fixture: a prompt that embeds a resource.",
    args: z.object({ resourceUri: z.string().describe("URI of the resource to embed") }),
    uses: [],
    messages: ({ resourceUri }) => [
      {
        role: "user",
        content: {
          type: "resource",
          resource: {
            uri: resourceUri,
            mimeType: "text/plain",
            text: "Embedded resource content for testing.",
          },
        },
      },
      userText("Please process the embedded resource above."),
    ],
  }),
  definePrompt({
    name: "test_prompt_with_image",
    title: "Prompt with an image",
    description: "Conformance fixture: a prompt with image content.",
    args: z.object({}),
    uses: [],
    messages: () => [
      { role: "user", content: { type: "image", data: PNG_BASE64, mimeType: "image/png" } },
      userText("Please analyze the image above."),
    ],
  }),
];

/** The suite's logging tool: three log messages, 50 ms apart, through `ToolContext.log`. */
export const CONFORMANCE_LOGGING_TOOL: ToolDefinition = defineTool({
  name: "test_tool_with_logging",
  title: "Logging tool",
  description: "Conformance fixture: sends three log messages while it runs.",
  input: z.object({}),
  output: z.object({ done: z.boolean().describe("Always true") }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  handler: async (_args, ctx) => {
    ctx.log("info", "Tool execution started");
    await new Promise((resolve) => setTimeout(resolve, 50));
    ctx.log("info", "Tool processing data");
    await new Promise((resolve) => setTimeout(resolve, 50));
    ctx.log("info", "Tool execution completed");
    return { data: { done: true }, text: "Logging tool executed" };
  },
});
