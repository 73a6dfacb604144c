import { describe, expect, it } from "vitest";
import { createByteBudget } from "./byte-budget.js";
import { OverloadedError } from "./concurrency-limit.js";

/** Records which reservations have been granted so far. */
const track = (promises: readonly Promise<number>[]) => {
  const granted = promises.map(() => false);
  promises.forEach((promise, i) => {
    promise.then(
      () => {
        granted[i] = true;
      },
      () => undefined,
    );
  });
  return granted;
};

describe("createByteBudget", () => {
  it("holds at most maxBytes at once and grants waiting requests in arrival order", async () => {
    const budget = createByteBudget(100, 10);
    const [a, b, c] = [budget.reserve(), budget.reserve(), budget.reserve()];
    await expect(a.acquire(60)).resolves.toBe(60);
    // 50 does not fit beside 60; 10 would, but does not overtake the request before it.
    const waiting = [b.acquire(50), c.acquire(10)];
    const granted = track(waiting);
    await Promise.resolve();
    expect([budget.held, budget.waiting, ...granted]).toEqual([60, 2, false, false]);

    a.release();
    await Promise.all(waiting);
    expect([budget.held, budget.waiting]).toEqual([60, 0]);
  });

  it("gives a request larger than the whole budget the whole budget, so it runs alone", async () => {
    const budget = createByteBudget(100, 10);
    const big = budget.reserve();
    await expect(big.acquire(1_000_000)).resolves.toBe(100);
    const small = budget.reserve().acquire(1);
    const granted = track([small]);
    await Promise.resolve();
    expect(granted).toEqual([false]);
    big.release();
    await expect(small).resolves.toBe(1);
  });

  it("refuses at once when maxWaiting requests wait already", async () => {
    const budget = createByteBudget(10, 1);
    await budget.reserve().acquire(10);
    void budget.reserve().acquire(1);
    await expect(budget.reserve().acquire(1)).rejects.toBeInstanceOf(OverloadedError);
  });

  it("drops a waiting request whose signal aborts, and lets the ones behind it through", async () => {
    const budget = createByteBudget(10, 10);
    const first = budget.reserve();
    await first.acquire(5);
    const controller = new AbortController();
    const large = budget.reserve().acquire(10, controller.signal);
    const small = budget.reserve().acquire(5);
    controller.abort(new Error("timed out"));
    await expect(large).rejects.toThrow("timed out");
    await expect(small).resolves.toBe(5);
    expect([budget.held, budget.waiting]).toEqual([10, 0]);
  });

  it("gives back a reservation's bytes once, however often it is released", async () => {
    const budget = createByteBudget(10, 10);
    const one = budget.reserve();
    await one.acquire(4);
    await one.acquire(4);
    await budget.reserve().acquire(2);
    one.release();
    one.release();
    expect(budget.held).toBe(2);
  });
});
