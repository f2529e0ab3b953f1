/**
 * Run by retention_test.ts with `--expose-gc`: opens one connection, runs commands on it, and prints
 * how many of their finished processes (and 1 MiB outputs) the garbage collector could free while the
 * connection stays open. Arguments: host port user password count.
 */
import { openConnection } from "../../../src/ssh/client.ts";

const [host, port, username, password, count] = Deno.args;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");
const connection = await openConnection({
  host: host!,
  port: Number(port),
  username: username!,
  auth: [{ type: "password", password: password! }],
  checkHostKey: () => Promise.resolve(true),
  connectTimeoutMs: 10_000,
  keepaliveIntervalMs: 0,
  keepaliveCountMax: 3,
});
let freed = 0;
const registry = new FinalizationRegistry(() => void freed++);
for (let i = 0; i < Number(count); i++) {
  const process = await connection.exec("head -c 1048576 /dev/zero");
  const output: Uint8Array[] = [];
  process.stdout.on("data", (chunk: Uint8Array) => void output.push(chunk));
  process.stderr.resume();
  process.stdin.end();
  await process.done;
  registry.register(process, i);
  registry.register(output, -i - 1);
}
for (let i = 0; i < 5; i++) {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
console.log(JSON.stringify({ freed, alive: connection.alive }));
await connection.close();
