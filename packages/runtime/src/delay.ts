/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/**
 * Settles like `work`, or rejects with `signal.reason` as soon as `signal` aborts. Node's own
 * abortable helpers (`node:timers/promises`, `events.once`) take a signal for work they start;
 * this is for work already under way that cannot be cancelled, only abandoned. Once abandoned,
 * the outcome of `work` matters to nobody, so its rejection is kept from going unhandled.
 */
export const untilAborted = <T>(work: Promise<T>, signal: AbortSignal): Promise<T> => {
  work.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
};

/**
 * Exponential back-off with jitter: attempt 0 waits between half of `initialMs` and all of it,
 * each further attempt doubles that, up to `maxMs`. The jitter keeps many instances that failed
 * together from retrying in lockstep.
 */
export const backoffDelay = (attempt: number, initialMs: number, maxMs: number, random = Math.random): number => {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
};
