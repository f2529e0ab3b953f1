/**
 * A {@link JobShell} over plain exec channels: each job script is one exec request to the login shell,
 * its stdout collected as bytes. Used where no warm shell is at hand, and by the store's tests.
 */
import { Buffer } from "node:buffer";
import { SshError } from "../../errors.ts";
import type { RemoteProcess, SshConnection } from "../connection.ts";
import type { JobShell, JobShellOptions } from "./store.ts";

/** Most bytes a job script may answer (two pages plus records; a listing of many jobs). */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * Job scripts over exec channels of `connection`.
 *
 * @example
 * ```ts
 * const store = new JobStore(execShell(connection));
 * ```
 */
export function execShell(connection: SshConnection): JobShell {
  return {
    async run(script, options) {
      options.signal?.throwIfAborted();
      const process = await connection.exec(script.text, { signal: options.signal });
      return await collectAnswer(process, options);
    },
  };
}

/**
 * Feeds a job script's channel its stdin and collects its stdout; rejects when the deadline passes,
 * `signal` aborts (the channel is closed) or the link drops.
 */
export function collectAnswer(process: RemoteProcess, options: JobShellOptions): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error: unknown, value?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (error !== undefined) {
        process.close();
        reject(error);
      } else resolve(value!);
    };
    const onAbort = () => finish(options.signal!.reason);
    const timer = setTimeout(
      () =>
        finish(
          new SshError("channel_failed", `A job script got no answer within ${options.timeoutMs} ms`),
        ),
      options.timeoutMs,
    );
    options.signal?.addEventListener("abort", onAbort, { once: true });
    process.stdout.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) return finish(new Error("A job script answered more than 32 MiB"));
      chunks.push(chunk);
    });
    process.stderr.resume();
    process.stdin.on("error", () => {});
    if (options.stdin !== undefined) process.stdin.end(Buffer.from(options.stdin));
    else process.stdin.end();
    process.done.then(({ code, signal }) => {
      if (code === null && signal === null) {
        return finish(new SshError("connection_lost", "The connection dropped while a job script ran"));
      }
      finish(undefined, new Uint8Array(Buffer.concat(chunks)));
    });
  });
}
