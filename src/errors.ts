/**
 * Error classes shared by every layer, and the one function that turns any error into the text a
 * model reads.
 *
 * Conditions that callers handle carry a `code`; bad arguments are plain `TypeError`/`RangeError`.
 */

/** Codes of {@link SshError}; each maps to a recovery hint in {@link describeError}. */
export type SshErrorCode =
  | "auth_failed"
  | "host_key_changed"
  | "host_key_unknown"
  | "host_key_revoked"
  | "host_key_unconfirmed"
  | "connect_timeout"
  | "connect_failed"
  | "connection_lost"
  | "channel_failed"
  | "key_path_outside"
  | "key_unreadable"
  | "sftp_failed"
  | "alias_conflict"
  | "not_posix_shell"
  | "config_invalid";

/** An SSH-level failure with a machine-readable code. */
export class SshError extends Error {
  /** What went wrong, for callers that react to it. */
  readonly code: SshErrorCode;
  /** Extra detail that is safe to show (no secrets). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: SshErrorCode,
    message: string,
    options?: ErrorOptions & { details?: Record<string, unknown> },
  ) {
    super(message, options);
    this.name = "SshError";
    this.code = code;
    this.details = Object.freeze({ ...(options?.details ?? {}) });
  }
}

/** No connection matches the requested alias (or none exists yet). */
export class UnknownConnectionError extends Error {
  /** The alias asked for, or undefined when the session has no connection at all. */
  readonly alias: string | undefined;
  /** Aliases the session does have. */
  readonly known: readonly string[];

  constructor(alias: string | undefined, known: readonly string[]) {
    super(
      alias === undefined
        ? "Cannot run: this session has no SSH connection yet"
        : `Cannot find connection "${alias}": this session has ${
          known.length === 0 ? "no connections" : `only ${known.map((k) => `"${k}"`).join(", ")}`
        }`,
    );
    this.name = "UnknownConnectionError";
    this.alias = alias;
    this.known = known;
  }
}

/** A remote command or tool operation failed in a way the model should see as a tool error. */
export class ToolError extends Error {
  /** What the model should try next. */
  readonly hint: string | undefined;

  constructor(message: string, options?: ErrorOptions & { hint?: string }) {
    super(message, options);
    this.name = "ToolError";
    this.hint = options?.hint;
  }
}

/**
 * A call the operator's settings refused before anything ran: a read-only policy rule, a command not
 * in a rule's allowlist, a question the human declined or could not be asked (SPEC §11).
 */
export class RefusedError extends Error {
  /** The flag or policy rule that refused, e.g. `-confirm run` or `policy rule hosts[0] "prod-*"`. */
  readonly rule: string;
  /** What the model (or its human) can do next. */
  readonly hint: string;

  constructor(message: string, options: ErrorOptions & { rule: string; hint: string }) {
    super(message, options);
    this.name = "RefusedError";
    this.rule = options.rule;
    this.hint = options.hint;
  }
}

/** A limit of the server (sessions, queue) was reached. */
export class LimitError extends Error {
  /** HTTP status that fits: 429 per principal, 503 overall. */
  readonly status: 429 | 503;

  constructor(message: string, status: 429 | 503) {
    super(message);
    this.name = "LimitError";
    this.status = status;
  }
}

const SSH_HINTS: Record<SshErrorCode, string> = {
  auth_failed:
    "Check the username and credentials. To use the server's own key, call `identity` and add its public key to ~/.ssh/authorized_keys on the host, then call `connect` again.",
  host_key_changed:
    "The host's key differs from the recorded one: this may be an attack. If the change is expected, remove the old line (ssh-keygen -R <host> -f <file>) and connect again.",
  host_key_unknown:
    "The host is not in known_hosts and the policy is strict. Add its key (ssh-keyscan) to ~/.ssh/known_hosts or the data dir's known_hosts, or run the server with -host-keys accept-new.",
  host_key_revoked: "The host presented a revoked key. Do not connect; ask the host's administrator.",
  host_key_unconfirmed:
    "The host's key is new and the server asks a human before trusting one (-confirm host-key or the -policy file). Call again from a client that supports elicitation and answer the question.",
  connect_timeout:
    "The host did not answer in time. Check host, port and network path (jump host via `via`?), then call `connect` again.",
  connect_failed:
    "Check host and port; is sshd running and reachable from the server? Then call `connect` again.",
  connection_lost:
    "The connection dropped. The command's outcome is unknown: check its effects (e.g. with `run`) before retrying it. The next call reconnects automatically.",
  channel_failed: "The host refused a new channel (MaxSessions?). Retry shortly or reduce parallel calls.",
  key_path_outside:
    "Key files must live in ~/.ssh or the server's data dir. Move the key there or use the `identity` key.",
  key_unreadable: "Check that the key file exists, is readable, and that the passphrase is right.",
  sftp_failed: "Check the path and permissions; the SFTP subsystem must be enabled in sshd_config.",
  alias_conflict: "Choose another alias, or `disconnect` the existing one first.",
  not_posix_shell: "The login shell is not POSIX; commands run through exec channels instead.",
  config_invalid: "Fix ~/.ssh/config, or pass host, username and port explicitly.",
};

/** The message and recovery hint a model sees for an error. Never includes secrets. */
export interface ErrorDescription {
  /** One line saying what failed. */
  message: string;
  /** What to call or change next. */
  hint: string;
  /** Error code when known. */
  code?: string;
}

/**
 * Turns any thrown value into a message and a recovery hint.
 *
 * @example
 * ```ts
 * const { message, hint } = describeError(new SshError("auth_failed", "Cannot log in as \"bob\""));
 * ```
 */
export function describeError(error: unknown): ErrorDescription {
  if (error instanceof SshError) {
    return { message: error.message, hint: SSH_HINTS[error.code], code: error.code };
  }
  if (error instanceof UnknownConnectionError) {
    return {
      message: error.message,
      code: "unknown_connection",
      hint: error.known.length === 0
        ? 'Call `connect` first, e.g. {"host": "10.0.0.5", "username": "admin"}, then retry with its alias as `target`.'
        : "Pass one of the listed aliases as `target`, or call `connections` to see them.",
    };
  }
  if (error instanceof ToolError) {
    return {
      message: error.message,
      hint: error.hint ?? "Fix the arguments and try again.",
      code: "tool_error",
    };
  }
  if (error instanceof RefusedError) return { message: error.message, hint: error.hint, code: "refused" };
  if (error instanceof LimitError) return { message: error.message, hint: "Retry later.", code: "limit" };
  if (error instanceof DOMException && error.name === "AbortError") {
    return {
      message: "The call was cancelled",
      hint: "Call again if the work is still needed.",
      code: "cancelled",
    };
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    return {
      message: error.message,
      hint: "Fix the argument named in the message and try again.",
      code: "bad_argument",
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message, hint: "Unexpected error; retry once, and check the server's stderr log if it persists." };
}
