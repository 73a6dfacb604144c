import { createLogger } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import type { Principal } from "./auth/principal.js";
import { ApiError } from "./errors.js";
import type { RateCount, RateCounters } from "./rate-counters.js";
import { createRateLimiter, LEASE_SHARE, RATE_WINDOW_MS } from "./rate-limit.js";

const log = createLogger("rate-limit-test", "silent");

/**
 * Counters in memory with the compare-and-set rule of JetStream's key-value store (a write fails
 * unless it names the key's latest revision, 0 for none) and a turn of the event loop per call, as
 * a round trip would take; it counts the reads and writes.
 */
const memoryCounters = () => {
  const values = new Map<string, RateCount>();
  let revision = 0;
  let writes = 0;
  let reads = 0;
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const conflict = () => Object.assign(new Error("wrong last sequence"), { code: 10071 });
  const counters: RateCounters = {
    async read(key) {
      await turn();
      reads++;
      return values.get(key) ?? { count: 0, revision: 0 };
    },
    async write(key, count, expected) {
      await turn();
      writes++;
      if ((values.get(key)?.revision ?? 0) !== expected) throw conflict();
      values.set(key, { count, revision: ++revision });
    },
  };
  return {
    counters,
    writes: () => writes,
    reads: () => reads,
    /** Every count in the bucket added up: what the limiters took. */
    counted: () => [...values.values()].reduce((sum, value) => sum + value.count, 0),
  };
};

const caller: Principal = { name: "sensor-7", role: "producer", via: "apiKey" };

const limiterOn = (counters: RateCounters, keyPerMinute: number, now: () => number = () => 0) =>
  createRateLimiter({ counters, limits: { userPerMinute: 10, keyPerMinute }, isApiKey: () => true, log, now });

/** Whether `hit` settled before a round trip could have: within the microtasks of this turn. */
const settlesAtOnce = async (hit: Promise<void>): Promise<boolean> => {
  let settled = false;
  void hit.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 10; i++) await Promise.resolve();
  const atOnce = settled;
  await hit.catch(() => undefined);
  return atOnce;
};

/** How many of `hits` concurrent requests each limiter let through, and how many it refused. */
const hitAll = async (limiters: ReturnType<typeof limiterOn>[], hits: number) => {
  const outcomes = await Promise.all(
    Array.from({ length: hits }, (_, n) =>
      limiters[n % limiters.length]?.hit(caller).then(
        () => "allowed",
        (err: unknown) => (err instanceof ApiError && err.code === "RATE_LIMITED" ? "refused" : "failed"),
      ),
    ),
  );
  return {
    allowed: outcomes.filter((o) => o === "allowed").length,
    refused: outcomes.filter((o) => o === "refused").length,
  };
};

describe("the rate limiter", () => {
  it("counts a burst on one key in a few rounds, letting exactly the limit through", async () => {
    const bucket = memoryCounters();
    expect(await hitAll([limiterOn(bucket.counters, 30)], 50)).toEqual({ allowed: 30, refused: 20 });
    // Two rounds: the first hit alone, then all that arrived while it was counted.
    expect(bucket.writes()).toBeLessThanOrEqual(3);
  });

  it("keeps two gateways on one bucket to the limit between them", async () => {
    const bucket = memoryCounters();
    expect(await hitAll([limiterOn(bucket.counters, 40), limiterOn(bucket.counters, 40)], 100)).toEqual({
      allowed: 40,
      refused: 60,
    });
  });

  it("lets a busy caller through from its lease: a few round trips a second, not one per request", async () => {
    const bucket = memoryCounters();
    let clock = 0;
    const limiter = limiterOn(bucket.counters, 100_000, () => clock);
    let atOnce = 0;
    // 100 requests a second for 10 seconds, one at a time; between two, time for a round trip to end.
    for (let n = 0; n < 1_000; n++, clock += 10) {
      if (await settlesAtOnce(limiter.hit(caller))) atOnce++;
      for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
    }
    // The first hits of the window wait for their round; after them the lease is taken ahead of need.
    expect(atOnce).toBeGreaterThanOrEqual(990);
    expect(bucket.writes()).toBeLessThanOrEqual(40);
  });

  it("holds a caller's share of the limit ahead, never more than LEASE_SHARE of it", async () => {
    const bucket = memoryCounters();
    const limiter = limiterOn(bucket.counters, 1_000);
    // Bursts of 200 at one moment: far more than a second's worth each, yet at most 5 % is held ahead.
    for (let allowed = 200; allowed <= 800; allowed += 200) {
      expect(await hitAll([limiter], 200)).toEqual({ allowed: 200, refused: 0 });
      expect(bucket.counted()).toBeGreaterThan(allowed);
      expect(bucket.counted()).toBeLessThanOrEqual(allowed + 1_000 * LEASE_SHARE);
    }
  });

  it("refuses without a round trip once the count reached the limit", async () => {
    const bucket = memoryCounters();
    const limiter = limiterOn(bucket.counters, 20);
    expect(await hitAll([limiter], 20)).toEqual({ allowed: 20, refused: 0 });
    const reads = bucket.reads();
    expect(await hitAll([limiter], 30)).toEqual({ allowed: 0, refused: 30 });
    expect(bucket.reads()).toBe(reads);
  });

  it("starts each caller afresh in the next window", async () => {
    const bucket = memoryCounters();
    let clock = 0;
    const limiter = limiterOn(bucket.counters, 10, () => clock);
    expect(await hitAll([limiter], 15)).toEqual({ allowed: 10, refused: 5 });
    clock = RATE_WINDOW_MS;
    expect(await hitAll([limiter], 15)).toEqual({ allowed: 10, refused: 5 });
  });

  it("lets the requests through when the bucket fails", async () => {
    const failing: RateCounters = {
      read: async () => {
        throw new Error("no responders");
      },
      write: async () => {},
    };
    expect(await hitAll([limiterOn(failing, 5)], 8)).toEqual({ allowed: 8, refused: 0 });
  });
});
