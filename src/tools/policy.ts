/**
 * The per-host policy file (`-policy`, SPEC §11): rules chosen by a glob over the connection's alias,
 * `user@host` and host name, first match wins. A rule can make a host read-only, ask for a human yes
 * (`confirm`), narrow the toolsets, limit `run` to allowed command lines and cap deadlines.
 *
 * Parsing is pure: `main.ts` reads the file and hands the text in; every mistake stops start-up with
 * one line naming the file, the JSON path and what is allowed.
 */
import { z } from "zod";
import { CONFIRM_KINDS, type ConfirmKind, TOOLSET_NAMES } from "../config.ts";
import { wildcardMatch } from "../ssh/config/match.ts";
import type { ToolsetName } from "./define.ts";

/** One rule of the policy file, validated. */
export interface HostRule {
  /** Position in `hosts`, from 0. */
  readonly index: number;
  /** The glob that selects it. */
  readonly match: string;
  /** How messages name it, e.g. `policy rule hosts[0] "prod-*"`. */
  readonly name: string;
  /** Only read-only tools may act on matching connections. */
  readonly readOnly: boolean;
  /** What needs a human yes on matching connections; replaces `-confirm` there when present. */
  readonly confirm?: readonly ConfirmKind[];
  /** Toolsets whose tools may act on matching connections (all when absent). */
  readonly toolsets?: readonly ToolsetName[];
  /** `run` is limited to command lines matching one of these, whole (absent: any command). */
  readonly allowCommands?: readonly AllowedCommand[];
  /** Largest deadline a call may ask for on matching connections, seconds. */
  readonly maxTimeoutSeconds?: number;
}

/** One `allow_commands` entry. */
export interface AllowedCommand {
  /** As written in the file. */
  readonly pattern: string;
  /** Compiled to match the whole command line. */
  readonly regex: RegExp;
}

/** A parsed policy file. */
export interface Policy {
  /** Path it was read from (for messages). */
  readonly file: string;
  /** Rules in file order. */
  readonly rules: readonly HostRule[];
}

/** The policy file is not valid JSON or does not follow the schema; the message is one line. */
export class PolicyError extends Error {
  /** The file at fault. */
  readonly file: string;
  /** JSON path of the first mistake, e.g. `$.hosts[0].confirm[1]` (`$` for the whole document). */
  readonly path: string;

  constructor(file: string, path: string, message: string) {
    super(message);
    this.name = "PolicyError";
    this.file = file;
    this.path = path;
  }
}

const RULE_KEYS = ["match", "read_only", "confirm", "toolsets", "allow_commands", "max_timeout"];

const compiles = (pattern: string) => {
  try {
    anchored(pattern);
    return true;
  } catch {
    return false;
  }
};

const RuleSchema = z.strictObject({
  match: z.string().min(1).max(255),
  read_only: z.boolean().optional(),
  confirm: z.array(z.enum(CONFIRM_KINDS)).optional(),
  toolsets: z.array(z.enum(TOOLSET_NAMES)).optional(),
  allow_commands: z.array(
    z.string().min(1).max(4096).refine(compiles, {
      message: "not a valid regular expression (JavaScript syntax, e.g. ^systemctl status [a-z0-9@._-]+$)",
    }),
  ).optional(),
  max_timeout: z.number().int().min(1).max(86_400).optional(),
});

const PolicySchema = z.strictObject({ hosts: z.array(RuleSchema) });

/** Compiles an allowlist entry so that it must match the whole command line. */
function anchored(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, "u");
}

function jsonPath(path: readonly PropertyKey[]): string {
  return "$" + path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`).join("");
}

const EXPECTED: Record<string, string> = {
  $: 'a JSON object like {"hosts":[{"match":"prod-*","read_only":true}]}',
  hosts: "a JSON array of rules",
  match: "a glob such as prod-* (matched against alias, user@host and host name), 1 to 255 characters",
  read_only: "true or false",
  confirm: `a JSON array of ${CONFIRM_KINDS.join(", ")}`,
  toolsets: `a JSON array of ${TOOLSET_NAMES.join(", ")}`,
  allow_commands: "a JSON array of regular expressions, each matched against the whole command line",
  max_timeout: "an integer number of seconds from 1 to 86400",
};

function describeIssue(issue: z.core.$ZodIssue): string {
  const field = [...issue.path].reverse().find((p) => typeof p === "string") ?? "$";
  const missing = issue.code === "invalid_type" && /received undefined/.test(issue.message);
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = issue.path.length === 0 ? ["hosts"] : RULE_KEYS;
      return `unknown key ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}: allowed keys are ${
        allowed.join(", ")
      }`;
    }
    case "invalid_value":
      return `expected one of ${issue.values.map(String).join(", ")}`;
    case "custom":
      return issue.message;
    default:
      return `${missing ? "missing; " : ""}expected ${EXPECTED[String(field)] ?? issue.message}`;
  }
}

/**
 * Parses and validates a policy file's text.
 *
 * @throws {PolicyError} naming the file, the JSON path and what is allowed.
 *
 * @example
 * ```ts
 * const policy = parsePolicy('{"hosts":[{"match":"prod-*","read_only":true}]}', "policy.json");
 * ruleFor(policy, ["prod-db"])?.readOnly; // true
 * ```
 */
export function parsePolicy(text: string, file: string): Policy {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PolicyError(
      file,
      "$",
      `Cannot parse policy file ${file}: not JSON (${(error as Error).message}); expected ` +
        `{"hosts":[{"match":"prod-*","read_only":true,"confirm":["run"]}]}`,
    );
  }
  const parsed = PolicySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = jsonPath(issue.path);
    throw new PolicyError(file, path, `Invalid policy file ${file} at ${path}: ${describeIssue(issue)}`);
  }
  const rules = parsed.data.hosts.map((rule, index): HostRule =>
    Object.freeze({
      index,
      match: rule.match,
      name: `policy rule hosts[${index}] ${JSON.stringify(rule.match)}`,
      readOnly: rule.read_only ?? false,
      ...(rule.confirm === undefined
        ? {}
        : { confirm: Object.freeze(CONFIRM_KINDS.filter((k) => rule.confirm!.includes(k))) }),
      ...(rule.toolsets === undefined ? {} : { toolsets: Object.freeze([...new Set(rule.toolsets)]) }),
      ...(rule.allow_commands === undefined ? {} : {
        allowCommands: Object.freeze(
          rule.allow_commands.map((pattern) => Object.freeze({ pattern, regex: anchored(pattern) })),
        ),
      }),
      ...(rule.max_timeout === undefined ? {} : { maxTimeoutSeconds: rule.max_timeout }),
    })
  );
  return Object.freeze({ file, rules: Object.freeze(rules) });
}

/**
 * The first rule whose glob matches one of `names` (alias, `user@host`, host name), or `undefined`.
 * Matching ignores case: `*` is any run of characters, `?` exactly one.
 */
export function ruleFor(policy: Policy | undefined, names: readonly string[]): HostRule | undefined {
  if (policy === undefined) return undefined;
  const subjects = names.filter((n) => n !== "").map((n) => n.toLowerCase());
  return policy.rules.find((rule) => subjects.some((s) => wildcardMatch(rule.match.toLowerCase(), s)));
}
