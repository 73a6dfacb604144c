import type { InfluxClient } from "@vigil/influx";
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
  let reachable = false;
  let known = false;
  const stopped = new AbortController();
  const record = (now: boolean) => {
    if (known && now === reachable) return;
    if (now) log.info("InfluxDB answers");
    else log.warn("InfluxDB does not answer; queries get STORAGE_UNAVAILABLE until it does");
    known = true;
    reachable = now;
  };
  void (async () => {
    while (!stopped.signal.aborted) {
      try {
        await influx.ping();
        record(true);
      } catch (err) {
        log.debug({ err }, "InfluxDB ping failed");
        record(false);
      }
      await sleep(intervalMs, stopped.signal);
    }
  })();
  return {
    get reachable() {
      return reachable;
    },
    record,
    stop: () => stopped.abort(),
  };
};
