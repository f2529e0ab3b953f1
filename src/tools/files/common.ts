/**
 * What the file tools share: the SFTP session of a connection, a fresh one for temp-file cleanup,
 * strict UTF-8 decoding and small input and output fragments.
 *
 * @module
 */
import { z } from "zod";
import { ToolError } from "../../errors.ts";
import type { Sftp } from "../../ssh/sftp/sftp.ts";
import type { ToolContext } from "../define.ts";

/** Input fragment: a hex sha256. */
export const sha256Hex = z.string().regex(/^[0-9a-fA-F]{64}$/, "64 hex digits");

/** The shared SFTP session of a connection (the default one when `alias` is undefined). */
export function sessionOf(
  ctx: ToolContext,
  alias: string | undefined,
): Promise<{ alias: string; sftp: Sftp }> {
  return ctx.connections.sftp(alias, ctx.signal);
}

/** A fresh session for temp-file cleanup after a dropped link (reconnects if needed). */
export function reopener(ctx: ToolContext, alias: string): () => Promise<Sftp> {
  return async () => (await ctx.connections.sftp(alias)).sftp;
}

/** ISO 8601 text of a Unix time in seconds. */
export function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/** The error for a file that is not text, pointing at base64 reads. */
export function binaryError(path: string, detail: string): ToolError {
  return new ToolError(`Cannot read "${path}" as text: ${detail}`, {
    hint: 'It looks binary: call `read` again with encoding: "base64" (offset/limit are then bytes).',
  });
}

/** Strict UTF-8 decoding (keeping a BOM); anything else is a {@link binaryError}. */
export function decodeText(path: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw binaryError(path, "it is not valid UTF-8");
  }
}

/** The concatenation of `parts`, whose lengths add up to `total`. */
export function joinParts(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
