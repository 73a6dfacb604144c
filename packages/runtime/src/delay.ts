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
 * Exponential back-off with jitter: attempt 0 waits between half of `initialMs` and all of it,
 * each further attempt doubles that, up to `maxMs`. The jitter keeps many instances that failed
 * together from retrying in lockstep.
 */
export const backoffDelay = (attempt: number, initialMs: number, maxMs: number, random = Math.random): number => {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
};
