import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createWaitingBatch } from "./waiting-batch.js";

describe("createWaitingBatch", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("becomes due once its first item has waited the interval, and calls onDue once", () => {
    let dueCalls = 0;
    const waiting = createWaitingBatch<number>(50, () => dueCalls++);
    expect(waiting.add(1)).toBe(1);
    vi.advanceTimersByTime(30);
    expect(waiting.add(2)).toBe(2);
    vi.advanceTimersByTime(19);
    expect(waiting.due()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(waiting.due()).toBe(true);
    expect(dueCalls).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(dueCalls).toBe(1);
  });

  it("arms no interval while empty", () => {
    createWaitingBatch<number>(50, () => {});
    expect(vi.getTimerCount()).toBe(0);
  });

  it("takes everything when it holds no more than asked, and is no longer due or timed", () => {
    vi.setSystemTime(1_000);
    const waiting = createWaitingBatch<number>(50, () => {});
    waiting.add(1);
    waiting.add(2);
    vi.advanceTimersByTime(50);
    expect(waiting.take(5)).toEqual({ items: [1, 2], since: 1_000 });
    expect(waiting.due()).toBe(false);
    expect(waiting.count()).toBe(0);
    expect(waiting.held()).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("leaves the rest waiting with the oldest arrival time and a new interval", () => {
    vi.setSystemTime(1_000);
    let dueCalls = 0;
    const waiting = createWaitingBatch<number>(50, () => dueCalls++);
    for (const item of [1, 2, 3]) waiting.add(item);
    vi.advanceTimersByTime(40);
    expect(waiting.take(2)).toEqual({ items: [1, 2], since: 1_000 });
    expect(waiting.held()).toEqual({ items: [3], since: 1_000 });
    vi.advanceTimersByTime(49);
    expect(dueCalls).toBe(0);
    vi.advanceTimersByTime(1);
    expect(dueCalls).toBe(1);
    expect(waiting.due()).toBe(true);
  });

  it("a new first item starts a new arrival time", () => {
    vi.setSystemTime(1_000);
    const waiting = createWaitingBatch<number>(50, () => {});
    waiting.add(1);
    waiting.take(1);
    vi.setSystemTime(2_000);
    waiting.add(2);
    expect(waiting.held()).toEqual({ items: [2], since: 2_000 });
  });

  it("stop cancels the interval", () => {
    let dueCalls = 0;
    const waiting = createWaitingBatch<number>(50, () => dueCalls++);
    waiting.add(1);
    waiting.stop();
    vi.advanceTimersByTime(1_000);
    expect(dueCalls).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
