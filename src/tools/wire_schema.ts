/**
 * How the zod schemas of tools (and prompts) reach the wire.
 *
 * - Inputs are strict: an unknown argument is refused with a message that names it and the accepted
 *   ones (a model that sends `run{targets: […]}` must not believe it ran on several hosts), and the
 *   JSON Schema says `additionalProperties: false`.
 * - JSON Schema is written in the portable form strict validators accept: zod writes a nullable
 *   scalar as a `type` array (`["string","null"]`), which clients that map schemas onto a
 *   single-`type` dialect reject; it becomes `anyOf` branches with one `type` each.
 *
 * Validation stays zod's; only the unknown-argument check runs first, to word its message.
 */
import type { StandardSchemaWithJSON } from "@modelcontextprotocol/server";
import type { z } from "zod";

// deno-lint-ignore no-explicit-any
type AnyObject = z.ZodObject<any>;
type Json = Record<string, unknown>;
type Issue = { message: string; path?: ReadonlyArray<PropertyKey> };
type Validation = { value: unknown } | { issues: ReadonlyArray<Issue> };

/** What a strict input belongs to, for messages: `tool "run"`, `prompt "diagnose_slow_host"`. */
export interface StrictInputOptions {
  /** `"tool"` or `"prompt"`. */
  kind: "tool" | "prompt";
  /** Its name. */
  name: string;
}

/** The argument names a strict object accepts, in declaration order. */
export function acceptedArguments(schema: AnyObject): string[] {
  return Object.keys(schema.shape);
}

/**
 * The message for unknown arguments, or `undefined` when there are none.
 *
 * @example
 * ```ts
 * unknownArgumentsMessage(z.object({ target: z.string() }), { targets: [] }, { kind: "tool", name: "run" });
 * // 'Unknown argument "targets" for tool "run" (did you mean "target"?). Accepted arguments: target. …'
 * ```
 */
export function unknownArgumentsMessage(
  schema: AnyObject,
  value: unknown,
  owner: StrictInputOptions,
): string | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const accepted = acceptedArguments(schema);
  const unknown = Object.keys(value).filter((key) => !accepted.includes(key));
  if (unknown.length === 0) return undefined;
  const named = unknown.map((key) => {
    const near = closest(key, accepted);
    return `"${key}"${near === undefined ? "" : ` (did you mean "${near}"?)`}`;
  });
  const list = accepted.length === 0 ? "none" : accepted.join(", ");
  return `Unknown argument${unknown.length === 1 ? "" : "s"} ${named.join(", ")} for ${owner.kind} ` +
    `"${owner.name}". Accepted arguments: ${list}. Nothing was done: call again without ${
      unknown.length === 1 ? "it" : "them"
    } (or with the right name).`;
}

/**
 * A tool's (or prompt's) input schema for the SDK: strict, with the worded unknown-argument error and
 * portable JSON Schema.
 */
export function strictInput(schema: AnyObject, owner: StrictInputOptions): StandardSchemaWithJSON {
  const strict = schema.strict();
  const standard = strict["~standard"];
  return wrap(standard, (value) => {
    const message = unknownArgumentsMessage(schema, value, owner);
    return message === undefined ? undefined : { issues: [{ message }] };
  });
}

/** An output schema for the SDK: zod's validation, portable JSON Schema. */
export function portableOutput(schema: AnyObject): StandardSchemaWithJSON {
  return wrap(schema["~standard"], () => undefined);
}

function wrap(
  standard: AnyObject["~standard"],
  precheck: (value: unknown) => Validation | undefined,
): StandardSchemaWithJSON {
  const validate = (value: unknown) => precheck(value) ?? standard.validate(value);
  // Every server instance (one per legacy session, per modern request) asks for the JSON Schema of
  // every tool: converted once per target, then shared (frozen, so no instance can change another's).
  const converted = new Map<string, Record<string, unknown>>();
  const once = (
    side: "input" | "output",
    options: Parameters<AnyObject["~standard"]["jsonSchema"]["input"]>[0],
  ) => {
    const key = `${side} ${JSON.stringify(options)}`;
    let json = converted.get(key);
    if (json === undefined) {
      json = deepFreeze(portableJsonSchema(standard.jsonSchema[side](options)));
      converted.set(key, json);
    }
    return json;
  };
  return {
    "~standard": {
      version: 1,
      vendor: "ssh-mcp",
      validate: validate as StandardSchemaWithJSON["~standard"]["validate"],
      jsonSchema: {
        input: (options) => once("input", options),
        output: (options) => once("output", options),
      },
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Keywords whose value is one schema. */
const SCHEMA_KEYS = [
  "items",
  "additionalProperties",
  "propertyNames",
  "contains",
  "not",
  "if",
  "then",
  "else",
  "unevaluatedProperties",
  "unevaluatedItems",
];
/** Keywords whose value is a list of schemas. */
const SCHEMA_LIST_KEYS = ["anyOf", "oneOf", "allOf", "prefixItems"];
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAP_KEYS = ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"];
/** Keywords that describe a schema rather than constrain its type: they stay outside `anyOf`. */
const ANNOTATION_KEYS = new Set([
  "$schema",
  "$id",
  "title",
  "description",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
]);

/**
 * Rewrites every `type` array into `anyOf` branches with a single `type` each (annotations stay on the
 * outer schema, type-specific keywords go with their type). Returns a new object.
 *
 * @example
 * ```ts
 * portableJsonSchema({ description: "d", type: ["string", "null"], minLength: 1 });
 * // { description: "d", anyOf: [{ type: "string", minLength: 1 }, { type: "null" }] }
 * ```
 */
export function portableJsonSchema(schema: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    // `{}` accepts anything, as `true` does; strict validators flag the object spelling as a schema
    // that constrains nothing, so a free-form object says `additionalProperties: true`.
    if (key === "additionalProperties" && isObject(value) && Object.keys(value).length === 0) out[key] = true;
    else if (SCHEMA_KEYS.includes(key) && isObject(value)) out[key] = portableJsonSchema(value);
    else if (SCHEMA_LIST_KEYS.includes(key) && Array.isArray(value)) {
      out[key] = value.map((v) => (isObject(v) ? portableJsonSchema(v) : v));
    } else if (SCHEMA_MAP_KEYS.includes(key) && isObject(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, isObject(v) ? portableJsonSchema(v) : v]),
      );
    } else out[key] = value;
  }
  if (!Array.isArray(out.type)) return out;
  const types = out.type as unknown[];
  if (types.length === 1) return { ...out, type: types[0] };
  const outer: Json = {};
  const inner: Json = {};
  for (const [key, value] of Object.entries(out)) {
    if (key === "type") continue;
    if (ANNOTATION_KEYS.has(key)) outer[key] = value;
    else inner[key] = value;
  }
  const branches = types.map((type) => (type === "null" ? { type } : { type, ...inner }));
  const existing = outer.anyOf;
  if (existing === undefined) return { ...outer, anyOf: branches };
  // Already an anyOf beside the type array: both must hold.
  return { ...outer, allOf: [{ anyOf: existing }, { anyOf: branches }] };
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The accepted name closest to a typo (edit distance ≤ 2, or one contains the other). */
function closest(key: string, accepted: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  const lower = key.toLowerCase();
  for (const name of accepted) {
    const contains = Math.min(lower.length, name.length) >= 4 &&
      (lower.includes(name) || name.includes(lower));
    const d = contains ? 1 : distance(lower, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}
