/**
 * How `events.aggregates` splits its window. InfluxDB 1.x and 2.x count the points of one InfluxQL
 * query over one shard on one core, so counting an hour of a million events takes one core about
 * 85 ms on this project's machine; counted in two halves at once it takes both (bench/gateway.ts,
 * figure 3). The parts are consecutive and half-open, `[from, to)` like the whole, so every
 * instant falls in exactly one and their counts add up to the window's.
 */

/** The default number of parts: the two cores of the machine the benchmarks run on. */
export const DEFAULT_AGGREGATE_SLICES = 2;

/** Most parts one window is counted in: each takes a query slot of its own. */
export const MAX_AGGREGATE_SLICES = 16;

/** One part of a window: `[from, to)`. */
export interface WindowSlice {
  readonly from: Date;
  readonly to: Date;
}

/**
 * `[from, to)` cut into `count` consecutive parts on whole milliseconds, the first starting at
 * `from` and the last ending at `to`; fewer when the window has fewer milliseconds than `count`.
 */
export const sliceWindow = (from: Date, to: Date, count: number): WindowSlice[] => {
  const start = from.getTime();
  const span = to.getTime() - start;
  const parts = Math.max(1, Math.min(Math.floor(count), span));
  const edge = (index: number) =>
    index === 0 ? from : index === parts ? to : new Date(start + Math.floor((span * index) / parts));
  return Array.from({ length: parts }, (_, index) => ({ from: edge(index), to: edge(index + 1) }));
};
