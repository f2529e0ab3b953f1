/**
 * The first answer over stdio, given by main.ts before the server exists (SPEC §9).
 *
 * Clients time out their first request: the Vercel AI SDK waits 1 s for `server/discover` before it
 * falls back, and loading the SDK and the tools takes longer than that on a cold or busy machine. So
 * main.ts reads stdin itself from the start: while the server is loading it answers a well-formed
 * `initialize` or `server/discover` from plain data (server/identity.ts, no SDK import) and hands every
 * byte on, in order, to the Worker, whose transport drops its own answer to those ids (transport/stdio.ts).
 * Anything else — or anything unusual about those two — is left to the SDK, and from the first such
 * request on (its answer may be on its way) main.ts answers nothing more, so two writers never interleave.
 */
import { ADVERTISED_CAPABILITIES, INSTRUCTIONS, SERVER_NAME } from "../server/identity.ts";
import { VERSION } from "../version.ts";

/** `initialize` versions the SDK negotiates, preferred first (its SUPPORTED_PROTOCOL_VERSIONS). */
export const LEGACY_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", "2024-10-07"];
/** The per-request revision `server/discover` answers for. */
export const MODERN_VERSION = "2026-07-28";

const META = "io.modelcontextprotocol/";

type Id = string | number;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Client capabilities as the SDK accepts them without a doubt: an object of objects. */
function plainCapabilities(value: unknown): boolean {
  return isRecord(value) && Object.values(value).every(isRecord);
}

function plainClientInfo(value: unknown): boolean {
  return isRecord(value) && typeof value.name === "string" && typeof value.version === "string";
}

/**
 * The SDK's answer to `message`, byte for byte, when it is a well-formed `initialize` or
 * `server/discover`; `undefined` for anything else (the SDK answers it).
 *
 * @example
 * ```ts
 * earlyAnswer({ jsonrpc: "2.0", id: 1, method: "initialize", params: { ... } }); // '{"result":…,"id":1}\n'
 * ```
 */
export function earlyAnswer(message: unknown): { id: Id; line: string } | undefined {
  if (!isRecord(message) || message.jsonrpc !== "2.0") return undefined;
  const { id, method, params } = message;
  if (!(typeof id === "string" || (typeof id === "number" && Number.isInteger(id)))) return undefined;
  if (!isRecord(params)) return undefined;
  let result: Record<string, unknown>;
  if (method === "initialize") {
    const { protocolVersion, capabilities, clientInfo } = params;
    if (
      typeof protocolVersion !== "string" || !plainCapabilities(capabilities) || !plainClientInfo(clientInfo)
    ) {
      return undefined;
    }
    result = {
      protocolVersion: LEGACY_VERSIONS.includes(protocolVersion) ? protocolVersion : LEGACY_VERSIONS[0],
      capabilities: ADVERTISED_CAPABILITIES,
      serverInfo: { name: SERVER_NAME, version: VERSION },
      instructions: INSTRUCTIONS,
    };
  } else if (method === "server/discover") {
    const meta = params._meta;
    if (
      Object.keys(params).some((key) => key !== "_meta") || !isRecord(meta) ||
      meta[`${META}protocolVersion`] !== MODERN_VERSION ||
      !plainCapabilities(meta[`${META}clientCapabilities`]) || !plainClientInfo(meta[`${META}clientInfo`])
    ) {
      return undefined;
    }
    result = {
      supportedVersions: [MODERN_VERSION],
      capabilities: ADVERTISED_CAPABILITIES,
      instructions: INSTRUCTIONS,
      resultType: "complete",
      ttlMs: 0,
      cacheScope: "private",
      _meta: { [`${META}serverInfo`]: { name: SERVER_NAME, version: VERSION } },
    };
  } else {
    return undefined;
  }
  return { id, line: JSON.stringify({ result, jsonrpc: "2.0", id }) + "\n" };
}

/** What the relay hands the Worker: stdin bytes in order, and the ids answered already among them. */
export type StdinMessage =
  | { type: "stdin"; bytes: Uint8Array; answered: Id[] }
  | { type: "stdin-end" };

/** Longest line the relay looks into for an early answer (a handshake is far shorter). */
const MAX_EARLY_LINE = 64 * 1024;

/**
 * Reads stdin in main.ts from the start, answers the handshake early (see the module comment) and
 * forwards every byte to `deliver` — queued until {@link StdinRelay.attach} gives it.
 *
 * @example
 * ```ts
 * const relay = new StdinRelay(Deno.stdin, (line) => Deno.stdout.writeSync(line));
 * relay.start();
 * relay.attach((message) => worker.postMessage(message));
 * ```
 */
export class StdinRelay {
  #queue: StdinMessage[] = [];
  #deliver: ((message: StdinMessage) => void) | undefined;
  /** Still answering: no request has gone to the server that it may be answering now. */
  #early = true;
  #pending = "";
  #decoder = new TextDecoder();

  constructor(
    private readonly input: { readable: ReadableStream<Uint8Array> },
    private readonly write: (bytes: Uint8Array) => void,
  ) {}

  /** Starts reading; resolves at end of input. */
  async start(): Promise<void> {
    try {
      for await (const chunk of this.input.readable) this.#chunk(chunk);
    } catch {
      // A broken stdin ends the input like a closed one.
    }
    this.#send({ type: "stdin-end" });
  }

  /** Delivers what was queued, then every later message, to the server. */
  attach(deliver: (message: StdinMessage) => void): void {
    this.#deliver = deliver;
    for (const message of this.#queue.splice(0)) deliver(message);
  }

  /** The server answers from now on (it has said it is serving). */
  stopAnswering(): void {
    this.#early = false;
    this.#pending = "";
  }

  #chunk(bytes: Uint8Array): void {
    const answers: Array<{ id: Id; line: string; method: string }> = [];
    if (this.#early) {
      this.#pending += this.#decoder.decode(bytes, { stream: true });
      let newline: number;
      while (this.#early && (newline = this.#pending.indexOf("\n")) >= 0) {
        const line = this.#pending.slice(0, newline);
        this.#pending = this.#pending.slice(newline + 1);
        const answer = this.#line(line);
        if (answer !== undefined) answers.push(answer);
      }
      if (this.#pending.length > MAX_EARLY_LINE) this.stopAnswering();
    }
    // A probe read together with a later `initialize` was given up by the client (it fell back while we
    // were starting): answering it now would be an answer to an id it no longer knows.
    const fellBack = answers.findLastIndex((a) => a.method === "initialize");
    const given = answers.filter((a, i) => !(a.method === "server/discover" && i < fellBack));
    for (const answer of given) this.write(new TextEncoder().encode(answer.line));
    this.#send({ type: "stdin", bytes, answered: given.map((a) => a.id) });
  }

  #line(line: string): { id: Id; line: string; method: string } | undefined {
    if (line.trim() === "") return undefined;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      return void this.stopAnswering(); // the server answers the parse error
    }
    const early = earlyAnswer(message);
    if (early !== undefined) return { ...early, method: (message as { method: string }).method };
    if (!(isRecord(message) && typeof message.method === "string" && !("id" in message))) {
      this.stopAnswering(); // a request (or a batch, or a response) the server answers
    }
    return undefined;
  }

  #send(message: StdinMessage): void {
    if (this.#deliver === undefined) this.#queue.push(message);
    else this.#deliver(message);
  }
}
