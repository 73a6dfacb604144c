import type { QuerySeries } from "@vigil/influx";

/**
 * How far back the steps of an `events.query` read before the last, unbounded one: the newest hour,
 * then day, then week. Most thresholds find their `limit` events in the first hour, which InfluxDB
 * reads from the tail of one shard; a rare threshold pays only for the history it needs.
 */
export const DEFAULT_QUERY_WINDOWS = "1h,1d,7d";

/** {@link DEFAULT_QUERY_WINDOWS} in milliseconds. */
export const DEFAULT_QUERY_WINDOWS_MS: readonly number[] = Object.freeze([3_600_000, 86_400_000, 604_800_000]);

/** Most windows a reader takes, so that each step count has its own bucket in the metrics. */
export const MAX_QUERY_WINDOWS = 8;

/** The rows of a windowed read, and how many InfluxDB queries it took. */
export interface NewestRows {
  readonly series: QuerySeries[];
  /** 1 when the first window held `limit` rows; one more per wider window, the unbounded read included. */
  readonly steps: number;
}

/** Rows of an answer, valid events or not: InfluxDB's `LIMIT` counts them all. */
export const countRows = (series: readonly QuerySeries[]): number =>
  series.reduce((rows, one) => rows + one.values.length, 0);

/**
 * Reads the newest `limit` rows newest window first: `read(since)` for each window of `windowsMs`
 * (ascending), `since` being `now` minus the window, until one returns `limit` rows; otherwise
 * `read(undefined)`, unbounded, which returns whatever there is.
 *
 * The answer is the unbounded read's, row for row: a window holds every point newer than its bound
 * and none older, so when it holds `limit` rows the rows left out are all older than the last one
 * returned. Points of one point time are all inside a window or all outside it, and InfluxDB orders
 * them by their column values (criticality, then message, ...), the same in a window as unbounded;
 * only rows equal up to a missing `id` are left to its merge order. This holds whatever `now` is: a
 * reader clock behind or ahead of the points' only costs steps. Rows are counted before they are
 * decoded, as InfluxDB counts them for `LIMIT`.
 */
export const readNewestFirst = async (
  windowsMs: readonly number[],
  limit: number,
  now: number,
  read: (since: Date | undefined) => Promise<QuerySeries[]>,
): Promise<NewestRows> => {
  let steps = 0;
  for (const windowMs of windowsMs) {
    steps++;
    const series = await read(new Date(now - windowMs));
    if (countRows(series) >= limit) return { series, steps };
  }
  return { series: await read(undefined), steps: steps + 1 };
};

/** Why a ladder of windows is refused, or `undefined` when it is usable: positive and strictly widening. */
export const checkQueryWindows = (windowsMs: readonly number[]): string | undefined => {
  for (const [index, windowMs] of windowsMs.entries()) {
    if (!Number.isSafeInteger(windowMs) || windowMs < 1) return `window ${index + 1} must be at least 1ms`;
    const previous = windowsMs[index - 1];
    if (previous !== undefined && windowMs <= previous) return `window ${index + 1} must be wider than the one before`;
  }
  return undefined;
};
