/**
 * Checks every HTTP request passes before it reaches MCP: Host and Origin allowlists (DNS
 * rebinding), the bearer token (constant time, never from the query string), and the body size.
 */
import { type Config, originHostname } from "../config.ts";

/** Largest request body accepted, bytes (SPEC §8). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** What the guard needs from the configuration. */
export type GuardConfig = Pick<Config, "allowedHosts" | "allowedOrigins" | "authToken">;

/** A JSON error response (JSON-RPC shaped so MCP clients show the message). */
export function jsonError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** Constant-time string equality (lengths may differ; time depends only on the expected length). */
export function timingSafeEqual(given: string, expected: string): boolean {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i % Math.max(a.length, 1)] ?? 0) ^ b[i]!;
  return diff === 0;
}

/**
 * Whether a `Host` header value (`name` or `name:port`) names an allowed host. Missing or malformed
 * values are refused.
 *
 * @example
 * ```ts
 * isAllowedHost("localhost:8000", config); // true with the defaults
 * ```
 */
export function isAllowedHost(
  hostHeader: string | null | undefined,
  config: Pick<Config, "allowedHosts">,
): boolean {
  if (hostHeader === null || hostHeader === undefined || hostHeader === "" || /[\s/?#@\\]/.test(hostHeader)) {
    return false;
  }
  try {
    return config.allowedHosts.includes(new URL(`http://${hostHeader}`).hostname);
  } catch {
    return false;
  }
}

/**
 * Whether an `Origin` header value is allowed: an http(s) origin whose hostname is in
 * `allowedOrigins` (any port). `null` origins and other schemes are refused; callers skip the check
 * when the header is absent (§8).
 *
 * @example
 * ```ts
 * isAllowedOrigin("http://localhost:5173", config); // true with the defaults
 * ```
 */
export function isAllowedOrigin(origin: string, config: Pick<Config, "allowedOrigins">): boolean {
  const hostname = originHostname(origin);
  return hostname !== undefined && config.allowedOrigins.includes(hostname);
}

const QUERY_TOKEN_NAMES = ["token", "access_token", "auth", "auth_token", "authorization", "api_key", "key"];

/** Host and Origin checks; undefined when the request may proceed. */
export function checkOrigin(request: Request, config: GuardConfig): Response | undefined {
  if (!isAllowedHost(request.headers.get("host"), config)) {
    return jsonError(403, "Forbidden: Host header not allowed (add it with -allowed-hosts)");
  }
  const origin = request.headers.get("origin");
  if (origin !== null && !isAllowedOrigin(origin, config)) {
    return jsonError(403, "Forbidden: Origin not allowed (add it with -allowed-origins)");
  }
  return undefined;
}

/** Bearer token check; undefined when the request may proceed. */
export function checkAuth(request: Request, config: GuardConfig): Response | undefined {
  const url = new URL(request.url);
  for (const name of QUERY_TOKEN_NAMES) {
    if (url.searchParams.has(name)) {
      return jsonError(
        400,
        "Bad Request: credentials are never accepted in the URL; send Authorization: Bearer <token>",
      );
    }
  }
  if (config.authToken === undefined) return undefined;
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (match === null || !timingSafeEqual(match[1]!, config.authToken)) {
    return jsonError(401, "Unauthorized: missing or invalid bearer token", {
      "www-authenticate": 'Bearer realm="ssh-mcp", error="invalid_token"',
    });
  }
  return undefined;
}

/** Declared body size check; undefined when the request may proceed. */
export function checkBodySize(request: Request): Response | undefined {
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > MAX_BODY_BYTES) {
    return jsonError(413, `Payload Too Large: request bodies are limited to ${MAX_BODY_BYTES} bytes`);
  }
  return undefined;
}
