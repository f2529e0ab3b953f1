/**
 * A counting semaphore with FIFO waiters and abortable acquisition; caps channels per connection.
 */

/** Options of {@link Semaphore.acquire}. */
export interface AcquireOptions {
  /** Gives up waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** FIFO counting semaphore. */
export class Semaphore {
  #free: number;
  #waiters: Array<{ resolve: (release: () => void) => void; reject: (e: unknown) => void }> = [];

  /** Creates a semaphore with `permits` permits. */
  constructor(permits: number) {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new RangeError(`Cannot create a semaphore of ${permits}`);
    }
    this.#free = permits;
  }

  /** Permits not currently held. */
  get free(): number {
    return this.#free;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves with a release function once a permit is free. */
  acquire(options: AcquireOptions = {}): Promise<() => void> {
    options.signal?.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.#waiters.push(waiter);
      options.signal?.addEventListener("abort", () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) {
          this.#waiters.splice(index, 1);
          reject(options.signal?.reason);
        }
      }, { once: true });
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next.resolve(this.#releaser());
      else this.#free++;
    };
  }
}
