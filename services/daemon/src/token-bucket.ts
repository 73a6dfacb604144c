/** Paces events to a rate; see {@link createTokenBucket}. */
export interface TokenBucket {
  /**
   * Takes one token if one is due at `nowMs` and returns 0; otherwise takes nothing and returns
   * how many milliseconds remain until the next one is due.
   */
  take(nowMs: number): number;
}

/**
 * A token bucket that does not drift: token `n` falls due at `origin + n / rate`, computed from
 * elapsed time rather than by adding up intervals, so timers that fire late only delay tokens and
 * the long-run rate stays exact. A caller that falls behind may catch up with a burst of at most
 * `burstMs` worth of tokens (at least one); time lost beyond that (a stall, back-pressure) is
 * forgotten rather than repaid with an unbounded burst. `burstMs` should therefore exceed how late
 * timers fire, or the late time is forgotten too and the rate falls short.
 */
export const createTokenBucket = (ratePerSecond: number, burstMs: number, startMs: number): TokenBucket => {
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
    throw new RangeError(`rate must be a positive number, got ${ratePerSecond}`);
  }
  if (!(burstMs >= 0)) throw new RangeError(`burst must be >= 0 ms, got ${burstMs}`);
  const intervalMs = 1000 / ratePerSecond;
  let origin = startMs;
  let taken = 0;
  return {
    take(nowMs) {
      const due = origin + taken * intervalMs;
      if (due < nowMs - burstMs) {
        origin = nowMs - burstMs;
        taken = 0;
      } else if (due > nowMs) {
        return due - nowMs;
      }
      taken++;
      return 0;
    },
  };
};
