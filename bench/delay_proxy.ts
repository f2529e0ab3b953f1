/**
 * A TCP proxy that delays every chunk by a fixed time in each direction, to measure round trips on
 * loopback: 20 ms each way makes a 40 ms RTT link. Order is kept, and chunks are not held back to
 * batch them (TCP_NODELAY on both sides), so a request/response exchange costs exactly one RTT.
 *
 * @example
 * ```ts
 * await using proxy = startDelayProxy({ targetHost: "127.0.0.1", targetPort: 22, delayMs: 20 });
 * // connect to 127.0.0.1:proxy.port
 * ```
 */

/** Options of {@link startDelayProxy}. */
export interface DelayProxyOptions {
  /** Where connections are forwarded. */
  targetHost: string;
  /** Port forwarded to. */
  targetPort: number;
  /** Delay added to each chunk in each direction, ms. */
  delayMs: number;
}

/** A running proxy. */
export interface DelayProxy extends AsyncDisposable {
  /** Loopback port to connect to. */
  readonly port: number;
  /** Changes the delay of chunks read from now on (a link that gets slower or recovers). */
  setDelay(ms: number): void;
  /** Closes every proxied connection (both sides see the link drop); new ones are accepted. */
  cutAll(): number;
}

function sleepUntil(due: number): Promise<void> {
  const wait = due - performance.now();
  return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
}

/** Copies `from` to `to`, each chunk written `delayMs()` after it was read. */
async function pump(from: Deno.TcpConn, to: Deno.TcpConn, delayMs: () => number): Promise<void> {
  const queue: Array<{ data: Uint8Array; due: number }> = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const reading = (async () => {
    try {
      for await (const chunk of from.readable) {
        queue.push({ data: chunk, due: performance.now() + delayMs() });
        wake?.();
      }
    } catch {
      // peer reset
    } finally {
      ended = true;
      wake?.();
    }
  })();
  const writer = to.writable.getWriter();
  try {
    while (true) {
      const item = queue.shift();
      if (item === undefined) {
        if (ended) break;
        await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
        continue;
      }
      await sleepUntil(item.due);
      await writer.write(item.data);
    }
    await writer.close().catch(() => {});
  } catch {
    // the other side went away
  } finally {
    await reading;
  }
}

/** Starts the proxy on a free loopback port. */
export function startDelayProxy(options: DelayProxyOptions): DelayProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.TcpConn>();
  let delayMs = options.delayMs;
  const delay = () => delayMs;
  const tasks = new Set<Promise<void>>();
  const serve = async (client: Deno.TcpConn) => {
    let upstream: Deno.TcpConn;
    try {
      upstream = await Deno.connect({ hostname: options.targetHost, port: options.targetPort });
    } catch {
      client.close();
      return;
    }
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    conns.add(client);
    conns.add(upstream);
    await Promise.all([
      pump(client, upstream, delay),
      pump(upstream, client, delay),
    ]);
    for (const conn of [client, upstream]) {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        const task = serve(conn);
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // listener closed
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    setDelay(ms: number) {
      delayMs = ms;
    },
    cutAll() {
      const n = conns.size / 2;
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      return Math.floor(n);
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
      await Promise.allSettled([...tasks]);
    },
  };
}
