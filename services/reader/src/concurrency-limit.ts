/** The queue in front of a {@link ConcurrencyLimit} is full: the work was refused, not started. */
export class OverloadedError extends Error {
  override readonly name = "OverloadedError";
}

/** Runs at most `maxConcurrent` tasks at once; up to `maxQueued` more wait their turn in order. */
export interface ConcurrencyLimit {
  /**
   * Runs `task` when a slot is free. Rejects with {@link OverloadedError} at once when the queue is
   * full, and with `signal.reason` when `signal` aborts while the task is still waiting (a task
   * that has started runs to its end and keeps its slot until then).
   */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly queued: number;
}

interface Waiter {
  readonly start: () => void;
}

export const createConcurrencyLimit = (maxConcurrent: number, maxQueued: number): ConcurrencyLimit => {
  if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError("maxConcurrent must be at least 1");
  if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError("maxQueued must be at least 0");
  let active = 0;
  const waiting: Waiter[] = [];

  const release = () => {
    active--;
    waiting.shift()?.start();
  };

  const execute = <T>(task: () => Promise<T>): Promise<T> => {
    active++;
    let running: Promise<T>;
    try {
      running = task();
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.finally(release);
  };

  return {
    run(task, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (active < maxConcurrent) return execute(task);
      if (waiting.length >= maxQueued) {
        return Promise.reject(
          new OverloadedError(`${active} queries are running and ${waiting.length} are waiting, the most allowed`),
        );
      }
      return new Promise((resolve, reject) => {
        const onAbort = () => {
          const index = waiting.indexOf(waiter);
          if (index >= 0) waiting.splice(index, 1);
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          start: () => {
            signal?.removeEventListener("abort", onAbort);
            execute(task).then(resolve, reject);
          },
        };
        waiting.push(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    get active() {
      return active;
    },
    get queued() {
      return waiting.length;
    },
  };
};
