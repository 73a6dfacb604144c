import { percentile } from "./stats.js";

/**
 * The fixed arrival schedule of an open-loop run: request `index` is due `index / rate` seconds
 * after the start, whether or not earlier requests were answered. Latency counts from when a
 * request was due, not from when it went out, so a generator or server that falls behind shows
 * the wait instead of hiding it (coordinated omission).
 */
export interface ArrivalSchedule {
  /** Requests in the run. */
  readonly total: number;
  /** Milliseconds after the start at which request `index` is due. */
  dueAt(index: number): number;
  /** How many requests are due by `elapsedMs` after the start (never more than `total`). */
  dueBy(elapsedMs: number): number;
}

/** The schedule of `ratePerSecond` requests a second for `seconds` seconds. */
export const arrivalSchedule = (ratePerSecond: number, seconds: number): ArrivalSchedule => {
  if (!(ratePerSecond > 0) || !(seconds > 0)) throw new RangeError("rate and duration must be positive");
  const total = Math.round(ratePerSecond * seconds);
  const intervalMs = 1_000 / ratePerSecond;
  return {
    total,
    dueAt: (index) => index * intervalMs,
    // Request 0 is due at once; the small tolerance keeps 1000/3-style intervals from rounding a due request out.
    dueBy: (elapsedMs) => (elapsedMs < 0 ? 0 : Math.min(total, Math.floor(elapsedMs / intervalMs + 1e-9) + 1)),
  };
};

/** Latency percentiles of one series of requests, in milliseconds. */
export interface LatencyFigures {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Nearest-rank p50, p99 and the maximum of `samples` (milliseconds, any order). */
export const latencyFigures = (samples: readonly number[]): LatencyFigures => {
  const sorted = Float64Array.from(samples).sort();
  const values = Array.from(sorted);
  return {
    count: values.length,
    p50Ms: percentile(values, 50),
    p99Ms: percentile(values, 99),
    maxMs: values.at(-1) ?? Number.NaN,
  };
};
