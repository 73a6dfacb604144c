import { readdir } from "node:fs/promises";
import { setTimeout as wait } from "node:timers/promises";

/** A stretch of time, in `performance.now()` milliseconds, during which InfluxDB wrote a TSM file. */
export interface Interval {
  readonly from: number;
  readonly to: number;
}

/** How often the data directory is listed; samples up to three of these apart belong to one write. */
const SAMPLE_MS = 10;

/**
 * Merges the instants at which a TSM file was being written (sorted) into intervals: instants at most
 * `gapMs` apart belong to one write, which lasted at least from the first to the last.
 */
export const mergeSamples = (instants: readonly number[], gapMs: number): Interval[] => {
  const intervals: { from: number; to: number }[] = [];
  for (const at of instants) {
    const last = intervals.at(-1);
    if (last !== undefined && at - last.to <= gapMs) last.to = at;
    else intervals.push({ from: at, to: at });
  }
  return intervals;
};

/** Of the `latencies` (each from `sent` for `ms`) at or above `slowMs`, how many overlapped one of `intervals`. */
export const slowDuring = (
  latencies: readonly { readonly sent: number; readonly ms: number }[],
  intervals: readonly Interval[],
  slowMs: number,
): { readonly slow: number; readonly during: number } => {
  const slow = latencies.filter((probe) => probe.ms >= slowMs);
  const during = slow.filter((probe) =>
    intervals.some((interval) => interval.from <= probe.sent + probe.ms && interval.to >= probe.sent),
  );
  return { slow: slow.length, during: during.length };
};

/**
 * Watches `dir` (an InfluxDB's data) every {@link SAMPLE_MS} ms for TSM files being written: a cache
 * snapshot or a compaction writes `*.tsm.tmp` and renames it once whole. `stop` returns when that was.
 */
export const watchTsmWrites = (dir: string): { stop(): Promise<Interval[]> } => {
  const instants: number[] = [];
  let watching = true;
  const sampling = (async () => {
    while (watching) {
      // A file may vanish while the listing is read, and the listing may fail for it: one sample lost.
      const files = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
      if (files.some((file) => file.endsWith(".tsm.tmp"))) instants.push(performance.now());
      await wait(SAMPLE_MS);
    }
  })();
  return {
    async stop() {
      watching = false;
      await sampling;
      return mergeSamples(instants, 3 * SAMPLE_MS);
    },
  };
};
