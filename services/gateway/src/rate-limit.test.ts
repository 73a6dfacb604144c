import { createLogger } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import type { Principal } from "./auth/principal.js";
import { ApiError } from "./errors.js";
import type { RateCount, RateCounters } from "./rate-counters.js";
import { createRateLimiter } from "./rate-limit.js";

const log = createLogger("rate-limit-test", "silent");

/**
 * Counters in memory with the compare-and-set rule of JetStream's key-value store (a write fails
 * unless it names the key's latest revision, 0 for none) and a turn of the event loop per call, as
 * a round trip would take; it counts the writes.
 */
const memoryCounters = () => {
  const values = new Map<string, RateCount>();
  let revision = 0;
  let writes = 0;
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const conflict = () => Object.assign(new Error("wrong last sequence"), { code: 10071 });
  const counters: RateCounters = {
    async read(key) {
      await turn();
      return values.get(key) ?? { count: 0, revision: 0 };
    },
    async write(key, count, expected) {
      await turn();
      writes++;
      if ((values.get(key)?.revision ?? 0) !== expected) throw conflict();
      values.set(key, { count, revision: ++revision });
    },
  };
  return { counters, writes: () => writes };
};

const caller: Principal = { name: "sensor-7", role: "producer", via: "apiKey" };

const limiterOn = (counters: RateCounters, keyPerMinute: number) =>
  createRateLimiter({ counters, limits: { userPerMinute: 10, keyPerMinute }, isApiKey: () => true, log, now: () => 0 });

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
