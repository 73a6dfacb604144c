import { OverloadedError } from "./concurrency-limit.js";

/** The bytes one request holds of a {@link ByteBudget}; released once, when the request is done. */
export interface Reservation {
  /**
   * Waits until `bytes` more fit in the budget, in arrival order, and holds them. A request larger
   * than the whole budget is given the whole budget, so it still runs, alone. Resolves with the
   * bytes granted. Rejects with {@link OverloadedError} at once when too many requests wait
   * already, and with `signal.reason` when `signal` aborts while waiting.
   */
  acquire(bytes: number, signal?: AbortSignal): Promise<number>;
  /** Gives back everything held; later calls do nothing. */
  release(): void;
}

/** Bounds the bytes that requests may hold at once (answers being read, replies being built and sent). */
export interface ByteBudget {
  /** A reservation that holds nothing yet. */
  reserve(): Reservation;
  /** Bytes held now. */
  readonly held: number;
  /** Requests waiting for bytes. */
  readonly waiting: number;
}

interface Waiter {
  readonly bytes: number;
  readonly grant: () => void;
}

export const createByteBudget = (maxBytes: number, maxWaiting: number): ByteBudget => {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError("maxBytes must be at least 1");
  if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError("maxWaiting must be at least 0");
  let held = 0;
  const queue: Waiter[] = [];

  // First come, first served: a large request at the head is not overtaken by small ones for ever.
  const grantWaiting = () => {
    for (let next = queue[0]; next !== undefined && held + next.bytes <= maxBytes; next = queue[0]) {
      queue.shift();
      next.grant();
    }
  };

  return {
    reserve() {
      let mine = 0;
      let released = false;
      const take = (bytes: number) => {
        held += bytes;
        mine += bytes;
      };
      return {
        acquire(requested, signal) {
          if (released) return Promise.reject(new Error("the reservation was released"));
          if (signal?.aborted) return Promise.reject(signal.reason);
          const bytes = Math.min(Math.max(0, Math.ceil(requested)), maxBytes);
          if (queue.length === 0 && held + bytes <= maxBytes) {
            take(bytes);
            return Promise.resolve(bytes);
          }
          if (queue.length >= maxWaiting) {
            return Promise.reject(
              new OverloadedError(
                `${held} bytes of answers are in flight and ${queue.length} requests are waiting, the most allowed`,
              ),
            );
          }
          return new Promise((resolve, reject) => {
            const onAbort = () => {
              const index = queue.indexOf(waiter);
              if (index >= 0) queue.splice(index, 1);
              // The head may have been what held the others back.
              grantWaiting();
              reject(signal?.reason);
            };
            const waiter: Waiter = {
              bytes,
              grant: () => {
                signal?.removeEventListener("abort", onAbort);
                take(bytes);
                resolve(bytes);
              },
            };
            queue.push(waiter);
            signal?.addEventListener("abort", onAbort, { once: true });
          });
        },
        release() {
          if (released) return;
          released = true;
          held -= mine;
          mine = 0;
          grantWaiting();
        },
      };
    },
    get held() {
      return held;
    },
    get waiting() {
      return queue.length;
    },
  };
};
