import type { Logger } from "pino";

/**
 * Whether InfluxDB answered the last attempt to reach it. Only changes are logged, so an outage
 * reads as one "unavailable" line and one "reachable again" line however many retries it took.
 */
export interface InfluxHealth {
  reachable(): boolean;
  /** When InfluxDB was last tried, in epoch milliseconds (0: never). */
  lastAttemptAt(): number;
  succeeded(): void;
  failed(err: unknown): void;
}

export const createInfluxHealth = (log: Logger): InfluxHealth => {
  let reachable = true;
  let lastAttemptAt = 0;
  return {
    reachable: () => reachable,
    lastAttemptAt: () => lastAttemptAt,
    succeeded() {
      lastAttemptAt = Date.now();
      if (reachable) return;
      reachable = true;
      log.info("InfluxDB is reachable again; writing held batches");
    },
    failed(err) {
      lastAttemptAt = Date.now();
      if (!reachable) return;
      reachable = false;
      log.warn({ err }, "InfluxDB is unavailable; holding batches unacknowledged and retrying");
    },
  };
};
