import { setTimeout as delay } from "node:timers/promises";
import type { InfluxClient } from "./client.js";
import { createInfluxHealth, type HealthLog, type InfluxHealthMessages } from "./health.js";

/** Whether InfluxDB answered the last ping or request: a service's storage readiness. */
export interface InfluxWatch {
  readonly reachable: boolean;
  /** Records the outcome of a real request, so readiness follows traffic between pings. */
  record(reachable: boolean): void;
  /** Ends the pings. */
  stop(): void;
}

/** The part of a pino logger the watch writes to: changes at info/warn, each failed ping at debug. */
export interface WatchLog extends HealthLog {
  debug(obj: object, msg: string): void;
}

/**
 * Pings InfluxDB now and every `intervalMs`, logging each change of reachability once (with
 * `messages`), so an operator sees when storage went away and when it came back. Unreachable until
 * the first answer.
 */
export const watchInflux = (
  influx: Pick<InfluxClient, "ping">,
  intervalMs: number,
  log: WatchLog,
  messages: InfluxHealthMessages,
): InfluxWatch => {
  const health = createInfluxHealth(log, messages);
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
      await delay(intervalMs, undefined, { signal: stopped.signal }).catch(() => undefined);
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
