import type { KV, KvEntry } from "@nats-io/kv";
import { createLogger } from "@vigil/runtime";
import { describe, expect, it } from "vitest";
import type { Principal } from "./auth/principal.js";
import { ApiError } from "./errors.js";
import { createRateLimiter } from "./rate-limit.js";

const log = createLogger("rate-limit-test", "silent");

/**
 * A bucket in memory with the compare-and-set rules of JetStream's key-value store (`create` fails
 * on an existing key, `update` on a stale revision) and a turn of the event loop per call, as a
 * round trip would take; it counts the writes.
 */
const memoryBucket = () => {
  const values = new Map<string, { value: string; revision: number }>();
  let revision = 0;
  let writes = 0;
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  const conflict = () => Object.assign(new Error("wrong last sequence"), { code: 10071 });
  const kv = {
    async get(key: string) {
      await turn();
      const found = values.get(key);
      return found === undefined
        ? null
        : ({ operation: "PUT", revision: found.revision, string: () => found.value } as unknown as KvEntry);
    },
    async create(key: string, value: string) {
      await turn();
      writes++;
      if (values.has(key)) throw conflict();
      values.set(key, { value, revision: ++revision });
      return revision;
    },
    async update(key: string, value: string, expected: number) {
      await turn();
      writes++;
      if (values.get(key)?.revision !== expected) throw conflict();
      values.set(key, { value, revision: ++revision });
      return revision;
    },
  };
  return { kv: kv as unknown as KV, writes: () => writes };
};

const caller: Principal = { name: "sensor-7", role: "producer", via: "apiKey" };

const limiterOn = (kv: KV, keyPerMinute: number) =>
  createRateLimiter({ kv, limits: { userPerMinute: 10, keyPerMinute }, isApiKey: () => true, log, now: () => 0 });

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
    const bucket = memoryBucket();
    expect(await hitAll([limiterOn(bucket.kv, 30)], 50)).toEqual({ allowed: 30, refused: 20 });
    // Two rounds: the first hit alone, then all that arrived while it was counted.
    expect(bucket.writes()).toBeLessThanOrEqual(3);
  });

  it("keeps two gateways on one bucket to the limit between them", async () => {
    const bucket = memoryBucket();
    expect(await hitAll([limiterOn(bucket.kv, 40), limiterOn(bucket.kv, 40)], 100)).toEqual({
      allowed: 40,
      refused: 60,
    });
  });

  it("lets the requests through when the bucket fails", async () => {
    const failing = {
      get: async () => {
        throw new Error("no responders");
      },
    } as unknown as KV;
    expect(await hitAll([limiterOn(failing, 5)], 8)).toEqual({ allowed: 8, refused: 0 });
  });
});
