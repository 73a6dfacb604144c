import { describe, expect, it } from "vitest";
import { createTokenBucket } from "./token-bucket.js";

/** Takes tokens the way the publisher does: take, or sleep as told; every sleep overshoots by `lateMs()`. */
const drive = (rate: number, burstMs: number, untilMs: number, lateMs: () => number) => {
  const bucket = createTokenBucket(rate, burstMs, 0);
  let now = 0;
  let taken = 0;
  while (now < untilMs) {
    const wait = bucket.take(now);
    if (wait === 0) taken++;
    else now += wait + lateMs();
  }
  return taken;
};

describe("createTokenBucket", () => {
  it("hands out one token per interval from the start", () => {
    const bucket = createTokenBucket(10, 0, 1_000);
    expect(bucket.take(1_000)).toBe(0);
    expect(bucket.take(1_000)).toBe(100);
    expect(bucket.take(1_050)).toBe(50);
    expect(bucket.take(1_100)).toBe(0);
    expect(bucket.take(1_100)).toBe(100);
  });

  it("keeps the long-run rate although every timer fires late", () => {
    let step = 0;
    // Overshoots of 0 to 4 ms, as timers on a busy machine do.
    const taken = drive(1_000, 10, 60_000, () => step++ % 5);
    // 60 s at 1000/s; late wake-ups are made up for, within one burst of ten.
    expect(taken).toBeGreaterThanOrEqual(60_000 - 10);
    expect(taken).toBeLessThanOrEqual(60_000 + 11);
  });

  it("does not drift at a rate whose interval is not a whole number of milliseconds", () => {
    const taken = drive(3, 10, 3_600_000, () => 1);
    expect(taken).toBeGreaterThanOrEqual(3 * 3_600 - 1);
    expect(taken).toBeLessThanOrEqual(3 * 3_600 + 1);
  });

  it("after a stall releases at most one burst at once, then resumes the rate", () => {
    const bucket = createTokenBucket(1_000, 10, 0);
    expect(bucket.take(0)).toBe(0);
    let burst = 0;
    while (bucket.take(5_000) === 0) burst++;
    // 10 ms of tokens at 1 ms each, plus the one due at the edge of the window.
    expect(burst).toBe(11);
    expect(bucket.take(5_000)).toBe(1);
  });

  it("with no burst allowance forgets a stall entirely", () => {
    const bucket = createTokenBucket(10, 0, 0);
    expect(bucket.take(0)).toBe(0);
    expect(bucket.take(10_000)).toBe(0);
    expect(bucket.take(10_000)).toBe(100);
  });

  it("refuses rates that cannot pace", () => {
    expect(() => createTokenBucket(0, 10, 0)).toThrow(/positive/);
    expect(() => createTokenBucket(Number.POSITIVE_INFINITY, 10, 0)).toThrow(/positive/);
    expect(() => createTokenBucket(5, -1, 0)).toThrow(/burst/);
  });
});
