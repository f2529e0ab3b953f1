/**
 * The audit log: one JSON line per tool call in `<data-dir>/audit.log`, never a secret.
 *
 * Arguments are recorded as a SHA-256 digest of their JSON, so an operator can match a call to a
 * request without the log holding passwords, file contents or SQL.
 */

/** One audit line. */
export interface AuditEntry {
  /** ISO time the call ended. */
  time: string;
  /** Authenticated principal. */
  principal: string;
  /** Pool key of the session. */
  session: string;
  /** Connection alias used, when known. */
  alias?: string;
  /** Tool name. */
  tool: string;
  /** `sha256:` digest of the canonical JSON arguments. */
  args_digest: string;
  /** "ok", "error" or "cancelled". */
  outcome: "ok" | "error" | "cancelled";
  /** Remote exit code when the tool ran a command. */
  exit_code?: number | null;
  /** Bytes of result text returned. */
  bytes: number;
  /** Milliseconds spent. */
  duration_ms: number;
  /** Error code when the outcome is an error. */
  error_code?: string;
}

/**
 * One line about a human approval (SPEC §11): the question put to the human, or the answer that came
 * back (or why none could). Never holds a secret: `asked` is a one-line summary built without them.
 */
export interface ApprovalAuditEntry {
  /** ISO time. */
  time: string;
  /** "question" when asked, "answer" when answered (or refused without an answer). */
  event: "question" | "answer";
  /** Authenticated principal. */
  principal: string;
  /** Pool key of the session. */
  session: string;
  /** Tool name. */
  tool: string;
  /** Connections the call acts on, `alias (user@host:port)`. */
  targets: string[];
  /** What was asked, in one line (command, paths, host key fingerprint…). */
  asked: string;
  /** The flag or policy rule that asked, e.g. `-confirm run`. */
  reason: string;
  /**
   * The answer: accept, decline or cancel from the human; remembered (an earlier "remember" answer in
   * this session); unanswerable (the client cannot elicit); invalid (the answer did not fit the
   * question), stale (state bound to another call) or replayed (state already used).
   */
  answer?: "accept" | "decline" | "cancel" | "remembered" | "unanswerable" | "invalid" | "stale" | "replayed";
  /** The human asked to remember the yes for this session. */
  remember?: boolean;
}

/** Where audit lines go. */
export interface AuditSink {
  /** Queues one line. Never throws. */
  write(entry: AuditEntry | ApprovalAuditEntry): void;
}

/** An {@link AuditSink} that drops everything (tests, or when disabled). */
export const NULL_AUDIT: AuditSink = { write() {} };

/** SHA-256 digest of a value's JSON, `sha256:<hex>`. */
export async function digestArguments(args: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(args ?? {}));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return "sha256:" + Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Appends audit lines to a file (created 0600), in order, and flushes on dispose. */
export class FileAuditLog implements AuditSink, AsyncDisposable {
  #file: Deno.FsFile | undefined;
  #path: string;
  #chain: Promise<void> = Promise.resolve();
  #encoder = new TextEncoder();
  #onError: (error: unknown) => void;

  /** Opens nothing yet; the file is opened on the first write. */
  constructor(path: string, onError: (error: unknown) => void = () => {}) {
    this.#path = path;
    this.#onError = onError;
  }

  /** Queues one line. */
  write(entry: AuditEntry | ApprovalAuditEntry): void {
    const line = this.#encoder.encode(JSON.stringify(entry) + "\n");
    this.#chain = this.#chain.then(async () => {
      this.#file ??= await Deno.open(this.#path, { append: true, create: true, mode: 0o600 });
      let written = 0;
      while (written < line.length) written += await this.#file.write(line.subarray(written));
    }).catch(this.#onError);
  }

  /** Waits for queued lines. */
  flush(): Promise<void> {
    return this.#chain;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#chain;
    this.#file?.close();
    this.#file = undefined;
  }
}
