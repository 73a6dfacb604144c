import { describe, expect, it } from "vitest";
import { backoffDelay, sleep, untilAborted } from "./delay.js";

describe("backoffDelay", () => {
  it("waits between half of the ceiling and all of it, the ceiling doubling per attempt", () => {
    expect(backoffDelay(0, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(100);
    expect(backoffDelay(3, 100, 10_000, () => 1)).toBe(800);
  });

  it("never exceeds the maximum, however many attempts", () => {
    expect(backoffDelay(7, 100, 5_000, () => 1)).toBe(5_000);
    expect(backoffDelay(1_000, 100, 5_000, () => 0.5)).toBe(3_750);
    expect(Number.isFinite(backoffDelay(Number.MAX_SAFE_INTEGER, 100, 5_000))).toBe(true);
  });

  it("stays within its bounds for any random draw", () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const delay = backoffDelay(attempt, 250, 5_000);
      const ceiling = Math.min(5_000, 250 * 2 ** attempt);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });
});

describe("sleep", () => {
  it("resolves early, without throwing, when the signal aborts", async () => {
    const controller = new AbortController();
    const sleeping = sleep(3_600_000, controller.signal);
    controller.abort();
    await expect(sleeping).resolves.toBeUndefined();
    await expect(sleep(3_600_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});

describe("untilAborted", () => {
  it("settles like the work when the signal does not abort", async () => {
    const signal = new AbortController().signal;
    await expect(untilAborted(Promise.resolve(7), signal)).resolves.toBe(7);
    await expect(untilAborted(Promise.reject(new Error("down")), signal)).rejects.toThrow("down");
  });

  it("rejects with the abort reason as soon as the signal aborts, leaving the work behind", async () => {
    const controller = new AbortController();
    let fail: (err: Error) => void = () => {};
    const work = new Promise<number>((_resolve, reject) => {
      fail = reject;
    });
    const waiting = untilAborted(work, controller.signal);
    controller.abort(new Error("stopped"));
    await expect(waiting).rejects.toThrow("stopped");
    // The abandoned work failing later is nobody's concern: no unhandled rejection.
    fail(new Error("late"));
    await expect(work).rejects.toThrow("late");
  });

  it("rejects at once when the signal has already aborted", async () => {
    await expect(untilAborted(new Promise(() => {}), AbortSignal.abort(new Error("gone")))).rejects.toThrow("gone");
  });
});
