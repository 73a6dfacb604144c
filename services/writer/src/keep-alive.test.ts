import { describe, expect, it } from "vitest";
import type { HeldBatch } from "./batcher.js";
import { createKeepAlive } from "./keep-alive.js";
import type { PendingEvent } from "./pending-event.js";

const heldEvents = (count: number, log: number[]): PendingEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    sequence: i + 1,
    event: { criticality: 1, timestamp: "2024-05-01T12:00:00Z", eventMessage: "x" },
    msg: {
      seq: i + 1,
      subject: "events",
      data: new Uint8Array(),
      info: { deliveryCount: 1 },
      ack: () => {},
      nak: () => {},
      working: () => log.push(i + 1),
    },
  }));

describe("createKeepAlive", () => {
  it("refreshes a batch once it has been held for an interval, then once per interval", () => {
    const refreshed: number[] = [];
    const batches: HeldBatch<PendingEvent>[] = [{ items: heldEvents(2, refreshed), since: 1_000 }];
    const keepAlive = createKeepAlive(() => batches, 1_000);
    expect(keepAlive.tick(1_999)).toBe(0);
    expect(keepAlive.tick(2_000)).toBe(2);
    expect(refreshed).toEqual([1, 2]);
    expect(keepAlive.tick(2_999)).toBe(0);
    expect(keepAlive.tick(3_000)).toBe(2);
    expect(refreshed).toEqual([1, 2, 1, 2]);
  });

  it("never lets two intervals pass between refreshes when ticking every interval", () => {
    const refreshed: number[] = [];
    const items = heldEvents(1, refreshed);
    // Arrived just after a tick: the next tick is too early, the one after refreshes it.
    const keepAlive = createKeepAlive(() => [{ items, since: 1 }], 1_000);
    const refreshTimes: number[] = [];
    for (let now = 0; now <= 10_000; now += 1_000) if (keepAlive.tick(now) > 0) refreshTimes.push(now);
    expect(refreshTimes[0]).toBe(2_000);
    const gaps = refreshTimes.slice(1).map((time, i) => time - (refreshTimes[i] as number));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2_000);
  });

  it("leaves alone batches that are no longer held", () => {
    const refreshed: number[] = [];
    let batches: HeldBatch<PendingEvent>[] = [{ items: heldEvents(3, refreshed), since: 0 }];
    const keepAlive = createKeepAlive(() => batches, 1_000);
    batches = [];
    expect(keepAlive.tick(5_000)).toBe(0);
    expect(refreshed).toEqual([]);
  });
});
