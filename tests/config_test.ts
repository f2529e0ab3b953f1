import assert from "node:assert/strict";
import {
  type Config,
  ConfigError,
  helpText,
  isLoopbackHost,
  parseConfig,
  redact,
  requiresAuthToken,
} from "../src/config.ts";
import { VERSION } from "../src/version.ts";

const ENV = { HOME: "/home/agent" };
const TOKEN = "0123456789abcdef0123456789abcdef";

function config(args: string[], env: Record<string, string | undefined> = ENV): Config {
  const result = parseConfig(args, env);
  assert.equal(result.kind, "config");
  return result.kind === "config" ? result.config : assert.fail("unreachable");
}

/** Asserts that parsing fails with a one-line ConfigError containing every fragment. */
function rejects(args: string[], env: Record<string, string | undefined>, fragments: string[]): ConfigError {
  let caught: unknown;
  try {
    parseConfig(args, env);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected ConfigError for ${JSON.stringify({ args, env })}`);
  assert.ok(!caught.message.includes("\n"), `one line: ${caught.message}`);
  for (const fragment of fragments) {
    assert.ok(
      caught.message.includes(fragment),
      `${JSON.stringify(caught.message)} lacks ${JSON.stringify(fragment)}`,
    );
  }
  return caught;
}

Deno.test("parseConfig() returns the §2 defaults when nothing is given", () => {
  assert.deepEqual(config([]), {
    mode: "http",
    port: 8000,
    host: "127.0.0.1",
    debug: false,
    global: false,
    dataDir: "/home/agent/.local/share/ssh-mcp",
    allowedOrigins: ["localhost", "127.0.0.1", "[::1]"],
    allowedHosts: ["localhost", "127.0.0.1", "[::1]"],
    hostKeys: "accept-new",
    sessionTimeoutSeconds: 300,
    commandTimeoutSeconds: 120,
    maxCommandTimeoutSeconds: 3600,
    runWaitSeconds: 25,
    maxOutputBytes: 51200,
    sessionHeader: "X-Session-Key",
    readOnly: false,
    toolsets: ["core", "jobs", "files", "docker", "monitoring", "db", "network", "voip"],
    keepaliveIntervalSeconds: 15,
    keepaliveCountMax: 3,
    maxSessionsPerPrincipal: 64,
    maxSessions: 1024,
    confirm: [],
    fanout: 8,
    transferDir: "/home/agent/.local/share/ssh-mcp/transfer",
  });
});

Deno.test("the data dir follows XDG_DATA_HOME, then options.home, then HOME", () => {
  assert.equal(config([], { ...ENV, XDG_DATA_HOME: "/xdg/" }).dataDir, "/xdg/ssh-mcp");
  assert.equal(config([], { ...ENV, XDG_DATA_HOME: "relative" }).dataDir, "/home/agent/.local/share/ssh-mcp");
  const result = parseConfig([], ENV, { home: "/opt/me" });
  assert.equal(result.kind === "config" && result.config.dataDir, "/opt/me/.local/share/ssh-mcp");
  assert.equal(config(["-data-dir", "/data"], {}).dataDir, "/data");
});

Deno.test("the transfer dir defaults to <data-dir>/transfer and follows -data-dir", () => {
  assert.equal(config(["-data-dir", "/data/"], {}).transferDir, "/data/transfer");
  assert.equal(config(["-data-dir", "/data", "-transfer-dir", "/x"], {}).transferDir, "/x");
});

Deno.test("parseConfig() asks for -data-dir when no home directory is known", () => {
  const error = rejects([], {}, ["-data-dir", "SSH_MCP_DATA_DIR", "HOME"]);
  assert.equal(error.flag, "-data-dir");
});

/** [flag, env var, text, Config field, expected value] for every string-valued setting. */
const SETTINGS: [string, string, string, keyof Config, unknown][] = [
  ["mode", "SSH_MCP_MODE", "stdio", "mode", "stdio"],
  ["port", "PORT", "9090", "port", 9090],
  ["host", "SSH_MCP_HOST", "127.0.0.2", "host", "127.0.0.2"],
  ["data-dir", "SSH_MCP_DATA_DIR", "/srv/ssh-mcp", "dataDir", "/srv/ssh-mcp"],
  ["auth-token", "SSH_MCP_AUTH_TOKEN", TOKEN, "authToken", TOKEN],
  ["allowed-origins", "SSH_MCP_ALLOWED_ORIGINS", "https://app.example.com,localhost", "allowedOrigins", [
    "app.example.com",
    "localhost",
  ]],
  ["allowed-hosts", "SSH_MCP_ALLOWED_HOSTS", "mcp.example.com, [::1]", "allowedHosts", [
    "mcp.example.com",
    "[::1]",
  ]],
  ["host-keys", "SSH_MCP_HOST_KEYS", "strict", "hostKeys", "strict"],
  ["session-timeout", "SSH_MCP_SESSION_TIMEOUT", "600", "sessionTimeoutSeconds", 600],
  ["command-timeout", "SSH_MCP_COMMAND_TIMEOUT", "30", "commandTimeoutSeconds", 30],
  ["max-command-timeout", "SSH_MCP_MAX_COMMAND_TIMEOUT", "7200", "maxCommandTimeoutSeconds", 7200],
  ["run-wait", "SSH_MCP_RUN_WAIT", "0", "runWaitSeconds", 0],
  ["max-output", "SSH_MCP_MAX_OUTPUT", "1024", "maxOutputBytes", 1024],
  ["session-header", "SSH_MCP_SESSION_HEADER", "X-Pool", "sessionHeader", "X-Pool"],
  ["toolsets", "SSH_MCP_TOOLSETS", "voip,core", "toolsets", ["core", "voip"]],
  ["keepalive-interval", "SSH_MCP_KEEPALIVE_INTERVAL", "0", "keepaliveIntervalSeconds", 0],
  ["keepalive-count", "SSH_MCP_KEEPALIVE_COUNT", "5", "keepaliveCountMax", 5],
  ["max-sessions-per-principal", "SSH_MCP_MAX_SESSIONS_PER_PRINCIPAL", "8", "maxSessionsPerPrincipal", 8],
  ["max-sessions", "SSH_MCP_MAX_SESSIONS", "4096", "maxSessions", 4096],
  ["confirm", "SSH_MCP_CONFIRM", "sudo,run", "confirm", ["run", "sudo"]],
  ["policy", "SSH_MCP_POLICY", "/etc/ssh-mcp/policy.json", "policyFile", "/etc/ssh-mcp/policy.json"],
  ["fanout", "SSH_MCP_FANOUT", "32", "fanout", 32],
  ["transfer-dir", "SSH_MCP_TRANSFER_DIR", "/srv/transfer", "transferDir", "/srv/transfer"],
];

Deno.test("every setting is read from -flag v, --flag v, -flag=v, --flag=v and its env var", () => {
  for (const [flag, env, text, field, expected] of SETTINGS) {
    const spellings: [string[], Record<string, string>][] = [
      [[`-${flag}`, text], ENV],
      [[`--${flag}`, text], ENV],
      [[`-${flag}=${text}`], ENV],
      [[`--${flag}=${text}`], ENV],
      [[], { ...ENV, [env]: text }],
    ];
    for (const [args, vars] of spellings) {
      assert.deepEqual(
        config(args, vars)[field],
        expected,
        `${JSON.stringify(args)} ${JSON.stringify(vars)}`,
      );
    }
  }
});

Deno.test("boolean flags accept -flag, -flag=true/false, --no-flag and env true/false/1/0/yes/no", () => {
  const booleans: [string, string, keyof Config][] = [
    ["debug", "SSH_MCP_DEBUG", "debug"],
    ["global", "SSH_MCP_GLOBAL", "global"],
    ["read-only", "SSH_MCP_READ_ONLY", "readOnly"],
  ];
  for (const [flag, env, field] of booleans) {
    assert.equal(config([`-${flag}`])[field], true);
    assert.equal(config([`--${flag}`])[field], true);
    assert.equal(config([`-${flag}=true`])[field], true);
    assert.equal(config([`--${flag}=1`])[field], true);
    assert.equal(config([`-${flag}=false`])[field], false);
    assert.equal(config([`--no-${flag}`], { ...ENV, [env]: "true" })[field], false);
    for (const yes of ["true", "TRUE", "1", "yes", "Yes"]) {
      assert.equal(config([], { ...ENV, [env]: yes })[field], true);
    }
    for (const no of ["false", "False", "0", "no", "NO"]) {
      assert.equal(config([], { ...ENV, [env]: no })[field], false);
    }
  }
});

Deno.test("flags win over env vars, env vars over defaults, and the last repeated flag wins", () => {
  const env = { ...ENV, PORT: "9000", SSH_MCP_MODE: "stdio", SSH_MCP_DEBUG: "true" };
  const fromEnv = config([], env);
  assert.equal(fromEnv.port, 9000);
  assert.equal(fromEnv.mode, "stdio");
  assert.equal(fromEnv.debug, true);
  const fromFlags = config(["-port", "9100", "--mode=http", "-debug=false"], env);
  assert.equal(fromFlags.port, 9100);
  assert.equal(fromFlags.mode, "http");
  assert.equal(fromFlags.debug, false);
  assert.equal(config(["-port", "1", "--port=2"]).port, 2);
  assert.equal(config([], { ...ENV, PORT: "" }).port, 8000, "an empty env var counts as unset");
});

Deno.test("a string flag takes the next argument even when it starts with a dash", () => {
  const token = `-${TOKEN}`;
  assert.equal(config(["-auth-token", token, "-mode", "stdio"]).authToken, token);
});

Deno.test("toolsets: empty or all means every toolset; entries are deduplicated in canonical order", () => {
  const all = ["core", "jobs", "files", "docker", "monitoring", "db", "network", "voip"];
  assert.deepEqual(config(["-toolsets", ""]).toolsets, all);
  assert.deepEqual(config(["-toolsets=all"]).toolsets, all);
  assert.deepEqual(config(["-toolsets", " db , core,db "]).toolsets, ["core", "db"]);
});

Deno.test("confirm: empty or none asks nothing; entries are deduplicated in canonical order", () => {
  assert.deepEqual(config(["-confirm", ""]).confirm, []);
  assert.deepEqual(config(["-confirm=none"]).confirm, []);
  assert.deepEqual(config(["-confirm", " host-key , RUN,run,destructive "]).confirm, [
    "run",
    "destructive",
    "host-key",
  ]);
  assert.equal(config([]).policyFile, undefined);
});

Deno.test("the default allowed hosts add the bind host unless it is a wildcard address", () => {
  assert.deepEqual(config(["-host", "10.0.0.5", "-auth-token", TOKEN]).allowedHosts, [
    "localhost",
    "127.0.0.1",
    "[::1]",
    "10.0.0.5",
  ]);
  assert.deepEqual(config(["-host", "::1"]).allowedHosts, ["localhost", "127.0.0.1", "[::1]"]);
  assert.deepEqual(config(["-host", "0.0.0.0", "-auth-token", TOKEN]).allowedHosts, [
    "localhost",
    "127.0.0.1",
    "[::1]",
  ]);
  assert.deepEqual(config(["-host", "::", "-auth-token", TOKEN]).allowedOrigins, [
    "localhost",
    "127.0.0.1",
    "[::1]",
  ]);
  assert.equal(config(["-host", "[::1]"]).host, "::1", "IPv6 bind addresses lose their brackets");
});

Deno.test("implicit limits follow smaller maxima; explicit ones may not exceed them", () => {
  assert.equal(config(["-max-command-timeout", "60"]).commandTimeoutSeconds, 60);
  rejects(["-max-command-timeout", "60", "-command-timeout", "120"], ENV, [
    "-command-timeout",
    "SSH_MCP_COMMAND_TIMEOUT",
    "from 1 to 60",
    "-max-command-timeout",
  ]);
  assert.equal(config(["-max-sessions", "10"]).maxSessionsPerPrincipal, 10);
  rejects(["-max-sessions", "10", "-max-sessions-per-principal", "11"], ENV, [
    "-max-sessions-per-principal",
    "SSH_MCP_MAX_SESSIONS_PER_PRINCIPAL",
    "from 1 to 10",
  ]);
});

/** [args, env, fragments the one-line message must contain]. */
const INVALID: [string[], Record<string, string>, string[]][] = [
  [["-mode", "tcp"], ENV, ['"tcp"', "-mode", "SSH_MCP_MODE", "stdio, http"]],
  [["-port", "70000"], ENV, ['"70000"', "-port", "(env PORT)", "1 to 65535"]],
  [["-port", "abc"], ENV, ['"abc"', "-port", "(env PORT)", "1 to 65535"]],
  [["-port", "0"], ENV, ["-port", "(env PORT)", "1 to 65535"]],
  [["-port", "80.5"], ENV, ["-port", "(env PORT)", "1 to 65535"]],
  [[], { ...ENV, SSH_MCP_SESSION_TIMEOUT: "abc" }, [
    '"abc"',
    "-session-timeout",
    "SSH_MCP_SESSION_TIMEOUT",
    "1 to",
  ]],
  [["-session-timeout", "0"], ENV, ["-session-timeout", "SSH_MCP_SESSION_TIMEOUT", "1 to"]],
  [["-command-timeout", "-5"], ENV, ["-command-timeout", "SSH_MCP_COMMAND_TIMEOUT", "1 to"]],
  [["-max-output", "1023"], ENV, ["-max-output", "SSH_MCP_MAX_OUTPUT", "1024 to 67108864"]],
  [["-max-output", String(64 * 1024 * 1024 + 1)], ENV, [
    "-max-output",
    "SSH_MCP_MAX_OUTPUT",
    "1024 to 67108864",
  ]],
  [["-toolsets", "core,bogus"], ENV, [
    '"bogus"',
    "-toolsets",
    "SSH_MCP_TOOLSETS",
    "core, jobs, files, docker",
  ]],
  [["-run-wait", "51"], ENV, ["-run-wait", "SSH_MCP_RUN_WAIT", "from 0 to 50"]],
  [["-host-keys", "yes"], ENV, ['"yes"', "-host-keys", "SSH_MCP_HOST_KEYS", "strict, accept-new, off"]],
  [["-session-header", "X Key"], ENV, ["-session-header", "SSH_MCP_SESSION_HEADER", "HTTP header name"]],
  [["-session-header", "authorization"], ENV, [
    "-session-header",
    "SSH_MCP_SESSION_HEADER",
    "HTTP header name",
  ]],
  [["-debug=maybe"], ENV, ['"maybe"', "-debug", "SSH_MCP_DEBUG", "true or false"]],
  [[], { ...ENV, SSH_MCP_READ_ONLY: "on" }, ['"on"', "-read-only", "SSH_MCP_READ_ONLY", "true or false"]],
  [["-host", "8000"], ENV, ['"8000"', "-host", "SSH_MCP_HOST", "IP address or host name"]],
  [["-host", "example.com:80"], ENV, ["-host", "SSH_MCP_HOST", "without port"]],
  [["-allowed-hosts", "*"], ENV, ['"*"', "-allowed-hosts", "SSH_MCP_ALLOWED_HOSTS", "host names"]],
  [["-allowed-hosts", "localhost:8000"], ENV, ["-allowed-hosts", "SSH_MCP_ALLOWED_HOSTS", "without port"]],
  [["-allowed-origins", "ftp://x.example"], ENV, ["-allowed-origins", "SSH_MCP_ALLOWED_ORIGINS", "origins"]],
  [["-allowed-origins", "https://x.example/path"], ENV, [
    "-allowed-origins",
    "SSH_MCP_ALLOWED_ORIGINS",
    "origins",
  ]],
  [["-keepalive-count", "0"], ENV, ["-keepalive-count", "SSH_MCP_KEEPALIVE_COUNT", "1 to 100"]],
  [["-max-sessions", "0"], ENV, ["-max-sessions", "SSH_MCP_MAX_SESSIONS", "1 to 100000"]],
  [["-data-dir="], ENV, ["-data-dir", "SSH_MCP_DATA_DIR", "directory path"]],
  [["-auth-token", "short"], ENV, [
    "-auth-token",
    "SSH_MCP_AUTH_TOKEN",
    "at least 32",
    "openssl rand -hex 32",
  ]],
  [["-auth-token="], ENV, ["-auth-token", "SSH_MCP_AUTH_TOKEN", "at least 32"]],
  [["-host", "0.0.0.0"], ENV, [
    "-auth-token",
    "SSH_MCP_AUTH_TOKEN",
    "-host",
    "at least 32",
    "openssl rand -hex 32",
  ]],
  [[], { ...ENV, SSH_MCP_HOST: "192.168.1.10" }, ["-auth-token", "SSH_MCP_AUTH_TOKEN", "SSH_MCP_HOST"]],
  [["-port"], ENV, ["Missing value", "-port", "(env PORT)", "1 to 65535"]],
  [["-confirm", "run,writes"], ENV, [
    '"writes"',
    "-confirm",
    "SSH_MCP_CONFIRM",
    "run, destructive, sudo, host-key",
  ]],
  [["-policy="], ENV, ["-policy", "SSH_MCP_POLICY", "JSON policy file"]],
  [["-fanout", "0"], ENV, ["-fanout", "SSH_MCP_FANOUT", "1 to 256"]],
  [["-transfer-dir="], ENV, ["-transfer-dir", "SSH_MCP_TRANSFER_DIR", "directory path"]],
];

Deno.test("each invalid value stops with one line naming the flag, env var and accepted values", () => {
  for (const [args, env, fragments] of INVALID) rejects(args, env, fragments);
});

Deno.test("a ConfigError carries the flag and env var at fault", () => {
  const error = rejects(["-mode", "tcp"], ENV, []);
  assert.equal(error.name, "ConfigError");
  assert.equal(error.flag, "-mode");
  assert.equal(error.env, "SSH_MCP_MODE");
  assert.equal(rejects(["-host", "0.0.0.0"], ENV, []).flag, "-auth-token");
});

Deno.test("an invalid auth token is never echoed in the error", () => {
  const secret = "hunter2-secret";
  const error = rejects(["-auth-token", secret], ENV, ["14 characters"]);
  assert.ok(!error.message.includes(secret));
  const spaced = `${TOKEN} ${TOKEN}`;
  assert.ok(!rejects([], { ...ENV, SSH_MCP_AUTH_TOKEN: spaced }, []).message.includes(TOKEN));
});

Deno.test("HTTP off loopback starts with a token, and stdio never needs one", () => {
  assert.equal(config(["-host", "0.0.0.0", "-auth-token", TOKEN]).host, "0.0.0.0");
  assert.equal(config(["-mode", "stdio", "-host", "0.0.0.0"]).authToken, undefined);
  assert.equal(config(["-host", "localhost"]).host, "localhost");
  assert.equal(config(["-host", "127.8.9.10"]).host, "127.8.9.10");
});

Deno.test("unknown flags and positional arguments are refused with the list of valid flags", () => {
  const error = rejects(["-bogus"], ENV, [
    '"-bogus"',
    "-mode",
    "-max-sessions",
    "-keepalive-interval",
    "--help",
  ]);
  assert.equal(error.flag, "-bogus");
  rejects(["--bogus=1"], ENV, ['"--bogus=1"', "valid flags"]);
  rejects(["-x"], ENV, ['"-x"', "valid flags"]);
  rejects(["--no-port"], ENV, ['"--no-port"', "valid flags"]);
  rejects(["stdio"], ENV, ['"stdio"', "only flags"]);
  rejects(["--", "x"], ENV, ['"x"', "only flags"]);
});

Deno.test("--help, -help and -h return the help text; --version and -version the version", () => {
  for (const args of [["--help"], ["-help"], ["-h"], ["-mode", "stdio", "-h"]]) {
    const result = parseConfig(args, {});
    assert.equal(result.kind, "help", JSON.stringify(args));
    assert.equal(result.kind === "help" && result.text, helpText());
  }
  for (const args of [["--version"], ["-version"]]) {
    assert.deepEqual(parseConfig(args, {}), { kind: "version", version: VERSION });
  }
});

Deno.test("helpText() lists every flag, env var and default with a usage line and the version", () => {
  const text = helpText();
  assert.match(text, /^Usage: ssh-mcp \[flags\]$/m);
  assert.ok(text.includes(VERSION));
  for (const [flag, env] of SETTINGS) {
    assert.match(text, new RegExp(`^-${flag} +${env} `, "m"), flag);
  }
  for (const name of ["-debug", "SSH_MCP_DEBUG", "-global", "-read-only", "-version", "-h, -help"]) {
    assert.ok(text.includes(name), name);
  }
  assert.match(text, /^-keepalive-interval +SSH_MCP_KEEPALIVE_INTERVAL +15 /m);
  assert.match(text, /^-max-sessions +SSH_MCP_MAX_SESSIONS +1024 /m);
  const columns = text.split("\n").filter((l) => l.startsWith("-")).map((l) => l.indexOf("SSH_MCP_"));
  assert.equal(new Set(columns.filter((c) => c > 0)).size, 1, "the env column is aligned");
});

Deno.test("redact() replaces the auth token and keeps everything else", () => {
  const c = config(["-auth-token", TOKEN]);
  const safe = redact(c);
  assert.equal(safe.authToken, "[redacted]");
  assert.ok(!JSON.stringify(safe).includes(TOKEN));
  assert.equal(safe.port, 8000);
  assert.deepEqual(safe.toolsets, c.toolsets);
  assert.equal("authToken" in redact(config([])), false);
});

Deno.test("the config is deeply frozen", () => {
  const c = config([]);
  assert.ok(Object.isFrozen(c));
  assert.ok(Object.isFrozen(c.allowedHosts));
  assert.ok(Object.isFrozen(c.allowedOrigins));
  assert.ok(Object.isFrozen(c.toolsets));
  assert.throws(() => (c as { port: number }).port = 1, TypeError);
  assert.throws(() => (c.toolsets as string[]).push("x"), TypeError);
});

Deno.test("unknown SSH_MCP_* variables produce a warning instead of being silently ignored", () => {
  const result = parseConfig([], { ...ENV, SSH_MCP_HOSTKEYS: "strict" });
  assert.equal(result.kind, "config");
  assert.ok(result.kind === "config" && result.warnings.length === 1);
  assert.match(result.kind === "config" ? result.warnings[0]! : "", /SSH_MCP_HOSTKEYS.*SSH_MCP_HOST_KEYS/);
});

Deno.test("isLoopbackHost() and requiresAuthToken() recognise 127.0.0.0/8, ::1 and localhost", () => {
  for (
    const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "::ffff:127.0.0.1"]
  ) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (const host of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1", "localhost.example.com", ""]) {
    assert.equal(isLoopbackHost(host), false, host);
  }
  assert.equal(requiresAuthToken({ mode: "http", host: "0.0.0.0" }), true);
  assert.equal(requiresAuthToken({ mode: "http", host: "127.0.0.1" }), false);
  assert.equal(requiresAuthToken({ mode: "stdio", host: "0.0.0.0" }), false);
});
