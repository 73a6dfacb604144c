import { QueryErrorCode } from "@vigil/shared";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ByteBudget } from "./byte-budget.js";
import type { ConcurrencyLimit } from "./concurrency-limit.js";
import { MAX_QUERY_WINDOWS } from "./query-windows.js";

/** The reader's Prometheus metrics. */
export interface ReaderMetrics {
  /** Counts one answered request: its outcome, its error code when it failed, and how long it took. */
  observe(seconds: number, code?: QueryErrorCode): void;
  /** Counts one `events.query` answer read from InfluxDB in `steps` windows (query-windows.ts). */
  observeSteps(steps: number): void;
}

/** Registers the reader's metrics on `registry`; the gauges read `limit` and `budget` when scraped. */
export const createReaderMetrics = (
  registry: Registry,
  limit: ConcurrencyLimit,
  budget?: ByteBudget,
): ReaderMetrics => {
  const queries = new Counter({
    name: "vigil_reader_queries_total",
    help: "Query requests answered, by outcome (ok or error).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: "vigil_reader_errors_total",
    help: "Query requests answered with an error reply, by error code.",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "vigil_reader_query_duration_seconds",
    help: "Time from a request's arrival to its reply, queueing included.",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const steps = new Histogram({
    name: "vigil_reader_query_steps",
    help: "InfluxDB queries per events.query answer: 1 when the newest window held the events asked for, one more per wider window read (the unbounded one included). Identical requests sharing an answer count once.",
    buckets: Array.from({ length: MAX_QUERY_WINDOWS + 1 }, (_, i) => i + 1),
    registers: [registry],
  });
  new Gauge({
    name: "vigil_reader_queries_in_flight",
    help: "Queries running against InfluxDB now.",
    registers: [registry],
    collect() {
      this.set(limit.active);
    },
  });
  new Gauge({
    name: "vigil_reader_queries_queued",
    help: "Requests waiting for a free query slot.",
    registers: [registry],
    collect() {
      this.set(limit.queued);
    },
  });
  if (budget !== undefined) {
    new Gauge({
      name: "vigil_reader_bytes_reserved",
      help: "Bytes of the byte budget held by requests now (answers being read, replies being built and sent).",
      registers: [registry],
      collect() {
        this.set(budget.held);
      },
    });
    new Gauge({
      name: "vigil_reader_requests_waiting_for_bytes",
      help: "Requests waiting for room in the byte budget.",
      registers: [registry],
      collect() {
        this.set(budget.waiting);
      },
    });
  }
  // Zero-valued series exist from the start, so rates and alerts work before the first error.
  queries.inc({ outcome: "ok" }, 0);
  queries.inc({ outcome: "error" }, 0);
  for (const code of QueryErrorCode.options) errors.inc({ code }, 0);
  return {
    observe(seconds, code) {
      duration.observe(seconds);
      queries.inc({ outcome: code === undefined ? "ok" : "error" });
      if (code !== undefined) errors.inc({ code });
    },
    observeSteps(count) {
      steps.observe(count);
    },
  };
};
