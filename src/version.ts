/** The ssh-mcp release version, printed by `--version` and `--help` and reported by `/healthz`. */
export const VERSION = "0.1.0";
