import { createHash } from "node:crypto";
import { JetStreamApiError } from "@nats-io/jetstream";
import type { Logger } from "@vigil/runtime";
import type { Principal } from "./auth/principal.js";
import { ApiError } from "./errors.js";
import type { RateCounters } from "./rate-counters.js";

/** Length of one counting window. */
export const RATE_WINDOW_MS = 60_000;

/** How often one hit retries after losing a compare-and-set race to another gateway. */
const MAX_RACES = 25;

/** Requests a minute; 0 means no limit. */
export interface RateLimits {
  readonly userPerMinute: number;
  readonly keyPerMinute: number;
}

/** Counts each caller's requests per minute, shared by every gateway on the same bucket. */
export interface RateLimiter {
  /** Counts one request of `principal`; rejects with `RATE_LIMITED` (and `Retry-After`) past its limit. */
  hit(principal: Principal): Promise<void>;
}

/** What {@link createRateLimiter} runs on. */
export interface RateLimiterDeps {
  /** The counters, in a bucket whose entries live a little over one window (its TTL). */
  readonly counters: RateCounters;
  readonly limits: RateLimits;
  /** Whether a caller is an API key (its own limit) rather than a user. */
  readonly isApiKey: (principal: Principal) => boolean;
  readonly log: Logger;
  /**
   * Whether the NATS connection is up now: while it is not, requests are let through at once
   * instead of each waiting for the bucket's timeout before NATS being away fails them anyway.
   */
  readonly connected?: () => boolean;
  readonly now?: () => number;
}

/** What one counting round answers each hit that waited for it. */
type Verdict = "allowed" | "refused" | "uncounted";

/** A hit waiting for the next counting round of its key. */
interface Waiting {
  readonly settle: (verdict: Verdict) => void;
}

/**
 * Fixed one-minute windows counted in a JetStream key-value bucket: one key per caller and window,
 * raised by compare-and-set (a write at the revision read, 0 for the first request), so that any
 * number of gateways share each count exactly. Within one process, the hits on one key that arrive
 * while a round is in flight wait for the next round, which counts them all with one read and one
 * write: a busy caller costs two bucket round trips per round, not per request, and only other
 * gateways can make a compare-and-set fail. Requests over the limit are not counted. When the
 * bucket cannot be reached or the races are lost {@link MAX_RACES} times in a row, the round's
 * requests are let through and the fact logged: the limit protects capacity, and NATS being away
 * fails the request anyway. While the connection is known to be down, nothing is counted, so that
 * the answer (503) is not held up by the bucket's timeout.
 */
export const createRateLimiter = (deps: RateLimiterDeps): RateLimiter => {
  const now = deps.now ?? Date.now;
  /** Hits waiting for their key's next round, and the keys whose round is in flight. */
  const waiting = new Map<string, Waiting[]>();
  const counting = new Set<string>();

  /** Adds up to `wanted` requests to `key`'s count; resolves to how many fitted under `limit`. */
  const countRound = async (key: string, limit: number, wanted: number): Promise<number> => {
    for (let race = 0; race < MAX_RACES; race++) {
      const { count: used, revision } = await deps.counters.read(key);
      const granted = Math.max(0, Math.min(wanted, limit - used));
      if (granted === 0) return 0;
      try {
        await deps.counters.write(key, used + granted, revision);
        return granted;
      } catch (err) {
        // Another gateway wrote the key between our read and our write: read it again.
        if (!isRevisionConflict(err)) throw err;
      }
    }
    deps.log.warn({ key }, "lost every compare-and-set race on a rate counter; the requests are let through");
    return wanted;
  };

  /** Runs `key`'s rounds until no hit waits; the first hits of a round are the ones allowed. */
  const drain = async (key: string, limit: number): Promise<void> => {
    counting.add(key);
    for (let round = waiting.get(key); round !== undefined; round = waiting.get(key)) {
      waiting.delete(key);
      try {
        const granted = await countRound(key, limit, round.length);
        for (const [index, hit] of round.entries()) hit.settle(index < granted ? "allowed" : "refused");
      } catch (err) {
        deps.log.warn({ err, key }, "the rate counter could not be read or written; the requests are let through");
        for (const hit of round) hit.settle("uncounted");
      }
    }
    counting.delete(key);
  };

  return {
    async hit(principal) {
      const apiKey = deps.isApiKey(principal);
      const limit = apiKey ? deps.limits.keyPerMinute : deps.limits.userPerMinute;
      if (limit === 0 || deps.connected?.() === false) return;
      const at = now();
      const window = Math.floor(at / RATE_WINDOW_MS);
      const name = createHash("sha256").update(principal.name).digest("hex").slice(0, 32);
      const key = `${apiKey ? "key" : "user"}.${name}.${window}`;
      const verdict = new Promise<Verdict>((settle) => {
        const round = waiting.get(key);
        if (round === undefined) waiting.set(key, [{ settle }]);
        else round.push({ settle });
      });
      if (!counting.has(key)) void drain(key, limit);
      if ((await verdict) !== "refused") return;
      const retryAfterSeconds = ((window + 1) * RATE_WINDOW_MS - at) / 1_000;
      throw new ApiError(
        "RATE_LIMITED",
        `more than ${limit} requests this minute for this ${apiKey ? "API key" : "user"}; retry later`,
        { retryAfterSeconds },
      );
    },
  };
};

/** JetStream's "wrong last sequence" (10071), which a compare-and-set that lost its race gets. */
const isRevisionConflict = (err: unknown): boolean =>
  (err instanceof JetStreamApiError && err.code === 10071) ||
  (err instanceof Error && /wrong last sequence/i.test(err.message));
