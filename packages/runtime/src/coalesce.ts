/** Shares one run of identical work among everyone who asks for it while it is in flight. */
export interface Coalescer {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

/**
 * Creates a coalescer. The reader's "last 10 events above 5" is the same question for every client
 * that asks it at the same moment, so while one InfluxDB query for it is in flight, later identical
 * requests wait for that query instead of queueing their own: under load the reader sends InfluxDB
 * one query per distinct question, however many clients ask. A joined answer is never older than
 * the request that started it.
 */
export const createCoalescer = (): Coalescer => {
  const inFlight = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, work: () => Promise<T>): Promise<T> {
      const existing = inFlight.get(key);
      if (existing !== undefined) return existing as Promise<T>;
      const shared = work().finally(() => inFlight.delete(key));
      inFlight.set(key, shared);
      return shared;
    },
  };
};
