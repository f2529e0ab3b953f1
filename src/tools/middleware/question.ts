/**
 * The words of an approval question: exactly what will happen (tool, connections with
 * `user@host:port`, command text, sudo, paths, host-key fingerprint) and never a secret (passwords,
 * passphrases, stdin and environment values are named, not shown). Pure.
 */
import type { PresentedHostKey } from "../../ssh/host_keys/confirm.ts";
import type { ToolDefinition } from "../define.ts";
import { type CallTarget, describeTarget } from "./targets.ts";

/** Arguments whose values are never shown: credentials, and what the tools document as the secret channels. */
const HIDDEN: Readonly<Record<string, string>> = {
  password: "given, not shown",
  passphrase: "given, not shown",
  sudo_password: "given, not shown",
};

/** Longest argument value shown in full; longer ones are cut and identified by length. */
const MAX_SHOWN = 8000;

/** The answer form: one boolean, plus "remember" where remembering is safe. */
export function approvalSchema(remember: boolean) {
  return {
    type: "object" as const,
    properties: {
      approve: {
        type: "boolean" as const,
        title: "Approve",
        description: "Yes runs exactly what is shown; no refuses the call.",
      },
      ...(remember
        ? {
          remember: {
            type: "boolean" as const,
            title: "Remember for this session",
            description:
              "Approve the same tool with the same arguments on the same connection again without asking.",
            default: false,
          },
        }
        : {}),
    },
    required: ["approve"],
  };
}

function shown(value: string): string {
  return value.length <= MAX_SHOWN
    ? value
    : `${value.slice(0, MAX_SHOWN)}… [cut: ${value.length} characters in all, the rest not shown]`;
}

function describeValue(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (name in HIDDEN) return HIDDEN[name];
  if (name === "stdin" && typeof value === "string") {
    return `${new TextEncoder().encode(value).length} bytes (not shown)`;
  }
  if (name === "env" && typeof value === "object" && value !== null) {
    return `${Object.keys(value).join(", ")} (values not shown)`;
  }
  if (typeof value === "string") return value.includes("\n") ? `\n${shown(value)}` : shown(value);
  return shown(JSON.stringify(value));
}

/** One `name: value` line per argument that says what will happen (connections are listed apart). */
function argumentLines(tool: ToolDefinition, args: Record<string, unknown>): string[] {
  const lines: string[] = [];
  for (const name of Object.keys(tool.input.shape)) {
    if (name === "target" || (name === "sudo" && args.sudo === true)) continue;
    const text = describeValue(name, args[name]);
    if (text !== undefined) lines.push(`${name}: ${text}`);
  }
  if (args.sudo === true) lines.push("sudo: YES — runs as root");
  return lines;
}

/** Options of {@link callQuestion}. */
export interface CallQuestion {
  /** The tool. */
  tool: ToolDefinition;
  /** Its arguments (default target pinned). */
  args: Record<string, unknown>;
  /** Connections it acts on. */
  targets: readonly CallTarget[];
  /** The flags/rules that ask, e.g. `-confirm run`. */
  reasons: readonly string[];
}

/** The elicitation message for approving a call. */
export function callQuestion(question: CallQuestion): string {
  const { tool, args, targets, reasons } = question;
  const on = targets.length === 0 ? "" : ` on ${targets.map(describeTarget).join(" → ")}`;
  return [
    `Approve "${tool.name}" (${tool.title})${on}?`,
    `Asked because of ${reasons.join("; ")}.`,
    "",
    ...argumentLines(tool, args),
    "",
    "Yes runs exactly this once; no refuses the call and nothing runs.",
  ].join("\n");
}

/** The one-line summary of a call question for the audit log. */
export function callSummary(question: CallQuestion): string {
  const { tool, args, targets } = question;
  const main = typeof args.command === "string"
    ? args.command
    : typeof args.path === "string"
    ? args.path
    : typeof args.dest_path === "string"
    ? `${args.source_path} → ${args.dest_path}`
    : "";
  const line =
    `${tool.name}${main ? ` ${JSON.stringify(main)}` : ""}${args.sudo === true ? " with sudo" : ""}` +
    (targets.length === 0 ? "" : ` on ${targets.map(describeTarget).join(", ")}`);
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/** The elicitation message for trusting a new host key. */
export function hostKeyQuestion(
  key: PresentedHostKey,
  reason: string,
  targets: readonly CallTarget[],
): string {
  const forWhat = targets.length === 0 ? "" : ` (on the way to ${targets.map(describeTarget).join(", ")})`;
  return [
    `Trust the new host key of ${key.host} port ${key.port}${forWhat}?`,
    `Asked because of ${reason}.`,
    "",
    `Key type: ${key.keyType}`,
    `Fingerprint: ${key.fingerprint}`,
    "",
    "No known_hosts file has a key for this host. Nothing has been sent to it yet: no authentication is " +
    "attempted before your answer. Compare the fingerprint with one obtained out of band (for example " +
    "`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on the host).",
    "Yes records the key (as -host-keys accept-new would) and connects; no refuses the connection.",
  ].join("\n");
}

/** The one-line summary of a host-key question for the audit log. */
export function hostKeySummary(key: PresentedHostKey): string {
  return `host key of ${key.host}:${key.port} ${key.keyType} ${key.fingerprint}`;
}
