/**
 * The per-host policy (`-policy`, SPEC §11) applied to a call before anything runs: the rule of each
 * connection the call acts on (first match wins) may make it read-only, narrow its toolsets, limit
 * `run` to allowed command lines and cap deadlines. Refusals name the rule. The matched targets are
 * left on the call for the confirm wrapper.
 */
import { RefusedError } from "../../errors.ts";
import type { ToolsetName } from "../define.ts";
import { type HostRule, type Policy, ruleFor } from "../policy.ts";
import type { ToolCall, Wrapper } from "./call.ts";
import { describeTarget, type GuardedTarget, resolveTargets } from "./targets.ts";

/** Options of {@link withPolicy}. */
export interface PolicyOptions {
  /** The parsed policy file (absent: no rules; targets are still resolved for the confirm wrapper). */
  policy?: Policy;
  /** The toolset a tool belongs to. */
  toolsetOf: (toolName: string) => ToolsetName | undefined;
}

function refuse(call: ToolCall, target: GuardedTarget, rule: HostRule, why: string, hint: string): never {
  throw new RefusedError(
    `Cannot run "${call.tool.name}" on ${describeTarget(target)}: ${rule.name} ${why}`,
    { rule: rule.name, hint },
  );
}

function enforce(call: ToolCall, target: GuardedTarget, options: PolicyOptions): void {
  const { rule } = target;
  if (rule === undefined) return;
  const { tool, args } = call;
  if (rule.readOnly && target.writes) {
    refuse(
      call,
      target,
      rule,
      "makes it read-only",
      "Use read-only tools (read, list_dir, logs, …) there, or a connection the policy lets you change.",
    );
  }
  const toolset = options.toolsetOf(tool.name);
  // `connect` stays allowed: a host must be reachable for the tools the rule does allow.
  if (rule.toolsets !== undefined && tool.name !== "connect" && !rule.toolsets.includes(toolset!)) {
    refuse(
      call,
      target,
      rule,
      `allows only the ${rule.toolsets.join(", ")} toolsets there (this tool is in ${toolset})`,
      "Use a tool of an allowed toolset on that connection.",
    );
  }
  if (rule.allowCommands !== undefined && tool.name === "run") {
    const command = String(args.command);
    if (!rule.allowCommands.some((c) => c.regex.test(command))) {
      refuse(
        call,
        target,
        rule,
        `allows only commands matching ${rule.allowCommands.map((c) => c.pattern).join(" or ")}`,
        "Run one of the allowed command lines exactly (the whole line must match), or ask the operator.",
      );
    }
  }
  if (rule.maxTimeoutSeconds !== undefined) {
    const asked = typeof args.timeout === "number" ? args.timeout : undefined;
    if (asked !== undefined && asked > rule.maxTimeoutSeconds) {
      refuse(
        call,
        target,
        rule,
        `allows at most timeout ${rule.maxTimeoutSeconds} s there (asked ${asked} s)`,
        `Pass a timeout of at most ${rule.maxTimeoutSeconds} s.`,
      );
    }
    const maxMs = Math.min(call.limits.maxCommandTimeoutMs, rule.maxTimeoutSeconds * 1000);
    call.limits = {
      ...call.limits,
      maxCommandTimeoutMs: maxMs,
      commandTimeoutMs: Math.min(call.limits.commandTimeoutMs, maxMs),
    };
  }
}

/** Resolves the call's targets, matches their rules and refuses what the rules forbid. */
export function withPolicy(options: PolicyOptions): Wrapper {
  return (next) => (call) => {
    const targets: GuardedTarget[] = resolveTargets(call.tool, call.args, call.scope!.connections).map(
      (target) => {
        const rule = ruleFor(options.policy, target.names);
        return rule === undefined ? target : { ...target, rule };
      },
    );
    for (const target of targets) enforce(call, target, options);
    call.targets = targets;
    return next(call);
  };
}
