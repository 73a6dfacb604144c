import { createInfluxHealth, type InfluxClient } from "@vigil/influx";
import { type Logger, sleep } from "@vigil/runtime";

/** Whether InfluxDB answered the last ping or query: the reader's storage readiness. */
export interface StorageHealth {
  readonly reachable: boolean;
  /** Records the outcome of a query, so readiness follows real traffic between pings. */
  record(reachable: boolean): void;
  /** Ends the pings. */
  stop(): void;
}

/**
 * Pings InfluxDB now and every `intervalMs`, logging each change of reachability once, so an
 * operator sees when storage went away and when it came back. Unreachable until the first answer.
 */
export const watchStorage = (influx: InfluxClient, intervalMs: number, log: Logger): StorageHealth => {
  const health = createInfluxHealth(log, {
    down: "InfluxDB does not answer; queries get STORAGE_UNAVAILABLE until it does",
    back: "InfluxDB answers",
  });
  const stopped = new AbortController();
  void (async () => {
    while (!stopped.signal.aborted) {
      try {
        await influx.ping();
        health.succeeded();
      } catch (err) {
        log.debug({ err }, "InfluxDB ping failed");
        health.failed();
      }
      await sleep(intervalMs, stopped.signal);
    }
  })();
  return {
    get reachable() {
      return health.reachable();
    },
    record: (reachable) => (reachable ? health.succeeded() : health.failed()),
    stop: () => stopped.abort(),
  };
};
