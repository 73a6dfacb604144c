import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createBatcher } from "./batcher.js";

/** A write sink whose writes finish only when the test says so. */
const controlledSink = () => {
  const batches: number[][] = [];
  const finishers: (() => void)[] = [];
  const write = (batch: readonly number[]) => {
    batches.push([...batch]);
    return new Promise<void>((resolve) => finishers.push(resolve));
  };
  const finishNext = async () => {
    finishers.shift()?.();
    // Let the batcher's continuation run.
    await Promise.resolve();
    await Promise.resolve();
  };
  return { batches, write, finishNext, inFlight: () => finishers.length };
};

describe("createBatcher", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends a batch as soon as it is full, without waiting for the interval", () => {
    const sink = controlledSink();
    const batcher = createBatcher(
      { batchSize: 3, flushIntervalMs: 1_000, maxConcurrentWrites: 2, flushWhenIdle: true },
      sink.write,
    );
    for (const item of [1, 2, 3, 4]) batcher.add(item);
    expect(sink.batches).toEqual([[1, 2, 3]]);
    expect(batcher.held().map(({ items }) => items)).toEqual([[1, 2, 3], [4]]);
    expect(batcher.heldCount()).toBe(4);
  });

  it("sends a partial batch at the end of the turn when nothing is being written", () => {
    const sink = controlledSink();
    const batcher = createBatcher(
      { batchSize: 100, flushIntervalMs: 1_000, maxConcurrentWrites: 2, flushWhenIdle: true },
      sink.write,
    );
    batcher.add(1);
    batcher.add(2);
    expect(sink.batches).toEqual([]);
    vi.advanceTimersByTime(0);
    // The items that came in together go together, without waiting for the interval.
    expect(sink.batches).toEqual([[1, 2]]);
  });

  it("fills the next batch while a write is in flight and sends it when that write finishes", async () => {
    const sink = controlledSink();
    const batcher = createBatcher(
      { batchSize: 100, flushIntervalMs: 1_000, maxConcurrentWrites: 2, flushWhenIdle: true },
      sink.write,
    );
    batcher.add(1);
    vi.advanceTimersByTime(0);
    batcher.add(2);
    batcher.add(3);
    vi.advanceTimersByTime(999);
    // A slot is free, but a write is in flight: the batch waits behind it.
    expect(sink.batches).toEqual([[1]]);
    await sink.finishNext();
    expect(sink.batches).toEqual([[1], [2, 3]]);
  });

  it("without flushWhenIdle, sends a partial batch only once its first item has waited the interval", () => {
    const sink = controlledSink();
    const batcher = createBatcher(
      { batchSize: 100, flushIntervalMs: 50, maxConcurrentWrites: 2, flushWhenIdle: false },
      sink.write,
    );
    batcher.add(1);
    vi.advanceTimersByTime(30);
    batcher.add(2);
    vi.advanceTimersByTime(19);
    // Nothing is being written, and still the batch waits.
    expect(sink.batches).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(sink.batches).toEqual([[1, 2]]);
  });

  it("sends a partial batch once its first item has waited the flush interval behind a write", async () => {
    const sink = controlledSink();
    const batcher = createBatcher(
      { batchSize: 100, flushIntervalMs: 50, maxConcurrentWrites: 2, flushWhenIdle: true },
      sink.write,
    );
    batcher.add(0);
    vi.advanceTimersByTime(0);
    batcher.add(1);
    vi.advanceTimersByTime(30);
    batcher.add(2);
    vi.advanceTimersByTime(19);
    expect(sink.batches).toEqual([[0]]);
    vi.advanceTimersByTime(1);
    expect(sink.batches).toEqual([[0], [1, 2]]);
    // The next batch gets its own full interval.
    batcher.add(3);
    vi.advanceTimersByTime(49);
    expect(sink.batches).toHaveLength(2);
    await sink.finishNext();
    // One write is still in flight: the interval still holds.
    expect(sink.batches).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sink.batches).toEqual([[0], [1, 2], [3]]);
  });

  it("does not arm the interval while no item waits", () => {
    const sink = controlledSink();
    createBatcher({ batchSize: 10, flushIntervalMs: 50, maxConcurrentWrites: 1, flushWhenIdle: true }, sink.write);
    vi.advanceTimersByTime(1_000);
    expect(sink.batches).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("holds items while every slot is busy and sends them in batches of at most the batch size", async () => {
    const sink = controlledSink();
    const batcher = createBatcher(
      { batchSize: 2, flushIntervalMs: 1_000, maxConcurrentWrites: 1, flushWhenIdle: true },
      sink.write,
    );
    for (const item of [1, 2, 3, 4, 5, 6, 7]) batcher.add(item);
    expect(sink.batches).toEqual([[1, 2]]);
    expect(batcher.heldCount()).toBe(7);
    let finished = false;
    void batcher.nextWriteFinished().then(() => {
      finished = true;
    });
    await sink.finishNext();
    expect(finished).toBe(true);
    expect(sink.batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(batcher.heldCount()).toBe(5);
    await sink.finishNext();
    expect(sink.batches.at(-1)).toEqual([5, 6]);
    // The odd one out is not a full batch: it goes once nothing else is being written.
    expect(sink.batches).toHaveLength(3);
    await sink.finishNext();
    expect(sink.batches.at(-1)).toEqual([7]);
  });

  it("never has more writes in flight than allowed, even when the interval elapses", async () => {
    const sink = controlledSink();
    const batcher = createBatcher(
      { batchSize: 100, flushIntervalMs: 10, maxConcurrentWrites: 2, flushWhenIdle: true },
      sink.write,
    );
    for (let round = 0; round < 4; round++) {
      batcher.add(round);
      vi.advanceTimersByTime(10);
    }
    expect(sink.inFlight()).toBe(2);
    expect(sink.batches).toEqual([[0], [1]]);
    // Items 2 and 3 waited past the interval: they go out together when a slot frees up.
    await sink.finishNext();
    expect(sink.batches).toEqual([[0], [1], [2, 3]]);
    expect(sink.inFlight()).toBe(2);
  });

  it("tells when each held batch started waiting, the oldest item counting", () => {
    const sink = controlledSink();
    vi.setSystemTime(1_000);
    const batcher = createBatcher(
      { batchSize: 2, flushIntervalMs: 60_000, maxConcurrentWrites: 1, flushWhenIdle: true },
      sink.write,
    );
    batcher.add(1);
    vi.setSystemTime(2_000);
    batcher.add(2);
    batcher.add(3);
    vi.setSystemTime(3_000);
    batcher.add(4);
    batcher.add(5);
    expect(batcher.held()).toEqual([
      { items: [1, 2], since: 1_000 },
      { items: [3, 4, 5], since: 2_000 },
    ]);
  });

  it("drain sends everything held despite busy slots, wakes a waiting puller and waits for every write", async () => {
    const sink = controlledSink();
    const batcher = createBatcher(
      { batchSize: 2, flushIntervalMs: 1_000, maxConcurrentWrites: 1, flushWhenIdle: true },
      sink.write,
    );
    for (const item of [1, 2, 3, 4, 5]) batcher.add(item);
    const woken = batcher.nextWriteFinished();
    let drained = false;
    const draining = batcher.drain().then(() => {
      drained = true;
    });
    await woken;
    expect(sink.batches).toEqual([[1, 2], [3, 4], [5]]);
    await sink.finishNext();
    await sink.finishNext();
    expect(drained).toBe(false);
    await sink.finishNext();
    await draining;
    expect(drained).toBe(true);
    expect(batcher.heldCount()).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("frees the slot of a write that rejects despite its contract", async () => {
    const batches: number[][] = [];
    const batcher = createBatcher<number>(
      { batchSize: 1, flushIntervalMs: 1_000, maxConcurrentWrites: 1, flushWhenIdle: true },
      async (batch) => {
        batches.push([...batch]);
        throw new Error("bug");
      },
    );
    batcher.add(1);
    batcher.add(2);
    await batcher.nextWriteFinished();
    await batcher.drain();
    expect(batches).toEqual([[1], [2]]);
    expect(batcher.heldCount()).toBe(0);
  });
});
