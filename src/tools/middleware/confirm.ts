/**
 * A human yes before risky work (`-confirm`, a policy rule's `confirm`; SPEC §11), through MCP
 * elicitation in both protocol eras: the wrapper returns `inputRequired(…)` with a signed
 * `requestState`; 2026-07-28 clients answer and retry, and for 2025-era sessions the SDK's shim sends
 * `elicitation/create` and re-enters the handler with the answer. Tools never ask themselves.
 *
 * Fail closed: a client that cannot elicit, a decline, a cancel, an answer that does not fit, and a
 * state that is stale, replayed, altered or expired all refuse the call, naming the flag or rule.
 * Unknown host keys (`host-key`) surface from the connection as a {@link HostKeyQuestion} before any
 * authentication; a yes records the key and the call runs again.
 */
import {
  acceptedContent,
  inputRequired,
  type InputRequiredResult,
  inputResponse,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { z } from "zod";
import type { ConfirmKind } from "../../config.ts";
import { RefusedError } from "../../errors.ts";
import { HostKeyQuestion, type PresentedHostKey } from "../../ssh/host_keys/confirm.ts";
import type { Connections } from "../../ssh/connection.ts";
import type { ApprovalAuditEntry, AuditSink } from "../audit.ts";
import { type Policy, ruleFor } from "../policy.ts";
import type { ApprovalQuestion, ApprovalState, ApprovalStates } from "./approval_state.ts";
import type { ToolCall, Wrapper } from "./call.ts";
import { approvalSchema, callQuestion, callSummary, hostKeyQuestion, hostKeySummary } from "./question.ts";
import { describeTarget, type GuardedTarget } from "./targets.ts";

/** Options of {@link withConfirm}. */
export interface ConfirmOptions {
  /** `-confirm`: what needs a yes where no policy rule says otherwise. */
  confirm: readonly ConfirmKind[];
  /** The policy file (a matching rule's `confirm` replaces `-confirm` for its hosts). */
  policy?: Policy;
  /** Mints and checks the signed states. */
  states: ApprovalStates;
  /** Where question and answer lines go. */
  audit: AuditSink;
  /** Whether the client of this request can answer a form elicitation. */
  canElicit: (ctx: ServerContext) => boolean;
  /** Records an approved host key in the writable known_hosts (as `accept-new` does). */
  recordHostKey: (key: PresentedHostKey) => Promise<void>;
}

/** Key of the one input request in an `inputRequired` result. */
const INPUT_KEY = "approval";

/** How many new host keys one call may run into (a jump chain). */
const MAX_HOST_KEYS = 8;

const AnswerSchema = z.object({ approve: z.boolean(), remember: z.boolean().optional() });

const NEXT_AFTER_NO =
  "Nothing ran. Do not repeat the call on your own: tell the human what you wanted to do and ask how to proceed.";

/** What the call is bound to, checked again on every round. */
interface Binding {
  principal: string;
  session: string;
  tool: string;
  digest: string;
  targets: string[];
}

function sourceOf(target: GuardedTarget | undefined, global: readonly ConfirmKind[], kind: ConfirmKind) {
  const rule = target?.rule;
  if (rule?.confirm !== undefined) {
    return rule.confirm.includes(kind) ? `${rule.name} (confirm ${kind})` : undefined;
  }
  return global.includes(kind) ? `-confirm ${kind}` : undefined;
}

/** Why this call needs a yes before it runs: one entry per flag or rule that asks. */
function callReasons(
  call: ToolCall,
  targets: readonly GuardedTarget[],
  global: readonly ConfirmKind[],
): string[] {
  const { tool, args } = call;
  const reasons = new Set<string>();
  const each: readonly (GuardedTarget | undefined)[] = targets.length === 0 ? [undefined] : targets;
  for (const target of each) {
    const writes = target?.writes ?? !tool.annotations.readOnlyHint;
    const applies: Record<Exclude<ConfirmKind, "host-key">, boolean> = {
      run: tool.name === "run",
      destructive: tool.annotations.destructiveHint && writes,
      sudo: args.sudo === true,
    };
    for (const kind of ["run", "destructive", "sudo"] as const) {
      const source = applies[kind] ? sourceOf(target, global, kind) : undefined;
      if (source !== undefined) reasons.add(source);
    }
  }
  return [...reasons];
}

/** Why a new host key needs a yes, or undefined when it is trusted as `accept-new` would. */
function hostKeyReason(key: PresentedHostKey, targets: readonly GuardedTarget[], options: ConfirmOptions) {
  const hop = ruleFor(options.policy, [key.host]);
  const candidates: readonly (GuardedTarget | undefined)[] = [
    ...(targets.length === 0 ? [undefined] : targets),
    ...(hop === undefined ? [] : [{ alias: key.host, names: [key.host], writes: false, rule: hop }]),
  ];
  for (const target of candidates) {
    const source = sourceOf(target, options.confirm, "host-key");
    if (source !== undefined) return source;
  }
  return undefined;
}

function presentedIn(error: unknown): PresentedHostKey | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof HostKeyQuestion) return e.presented;
  }
  return undefined;
}

function sameBinding(state: ApprovalState, binding: Binding): boolean {
  return state.principal === binding.principal && state.session === binding.session &&
    state.tool === binding.tool && state.digest === binding.digest &&
    JSON.stringify(state.targets) === JSON.stringify(binding.targets);
}

/** Puts a yes/no question before the human for risky calls and new host keys. */
export function withConfirm(options: ConfirmOptions): Wrapper {
  const remembered = new WeakMap<Connections, Set<string>>();

  const audit = (
    call: ToolCall,
    binding: Binding,
    entry: Pick<ApprovalAuditEntry, "event" | "asked" | "reason" | "answer" | "remember">,
  ) =>
    options.audit.write({
      time: new Date().toISOString(),
      principal: binding.principal,
      session: binding.session,
      tool: call.tool.name,
      targets: binding.targets,
      ...entry,
    });

  const subject = (call: ToolCall, binding: Binding) =>
    `"${call.tool.name}"${binding.targets.length === 0 ? "" : ` on ${binding.targets.join(", ")}`}`;

  /** Reads the answer carried by a retry; returns whether the call itself is approved. */
  async function resume(call: ToolCall, binding: Binding): Promise<{ call: boolean; remember: boolean }> {
    const state = call.sdk.mcpReq.requestState<ApprovalState>();
    if (state === undefined) return { call: false, remember: false };
    const question = state.question;
    const about = { asked: question?.asked ?? "?", reason: question?.reason ?? "?" };
    if (typeof state !== "object" || !sameBinding(state, binding)) {
      audit(call, binding, { event: "answer", ...about, answer: "stale" });
      throw new RefusedError(
        `Cannot accept the answer for ${subject(call, binding)}: it was given for another call, session or ` +
          `connection (or the arguments changed)`,
        {
          rule: about.reason,
          hint: "Call the tool again with the arguments you want; the human will be asked.",
        },
      );
    }
    if (!options.states.spend(state)) {
      audit(call, binding, { event: "answer", ...about, answer: "replayed" });
      throw new RefusedError(`Cannot accept the answer for ${subject(call, binding)}: it was already used`, {
        rule: about.reason,
        hint: "Each answer is good for one call. Call the tool again; the human will be asked.",
      });
    }
    const responses = call.sdk.mcpReq.inputResponses;
    const view = inputResponse(responses, INPUT_KEY);
    const content = acceptedContent(responses, INPUT_KEY, AnswerSchema);
    const action = view.kind === "elicit" ? view.action : undefined;
    if (action !== "accept" || content?.approve !== true) {
      const answer = action === "decline" || (action === "accept" && content?.approve === false)
        ? "decline"
        : action === "cancel"
        ? "cancel"
        : "invalid";
      audit(call, binding, { event: "answer", ...about, answer });
      const what = answer === "decline"
        ? "the human said no"
        : answer === "cancel"
        ? "the human dismissed the question"
        : "the answer did not approve it";
      throw new RefusedError(
        `Refused ${subject(call, binding)}: ${what} (asked because of ${question.reason})`,
        { rule: question.reason, hint: NEXT_AFTER_NO },
      );
    }
    const remember = question.kind === "call" && content.remember === true;
    audit(call, binding, { event: "answer", ...about, answer: "accept", ...(remember ? { remember } : {}) });
    if (question.kind === "host-key") await options.recordHostKey(question.key);
    return { call: state.approved.call || question.kind === "call", remember };
  }

  async function ask(
    call: ToolCall,
    binding: Binding,
    approved: { call: boolean },
    question: ApprovalQuestion & { message: string; remember: boolean },
  ): Promise<InputRequiredResult> {
    const { message, remember, ...asked } = question;
    audit(call, binding, { event: "question", asked: asked.asked, reason: asked.reason });
    if (!options.canElicit(call.sdk)) {
      audit(call, binding, {
        event: "answer",
        asked: asked.asked,
        reason: asked.reason,
        answer: "unanswerable",
      });
      throw new RefusedError(
        `Refused ${subject(call, binding)}: ${asked.reason} requires a human yes first, and this client ` +
          `cannot ask one (it did not declare the elicitation capability)`,
        {
          rule: asked.reason,
          hint: "Use an MCP client that supports elicitation (form mode), or ask the operator to change " +
            "-confirm or the -policy file. Nothing ran.",
        },
      );
    }
    const requestState = await options.states.mint({ ...binding, approved, question: asked }, call.sdk);
    return inputRequired({
      inputRequests: {
        [INPUT_KEY]: inputRequired.elicit({ message, requestedSchema: approvalSchema(remember) }),
      },
      requestState,
    });
  }

  return (next) => async (call) => {
    const scope = call.scope!;
    const targets = call.targets ?? [];
    const binding: Binding = {
      principal: scope.caller.principal,
      session: scope.caller.sessionId,
      tool: call.tool.name,
      digest: await options.states.digest(call.args),
      targets: targets.map(describeTarget),
    };
    const resumed = await resume(call, binding);
    const memoKey = `${binding.tool}\0${binding.digest}\0${binding.targets.join("\0")}`;
    let memo = remembered.get(scope.connections);
    if (resumed.remember) {
      if (memo === undefined) remembered.set(scope.connections, memo = new Set());
      memo.add(memoKey);
    }
    const reasons = callReasons(call, targets, options.confirm);
    const details = { tool: call.tool, args: call.args, targets, reasons };
    if (reasons.length > 0 && !resumed.call) {
      if (memo?.has(memoKey)) {
        audit(call, binding, {
          event: "answer",
          asked: callSummary(details),
          reason: reasons.join("; "),
          answer: "remembered",
        });
      } else {
        return await ask(call, binding, { call: false }, {
          kind: "call",
          reason: reasons.join("; "),
          asked: callSummary(details),
          message: callQuestion(details),
          remember: true,
        });
      }
    }
    // Tools open their connections before they act, so a call stopped at a new host key has done
    // nothing yet and may run again once the key is settled.
    for (let keys = 0;; keys++) {
      try {
        return await next(call);
      } catch (error) {
        const key = presentedIn(error);
        if (key === undefined || keys >= MAX_HOST_KEYS) throw error;
        const reason = hostKeyReason(key, targets, options);
        if (reason === undefined) {
          await options.recordHostKey(key);
          continue;
        }
        return await ask(call, binding, { call: reasons.length > 0 }, {
          kind: "host-key",
          reason,
          asked: hostKeySummary(key),
          key,
          message: hostKeyQuestion(key, reason, targets),
          remember: false,
        });
      }
    }
  };
}
