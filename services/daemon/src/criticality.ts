import { CRITICALITY_RANGE } from "@vigil/shared";

/** How many criticality levels exist, and so how many weights a mix names. */
export const CRITICALITY_LEVELS = CRITICALITY_RANGE.max - CRITICALITY_RANGE.min + 1;

/**
 * Default mix: most events are routine, each step up is rarer, and about one in eight is above 5,
 * so that a client watching for serious events sees a few every second at the default rate.
 */
export const DEFAULT_CRITICALITY_WEIGHTS = "30,20,14,10,8,6,4,3,2,2,1";

/** Outcome of parsing a weight list: the weights, or why the text is not one. */
export type ParsedWeights =
  | { readonly ok: true; readonly weights: readonly number[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses eleven comma-separated non-negative weights, one per criticality 0..10. Weights are
 * relative (they need not sum to 100), and at least one must be positive.
 */
export const parseCriticalityWeights = (text: string): ParsedWeights => {
  const parts = text.split(",").map((part) => part.trim());
  if (parts.length !== CRITICALITY_LEVELS) {
    return { ok: false, reason: `expected ${CRITICALITY_LEVELS} comma-separated weights, got ${parts.length}` };
  }
  const weights: number[] = [];
  for (const [level, part] of parts.entries()) {
    const weight = /^\d+(\.\d+)?$/.test(part) ? Number(part) : Number.NaN;
    if (!Number.isFinite(weight)) {
      return { ok: false, reason: `weight for criticality ${level} must be a non-negative number, got "${part}"` };
    }
    weights.push(weight);
  }
  if (!weights.some((weight) => weight > 0)) return { ok: false, reason: "at least one weight must be positive" };
  return { ok: true, weights };
};

/**
 * Returns a function that maps a uniform number in [0, 1) to a criticality drawn with the given
 * relative weights. Levels with weight 0 are never drawn.
 */
export const createCriticalitySampler = (weights: readonly number[]): ((uniform: number) => number) => {
  if (weights.length !== CRITICALITY_LEVELS) {
    throw new RangeError(`expected ${CRITICALITY_LEVELS} weights, got ${weights.length}`);
  }
  const cumulative = new Float64Array(CRITICALITY_LEVELS);
  let total = 0;
  let highest = -1;
  for (const [index, weight] of weights.entries()) {
    if (!(weight >= 0) || !Number.isFinite(weight)) throw new RangeError(`weight ${index} must be >= 0`);
    total += weight;
    cumulative[index] = total;
    if (weight > 0) highest = index;
  }
  if (highest < 0) throw new RangeError("at least one weight must be positive");
  return (uniform) => {
    const point = uniform * total;
    for (let index = 0; index < CRITICALITY_LEVELS; index++) {
      if (point < (cumulative[index] as number)) return CRITICALITY_RANGE.min + index;
    }
    // `uniform * total` can round up to `total`: that point belongs to the last level that has weight.
    return CRITICALITY_RANGE.min + highest;
  };
};
