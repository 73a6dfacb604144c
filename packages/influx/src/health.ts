/** The part of a pino logger the tracker writes to. */
export interface HealthLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** What a service says when InfluxDB's reachability changes. */
export interface InfluxHealthMessages {
  /** Warned when InfluxDB stops answering, or does not answer the first attempt. */
  readonly down: string;
  /** Logged when it answers again after an outage. The first answer logs "InfluxDB answers". */
  readonly back: string;
}

/**
 * Whether InfluxDB answered the last attempt to reach it (a ping, a write, a query): a service's
 * storage readiness. Only changes are logged, so an outage reads as one "down" line and one "back"
 * line however many attempts it took.
 */
export interface InfluxHealth {
  /** False until InfluxDB has answered once, and while the last attempt failed. */
  reachable(): boolean;
  /** When InfluxDB was last tried, in epoch milliseconds (0: never). */
  lastAttemptAt(): number;
  /** InfluxDB answered; `version` (from a ping) goes into the first "InfluxDB answers" line. */
  succeeded(version?: string): void;
  failed(err?: unknown): void;
}

/**
 * Starts unknown, which counts as unreachable: a service is not ready until storage has answered
 * once (`/readyz` must not claim what nobody has seen), and the first outcome is logged either way,
 * so the log says at start-up whether InfluxDB answers.
 */
export const createInfluxHealth = (log: HealthLog, messages: InfluxHealthMessages): InfluxHealth => {
  let known = false;
  let reachable = false;
  let lastAttemptAt = 0;
  return {
    reachable: () => reachable,
    lastAttemptAt: () => lastAttemptAt,
    succeeded(version) {
      lastAttemptAt = Date.now();
      if (reachable) return;
      if (known) log.info({}, messages.back);
      else log.info(version === undefined ? {} : { version }, "InfluxDB answers");
      known = true;
      reachable = true;
    },
    failed(err) {
      lastAttemptAt = Date.now();
      if (known && !reachable) return;
      log.warn(err === undefined ? {} : { err }, messages.down);
      known = true;
      reachable = false;
    },
  };
};
