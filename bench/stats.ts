/** Median, minimum and maximum of repeated runs of one figure. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: readonly number[];
}

/** Summarises repeated measurements of one figure. */
export const summarise = (runs: readonly number[]): Summary => {
  if (runs.length === 0) throw new Error("no runs to summarise");
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), min: sorted[0] as number, max: sorted.at(-1) as number, runs };
};

/** The `p`th percentile (nearest rank) of values already sorted ascending. */
export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
};

/** Runs `measure` `times` times, one after the other, and summarises the results. */
export const repeat = async (times: number, measure: (run: number) => Promise<number>): Promise<Summary> => {
  const runs: number[] = [];
  for (let run = 0; run < times; run++) runs.push(await measure(run));
  return summarise(runs);
};
