/**
 * The `requestState` of an approval question (SPEC §11): what was asked and what is already approved,
 * bound to the principal, the session, the tool, a keyed digest of the arguments and the connections,
 * sealed with HMAC under a per-process secret (the SDK's `createRequestStateCodec`) and valid for 10
 * minutes. Each state is good for one answer: a replay is refused.
 *
 * The state is signed, not encrypted (the client can read it), so it holds no secret: arguments only
 * as an HMAC digest, host keys only as their public blob.
 */
import {
  createRequestStateCodec,
  type RequestStateCodec,
  type ServerContext,
} from "@modelcontextprotocol/server";
import type { PresentedHostKey } from "../../ssh/host_keys/confirm.ts";
import type { ApprovalAuditEntry } from "../audit.ts";

/** How long a question stays answerable, seconds. */
export const APPROVAL_TTL_SECONDS = 600;

/** The question a state belongs to. */
export type ApprovalQuestion =
  | { readonly kind: "call"; readonly reason: string; readonly asked: string }
  | {
    readonly kind: "host-key";
    readonly reason: string;
    readonly asked: string;
    readonly key: PresentedHostKey;
  };

/** What a `requestState` carries from one round to the next. */
export interface ApprovalState {
  /** Format version. */
  readonly v: 1;
  /** Random id; spent when the answer is read. */
  readonly nonce: string;
  /** Epoch ms after which the state is refused (the codec checks it too). */
  readonly expires: number;
  /** Principal the question was put for. */
  readonly principal: string;
  /** Session (pool id) the question was put in. */
  readonly session: string;
  /** Tool called. */
  readonly tool: string;
  /** HMAC digest of the call's arguments (default target pinned). */
  readonly digest: string;
  /** The connections the call acts on, `alias (user@host:port)`. */
  readonly targets: readonly string[];
  /** Already approved in this flow (a host-key question can follow the call's own). */
  readonly approved: { readonly call: boolean };
  /** The question this state answers. */
  readonly question: ApprovalQuestion;
}

/** The fields {@link ApprovalStates.mint} fills in itself. */
export type ApprovalStateDraft = Omit<ApprovalState, "v" | "nonce" | "expires">;

/** Options of {@link ApprovalStates}. */
export interface ApprovalStatesOptions {
  /** HMAC secret, ≥ 32 bytes (default: 32 random bytes, so states die with the process). */
  secret?: Uint8Array;
  /** Lifetime of a state, seconds (default {@link APPROVAL_TTL_SECONDS}). */
  ttlSeconds?: number;
}

const principalOf = (ctx: ServerContext) => ctx.http?.authInfo?.clientId ?? "local";

/** Mints, verifies and spends approval states. One per process. */
export class ApprovalStates {
  #codec: RequestStateCodec<ApprovalState>;
  #secret: Uint8Array;
  #ttlMs: number;
  #digestKey: Promise<CryptoKey> | undefined;
  #spent = new Map<string, number>();

  /** Creates the codec with a per-process secret unless one is given. */
  constructor(options: ApprovalStatesOptions = {}) {
    this.#secret = options.secret ?? crypto.getRandomValues(new Uint8Array(32));
    const ttlSeconds = options.ttlSeconds ?? APPROVAL_TTL_SECONDS;
    this.#ttlMs = ttlSeconds * 1000;
    this.#codec = createRequestStateCodec<ApprovalState>({
      key: this.#secret,
      ttlSeconds,
      bind: principalOf,
    });
  }

  /** Seals a state for `inputRequired({ requestState })`. */
  mint(draft: ApprovalStateDraft, ctx: ServerContext): Promise<string> {
    const state: ApprovalState = {
      v: 1,
      nonce: crypto.randomUUID(),
      expires: Date.now() + this.#ttlMs,
      ...draft,
    };
    return this.#codec.mint(state, ctx);
  }

  /**
   * Checks an echoed state (MAC, expiry, principal binding) and returns its payload; throws on any
   * failure. This is the server's `requestState.verify` hook.
   */
  async verify(wire: string, ctx: ServerContext): Promise<ApprovalState> {
    const state = await this.#codec.verify(wire, ctx);
    if (state?.v !== 1 || typeof state.nonce !== "string") throw new Error("malformed");
    return state;
  }

  /** Marks a state used; false when it was used before (a replay) or has expired. */
  spend(state: ApprovalState): boolean {
    const now = Date.now();
    for (const [nonce, expires] of this.#spent) if (expires < now) this.#spent.delete(nonce);
    if (state.expires < now || this.#spent.has(state.nonce)) return false;
    this.#spent.set(state.nonce, state.expires);
    return true;
  }

  /** Keyed digest of a call's arguments (unlike a plain hash, it cannot be used to guess passwords). */
  async digest(args: unknown): Promise<string> {
    this.#digestKey ??= crypto.subtle.importKey(
      "raw",
      this.#secret as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign(
      "HMAC",
      await this.#digestKey,
      new TextEncoder().encode(`ssh-mcp.args:${JSON.stringify(args ?? {})}`),
    );
    return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
  }
}

/**
 * The audit line of an answer refused because its state did not verify (altered, expired, another
 * principal's or another process's): the SDK refuses it before any handler runs, so only the request
 * context and the codec's opaque reason (`mac`, `expired`, `bind`, `malformed`) are known.
 */
export function refusedStateEntry(ctx: ServerContext, error: unknown): ApprovalAuditEntry {
  return {
    time: new Date().toISOString(),
    event: "answer",
    principal: principalOf(ctx),
    session: "unknown",
    tool: "unknown",
    targets: [],
    asked: `requestState refused (${error instanceof Error ? error.message : "invalid"})`,
    reason: "requestState check",
    answer: "invalid",
  };
}
