/**
 * What the server says about itself before any tool runs: its name, its instructions and the
 * capabilities a fully built instance advertises. Plain data with no SDK import, so that main.ts can
 * answer the first `initialize` or `server/discover` before the SDK is loaded (transport/early.ts);
 * tests/transport/early_test.ts holds these equal to what the SDK answers for a built instance.
 */

/** The server's name in `serverInfo`. */
export const SERVER_NAME = "ssh-mcp";

/** The `instructions` of `initialize` and `server/discover`. */
export const INSTRUCTIONS =
  "SSH access to remote hosts. Start with `connect` (host, username; it returns an alias), " +
  "then use `run`, file tools (`read`, `write`, `edit`, `list_dir`) and the other toolsets with `target` set to " +
  "that alias. `connections` lists aliases. If authentication fails, call `identity` and install the key.";

/** The capabilities of a built instance (whatever the flags: prompts are declared even when none apply). */
export const ADVERTISED_CAPABILITIES = {
  tools: { listChanged: true },
  logging: {},
  extensions: { "io.modelcontextprotocol/tasks": {} },
  resources: { listChanged: true, subscribe: true },
  prompts: { listChanged: true },
  completions: {},
} as const;
