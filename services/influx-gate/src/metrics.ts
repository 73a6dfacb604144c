import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { RefusalCode } from "./request-filter.js";

/** How a request ended. */
export type GateOutcome =
  /** InfluxDB answered 2xx. */
  | "passed"
  /** InfluxDB answered 4xx (bad points, its own refusal). */
  | "influx_rejected"
  /** InfluxDB answered 5xx. */
  | "influx_failed"
  /** The gate refused it (credential, target, method, body), InfluxDB saw nothing. */
  | "refused"
  /** InfluxDB could not be reached or did not answer in time: 503. */
  | "unavailable";

/** Which of the two passed requests, or `none` for one refused before it had a route. */
export type GateRouteLabel = "write" | "ping" | "none";

const OUTCOMES: readonly GateOutcome[] = ["passed", "influx_rejected", "influx_failed", "refused", "unavailable"];

/** The gate's Prometheus metrics. */
export interface GateMetrics {
  /** Counts one finished request. */
  finished(route: GateRouteLabel, outcome: GateOutcome): void;
  /** Counts one refusal by its code. */
  refused(code: RefusalCode): void;
  /** Counts body bytes passed to InfluxDB. */
  sent(bytes: number): void;
  /** Observes the time from sending a request to InfluxDB to its answer's headers. */
  upstreamLatency(route: "write" | "ping", seconds: number): void;
}

/** Registers the gate's metrics on `registry`; the in-flight gauge reads `inFlight` when scraped. */
export const createGateMetrics = (registry: Registry, inFlight: () => number): GateMetrics => {
  const requests = new Counter({
    name: "vigil_influx_gate_requests_total",
    help: "Requests answered, by route (write, ping, none) and outcome (passed, influx_rejected, influx_failed, refused, unavailable).",
    labelNames: ["route", "outcome"] as const,
    registers: [registry],
  });
  const refusals = new Counter({
    name: "vigil_influx_gate_refusals_total",
    help: "Requests the gate refused itself, by error code.",
    labelNames: ["code"] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: "vigil_influx_gate_request_bytes_total",
    help: "Body bytes passed to InfluxDB.",
    registers: [registry],
  });
  const latency = new Histogram({
    name: "vigil_influx_gate_upstream_duration_seconds",
    help: "From sending a request to InfluxDB to its answer's headers (a write's body included).",
    labelNames: ["route"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: "vigil_influx_gate_requests_in_flight",
    help: "Writes being passed to InfluxDB now.",
    registers: [registry],
    collect() {
      this.set(inFlight());
    },
  });
  // Zero-valued series exist from the start, so rates and alerts work before the first request.
  for (const outcome of OUTCOMES) requests.inc({ route: "write", outcome }, 0);
  return {
    finished: (route, outcome) => requests.inc({ route, outcome }),
    refused: (code) => refusals.inc({ code }),
    sent: (count) => bytes.inc(count),
    upstreamLatency: (route, seconds) => latency.observe({ route }, seconds),
  };
};
