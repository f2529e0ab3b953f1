/**
 * Shared zod fragments, each with a description written for the model.
 */
import { z } from "zod";

/** Optional connection alias. */
export const target = z.string().min(1).max(200).optional().describe(
  "Connection alias from `connect`, or a Host of ~/.ssh/config or user@host[:port], connected on first use " +
    "(default: the most recently used connection of this session).",
);

/** A remote path. */
export const remotePath = z.string().min(1).max(4096).refine(
  (p) => !p.includes("\u0000"),
  "NUL byte in path",
);

/** Command timeout in seconds. */
export const timeoutSeconds = z.number().int().positive().max(86_400).optional().describe(
  "Deadline in seconds (default: the server's -command-timeout, 120 s). At the deadline the remote process group is killed.",
);

/** What a tool could not see and what it used instead; one schema for every tool that reports it. */
export const notes = z.array(z.string()).describe(
  "Sources that were missing or restricted, and what was used instead (empty when all were available)",
);

/** Annotation sets that recur. */
export const HINTS = {
  /** Reads remote state only. */
  readRemote: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  /** Changes remote state, possibly destructively. */
  changeRemote: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
} as const;
