/**
 * The HTTP guard's predicates, without a server: Host and Origin allowlists, the bearer token and the
 * declared body size.
 */
import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../src/config.ts";
import {
  checkAuth,
  checkBodySize,
  isAllowedHost,
  isAllowedOrigin,
  MAX_BODY_BYTES,
  timingSafeEqual,
} from "../../src/transport/http_guard.ts";

function config(args: string[]): Config {
  const result = parseConfig(args, { HOME: "/home/agent" });
  assert.equal(result.kind, "config");
  return result.config;
}

Deno.test("isAllowedHost() and isAllowedOrigin() compare hostnames and ignore ports", () => {
  const c = config([]);
  assert.equal(isAllowedHost("localhost:8000", c), true);
  assert.equal(isAllowedHost("127.0.0.1", c), true);
  assert.equal(isAllowedHost("[::1]:8000", c), true);
  assert.equal(isAllowedHost("evil.example:8000", c), false);
  assert.equal(isAllowedHost(null, c), false);
  assert.equal(isAllowedHost("localhost/x", c), false);
  assert.equal(isAllowedOrigin("http://localhost:5173", c), true);
  assert.equal(isAllowedOrigin("http://[::1]:3000", c), true);
  assert.equal(isAllowedOrigin("https://evil.example", c), false);
  assert.equal(isAllowedOrigin("null", c), false);
  assert.equal(isAllowedOrigin("file://localhost", c), false);
  const custom = config(["-allowed-origins", "https://App.Example.com:8443"]);
  assert.equal(isAllowedOrigin("https://app.example.com", custom), true);
  assert.equal(isAllowedOrigin("http://localhost:5173", custom), false, "a given list replaces the default");
});

Deno.test("checkAuth() takes the token only from the Authorization header", async () => {
  const token = "0123456789abcdef0123456789abcdef";
  const c = config(["-auth-token", token]);
  const at = (url: string, headers: Record<string, string> = {}) =>
    checkAuth(new Request(url, { headers }), c)?.status;
  assert.equal(at("http://localhost/mcp", { authorization: `Bearer ${token}` }), undefined);
  assert.equal(at("http://localhost/mcp", { authorization: `bearer ${token}  ` }), undefined);
  assert.equal(at("http://localhost/mcp"), 401);
  assert.equal(at("http://localhost/mcp", { authorization: `Bearer ${token}x` }), 401);
  assert.equal(at("http://localhost/mcp", { authorization: `Basic ${token}` }), 401);
  assert.equal(at(`http://localhost/mcp?token=${token}`, { authorization: `Bearer ${token}` }), 400);
  const refused = checkAuth(new Request("http://localhost/mcp"), c)!;
  assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer realm="ssh-mcp"/);
  assert.match((await refused.json()).error.message, /bearer token/);
  // Without a token configured, only credentials in the URL are refused.
  assert.equal(checkAuth(new Request("http://localhost/mcp"), config([])), undefined);
  assert.equal(checkAuth(new Request("http://localhost/mcp?api_key=x"), config([]))?.status, 400);
});

Deno.test("timingSafeEqual() compares whole strings of any length", () => {
  assert.equal(timingSafeEqual("secret", "secret"), true);
  assert.equal(timingSafeEqual("secre", "secret"), false);
  assert.equal(timingSafeEqual("secrets", "secret"), false);
  assert.equal(timingSafeEqual("", "secret"), false);
  assert.equal(timingSafeEqual("", ""), true);
});

Deno.test("checkBodySize() refuses a declared length over the limit", () => {
  const sized = (length: number) =>
    new Request("http://localhost/mcp", {
      method: "POST",
      headers: { "content-length": String(length) },
    });
  assert.equal(checkBodySize(sized(MAX_BODY_BYTES)), undefined);
  assert.equal(checkBodySize(sized(MAX_BODY_BYTES + 1))?.status, 413);
});
