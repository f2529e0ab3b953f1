/**
 * Builders of `CallToolResult` values: text plus `structuredContent`, and error results with hints.
 */
import type { CallToolResult } from "@modelcontextprotocol/server";
import { describeError } from "../errors.ts";

/** A successful (or model-handled failing) result with structured data. */
export function structuredResult(
  data: Record<string, unknown>,
  text?: string,
  isError = false,
): CallToolResult {
  return {
    content: [{ type: "text", text: text ?? JSON.stringify(data, null, 2) }],
    structuredContent: data,
    ...(isError ? { isError: true } : {}),
  };
}

/**
 * An `isError` result that says what failed and what to do next.
 *
 * @example
 * ```ts
 * errorResult(new Error("boom")).content[0]; // { type: "text", text: "boom\nNext: ..." }
 * ```
 */
export function errorResult(error: unknown): CallToolResult {
  const { message, hint, code } = describeError(error);
  return {
    content: [{ type: "text", text: `${message}\nNext: ${hint}` }],
    isError: true,
    _meta: code === undefined ? undefined : { "ssh-mcp/error-code": code },
  };
}
