/**
 * Job ids and digests: ids are unguessable (130 bits from the CSPRNG), owners and commands are stored
 * on the host only as digests.
 */
import { createHash } from "node:crypto";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
const ID_PATTERN = /^j[a-z2-7]{26}$/;

/**
 * A new job id: `j` and 26 base32 characters (130 random bits).
 *
 * @example
 * ```ts
 * isJobId(newJobId()); // => true
 * ```
 */
export function newJobId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(26));
  return "j" + Array.from(bytes, (b) => ALPHABET[b & 31]).join("");
}

/** Whether `value` has the shape of a job id (says nothing about whether the job exists). */
export function isJobId(value: string): boolean {
  return ID_PATTERN.test(value);
}

/** The digest stored as a job's owner: another principal's digest never matches. */
export function ownerDigest(principal: string): string {
  return createHash("sha256").update(`ssh-mcp job owner v1\0${principal}`).digest("hex").slice(0, 32);
}

/** `sha256:<hex>` of a command text. */
export function commandDigest(text: string): string {
  return "sha256:" + createHash("sha256").update(text).digest("hex");
}

/** A random nonce for framing byte slices in a script's answer. */
export function frameNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "@n" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
