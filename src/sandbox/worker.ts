/**
 * The two ends of the sandbox Worker. `runSandboxed` (main.ts, wide permissions) starts the server
 * module in a Worker with the plan's narrow permissions, hands it its start message, and resolves with
 * the exit code the server reports. `serveSandboxed` (the server module) waits for that message, runs
 * the server, and reports its exit code; `exitSandboxed` reports one early (a shutdown that hangs).
 *
 * Messages: parent → Worker `{ type: "start", payload }` once; Worker → parent `{ type: "exit", code }`;
 * after the start, any other message both ways through `channel` / `onParentMessage` / `postToParent`.
 */
import { ConfigError } from "../config.ts";

/** The Worker's side of the message channel. */
interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;

/** Options of {@link runSandboxed}. */
export interface RunSandboxedOptions<T> {
  /** Permissions of the Worker (from `planSandbox`). */
  permissions: Deno.PermissionOptionsObject;
  /** Start message payload: structured-cloneable data only. */
  payload: T;
  /**
   * More messages both ways after the start message (the stdio relay, transport/early.ts): `open` gets
   * the sender once the start message is posted; `receive` gets what the server sends other than its
   * exit code ({@link postToParent}).
   */
  channel?: {
    open: (post: (message: unknown) => void) => void;
    receive: (message: unknown) => void;
  };
}

/**
 * Runs `module` in a Worker with `options.permissions` and resolves with the exit code it reports.
 * An uncaught error in the Worker ends the process as one in the main thread would.
 *
 * @throws {ConfigError} when this process may not read the module (it was started with path-limited
 * `--allow-read` flags that leave out the program itself).
 *
 * @example
 * ```ts
 * Deno.exit(await runSandboxed(new URL("./src/serve.ts", import.meta.url), { permissions, payload }));
 * ```
 */
export async function runSandboxed<T>(module: URL, options: RunSandboxedOptions<T>): Promise<number> {
  if (
    module.protocol === "file:" &&
    (await Deno.permissions.query({ name: "read", path: module })).state !== "granted"
  ) {
    throw new ConfigError(
      "",
      `Cannot start the server: this process has no Deno permission to read its own module ` +
        `${JSON.stringify(module.pathname)}; start ssh-mcp with the flags of \`deno task start\``,
    );
  }
  const worker = new Worker(module, {
    type: "module",
    name: "ssh-mcp",
    deno: { permissions: options.permissions },
  });
  const code = await new Promise<number>((resolve) => {
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as { type?: unknown; code?: unknown } | null;
      if (data?.type === "exit" && typeof data.code === "number" && Number.isInteger(data.code)) {
        resolve(data.code);
      } else options.channel?.receive(event.data);
    };
    worker.postMessage({ type: "start", payload: options.payload });
    options.channel?.open((message) => worker.postMessage(message));
  });
  worker.terminate();
  return code;
}

/**
 * In the Worker: waits for the start message, runs `serve` with its payload and reports the code.
 *
 * @example
 * ```ts
 * serveSandboxed<Payload>(async (payload) => { ...; return 0; });
 * ```
 */
export function serveSandboxed<T>(serve: (payload: T) => Promise<number>): void {
  scope.onmessage = (event: MessageEvent) => {
    const data = event.data as { type?: unknown; payload?: T } | null;
    if (data?.type !== "start") return;
    scope.onmessage = (later: MessageEvent) => {
      if (inbox === undefined) queued.push(later.data);
      else inbox(later.data);
    };
    serve(data.payload as T).then(exitSandboxed, (error) => {
      // Rethrown outside the promise so it is an uncaught error of the Worker, stack trace included.
      setTimeout(() => {
        throw error;
      });
    });
  };
}

let inbox: ((message: unknown) => void) | undefined;
const queued: unknown[] = [];

/**
 * In the Worker: receives the parent's messages after the start message (those sent before this call
 * are delivered first, in order).
 *
 * @example
 * ```ts
 * onParentMessage((message) => console.log(message));
 * ```
 */
export function onParentMessage(handler: (message: unknown) => void): void {
  inbox = handler;
  for (const message of queued.splice(0)) handler(message);
}

/**
 * In the Worker: sends `message` to the parent's `channel.receive`.
 *
 * @example
 * ```ts
 * postToParent({ type: "stdio-ready" });
 * ```
 */
export function postToParent(message: unknown): void {
  scope.postMessage(message);
}

/**
 * In the Worker: reports `code` to the parent, which exits the process with it.
 *
 * @example
 * ```ts
 * exitSandboxed(1);
 * ```
 */
export function exitSandboxed(code: number): void {
  scope.postMessage({ type: "exit", code });
}
